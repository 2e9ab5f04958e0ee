/* RUN heredocs at run time: the command comes from dockerfile-heredoc.c; a #! script goes to a file of its
 * own (0755) in a directory bound at /dev/pipes/, outside the overlay whose upper dir becomes the layer.
 * Invariant: nothing is written outside the step's temp dir. */
#include "build-run-heredoc.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dockerfile-heredoc.h"
#include "fs-util.h"
#include "string-util.h"

void build_run_heredoc_done(RunHeredoc *h) {
        free(h->command);
        free(h->pipes);
        *h = (RunHeredoc) {};
}

static int write_script(const char *dir, const char *name, const char *body) {
        _cleanup_close_ int dfd = -EBADF, fd = -EBADF;

        if (mkdir(dir, 0755) < 0 || chmod(dir, 0755) < 0)
                return -errno;
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0755);
        if (fd < 0)
                return -errno;
        if (fchmod(fd, 0755) < 0)
                return -errno;
        return loop_write(fd, body, strlen(body));
}

int build_run_heredoc_prepare(BuildContext *ctx, const DockerfileInstruction *i, const char *step_dir,
                              RunHeredoc *h) {
        _cleanup_free_ char *command = NULL, *script = NULL, *pipes = NULL;
        const char *name;
        int r;

        *h = (RunHeredoc) {};
        if (i->json_form || i->n_heredocs == 0)
                return 0;
        r = dockerfile_run_command(i, &command, &script);
        if (r < 0)
                return r;
        if (script) {
                name = i->heredocs[0].name;
                if (isempty(name) || streq(name, ".") || streq(name, "..") || strchr(name, '/') ||
                    strlen(name) > NAME_MAX)
                        return build_error(ctx, -EINVAL, i,
                                           "Name the heredoc with a plain word, e.g. <<EOT.",
                                           "A #! heredoc runs as the file %s/%s, which is no file name.",
                                           DOCKERFILE_HEREDOC_PIPES_DIR, name);
                pipes = path_join(step_dir, "pipes");
                if (!pipes)
                        return -ENOMEM;
                r = write_script(pipes, name, script);
                if (r < 0)
                        return build_error(ctx, r, i, NULL, "Cannot write the heredoc script: %s.",
                                           strerror(-r));
                h->mount = (BundleMount) {
                        .destination = DOCKERFILE_HEREDOC_PIPES_DIR,
                        .type = "bind",
                        .source = pipes,
                };
                h->has_mount = true;
        }
        h->command = TAKE_PTR(command);
        h->pipes = TAKE_PTR(pipes);
        h->mount.source = h->pipes;
        return 0;
}
