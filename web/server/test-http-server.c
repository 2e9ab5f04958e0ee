/* Unit tests for web/server: listen-string parsing, route matching, and a live server (gate and civetweb)
 * on a free loopback port: auth (401 JSON), routing (404/405), per-segment decoding, chunked request
 * bodies, absolute-form targets and duplicate lengths. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fs-util.h"
#include "http-response.h"
#include "http-server.h"
#include "json-util.h"

#include "tests.h"

static void test_parse_listen(void) {
        char *addr = NULL;
        unsigned port;

        CHECK(http_parse_listen("127.0.0.1:7070", &addr, &port) == 0 && streq(addr, "127.0.0.1") &&
              port == 7070);
        free(addr);
        CHECK(http_parse_listen("[::1]:80", &addr, &port) == 0 && streq(addr, "::1") && port == 80);
        free(addr);
        CHECK(http_parse_listen("127.0.0.1", &addr, &port) == -EINVAL);
        CHECK(http_parse_listen("127.0.0.1:", &addr, &port) == -EINVAL);
        CHECK(http_parse_listen("127.0.0.1:70000", &addr, &port) == -EINVAL);
        CHECK(http_parse_listen("localhost:80", &addr, &port) == -EINVAL);
        CHECK(http_parse_listen("", &addr, &port) == -EINVAL);
}

static void test_route_match(void) {
        char *a[] = { (char *) "images", (char *) "library/busybox:1", (char *) "export" };

        CHECK(http_route_match("images/*/export", a, 3));
        CHECK(!http_route_match("images/*", a, 3));
        CHECK(http_route_match("images/*", a, 2));
        CHECK(http_route_match("images", a, 1));
        CHECK(!http_route_match("images/gc", a, 2));
        CHECK(!http_route_match("status", a, 1));
}

static int h_echo(HttpRequest *req) {
        _cleanup_json_ json_t *j =
                json_pack("{s:s,s:i}", "segment", req->n_segments > 1 ? req->segments[1] : "", "n",
                          (int) req->n_segments);
        return http_reply_json(req->conn, 200, j);
}

static int h_upload(HttpRequest *req) {
        char path[] = "/tmp/test-http-upload-XXXXXX";
        _cleanup_close_ int fd = mkostemp(path, O_CLOEXEC);
        uint64_t size = 0;
        int r;

        CHECK(fd >= 0);
        unlink(path);
        r = http_read_body_to_fd(req->conn, fd, 100, &size);
        if (r < 0)
                return http_reply_errno(req->conn, r, NULL, NULL, "Upload failed");
        _cleanup_json_ json_t *j = json_pack("{s:I}", "size", (json_int_t) size);
        return http_reply_json(req->conn, 200, j);
}

static const HttpRoute routes[] = {
        { "GET", "things/*", h_echo, HTTP_ROLE_VIEWER },
        { "POST", "upload", h_upload, HTTP_ROLE_VIEWER },
};

static char *roundtrip(int port, const char *request) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
        char *buf = calloc(1, 65536);
        size_t n = 0;
        ssize_t k;
        int fd;

        CHECK(buf);
        inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        CHECK(fd >= 0);
        CHECK(connect(fd, (struct sockaddr *) &sa, sizeof sa) == 0);
        CHECK(loop_write(fd, request, strlen(request)) == 0);
        shutdown(fd, SHUT_WR);
        while ((k = read(fd, buf + n, 65535 - n)) > 0)
                n += (size_t) k;
        close(fd);
        return buf;
}

