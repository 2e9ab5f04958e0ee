/* Cache mounts (RUN --mount=type=cache): directories under STATE/build-cache-mounts/, kept from build to
 * build and never part of a layer, one per (id, uid, gid, mode). Invariant: a step holds a flock on its
 * directory's lock file while it runs (shared for sharing=shared, exclusive for locked and private), and gc
 * removes only directories it can lock exclusively, so no step ever sees its cache vanish. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "dockerfile-mount.h"

#define CACHE_MOUNTS_DIR "build-cache-mounts"
#define CACHE_MOUNT_PRIVATE_MAX 16U    /* directories one private cache may have in use at once */
#define CACHE_MOUNT_WAIT_POLL_MSEC 100 /* how often a locked cache in use is tried again */

typedef struct CacheMountLease {
        char *path; /* the directory to mount */
        int lock_fd;
} CacheMountLease;

void cache_mount_lease_done(CacheMountLease *l);

/* Called once when the cache is in use and the step waits (sharing=locked). */
typedef void (*CacheMountWaitFunc)(const DockerfileMount *m, void *userdata);

/* The directory for m (type=cache), created with its mode/uid/gid when missing, locked as its sharing says.
 * Waits while a locked cache is in use, until cancel_fd is readable (-ECANCELED) or CLOCK_MONOTONIC passes
 * deadline_usec (-ETIME). -EBUSY: every private copy is in use. ret->path holds a fresh directory when
 * *ret_created (for seeding from from=/source=). */
int cache_mount_acquire(const char *state_dir, const DockerfileMount *m, int cancel_fd,
                        uint64_t deadline_usec, CacheMountWaitFunc wait_cb, void *userdata,
                        CacheMountLease *ret, bool *ret_created);

typedef struct CacheMountStats {
        uint64_t dirs;  /* cache directories found */
        uint64_t bytes; /* their file sizes, summed */
        uint64_t removed;
        uint64_t bytes_removed;
        uint64_t busy; /* in use by a running step: kept */
} CacheMountStats;

/* Counts the cache mounts of state_dir; with remove also removes every one not in use (dry_run: only counts
 * what would go). */
int builder_cache_mounts_gc(const char *state_dir, bool remove, bool dry_run, CacheMountStats *ret);
