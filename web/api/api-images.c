/* /api/v1/images: list, inspect, remove, gc, unpack.  The ref path segment is a name ("busybox",
 * "busybox:1", "library/busybox:1", URL-encoded) or a full "sha256:…" digest. */
#include "api.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "build-cache-mounts.h"
#include "disk-space.h"
#include "http-json-body.h"
#include "http-response.h"
#include "json-util.h"
#include "scan-image.h"
#include "string-util.h"
#include "temp-claim.h"

static json_t *refs_json(const ImageRecord *rec) {
        json_t *a = json_array();

        for (size_t i = 0; a && i < rec->n_refs; i++)
                if (json_array_append_new(a, json_string(rec->refs[i])) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}

static json_t *image_json(const ImageRecord *rec) {
        return json_pack("{s:s,s:o,s:I,s:s?,s:I}", "digest", rec->digest, "refs", refs_json(rec), "size",
                         (json_int_t) rec->size, "created", rec->created, "layers",
                         (json_int_t) rec->layers);
}

int api_images_list(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_json_ json_t *arr = json_array(), *j = NULL;
        ImageRecord *images = NULL;
        size_t n = 0;
        int r;

        r = image_catalog_list(ctx->catalog, &images, &n);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot list images");
        for (size_t i = 0; arr && i < n; i++)
                if (json_array_append_new(arr, image_json(&images[i])) < 0)
                        r = -ENOMEM;
        image_records_free(images, n);
        if (!arr || r < 0)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot list images");
        j = json_pack("{s:O}", "images", arr);
        return http_reply_json(req->conn, 200, j);
}

int api_image_inspect(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_json_ json_t *j = NULL;
        ImageRecord rec = {};
        OciError err = {};
        int r;

        r = image_catalog_lookup(ctx->catalog, req->segments[1], &rec, &err);
        if (r < 0)
                return api_reply_error(req, r, &err, "Cannot look up the image");

        image_catalog_read_lock(ctx->catalog);
        r = oci_store_image_inspect(ctx->store, rec.digest, &j, &err);
        image_catalog_read_unlock(ctx->catalog);
        if (r < 0) {
                image_record_done(&rec);
                return api_reply_error(req, r == -ENOENT ? -EBADMSG : r, &err, "Cannot read the image");
        }
        if (json_object_set_new(j, "refs", refs_json(&rec)) < 0 ||
            json_object_set_new(j, "size", json_integer((json_int_t) rec.size)) < 0) {
                image_record_done(&rec);
                return api_reply_error(req, -ENOMEM, NULL, "Cannot describe the image");
        }
        image_record_done(&rec);
        return http_reply_json(req->conn, 200, j);
}

int api_image_remove(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_free_ char *removed = NULL;
        _cleanup_json_ json_t *j = NULL;
        char digest[DIGEST_STRING_MAX];
        OciError err = {};
        int r;

        r = image_catalog_remove(ctx->catalog, req->segments[1], &removed, digest, &err);
        if (r < 0 && api_delete_begin(req, r))
                r = image_catalog_remove(ctx->catalog, req->segments[1], &removed, digest, &err);
        api_delete_end(req);
        if (r < 0)
                return api_reply_error(req, r, &err, "Cannot remove the image");
        j = json_pack("{s:s,s:s}", "removed", removed, "digest", digest);
        return http_reply_json(req->conn, 200, j);
}

static bool query_flag(HttpRequest *req, const char *name) {
        char v[16];

        if (http_request_query(req, name, v, sizeof v) < 0)
                return false;
        return streq(v, "1") || streq(v, "true") || streq(v, "yes") || streq(v, "");
}

int api_images_gc(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_json_ json_t *j = NULL, *blobs = json_array();
        CatalogGcResult res = {};
        CacheMountStats cache = {};
        bool dry_run = query_flag(req, "dry_run"), build_cache = query_flag(req, "build_cache");
        OciError err = {};
        int r;

        r = image_catalog_gc(ctx->catalog, dry_run, &res, &err);
        if (r < 0 && !dry_run && api_delete_begin(req, r)) {
                catalog_gc_result_done(&res);
                r = image_catalog_gc(ctx->catalog, dry_run, &res, &err);
        }
        if (!dry_run)
                api_delete_end(req);
        if (r < 0)
                return api_reply_error(req, r, &err, "Garbage collection failed");
        /* Temp files of killed imports and builds (each live one is claimed, so it stays): uploads in
         * DIR/tmp and build dirs in DIR/builds, besides the blob and layer temps the catalog swept. */
        r = temp_sweep(ctx->tmp_dir, "upload-", dry_run ? TEMP_SWEEP_DRY_RUN : 0, NULL, NULL, &res.temp);
        if (r >= 0)
                r = builder_sweep_temp(ctx->state_dir, dry_run, &res.temp);
        if (r < 0) {
                catalog_gc_result_done(&res);
                return api_reply_error(req, r, NULL, "Cannot remove the temp files of interrupted imports");
        }
        /* Cache rows whose layers gc just removed can never hit again (the cache is not a gc root). */
        if (!dry_run && ctx->builder)
                (void) builder_cache_prune(ctx->builder);
        /* RUN --mount=type=cache directories: always counted, removed only when asked (build_cache=1). */
        r = builder_cache_mounts_gc(ctx->state_dir, build_cache, dry_run, &cache);
        if (r < 0) {
                catalog_gc_result_done(&res);
                return api_reply_error(req, r, NULL, "Cannot clear the build cache mounts");
        }
        for (size_t i = 0; blobs && i < res.n_blobs; i++)
                json_array_append_new(blobs, json_string(res.blobs[i]));
        j = json_pack("{s:b,s:I,s:I,s:I,s:O,s:I,s:I,s:{s:I,s:I,s:I,s:I,s:I}}", "dry_run", dry_run,
                      "blobs_removed", (json_int_t) res.blobs_removed, "bytes_freed",
                      (json_int_t) res.bytes_freed, "layers_removed", (json_int_t) res.layers_removed,
                      "blobs", blobs, "temp_removed", (json_int_t) res.temp.removed, "temp_bytes",
                      (json_int_t) res.temp.bytes, "build_cache", "dirs", (json_int_t) cache.dirs, "bytes",
                      (json_int_t) cache.bytes, "removed", (json_int_t) cache.removed, "bytes_removed",
                      (json_int_t) cache.bytes_removed, "busy", (json_int_t) cache.busy);
        catalog_gc_result_done(&res);
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Garbage collection failed");
        return http_reply_json(req->conn, 200, j);
}

static const HttpJsonBody unpack_body = {
        .what = "unpack request",
        .fields = (const char *const[]) { "path", "keep_special", NULL },
        .example =
                "Send {\"path\": \"/abs/dir\"} (and \"keep_special\": true to keep device nodes and setuid bits).",
};

/* An unpack writes to the layer cache in the state dir and then to the target: whichever of the two disks
 * is fuller is the one that ran out. */
static int reply_unpack_disk_full(HttpRequest *req, const char *path) {
        ApiContext *ctx = req->userdata;
        DiskSpace state, target;
        char message[768], hint[512];

        if (disk_space_query_nearest(path, &target) < 0 || !ctx->state_dir ||
            disk_space_query(ctx->state_dir, &state) < 0 || streq(state.mount, target.mount) ||
            state.free < target.free)
                return api_reply_disk_full(req);
        disk_full_message(path, message, sizeof message);
        snprintf(hint, sizeof hint, "Free space on %.400s, or unpack to a directory on another disk.",
                 target.mount);
        return http_reply_error(req->conn, 507, message, hint);
}

int api_image_unpack(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_json_ json_t *body = NULL, *j = NULL;
        ImageRecord rec = {};
        OciError err = {};
        const char *path = NULL;
        json_t *keep;
        int r;

        if ((r = http_request_read_json(req, &unpack_body, &body)) < 0)
                return req->status;
        if (json_get_string(body, "path", &path) < 0)
                return http_reply_error(req->conn, 400, "The unpack request needs a \"path\" string.",
                                        unpack_body.example);

        /* Device nodes and setuid/setgid bits of an image work on the host once unpacked there: kept only
         * when asked ("keep_special": true, slipway image unpack --keep-special). */
        keep = json_object_get(body, "keep_special");
        if (keep && !json_is_boolean(keep))
                return http_reply_error(
                        req->conn, 400, "\"keep_special\" must be true or false.",
                        "Send {\"path\": \"/abs/dir\", \"keep_special\": true} or leave it out.");

        r = image_catalog_lookup(ctx->catalog, req->segments[1], &rec, &err);
        if (r < 0)
                return api_reply_error(req, r, &err, "Cannot look up the image");
        r = image_catalog_unpack(ctx->catalog, rec.digest, path,
                                 json_is_true(keep) ? LAYER_UNPACK_KEEP_SPECIAL : 0, ctx->state_dir, &err);
        if (r < 0) {
                image_record_done(&rec);
                if (disk_errno_is_full(r))
                        return reply_unpack_disk_full(req, path);
                return api_reply_error(req, r, &err, "Unpacking failed");
        }
        _cleanup_free_ char *ref = NULL;
        r = image_catalog_normalize_ref(req->segments[1], &ref, &err);
        if (r < 0) {
                image_record_done(&rec);
                return api_reply_error(req, r, &err, "Bad reference");
        }
        j = json_pack("{s:s,s:s,s:s,s:b}", "ref", ref, "digest", rec.digest, "path", path, "keep_special",
                      json_is_true(keep));
        image_record_done(&rec);
        return http_reply_json(req->conn, 200, j);
}

/* GET images/REF/sbom: the SBOM (CycloneDX 1.5) of any stored image, imported or built, read from its
 * layers unpacked under the temp dir and removed again. */
int api_image_sbom(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_json_ json_t *bom = NULL;
        _cleanup_free_ char *ref = NULL;
        ImageRecord rec = {};
        OciError err = {};
        int r;

        r = image_catalog_lookup(ctx->catalog, req->segments[1], &rec, &err);
        if (r < 0)
                return api_reply_error(req, r, &err, "Cannot look up the image");
        if (image_catalog_normalize_ref(req->segments[1], &ref, &err) < 0)
                ref = NULL;
        r = scan_image_sbom(ctx->catalog, rec.digest, ref ?: rec.digest, ctx->tmp_dir ?: ctx->state_dir,
                            &bom, NULL, NULL, &err);
        image_record_done(&rec);
        if (r < 0)
                return api_reply_error(req, r, &err, "Cannot make the image's SBOM");
        return http_reply_json(req->conn, 200, json_incref(bom));
}
