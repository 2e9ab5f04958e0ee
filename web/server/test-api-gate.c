/* Unit tests for the API gate: the head check (strict framing: one Content-Length, not with
 * Transfer-Encoding; absolute-form targets rewritten to origin form; the tokens: users', expired,
 * read-only, registry Basic and anonymous pull), the registry blob reads the gate answers itself (which
 * targets, and the answers sent over a socket from a real blob file), then the live
 * relay through a real server: streamed uploads past the buffered size, long chunked answers read
 * slowly, an early answer to an upload, a head sent in pieces, and an idle client answered 408. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "api-gate-blob.h"
#include "api-gate.h"
#include "fs-util.h"
#include "http-response.h"
#include "http-server.h"
#include "json-util.h"

#include "tests.h"

#define TOKEN "s3cret"
#define AUTH "Authorization: Bearer " TOKEN "\r\n"

#define NOW 1700000000
/* users' tokens in the set besides TOKEN (admin's bootstrap one) */
#define RO_TOKEN "viewer-only"
#define OLD_TOKEN "long-gone"
#define DEV_TOKEN "dev-token"

static ApiGateAuth gate_auth;

static GateHeadCheck check(const char *head) {
        GateHeadCheck c;

        api_gate_check_head(head, strlen(head), &gate_auth, NOW, &c);
        return c;
}

static void put_token(const char *token, int64_t id, const char *user, bool read_only, int64_t expires_at) {
        HttpIdentity ident = {
                .token_id = id, .role = HTTP_ROLE_ADMIN, .read_only = read_only, .expires_at = expires_at
        };
        unsigned char h[HTTP_TOKEN_HASH_SIZE];

        snprintf(ident.user, sizeof ident.user, "%s", user);
        http_token_hash(token, strlen(token), h);
        CHECK(http_token_set_put(gate_auth.tokens, h, &ident, 0) == 0);
}

/* "Basic base64(user:password)" as a header line. */
static char *basic_header(const char *user, const char *password) {
        char plain[256], b64[512], *line;

        snprintf(plain, sizeof plain, "%s:%s", user, password);
        sodium_bin2base64(b64, sizeof b64, (const unsigned char *) plain, strlen(plain),
                          sodium_base64_VARIANT_ORIGINAL);
        CHECK(asprintf(&line, "Authorization: Basic %s\r\n", b64) > 0);
        return line;
}

static GateHeadCheck check_with(const char *request_line, const char *auth_line) {
        char head[1024];

        snprintf(head, sizeof head, "%s\r\nHost: x\r\n%s\r\n", request_line, auth_line);
        return check(head);
}

/* Users' tokens: read-only ones write nothing under /api, expired ones are 401 with their own sentence,
 * the registry takes Basic only with the token's owner as user name, and anonymous pull lets reads in. */
static void test_user_tokens(void) {
        _cleanup_free_ char *admin_basic = basic_header("admin", TOKEN),
                            *dev_basic = basic_header("dev", DEV_TOKEN),
                            *wrong_user = basic_header("admin", DEV_TOKEN),
                            *ro_basic = basic_header("ro", RO_TOKEN),
                            *old_basic = basic_header("old", OLD_TOKEN);
        GateHeadCheck c;

        put_token(RO_TOKEN, 7, "ro", true, 0);
        put_token(OLD_TOKEN, 8, "old", false, NOW - 1);
        put_token(DEV_TOKEN, 9, "dev", false, NOW + 60);

        CHECK(check_with("GET /api/v1/status HTTP/1.1", "Authorization: Bearer " RO_TOKEN "\r\n").status ==
              0);
        CHECK(check_with("GET /api/v1/status HTTP/1.1", "Authorization: Bearer " DEV_TOKEN "\r\n").status ==
              0);
        CHECK(check_with("POST /api/v1/projects HTTP/1.1", "Authorization: Bearer " DEV_TOKEN "\r\n")
                      .status == 0);
        for (const char *m = "POST\0PUT\0PATCH\0DELETE\0"; *m; m += strlen(m) + 1) {
                char line[128];

                snprintf(line, sizeof line, "%s /api/v1/projects/x HTTP/1.1", m);
                c = check_with(line, "Authorization: Bearer " RO_TOKEN "\r\n");
                if (c.status != 403 || !strstr(c.message, "read-only") || !c.hint)
                        TEST_FAIL("%s with a read-only token: %d %s", m, c.status, c.message);
        }
        c = check_with("GET /api/v1/status HTTP/1.1", "Authorization: Bearer " OLD_TOKEN "\r\n");
        CHECK(c.status == 401 && strstr(c.message, "expired") && !c.registry);
        /* a token removed from the set is refused at once */
        CHECK(http_token_set_remove(gate_auth.tokens, 9) == 0);
        CHECK(check_with("GET /api/v1/status HTTP/1.1", "Authorization: Bearer " DEV_TOKEN "\r\n").status ==
              401);
        put_token(DEV_TOKEN, 9, "dev", false, NOW + 60);

        /* the registry: Basic with the owner's name, Bearer too; reads with a read-only token */
        CHECK(check_with("GET /v2/ HTTP/1.1", admin_basic).status == 0);
        CHECK(check_with("GET /v2/x/manifests/1 HTTP/1.1", dev_basic).status == 0);
        CHECK(check_with("GET /v2/ HTTP/1.1", ro_basic).status == 0);
        /* the registry answers a read-only push itself (DENIED in its own shape) */
        CHECK(check_with("POST /v2/x/blobs/uploads/ HTTP/1.1", ro_basic).status == 0);
        CHECK(check_with("GET /v2/ HTTP/1.1", "Authorization: Bearer " TOKEN "\r\n").status == 0);
        c = check_with("GET /v2/ HTTP/1.1", wrong_user);
        CHECK(c.status == 401 && c.registry && strstr(c.hint, "user name"));
        c = check_with("GET /v2/ HTTP/1.1", old_basic);
        CHECK(c.status == 401 && c.registry && strstr(c.message, "expired"));
        /* Basic is the registry's only */
        CHECK(check_with("GET /api/v1/status HTTP/1.1", admin_basic).status == 401);

        /* anonymous pull: reads without credentials pass, writes and wrong credentials do not */
        c = check_with("GET /v2/busybox/manifests/1 HTTP/1.1", "");
        CHECK(c.status == 401 && c.registry);
        gate_auth.registry_anonymous_pull = true;
        CHECK(check_with("GET /v2/busybox/manifests/1 HTTP/1.1", "").status == 0);
        CHECK(check_with("HEAD /v2/busybox/blobs/sha256:00 HTTP/1.1", "").status == 0);
        CHECK(check_with("POST /v2/busybox/blobs/uploads/ HTTP/1.1", "").status == 401);
        CHECK(check_with("DELETE /v2/busybox/manifests/1 HTTP/1.1", "").status == 401);
        CHECK(check_with("GET /v2/ HTTP/1.1", wrong_user).status == 401);
        CHECK(check_with("GET /api/v1/status HTTP/1.1", "").status == 401);
        gate_auth.registry_anonymous_pull = false;
}

