/* Image catalog: import + name, remove and unpack over slipway.db and the OCI store (gc: image-catalog-gc.c).
 * Lock order: store_lock before db_lock. */
#include "image-catalog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "distribution-db.h"
#include "fs-util.h"
#include "image-catalog-internal.h"
#include "layer-unpack.h"
#include "log.h"
#include "manifest-check.h"
#include "path-util.h"
#include "sqlite-util.h"
#include "string-util.h"

int image_catalog_new(sqlite3 *db, OciStore *store, const char *layers_dir, ImageCatalog **ret) {
        ImageCatalog *c;

        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->db = db;
        c->store = store;
        c->layers_dir = strdup(layers_dir);
        if (!c->layers_dir) {
                free(c);
                return -ENOMEM;
        }
        pthread_mutex_init(&c->db_lock, NULL);
        pthread_rwlock_init(&c->store_lock, NULL);
        pthread_mutex_init(&c->pin_lock, NULL);
        *ret = c;
        return 0;
}

ImageCatalog *image_catalog_free(ImageCatalog *c) {
        if (!c)
                return NULL;
        pthread_mutex_destroy(&c->db_lock);
        pthread_rwlock_destroy(&c->store_lock);
        pthread_mutex_destroy(&c->pin_lock);
        strv_free_n(c->pins, c->n_pins);
        free(c->layers_dir);
        free(c);
        return NULL;
}

void catalog_imported_free(CatalogImported *v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i].ref);
        free(v);
}

void catalog_gc_result_done(CatalogGcResult *r) {
        if (!r)
                return;
        strv_free_n(r->blobs, r->n_blobs);
        *r = (CatalogGcResult) {};
}

void image_catalog_read_lock(ImageCatalog *c) {
        pthread_rwlock_rdlock(&c->store_lock);
}

void image_catalog_read_unlock(ImageCatalog *c) {
        pthread_rwlock_unlock(&c->store_lock);
}

/* The API contract words this one exactly ("no image named REF."), so it bypasses oci_error_set(),
 * which capitalises. */
static int no_such_image(OciError *err, const char *ref) {
        if (err) {
                snprintf(err->message, sizeof err->message, "no image named %s.", ref);
                snprintf(err->hint, sizeof err->hint, "See the names with 'slipway image list'.");
        }
        return -ENOENT;
}

/* Turns a user-given reference into the stored key: a digest stays, a name gets its tag, and
 * "name@sha256:…" means only its digest (the name part of a pinned reference never selects content). */
int image_catalog_normalize_ref(const char *ref, char **ret, OciError *err) {
        const char *at;
        int r;

        if (isempty(ref))
                return oci_error_set(err, -EINVAL,
                                     "Give an image name such as busybox:latest or a sha256 digest.",
                                     "No image reference given.");
        if (strlen(ref) > OCI_REF_MAX)
                return oci_error_set(err, -EINVAL, "Use a reference of at most 255 characters.",
                                     "The image reference is too long.");
        if (startswith(ref, "sha256:")) {
                if (!digest_is_valid(ref))
                        return oci_error_set(err, -EINVAL,
                                             "A digest is 'sha256:' followed by 64 lowercase hex digits.",
                                             "'%s' is not a valid digest.", ref);
                *ret = strdup(ref);
                return *ret ? 0 : -ENOMEM;
        }
        r = oci_ref_normalize(ref, ret);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return oci_error_set(
                        err, -EINVAL,
                        "Use lowercase name components and an optional ':tag', e.g. busybox:latest.",
                        "'%s' is not a valid image reference.", ref);
        at = strchr(*ret, '@');
        if (at) {
                char *d = strdup(at + 1);

                free(*ret);
                *ret = d;
                if (!d)
                        return -ENOMEM;
        }
        return 0;
}

/* A name given to an image: normalized, and never a digest nor a pinned "name@digest" (which would make a
 * reference that looks pinned resolve to other content). */
