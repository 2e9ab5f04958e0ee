/* Disk space in words: which filesystem holds a path, how much of it is free, and the one sentence every
 * ENOSPC becomes; and the reserve file that lets deletes commit on a full disk.
 * Invariant: the reserve is released only so that a delete or gc can commit, and comes back whole (fully
 * allocated under a temp name, then renamed into place) only when the disk has room for it twice over. */
#pragma once

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The reserve kept in a state directory: room for a database commit (WAL frames of the deleted rows) and
 * an index.json rewrite, with a wide margin; small next to any disk worth running on. */
#define DISK_RESERVE_FILE "disk-reserve"
#define DISK_RESERVE_SIZE (4U * 1024U * 1024U)

/* The longest mount point disk_space_query() reports. */
#define DISK_MOUNT_MAX PATH_MAX

typedef struct DiskSpace {
        uint64_t free;  /* bytes this process can still write (root may use the blocks kept for it) */
        uint64_t total; /* bytes of the filesystem */
        char mount[DISK_MOUNT_MAX]; /* where it is mounted: the topmost ancestor of the path on its device */
} DiskSpace;

/* Fills ret for the filesystem holding path (which must exist). */
int disk_space_query(const char *path, DiskSpace *ret);
/* The same for the nearest existing ancestor of path (a target a failed write removed again). */
int disk_space_query_nearest(const char *path, DiskSpace *ret);

/* "1.5 MiB", "0 B": bytes as a person reads them, into buf (at least 16 bytes); returns buf. */
char *disk_format_bytes(uint64_t bytes, char *buf, size_t size);

/* True for the errors that mean "the disk is full" (ENOSPC, EDQUOT). */
static inline bool disk_errno_is_full(int r) {
        return r == -ENOSPC || r == -EDQUOT;
}

/* The sentence for an ENOSPC under path (any file or directory, existing or not): which disk, how full:
 * "The disk holding /srv/out (mounted at /srv) is full (0 B free of 64 MiB)." */
void disk_full_message(const char *path, char *message, size_t message_size);
/* The same for an ENOSPC under a state dir, and what to run:
 * "The disk holding /var/lib/slipway (mounted at /var) is full (0 B free of 64 MiB)." and
 * "Free space: remove images with 'slipway image rm NAME', then run 'slipway image gc'; then retry." */
void disk_full_describe(const char *path, char *message, size_t message_size, char *hint, size_t hint_size);

/* Makes dir/DISK_RESERVE_FILE when it is missing and the disk has room for it twice over: 1 made, 0 there
 * already, -ENOSPC no room (nothing is left behind), other -errno. */
int disk_reserve_ensure(const char *dir);
/* Removes dir/DISK_RESERVE_FILE, giving its space to the writes that follow: 1 released, 0 none was there. */
int disk_reserve_release(const char *dir);
