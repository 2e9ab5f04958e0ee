/* Path confinement for layer unpacking.  Invariant: a name from a layer reaches the file system
 * only as (a) a path resolved by openat2 with RESOLVE_IN_ROOT against the root fd, or (b) one
 * single component (no '/', not "." or "..") used with *at() on a dir fd obtained through (a). */
#include "path-confine.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs-util.h"
#include "macro.h"

#define CONFINE_EAGAIN_RETRIES 32

int confine_open(int root_fd, const char *path, int flags, mode_t mode) {
        struct open_how how = {
                .flags = (uint64_t) (flags | O_CLOEXEC),
                .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };

        if (isempty(path))
                path = ".";
        for (unsigned i = 0;; i++) {
                long fd = syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
                if (fd >= 0)
                        return (int) fd;
                if (errno != EAGAIN || i >= CONFINE_EAGAIN_RETRIES)
                        return -errno;
        }
}

/* Opens the directory at the normalised relative path dir, creating what is missing. */
static int confine_open_dir_p(int root_fd, const char *dir, void (*on_created)(const char *, void *),
                              void *userdata) {
        _cleanup_free_ char *prefix = NULL;
        _cleanup_close_ int pfd = -EBADF;
        int fd;

        fd = confine_open(root_fd, dir, O_RDONLY | O_DIRECTORY, 0);
        if (fd != -ENOENT)
                return fd;

        /* Slow path: walk the components, creating each missing one inside its confined parent. */
        prefix = strdup(dir);
        if (!prefix)
                return -ENOMEM;
        pfd = fcntl(root_fd, F_DUPFD_CLOEXEC, 3);
        if (pfd < 0)
                return -errno;

        for (char *p = prefix;;) {
                char *slash = strchr(p, '/');
                bool created = false;

                if (slash)
                        *slash = 0;
                fd = confine_open(root_fd, prefix, O_RDONLY | O_DIRECTORY, 0);
                if (fd == -ENOENT) {
                        if (mkdirat(pfd, p, 0755) < 0) {
                                if (errno != EEXIST)
                                        return -errno;
                        } else
                                created = true;
                        fd = confine_open(root_fd, prefix, O_RDONLY | O_DIRECTORY, 0);
                }
                if (fd < 0)
                        return fd;
                if (created) {
                        /* Independent of the caller's umask: implicit parents are world-traversable. */
                        (void) fchmod(fd, 0755);
                        if (on_created)
                                on_created(prefix, userdata);
                }
                safe_close(pfd);
                pfd = fd;
                if (!slash)
                        return TAKE_FD(pfd);
                *slash = '/';
                p = slash + 1;
        }
}

int confine_open_parent(int root_fd, const char *path,
                        void (*on_created)(const char *prefix, void *userdata), void *userdata, int *ret_fd,
                        const char **ret_name) {
        const char *slash;
        int fd;

        if (isempty(path))
                return -EINVAL;
        slash = strrchr(path, '/');
        if (!slash) {
                fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 3);
                if (fd < 0)
                        return -errno;
                *ret_fd = fd;
                *ret_name = path;
                return 0;
        }

        _cleanup_free_ char *dir = strndup(path, slash - path);
        if (!dir)
                return -ENOMEM;
        fd = confine_open_dir_p(root_fd, dir, on_created, userdata);
        if (fd < 0)
                return fd;
        *ret_fd = fd;
        *ret_name = slash + 1;
        return 0;
}

int confine_prune_at(int dir_fd, const char *prefix, bool (*keep)(const char *path, void *userdata),
                     void *userdata) {
        _cleanup_(closedirp) DIR *d = NULL;
        int r;

        r = opendir_dup(dir_fd, &d);
        if (r < 0)
                return r;
        for (struct dirent *de; (de = readdir_no_dot(d));) {
                _cleanup_free_ char *path = NULL;
                struct stat st;
                int q = 0;

                path = isempty(prefix) ? strdup(de->d_name) : path_join(prefix, de->d_name);
                if (!path)
                        return -ENOMEM;
                if (!keep(path, userdata))
                        q = rm_rf_at(dirfd(d), de->d_name, 0);
                else if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) >= 0 &&
                         S_ISDIR(st.st_mode)) {
                        _cleanup_close_ int cfd = openat(dirfd(d), de->d_name,
                                                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        q = cfd < 0 ? -errno : confine_prune_at(cfd, path, keep, userdata);
                }
                if (q < 0 && r >= 0)
                        r = q;
        }
        return r;
}