int image_catalog_normalize_name(const char *name, char **ret, OciError *err) {
        _cleanup_free_ char *norm = NULL;
        int r;

        if (name && strchr(name, '@') && !startswith(name, "sha256:"))
                return oci_error_set(err, -EINVAL,
                                     "Give a name with an optional ':tag', e.g. web:1.0; '@sha256:…' only "
                                     "ever means a digest.",
                                     "'%.255s' names a digest, and an image cannot be named by one.", name);
        r = image_catalog_normalize_ref(name, &norm, err);
        if (r < 0)
                return r;
        if (startswith(norm, "sha256:"))
                return oci_error_set(err, -EINVAL, "Give a name such as myimage:1.0.",
                                     "An image cannot be named by a digest.");
        *ret = TAKE_PTR(norm);
        return 0;
}

/* Rewrites index.json from the tags table.  Called with db_lock held inside the transaction. */
static int sync_index_locked(ImageCatalog *c) {
        TagEntry *tags = NULL;
        OciIndexEntry *entries = NULL;
        size_t n = 0;
        int r;

        r = tags_list(c->db, &tags, &n);
        if (r < 0)
                return r;
        entries = calloc(n ?: 1, sizeof *entries);
        if (!entries) {
                tag_entries_free(tags, n);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++)
                entries[i] = (OciIndexEntry) {
                        .ref = tags[i].name,
                        .digest = tags[i].digest,
                        .media_type = tags[i].media_type,
                        .size = tags[i].manifest_size,
                };
        r = oci_store_write_index(c->store, entries, n);
        free(entries);
        tag_entries_free(tags, n);
        return r;
}

/* Commits the open transaction with index.json matching it; on failure rolls back and puts
 * index.json back in line with the old rows. */
static int commit_with_index_locked(ImageCatalog *c) {
        int r;

        r = sync_index_locked(c);
        if (r >= 0)
                r = sqlite_commit(c->db);
        if (r < 0) {
                sqlite_rollback(c->db);
                (void) sync_index_locked(c);
        }
        return r;
}

/* The name an imported image gets: the one given, else the one the archive carries. */
static int pick_name(const char *given, const OciImportedImage *img, char **ret, OciError *err) {
        const char *src = given ?: img->ref;

        if (!src)
                return oci_error_set(err, -EINVAL, "Name it with --name, e.g. --name myimage:1.0.",
                                     "The archive does not name its image %s.", img->digest);
        /* An OCI ref.name like "latest" is only a tag: it says nothing about the repository. */
        if (!given && !strchr(src, ':') && !strchr(src, '/')) {
                char hint[128];

                snprintf(hint, sizeof hint, "Name it with --name, e.g. --name myimage:%.64s.", src);
                return oci_error_set(
                        err, -EINVAL, hint,
                        "The archive names its image only '%s', a tag without a repository name.", src);
        }
        return image_catalog_normalize_name(src, ret, err);
}

static int record_images_locked(ImageCatalog *c, const OciImportResult *res, const char *name,
                                CatalogImported *out, OciError *err) {
        int r;

        for (size_t i = 0; i < res->n_images; i++) {
                const OciImportedImage *img = &res->images[i];
                OciImageSummary sum = {};
                ImageRecord rec = {};

                r = pick_name(name, img, &out[i].ref, err);
                if (r < 0)
                        return r;
                strcpy(out[i].digest, img->digest);

                r = oci_store_image_summary(c->store, img->digest, &sum, err);
                if (r < 0)
                        return r;
                strcpy(rec.digest, img->digest);
                strcpy(rec.config_digest, sum.config_digest);
                rec.media_type = sum.media_type ?: img->media_type;
                rec.size = sum.total_size;
                rec.manifest_size = sum.manifest_size;
                rec.layers = sum.n_layers;
                rec.created = sum.created;
                rec.imported_at = (int64_t) time(NULL);
                out[i].size = sum.total_size;

                r = image_record_put(c->db, &rec);
                oci_image_summary_done(&sum);
                if (r < 0)
                        return r;
                r = tag_set(c->db, out[i].ref, img->digest);
                if (r < 0)
                        return r;
        }
        /* A name that moved may have left its old image without any. */
        r = image_prune_untagged(c->db);
        return r < 0 ? r : 0;
}


