/* Atomic writes and small file helpers.  The write path is: O_TMPFILE-free hidden temp name in the
 * same directory, fsync(file), renameat(), fsync(directory) — durable across a crash at any point. */
#include "fs-util.h"

#include <assert.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"

/* write(2) or, with offset >= 0, pwrite(2) until all is written, retrying on EINTR. */
static int write_all(int fd, const void *buf, size_t size, off_t offset) {
        const char *p = buf;

        while (size > 0) {
                ssize_t n = offset < 0 ? write(fd, p, size) : pwrite(fd, p, size, offset);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                size -= (size_t) n;
                if (offset >= 0)
                        offset += n;
        }
        return 0;
}

int loop_write(int fd, const void *buf, size_t size) {
        return write_all(fd, buf, size, -1);
}

int loop_pwrite(int fd, const void *buf, size_t size, off_t offset) {
        assert(offset >= 0);
        return write_all(fd, buf, size, offset);
}

ssize_t read_retry(int fd, void *buf, size_t size) {
        for (;;) {
                ssize_t n = read(fd, buf, size);
                if (n >= 0 || errno != EINTR)
                        return n < 0 ? -errno : n;
        }
}

ssize_t loop_read(int fd, void *buf, size_t size) {
        char *p = buf;
        size_t done = 0;

        while (done < size) {
                ssize_t n = read_retry(fd, p + done, size - done);
                if (n < 0)
                        return n;
                if (n == 0)
                        break;
                done += (size_t) n;
        }
        return (ssize_t) done;
}

char *path_join(const char *a, const char *b) {
        size_t la = strlen(a);
        char *r;

        while (la > 1 && a[la - 1] == '/')
                la--;
        while (*b == '/')
                b++;
        if (asprintf(&r, "%.*s/%s", (int) la, a, b) < 0)
                return NULL;
        return r;
}

int fsync_dir_fd(int dir_fd) {
        if (fsync(dir_fd) < 0)
                return -errno;
        return 0;
}

int fsync_directory_of(int dir_fd, const char *path) {
        _cleanup_free_ char *copy = strdup(path);
        _cleanup_close_ int fd = -EBADF;
        char *slash;

        if (!copy)
                return -ENOMEM;
        slash = strrchr(copy, '/');
        if (!slash)
                fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        else {
                if (slash == copy)
                        slash[1] = 0;
                else
                        *slash = 0;
                fd = openat(dir_fd, copy, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        }
        if (fd < 0)
                return -errno;
        return fsync_dir_fd(fd);
}

int open_tmpfile_at(int dir_fd, const char *target, char **ret_tmp_path) {
        _cleanup_free_ char *tmp = NULL;
        const char *slash = strrchr(target, '/');
        uint64_t rnd;
        int fd;

        if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
                return -EIO;
        if (slash) {
                if (asprintf(&tmp, "%.*s/.#%s.%016llx", (int) (slash - target), target, slash + 1,
                             (unsigned long long) rnd) < 0)
                        return -ENOMEM;
        } else if (asprintf(&tmp, ".#%s.%016llx", target, (unsigned long long) rnd) < 0)
                return -ENOMEM;

        fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        *ret_tmp_path = TAKE_PTR(tmp);
        return fd;
}

int link_tmpfile_atomic_at(int fd, int dir_fd, const char *tmp_path, const char *target) {
        int r;

        if (fsync(fd) < 0) {
                r = -errno;
                goto fail;
        }
        if (renameat(dir_fd, tmp_path, dir_fd, target) < 0) {
                r = -errno;
                goto fail;
        }
        return fsync_directory_of(dir_fd, target);
fail:
        (void) unlinkat(dir_fd, tmp_path, 0);
        return r;
}

int write_file_atomic_at(int dir_fd, const char *path, const void *data, size_t size, mode_t mode) {
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        fd = open_tmpfile_at(dir_fd, path, &tmp);
        if (fd < 0)
                return fd;
        r = loop_write(fd, data, size);
        if (r >= 0 && fchmod(fd, mode) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlinkat(dir_fd, tmp, 0);
                return r;
        }
        return link_tmpfile_atomic_at(fd, dir_fd, tmp, path);
}

int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode) {
        return write_file_atomic_at(AT_FDCWD, path, data, size, mode);
}

