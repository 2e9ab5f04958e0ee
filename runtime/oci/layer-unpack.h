/* Secure unpacking of layer blobs: into the shared cache DIR/layers/<hex of diff_id>/, or flat.
 *
 * Invariant: no entry of a layer can create, change or follow anything outside the target
 * directory (every path is resolved with openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS)), and the
 * unpack runs in a child process under a seccomp filter that denies network and exec.  OCI
 * whiteouts become overlayfs whiteouts (.wh.x → char 0:0 "x"; .wh..wh..opq → trusted.overlay.opaque=y)
 * in the cache, or are applied (lower entries removed) by layer_unpack_flat(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/types.h>

#include "digest.h"
#include "layer-apply.h"
#include "oci-error.h"
#include "temp-claim.h"

#define LAYER_FLAT_LAYERS_MAX 200U /* layers layer_unpack_flat() applies in one go */

/* Unpacks (overlay mode) the (gzip/zstd/uncompressed, auto-detected) tar read from layer_fd into target_dir,
 * in a sandboxed child.  Verifies that the uncompressed stream hashes to diff_id when diff_id
 * is not NULL.  target_dir must exist and be empty; on failure it is emptied again. */
int layer_unpack_fd(int layer_fd, const char *target_dir, const char *diff_id, OciError *err);

/* Ensures layers_dir/<hex of diff_id>/ (no "sha256:" prefix) exists for the given layer: unpacks
 * (overlay mode, diff_id verified) into layers_dir/.tmp-<random> and renames it into place with
 * RENAME_NOREPLACE, so a half-unpacked layer is never visible and a concurrent caller that wins
 * the race is kept.  layers_dir is created when missing and made 0700 (layers carry setuid files
 * and device nodes).  Returns 0 when the layer was already there, 1 when this call unpacked it. */
int layer_cache_ensure(const char *layers_dir, int layer_fd, const char *diff_id, OciError *err);

#define LAYER_CACHE_TEMP_PREFIX ".tmp-"

/* Removes the temp dirs that unpacks killed midway (kill -9, power loss) left in layers_dir, counting them
 * into stats (a dry run only counts).  Safe while unpacks run: each claims its temp dir (temp-claim.h). */
int layer_cache_sweep_temp(const char *layers_dir, bool dry_run, TempSweepStats *stats);

/* layers_dir/<hex of diff_id> (malloc'ed); -EINVAL for an invalid diff_id. */
int layer_cache_path(const char *layers_dir, const char *diff_id, char **ret);

typedef enum LayerUnpackFlags {
        LAYER_UNPACK_KEEP_SPECIAL = 1 << 0, /* keep device nodes and setuid/setgid bits (a trusted image) */
} LayerUnpackFlags;

/* Unpacks all layers of an image (in order, whiteouts applied) into one plain directory:
 * used by `slipway image unpack` and tests.  Each layer fd is read from its current offset.
 * target_dir is created when missing; when it was empty, a failure empties it again.  The tree is
 * outside any container, so unless LAYER_UNPACK_KEEP_SPECIAL an image's device nodes are left out and
 * its setuid/setgid bits cleared (a root-owned setuid shell or a /dev/sda node would work on the host). */
int layer_unpack_flat(int *layer_fds, size_t n, const char *target_dir, LayerUnpackFlags flags,
                      OciError *err);

/* ADD's extraction: unpacks the (gzip/bzip2/xz/zstd/plain, auto-detected) tar archive read from archive_fd
 * into the directory target_fd (LAYER_UNPACK_ARCHIVE: no whiteouts, a leading '/' of a name is dropped),
 * in the same sandboxed child as layers, so no entry can write outside target_fd. owner: when not
 * NULL, every entry gets this owner instead of the archive's (ADD --chown). */
int layer_unpack_archive(int archive_fd, int target_fd, const LayerOwner *owner, OciError *err);
