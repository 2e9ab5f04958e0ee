/* The layer applier: tar entries onto a directory fd in the calling process (the worker the unpack
 * sandbox runs, and the fuzz target's entry point), with the limits every layer is held to. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "oci-error.h"

#define LAYER_ENTRIES_MAX 1000000U /* entries in one layer */
#define LAYER_PATH_MAX 4096U       /* bytes in an entry name, a hardlink or a symlink target */
#define LAYER_XATTRS_MAX 256U      /* extended attributes on one entry */
#define LAYER_UNCOMPRESSED_MAX (64ULL * 1024ULL * 1024ULL * 1024ULL) /* bytes of one uncompressed layer */

typedef enum LayerUnpackMode {
        LAYER_UNPACK_OVERLAY, /* whiteouts become overlayfs whiteouts: for the layer cache (lowerdirs) */
        LAYER_UNPACK_FLAT,    /* whiteouts remove what earlier layers left in the target */
        LAYER_UNPACK_ARCHIVE, /* a plain archive (ADD): .wh. names are ordinary files, a leading '/' is dropped */
} LayerUnpackMode;

/* An owner forced onto every entry (ADD --chown). */
typedef struct LayerOwner {
        uid_t uid;
        gid_t gid;
} LayerOwner;

typedef struct LayerApplyOptions {
        LayerUnpackMode mode;
        const char *diff_id;     /* verified against the uncompressed stream when not NULL */
        uint64_t max_size;       /* bound on the uncompressed stream (0: LAYER_UNCOMPRESSED_MAX) */
        const LayerOwner *owner; /* NULL: the owners the archive names */
        bool drop_special; /* skip device nodes, clear setuid/setgid bits (an untrusted image's tree) */
} LayerApplyOptions;

/* Applies the tar read from layer_fd onto target_fd as opts says. */
int layer_apply(int layer_fd, int target_fd, const LayerApplyOptions *opts, OciError *err);

/* Unpacks one layer from layer_fd into the directory target_fd in the calling process, without
 * the sandbox: the worker the sandboxed child runs, and the fuzz target's entry point.  Entry
 * names that are absolute or contain ".." are refused (-EBADMSG); symlinks met while resolving a
 * name are followed inside the target, as the container will see them.  max_size bounds the
 * uncompressed stream (0: LAYER_UNCOMPRESSED_MAX). Same as layer_apply() without an owner. */
int layer_unpack_in_process(int layer_fd, int target_fd, LayerUnpackMode mode, const char *diff_id,
                            uint64_t max_size, OciError *err);
