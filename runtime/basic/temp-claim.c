/* Claims on temp entries (flock) and the sweep that removes only unclaimed ones.  A sweeper checks, under
 * the claim it took, that the name still refers to the inode it locked: a writer that finished renamed
 * its temp into place (and then dropped its claim), and that entry is no temp any more. */
#include "temp-claim.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs-util.h"
#include "macro.h"

#define TEMP_SWEEP_DEPTH_MAX 64U /* du of a temp tree: deeper parts are not counted (still removed) */

int temp_claim(int fd) {
        struct stat st;

        if (fd < 0)
                return -EBADF;
        if (flock(fd, LOCK_EX | LOCK_NB) < 0)
                return errno == EWOULDBLOCK ? -EBUSY : -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (st.st_nlink == 0)
                return -ESTALE;
        return 0;
}

int temp_mkdir_claimed(const char *path, mode_t mode) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (mkdir(path, mode) < 0)
                return -errno;
        fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = temp_claim(fd);
        if (r < 0) {
                if (r == -EBUSY)
                        (void) rmdir(path);
                return r;
        }
        return TAKE_FD(fd);
}

/* Bytes of the regular files below dir fd (consumed), not crossing into other file systems. */
static uint64_t tree_bytes(int fd, dev_t dev, unsigned depth) {
        _cleanup_(closedirp) DIR *d = NULL;
        uint64_t sum = 0;

        if (fdopendir_consume(fd, &d) < 0)
                return 0;
        for (struct dirent *de; (de = readdir_no_dot(d));) {
                struct stat st;

                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != dev)
                        continue;
                if (S_ISREG(st.st_mode))
                        sum += (uint64_t) st.st_size;
                else if (S_ISDIR(st.st_mode) && depth < TEMP_SWEEP_DEPTH_MAX) {
                        int sub = openat(dirfd(d), de->d_name,
                                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub >= 0)
                                sum += tree_bytes(sub, dev, depth + 1);
                }
        }
        return sum;
}

static bool same_inode(const struct stat *a, const struct stat *b) {
        return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

int temp_sweep_at(int dir_fd, const char *prefix, TempSweepFlags flags, TempSweepHook hook, void *userdata,
                  TempSweepStats *stats) {
        _cleanup_(closedirp) DIR *d = NULL;
        int r;

        r = opendir_at(dir_fd, ".", &d);
        if (r < 0)
                return r;
        r = 0;
        for (struct dirent *de; (de = readdir_no_dot(d));) {
                _cleanup_close_ int fd = -EBADF;
                struct stat st, now;
                uint64_t bytes;
                int q;

                if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
                        continue;
                /* O_NONBLOCK: a FIFO someone planted must not hang the sweep. */
                fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
                if (fd < 0)
                        continue; /* gone already, or no file/dir of ours */
                if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)))
                        continue;
                if (flock(fd, LOCK_EX | LOCK_NB) < 0)
                        continue; /* claimed: a write in progress */
                if (fstatat(dirfd(d), de->d_name, &now, AT_SYMLINK_NOFOLLOW) < 0 || !same_inode(&st, &now))
                        continue; /* renamed into place or replaced meanwhile */

                if (S_ISDIR(st.st_mode)) {
                        int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                        bytes = dup_fd >= 0 ? tree_bytes(dup_fd, st.st_dev, 0) : 0;
                } else
                        bytes = (uint64_t) st.st_size;
                if (!(flags & TEMP_SWEEP_DRY_RUN)) {
                        if (hook)
                                hook(dirfd(d), de->d_name, userdata);
                        q = rm_rf_at(dirfd(d), de->d_name, RM_RF_CHMOD);
                        if (q < 0) {
                                if (r >= 0)
                                        r = q;
                                continue;
                        }
                }
                if (stats) {
                        stats->removed++;
                        stats->bytes += bytes;
                }
        }
        if (r >= 0 && !(flags & TEMP_SWEEP_DRY_RUN))
                (void) fsync_dir_fd(dirfd(d));
        return r;
}

int temp_sweep(const char *dir, const char *prefix, TempSweepFlags flags, TempSweepHook hook, void *userdata,
               TempSweepStats *stats) {
        _cleanup_close_ int fd = -EBADF;

        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        return temp_sweep_at(fd, prefix, flags, hook, userdata, stats);
}