#define DIGEST_A  \
        "sha256:" \
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* Whether the gate takes head (after its check let it through) as a blob read of its own. */
static bool blob_match(const char *head, GateBlobRequest *ret) {
        GateHeadCheck c = check(head);
        GateBlobRequest dummy;

        if (c.status != 0) /* refused by the check: the gate never asks (and would be told no) */
                CHECK(!api_gate_blob_match(head, strlen(head), &c, &dummy));
        return c.status == 0 && api_gate_blob_match(head, strlen(head), &c, ret ?: &dummy);
}

#define BLOB_HEAD(method, target, extra) method " " target " HTTP/1.1\r\nHost: x\r\n" AUTH extra "\r\n"

/* Exactly GET or HEAD of /v2/NAME/blobs/DIGEST with nothing the gate is unsure of; the rest is civetweb's. */
static void test_blob_target(void) {
        GateBlobRequest r;

        CHECK(blob_match(BLOB_HEAD("GET", "/v2/busybox/blobs/" DIGEST_A, ""), &r));
        CHECK(!r.head && !r.range && !r.close);
        CHECK_STREQ(r.digest, DIGEST_A);
        CHECK(blob_match(BLOB_HEAD("HEAD", "/v2/demo/web-1/a.b_c/blobs/" DIGEST_A, ""), &r) && r.head);
        /* the absolute form, as the gate forwards it */
        CHECK(blob_match(BLOB_HEAD("GET", "http://x:1/v2/busybox/blobs/" DIGEST_A, ""), NULL));
        /* a repository called "blobs/uploads" is a name like any other, as in the registry's routing */
        CHECK(blob_match(BLOB_HEAD("GET", "/v2/x/blobs/uploads/blobs/" DIGEST_A, ""), NULL));
        CHECK(blob_match(BLOB_HEAD("GET", "/v2/x/blobs/" DIGEST_A, "Connection: close\r\n"), &r) && r.close);
        CHECK(blob_match("GET /v2/x/blobs/" DIGEST_A " HTTP/1.0\r\n" AUTH "\r\n", &r) && r.close);
        CHECK(blob_match("GET /v2/x/blobs/" DIGEST_A " HTTP/1.0\r\n" AUTH "Connection: keep-alive\r\n\r\n",
                         &r) &&
              r.close); /* its answer carries no "Connection: keep-alive" */
        CHECK(blob_match(BLOB_HEAD("GET", "/v2/x/blobs/" DIGEST_A, "Content-Length: 0\r\n"), NULL));

        /* ranges: one, "bytes=A-" or "bytes=A-B" */
        CHECK(blob_match(BLOB_HEAD("GET", "/v2/x/blobs/" DIGEST_A, "Range: bytes=10-19\r\n"), &r));
        CHECK(r.range && r.range_from == 10 && r.range_to == 19);
        CHECK(blob_match(BLOB_HEAD("GET", "/v2/x/blobs/" DIGEST_A, "range:   bytes=7-  \r\n"), &r));
        CHECK(r.range && r.range_from == 7 && r.range_to == UINT64_MAX);
        /* past the end is still the gate's (its answer is 416) */
        CHECK(blob_match(BLOB_HEAD("GET", "/v2/x/blobs/" DIGEST_A, "Range: bytes=999999999-1\r\n"), &r));

        /* not the gate's */
        static const char *const others[] = {
                BLOB_HEAD("GET", "/v2/x/manifests/latest", ""),
                BLOB_HEAD("GET", "/v2/x/blobs/uploads/" DIGEST_A, ""),
                BLOB_HEAD("GET", "/v2/x/blobs/uploads/", ""),
                BLOB_HEAD("GET", "/v2/x/tags/list", ""),
                BLOB_HEAD("GET", "/v2/", ""),
                BLOB_HEAD("GET", "/v2/blobs/" DIGEST_A, ""),         /* no name */
                BLOB_HEAD("GET", "/v2//blobs/" DIGEST_A, ""),        /* empty name */
                BLOB_HEAD("GET", "/v2/Busybox/blobs/" DIGEST_A, ""), /* NAME_INVALID is civetweb's */
                BLOB_HEAD("GET", "/v2/a//b/blobs/" DIGEST_A, ""),
                BLOB_HEAD("GET", "/v2/a/../b/blobs/" DIGEST_A, ""),
                BLOB_HEAD("GET", "/v2/a-/blobs/" DIGEST_A, ""),
                BLOB_HEAD("GET", "/v2/a/blobs/" DIGEST_A "/", ""),
                BLOB_HEAD("GET", "/v2/a%2fb/blobs/" DIGEST_A, ""),
                BLOB_HEAD("GET", "/v2/x/blobs/sha256:0123", ""), /* DIGEST_INVALID too */
                BLOB_HEAD("GET", "/v2/x/blobs/md5:0123", ""),
                BLOB_HEAD("GET", "/v2/x/blobs/" DIGEST_A "0", ""),
                BLOB_HEAD(
                        "GET",
                        "/v2/x/blobs/sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
                        ""),
                BLOB_HEAD("GET", "/v2/x/blobs/" DIGEST_A "?x=1", ""),
                BLOB_HEAD("GET", "/v2/x/blob/" DIGEST_A, ""),
                BLOB_HEAD("GET", "/v2/x/xblobs/" DIGEST_A, ""),
                BLOB_HEAD("DELETE", "/v2/x/blobs/" DIGEST_A, ""),
                BLOB_HEAD("PUT", "/v2/x/blobs/" DIGEST_A, ""),
                BLOB_HEAD("get", "/v2/x/blobs/" DIGEST_A, ""),
                BLOB_HEAD("GET", "/v2/x/blobs/" DIGEST_A, "Content-Length: 2\r\n\r\n{}"),
                BLOB_HEAD("GET", "/v2/x/blobs/" DIGEST_A, "Transfer-Encoding: chunked\r\n"),
                BLOB_HEAD("GET", "/v2/x/blobs/" DIGEST_A, "Expect: 100-continue\r\n"),
                BLOB_HEAD("GET", "/v2/x/blobs/" DIGEST_A, "Connection: upgrade\r\nUpgrade: websocket\r\n"),
                BLOB_HEAD("GET", "/v2/x/blobs/" DIGEST_A, "Range: bytes=0-1,5-6\r\n"),
                BLOB_HEAD("GET", "/v2/x/blobs/" DIGEST_A, "Range: bytes=-5\r\n"),
                BLOB_HEAD("GET", "/v2/x/blobs/" DIGEST_A, "Range: bytes= 5-\r\n"),
                BLOB_HEAD("GET", "/v2/x/blobs/" DIGEST_A, "Range: Bytes=5-\r\n"),
                BLOB_HEAD("GET", "/v2/x/blobs/" DIGEST_A, "Range: bytes=5\r\n"),
                BLOB_HEAD("GET", "/v2/x/blobs/" DIGEST_A, "Range: bytes=5-x\r\n"),
                BLOB_HEAD("GET", "/v2/x/blobs/" DIGEST_A, "Range: bytes=1234567890123456789-\r\n"),
                BLOB_HEAD("GET", "/v2/x/blobs/" DIGEST_A, "Range: bytes=1-2\r\nRange: bytes=1-2\r\n"),
                BLOB_HEAD("GET", "/v2/x/blobs/" DIGEST_A, "Range: items=1-2\r\n"),
        };
        for (size_t i = 0; i < ELEMENTSOF(others); i++)
                if (blob_match(others[i], NULL))
                        TEST_FAIL("the gate took this blob read as its own: %s", others[i]);
        /* HTTP/1.1 without Host is left to civetweb */
        CHECK(!blob_match("GET /v2/x/blobs/" DIGEST_A " HTTP/1.1\r\n" AUTH "\r\n", NULL));
        /* a head the check refused never gets here, and is not taken if it does */
        {
                const char *h = BLOB_HEAD("GET", "/v2/x/blobs/" DIGEST_A, "");
                GateHeadCheck c = check("GET /v2/x/blobs/" DIGEST_A " HTTP/1.1\r\nHost: x\r\n\r\n");

                CHECK(c.status == 401);
                CHECK(!api_gate_blob_match(h, strlen(h), &c, &r));
        }
}