int read_full_file_at(int dir_fd, const char *path, size_t max_size, char **ret_data, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0;

        fd = openat(dir_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        for (;;) {
                ssize_t n;

                if (cap - len < 4096) {
                        size_t ncap = cap ? cap * 2 : 8192;
                        char *nbuf;

                        if (max_size > 0 && ncap > max_size + 1)
                                ncap = max_size + 1;
                        if (ncap <= len)
                                return -EFBIG;
                        nbuf = realloc(buf, ncap + 1);
                        if (!nbuf)
                                return -ENOMEM;
                        buf = nbuf;
                        cap = ncap;
                }
                n = read_retry(fd, buf + len, cap - len);
                if (n < 0)
                        return (int) n;
                if (n == 0)
                        break;
                len += (size_t) n;
                if (max_size > 0 && len > max_size)
                        return -EFBIG;
        }
        if (!buf) {
                buf = malloc(1);
                if (!buf)
                        return -ENOMEM;
        }
        buf[len] = 0;
        *ret_data = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = len;
        return 0;
}

int read_full_file(const char *path, char **ret_data, size_t *ret_size) {
        return read_full_file_at(AT_FDCWD, path, 0, ret_data, ret_size);
}

int mkdir_p(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = 0;
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

int mkdir_p_open(const char *path, mode_t mode) {
        int fd, r;

        r = mkdir_p(path, mode);
        if (r < 0)
                return r;
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

int fdopendir_consume(int fd, DIR **ret) {
        DIR *d = fdopendir(fd);

        if (!d) {
                safe_close(fd);
                return -errno;
        }
        *ret = d;
        return 0;
}

int opendir_at(int dir_fd, const char *path, DIR **ret) {
        int fd = openat(dir_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return -errno;
        return fdopendir_consume(fd, ret);
}

int opendir_dup(int fd, DIR **ret) {
        DIR *d;
        int dfd, r;

        dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (dfd < 0)
                return -errno;
        r = fdopendir_consume(dfd, &d);
        if (r < 0)
                return r;
        rewinddir(d); /* the dup shares the caller's directory offset */
        *ret = d;
        return 0;
}

struct dirent *readdir_no_dot(DIR *d) {
        struct dirent *de;

        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        return de;
        return NULL;
}

int dir_is_empty_at(int dir_fd, const char *path) {
        _cleanup_(closedirp) DIR *d = NULL;
        int r;

        r = opendir_at(dir_fd, path, &d);
        if (r < 0)
                return r;
        return readdir_no_dot(d) ? 0 : 1;
}

static int rm_rf_children(int fd, RmRfFlags flags) {
        _cleanup_(closedirp) DIR *d = NULL;
        int r;

        r = fdopendir_consume(fd, &d);
        if (r < 0)
                return r;
        for (struct dirent *de; (de = readdir_no_dot(d));) {
                int q = rm_rf_at(dirfd(d), de->d_name, flags);
                if (q < 0 && r >= 0)
                        r = q;
        }
        return r;
}

int rm_rf_at(int dir_fd, const char *path, RmRfFlags flags) {
        struct stat st;
        int fd, r;

        if (fstatat(dir_fd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode))
                return unlinkat(dir_fd, path, 0) < 0 && errno != ENOENT ? -errno : 0;

        fd = openat(dir_fd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (flags & RM_RF_CHMOD)
                (void) fchmod(fd, 0700);
        r = rm_rf_children(fd, flags);
        if (unlinkat(dir_fd, path, AT_REMOVEDIR) < 0 && errno != ENOENT && r >= 0)
                r = -errno;
        return r;
}

int rm_rf(const char *path) {
        return rm_rf_at(AT_FDCWD, path, RM_RF_CHMOD);
}
