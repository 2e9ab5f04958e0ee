/* The registry's manifest writes and the referrers API.  A manifest is stored only after oci_manifest_check()
 * accepted it and every blob (or, for an index, every manifest) it references is in the store with the size
 * its descriptor gives.  An image manifest pushed with a tag is named in the image catalog (so it can be
 * deployed, exported, listed); indexes and artifacts keep their tags in registry_tags.  Every pushed manifest
 * is recorded (a gc root) with its subject, which the referrers API lists. */
#include "registry-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "blob-store.h"
#include "distribution-db.h"
#include "http-response.h"
#include "json-util.h"
#include "log.h"
#include "manifest-check.h"
#include "oci-store.h"
#include "sqlite-util.h"
#include "string-util.h"

static int read_manifest_body(HttpRequest *req, char **ret, size_t *ret_size) {
        int r = http_read_body(req->conn, OCI_MANIFEST_MAX, ret, ret_size);

        if (r == -EFBIG)
                return api_replied(req,
                                   registry_reply_error(req->conn, 413, "MANIFEST_INVALID",
                                                        "The manifest is larger than 4 MiB."),
                                   r);
        if (r < 0)
                return api_replied(req,
                                   registry_reply_error(req->conn, 400, "MANIFEST_INVALID",
                                                        "The manifest body could not be read whole."),
                                   r);
        return 0;
}

/* Every reference must be present with its descriptor's size (404-style error sent otherwise). */
static int check_references(HttpRequest *req, const OciManifestCheck *chk) {
        ApiContext *ctx = req->userdata;

        for (size_t i = 0; i < chk->n_refs; i++) {
                const OciDescriptor *d = &chk->refs[i];
                _cleanup_free_ char *msg = NULL;
                uint64_t size = 0;
                int r = blob_store_stat(ctx->store, d->digest, &size);

                if (r >= 0 && size == d->size)
                        continue;
                bool present = r >= 0;
                if (present ? asprintf(&msg,
                                       "The manifest gives %s a size of %" PRIu64 " bytes; it has %" PRIu64
                                       ".",
                                       d->digest, d->size, size) < 0
                            : asprintf(&msg,
                                       "The manifest references %s %s, which this registry does not hold; "
                                       "push it first.",
                                       chk->kind == OCI_MANIFEST_KIND_INDEX ? "manifest" : "blob",
                                       d->digest) < 0)
                        msg = NULL;
                return api_replied(req,
                                   registry_reply_error(req->conn, 400,
                                                        r >= 0 ? "SIZE_INVALID" : "MANIFEST_BLOB_UNKNOWN",
                                                        msg ?: "A referenced blob is missing."),
                                   r >= 0 ? -EINVAL : r);
        }
        return 0;
}