/* record_images_locked() in one transaction, with index.json following it. */
static int record_images(ImageCatalog *c, const OciImportResult *res, const char *name, CatalogImported *out,
                         OciError *err) {
        int r;

        pthread_mutex_lock(&c->db_lock);
        r = sqlite_begin(c->db);
        if (r >= 0) {
                r = record_images_locked(c, res, name, out, err);
                if (r < 0)
                        sqlite_rollback(c->db);
                else
                        r = commit_with_index_locked(c);
        }
        pthread_mutex_unlock(&c->db_lock);
        return r;
}

int image_catalog_add(ImageCatalog *c, const char *digest, const char *name, OciError *err) {
        _cleanup_free_ char *norm = NULL;
        OciImportResult res = {};
        OciImportedImage img = {};
        CatalogImported out = {};
        int r;

        r = image_catalog_normalize_name(name, &norm, err);
        if (r < 0)
                return r;
        if (!digest_is_valid(digest))
                return -EINVAL;
        strcpy(img.digest, digest);
        res.images = &img;
        res.n_images = 1;

        r = record_images(c, &res, norm, &out, err);
        free(out.ref);
        return r;
}

/* After a failed import: sweep what it wrote, so bad input leaves nothing behind. */
static void sweep_after_failure(ImageCatalog *c) {
        CatalogGcResult gc = {};

        pthread_rwlock_wrlock(&c->store_lock);
        if (image_catalog_gc_locked(c, false, &gc, NULL) < 0)
                log_debug("Sweeping after a failed import failed.");
        pthread_rwlock_unlock(&c->store_lock);
        catalog_gc_result_done(&gc);
}

int image_catalog_import(ImageCatalog *c, const char *path, OciImportFormat format, const char *name,
                         CatalogImported **ret, size_t *ret_n, OciError *err) {
        _cleanup_free_ char *norm = NULL;
        OciImportResult res = {};
        CatalogImported *out = NULL;
        size_t n = 0;
        int r;

        if (name) {
                r = image_catalog_normalize_name(name, &norm, err);
                if (r < 0)
                        return r;
        } else if (format == OCI_IMPORT_ROOTFS)
                return oci_error_set(err, -EINVAL, "Name it with --name, e.g. --name myrootfs:1.0.",
                                     "A rootfs tar carries no image name.");

        pthread_rwlock_rdlock(&c->store_lock);
        r = oci_store_import(c->store, path, format, &res, err);
        if (r < 0)
                goto fail_unlock;
        if (res.n_images == 0) {
                r = oci_error_set(err, -EINVAL, "Check that the archive holds an image.",
                                  "The archive contains no image.");
                goto fail_unlock;
        }
        if (norm && res.n_images > 1) {
                r = oci_error_set(err, -EINVAL, "Import it without --name to use the names it carries.",
                                  "The archive holds %zu images; --name can name only one.", res.n_images);
                goto fail_unlock;
        }
        n = res.n_images;
        out = calloc(n, sizeof *out);
        if (!out) {
                r = -ENOMEM;
                goto fail_unlock;
        }

        r = record_images(c, &res, norm, out, err);
        if (r < 0)
                goto fail_unlock;
        pthread_rwlock_unlock(&c->store_lock);

        oci_import_result_done(&res);
        *ret = out;
        *ret_n = n;
        return 0;

fail_unlock:
        pthread_rwlock_unlock(&c->store_lock);
        oci_import_result_done(&res);
        catalog_imported_free(out, n);
        sweep_after_failure(c);
        return r;
}

/* The row an image would have, read from the store: only for a complete image manifest (every blob it
 * references present), so a half-collected image is never handed out.  -ENOENT otherwise. */