/* The whole answer gate_blob_reply_init() makes for req over blobs_fd, as the client reads it. */
static char *blob_answer_sized(int blobs_fd, const GateBlobRequest *req, int *ret_status, size_t *ret_size) {
        GateBlobReply b;
        int sv[2], r;
        char *out = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&out, &size);
        char buf[65536];

        CHECK(f);
        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
        CHECK_OK(gate_blob_reply_init(blobs_fd, req, &b));
        *ret_status = b.status;
        do {
                ssize_t n;

                r = gate_blob_reply_send(&b, sv[0]);
                CHECK(r >= 0);
                while ((n = read(sv[1], buf, sizeof buf)) > 0)
                        fwrite(buf, 1, (size_t) n, f);
        } while (r == 0);
        gate_blob_reply_done(&b);
        close(sv[0]);
        close(sv[1]);
        fclose(f);
        *ret_size = size;
        return out;
}

static char *blob_answer(int blobs_fd, const GateBlobRequest *req, int *ret_status) {
        size_t size;

        return blob_answer_sized(blobs_fd, req, ret_status, &size);
}

/* The answers, with the registry's heads (registry.c) and the file's bytes, over a real socket. */
static void test_blob_answers(void) {
        char dir[] = "/tmp/test-api-gate-blobs.XXXXXX", path[PATH_MAX], *a, *body;
        char data[300000], expect[4096];
        GateBlobRequest req = { .digest = DIGEST_A };
        int dfd, st;
        size_t size;

        for (size_t i = 0; i < sizeof data; i++)
                data[i] = (char) (i * 7 + i / 251);
        CHECK(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/%s", dir, DIGEST_A + strlen("sha256:"));
        CHECK_OK(write_file_atomic(path, data, sizeof data, 0644));
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        CHECK(dfd >= 0);

        a = blob_answer_sized(dfd, &req, &st, &size);
        snprintf(expect, sizeof expect,
                 "HTTP/1.1 200 OK\r\nDocker-Distribution-API-Version: registry/2.0\r\n"
                 "Content-Type: application/octet-stream\r\nContent-Length: %zu\r\nDocker-Content-Digest: "
                 "%s\r\nAccept-Ranges: bytes\r\nETag: \"%s\"\r\n\r\n",
                 sizeof data, DIGEST_A, DIGEST_A);
        CHECK(st == 200 && size == strlen(expect) + sizeof data && strncmp(a, expect, strlen(expect)) == 0);
        CHECK(memcmp(a + strlen(expect), data, sizeof data) == 0);
        free(a);

        req.head = true;
        a = blob_answer(dfd, &req, &st);
        CHECK(st == 200);
        CHECK_STREQ(a, expect); /* the same head, no body */
        free(a);

        req = (GateBlobRequest) { .digest = DIGEST_A, .range = true, .range_from = 1000, .range_to = 1009 };
        a = blob_answer_sized(dfd, &req, &st, &size);
        snprintf(expect, sizeof expect,
                 "HTTP/1.1 206 Partial Content\r\nDocker-Distribution-API-Version: registry/2.0\r\n"
                 "Content-Type: application/octet-stream\r\nContent-Length: 10\r\nContent-Range: bytes "
                 "1000-1009/%zu\r\nDocker-Content-Digest: %s\r\nAccept-Ranges: bytes\r\n\r\n",
                 sizeof data, DIGEST_A);
        CHECK(st == 206 && strncmp(a, expect, strlen(expect)) == 0);
        CHECK(size == strlen(expect) + 10 && memcmp(a + strlen(expect), data + 1000, 10) == 0);
        free(a);

        /* an open end, and an end past the blob's: to its last byte */
        req.range_from = sizeof data - 5;
        req.range_to = UINT64_MAX;
        a = blob_answer(dfd, &req, &st);
        body = strstr(a, "\r\n\r\n");
        CHECK(st == 206 && strstr(a, "Content-Length: 5\r\n") && body &&
              memcmp(body + 4, data + sizeof data - 5, 5) == 0);
        free(a);
        req.range_to = sizeof data + 100;
        a = blob_answer(dfd, &req, &st);
        CHECK(st == 206 && strstr(a, "Content-Length: 5\r\n"));
        free(a);

        /* unsatisfiable: past the end, or backwards */
        req.range_from = sizeof data;
        a = blob_answer(dfd, &req, &st);
        snprintf(expect, sizeof expect,
                 "HTTP/1.1 416 Range Not Satisfiable\r\nDocker-Distribution-API-Version: registry/2.0\r\n"
                 "Content-Range: bytes */%zu\r\nContent-Length: 0\r\n\r\n",
                 sizeof data);
        CHECK(st == 416);
        CHECK_STREQ(a, expect);
        free(a);
        req.range_from = 10;
        req.range_to = 9;
        a = blob_answer(dfd, &req, &st);
        CHECK(st == 416);
        free(a);

        /* missing: the registry's 404 document; a HEAD gets its head alone */
        req = (GateBlobRequest) {
                .digest = "sha256:"
                          "1123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        };
        a = blob_answer(dfd, &req, &st);
        CHECK(st == 404);
        CHECK_STREQ(a,
                    "HTTP/1.1 404 Not Found\r\nDocker-Distribution-API-Version: registry/2.0\r\n"
                    "Content-Type: application/json\r\nContent-Length: 99\r\nCache-Control: no-store\r\n\r\n"
                    "{\"errors\":[{\"code\":\"BLOB_UNKNOWN\",\"message\":\"The store has no blob of that "
                    "digest.\",\"detail\":{}}]}\n");
        free(a);
        req.head = true;
        a = blob_answer(dfd, &req, &st);
        CHECK(st == 404 && strstr(a, "Content-Length: 99\r\n") && !strstr(a, "errors"));
        free(a);

        /* a name that is a link or a directory is no blob */
        req.head = false;
        snprintf(path, sizeof path, "%s/%s", dir, req.digest + strlen("sha256:"));
        CHECK(symlink(DIGEST_A + strlen("sha256:"), path) == 0);
        a = blob_answer(dfd, &req, &st);
        CHECK(st == 404);
        free(a);
        CHECK(unlink(path) == 0);

        /* an empty blob: 200 with no body, and no range is satisfiable */
        snprintf(path, sizeof path, "%s/%s", dir, req.digest + strlen("sha256:"));
        CHECK_OK(write_file_atomic(path, "", 0, 0644));
        a = blob_answer(dfd, &req, &st);
        CHECK(st == 200 && strstr(a, "Content-Length: 0\r\n") && strstr(a, "\r\n\r\n")[4] == 0);
        free(a);
        req.range = true;
        a = blob_answer(dfd, &req, &st);
        CHECK(st == 416 && strstr(a, "bytes */0\r\n"));
        free(a);

        /* the file opened stays readable when its name goes (a gc meanwhile) */
        {
                GateBlobReply b;
                int sv[2], r;
                size_t got = 0;
                ssize_t n;
                char buf[65536];

                req = (GateBlobRequest) { .digest = DIGEST_A };
                CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
                CHECK_OK(gate_blob_reply_init(dfd, &req, &b));
                snprintf(path, sizeof path, "%s/%s", dir, DIGEST_A + strlen("sha256:"));
                CHECK(unlink(path) == 0);
                do {
                        r = gate_blob_reply_send(&b, sv[0]);
                        CHECK(r >= 0);
                        while ((n = read(sv[1], buf, sizeof buf)) > 0)
                                got += (size_t) n;
                } while (r == 0);
                CHECK(got == b.head_len + sizeof data);
                gate_blob_reply_done(&b);
                close(sv[0]);
                close(sv[1]);
        }
        snprintf(path, sizeof path, "%s/%s", dir, req.digest + strlen("sha256:"));
        (void) unlink(path);
        snprintf(path, sizeof path, "%s/%s", dir,
                 "1123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
        (void) unlink(path);
        close(dfd);
        CHECK(rmdir(dir) == 0);
}

/* A head the gate must answer itself with status, its message containing word. */
static void check_refused(const char *head, int status, const char *word) {
        GateHeadCheck c = check(head);

        if (c.status != status || !strstr(c.message, word) || !c.hint || !*c.hint)
                TEST_FAIL("%s: status %d, message \"%s\"; expected %d with \"%s\"", head, c.status,
                          c.message, status, word);
}

static void test_forwarded(void) {
        const char *h = "GET /api/v1/status HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n";
        GateHeadCheck c = check(h);

        CHECK(c.status == 0);
        CHECK(c.head_len == strlen(h));
        CHECK(c.body == HTTP_BODY_NONE);
        CHECK(c.origin_off == c.target_off && c.origin_len == strlen("/api/v1/status"));
        CHECK(memcmp(h + c.origin_off, "/api/v1/status", c.origin_len) == 0);

        /* the scheme is case-insensitive and spaces after it are allowed, as civetweb's check allows */
        CHECK(check("GET / HTTP/1.1\r\nHost: x\r\nauthorization: bearer   " TOKEN "\r\n\r\n").status == 0);

        c = check("POST /api/v1/projects HTTP/1.1\r\nHost: x\r\n" AUTH
                  "Content-Length: 12\r\n\r\n{\"name\":\"x\"}");
        CHECK(c.status == 0 && c.body == HTTP_BODY_LENGTH && c.content_length == 12);
        CHECK(!c.expect_continue);

        c = check("POST /api/v1/images/import HTTP/1.1\r\nHost: x\r\n" AUTH "Transfer-Encoding: chunked\r\n"
                  "Expect: 100-continue\r\n\r\n");
        CHECK(c.status == 0 && c.body == HTTP_BODY_CHUNKED && c.expect_continue);

        /* HTTP/1.0 needs no Host */
        CHECK(check("GET /api/v1/status HTTP/1.0\r\n" AUTH "\r\n").status == 0);
}

/* POST /hooks/… needs no token (the handler checks the signature); nothing else escapes the token. */
static void test_hooks_without_token(void) {
        GateHeadCheck c =
                check("POST /hooks/git/0123abcd HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}");

        CHECK(c.status == 0 && c.body == HTTP_BODY_LENGTH && c.content_length == 2);
        CHECK(check("POST http://x:1/hooks/git/ab HTTP/1.1\r\nHost: x\r\n\r\n").status == 0);
        check_refused("GET /hooks/git/ab HTTP/1.1\r\nHost: x\r\n\r\n", 401, "token");
        check_refused("POST /hooks/../api/v1/projects HTTP/1.1\r\nHost: x\r\n\r\n", 401, "token");
        check_refused("POST /hooks/%2e%2e/api/v1/projects HTTP/1.1\r\nHost: x\r\n\r\n", 401, "token");
        check_refused("POST /hooks/git/ab?x=1 HTTP/1.1\r\nHost: x\r\n\r\n", 401, "token");
        check_refused("POST /hooks/ HTTP/1.1\r\nHost: x\r\n\r\n", 401, "token");
        check_refused("POST /api/v1/hooks/git/ab HTTP/1.1\r\nHost: x\r\n\r\n", 401, "token");
        check_refused("POST /hooksx/git/ab HTTP/1.1\r\nHost: x\r\n\r\n", 401, "token");
}

/* GET and HEAD of "/" and of plain paths under /console/ need no token (the console's files); nothing near
 * them escapes it: a write, a dot segment, an escape, a look-alike prefix, the API. */
static void test_console_without_token(void) {
        CHECK(check("GET / HTTP/1.1\r\nHost: x\r\n\r\n").status == 0);
        CHECK(check("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n").status == 0);
        CHECK(check("GET /console/app.0123456789ab.js HTTP/1.1\r\nHost: x\r\n\r\n").status == 0);
        CHECK(check("GET http://x:1/console/app.css HTTP/1.1\r\nHost: x\r\n\r\n").status == 0);
        check_refused("POST / HTTP/1.1\r\nHost: x\r\n\r\n", 401, "token");
        check_refused("POST /console/app.js HTTP/1.1\r\nHost: x\r\n\r\n", 401, "token");
        check_refused("GET /console/../api/v1/projects HTTP/1.1\r\nHost: x\r\n\r\n", 401, "token");
        check_refused("GET /console/%2e%2e HTTP/1.1\r\nHost: x\r\n\r\n", 401, "token");
        check_refused("GET /consolex/app.js HTTP/1.1\r\nHost: x\r\n\r\n", 401, "token");
        check_refused("GET /api/v1/projects HTTP/1.1\r\nHost: x\r\n\r\n", 401, "token");
}

static void test_absolute_form(void) {
        const char *h =
                "GET http://127.0.0.1:7070/api/v1/status?x=1 HTTP/1.1\r\nHost: 127.0.0.1:7070\r\n" AUTH
                "\r\n";
        GateHeadCheck c = check(h);

        CHECK(c.status == 0);
        CHECK(c.target_len == strlen("http://127.0.0.1:7070/api/v1/status?x=1"));
        CHECK(c.origin_len == strlen("/api/v1/status?x=1"));
        CHECK(memcmp(h + c.origin_off, "/api/v1/status?x=1", c.origin_len) == 0);

        check_refused("GET http://127.0.0.1:7070 HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n", 400, "no path");
        check_refused("OPTIONS * HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n", 400, "not a path");
        check_refused("GET https://x/api/v1/status HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n", 400, "target");
}

static void test_framing(void) {
        check_refused("POST /api/v1/projects HTTP/1.1\r\nHost: x\r\n" AUTH
                      "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
                      400, "repeated Content-Length");
        /* even two equal ones: the first-wins reading is what let two differ */
        check_refused("POST /api/v1/projects HTTP/1.1\r\nHost: x\r\n" AUTH
                      "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
                      400, "Content-Length");
        check_refused("POST /api/v1/projects HTTP/1.1\r\nHost: x\r\n" AUTH
                      "Content-Length: 5, 6\r\n\r\nhello",
                      400, "Content-Length");
        check_refused("POST /api/v1/projects HTTP/1.1\r\nHost: x\r\n" AUTH
                      "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                      400, "Transfer-Encoding");
        check_refused("POST /api/v1/projects HTTP/1.1\r\nHost: x\r\n" AUTH "Transfer-Encoding: gzip\r\n\r\n",
                      400, "Transfer-Encoding");
        check_refused("GET /api/v1/status HTTP/1.1\nHost: x\r\n" AUTH "\r\n", 400, "malformed");
        check_refused("GET /api/v1/status HTTP/1.1\r\nHost: x\r\n folded\r\n" AUTH "\r\n", 400, "folding");
        check_refused("GET /api/v1/status HTTP/1.1\r\n" AUTH "\r\n", 400, "Host");
        check_refused("GET /api/v1/status HTTP/2.0\r\nHost: x\r\n" AUTH "\r\n", 505, "HTTP/1.1");
        check_refused("CONNECT x:443 HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n", 405, "CONNECT");
        check_refused("GET /api/v1/status HTTP/1.1\r\nHost: x\r\n" AUTH AUTH "\r\n", 400, "Authorization");
}

static void test_token(void) {
        /* framing is judged first: a smuggling attempt gets 400 with or without a token */
        check_refused("GET /api/v1/status HTTP/1.1\r\nHost: x\r\n\r\n", 401, "token");
        check_refused("GET /api/v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cretX\r\n\r\n", 401,
                      "token");
        check_refused("GET /api/v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cre\r\n\r\n", 401,
                      "token");
        check_refused("GET /api/v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Basic s3cret\r\n\r\n", 401,
                      "token");
        check_refused("GET /api/v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer\r\n\r\n", 401,
                      "token");
        check_refused("GET /api/v1/status HTTP/1.1\r\nHost: x\r\n\r\n", 401, HTTP_TOKEN_MISSING_MESSAGE);
}

/* --- live */

#define UPLOAD_SIZE (3U * 1024U * 1024U) /* past HTTP_JSON_BODY_MAX: streamed, not buffered */
#define STREAM_SIZE (4U * 1024U * 1024U)

static int h_upload(HttpRequest *req) {
        char path[] = "/tmp/test-api-gate-XXXXXX";
        _cleanup_close_ int fd = mkostemp(path, O_CLOEXEC);
        uint64_t size = 0;
        int r;

        CHECK(fd >= 0);
        unlink(path);
        r = http_read_body_to_fd(req->conn, fd, 64U * 1024U * 1024U, &size);
        if (r < 0)
                return http_reply_errno(req->conn, r, NULL, NULL, "Upload failed");
        _cleanup_json_ json_t *j = json_pack("{s:I}", "size", (json_int_t) size);
        return http_reply_json(req->conn, 200, j);
}

static int h_tiny(HttpRequest *req) {
        _cleanup_free_ char *body = NULL;
        size_t size = 0;
        int r = http_read_body(req->conn, 100, &body, &size);

        return http_reply_errno(req->conn, r < 0 ? r : -EFBIG, NULL, NULL, "Upload refused");
}

static int h_stream(HttpRequest *req) {
        static char chunk[64 * 1024];

        memset(chunk, 'x', sizeof chunk);
        if (http_stream_begin(req->conn, 200, "application/octet-stream", NULL) < 0)
                return 200;
        for (size_t sent = 0; sent < STREAM_SIZE; sent += sizeof chunk)
                if (http_stream_write(req->conn, chunk, sizeof chunk) < 0)
                        return 200;
        (void) http_stream_end(req->conn);
        return 200;
}

static const HttpRoute routes[] = {
        { "POST", "upload", h_upload, HTTP_ROLE_VIEWER },
        { "POST", "tiny", h_tiny, HTTP_ROLE_VIEWER },
        { "GET", "stream", h_stream, HTTP_ROLE_VIEWER },
};

static int dial(int port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
        struct timeval tv = { .tv_sec = 20 };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        CHECK(fd >= 0);
        inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
        CHECK(connect(fd, (struct sockaddr *) &sa, sizeof sa) == 0);
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        return fd;
}

/* Reads to EOF; with slow, in small reads with pauses (a slow client). */
static char *read_answer(int fd, bool slow, size_t *ret_size) {
        size_t n = 0, cap = STREAM_SIZE + 65536;
        char *buf = malloc(cap + 1);
        ssize_t k;

        CHECK(buf);
        while (n < cap && (k = read(fd, buf + n, slow ? MIN((size_t) 4096, cap - n) : cap - n)) > 0) {
                n += (size_t) k;
                if (slow && n % (512U * 1024U) < 4096)
                        usleep(20 * 1000);
        }
        buf[n] = 0;
        *ret_size = n;
        return buf;
}

static void test_live(void) {
        HttpServerConfig cfg = {
                .listen = "127.0.0.1:0", .token = TOKEN, .routes = routes, .n_routes = ELEMENTSOF(routes)
        };
        _cleanup_free_ char *body = malloc(UPLOAD_SIZE);
        HttpServer *s = NULL;
        char head[512], *answer;
        size_t size;
        int port, fd;

        CHECK(body);
        memset(body, 'b', UPLOAD_SIZE);
        CHECK(http_server_start(&cfg, &s) == 0);
        port = http_server_port(s);
        CHECK(port > 0);

        /* A streamed upload: all of it reaches the handler. */
        fd = dial(port);
        snprintf(head, sizeof head,
                 "POST /api/v1/upload HTTP/1.1\r\nHost: x\r\n" AUTH "Content-Length: %u\r\n\r\n",
                 UPLOAD_SIZE);
        CHECK(loop_write(fd, head, strlen(head)) == 0);
        CHECK(loop_write(fd, body, UPLOAD_SIZE) == 0);
        answer = read_answer(fd, false, &size);
        if (!strstr(answer, "HTTP/1.1 200") || !strstr(answer, "\"size\":3145728"))
                TEST_FAIL("streamed upload: %s", answer);
        free(answer);
        close(fd);

        /* A chunked upload likewise, sent in pieces. */
        fd = dial(port);
        snprintf(head, sizeof head,
                 "POST /api/v1/upload HTTP/1.1\r\nHost: x\r\n" AUTH "Transfer-Encoding: chunked\r\n\r\n");
        CHECK(loop_write(fd, head, strlen(head)) == 0);
        for (int i = 0; i < 4; i++) {
                CHECK(loop_write(fd, "10000\r\n", 7) == 0);
                CHECK(loop_write(fd, body, 0x10000) == 0);
                CHECK(loop_write(fd, "\r\n", 2) == 0);
                usleep(50 * 1000);
        }
        CHECK(loop_write(fd, "0\r\n\r\n", 5) == 0);
        answer = read_answer(fd, false, &size);
        if (!strstr(answer, "HTTP/1.1 200") || !strstr(answer, "\"size\":262144"))
                TEST_FAIL("chunked upload: %s", answer);
        free(answer);
        close(fd);

        /* An answer before the upload is over (413 after the head) still reaches the client. */
        fd = dial(port);
        snprintf(head, sizeof head,
                 "POST /api/v1/tiny HTTP/1.1\r\nHost: x\r\n" AUTH "Content-Length: %u\r\n\r\n", UPLOAD_SIZE);
        CHECK(loop_write(fd, head, strlen(head)) == 0);
        (void) loop_write(fd, body, UPLOAD_SIZE);
        answer = read_answer(fd, false, &size);
        if (!strstr(answer, "HTTP/1.1 413"))
                TEST_FAIL("early answer: %s", answer);
        free(answer);
        close(fd);

        /* A long chunked answer read slowly arrives whole. */
        fd = dial(port);
        snprintf(head, sizeof head, "GET /api/v1/stream HTTP/1.1\r\nHost: x\r\n" AUTH "\r\n");
        CHECK(loop_write(fd, head, strlen(head)) == 0);
        answer = read_answer(fd, true, &size);
        CHECK(strncmp(answer, "HTTP/1.1 200", 12) == 0);
        CHECK(size > STREAM_SIZE && strcmp(answer + size - 5, "0\r\n\r\n") == 0);
        free(answer);
        close(fd);

        /* A head in pieces, within the deadline, is served. */
        fd = dial(port);
        CHECK(loop_write(fd, "GET /api/v1/str", 15) == 0);
        usleep(300 * 1000);
        CHECK(loop_write(fd, "eam HTTP/1.1\r\nHost: x\r\n", strlen("eam HTTP/1.1\r\nHost: x\r\n")) == 0);
        usleep(300 * 1000);
        CHECK(loop_write(fd, AUTH "\r\n", strlen(AUTH) + 2) == 0);
        answer = read_answer(fd, false, &size);
        CHECK(strncmp(answer, "HTTP/1.1 200", 12) == 0 && size > STREAM_SIZE);
        free(answer);
        close(fd);

        /* An idle client is answered 408 after the head deadline, not held for a minute. */
        {
                struct timeval t0, t1;

                fd = dial(port);
                CHECK(loop_write(fd, "GET /", 5) == 0);
                gettimeofday(&t0, NULL);
                answer = read_answer(fd, false, &size);
                gettimeofday(&t1, NULL);
                if (!strstr(answer, "HTTP/1.1 408") || !strstr(answer, "\"hint\""))
                        TEST_FAIL("idle client: %s", answer);
                CHECK(t1.tv_sec - t0.tv_sec <= (long) GATE_HEAD_TIMEOUT_SEC + 2);
                free(answer);
                close(fd);
        }

        http_server_stop(s);
}

int main(void) {
        _cleanup_(http_token_set_freep) HttpTokenSet *tokens = NULL;

        CHECK(http_token_set_new(&tokens) == 0);
        gate_auth.tokens = tokens;
        put_token(TOKEN, HTTP_TOKEN_ADMIN_ID, "admin", false, 0);
        test_forwarded();
        test_hooks_without_token();
        test_console_without_token();
        test_absolute_form();
        test_framing();
        test_token();
        test_user_tokens();
        test_blob_target();
        test_blob_answers();
        test_live();
        printf("test-api-gate: OK\n");
        return 0;
}
