/* Layer creation: a directory (an overlay upper dir, or a staging dir for COPY/ADD) → a
 * reproducible gzip'd tar blob with OCI whiteouts.  Same tree + same options → same bytes. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "digest.h"

#define LAYER_CREATE_GZIP_LEVEL_DEFAULT 5

typedef struct LayerCreateOptions {
        int64_t source_date_epoch; /* < 0: keep mtimes; else clamp every mtime to it */
        int gzip_level;            /* 0: uncompressed tar; 1..9 gzip level */
        bool overlay_whiteouts;    /* char 0:0 → .wh.NAME; trusted.overlay.opaque=y → .wh..wh..opq */
} LayerCreateOptions;

typedef struct LayerCreateResult {
        char digest[DIGEST_STRING_MAX];  /* of the bytes written (compressed) */
        char diff_id[DIGEST_STRING_MAX]; /* of the uncompressed tar */
        uint64_t size;                   /* bytes written */
        uint64_t n_entries;
} LayerCreateResult;

/* Writes the layer for dir to out_fd (from its current offset). -E2BIG when an entry has more than
 * LAYER_XATTRS_MAX extended attributes or one above LAYER_XATTR_VALUE_MAX bytes: nothing is dropped. */
int layer_create(const char *dir, int out_fd, const LayerCreateOptions *opts, LayerCreateResult *ret);