int registry_manifest_put(HttpRequest *req, const char *name, const char *ref) {
        ApiContext *ctx = req->userdata;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(oci_manifest_check_done) OciManifestCheck chk = {};
        _cleanup_free_ char *data = NULL, *full = NULL;
        const char *ct = mg_get_header(req->conn, "Content-Type");
        char digest[DIGEST_STRING_MAX];
        bool by_digest = registry_is_digest(ref);
        OciError err = {};
        size_t size = 0;
        int r;

        if (!registry_check_push(req))
                return req->status;
        if (!by_digest && !registry_tag_valid(ref))
                return registry_reply_error(
                        req->conn, 400, "TAG_INVALID",
                        "A tag is 1–128 of A-Z, a-z, 0-9, '_', '.', '-', not starting with '.' or '-'.");
        if (read_manifest_body(req, &data, &size) < 0)
                return req->status;
        r = oci_manifest_check(data, size, ct, &chk, &err);
        if (r < 0) {
                _cleanup_free_ char *msg = NULL;
                if (asprintf(&msg, "%s %s", err.message, err.hint) < 0)
                        msg = NULL;
                return registry_reply_error(req->conn, 400, "MANIFEST_INVALID",
                                            msg ?: "The manifest is invalid.");
        }
        sha256_digest_string(data, size, digest);
        if (by_digest && !streq(digest, ref))
                return registry_reply_error(req->conn, 400, "DIGEST_INVALID",
                                            "The manifest's content does not match the digest in the path.");
        if (registry_db_open(req, &db) < 0)
                return req->status;

        /* Shared store lock from the checks to the records: gc cannot sweep a blob in between. */
        image_catalog_read_lock(ctx->catalog);
        if (check_references(req, &chk) < 0) {
                image_catalog_read_unlock(ctx->catalog);
                return req->status;
        }
        char stored[DIGEST_STRING_MAX];
        r = oci_store_put_blob_data(ctx->store, data, size, stored);
        if (r >= 0) {
                ModelManifest m = {
                        .repo = (char *) name,
                        .media_type = chk.media_type,
                        .artifact_type = chk.artifact_type,
                        .subject = chk.subject[0] ? chk.subject : NULL,
                        .size = (int64_t) size,
                };
                strcpy(m.digest, digest);
                r = model_manifest_put(db, &m);
        }
        if (r >= 0 && !by_digest) {
                if (chk.kind == OCI_MANIFEST_KIND_IMAGE) {
                        if (asprintf(&full, "%s:%s", name, ref) < 0)
                                r = -ENOMEM;
                        else
                                r = image_catalog_add(ctx->catalog, digest, full, &err);
                        /* The tag may have been a registry tag before (of an index): it is the catalog's now. */
                        if (r >= 0)
                                (void) model_registry_tag_delete(db, name, ref);
                } else
                        r = model_registry_tag_set(db, name, ref, digest);
        }
        image_catalog_read_unlock(ctx->catalog);
        if (r < 0) {
                log_warning_errno(r, "Registry: cannot store manifest %s in %s: %m", digest, name);
                return registry_reply_error(req->conn, r == -ENOSPC ? 507 : 500, "UNKNOWN",
                                            err.message[0] ? err.message : "The manifest cannot be stored.");
        }
        if (!by_digest && chk.kind != OCI_MANIFEST_KIND_IMAGE) {
                /* A tag the catalog held for an image now names this index or artifact. */
                char *removed = NULL, old[DIGEST_STRING_MAX];
                if (full || asprintf(&full, "%s:%s", name, ref) >= 0)
                        if (image_catalog_remove(ctx->catalog, full, &removed, old, NULL) >= 0)
                                free(removed);
        }
        mg_printf(req->conn,
                  "HTTP/1.1 201 Created\r\n" REGISTRY_HEADERS "Location: /v2/%s/manifests/%s\r\n"
                  "Docker-Content-Digest: %s\r\n%s%s%sContent-Length: 0\r\n\r\n",
                  name, digest, digest, chk.subject[0] ? "OCI-Subject: " : "", chk.subject,
                  chk.subject[0] ? "\r\n" : "");
        return 201;
}

/* Removes the catalog's names in repository name of the image digest (not other repositories' names). */
static int untag_catalog(HttpRequest *req, const char *name, const char *digest, size_t *removed) {
        ApiContext *ctx = req->userdata;
        _cleanup_(image_record_done) ImageRecord rec = {};
        size_t n = strlen(name);
        int r;

        r = image_catalog_lookup(ctx->catalog, digest, &rec, NULL);
        if (r == -ENOENT || r == -EINVAL)
                return 0;
        if (r < 0)
                return r;
        for (size_t i = 0; i < rec.n_refs; i++) {
                char *gone = NULL, old[DIGEST_STRING_MAX];

                if (strncmp(rec.refs[i], name, n) != 0 || rec.refs[i][n] != ':')
                        continue;
                r = image_catalog_remove(ctx->catalog, rec.refs[i], &gone, old, NULL);
                if (r < 0 && r != -ENOENT)
                        return r;
                if (r >= 0)
                        (*removed)++;
                free(gone);
        }
        return 0;
}