/* A request to the live server (its method, then the rest of it) and what its answer must contain. */
static const struct {
        const char *method, *rest;
        const char *expect[3];
} live_cases[] = {
        { "GET",
          "/api/v1/things/x HTTP/1.1\r\nHost: x\r\n\r\n",
          { "HTTP/1.1 401", "\"error\"", "\"hint\"" } },
        { "GET",
          "/api/v1/things/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cretX\r\n\r\n",
          { "HTTP/1.1 401" } },
        { "GET",
          "/api/v1/things/library%2Fbusybox%3Alatest HTTP/1.1\r\nHost: x\r\n"
          "Authorization: Bearer s3cret\r\n\r\n",
          { "HTTP/1.1 200", "\"segment\":\"library/busybox:latest\"", "\"n\":2" } },
        { "GET",
          "/api/v1/nothing HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n\r\n",
          { "HTTP/1.1 404", "\"error\"" } },
        { "DELETE",
          "/api/v1/things/a HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n\r\n",
          { "HTTP/1.1 405" } },
        { "POST",
          "/api/v1/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n"
          "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\n, w\r\n0\r\n\r\n",
          { "HTTP/1.1 200", "\"size\":8" } },
        { "POST",
          "/api/v1/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n"
          "Content-Length: 500\r\n\r\n",
          { "HTTP/1.1 413" } },
        /* through the gate: an absolute-form target is answered as its origin form */
        { "GET",
          "http://127.0.0.1/api/v1/things/abs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n\r\n",
          { "HTTP/1.1 200", "\"segment\":\"abs\"" } },
        /* two lengths are refused before any handler reads either */
        { "POST",
          "/api/v1/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n"
          "Content-Length: 3\r\nContent-Length: 8\r\n\r\nabcdefgh",
          { "HTTP/1.1 400", "Content-Length", "\"hint\"" } },
        /* a small body sent after the head (the gate buffers it, then forwards) */
        { "POST",
          "/api/v1/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n"
          "Content-Length: 8\r\n\r\nabcdefgh",
          { "HTTP/1.1 200", "\"size\":8" } },
};

static void test_live(void) {
        HttpServerConfig cfg = {
                .listen = "127.0.0.1:0",
                .token = "s3cret",
                .routes = routes,
                .n_routes = ELEMENTSOF(routes),
        };
        HttpServer *s = NULL;
        int port;

        CHECK(http_server_start(&cfg, &s) == 0);
        port = http_server_port(s);
        CHECK(port > 0);

        for (size_t i = 0; i < ELEMENTSOF(live_cases); i++) {
                _cleanup_free_ char *request = NULL, *resp = NULL;

                CHECK(asprintf(&request, "%s %s", live_cases[i].method, live_cases[i].rest) > 0);
                resp = roundtrip(port, request);

                for (size_t k = 0; k < ELEMENTSOF(live_cases[i].expect) && live_cases[i].expect[k]; k++)
                        if (!strstr(resp, live_cases[i].expect[k]))
                                TEST_FAIL("no %s in the answer to %s: %s", live_cases[i].expect[k], request,
                                          resp);
        }

        http_server_stop(s);

        /* A port in use is reported as such. */
        {
                struct sockaddr_in sa = { .sin_family = AF_INET };
                socklen_t len = sizeof sa;
                char listen_s[64];
                int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

                inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
                CHECK(bind(fd, (struct sockaddr *) &sa, sizeof sa) == 0 && listen(fd, 1) == 0);
                CHECK(getsockname(fd, (struct sockaddr *) &sa, &len) == 0);
                snprintf(listen_s, sizeof listen_s, "127.0.0.1:%u", ntohs(sa.sin_port));
                cfg.listen = listen_s;
                CHECK(http_server_start(&cfg, &s) == -EADDRINUSE);
                close(fd);
        }
}

/* A full disk is 507 Insufficient Storage (the request can work once space is freed), never a 500. */
static void test_status_from_errno(void) {
        CHECK(http_status_from_errno(-ENOSPC) == 507);
        CHECK(http_status_from_errno(-EDQUOT) == 507);
        CHECK(http_status_from_errno(-EIO) == 500);
        CHECK(http_status_from_errno(-ENOENT) == 404);
}

int main(void) {
        test_status_from_errno();
        test_parse_listen();
        test_route_match();
        test_live();
        printf("test-http-server: OK\n");
        return 0;
}