static int unnamed_image_record(ImageCatalog *c, const char *digest, ImageRecord *ret) {
        OciImageSummary sum = {};
        char **blobs = NULL;
        size_t n = 0;
        int r;

        r = oci_store_image_blobs(c->store, digest, &blobs, &n);
        if (r < 0)
                return -ENOENT; /* absent, or not an image manifest */
        for (size_t i = 0; i < n; i++)
                if (!oci_store_has_blob(c->store, blobs[i]))
                        r = -ENOENT;
        strv_free_n(blobs, n);
        if (r < 0)
                return r;
        r = oci_store_image_summary(c->store, digest, &sum, NULL);
        if (r < 0)
                return -ENOENT;
        *ret = (ImageRecord) {
                .media_type = TAKE_PTR(sum.media_type),
                .size = sum.total_size,
                .manifest_size = sum.manifest_size,
                .layers = sum.n_layers,
                .created = TAKE_PTR(sum.created),
        };
        strcpy(ret->digest, digest);
        strcpy(ret->config_digest, sum.config_digest);
        oci_image_summary_done(&sum);
        return 0;
}

int image_catalog_pin(ImageCatalog *c, const char *digest) {
        ImageRecord rec = {};
        char **v;
        int r;

        if (!digest_is_valid(digest))
                return -EINVAL;
        image_catalog_read_lock(c);
        /* Complete now, and pinned before gc can run again: it stays complete until unpinned. */
        r = unnamed_image_record(c, digest, &rec);
        image_record_done(&rec);
        if (r >= 0) {
                pthread_mutex_lock(&c->pin_lock);
                v = realloc(c->pins, (c->n_pins + 1) * sizeof *v);
                if (!v)
                        r = -ENOMEM;
                else {
                        c->pins = v;
                        c->pins[c->n_pins] = strdup(digest);
                        if (!c->pins[c->n_pins])
                                r = -ENOMEM;
                        else
                                c->n_pins++;
                }
                pthread_mutex_unlock(&c->pin_lock);
        }
        image_catalog_read_unlock(c);
        return r;
}

void image_catalog_unpin(ImageCatalog *c, const char *digest) {
        pthread_mutex_lock(&c->pin_lock);
        for (size_t i = 0; i < c->n_pins; i++)
                if (streq(c->pins[i], digest)) {
                        free(c->pins[i]);
                        c->pins[i] = c->pins[--c->n_pins];
                        break;
                }
        pthread_mutex_unlock(&c->pin_lock);
}

int image_catalog_lookup(ImageCatalog *c, const char *ref, ImageRecord *ret, OciError *err) {
        _cleanup_free_ char *norm = NULL;
        int r;

        r = image_catalog_normalize_ref(ref, &norm, err);
        if (r < 0)
                return r;
        pthread_mutex_lock(&c->db_lock);
        r = image_by_ref(c->db, norm, ret);
        pthread_mutex_unlock(&c->db_lock);
        if (r == -ENOENT && startswith(norm, "sha256:")) {
                /* A digest means the content, named or not: an image whose last name went (a live one keeps
                 * its blobs for its releases) is still deployable and inspectable by digest. */
                image_catalog_read_lock(c);
                r = unnamed_image_record(c, norm, ret);
                image_catalog_read_unlock(c);
        }
        if (r == -ENOENT)
                return no_such_image(err, ref);
        return r;
}

int image_catalog_list(ImageCatalog *c, ImageRecord **ret, size_t *ret_n) {
        int r;

        pthread_mutex_lock(&c->db_lock);
        r = images_list(c->db, ret, ret_n);
        pthread_mutex_unlock(&c->db_lock);
        return r;
}

int image_catalog_count(ImageCatalog *c, uint64_t *ret) {
        int r;

        pthread_mutex_lock(&c->db_lock);
        r = images_count(c->db, ret);
        pthread_mutex_unlock(&c->db_lock);
        return r;
}

