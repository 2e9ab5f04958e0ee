/* The registry's blob uploads: a session (POST) takes bytes in order (streamed or chunked PATCHes with
 * Content-Range, the final PUT) into DIR/registry/uploads/<uuid>, hashed as they arrive, and becomes a blob
 * only when the whole file matches the digest the PUT names (then it is renamed into the store).
 * Invariants: the file's size is the session's offset (so a session outlives a restart or kill -9, which may
 * leave it with the bytes received so far and never a visible partial blob); one writer per session at a time
 * (flock); a session unused for the upload lifetime is removed with its bytes. */
#include "registry-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "blob-store.h"
#include "digest.h"
#include "distribution-db.h"
#include "fs-util.h"
#include "log.h"
#include "oci-store.h"
#include "path-util.h"
#include "sqlite-util.h"
#include "string-util.h"

#define REGISTRY_UPLOAD_TTL_DEFAULT_SEC 3600
#define REGISTRY_BLOB_MAX (64ULL * 1024 * 1024 * 1024) /* one blob */
#define REGISTRY_IO_CHUNK (256U * 1024U)
#define REGISTRY_HASHES_MAX 256U /* sessions whose running hash is kept; the others are hashed at the end */
#define REGISTRY_UUID_LEN 32U
#define REGISTRY_LOCK_WAIT_MS 5000U /* a second writer waits this long for the first */
#define REGISTRY_LOCK_POLL_MS 50U

/* Running hashes of the sessions being written, so the final PUT needs no second read.  A hash is only
 * trusted when it covers exactly the file's bytes. */
typedef struct UploadHash {
        char uuid[REGISTRY_UUID_LEN + 1];
        Sha256 hash;
        uint64_t hashed;
} UploadHash;

static pthread_mutex_t hashes_lock = PTHREAD_MUTEX_INITIALIZER;
static UploadHash hashes[REGISTRY_HASHES_MAX];

static UploadHash *hash_find_locked(const char *uuid) {
        for (size_t i = 0; i < REGISTRY_HASHES_MAX; i++)
                if (streq(hashes[i].uuid, uuid))
                        return &hashes[i];
        return NULL;
}

/* Takes the running hash of uuid if it covers offset bytes (the slot is freed while the caller holds it). */
static bool hash_take(const char *uuid, uint64_t offset, Sha256 *ret) {
        bool ok = false;

        pthread_mutex_lock(&hashes_lock);
        UploadHash *h = hash_find_locked(uuid);
        if (h) {
                if (h->hashed == offset) {
                        *ret = h->hash;
                        ok = true;
                }
                *h = (UploadHash) {};
        }
        pthread_mutex_unlock(&hashes_lock);
        return ok;
}

static void hash_put(const char *uuid, const Sha256 *hash, uint64_t hashed) {
        pthread_mutex_lock(&hashes_lock);
        UploadHash *h = hash_find_locked(uuid) ?: hash_find_locked("");
        if (h) {
                strcpy(h->uuid, uuid);
                h->hash = *hash;
                h->hashed = hashed;
        }
        pthread_mutex_unlock(&hashes_lock);
}

static void hash_drop(const char *uuid) {
        Sha256 dummy;
        (void) hash_take(uuid, UINT64_MAX, &dummy);
}

static bool uuid_valid(const char *u) {
        return strlen(u) == REGISTRY_UUID_LEN && strspn(u, "0123456789abcdef") == REGISTRY_UUID_LEN;
}

/* DIR/registry/uploads, created on first use, as a directory fd. */
static int uploads_dir(HttpRequest *req, int *ret) {
        ApiContext *ctx = req->userdata;
        _cleanup_free_ char *p = NULL;
        int fd;

        p = path_join(ctx->state_dir, "registry/uploads");
        if (!p)
                return -ENOMEM;
        fd = mkdir_p_open(p, 0700);
        if (fd < 0)
                return fd;
        *ret = fd;
        return 0;
}

