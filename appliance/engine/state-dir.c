/* State directory setup.  The lock is a POSIX record lock on slipwayd.lock, whose content is the
 * holder's pid so a second daemon can say who holds it. */
#include "state-dir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs-util.h"
#include "macro.h"

int state_dir_prepare(const char *dir, char **ret_abs) {
        char *abs;
        int r;

        r = mkdir_p(dir, 0700);
        if (r < 0)
                return r;
        abs = realpath(dir, NULL);
        if (!abs)
                return -errno;
        *ret_abs = abs;
        return 0;
}

int state_dir_lock(const char *dir, int *ret_fd, pid_t *ret_holder) {
        _cleanup_free_ char *p = path_join(dir, "slipwayd.lock");
        _cleanup_close_ int fd = -EBADF;
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
        char buf[32];
        int n;

        if (!p)
                return -ENOMEM;
        fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        if (fcntl(fd, F_SETLK, &fl) < 0) {
                if (errno != EAGAIN && errno != EACCES)
                        return -errno;
                pid_t holder = 0;
                struct flock q = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
                if (fcntl(fd, F_GETLK, &q) >= 0 && q.l_type != F_UNLCK)
                        holder = q.l_pid;
                if (holder <= 0) {
                        ssize_t k = pread(fd, buf, sizeof buf - 1, 0);
                        if (k > 0) {
                                buf[k] = 0;
                                holder = (pid_t) strtol(buf, NULL, 10);
                        }
                }
                *ret_holder = holder;
                return -EBUSY;
        }
        n = snprintf(buf, sizeof buf, "%d\n", (int) getpid());
        if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t) n, 0) != n)
                return -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int file_exists_at(const char *dir, const char *name) {
        _cleanup_free_ char *p = path_join(dir, name);
        if (!p)
                return -ENOMEM;
        if (access(p, F_OK) == 0)
                return 1;
        return errno == ENOENT ? 0 : -errno;
}

static int write_secret(const char *dir, const char *name, const void *data, size_t size) {
        _cleanup_free_ char *p = path_join(dir, name);
        if (!p)
                return -ENOMEM;
        return write_file_atomic(p, data, size, 0600);
}

static int random_bytes(void *buf, size_t size) {
        size_t done = 0;

        while (done < size) {
                ssize_t n = getrandom((char *) buf + done, size - done, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                done += (size_t) n;
        }
        return 0;
}

int state_dir_init(const char *dir, bool *ret_initialised) {
        static const char *const subdirs[] = { "oci", "layers", "tmp" };
        bool initialised = false;
        int r;

        r = file_exists_at(dir, "master.key");
        if (r < 0)
                return r;
        if (r == 0) {
                unsigned char key[STATE_MASTER_KEY_SIZE];

                r = random_bytes(key, sizeof key);
                if (r < 0)
                        return r;
                r = write_secret(dir, "master.key", key, sizeof key);
                explicit_bzero(key, sizeof key);
                if (r < 0)
                        return r;
                initialised = true;
        }

        r = file_exists_at(dir, "admin.token");
        if (r < 0)
                return r;
        if (r == 0) {
                unsigned char raw[STATE_TOKEN_BYTES];
                char hex[STATE_TOKEN_BYTES * 2 + 2];

                r = random_bytes(raw, sizeof raw);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < sizeof raw; i++)
                        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
                hex[STATE_TOKEN_BYTES * 2] = '\n';
                hex[STATE_TOKEN_BYTES * 2 + 1] = 0;
                r = write_secret(dir, "admin.token", hex, STATE_TOKEN_BYTES * 2 + 1);
                explicit_bzero(raw, sizeof raw);
                explicit_bzero(hex, sizeof hex);
                if (r < 0)
                        return r;
                initialised = true;
        }

        for (size_t i = 0; i < ELEMENTSOF(subdirs); i++) {
                _cleanup_free_ char *p = path_join(dir, subdirs[i]);
                if (!p)
                        return -ENOMEM;
                r = mkdir_p(p, 0700);
                if (r < 0)
                        return r;
        }

        *ret_initialised = initialised;
        return 0;
}

static bool state_id_valid(const char *s) {
        if (strlen(s) != STATE_ID_LEN)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
                        return false;
        return true;
}

int state_dir_id(const char *dir, char ret[static STATE_ID_LEN + 1]) {
        _cleanup_free_ char *p = path_join(dir, "state-id"), *data = NULL;
        size_t size;
        int r;

        if (!p)
                return -ENOMEM;
        r = read_full_file_at(AT_FDCWD, p, 64, &data, &size);
        if (r == -ENOENT) {
                unsigned char raw[STATE_ID_LEN / 2];
                char line[STATE_ID_LEN + 2];

                r = random_bytes(raw, sizeof raw);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < sizeof raw; i++)
                        snprintf(line + 2 * i, 3, "%02x", raw[i]);
                line[STATE_ID_LEN] = '\n';
                line[STATE_ID_LEN + 1] = 0;
                r = write_file_atomic(p, line, STATE_ID_LEN + 1, 0644);
                if (r < 0)
                        return r;
                memcpy(ret, line, STATE_ID_LEN);
                ret[STATE_ID_LEN] = 0;
                return 0;
        }
        if (r < 0)
                return r;
        data[strcspn(data, "\r\n")] = 0;
        if (!state_id_valid(data))
                return -EBADMSG;
        memcpy(ret, data, STATE_ID_LEN + 1);
        return 0;
}

int state_dir_read_token(const char *dir, char **ret) {
        _cleanup_free_ char *p = path_join(dir, "admin.token"), *data = NULL;
        size_t size;
        int r;

        if (!p)
                return -ENOMEM;
        r = read_full_file_at(AT_FDCWD, p, STATE_TOKEN_MAX, &data, &size);
        if (r < 0)
                return r;
        data[strcspn(data, "\r\n")] = 0;
        if (isempty(data))
                return -EBADMSG;
        *ret = TAKE_PTR(data);
        return 0;
}

int state_dir_clean_tmp(const char *dir) {
        _cleanup_free_ char *p = path_join(dir, "tmp");
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        int r = 0;

        if (!p)
                return -ENOMEM;
        d = opendir(p);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(d))) {
                _cleanup_free_ char *q = NULL;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                q = path_join(p, de->d_name);
                if (!q)
                        return -ENOMEM;
                int k = rm_rf(q);
                if (k < 0 && r == 0)
                        r = k;
        }
        return r;
}

int state_dir_write_api_url(const char *dir, const char *url) {
        _cleanup_free_ char *line = NULL;

        if (asprintf(&line, "%s\n", url) < 0)
                return -ENOMEM;
        return write_secret(dir, "api.url", line, strlen(line));
}
