/* Cache mount directories: named from a hash of (id, uid, gid, mode), each beside a lock file "<name>.lock"
 * that is never removed (so every user of a name locks the same inode). Invariant: see the header — a
 * directory is only removed under its exclusive lock. */
#include "build-cache-mounts.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "digest.h"
#include "fs-util.h"
#include "macro.h"
#include "string-util.h"

#define CACHE_MOUNT_NAME_HEX 32U
#define CACHE_MOUNT_DEPTH_MAX 256U

void cache_mount_lease_done(CacheMountLease *l) {
        if (!l)
                return;
        l->lock_fd = safe_close(l->lock_fd); /* drops the flock */
        free(l->path);
        l->path = NULL;
}

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

/* "<32 hex>" for slot 0, "<32 hex>-p<slot>" for a private copy. */
static void cache_mount_name(const DockerfileMount *m, unsigned slot, char *buf, size_t size) {
        char digest[DIGEST_STRING_MAX], attrs[64];
        Sha256 h;

        snprintf(attrs, sizeof attrs, "%" PRIu32 ":%" PRIu32 ":%04" PRIo32, m->has_uid ? m->uid : 0,
                 m->has_gid ? m->gid : 0, m->has_mode ? m->mode : 0755);
        sha256_init(&h);
        sha256_update(&h, "slipway-cache-mount-v1", strlen("slipway-cache-mount-v1") + 1);
        sha256_update(&h, m->id ?: m->target, strlen(m->id ?: m->target) + 1);
        sha256_update(&h, attrs, strlen(attrs) + 1);
        sha256_final(&h, digest);
        if (slot == 0)
                snprintf(buf, size, "%.*s", (int) CACHE_MOUNT_NAME_HEX, digest + strlen("sha256:"));
        else
                snprintf(buf, size, "%.*s-p%u", (int) CACHE_MOUNT_NAME_HEX, digest + strlen("sha256:"),
                         slot);
}

/* Waits for cancel_fd up to the poll interval; -ECANCELED / -ETIME when the step must stop. */
static int wait_a_little(int cancel_fd, uint64_t deadline_usec) {
        struct pollfd p = { .fd = cancel_fd, .events = POLLIN };

        if (deadline_usec > 0 && now_usec() >= deadline_usec)
                return -ETIME;
        if (poll(&p, cancel_fd >= 0 ? 1 : 0, CACHE_MOUNT_WAIT_POLL_MSEC) > 0)
                return -ECANCELED;
        return 0;
}

int cache_mount_acquire(const char *state_dir, const DockerfileMount *m, int cancel_fd,
                        uint64_t deadline_usec, CacheMountWaitFunc wait_cb, void *userdata,
                        CacheMountLease *ret, bool *ret_created) {
        _cleanup_free_ char *base = path_join(state_dir, CACHE_MOUNTS_DIR);
        unsigned slots = m->sharing == DOCKERFILE_MOUNT_PRIVATE ? CACHE_MOUNT_PRIVATE_MAX : 1;
        bool waited = false;
        int r;

        if (!base)
                return -ENOMEM;
        r = mkdir_p(base, 0700);
        if (r < 0)
                return r;
        for (unsigned slot = 0; slot < slots; slot++) {
                _cleanup_free_ char *lock = NULL, *dir = NULL;
                _cleanup_close_ int fd = -EBADF;
                char name[CACHE_MOUNT_NAME_HEX + 16];
                bool created = false;

                cache_mount_name(m, slot, name, sizeof name);
                dir = path_join(base, name);
                if (!dir || asprintf(&lock, "%s.lock", dir) < 0)
                        return -ENOMEM;
                fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (fd < 0)
                        return -errno;
                for (;;) {
                        if (flock(fd, (m->sharing == DOCKERFILE_MOUNT_SHARED ? LOCK_SH : LOCK_EX) |
                                              LOCK_NB) == 0)
                                break;
                        if (errno != EWOULDBLOCK)
                                return -errno;
                        if (m->sharing == DOCKERFILE_MOUNT_PRIVATE)
                                break; /* in use: the next copy */
                        if (!waited && wait_cb)
                                wait_cb(m, userdata);
                        waited = true;
                        r = wait_a_little(cancel_fd, deadline_usec);
                        if (r < 0)
                                return r;
                }
                if (m->sharing == DOCKERFILE_MOUNT_PRIVATE && flock(fd, LOCK_EX | LOCK_NB) < 0)
                        continue;

                if (mkdir(dir, 0700) >= 0) {
                        /* The owner first, then the mode: a chown may clear bits of it. */
                        if (chown(dir, m->has_uid ? m->uid : 0, m->has_gid ? m->gid : 0) < 0 ||
                            chmod(dir, m->has_mode ? m->mode : 0755) < 0) {
                                r = -errno;
                                (void) rmdir(dir);
                                return r;
                        }
                        created = true;
                } else if (errno != EEXIST)
                        return -errno;
                *ret = (CacheMountLease) { .path = TAKE_PTR(dir), .lock_fd = TAKE_FD(fd) };
                if (ret_created)
                        *ret_created = created;
                return 0;
        }
        return -EBUSY;
}

/* File sizes below dir_fd (consumed), not crossing into other file systems. */
static uint64_t tree_bytes(int dir_fd, unsigned depth) {
        DIR *d = NULL;
        struct dirent *de;
        uint64_t sum = 0;

        if (depth > CACHE_MOUNT_DEPTH_MAX || fdopendir_consume(dir_fd, &d) < 0)
                return 0;
        while ((de = readdir_no_dot(d))) {
                struct stat st;

                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (S_ISDIR(st.st_mode)) {
                        int sub = openat(dirfd(d), de->d_name,
                                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub >= 0)
                                sum += tree_bytes(sub, depth + 1);
                } else if (S_ISREG(st.st_mode))
                        sum += (uint64_t) st.st_size;
        }
        closedir(d);
        return sum;
}

int builder_cache_mounts_gc(const char *state_dir, bool remove, bool dry_run, CacheMountStats *ret) {
        _cleanup_free_ char *base = path_join(state_dir, CACHE_MOUNTS_DIR);
        CacheMountStats stats = {};
        DIR *d = NULL;
        struct dirent *de;
        int r = 0;

        if (!base)
                return -ENOMEM;
        r = opendir_at(AT_FDCWD, base, &d);
        if (r == -ENOENT) {
                *ret = stats;
                return 0;
        }
        if (r < 0)
                return r;
        while ((de = readdir_no_dot(d))) {
                _cleanup_close_ int lock_fd = -EBADF;
                char lock[NAME_MAX + 8];
                struct stat st;
                uint64_t bytes;
                int fd;

                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
                        continue;
                stats.dirs++;
                fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                bytes = fd >= 0 ? tree_bytes(fd, 0) : 0;
                stats.bytes += bytes;
                if (!remove)
                        continue;
                snprintf(lock, sizeof lock, "%s.lock", de->d_name);
                lock_fd = openat(dirfd(d), lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
                        stats.busy++;
                        continue;
                }
                if (!dry_run) {
                        r = rm_rf_at(dirfd(d), de->d_name, 0);
                        if (r < 0)
                                break;
                }
                stats.removed++;
                stats.bytes_removed += bytes;
        }
        closedir(d);
        if (r < 0)
                return r;
        *ret = stats;
        return 0;
}