int image_catalog_remove(ImageCatalog *c, const char *ref, char **ret_removed,
                         char ret_digest[static DIGEST_STRING_MAX], OciError *err) {
        _cleanup_free_ char *norm = NULL;
        char digest[DIGEST_STRING_MAX];
        int r;

        r = image_catalog_normalize_ref(ref, &norm, err);
        if (r < 0)
                return r;

        pthread_mutex_lock(&c->db_lock);
        r = sqlite_begin(c->db);
        if (r < 0)
                goto unlock;
        if (startswith(norm, "sha256:")) {
                r = tags_remove_digest(c->db, norm);
                if (r == 0)
                        r = -ENOENT;
                strcpy(digest, norm);
        } else
                r = tag_remove(c->db, norm, digest);
        if (r >= 0)
                r = image_prune_untagged(c->db);
        if (r < 0) {
                sqlite_rollback(c->db);
                goto unlock;
        }
        r = commit_with_index_locked(c);
unlock:
        pthread_mutex_unlock(&c->db_lock);
        if (r == -ENOENT)
                return no_such_image(err, ref);
        if (r < 0)
                return r;
        *ret_removed = TAKE_PTR(norm);
        strcpy(ret_digest, digest);
        return 0;
}

/* A sorted set of digests. */
static int dir_is_empty(const char *path) {
        _cleanup_(closedirp) DIR *d = opendir(path);
        struct dirent *de;

        if (!d)
                return -errno;
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        return 0;
        return 1;
}

/* Unpacks every layer of an image into the shared cache DIR/layers/<hex>/ (overlay form), as a build
 * step or an instance needs them; layers already cached are not read again.  Caller holds the lock. */
static int prepare_layers_locked(ImageCatalog *c, const char *digest, OciError *err) {
        char **layers = NULL, **diffs = NULL, **types = NULL;
        size_t n = 0;
        int r;

        r = oci_store_image_layers(c->store, digest, &layers, &diffs, &types, &n);
        if (r < 0)
                return oci_error_set(err, r, "Check the store.", "Cannot read the layers of %s.", digest);
        for (size_t i = 0; i < n && r >= 0; i++) {
                _cleanup_close_ int fd = -EBADF;
                _cleanup_free_ char *cached = path_join(c->layers_dir, digest_hex(diffs[i]));

                if (!cached) {
                        r = -ENOMEM;
                        break;
                }
                if (access(cached, F_OK) == 0)
                        continue;
                r = oci_store_open_blob(c->store, layers[i], &fd, NULL);
                if (r < 0) {
                        oci_error_set(err, r, "Re-import the image.",
                                      "Layer %s of %s is missing or damaged.", layers[i], digest);
                        break;
                }
                r = layer_cache_ensure(c->layers_dir, fd, diffs[i], err);
        }
        strv_free_n(layers, n);
        strv_free_n(diffs, n);
        strv_free_n(types, n);
        return r < 0 ? r : 0;
}

int image_catalog_prepare_layers(ImageCatalog *c, const char *digest, OciError *err) {
        int r;

        image_catalog_read_lock(c);
        r = prepare_layers_locked(c, digest, err);
        image_catalog_read_unlock(c);
        return r;
}

/* Where path is (or would be, once its missing components are made), with every symlink of the part that
 * exists resolved: the deepest existing ancestor through realpath(), the rest appended as given. */
static int resolve_target(const char *path, char **ret) {
        _cleanup_free_ char *head = strdup(path), *real = NULL;
        const char *rest = "";
        char *slash;

        if (!head)
                return -ENOMEM;
        for (;;) {
                real = realpath(head, NULL);
                if (real)
                        break;
                if (errno != ENOENT && errno != ENOTDIR)
                        return -errno;
                slash = strrchr(head, '/');
                if (!slash || slash == head) {
                        real = strdup("/");
                        rest = path + 1;
                        break;
                }
                *slash = 0;
                rest = path + (slash - head) + 1;
        }
        if (!real)
                return -ENOMEM;
        if (isempty(rest)) {
                *ret = TAKE_PTR(real);
                return 0;
        }
        *ret = path_join(real, rest);
        return *ret ? 0 : -ENOMEM;
}

