/* The image catalog: names and image rows in slipway.db over the blobs of the OCI store.
 *
 * Invariants: index.json always lists exactly the tags table (rewritten in the same critical section
 * as every tag change, before the transaction commits); gc never removes a blob or unpacked layer that
 * a tagged image references, because it holds the store lock exclusively while imports, builds and
 * unpacks hold it shared, and treats every pinned image as a root (streaming readers such as export
 * pin instead of holding the lock, so a stalled reader never makes gc wait). */
#pragma once

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "image-db.h"
#include "layer-unpack.h"
#include "oci-store.h"

typedef struct ImageCatalog {
        sqlite3 *db;     /* borrowed */
        OciStore *store; /* borrowed */
        char *layers_dir;
        pthread_mutex_t db_lock; /* one connection, many threads: transactions must not interleave */
        pthread_rwlock_t store_lock;
        pthread_mutex_t pin_lock; /* guards pins: digests streaming readers hold, each once per pin */
        char **pins;
        size_t n_pins;
} ImageCatalog;

int image_catalog_new(sqlite3 *db, OciStore *store, const char *layers_dir, ImageCatalog **ret);
ImageCatalog *image_catalog_free(ImageCatalog *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(ImageCatalog *, image_catalog_free);

/* What one import brought in. */
typedef struct CatalogImported {
        char digest[DIGEST_STRING_MAX];
        char *ref; /* the name given to it */
        uint64_t size;
} CatalogImported;

void catalog_imported_free(CatalogImported *v, size_t n);

/* Imports the file at path.  name (may be NULL) names the image; without it the names recorded in
 * the archive are used.  On failure nothing new is named and stray blobs are swept. */
int image_catalog_import(ImageCatalog *c, const char *path, OciImportFormat format, const char *name,
                         CatalogImported **ret, size_t *ret_n, OciError *err);

/* Names an image whose blobs are already in the store (a build result): records its row and points name
 * (normalised) at it, index.json following.  The caller holds image_catalog_read_lock() from writing the
 * blobs until this returns, so gc cannot sweep them before they are named. */
int image_catalog_add(ImageCatalog *c, const char *digest, const char *name, OciError *err);

/* "busybox" → "busybox:latest"; a full digest stays as it is, and "name@sha256:…" becomes its digest alone
 * ("@sha256:…" only ever means a digest); anything else is -EINVAL with err. */
int image_catalog_normalize_ref(const char *ref, char **ret, OciError *err);
/* The same for a name given to an image (--name, -t, an archive's own name): a digest or "name@digest" is
 * refused with a sentence in err. */
int image_catalog_normalize_name(const char *name, char **ret, OciError *err);

/* Resolves a name ("busybox" → "busybox:latest") or a full digest to its image row; a digest the store holds
 * as a complete image but no name refers to any more gives a row with no refs. */
int image_catalog_lookup(ImageCatalog *c, const char *ref, ImageRecord *ret, OciError *err);
int image_catalog_list(ImageCatalog *c, ImageRecord **ret, size_t *ret_n);
int image_catalog_count(ImageCatalog *c, uint64_t *ret);

/* Removes a name (or, given a digest, every name of that image); the image row goes with its last
 * name.  ret_removed is the normalised ref. */
int image_catalog_remove(ImageCatalog *c, const char *ref, char **ret_removed,
                         char ret_digest[static DIGEST_STRING_MAX], OciError *err);

typedef struct CatalogGcResult {
        uint64_t blobs_removed;
        uint64_t bytes_freed;
        uint64_t layers_removed;
        char **blobs; /* digests removed (or that would be, on a dry run) */
        size_t n_blobs;
        TempSweepStats temp; /* temp files and dirs killed writers left (blobs, unpacked layers) */
} CatalogGcResult;

void catalog_gc_result_done(CatalogGcResult *r);
int image_catalog_gc(ImageCatalog *c, bool dry_run, CatalogGcResult *ret, OciError *err);

/* Flat rootfs of all layers of ref into path (absolute; created; must be empty). */
/* Fills the shared layer cache (DIR/layers/<hex of diff_id>/, overlay-form whiteouts) with every
 * layer of the image; cached layers are not read again. */
int image_catalog_prepare_layers(ImageCatalog *c, const char *digest, OciError *err);
/* Unpacks into path (absolute, no '..'; created; must be empty), refused (-EPERM) inside state_dir (when
 * not NULL).  Device nodes and setuid/setgid bits are dropped unless flags has
 * LAYER_UNPACK_KEEP_SPECIAL: the tree is on the host, not in a container. */
int image_catalog_unpack(ImageCatalog *c, const char *digest, const char *path, LayerUnpackFlags flags,
                         const char *state_dir, OciError *err);

/* Pins a complete image for a streaming reader (export): until unpinned, gc keeps all of it, and gc
 * does not wait for the reader.  -ENOENT when the store does not hold all of it (any more). */
int image_catalog_pin(ImageCatalog *c, const char *digest);
void image_catalog_unpin(ImageCatalog *c, const char *digest);

/* Shared hold on the store for short readers (inspect, unpack): gc waits until released. */
void image_catalog_read_lock(ImageCatalog *c);
void image_catalog_read_unlock(ImageCatalog *c);
