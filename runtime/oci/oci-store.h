/* The content-addressed image store at DIR/oci: a standard OCI image layout (oci-layout,
 * index.json, blobs/sha256/<hex>) that skopeo, umoci and buildah read as is.
 *
 * Invariants: a blob file exists only under its verified digest (written temp + fsync + rename);
 * index.json is replaced atomically; nothing here knows about sqlite — the caller owns the list
 * of names and hands it to oci_store_write_index(). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "digest.h"
#include "oci-error.h"
#include "strv.h"
#include "temp-claim.h"

#define OCI_MEDIA_TYPE_INDEX "application/vnd.oci.image.index.v1+json"
#define OCI_MEDIA_TYPE_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_MEDIA_TYPE_CONFIG "application/vnd.oci.image.config.v1+json"
#define OCI_MEDIA_TYPE_LAYER "application/vnd.oci.image.layer.v1.tar"
#define OCI_MEDIA_TYPE_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define OCI_MEDIA_TYPE_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define DOCKER_MEDIA_TYPE_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define DOCKER_MEDIA_TYPE_MANIFEST_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define DOCKER_MEDIA_TYPE_CONFIG "application/vnd.docker.container.image.v1+json"
#define DOCKER_MEDIA_TYPE_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"

/* Limits on input we parse into memory (blobs themselves are streamed). */
#define OCI_MANIFEST_MAX (4U * 1024U * 1024U)
#define OCI_CONFIG_MAX (8U * 1024U * 1024U)
#define OCI_REF_MAX 255U

typedef struct OciStore OciStore;

typedef enum OciImportFormat {
        OCI_IMPORT_AUTO,           /* detect: directory → layout; tar with oci-layout → oci-archive;
                                    * tar with manifest.json → docker-archive */
        OCI_IMPORT_OCI_LAYOUT,     /* a directory */
        OCI_IMPORT_OCI_ARCHIVE,    /* tar of an OCI layout */
        OCI_IMPORT_DOCKER_ARCHIVE, /* `docker save` output */
        OCI_IMPORT_ROOTFS,         /* plain rootfs tar (optionally compressed) → one-layer image */
        _OCI_IMPORT_FORMAT_MAX,
        _OCI_IMPORT_FORMAT_INVALID = -EINVAL,
} OciImportFormat;

const char *oci_import_format_to_string(OciImportFormat f);
OciImportFormat oci_import_format_from_string(const char *s);

/* One image that an import brought in. */
typedef struct OciImportedImage {
        char digest[DIGEST_STRING_MAX]; /* manifest digest (an image manifest, never an index) */
        char config_digest[DIGEST_STRING_MAX];
        char *media_type;       /* manifest media type as stored */
        uint64_t size;          /* manifest + config + layers, compressed */
        char *ref;              /* name found in the source (annotation / RepoTags), or NULL */
        uint64_t manifest_size; /* bytes of the manifest blob (for OciIndexEntry.size) */
} OciImportedImage;

typedef struct OciImportResult {
        OciImportedImage *images;
        size_t n_images;
} OciImportResult;

void oci_import_result_done(OciImportResult *r);

/* A name → manifest entry written into index.json. */
typedef struct OciIndexEntry {
        const char *ref;    /* written as org.opencontainers.image.ref.name */
        const char *digest; /* manifest digest */
        const char *media_type;
        uint64_t size; /* manifest size in bytes */
} OciIndexEntry;

/* Summary of a stored image for list/inspect. */
typedef struct OciImageSummary {
        char digest[DIGEST_STRING_MAX];
        char config_digest[DIGEST_STRING_MAX];
        char *media_type;
        uint64_t manifest_size;
        uint64_t total_size; /* manifest + config + compressed layers */
        size_t n_layers;
        char *created; /* config "created", or NULL */
        char *architecture;
        char *os;
} OciImageSummary;

void oci_image_summary_done(OciImageSummary *s);

