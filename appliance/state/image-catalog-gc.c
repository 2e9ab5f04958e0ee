/* Image gc (image_catalog_gc, image-catalog.h): marks what every catalog image, release, pending approval
 * and pushed registry manifest references, then removes the blobs and unpacked layer dirs nothing marks.
 * Invariant: it runs with the store lock held for writing and the db lock, so no import, build or pull
 * sees a blob vanish under it. */
#include "image-catalog-internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "distribution-db.h"
#include "fs-util.h"
#include "layer-unpack.h"
#include "log.h"
#include "manifest-check.h"
#include "path-util.h"
#include "sqlite-util.h"
#include "string-util.h"

typedef struct DigestSet {
        char **v;
        size_t n;
} DigestSet;

static int digest_set_add(DigestSet *s, const char *d) {
        char **nv = realloc(s->v, (s->n + 1) * sizeof *nv);
        if (!nv)
                return -ENOMEM;
        s->v = nv;
        s->v[s->n] = strdup(d);
        if (!s->v[s->n])
                return -ENOMEM;
        s->n++;
        return 0;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static bool digest_set_contains(const DigestSet *s, const char *d) {
        return s->n > 0 && bsearch(&d, s->v, s->n, sizeof *s->v, cmp_str);
}

typedef struct SweepState {
        const DigestSet *marked;
        DigestSet garbage;
        uint64_t bytes;
        int error;
} SweepState;

static int collect_unmarked(const char *digest, uint64_t size, void *userdata) {
        SweepState *st = userdata;
        int r;

        if (digest_set_contains(st->marked, digest))
                return 0;
        r = digest_set_add(&st->garbage, digest);
        if (r < 0)
                return r;
        st->bytes += size;
        return 0;
}

/* Name of an unpacked layer dir → its diff_id; NULL for names that are not ours. */
static char *layer_dir_diff_id(const char *name) {
        char *d;

        if (digest_is_valid(name))
                return strdup(name);
        if (asprintf(&d, "sha256:%s", name) < 0)
                return NULL;
        if (!digest_is_valid(d)) {
                free(d);
                return NULL;
        }
        return d;
}

#define GC_UNREADABLE_HINT "Check the store; gc removes nothing while an image is unreadable."

static int digest_set_add_all(DigestSet *s, char *const *digests, size_t n) {
        for (size_t i = 0; i < n; i++) {
                int r = digest_set_add(s, digests[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Adds an image's blobs to marked and its layers' diff_ids to diff_ids.  missing_ok: an image already gone
 * from the store (a release row outliving its image) marks nothing instead of failing. */
static int mark_image(ImageCatalog *c, const char *digest, bool missing_ok, DigestSet *marked,
                      DigestSet *diff_ids, OciError *err) {
        char **blobs = NULL, **layers = NULL, **diffs = NULL, **types = NULL;
        size_t n = 0, nl = 0;
        int r;

        r = oci_store_image_blobs(c->store, digest, &blobs, &n);
        if (r == -ENOENT && missing_ok)
                return 0;
        if (r < 0)
                return oci_error_set(err, r, GC_UNREADABLE_HINT, "Cannot read image %s.", digest);
        r = digest_set_add_all(marked, blobs, n);
        strv_free_n(blobs, n);
        if (r < 0)
                return r;

        r = oci_store_image_layers(c->store, digest, &layers, &diffs, &types, &nl);
        if (r < 0)
                return oci_error_set(err, r, GC_UNREADABLE_HINT, "Cannot read the layers of image %s.",
                                     digest);
        r = digest_set_add_all(diff_ids, diffs, nl);
        strv_free_n(layers, nl);
        strv_free_n(diffs, nl);
        strv_free_n(types, nl);
        return r;
}

/* The registry's roots: every pushed manifest (an index, an artifact or an untagged image) with what it
 * references, and the blobs pushed within the grace period (a push sends its blobs before its manifest).  A
 * manifest whose blob is gone is skipped; one that cannot be parsed keeps only itself. */
static int mark_registry(ImageCatalog *c, DigestSet *marked, OciError *err) {
        _cleanup_strv_free_ char **manifests = NULL, **recent = NULL;
        int r;

        pthread_mutex_lock(&c->db_lock);
        r = model_manifest_digests(c->db, &manifests);
        if (r >= 0)
                r = model_registry_blobs_since(c->db, sqlite_now_sec() - DISTRIBUTION_BLOB_GRACE_SEC,
                                               &recent);
        pthread_mutex_unlock(&c->db_lock);
        if (r < 0)
                return oci_error_set(err, r, GC_UNREADABLE_HINT, "Cannot read the registry's manifests.");
        r = digest_set_add_all(marked, recent, strv_length(recent));
        for (size_t i = 0; r >= 0 && manifests[i]; i++) {
                _cleanup_(oci_manifest_check_done) OciManifestCheck chk = {};
                _cleanup_free_ char *data = NULL;
                size_t size = 0;

                if (oci_store_read_blob(c->store, manifests[i], OCI_MANIFEST_MAX, &data, &size) < 0)
                        continue;
                r = digest_set_add_all(marked, &manifests[i], 1);
                if (r < 0 || oci_manifest_check(data, size, NULL, &chk, NULL) < 0)
                        continue;
                for (size_t k = 0; r >= 0 && k < chk.n_refs; k++) {
                        char *d = chk.refs[k].digest;
                        r = digest_set_add_all(marked, &d, 1);
                }
        }
        return r;
}

int image_catalog_gc_locked(ImageCatalog *c, bool dry_run, CatalogGcResult *ret, OciError *err) {
        DigestSet marked = {}, diff_ids = {};
        char **release_roots = NULL;
        size_t n_release_roots = 0;
        SweepState st = { .marked = &marked };
        ImageRecord *images = NULL;
        size_t n_images = 0;
        uint64_t layers_removed = 0;
        TempSweepStats temp = {};
        int r;

        pthread_mutex_lock(&c->db_lock);
        r = images_list(c->db, &images, &n_images);
        pthread_mutex_unlock(&c->db_lock);
        if (r < 0)
                goto finish;

        pthread_mutex_lock(&c->db_lock);
        r = release_image_digests(c->db, &release_roots, &n_release_roots);
        pthread_mutex_unlock(&c->db_lock);
        if (r < 0)
                goto finish;

        /* Mark: everything a named image references, and every image a release runs (a release keeps its
         * image after the last name is removed, so it can be restarted or rolled back to).  Any failure stops
         * gc before it deletes. */
        for (size_t i = 0; i < n_images; i++) {
                r = mark_image(c, images[i].digest, false, &marked, &diff_ids, err);
                if (r < 0)
                        goto finish;
        }
        for (size_t i = 0; i < n_release_roots; i++) {
                r = mark_image(c, release_roots[i], true, &marked, &diff_ids, err);
                if (r < 0)
                        goto finish;
        }
        /* Pins are roots too (an export streaming an image whose name was just removed).  A pin is only
         * taken under the store lock shared, so none appears while this sweep holds it exclusively. */
        pthread_mutex_lock(&c->pin_lock);
        for (size_t i = 0; i < c->n_pins && r >= 0; i++)
                r = mark_image(c, c->pins[i], true, &marked, &diff_ids, err);
        pthread_mutex_unlock(&c->pin_lock);
        if (r < 0)
                goto finish;
        r = mark_registry(c, &marked, err);
        if (r < 0)
                goto finish;
        if (marked.n > 0)
                qsort(marked.v, marked.n, sizeof *marked.v, cmp_str);
        if (diff_ids.n > 0)
                qsort(diff_ids.v, diff_ids.n, sizeof *diff_ids.v, cmp_str);

        /* Sweep blobs. */
        r = oci_store_foreach_blob(c->store, collect_unmarked, &st);
        if (r < 0)
                goto finish;
        if (!dry_run)
                for (size_t i = 0; i < st.garbage.n; i++) {
                        r = oci_store_remove_blob(c->store, st.garbage.v[i]);
                        if (r < 0 && r != -ENOENT)
                                goto finish;
                }
        /* Build cache rows are not roots: a row whose layer was swept goes with it (a row whose state still
         * references another swept layer is dropped by the builder when it meets it). */
        if (!dry_run && st.garbage.n > 0) {
                _cleanup_stmt_ sqlite3_stmt *del = NULL;

                pthread_mutex_lock(&c->db_lock);
                if (sqlite_prepare(c->db, "DELETE FROM build_cache WHERE layer_digest = ?", &del) >= 0)
                        for (size_t i = 0; i < st.garbage.n; i++) {
                                sqlite3_reset(del);
                                sqlite3_bind_text(del, 1, st.garbage.v[i], -1, SQLITE_TRANSIENT);
                                (void) sqlite3_step(del);
                        }
                pthread_mutex_unlock(&c->db_lock);
        }

        /* Sweep unpacked layers. */
        {
                _cleanup_(closedirp) DIR *d = opendir(c->layers_dir);
                struct dirent *de;

                if (!d && errno != ENOENT) {
                        r = -errno;
                        goto finish;
                }
                while (d && (de = readdir(d))) {
                        _cleanup_free_ char *diff = NULL, *p = NULL;

                        if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                                continue;
                        diff = layer_dir_diff_id(de->d_name);
                        if (!diff || digest_set_contains(&diff_ids, diff))
                                continue;
                        layers_removed++;
                        if (dry_run)
                                continue;
                        p = path_join(c->layers_dir, de->d_name);
                        if (!p) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        r = rm_rf(p);
                        if (r < 0)
                                goto finish;
                }
        }

        /* What killed writers left: every live writer claims its temp, so only theirs go. */
        r = oci_store_sweep_temp(c->store, dry_run, &temp);
        if (r < 0)
                goto finish;
        r = layer_cache_sweep_temp(c->layers_dir, dry_run, &temp);
        if (r < 0)
                goto finish;

        *ret = (CatalogGcResult) {
                .temp = temp,
                .blobs_removed = st.garbage.n,
                .bytes_freed = st.bytes,
                .layers_removed = layers_removed,
                .blobs = TAKE_PTR(st.garbage.v),
                .n_blobs = st.garbage.n,
        };
        st.garbage.n = 0;
        r = 0;

finish:
        image_records_free(images, n_images);
        strv_free_n(release_roots, n_release_roots);
        strv_free_n(marked.v, marked.n);
        strv_free_n(diff_ids.v, diff_ids.n);
        strv_free_n(st.garbage.v, st.garbage.n);
        return r;
}

int image_catalog_gc(ImageCatalog *c, bool dry_run, CatalogGcResult *ret, OciError *err) {
        int r;

        pthread_rwlock_wrlock(&c->store_lock);
        r = image_catalog_gc_locked(c, dry_run, ret, err);
        pthread_rwlock_unlock(&c->store_lock);
        return r;
}
