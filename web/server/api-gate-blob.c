/* The gate's blob answers (api-gate-blob.h): which heads it takes, the registry's answer made for them, and
 * the sendfile(2) of the body.  Invariant: the heads and bodies here are those of registry.c's blob() and
 * registry_reply_error() for the same request; test_registry_gate_blobs.py compares them. */
#include "api-gate-blob.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http-limits.h"
#include "macro.h"
#include "repository-name.h"

#define BLOBS_INFIX "/blobs/"

/* registry_reply_error(conn, 404, "BLOB_UNKNOWN", HTTP_REGISTRY_BLOB_UNKNOWN_MESSAGE)'s document. */
static const char blob_unknown_body[] =
        "{\"errors\":[{\"code\":\"BLOB_UNKNOWN\",\"message\":\"" HTTP_REGISTRY_BLOB_UNKNOWN_MESSAGE
        "\",\"detail\":{}}]}\n";

static bool method_is(const HttpHead *h, const char *m) {
        return h->method_len == strlen(m) && memcmp(h->method, m, h->method_len) == 0;
}

/* 1..GATE_BLOB_RANGE_DIGITS_MAX digits at *p into *ret, *p moved past them. */
static bool parse_number(const char **p, const char *end, uint64_t *ret) {
        uint64_t v = 0;
        size_t n = 0;

        while (*p < end && **p >= '0' && **p <= '9') {
                if (++n > GATE_BLOB_RANGE_DIGITS_MAX)
                        return false;
                v = v * 10 + (uint64_t) (**p - '0');
                (*p)++;
        }
        if (n == 0)
                return false;
        *ret = v;
        return true;
}

/* "bytes=FROM-" or "bytes=FROM-TO" and nothing else: the forms registry.c's parse_range() reads the same way
 * as this (it takes strtoull()'s looser spellings too, which are left to it). */
static bool parse_range(const char *v, size_t len, GateBlobRequest *req) {
        const char *p = v, *end = v + len;
        size_t n = strlen("bytes=");

        if (len < n || memcmp(v, "bytes=", n) != 0)
                return false;
        p += n;
        if (!parse_number(&p, end, &req->range_from) || p == end || *p != '-')
                return false;
        p++;
        req->range_to = UINT64_MAX;
        if (p < end && !parse_number(&p, end, &req->range_to))
                return false;
        return p == end;
}

bool api_gate_blob_match(const char *buf, size_t len, const GateHeadCheck *chk, GateBlobRequest *ret) {
        GateBlobRequest req = {};
        HttpHead head;
        HttpError err;
        const char *t = buf + chk->origin_off, *slash, *digest;
        size_t tl = chk->origin_len, pl = strlen(HTTP_REGISTRY_PREFIX), il = strlen(BLOBS_INFIX), dl, nl;
        bool have_range = false;

        if (chk->status != 0 || !chk->registry || chk->body == HTTP_BODY_CHUNKED ||
            (chk->body == HTTP_BODY_LENGTH && chk->content_length > 0) || chk->expect_continue)
                return false;
        /* /v2/NAME/blobs/DIGEST: the digest holds no '/', so the target splits at its last one, as the
         * registry's routing does */
        if (tl <= pl || memcmp(t, HTTP_REGISTRY_PREFIX, pl) != 0 || memchr(t, '?', tl))
                return false;
        slash = memrchr(t, '/', tl);
        digest = slash + 1;
        dl = tl - (size_t) (digest - t);
        if (dl + 1 > sizeof req.digest || (size_t) (slash - t) < pl + il - 1)
                return false;
        memcpy(req.digest, digest, dl);
        req.digest[dl] = 0;
        if (!digest_is_valid(req.digest))
                return false;
        if (memcmp(slash - (il - 1), BLOBS_INFIX, il - 1) != 0)
                return false;
        nl = (size_t) (slash - (il - 1) - (t + pl));
        if (!oci_repository_name_valid(t + pl, nl))
                return false;

        if (http_request_parse(buf, len, &head, &err) < 0)
                return false;
        if (method_is(&head, "HEAD"))
                req.head = true;
        else if (!method_is(&head, "GET"))
                return false;
        if (head.conn_upgrade || (head.version_minor == 1 && !head.host))
                return false;
        for (size_t i = 0; i < head.n_headers; i++) {
                const HttpHeader *h = &head.headers[i];

                if (!http_name_eq(h, "range"))
                        continue;
                if (have_range || !parse_range(h->value, h->value_len, &req))
                        return false;
                have_range = req.range = true;
        }
        /* HTTP/1.0 is closed after its answer even when it asks to keep alive: the registry's heads carry no
         * "Connection: keep-alive", without which a 1.0 client may wait for the close */
        req.close = head.conn_close || head.version_minor == 0;
        *ret = req;
        return true;
}

