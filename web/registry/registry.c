/* The OCI distribution API at /v2/ over the image store: routing, and the pull side: GET/HEAD of manifests
 * (by tag or digest) and blobs (with byte ranges), the tags list with n/last, and errors in the spec's JSON
 * shape.  Repository names are the catalog's names without their tag ("demo/web" of "demo/web:1a2b3c4",
 * "busybox" of "busybox:latest") plus what was pushed.  Nothing is copied: manifests and blobs are read from
 * the store.  Pushes are registry-upload.c and registry-manifest.c. */
#include "registry.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "blob-store.h"
#include "digest.h"
#include "distribution-db.h"
#include "json-util.h"
#include "log.h"
#include "oci-store.h"
#include "registry-internal.h"
#include "repository-name.h"
#include "sqlite-util.h"
#include "string-util.h"

#define REGISTRY_MANIFEST_MAX (4U * 1024U * 1024U)
#define REGISTRY_TAGS_MAX 10000U
#define REGISTRY_COPY_CHUNK (256U * 1024U)

static const char registry_headers[] = REGISTRY_HEADERS;

int registry_reply_error(struct mg_connection *conn, int status, const char *code, const char *message) {
        _cleanup_json_ json_t *j = json_pack("{s:[{s:s,s:s,s:o}]}", "errors", "code", code, "message",
                                             message, "detail", json_object());
        _cleanup_free_ char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        size_t n = text ? strlen(text) : 0;

        mg_printf(conn,
                  "HTTP/1.1 %d %s\r\n%sContent-Type: application/json\r\nContent-Length: %zu\r\n"
                  "Cache-Control: no-store\r\n\r\n",
                  status, mg_get_response_code_text(conn, status), registry_headers, n + 1);
        if (text)
                mg_write(conn, text, n);
        mg_write(conn, "\n", 1);
        return status;
}

bool registry_tag_valid(const char *t) {
        size_t n = strlen(t);

        if (n == 0 || n > 128)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = t[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || (i > 0 && (c == '.' || c == '-'))))
                        return false;
        }
        return true;
}

bool registry_is_digest(const char *s) {
        return startswith(s, "sha256:") && strlen(s) == strlen("sha256:") + 64 &&
               strspn(s + strlen("sha256:"), "0123456789abcdef") == 64;
}

int registry_db_open(HttpRequest *req, sqlite3 **ret) {
        ApiContext *ctx = req->userdata;
        int r;

        if (!ctx->db_path)
                return api_replied(
                        req,
                        registry_reply_error(req->conn, 503, "UNAVAILABLE", "This daemon has no database."),
                        -ENXIO);
        r = sqlite_open(ctx->db_path, ret);
        if (r < 0)
                return api_replied(
                        req,
                        registry_reply_error(req->conn, 500, "UNKNOWN", "The database cannot be opened."),
                        r);
        return 0;
}

bool registry_check_push(HttpRequest *req) {
        if (http_request_may_push(req))
                return true;
        req->status =
                registry_reply_error(req->conn, 403, "DENIED",
                                     "This token may not push; use a token of a developer or admin that is "
                                     "not read-only.");
        return false;
}

/* The manifest digest name:tag or name@digest names: the catalog's images first, then what was pushed as an
 * index or artifact.  404 sent when the repository has none such. */
static int lookup(HttpRequest *req, const char *name, const char *ref, char ret[static DIGEST_STRING_MAX],
                  char **ret_media_type) {
        ApiContext *ctx = req->userdata;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(image_record_done) ImageRecord rec = {};
        _cleanup_free_ char *full = NULL;
        OciError err = {};
        int r;

        if (registry_is_digest(ref)) {
                /* A digest of this repository: one of its names must point at that image. */
                r = image_catalog_lookup(ctx->catalog, ref, &rec, &err);
                if (r >= 0) {
                        size_t n = strlen(name);
                        r = -ENOENT;
                        for (size_t i = 0; i < rec.n_refs; i++)
                                if (strncmp(rec.refs[i], name, n) == 0 && rec.refs[i][n] == ':')
                                        r = 0;
                }
        } else {
                if (asprintf(&full, "%s:%s", name, ref) < 0)
                        return -ENOMEM;
                r = image_catalog_lookup(ctx->catalog, full, &rec, &err);
        }
        if (r >= 0) {
                strcpy(ret, rec.digest);
                *ret_media_type = rec.media_type ? strdup(rec.media_type) : NULL;
                return 0;
        }
        if (r == -ENOENT || r == -EINVAL) {
                if (registry_db_open(req, &db) < 0)
                        return req->status;
                if (registry_is_digest(ref)) {
                        _cleanup_(model_manifest_done) ModelManifest m = {};
                        r = model_manifest_get(db, name, ref, &m);
                        if (r >= 0) {
                                strcpy(ret, m.digest);
                                *ret_media_type = TAKE_PTR(m.media_type);
                        }
                } else {
                        r = model_registry_tag_get(db, name, ref, ret);
                        if (r >= 0)
                                *ret_media_type = NULL;
                }
        }
        if (r == -ENOENT || r == -EINVAL)
                return api_replied(
                        req,
                        registry_reply_error(req->conn, 404, "MANIFEST_UNKNOWN",
                                             "The repository has no manifest of that tag or digest."),
                        -ENOENT);
        if (r < 0)
                return api_replied(
                        req,
                        registry_reply_error(req->conn, 500, "UNKNOWN", "The image store cannot be read."),
                        r);
        return 0;
}

