/* The OCI distribution API at /v2/ over the image store, pull side: GET/HEAD of manifests (by tag or
 * digest) and blobs (with byte ranges), the tags list with n/last, and errors in the spec's JSON shape.
 * Repository names are the catalog's names without their tag ("demo/web" of "demo/web:1a2b3c4",
 * "busybox" of "busybox:latest").  Nothing is copied: manifests and blobs are read from the store, an
 * image pinned against gc while its blobs stream.  Push (POST/PATCH/PUT) answers UNSUPPORTED for now. */
#include "registry.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "blob-store.h"
#include "digest.h"
#include "json-util.h"
#include "log.h"
#include "oci-store.h"
#include "string-util.h"

#define REGISTRY_MANIFEST_MAX (4U * 1024U * 1024U)
#define REGISTRY_TAGS_MAX 10000U
#define REGISTRY_NAME_MAX 255U
#define REGISTRY_COPY_CHUNK (256U * 1024U)

static const char registry_headers[] = "Docker-Distribution-API-Version: registry/2.0\r\n";

/* {"errors": [{"code", "message", "detail"}]} with status. */
static int reply_error(struct mg_connection *conn, int status, const char *code, const char *message) {
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

/* A repository name as the distribution spec allows: path components of [a-z0-9]+([._-][a-z0-9]+)*
 * joined by '/'. */
static bool name_valid(const char *n, size_t len) {
        bool start = true;

        if (len == 0 || len > REGISTRY_NAME_MAX)
                return false;
        for (size_t i = 0; i < len; i++) {
                char c = n[i];
                bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
                if (alnum) {
                        start = false;
                        continue;
                }
                if (start || i + 1 == len || !strchr("._-/", c))
                        return false;
                start = true;
        }
        return true;
}

static bool tag_valid(const char *t) {
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

static bool is_digest(const char *s) {
        return startswith(s, "sha256:") && strlen(s) == strlen("sha256:") + 64 &&
               strspn(s + strlen("sha256:"), "0123456789abcdef") == 64;
}

/* The image of name:tag or name@digest; 404 sent when the repository has none such. */
static int lookup(HttpRequest *req, const char *name, const char *ref, ImageRecord *ret) {
        ApiContext *ctx = req->userdata;
        _cleanup_free_ char *full = NULL;
        OciError err = {};
        int r;

        if (is_digest(ref)) {
                /* A digest of this repository: one of its names must point at that image. */
                r = image_catalog_lookup(ctx->catalog, ref, ret, &err);
                if (r >= 0) {
                        size_t n = strlen(name);
                        for (size_t i = 0; i < ret->n_refs; i++)
                                if (strncmp(ret->refs[i], name, n) == 0 && ret->refs[i][n] == ':')
                                        return 0;
                        image_record_done(ret);
                        r = -ENOENT;
                }
        } else {
                if (asprintf(&full, "%s:%s", name, ref) < 0)
                        return -ENOMEM;
                r = image_catalog_lookup(ctx->catalog, full, ret, &err);
        }
        if (r == -ENOENT || r == -EINVAL)
                return api_replied(req,
                                   reply_error(req->conn, 404, "MANIFEST_UNKNOWN",
                                               "The repository has no manifest of that tag or digest."),
                                   -ENOENT);
        if (r < 0)
                return api_replied(
                        req, reply_error(req->conn, 500, "UNKNOWN", "The image store cannot be read."), r);
        return 0;
}

static int manifest(HttpRequest *req, const char *name, const char *ref, bool head) {
        ApiContext *ctx = req->userdata;
        _cleanup_(image_record_done) ImageRecord rec = {};
        _cleanup_free_ char *data = NULL;
        _cleanup_json_ json_t *j = NULL;
        const char *media;
        size_t size = 0;
        int r;

        if (!is_digest(ref) && !tag_valid(ref))
                return reply_error(req->conn, 400, "TAG_INVALID", "That is not a valid tag.");
        if (lookup(req, name, ref, &rec) < 0)
                return req->status;
        image_catalog_read_lock(ctx->catalog);
        r = oci_store_read_blob(ctx->store, rec.digest, REGISTRY_MANIFEST_MAX, &data, &size);
        image_catalog_read_unlock(ctx->catalog);
        if (r < 0)
                return reply_error(req->conn, 404, "MANIFEST_UNKNOWN", "The manifest is not in the store.");
        /* Its own mediaType (an OCI manifest or index, or Docker's v2 schema 2), else the catalog's. */
        if (json_parse_buffer(data, size, &j, NULL) >= 0 && json_is_string(json_object_get(j, "mediaType")))
                media = json_string_value(json_object_get(j, "mediaType"));
        else
                media = rec.media_type ?: "application/vnd.oci.image.manifest.v1+json";
        mg_printf(
                req->conn,
                "HTTP/1.1 200 OK\r\n%sContent-Type: %s\r\nContent-Length: %zu\r\nDocker-Content-Digest: %s\r\n"
                "ETag: \"%s\"\r\n\r\n",
                registry_headers, media, size, rec.digest, rec.digest);
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
        /* On the heap: civetweb's worker threads have ~100 KiB of stack, and mg_printf() takes 8 KiB of it. */
        _cleanup_free_ char *buf = NULL;
        const size_t buf_size = REGISTRY_COPY_CHUNK > 65536 ? 65536 : REGISTRY_COPY_CHUNK;
        bool partial = false;
        int r;

        (void) name;
        if (!is_digest(digest))
                return reply_error(req->conn, 400, "DIGEST_INVALID", "That is not a sha256 digest.");
        image_catalog_read_lock(ctx->catalog);
        r = blob_store_open_unverified(ctx->store, digest, &fd, &size);
        image_catalog_read_unlock(ctx->catalog);
        if (r < 0)
                return reply_error(req->conn, 404, "BLOB_UNKNOWN", "The store has no blob of that digest.");
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
        buf = malloc(buf_size);
        if (!buf)
                return partial ? 206 : 200; /* the client sees a short body */
        for (uint64_t off = from; off < from + length;) {
                ssize_t k =
                        pread(fd, buf, (size_t) MIN((uint64_t) buf_size, from + length - off), (off_t) off);
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
                        return reply_error(req->conn, 400, "PAGINATION_NUMBER_INVALID",
                                           "?n must be a number.");
        }
        (void) http_request_query(req, "last", last, sizeof last);
        r = image_catalog_list(ctx->catalog, &recs, &n_recs);
        if (r < 0)
                return reply_error(req->conn, 500, "UNKNOWN", "The image store cannot be read.");
        all = calloc(REGISTRY_TAGS_MAX + 1, sizeof *all);
        for (size_t i = 0; all && i < n_recs; i++)
                for (size_t k = 0; k < recs[i].n_refs && n_tags < REGISTRY_TAGS_MAX; k++)
                        if (strncmp(recs[i].refs[k], name, name_len) == 0 &&
                            recs[i].refs[k][name_len] == ':')
                                all[n_tags++] = strdup(recs[i].refs[k] + name_len + 1);
        for (size_t i = 0; i < n_recs; i++)
                image_record_done(&recs[i]);
        free(recs);
        if (!all)
                return reply_error(req->conn, 500, "UNKNOWN", "Out of memory.");
        if (n_tags == 0) {
                free(all);
                return reply_error(req->conn, 404, "NAME_UNKNOWN", "There is no repository of that name.");
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
                return reply_error(req->conn, 500, "UNKNOWN", "Out of memory.");
        mg_printf(req->conn,
                  "HTTP/1.1 200 OK\r\n%sContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                  registry_headers, strlen(text), text);
        return 200;
}

/* Splits "NAME/KIND/REF" at the last "/manifests/" or "/blobs/", or "NAME/tags/list". */
static int route(HttpRequest *req, const char *path) {
        bool get = streq(req->method, "GET"), head = streq(req->method, "HEAD");
        const char *m = NULL, *p;
        char name[REGISTRY_NAME_MAX + 1];
        enum { MANIFESTS, BLOBS, TAGS } kind;
        size_t nl;

        for (p = path; (p = strstr(p, "/manifests/")); p++)
                m = p;
        if (m)
                kind = MANIFESTS;
        else {
                for (p = path; (p = strstr(p, "/blobs/")); p++)
                        m = p;
                if (m)
                        kind = BLOBS;
                else if (endswith(path, "/tags/list")) {
                        m = path + strlen(path) - strlen("/tags/list");
                        kind = TAGS;
                } else
                        return reply_error(req->conn, 404, "NAME_UNKNOWN", "Unknown registry path.");
        }
        nl = (size_t) (m - path);
        if (!name_valid(path, nl))
                return reply_error(req->conn, 400, "NAME_INVALID", "That is not a valid repository name.");
        memcpy(name, path, nl);
        name[nl] = 0;
        if (!get && !head)
                return reply_error(req->conn, 405, "UNSUPPORTED",
                                   "This registry serves pulls; pushes are not supported yet.");
        switch (kind) {
        case MANIFESTS:
                return manifest(req, name, m + strlen("/manifests/"), head);
        case BLOBS:
                return blob(req, name, m + strlen("/blobs/"), head);
        case TAGS:
                return tags(req, name);
        }
        return 500;
}

int registry_handle(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        const struct mg_request_info *ri = mg_get_request_info(req->conn);
        const char *uri = ri->local_uri;

        if (!ctx->catalog || !ctx->store)
                return reply_error(req->conn, 503, "UNAVAILABLE", "The image store is not open.");
        if (streq(uri, "/v2") || streq(uri, "/v2/")) {
                mg_printf(
                        req->conn,
                        "HTTP/1.1 200 OK\r\n%sContent-Type: application/json\r\nContent-Length: 3\r\n\r\n{}\n",
                        registry_headers);
                return 200;
        }
        if (!startswith(uri, HTTP_REGISTRY_PREFIX) || strstr(uri, "/../") || strstr(uri, "//"))
                return reply_error(req->conn, 404, "NAME_UNKNOWN", "Unknown registry path.");
        return route(req, uri + strlen(HTTP_REGISTRY_PREFIX));
}
