/* Secure unpacking of one layer blob into the shared cache DIR/layers/<diff_id>/.
 *
 * Invariant: no entry of a layer can create, change or follow anything outside the target
 * directory (every path is resolved with openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS)), and the
 * unpack runs in a child process under a seccomp filter that denies network and exec.  OCI
 * whiteouts become overlayfs whiteouts (.wh.x → char 0:0 "x"; .wh..wh..opq → trusted.overlay.opaque=y). */
#pragma once

#include <stdint.h>

#include "digest.h"
#include "oci-error.h"

#define LAYER_ENTRIES_MAX 1000000U
#define LAYER_PATH_MAX 4096U

/* Unpacks the (gzip/zstd/uncompressed, auto-detected) tar read from layer_fd into target_dir,
 * in a sandboxed child.  Verifies that the uncompressed stream hashes to diff_id when diff_id
 * is not NULL.  target_dir must exist and be empty. */
int layer_unpack_fd(int layer_fd, const char *target_dir, const char *diff_id, OciError *err);

/* Ensures DIR/layers/<diff_id>/ exists for the given layer: unpacks into a temp dir under
 * layers_dir and renames it into place, so a half-unpacked layer is never visible. */
int layer_cache_ensure(const char *layers_dir, int layer_fd, const char *diff_id, OciError *err);

/* Unpacks all layers of an image (in order, whiteouts applied) into one plain directory:
 * used by `slipway image unpack` and tests.  Each layer fd is read from its current offset. */
int layer_unpack_flat(int *layer_fds, size_t n, const char *target_dir, OciError *err);
