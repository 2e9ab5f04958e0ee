/* Finding and reading a component's descriptor in a checked-out tree, in Choreo's order of precedence.  The
 * tree is the user's: every open resolves beneath the tree's root (openat2 RESOLVE_BENEATH), so neither ".."
 * nor a symlink reaches outside it, and only a regular file of bounded size is read. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "descriptor-internal.h"
#include "fs-util.h"

static int open_beneath(int dir_fd, const char *path) {
        struct open_how how = {
                .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
        };
        long fd = syscall(SYS_openat2, dir_fd, path, &how, sizeof how);
        return fd < 0 ? negative_errno() : (int) fd;
}

/* "SUBDIR/.choreo/NAME" without a leading "./" or a trailing '/'. */
static int descriptor_path(const char *subdir, DescriptorFormat f, char *buf, size_t size) {
        size_t n;

        while (subdir && subdir[0] == '.' && subdir[1] == '/')
                for (subdir += 2; *subdir == '/'; subdir++)
                        ;
        n = subdir ? strlen(subdir) : 0;

        while (n > 0 && subdir[n - 1] == '/')
                n--;
        if (n == 1 && subdir[0] == '.')
                n = 0;
        if ((size_t) snprintf(buf, size, "%.*s%s%s", (int) n, n ? subdir : "", n ? "/" : "",
                              descriptor_format_to_string(f)) >= size)
                return -ENAMETOOLONG;
        return 0;
}

static int find_open(int dir_fd, const char *subdir, DescriptorFormat *ret_format, int *ret_fd, char *path,
                     size_t size) {
        for (DescriptorFormat f = 0; f < _DESCRIPTOR_FORMAT_MAX; f++) {
                int r = descriptor_path(subdir, f, path, size), fd;
                if (r < 0)
                        return r;
                fd = open_beneath(dir_fd, path);
                if (fd == -ENOENT)
                        continue;
                if (fd < 0)
                        return fd;
                *ret_format = f;
                if (ret_fd)
                        *ret_fd = fd;
                else
                        safe_close(fd);
                return 0;
        }
        return -ENOENT;
}

int descriptor_find(int dir_fd, const char *subdir, DescriptorFormat *ret_format) {
        char path[DESCRIPTOR_PATH_MAX];
        DescriptorFormat f;
        int r;

        r = find_open(dir_fd, subdir, &f, NULL, path, sizeof path);
        if (r < 0)
                return r;
        *ret_format = f;
        return 0;
}

int descriptor_load(int dir_fd, const char *subdir, Descriptor **ret, DescriptorError *ret_error) {
        _cleanup_free_ char *data = NULL;
        _cleanup_close_ int fd = -EBADF;
        char path[DESCRIPTOR_PATH_MAX];
        DescriptorFormat f;
        struct stat st;
        ssize_t n;
        int r;

        r = find_open(dir_fd, subdir, &f, &fd, path, sizeof path);
        if (r == -ENOENT) {
                char msg[DESCRIPTOR_MESSAGE_MAX];
                (void) snprintf(
                        msg, sizeof msg,
                        "No .choreo/component.yaml, .choreo/component-config.yaml or .choreo/endpoints.yaml "
                        "in %s.",
                        isempty(subdir) ? "the repository's top directory" : "this directory");
                (void) descriptor_error_set(ret_error, isempty(subdir) ? "." : subdir, 0, 0, msg);
                return -ENOENT;
        }
        if (r == -EXDEV || r == -ELOOP) {
                (void) descriptor_error_set(
                        ret_error, path, 0, 0,
                        "The descriptor's path leads outside the repository (through '..' or "
                        "a symbolic link); use a path inside it.");
                return -EINVAL;
        }
        if (r == -ENOTDIR)
                return descriptor_error_set(
                        ret_error, strempty(subdir), 0, 0,
                        "The component's directory is not a directory in the repository.");
        if (r < 0)
                return r;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return descriptor_error_set(ret_error, path, 0, 0, "The descriptor is not a regular file.");
        if (st.st_size > (off_t) DESCRIPTOR_FILE_MAX)
                return descriptor_parse(f, path, "", (size_t) DESCRIPTOR_FILE_MAX + 1, ret, ret_error);
        data = malloc(DESCRIPTOR_FILE_MAX + 1);
        if (!data)
                return -ENOMEM;
        n = loop_read(fd, data, DESCRIPTOR_FILE_MAX + 1);
        if (n < 0)
                return (int) n;
        return descriptor_parse(f, path, data, (size_t) n, ret, ret_error);
}
