/* Unit tests for cache mount directories: one directory per (id, uid, gid, mode) made with its owner and mode,
 * shared users together, a locked one waiting (until cancelled or timed out), a private one getting another
 * directory while the first is in use, and gc counting everything but removing only what no step holds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "build-cache-mounts.h"
#include "fs-util.h"
#include "macro.h"
#include "tests.h"

static unsigned waits;

static void on_wait(const DockerfileMount *m, void *userdata) {
        waits++;
}

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

static DockerfileMount cache(const char *id, DockerfileMountSharing sharing) {
        return (DockerfileMount) { .type = DOCKERFILE_MOUNT_CACHE,
                                   .target = (char *) "/c",
                                   .id = (char *) id,
                                   .sharing = sharing,
                                   .has_mode = true,
                                   .mode = 0755 };
}

static void write_bytes(const char *dir, const char *name, size_t n) {
        _cleanup_free_ char *p = path_join(dir, name), *data = calloc(1, n);
        CHECK(p && data);
        CHECK_OK(write_file_atomic(p, data, n, 0644));
}

int main(void) {
        char top[] = "/tmp/test-cache-mounts-XXXXXX";
        CacheMountLease a = { .lock_fd = -EBADF }, b = { .lock_fd = -EBADF }, c = { .lock_fd = -EBADF };
        DockerfileMount shared = cache("pkgs", DOCKERFILE_MOUNT_SHARED),
                        locked = cache("pkgs", DOCKERFILE_MOUNT_LOCKED),
                        priv = cache("pkgs", DOCKERFILE_MOUNT_PRIVATE),
                        owned = cache("pkgs", DOCKERFILE_MOUNT_SHARED);
        CacheMountStats stats = {};
        bool created = false;
        struct stat st;
        uint64_t one = 1, t0;
        int cancel_fd;

        if (geteuid() != 0)
                TEST_SKIP("needs root (the cache directories are chowned)");
        CHECK(mkdtemp(top));
        cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        CHECK(cancel_fd >= 0);

        /* Shared: both users at once, the same directory; only the first made it. */
        CHECK_OK(cache_mount_acquire(top, &shared, -1, 0, on_wait, NULL, &a, &created));
        CHECK(created);
        CHECK_OK(cache_mount_acquire(top, &shared, -1, 0, on_wait, NULL, &b, &created));
        CHECK(!created && streq(a.path, b.path) && waits == 0);
        write_bytes(a.path, "pkg-1.deb", 1000);

        /* Locked while shared users hold it: waits, then times out; a cancel ends the wait at once. */
        t0 = now_usec();
        CHECK(cache_mount_acquire(top, &locked, cancel_fd, now_usec() + 300000, on_wait, NULL, &c, NULL) ==
              -ETIME);
        CHECK(waits == 1 && now_usec() - t0 >= 250000);
        CHECK(write(cancel_fd, &one, sizeof one) == sizeof one);
        CHECK(cache_mount_acquire(top, &locked, cancel_fd, 0, on_wait, NULL, &c, NULL) == -ECANCELED);

        /* Private while in use: a directory of its own. */
        CHECK_OK(cache_mount_acquire(top, &priv, -1, 0, NULL, NULL, &c, &created));
        CHECK(created && !streq(c.path, a.path) && strstr(c.path, "-p1"));
        write_bytes(c.path, "private.deb", 10);

        /* Released: a locked user gets the first directory, with what the shared ones left. */
        cache_mount_lease_done(&a);
        cache_mount_lease_done(&b);
        CHECK_OK(cache_mount_acquire(top, &locked, -1, 0, NULL, NULL, &a, &created));
        CHECK(!created);
        {
                _cleanup_free_ char *p = path_join(a.path, "pkg-1.deb");
                CHECK(p && access(p, F_OK) == 0);
        }

        /* Another uid/gid/mode is another directory, made with them. */
        owned.has_uid = owned.has_gid = true;
        owned.uid = 1000;
        owned.gid = 100;
        owned.mode = 0700;
        CHECK_OK(cache_mount_acquire(top, &owned, -1, 0, NULL, NULL, &b, &created));
        CHECK(created && !streq(b.path, a.path));
        CHECK(stat(b.path, &st) == 0 && st.st_uid == 1000 && st.st_gid == 100 &&
              (st.st_mode & 07777) == 0700);
        cache_mount_lease_done(&b);

        /* gc: counts all three; with remove, keeps the two in use (a, c), a dry run removes nothing. */
        CHECK_OK(builder_cache_mounts_gc(top, false, false, &stats));
        CHECK(stats.dirs == 3 && stats.bytes == 1010 && stats.removed == 0);
        CHECK_OK(builder_cache_mounts_gc(top, true, true, &stats));
        CHECK(stats.removed == 1 && stats.busy == 2);
        CHECK_OK(builder_cache_mounts_gc(top, false, false, &stats));
        CHECK(stats.dirs == 3);
        cache_mount_lease_done(&a);
        cache_mount_lease_done(&c);
        CHECK_OK(builder_cache_mounts_gc(top, true, false, &stats));
        CHECK(stats.removed == 3 && stats.bytes_removed == 1010 && stats.busy == 0);
        CHECK_OK(builder_cache_mounts_gc(top, false, false, &stats));
        CHECK(stats.dirs == 0 && stats.bytes == 0);

        close(cancel_fd);
        CHECK_OK(rm_rf(top));
        return 0;
}
