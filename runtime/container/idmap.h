/* ID-mapped mounts for user-namespaced containers: a layer owned by host root is seen through a
 * detached, idmapped clone of its mount as owned by the container's uid range, so an image is shared
 * read-only between containers with different ranges and nothing is chowned or copied up.  Ranges are
 * handed out host-wide through claim links, so no two live owners ever share one. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "host-claims.h"

/* Every container gets a range of this many uids/gids: 0..65535 inside. */
#define IDMAP_RANGE_SIZE 65536U
/* Where ranges come from: the top of what systemd sets aside for containers (0x00080000…0x6FFFFFFF, see
 * systemd's UIDS-GIDS.md), far from nspawn's own --private-users=pick, which hashes into the whole span.
 * 4095 ranges: 0x60000000…0x6FFEFFFF. */
#define IDMAP_RANGE_BASE 0x60000000U
#define IDMAP_RANGE_SLOTS 4095U
/* Claims: one symlink per range in use, named by its first host uid, pointing at its owner (an instance
 * directory).  Under /run: after a reboot owners claim their range again (see idmap_range_claim). */
#define IDMAP_CLAIMS_DIR HOST_CLAIMS_ROOT "/uid-ranges"

/* True for the first uid of one of our ranges. */
bool idmap_shift_valid(uid_t shift);

/* Claims a range for owner (an absolute path) in claims_dir (created if needed) and returns its first host
 * uid.  Idempotent: the range owner already holds is returned again.  preferred (0: none) is taken when free
 * (an owner that had a range before a reboot gets it back); otherwise the search starts at a slot derived
 * from owner.  A claim whose owner no longer exists is stale and reused.  -ENOSPC when all are taken. */
int idmap_range_claim(const char *claims_dir, const char *owner, uid_t preferred, uid_t *ret_shift);
/* Drops owner's claim; 0 also when it has none. */
int idmap_range_release(const char *claims_dir, const char *owner);
/* Moves the owners of everything under dir (not crossing mounts) that lie in the range starting at from to
 * the same offset in the range starting at to; other owners stay.  For an upper directory whose range went
 * to somebody else while its instance was down (a claim lost in a reboot). */
int idmap_shift_tree(const char *dir, uid_t from, uid_t to);

/* A user namespace fd whose uid and gid maps are "0 shift IDMAP_RANGE_SIZE" (the namespace has no
 * process left; the fd keeps it alive).  shift must be > 0 and leave room for the whole range. */
int idmap_userns_new(uid_t shift, int *ret_fd);

/* A detached clone of the mount tree at dir, idmapped through userns_fd (O_CLOEXEC fd).  Its path for
 * APIs that want one is /proc/self/fd/FD. */
int idmap_clone_tree(const char *dir, int userns_fd, int *ret_fd);

/* True when the kernel and the file system holding dir support idmapped mounts. */
bool idmap_supported(const char *dir);