static void upload_remove(HttpRequest *req, sqlite3 *db, const char *uuid) {
        _cleanup_close_ int dfd = -EBADF;

        hash_drop(uuid);
        if (uploads_dir(req, &dfd) >= 0)
                (void) unlinkat(dfd, uuid, 0);
        (void) model_upload_delete(db, uuid);
}

void registry_uploads_expire(HttpRequest *req, sqlite3 *db) {
        ApiContext *ctx = req->userdata;
        int64_t ttl = ctx->registry_upload_ttl_sec > 0 ? ctx->registry_upload_ttl_sec
                                                       : REGISTRY_UPLOAD_TTL_DEFAULT_SEC;
        ModelUpload *v = NULL;
        size_t n = 0;

        if (model_uploads_idle(db, sqlite_now_sec() - ttl, &v, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                log_info("Registry upload %s into %s expired unfinished; removed.", v[i].uuid, v[i].repo);
                upload_remove(req, db, v[i].uuid);
        }
        model_uploads_free(v, n);
}

static int reply_session(HttpRequest *req, int status, const char *name, const char *uuid, uint64_t size) {
        mg_printf(req->conn,
                  "HTTP/1.1 %d %s\r\n" REGISTRY_HEADERS "Location: /v2/%s/blobs/uploads/%s\r\n"
                  "Range: 0-%" PRIu64 "\r\nDocker-Upload-UUID: %s\r\nContent-Length: 0\r\n\r\n",
                  status, mg_get_response_code_text(req->conn, status), name, uuid, size ? size - 1 : 0,
                  uuid);
        return status;
}

static int reply_blob_created(HttpRequest *req, const char *name, const char *digest) {
        mg_printf(req->conn,
                  "HTTP/1.1 201 Created\r\n" REGISTRY_HEADERS "Location: /v2/%s/blobs/%s\r\n"
                  "Docker-Content-Digest: %s\r\nContent-Length: 0\r\n\r\n",
                  name, digest, digest);
        return 201;
}

/* "A-B" (or "bytes=A-B" / "bytes A-B") into from, to. */
static bool parse_content_range(const char *h, uint64_t *from, uint64_t *to) {
        unsigned long long a, b;
        char *end;

        if (startswith(h, "bytes=") || startswith(h, "bytes "))
                h += strlen("bytes=");
        errno = 0;
        a = strtoull(h, &end, 10);
        if (errno || end == h || *end != '-')
                return false;
        h = end + 1;
        b = strtoull(h, &end, 10);
        if (errno || end == h || (*end && *end != '/') || b < a)
                return false;
        *from = a;
        *to = b;
        return true;
}

/* Appends the request body to fd (at offset *size) and to the running hash when it has one.  -EPIPE when the
 * client stopped sending early (the bytes that came stay: the client may resume after them). */
static int append_body(HttpRequest *req, int fd, uint64_t *size, Sha256 *hash, bool *hashed) {
        const struct mg_request_info *ri = mg_get_request_info(req->conn);
        _cleanup_free_ char *buf = malloc(REGISTRY_IO_CHUNK);
        uint64_t got = 0;
        int r = 0;

        if (!buf)
                return -ENOMEM;
        if (lseek(fd, (off_t) *size, SEEK_SET) < 0)
                return -errno;
        for (;;) {
                int n = mg_read(req->conn, buf, REGISTRY_IO_CHUNK);
                if (n == 0)
                        break;
                if (n < 0) {
                        r = -EPIPE;
                        break;
                }
                if (*size + (uint64_t) n > REGISTRY_BLOB_MAX) {
                        r = -EFBIG;
                        break;
                }
                r = loop_write(fd, buf, (size_t) n);
                if (r < 0)
                        break;
                if (*hashed)
                        sha256_update(hash, buf, (size_t) n);
                *size += (uint64_t) n;
                got += (uint64_t) n;
        }
        if (r >= 0 && ri->content_length >= 0 && got != (uint64_t) ri->content_length)
                r = -EPIPE;
        return r;
}

typedef struct Session {
        char uuid[REGISTRY_UUID_LEN + 1];
        int fd;
        uint64_t size;
        Sha256 hash;
        bool hashed; /* hash covers exactly size bytes */
} Session;

static void session_close(Session *s) {
        if (s->fd >= 0) {
                if (s->hashed)
                        hash_put(s->uuid, &s->hash, s->size);
                s->fd = safe_close(s->fd);
        }
}

/* One writer at a time.  A client that lost its connection mid-PATCH retries at once, while the handler of
 * the cut request may still be noticing the cut: wait a little for it before answering 409. */
static bool lock_session(int fd) {
        for (unsigned waited = 0;; waited += REGISTRY_LOCK_POLL_MS) {
                if (flock(fd, LOCK_EX | LOCK_NB) >= 0)
                        return true;
                if (errno != EWOULDBLOCK || waited >= REGISTRY_LOCK_WAIT_MS)
                        return false;
                (void) usleep(REGISTRY_LOCK_POLL_MS * 1000U);
        }
}

/* Opens the session of uuid in repository name (for writing: locked), 404/409 sent on failure. */
static int session_open(HttpRequest *req, sqlite3 *db, const char *name, const char *uuid, bool write,
                        Session *ret) {
        _cleanup_(model_upload_done) ModelUpload row = {};
        _cleanup_close_ int dfd = -EBADF, fd = -EBADF;
        struct stat st;
        int r;

        if (!uuid_valid(uuid) || model_upload_get(db, uuid, &row) < 0 || !streq(row.repo, name))
                return api_replied(
                        req,
                        registry_reply_error(req->conn, 404, "BLOB_UPLOAD_UNKNOWN",
                                             "There is no such upload in this repository; start a new one."),
                        -ENOENT);
        r = uploads_dir(req, &dfd);
        if (r >= 0) {
                fd = openat(dfd, uuid, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (fd < 0)
                        r = -errno;
        }
        if (r < 0)
                return api_replied(
                        req, registry_reply_error(req->conn, 500, "UNKNOWN", "The upload cannot be opened."),
                        r);
        if (write && !lock_session(fd))
                return api_replied(
                        req,
                        registry_reply_error(req->conn, 409, "BLOB_UPLOAD_INVALID",
                                             "Another request is writing to this upload; wait for it."),
                        -EBUSY);
        if (fstat(fd, &st) < 0)
                return api_replied(
                        req, registry_reply_error(req->conn, 500, "UNKNOWN", "The upload cannot be read."),
                        -errno);
        *ret = (Session) { .fd = TAKE_FD(fd), .size = (uint64_t) st.st_size };
        strcpy(ret->uuid, uuid);
        if (!write) /* a status request: the size is all it needs, and the running hash stays */
                return 0;
        ret->hashed = hash_take(uuid, ret->size, &ret->hash);
        if (!ret->hashed && ret->size == 0) {
                sha256_init(&ret->hash);
                ret->hashed = true;
        }
        return 0;
}

/* PATCH or PUT body: checks Content-Range against the offset, appends.  Sends the error on failure. */
static int session_take_body(HttpRequest *req, const char *name, Session *s) {
        const char *cr = mg_get_header(req->conn, "Content-Range");
        uint64_t from = 0, to = 0;
        int r;

        if (cr) {
                if (!parse_content_range(cr, &from, &to) || from != s->size) {
                        mg_printf(req->conn,
                                  "HTTP/1.1 416 Range Not Satisfiable\r\n" REGISTRY_HEADERS
                                  "Location: /v2/%s/blobs/uploads/%s\r\nRange: 0-%" PRIu64
                                  "\r\nDocker-Upload-UUID: %s\r\nContent-Type: application/json\r\n"
                                  "Content-Length: 0\r\nConnection: close\r\n\r\n",
                                  name, s->uuid, s->size ? s->size - 1 : 0, s->uuid);
                        return api_replied(req, 416, -ERANGE);
                }
        }
        r = append_body(req, s->fd, &s->size, &s->hash, &s->hashed);
        if (r == -EFBIG)
                return api_replied(
                        req,
                        registry_reply_error(req->conn, 413, "SIZE_INVALID",
                                             "The blob is larger than this registry takes (64 GiB)."),
                        r);
        if (r == -EPIPE)
                return api_replied(
                        req,
                        registry_reply_error(req->conn, 400, "BLOB_UPLOAD_INVALID",
                                             "The body ended early; ask for the upload's status and "
                                             "send the rest."),
                        r);
        if (r < 0)
                return api_replied(
                        req,
                        r == -ENOSPC || r == -EDQUOT
                                ? registry_reply_error(req->conn, 507, "UNKNOWN",
                                                       "The disk holding the state directory is full.")
                                : registry_reply_error(req->conn, 500, "UNKNOWN",
                                                       "The upload cannot be stored."),
                        r);
        if (cr && to + 1 != s->size)
                return api_replied(
                        req,
                        registry_reply_error(req->conn, 400, "BLOB_UPLOAD_INVALID",
                                             "The chunk's length differs from its Content-Range."),
                        -EINVAL);
        return 0;
}

/* The final step: the session's bytes must hash to digest; then they become the blob.  The session is
 * removed either way (a mismatch means its bytes are wrong). */
static int session_finish(HttpRequest *req, sqlite3 *db, const char *name, Session *s, const char *digest) {
        ApiContext *ctx = req->userdata;
        _cleanup_close_ int dfd = -EBADF;
        char got[DIGEST_STRING_MAX];
        int r;

        if (!digest || !registry_is_digest(digest)) {
                session_close(s);
                return registry_reply_error(req->conn, 400, "DIGEST_INVALID",
                                            "Name the blob's sha256 digest with ?digest=sha256:….");
        }
        if (s->hashed)
                sha256_final(&s->hash, got);
        else {
                if (lseek(s->fd, 0, SEEK_SET) < 0)
                        r = -errno;
                else
                        r = sha256_fd(s->fd, got, NULL);
                if (r < 0) {
                        session_close(s);
                        return registry_reply_error(req->conn, 500, "UNKNOWN", "The upload cannot be read.");
                }
        }
        s->hashed = false;
        if (!streq(got, digest)) {
                _cleanup_free_ char *msg = NULL;

                s->fd = safe_close(s->fd);
                upload_remove(req, db, s->uuid);
                if (asprintf(&msg, "The upload's content has digest %s, not %s; nothing was stored.", got,
                             digest) < 0)
                        msg = NULL;
                return registry_reply_error(req->conn, 400, "DIGEST_INVALID",
                                            msg ?: "The digest does not match.");
        }
        r = uploads_dir(req, &dfd);
        image_catalog_read_lock(ctx->catalog);
        if (r >= 0)
                r = oci_store_adopt_blob(ctx->store, s->fd, dfd, s->uuid, digest);
        if (r >= 0)
                r = model_registry_blob_record(db, name, digest);
        image_catalog_read_unlock(ctx->catalog);
        s->fd = safe_close(s->fd);
        if (r < 0) {
                log_warning_errno(r, "Registry: cannot store blob %s in %s: %m", digest, name);
                return registry_reply_error(req->conn, r == -ENOSPC ? 507 : 500, "UNKNOWN",
                                            "The blob cannot be stored.");
        }
        upload_remove(req, db, s->uuid);
        return reply_blob_created(req, name, digest);
}

static int session_create(HttpRequest *req, sqlite3 *db, const char *name, Session *ret) {
        _cleanup_close_ int dfd = -EBADF;
        unsigned char raw[REGISTRY_UUID_LEN / 2];
        char uuid[REGISTRY_UUID_LEN + 1];
        int r, fd;

        randombytes_buf(raw, sizeof raw);
        for (size_t i = 0; i < sizeof raw; i++)
                snprintf(uuid + 2 * i, 3, "%02x", raw[i]);
        r = model_upload_create(db, uuid, name);
        if (r >= 0)
                r = uploads_dir(req, &dfd);
        if (r < 0)
                return api_replied(
                        req, registry_reply_error(req->conn, 500, "UNKNOWN", "Cannot start an upload."), r);
        fd = openat(dfd, uuid, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 || flock(fd, LOCK_EX) < 0) {
                r = -errno;
                (void) model_upload_delete(db, uuid);
                return api_replied(
                        req, registry_reply_error(req->conn, 500, "UNKNOWN", "Cannot start an upload."), r);
        }
        *ret = (Session) { .fd = fd, .hashed = true };
        strcpy(ret->uuid, uuid);
        sha256_init(&ret->hash);
        return 0;
}

int registry_upload_start(HttpRequest *req, const char *name) {
        ApiContext *ctx = req->userdata;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        char mount[DIGEST_STRING_MAX + 8] = "", from[REGISTRY_NAME_MAX + 1] = "",
                                       digest[DIGEST_STRING_MAX + 8] = "";
        Session s = { .fd = -EBADF };
        int r;

        if (!registry_check_push(req))
                return req->status;
        if (registry_db_open(req, &db) < 0)
                return req->status;
        registry_uploads_expire(req, db);
        (void) http_request_query(req, "mount", mount, sizeof mount);
        (void) http_request_query(req, "from", from, sizeof from);
        (void) http_request_query(req, "digest", digest, sizeof digest);

        /* Cross-repository mount: the store holds every blob once, so a mount only records it for name. */
        if (registry_is_digest(mount)) {
                uint64_t size;

                image_catalog_read_lock(ctx->catalog);
                r = blob_store_stat(ctx->store, mount, &size);
                if (r >= 0)
                        r = model_registry_blob_record(db, name, mount);
                image_catalog_read_unlock(ctx->catalog);
                if (r >= 0)
                        return reply_blob_created(req, name, mount);
        }
        if (api_disk_writable(req) < 0)
                return req->status;
        if (session_create(req, db, name, &s) < 0)
                return req->status;
        if (digest[0]) { /* monolithic: POST ?digest= with the whole blob as the body */
                if (session_take_body(req, name, &s) < 0) {
                        s.fd = safe_close(s.fd);
                        upload_remove(req, db, s.uuid);
                        return req->status;
                }
                return session_finish(req, db, name, &s, digest);
        }
        session_close(&s);
        return reply_session(req, 202, name, s.uuid, 0);
}

int registry_upload_session(HttpRequest *req, const char *name, const char *uuid) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        char digest[DIGEST_STRING_MAX + 8] = "";
        bool get = streq(req->method, "GET");
        Session s = { .fd = -EBADF };
        int status;

        if (!get && !registry_check_push(req))
                return req->status;
        if (registry_db_open(req, &db) < 0)
                return req->status;
        if (session_open(req, db, name, uuid, !get, &s) < 0)
                return req->status;
        if (get) {
                session_close(&s);
                return reply_session(req, 204, name, uuid, s.size);
        }
        if (streq(req->method, "DELETE")) {
                s.fd = safe_close(s.fd);
                upload_remove(req, db, uuid);
                mg_printf(req->conn,
                          "HTTP/1.1 204 No Content\r\n" REGISTRY_HEADERS "Content-Length: 0\r\n\r\n");
                return 204;
        }
        if (!streq(req->method, "PATCH") && !streq(req->method, "PUT")) {
                session_close(&s);
                return registry_reply_error(req->conn, 405, "UNSUPPORTED",
                                            "Use PATCH, PUT, GET or DELETE on an upload.");
        }
        (void) model_upload_touch(db, uuid);
        if (session_take_body(req, name, &s) < 0) {
                session_close(&s);
                return req->status;
        }
        if (streq(req->method, "PATCH")) {
                uint64_t size = s.size;
                session_close(&s);
                (void) model_upload_touch(db, uuid);
                return reply_session(req, 202, name, uuid, size);
        }
        (void) http_request_query(req, "digest", digest, sizeof digest);
        status = session_finish(req, db, name, &s, digest);
        session_close(&s);
        return status;
}
