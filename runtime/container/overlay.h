/* overlayfs root file systems: read-only layer directories below, one writable upper on top.
 * The upper directory is what a build step turns into a layer and what an instance may change. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#define OVERLAY_LAYERS_MAX 128U

/* Mounts lower[0] (lowest) … lower[n-1] (highest) with upper/work at target.  n may be 0 only
 * when upper is given (the upper is then the only layer).  upper may be NULL for a read-only
 * stack.  systemd-nspawn refuses a root without /usr, so a tiny shim layer providing an empty
 * /usr is put at the bottom when shim_dir is given. */
int overlay_mount(const char *const *lower, size_t n, const char *upper, const char *work,
                  const char *target, const char *shim_dir);
/* Same, for a container in a user namespace whose root is host uid `shift` (see idmap.h): every
 * lower (and the shim) is used through an idmapped clone, so image files owned by host root appear
 * owned by the container's root without being chowned or copied up.  The upper is not idmapped (the
 * kernel creates overlayfs' work files as the mounter): its root directory is chowned to shift, and
 * what the container writes is stored with its host uids (shift + n).  shift 0: overlay_mount(). */
int overlay_mount_shifted(const char *const *lower, size_t n, const char *upper, const char *work,
                          const char *target, const char *shim_dir, uid_t shift);
int overlay_umount(const char *target);

/* Creates (once) the shim lower directory: shim_dir/usr/. */
int overlay_shim_ensure(const char *shim_dir);