static int manifest(HttpRequest *req, const char *name, const char *ref, bool head) {
        ApiContext *ctx = req->userdata;
        _cleanup_free_ char *data = NULL, *fallback = NULL;
        _cleanup_json_ json_t *j = NULL;
        char digest[DIGEST_STRING_MAX];
        const char *media;
        size_t size = 0;
        int r;

        if (!registry_is_digest(ref) && !registry_tag_valid(ref))
                return registry_reply_error(req->conn, 400, "TAG_INVALID", "That is not a valid tag.");
        if (lookup(req, name, ref, digest, &fallback) < 0)
                return req->status;
        image_catalog_read_lock(ctx->catalog);
        r = oci_store_read_blob(ctx->store, digest, REGISTRY_MANIFEST_MAX, &data, &size);
        image_catalog_read_unlock(ctx->catalog);
        if (r < 0)
                return registry_reply_error(req->conn, 404, "MANIFEST_UNKNOWN",
                                            "The manifest is not in the store.");
        /* Its own mediaType (an OCI manifest or index, or Docker's v2 schema 2), else the recorded one. */
        if (json_parse_buffer(data, size, &j, NULL) >= 0 && json_is_string(json_object_get(j, "mediaType")))
                media = json_string_value(json_object_get(j, "mediaType"));
        else
                media = fallback ?: "application/vnd.oci.image.manifest.v1+json";
        mg_printf(
                req->conn,
                "HTTP/1.1 200 OK\r\n%sContent-Type: %s\r\nContent-Length: %zu\r\nDocker-Content-Digest: %s\r\n"
                "ETag: \"%s\"\r\n\r\n",
                registry_headers, media, size, digest, digest);
        if (!head)
                mg_write(req->conn, data, size);
        return 200;
}

/* "bytes=A-B" / "bytes=A-" of a blob of size bytes into [*from, *to]; false when unsatisfiable. */
static bool parse_range(const char *h, uint64_t size, uint64_t *from, uint64_t *to) {
        char *end;
        unsigned long long a, b;

        if (!startswith(h, "bytes=") || size == 0)
                return false;
        h += strlen("bytes=");
        errno = 0;
        a = strtoull(h, &end, 10);
        if (errno || end == h || *end != '-')
                return false;
        h = end + 1;
        if (*h == '\0')
                b = size - 1;
        else {
                b = strtoull(h, &end, 10);
                if (errno || end == h || *end)
                        return false;
        }
        if (a > b || a >= size)
                return false;
        *from = a;
        *to = MIN(b, size - 1);
        return true;
}

