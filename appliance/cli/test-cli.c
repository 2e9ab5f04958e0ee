/* Unit tests for the CLI's plumbing: URL parsing and encoding of refs, the HTTP client's response
 * framing (Content-Length, chunked, cut streams), and tar entry name safety. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "archive-stream.h"
#include "cli.h"
#include "cmd-model-args.h"
#include "fs-util.h"
#include "http-client.h"
#include "path-util.h"

#include "tests.h"

static void test_url(void) {
        HttpUrl u = {};

        CHECK(http_url_parse("http://127.0.0.1:7070", &u) == 0);
        CHECK(streq(u.host, "127.0.0.1") && streq(u.port, "7070") && streq(u.base_path, ""));
        http_url_done(&u);
        CHECK(http_url_parse("http://[::1]:8080/prefix/", &u) == 0);
        CHECK(streq(u.host, "::1") && streq(u.port, "8080") && streq(u.base_path, "/prefix"));
        http_url_done(&u);
        CHECK(http_url_parse("http://example", &u) == 0 && streq(u.port, "80"));
        http_url_done(&u);
        CHECK(http_url_parse("https://127.0.0.1:7070", &u) == -EINVAL);
        CHECK(http_url_parse("http://127.0.0.1:0", &u) == -EINVAL);
        CHECK(http_url_parse("http://127.0.0.1:99999", &u) == -EINVAL);
        CHECK(http_url_parse("http://:80", &u) == -EINVAL);
        CHECK(http_url_parse("127.0.0.1:7070", &u) == -EINVAL);
}

static void test_encode(void) {
        _cleanup_free_ char *a = http_url_encode("library/busybox:1.36"), *b = http_url_encode("a b&c"),
                            *p = cli_image_path("ghcr.io/x/y:1", "/export");

        CHECK(streq(a, "library%2Fbusybox%3A1.36"));
        CHECK(streq(b, "a%20b%26c"));
        CHECK(streq(p, "/api/v1/images/ghcr.io%2Fx%2Fy%3A1/export"));
}

static void test_entry_names(void) {
        CHECK(path_is_safe_relative("blobs/sha256/abc"));
        CHECK(path_is_safe_relative("./index.json"));
        CHECK(path_is_safe_relative("a..b/c"));
        CHECK(!path_is_safe_relative("../x"));
        CHECK(!path_is_safe_relative("a/../../x"));
        CHECK(!path_is_safe_relative("a/.."));
        CHECK(!path_is_safe_relative("/etc/passwd"));
        CHECK(!path_is_safe_relative(""));
}

/* Feeds a canned response through a socketpair and reads it back with the client. */
static int exchange(const char *response, int *ret_status, char **ret_body, char **ret_header) {
        int sv[2];
        HttpConn *c = NULL;
        char req[512];
        int r;

        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        CHECK(http_conn_open_fd(sv[0], "h", "tok", "GET", "/api/v1/status", NULL, HTTP_BODY_NONE, &c) == 0);
        ssize_t n = read(sv[1], req, sizeof req - 1);
        CHECK(n > 0);
        req[n] = 0;
        CHECK(strstr(req, "GET /api/v1/status HTTP/1.1\r\n") &&
              strstr(req, "Authorization: Bearer tok\r\n"));
        CHECK(loop_write(sv[1], response, strlen(response)) == 0);
        close(sv[1]);

        r = http_conn_read_head(c);
        if (r >= 0) {
                *ret_status = r;
                const char *h = http_conn_header(c, "x-slipway-digest");
                *ret_header = h ? strdup(h) : NULL;
                r = http_conn_read_body_full(c, 1024, ret_body, NULL);
        }
        http_conn_free(c);
        return r;
}

static void test_framing(void) {
        char *body = NULL, *hdr = NULL;
        int status = 0;

        CHECK(exchange(
                      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Slipway-Digest: sha256:1\r\n\r\nhelloEXTRA",
                      &status, &body, &hdr) == 0);
        CHECK(status == 200 && streq(body, "hello") && streq(hdr, "sha256:1"));
        free(body), free(hdr), body = hdr = NULL;

        CHECK(exchange(
                      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n",
                      &status, &body, &hdr) == 0);
        CHECK(streq(body, "hello, world") && !hdr);
        free(body), body = NULL;

        /* Cut streams are errors, not short bodies. */
        CHECK(exchange("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", &status, &body,
                       &hdr) == -EPIPE);
        CHECK(exchange("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", &status, &body, &hdr) ==
              -EPIPE);
        CHECK(exchange("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", &status, &body,
                       &hdr) == -EBADMSG);
        CHECK(exchange("garbage\r\n\r\n", &status, &body, &hdr) == -EBADMSG);

        /* Read to close when unframed. */
        CHECK(exchange("HTTP/1.1 404 Not Found\r\n\r\n{\"error\":\"x\"}", &status, &body, &hdr) == 0);
        CHECK(status == 404 && streq(body, "{\"error\":\"x\"}"));
        free(body);
}

static void test_durations(void) {
        uint32_t ms = 7;

        CHECK(model_parse_duration_ms("500ms", &ms) == 0 && ms == 500);
        CHECK(model_parse_duration_ms("2s", &ms) == 0 && ms == 2000);
        CHECK(model_parse_duration_ms("1.5s", &ms) == 0 && ms == 1500);
        CHECK(model_parse_duration_ms("2", &ms) == 0 && ms == 2000);
        CHECK(model_parse_duration_ms("1m", &ms) == 0 && ms == 60000);
        CHECK(model_parse_duration_ms("1min", &ms) == 0 && ms == 60000);
        CHECK(model_parse_duration_ms("1m30s", &ms) == 0 && ms == 90000);
        CHECK(model_parse_duration_ms("0", &ms) == -EINVAL);
        CHECK(model_parse_duration_ms("2h", &ms) == -EINVAL);
        CHECK(model_parse_duration_ms("-1s", &ms) == -EINVAL);
        CHECK(model_parse_duration_ms("soon", &ms) == -EINVAL);
        CHECK(model_parse_duration_ms("", &ms) == -EINVAL);
        CHECK(ms == 90000);
}

int main(void) {
        test_url();
        test_encode();
        test_entry_names();
        test_framing();
        test_durations();
        printf("test-cli: OK\n");
        return 0;
}