/* -EPERM (said in err) when path is root or below it, after resolving symlinks. */
static int refuse_inside(const char *path, const char *root, OciError *err) {
        _cleanup_free_ char *where = NULL, *real_root = NULL;
        size_t n;
        int r;

        if (!root)
                return 0;
        real_root = realpath(root, NULL);
        if (!real_root)
                return errno == ENOENT ? 0 : -errno;
        r = resolve_target(path, &where);
        if (r < 0)
                return oci_error_set(err, r, "Check the path.", "Cannot resolve %s: %s.", path,
                                     strerror(-r));
        n = strlen(real_root);
        if (strncmp(where, real_root, n) == 0 && (where[n] == 0 || where[n] == '/' || streq(real_root, "/")))
                return oci_error_set(err, -EPERM, "Unpack into a directory outside the state directory.",
                                     "%s is inside slipwayd's state directory %s.", path, real_root);
        return 0;
}

int image_catalog_unpack(ImageCatalog *c, const char *digest, const char *path, LayerUnpackFlags flags,
                         const char *state_dir, OciError *err) {
        char **layers = NULL, **diffs = NULL, **types = NULL;
        int *fds = NULL;
        size_t n = 0;
        bool created;
        int r;

        if (isempty(path) || path[0] != '/')
                return oci_error_set(err, -EINVAL, "Give an absolute path on the daemon's host.",
                                     "The unpack target '%s' is not an absolute path.", strempty(path));
        if (path_has_dotdot(path))
                return oci_error_set(err, -EINVAL, "Give the path without '..'.",
                                     "The unpack target '%s' contains '..'.", path);
        /* An image's tree must never land among the store, the database or an instance's files. */
        r = refuse_inside(path, state_dir, err);
        if (r < 0)
                return r;
        created = access(path, F_OK) < 0;
        r = mkdir_p(path, 0755);
        if (r < 0)
                return oci_error_set(err, r, "Check the path and its permissions.", "Cannot create %s: %s.",
                                     path, strerror(-r));
        /* Again now that it exists: a symlink swapped in meanwhile must not lead inside either. */
        r = refuse_inside(path, state_dir, err);
        if (r < 0) {
                if (created)
                        (void) rmdir(path);
                return r;
        }
        r = dir_is_empty(path);
        if (r < 0)
                return oci_error_set(err, r, "Check the path.", "Cannot read %s: %s.", path, strerror(-r));
        if (r == 0)
                return oci_error_set(err, -ENOTEMPTY, "Give a new or empty directory.", "%s is not empty.",
                                     path);

        image_catalog_read_lock(c);
        /* The shared layer cache is filled first, exactly as a build or deploy would fill it. */
        r = prepare_layers_locked(c, digest, err);
        if (r < 0)
                goto finish;
        r = oci_store_image_layers(c->store, digest, &layers, &diffs, &types, &n);
        if (r < 0) {
                oci_error_set(err, r, "Check the store.", "Cannot read the layers of %s.", digest);
                goto finish;
        }
        fds = calloc(n ?: 1, sizeof *fds);
        if (!fds) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; i < n; i++)
                fds[i] = -EBADF;
        for (size_t i = 0; i < n; i++) {
                r = oci_store_open_blob(c->store, layers[i], &fds[i], NULL);
                if (r < 0) {
                        oci_error_set(err, r, "Re-import the image.",
                                      "Layer %s of %s is missing or damaged.", layers[i], digest);
                        goto finish;
                }
        }
        r = layer_unpack_flat(fds, n, path, flags, err);
finish:
        image_catalog_read_unlock(c);
        if (r < 0 && created)
                (void) rm_rf(path); /* a failed unpack leaves no directory it made */
        for (size_t i = 0; fds && i < n; i++)
                safe_close(fds[i]);
        free(fds);
        strv_free_n(layers, n);
        strv_free_n(diffs, n);
        strv_free_n(types, n);
        return r;
}