static int blob(HttpRequest *req, const char *name, const char *digest, bool head) {
        ApiContext *ctx = req->userdata;
        _cleanup_close_ int fd = -EBADF;
        const char *range = mg_get_header(req->conn, "Range");
        uint64_t size = 0, from = 0, to = 0;
        _cleanup_free_ char *buf = NULL;
        bool partial = false;
        int r;

        (void) name;
        if (!registry_is_digest(digest))
                return registry_reply_error(req->conn, 400, "DIGEST_INVALID",
                                            "That is not a sha256 digest.");
        image_catalog_read_lock(ctx->catalog);
        r = blob_store_open_unverified(ctx->store, digest, &fd, &size);
        image_catalog_read_unlock(ctx->catalog);
        if (r < 0)
                return registry_reply_error(req->conn, 404, "BLOB_UNKNOWN",
                                            HTTP_REGISTRY_BLOB_UNKNOWN_MESSAGE);
        to = size ? size - 1 : 0;
        if (range) {
                if (!parse_range(range, size, &from, &to)) {
                        mg_printf(req->conn,
                                  "HTTP/1.1 416 Range Not Satisfiable\r\n%sContent-Range: bytes */%" PRIu64
                                  "\r\nContent-Length: 0\r\n\r\n",
                                  registry_headers, size);
                        return 416;
                }
                partial = true;
        }
        uint64_t length = size ? to - from + 1 : 0;
        if (partial)
                mg_printf(req->conn,
                          "HTTP/1.1 206 Partial Content\r\n%sContent-Type: application/octet-stream\r\n"
                          "Content-Length: %" PRIu64 "\r\nContent-Range: bytes %" PRIu64 "-%" PRIu64
                          "/%" PRIu64 "\r\nDocker-Content-Digest: %s\r\nAccept-Ranges: bytes\r\n\r\n",
                          registry_headers, length, from, to, size, digest);
        else
                mg_printf(
                        req->conn,
                        "HTTP/1.1 200 OK\r\n%sContent-Type: application/octet-stream\r\nContent-Length: %" PRIu64
                        "\r\nDocker-Content-Digest: %s\r\nAccept-Ranges: bytes\r\nETag: \"%s\"\r\n\r\n",
                        registry_headers, length, digest, digest);
        if (head)
                return partial ? 206 : 200;
        if (!partial && length > 0) {
                /* The whole blob: civetweb sends it with sendfile(2).  Through /proc/self/fd, the file
                 * opened above, so a gc that removes its name meanwhile changes nothing. */
                char path[64];
                snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
                if (mg_send_file_body(req->conn, path) >= 0)
                        return 200;
                return 200; /* the head is sent: a failure can only cut the body short */
        }
        buf = malloc(REGISTRY_COPY_CHUNK);
        if (!buf)
                return partial ? 206 : 200;
        (void) posix_fadvise(fd, (off_t) from, (off_t) length, POSIX_FADV_SEQUENTIAL);
        for (uint64_t off = from; off < from + length;) {
                ssize_t k = pread(fd, buf, (size_t) MIN((uint64_t) REGISTRY_COPY_CHUNK, from + length - off),
                                  (off_t) off);
                if (k <= 0 || mg_write(req->conn, buf, (size_t) k) <= 0)
                        break;
                off += (uint64_t) k;
        }
        return partial ? 206 : 200;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* GET /v2/NAME/tags/list[?n=N&last=T]: the repository's tags, sorted, from after last, at most n. */
static int tags(HttpRequest *req, const char *name) {
        ApiContext *ctx = req->userdata;
        ImageRecord *recs = NULL;
        size_t n_recs = 0, n_tags = 0, name_len = strlen(name);
        char **all = NULL, nbuf[16] = "", last[160] = "";
        _cleanup_json_ json_t *arr = json_array(), *j = NULL;
        unsigned long limit = REGISTRY_TAGS_MAX;
        int r;

        if (http_request_query(req, "n", nbuf, sizeof nbuf) >= 0) {
                char *end;
                limit = strtoul(nbuf, &end, 10);
                if (end == nbuf || *end)
                        return registry_reply_error(req->conn, 400, "PAGINATION_NUMBER_INVALID",
                                                    "?n must be a number.");
        }
        (void) http_request_query(req, "last", last, sizeof last);
        r = image_catalog_list(ctx->catalog, &recs, &n_recs);
        if (r < 0)
                return registry_reply_error(req->conn, 500, "UNKNOWN", "The image store cannot be read.");
        all = calloc(REGISTRY_TAGS_MAX + 1, sizeof *all);
        for (size_t i = 0; all && i < n_recs; i++)
                for (size_t k = 0; k < recs[i].n_refs && n_tags < REGISTRY_TAGS_MAX; k++)
                        if (strncmp(recs[i].refs[k], name, name_len) == 0 &&
                            recs[i].refs[k][name_len] == ':')
                                all[n_tags++] = strdup(recs[i].refs[k] + name_len + 1);
        for (size_t i = 0; i < n_recs; i++)
                image_record_done(&recs[i]);
        free(recs);
        {
                _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
                _cleanup_strv_free_ char **extra = NULL;

                if (all && ctx->db_path && sqlite_open(ctx->db_path, &db) >= 0 &&
                    model_registry_tags_list(db, name, &extra) >= 0)
                        for (size_t i = 0; extra[i] && n_tags < REGISTRY_TAGS_MAX; i++)
                                all[n_tags++] = strdup(extra[i]);
        }
        if (!all)
                return registry_reply_error(req->conn, 500, "UNKNOWN", "Out of memory.");
        if (n_tags == 0) {
                free(all);
                return registry_reply_error(req->conn, 404, "NAME_UNKNOWN",
                                            "There is no repository of that name.");
        }
        qsort(all, n_tags, sizeof *all, cmp_str);
        for (size_t i = 0; i < n_tags; i++) {
                if (all[i] && (!last[0] || strcmp(all[i], last) > 0) && json_array_size(arr) < limit)
                        json_array_append_new(arr, json_string(all[i]));
                free(all[i]);
        }
        free(all);
        j = json_pack("{s:s,s:O}", "name", name, "tags", arr);
        _cleanup_free_ char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        if (!text)
                return registry_reply_error(req->conn, 500, "UNKNOWN", "Out of memory.");
        mg_printf(req->conn,
                  "HTTP/1.1 200 OK\r\n%sContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                  registry_headers, strlen(text), text);
        return 200;
}

typedef enum RegistryKind {
        KIND_MANIFESTS,
        KIND_BLOBS,
        KIND_UPLOADS,
        KIND_REFERRERS,
        KIND_TAGS,
} RegistryKind;

static const struct {
        const char *suffix;
        RegistryKind kind;
} registry_kinds[] = {
        { "/blobs/uploads", KIND_UPLOADS }, { "/manifests", KIND_MANIFESTS }, { "/blobs", KIND_BLOBS },
        { "/referrers", KIND_REFERRERS },   { "/tags", KIND_TAGS },
};

/* "NAME/KIND/REF": REF (a tag, digest or upload id) never holds a '/', so the path splits at its last '/'
 * and what is before it ends in the kind. */
static int route(HttpRequest *req, const char *path) {
        const char *m = req->method, *slash = strrchr(path, '/'), *ref;
        bool get = streq(m, "GET"), head = streq(m, "HEAD");
        char name[REGISTRY_NAME_MAX + 1];
        RegistryKind kind = KIND_MANIFESTS;
        size_t nl = 0;
        bool found = false;

        if (!slash)
                return registry_reply_error(req->conn, 404, "NAME_UNKNOWN", "Unknown registry path.");
        ref = slash + 1;
        for (size_t i = 0; i < ELEMENTSOF(registry_kinds) && !found; i++) {
                size_t sl = strlen(registry_kinds[i].suffix), pl = (size_t) (slash - path);
                if (pl > sl && strncmp(slash - sl, registry_kinds[i].suffix, sl) == 0) {
                        kind = registry_kinds[i].kind;
                        nl = pl - sl;
                        found = true;
                }
        }
        if (!found || (kind == KIND_TAGS && !streq(ref, "list")))
                return registry_reply_error(req->conn, 404, "NAME_UNKNOWN", "Unknown registry path.");
        if (!oci_repository_name_valid(path, nl))
                return registry_reply_error(req->conn, 400, "NAME_INVALID",
                                            "That is not a valid repository name.");
        memcpy(name, path, nl);
        name[nl] = 0;

        switch (kind) {
        case KIND_MANIFESTS:
                if (get || head)
                        return manifest(req, name, ref, head);
                if (streq(m, "PUT"))
                        return registry_manifest_put(req, name, ref);
                if (streq(m, "DELETE"))
                        return registry_manifest_delete(req, name, ref);
                break;
        case KIND_BLOBS:
                if (get || head)
                        return blob(req, name, ref, head);
                if (streq(m, "DELETE"))
                        return registry_reply_error(
                                req->conn, 405, "UNSUPPORTED",
                                "Blobs are removed by image gc once no manifest uses them.");
                break;
        case KIND_UPLOADS:
                if (!*ref && streq(m, "POST"))
                        return registry_upload_start(req, name);
                if (*ref && !head)
                        return registry_upload_session(req, name, ref);
                break;
        case KIND_REFERRERS:
                if (get)
                        return registry_referrers(req, name, ref);
                break;
        case KIND_TAGS:
                if (get)
                        return tags(req, name);
                break;
        }
        return registry_reply_error(req->conn, 405, "UNSUPPORTED",
                                    "That method is not supported on this path.");
}

int registry_handle(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        const struct mg_request_info *ri = mg_get_request_info(req->conn);
        const char *uri = ri->local_uri;

        if (!ctx->catalog || !ctx->store)
                return registry_reply_error(req->conn, 503, "UNAVAILABLE", "The image store is not open.");
        if (streq(uri, "/v2") || streq(uri, "/v2/")) {
                mg_printf(
                        req->conn,
                        "HTTP/1.1 200 OK\r\n%sContent-Type: application/json\r\nContent-Length: 3\r\n\r\n{}\n",
                        registry_headers);
                return 200;
        }
        if (!startswith(uri, HTTP_REGISTRY_PREFIX) || strstr(uri, "/../") || strstr(uri, "//"))
                return registry_reply_error(req->conn, 404, "NAME_UNKNOWN", "Unknown registry path.");
        return route(req, uri + strlen(HTTP_REGISTRY_PREFIX));
}