int registry_manifest_delete(HttpRequest *req, const char *name, const char *ref) {
        ApiContext *ctx = req->userdata;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        size_t removed = 0;
        int r;

        if (!registry_check_push(req))
                return req->status;
        if (!registry_is_digest(ref) && !registry_tag_valid(ref))
                return registry_reply_error(req->conn, 400, "TAG_INVALID", "That is not a valid tag.");
        if (registry_db_open(req, &db) < 0)
                return req->status;
        if (registry_is_digest(ref)) {
                r = untag_catalog(req, name, ref, &removed);
                if (r >= 0 && model_manifest_delete(db, name, ref) >= 0)
                        removed++;
        } else {
                _cleanup_free_ char *full = NULL;
                char *gone = NULL, old[DIGEST_STRING_MAX];

                r = 0;
                if (model_registry_tag_delete(db, name, ref) >= 0)
                        removed++;
                else if (asprintf(&full, "%s:%s", name, ref) < 0)
                        r = -ENOMEM;
                else if (image_catalog_remove(ctx->catalog, full, &gone, old, NULL) >= 0) {
                        free(gone);
                        removed++;
                }
        }
        if (r < 0)
                return registry_reply_error(req->conn, 500, "UNKNOWN", "The manifest cannot be deleted.");
        if (removed == 0)
                return registry_reply_error(req->conn, 404, "MANIFEST_UNKNOWN",
                                            "The repository has no manifest of that tag or digest.");
        mg_printf(req->conn, "HTTP/1.1 202 Accepted\r\n" REGISTRY_HEADERS "Content-Length: 0\r\n\r\n");
        return 202;
}

int registry_referrers(HttpRequest *req, const char *name, const char *digest) {
        ApiContext *ctx = req->userdata;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_json_ json_t *list = json_array(), *doc = NULL;
        char filter[OCI_MEDIA_TYPE_MAX + 1] = "";
        ModelManifest *v = NULL;
        size_t n = 0;
        int r;

        if (!registry_is_digest(digest))
                return registry_reply_error(req->conn, 400, "DIGEST_INVALID",
                                            "That is not a sha256 digest.");
        (void) http_request_query(req, "artifactType", filter, sizeof filter);
        if (registry_db_open(req, &db) < 0)
                return req->status;
        r = model_manifests_referring(db, name, digest, &v, &n);
        if (r < 0 || !list)
                return registry_reply_error(req->conn, 500, "UNKNOWN",
                                            "The registry's records cannot be read.");
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *data = NULL;
                _cleanup_json_ json_t *m = NULL;
                json_t *d, *ann;
                size_t size = 0;

                if (filter[0] && !(v[i].artifact_type && streq(v[i].artifact_type, filter)))
                        continue;
                d = json_pack("{s:s,s:s,s:I}", "mediaType", v[i].media_type, "digest", v[i].digest, "size",
                              (json_int_t) v[i].size);
                if (!d)
                        continue;
                if (v[i].artifact_type)
                        json_object_set_new(d, "artifactType", json_string(v[i].artifact_type));
                image_catalog_read_lock(ctx->catalog);
                r = oci_store_read_blob(ctx->store, v[i].digest, OCI_MANIFEST_MAX, &data, &size);
                image_catalog_read_unlock(ctx->catalog);
                if (r >= 0 && json_parse_buffer(data, size, &m, NULL) >= 0 &&
                    json_is_object(ann = json_object_get(m, "annotations")))
                        json_object_set(d, "annotations", ann);
                json_array_append_new(list, d);
        }
        model_manifests_free(v, n);
        doc = json_pack("{s:i,s:s,s:O}", "schemaVersion", 2, "mediaType", OCI_MEDIA_TYPE_INDEX, "manifests",
                        list);
        _cleanup_free_ char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        if (!text)
                return registry_reply_error(req->conn, 500, "UNKNOWN", "Out of memory.");
        mg_printf(req->conn,
                  "HTTP/1.1 200 OK\r\n" REGISTRY_HEADERS "Content-Type: " OCI_MEDIA_TYPE_INDEX
                  "\r\nContent-Length: %zu\r\n%s\r\n%s",
                  strlen(text), filter[0] ? "OCI-Filters-Applied: artifactType\r\n" : "", text);
        return 200;
}
