/* OCI whiteouts (".wh.NAME", ".wh..wh..opq") and their two renderings: overlayfs form for the layer
 * cache (char device 0:0, trusted.overlay.opaque=y) and applied form for flat unpacking (remove
 * lower-layer entries, never entries the same layer created). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define WHITEOUT_PREFIX ".wh."
#define WHITEOUT_OPAQUE_NAME ".wh..wh..opq"
#define OVERLAY_OPAQUE_XATTR "trusted.overlay.opaque"

typedef enum WhiteoutKind {
        WHITEOUT_NONE,   /* an ordinary entry */
        WHITEOUT_FILE,   /* ".wh.NAME": hide NAME of lower layers */
        WHITEOUT_OPAQUE, /* ".wh..wh..opq": hide all lower-layer entries of this directory */
        WHITEOUT_META,   /* other ".wh..wh.*" (aufs bookkeeping): ignored */
} WhiteoutKind;

/* Classifies a base name; for WHITEOUT_FILE, *ret_target points at NAME inside basename.
 * A ".wh." whose NAME is empty, "." or ".." is -EBADMSG. */
int whiteout_classify(const char *basename, WhiteoutKind *ret_kind, const char **ret_target);

/* The set of paths (relative to the root, normalised) that the layer being applied created,
 * ancestors included, so that whiteouts spare the layer's own entries. */
typedef struct LayerPaths {
        char **slots;
        size_t n_slots, n_used;
} LayerPaths;

int layer_paths_add(LayerPaths *p, const char *path);
bool layer_paths_contains(const LayerPaths *p, const char *path);
void layer_paths_clear(LayerPaths *p);

/* Overlay form.  parent_fd is the (confined) directory that holds the whiteout entry. */
int whiteout_apply_overlay(int parent_fd, WhiteoutKind kind, const char *target);

/* Flat form.  parent_path is the directory's normalised path inside the root ("" for the root). */
int whiteout_apply_flat(int parent_fd, const char *parent_path, WhiteoutKind kind, const char *target,
                        const LayerPaths *created);
