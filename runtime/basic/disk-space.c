/* Disk space: statvfs and the mount point of a path, the disk-full sentence, and the reserve file.  The
 * reserve is made under a fixed temp name (one that a crash leaves is reused, never piles up), fully
 * allocated and fsynced before it is renamed into place, so a reserve that exists always holds its size. */
#include "disk-space.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "fs-util.h"
#include "macro.h"

#define DISK_RESERVE_TMP DISK_RESERVE_FILE ".new"

/* Release and refill may be asked for by several API threads at once. */
static pthread_mutex_t reserve_lock = PTHREAD_MUTEX_INITIALIZER;

/* The topmost ancestor of abs (an absolute, resolved path) on the same device. */
static void find_mount(const char *abs, dev_t dev, char *ret, size_t size) {
        char cur[PATH_MAX];

        snprintf(cur, sizeof cur, "%s", abs);
        for (;;) {
                char *slash = strrchr(cur, '/');
                struct stat st;
                char parent[PATH_MAX];

                if (!slash || streq(cur, "/"))
                        break;
                if (slash == cur)
                        snprintf(parent, sizeof parent, "/");
                else
                        snprintf(parent, sizeof parent, "%.*s", (int) (slash - cur), cur);
                if (stat(parent, &st) < 0 || st.st_dev != dev)
                        break;
                snprintf(cur, sizeof cur, "%s", parent);
        }
        snprintf(ret, size, "%s", cur);
}

int disk_space_query(const char *path, DiskSpace *ret) {
        _cleanup_free_ char *abs = NULL;
        struct statvfs sv;
        struct stat st;
        DiskSpace d = {};

        abs = realpath(path, NULL);
        if (!abs)
                return -errno;
        if (statvfs(abs, &sv) < 0 || stat(abs, &st) < 0)
                return -errno;
        d.total = (uint64_t) sv.f_blocks * sv.f_frsize;
        /* slipwayd runs as root, which may also fill the blocks a filesystem keeps back for it. */
        d.free = (uint64_t) (geteuid() == 0 ? sv.f_bfree : sv.f_bavail) * sv.f_frsize;
        find_mount(abs, st.st_dev, d.mount, sizeof d.mount);
        *ret = d;
        return 0;
}

int disk_space_query_nearest(const char *path, DiskSpace *ret) {
        char cur[PATH_MAX];
        int r;

        snprintf(cur, sizeof cur, "%s", path);
        for (;;) {
                char *slash;

                r = disk_space_query(cur, ret);
                if (r != -ENOENT && r != -ENOTDIR)
                        return r;
                slash = strrchr(cur, '/');
                if (!slash)
                        return disk_space_query(".", ret);
                if (slash == cur)
                        return disk_space_query("/", ret);
                *slash = 0;
        }
}

char *disk_format_bytes(uint64_t bytes, char *buf, size_t size) {
        static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
        unsigned u = 0;
        double v = (double) bytes;

        while (v >= 1024.0 && u + 1 < ELEMENTSOF(units)) {
                v /= 1024.0;
                u++;
        }
        if (u == 0)
                snprintf(buf, size, "%" PRIu64 " B", bytes);
        else if (v < 10.0 && v != (double) (uint64_t) v)
                snprintf(buf, size, "%.1f %s", v, units[u]);
        else
                snprintf(buf, size, "%.0f %s", v, units[u]);
        return buf;
}

void disk_full_message(const char *path, char *message, size_t message_size) {
        DiskSpace d;
        char free_s[32], total_s[32], where[DISK_MOUNT_MAX + 32] = "";

        if (disk_space_query_nearest(path, &d) < 0) {
                snprintf(message, message_size, "The disk holding %s is full.", path);
                return;
        }
        if (!streq(d.mount, path))
                snprintf(where, sizeof where, " (mounted at %s)", d.mount);
        /* What the failed write had taken is usually given back by now: say that what is left is too little. */
        snprintf(message, message_size, "The disk holding %s%s is full (%s free of %s%s).", path, where,
                 disk_format_bytes(d.free, free_s, sizeof free_s),
                 disk_format_bytes(d.total, total_s, sizeof total_s),
                 d.free > 0 ? ", too little for the request" : "");
}

void disk_full_describe(const char *path, char *message, size_t message_size, char *hint, size_t hint_size) {
        DiskSpace d;

        disk_full_message(path, message, message_size);
        if (disk_space_query_nearest(path, &d) < 0)
                snprintf(
                        hint, hint_size,
                        "Free space: remove images with 'slipway image rm NAME', then run 'slipway image gc'; "
                        "then retry.");
        else
                snprintf(
                        hint, hint_size,
                        "Free space: remove images with 'slipway image rm NAME', then run 'slipway image gc' "
                        "(or delete other files on %s); then retry.",
                        d.mount);
}

/* Allocates size bytes of fd for real: fallocate where the filesystem has it, else zeros written out. */
static int allocate_fully(int fd, uint64_t size) {
        static const char zeros[64 * 1024];

        if (fallocate(fd, 0, 0, (off_t) size) == 0)
                return 0;
        if (errno != EOPNOTSUPP && errno != ENOSYS)
                return -errno;
        for (uint64_t done = 0; done < size;) {
                size_t n = (size_t) MIN((uint64_t) sizeof zeros, size - done);
                int r = loop_write(fd, zeros, n);
                if (r < 0)
                        return r;
                done += n;
        }
        return 0;
}

static int reserve_ensure_locked(const char *dir) {
        _cleanup_close_ int dir_fd = -EBADF, fd = -EBADF;
        DiskSpace d;
        int r;

        dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return -errno;
        if (faccessat(dir_fd, DISK_RESERVE_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                return 0;
        r = disk_space_query(dir, &d);
        if (r < 0)
                return r;
        if (d.free < 2ULL * DISK_RESERVE_SIZE)
                return -ENOSPC;

        fd = openat(dir_fd, DISK_RESERVE_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        r = allocate_fully(fd, DISK_RESERVE_SIZE);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && renameat(dir_fd, DISK_RESERVE_TMP, dir_fd, DISK_RESERVE_FILE) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlinkat(dir_fd, DISK_RESERVE_TMP, 0);
                return r;
        }
        (void) fsync_dir_fd(dir_fd);
        return 1;
}

int disk_reserve_ensure(const char *dir) {
        int r;

        pthread_mutex_lock(&reserve_lock);
        r = reserve_ensure_locked(dir);
        pthread_mutex_unlock(&reserve_lock);
        return r;
}

int disk_reserve_release(const char *dir) {
        _cleanup_close_ int dir_fd = -EBADF;
        int r = 1;

        dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return -errno;
        pthread_mutex_lock(&reserve_lock);
        /* A half-made reserve (a crash while making one) is space too. */
        (void) unlinkat(dir_fd, DISK_RESERVE_TMP, 0);
        if (unlinkat(dir_fd, DISK_RESERVE_FILE, 0) < 0)
                r = errno == ENOENT ? 0 : -errno;
        pthread_mutex_unlock(&reserve_lock);
        return r;
}