/* Opens (creating on first use) the layout at path. */
int oci_store_open(const char *path, OciStore **ret);
OciStore *oci_store_free(OciStore *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(OciStore *, oci_store_free);
const char *oci_store_path(OciStore *s);

/* Blobs. */
bool oci_store_has_blob(OciStore *s, const char *digest);
/* Opens a blob for reading after verifying its content against its digest (O_CLOEXEC, offset 0). */
int oci_store_open_blob(OciStore *s, const char *digest, int *ret_fd, uint64_t *ret_size);
/* Reads a small blob (manifest/config) whole, verified, at most max bytes. */
int oci_store_read_blob(OciStore *s, const char *digest, size_t max, char **ret_data, size_t *ret_size);
/* Streams fd to EOF into the store; verifies against expected_digest when not NULL (-EBADMSG on
 * mismatch, nothing stored).  Returns the digest and size. */
int oci_store_put_blob_fd(OciStore *s, int fd, const char *expected_digest,
                          char ret_digest[static DIGEST_STRING_MAX], uint64_t *ret_size);
int oci_store_put_blob_data(OciStore *s, const void *data, size_t size,
                            char ret_digest[static DIGEST_STRING_MAX]);
/* Moves a finished file (an upload: dir_fd/name, open as fd) into the store as the blob digest, which the
 * caller computed over exactly its bytes.  fsyncs it, renames it into place (or drops it when the blob is
 * already stored) and fsyncs the directory; on another file system it is copied and verified instead. */
int oci_store_adopt_blob(OciStore *s, int fd, int dir_fd, const char *name, const char *digest);
int oci_store_remove_blob(OciStore *s, const char *digest);
/* Removes the temp files (".#…") in blobs/sha256 that no writer claims (writers that died: every
 * writer claims its temp while it writes), counting them into stats; a dry run only counts. */
int oci_store_sweep_temp(OciStore *s, bool dry_run, TempSweepStats *stats);
/* Calls fn for each blob digest present (for gc sweep; temp files are never reported). */
int oci_store_foreach_blob(OciStore *s, int (*fn)(const char *digest, uint64_t size, void *userdata),
                           void *userdata);

/* Images. */
/* Imports from path (file or directory).  Every blob is verified; an index or manifest list
 * resolves to its linux/amd64 manifest.  On failure nothing new is referenced (stray blobs
 * written before the failure are unreferenced and removed by gc). */
int oci_store_import(OciStore *s, const char *path, OciImportFormat format, OciImportResult *ret,
                     OciError *err);
/* The same for a tar stream read from fd until EOF (a pipe or socket is fine: one pass, nothing
 * buffered whole).  format OCI_IMPORT_OCI_LAYOUT is refused (-EINVAL); AUTO means oci/docker archive. */
int oci_store_import_fd(OciStore *s, int fd, OciImportFormat format, OciImportResult *ret, OciError *err);
/* Fills the summary of a stored manifest. */
int oci_store_image_summary(OciStore *s, const char *digest, OciImageSummary *ret, OciError *err);
/* Returns {"digest","mediaType","size","manifest":{...},"config":{...}} for inspect; size is the
 * total (manifest + config + compressed layers), as in OciImageSummary.total_size. */
int oci_store_image_inspect(OciStore *s, const char *digest, json_t **ret, OciError *err);
/* Lists every blob digest an image manifest references (config, layers), itself included. */
int oci_store_image_blobs(OciStore *s, const char *digest, char ***ret_digests, size_t *ret_n);
/* The uncompressed layer digests (rootfs.diff_ids) and the matching compressed layer blobs. */
int oci_store_image_layers(OciStore *s, const char *digest, char ***ret_layer_digests, char ***ret_diff_ids,
                           char ***ret_media_types, size_t *ret_n);

/* Rewrites index.json (atomically) with exactly these entries. */
int oci_store_write_index(OciStore *s, const OciIndexEntry *entries, size_t n);

/* Export: a standard OCI layout directory (created; must not exist or be empty), or an
 * oci-archive tar streamed to fd (nothing buffered whole).  ref is the name recorded. */
int oci_store_export_layout(OciStore *s, const char *digest, const char *ref, const char *dir,
                            OciError *err);
int oci_store_export_archive(OciStore *s, const char *digest, const char *ref, int fd, OciError *err);

/* References: "name[:tag]" or "name@sha256:…" per the distribution reference grammar
 * (lowercase path components, tag [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}).  A bare name gets ":latest". */
bool oci_ref_is_valid(const char *ref);
int oci_ref_normalize(const char *ref, char **ret);
/* Docker's short form: "docker.io/library/busybox:1" → "busybox:1", "docker.io/u/app" → "u/app";
 * anything else is copied unchanged. */
int oci_ref_familiarize(const char *ref, char **ret);