int gate_blob_reply_init(int blobs_fd, const GateBlobRequest *req, GateBlobReply *ret) {
        GateBlobReply r = { .fd = -EBADF };
        struct stat st;
        uint64_t size, from = 0, to;
        int fd, n;

        /* As blob_store_open_unverified(): no link followed, only a regular file is a blob. */
        fd = openat(blobs_fd, digest_hex(req->digest), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)))
                fd = safe_close(fd);
        if (fd < 0) {
                r.status = 404;
                n = snprintf(r.head, sizeof r.head,
                             "HTTP/1.1 404 Not Found\r\n" HTTP_REGISTRY_HEADERS
                             "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                             "Cache-Control: no-store\r\n\r\n",
                             sizeof blob_unknown_body - 1);
                if (!req->head) {
                        r.body = blob_unknown_body;
                        r.body_len = r.end = sizeof blob_unknown_body - 1;
                }
                goto done;
        }
        size = (uint64_t) st.st_size;
        to = size ? size - 1 : 0;
        if (req->range) {
                /* registry.c's parse_range(): an empty blob has no satisfiable range */
                if (size == 0 || req->range_from > req->range_to || req->range_from >= size) {
                        safe_close(fd);
                        r.status = 416;
                        n = snprintf(r.head, sizeof r.head,
                                     "HTTP/1.1 416 Range Not Satisfiable\r\n" HTTP_REGISTRY_HEADERS
                                     "Content-Range: bytes */%" PRIu64 "\r\nContent-Length: 0\r\n\r\n",
                                     size);
                        goto done;
                }
                from = req->range_from;
                to = MIN(req->range_to, size - 1);
        }
        r.offset = from;
        r.end = size ? to + 1 : 0;
        if (req->range) {
                r.status = 206;
                n = snprintf(r.head, sizeof r.head,
                             "HTTP/1.1 206 Partial Content\r\n" HTTP_REGISTRY_HEADERS
                             "Content-Type: application/octet-stream\r\nContent-Length: %" PRIu64
                             "\r\nContent-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64
                             "\r\nDocker-Content-Digest: %s\r\nAccept-Ranges: bytes\r\n\r\n",
                             r.end - r.offset, from, to, size, req->digest);
        } else {
                r.status = 200;
                n = snprintf(r.head, sizeof r.head,
                             "HTTP/1.1 200 OK\r\n" HTTP_REGISTRY_HEADERS
                             "Content-Type: application/octet-stream\r\nContent-Length: %" PRIu64
                             "\r\nDocker-Content-Digest: %s\r\nAccept-Ranges: bytes\r\nETag: \"%s\"\r\n\r\n",
                             r.end - r.offset, req->digest, req->digest);
        }
        if (req->head || r.offset == r.end)
                safe_close(fd);
        else {
                r.fd = fd;
                (void) posix_fadvise(fd, (off_t) r.offset, (off_t) (r.end - r.offset),
                                     POSIX_FADV_SEQUENTIAL);
        }
        if (req->head)
                r.offset = r.end = 0;
done:
        if (n < 0 || (size_t) n >= sizeof r.head) {
                safe_close(r.fd);
                return -ENOBUFS;
        }
        r.head_len = (size_t) n;
        *ret = r;
        return 0;
}

int gate_blob_reply_send(GateBlobReply *r, int sock) {
        ssize_t n;

        while (r->head_sent < r->head_len) {
                /* MSG_MORE: the head goes out in one segment with the body's first bytes */
                n = send(sock, r->head + r->head_sent, r->head_len - r->head_sent,
                         MSG_NOSIGNAL | MSG_DONTWAIT | (r->offset < r->end ? MSG_MORE : 0));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return errno == EAGAIN ? 0 : -errno;
                }
                r->head_sent += (size_t) n;
                r->sent += (uint64_t) n;
        }
        if (r->offset < r->end && r->body) {
                n = send(sock, r->body + r->offset, (size_t) (r->end - r->offset),
                         MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0)
                        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
                r->offset += (uint64_t) n;
                r->sent += (uint64_t) n;
        } else if (r->offset < r->end) {
                /* One call per wake-up: the loop serves its other connections in between. */
                off_t off = (off_t) r->offset;

                n = sendfile(sock, r->fd, &off,
                             (size_t) MIN(r->end - r->offset, (uint64_t) GATE_BLOB_SENDFILE_MAX));
                if (n < 0)
                        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
                if (n == 0)
                        return -EIO; /* the file is shorter than it was at open: a blob never is */
                r->offset += (uint64_t) n;
                r->sent += (uint64_t) n;
        }
        if (r->offset < r->end)
                return 0;
        r->fd = safe_close(r->fd);
        return 1;
}

void gate_blob_reply_done(GateBlobReply *r) {
        if (!r)
                return;
        r->fd = safe_close(r->fd);
}
