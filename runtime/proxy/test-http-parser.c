/* Unit tests for the strict HTTP/1.x head parser: valid heads, framing, and every smuggling shape
 * the proxy must refuse. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http-parser.h"

#include "tests.h"

static HttpHead head;

static int req(const char *s, HttpError *e) {
        size_t scan = 0;
        int n = http_find_head_end(s, strlen(s), &scan);
        if (n <= 0)
                return -EAGAIN;
        return http_request_parse(s, (size_t) n, &head, e);
}

static void test_valid(void) {
        HttpError e;
        CHECK(req("GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nX-A:  v  \r\n\r\n", &e) == 0);
        CHECK(head.method_len == 3 && memcmp(head.method, "GET", 3) == 0);
        CHECK(head.target_len == 6 && memcmp(head.target, "/a?b=c", 6) == 0);
        CHECK(head.version_minor == 1 && head.body == HTTP_BODY_NONE && !head.conn_close);
        CHECK(head.n_headers == 2 && head.headers[1].value_len == 1 && head.headers[1].value[0] == 'v');
        CHECK(head.host_len == 11);

        CHECK(req("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n\r\n", &e) == 0);
        CHECK(head.body == HTTP_BODY_LENGTH && head.content_length == 12);
        CHECK(req("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n", &e) == 0);
        CHECK(head.body == HTTP_BODY_CHUNKED);
        CHECK(req("GET / HTTP/1.0\r\n\r\n", &e) == 0);
        CHECK(head.conn_close && head.host == NULL);
        CHECK(req("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &e) == 0);
        CHECK(!head.conn_close);
        CHECK(req("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n",
                  &e) == 0);
        CHECK(head.conn_upgrade);
        CHECK(req("PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", &e) ==
              0);
        CHECK(head.expect_continue);
        CHECK(req("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n", &e) == 0);
        CHECK(head.is_head_method);
        CHECK(req("GET http://h/x HTTP/1.1\r\nHost: h\r\n\r\n", &e) == 0);
}

static void expect_bad(const char *s, HttpError want) {
        HttpError e = HTTP_ERROR_NONE;
        int r = req(s, &e);
        if (r != -EBADMSG || e != want) {
                fprintf(stderr, "accepted or misclassified (r=%d e=%d): %s\n", r, (int) e, s);
                exit(1);
        }
}

static void test_smuggling(void) {
        expect_bad("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
                   HTTP_ERROR_BAD_REQUEST);
        expect_bad("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 2\r\n\r\n", HTTP_ERROR_BAD_REQUEST);
        expect_bad("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\n", HTTP_ERROR_BAD_REQUEST);
        expect_bad("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                   HTTP_ERROR_BAD_REQUEST);
        expect_bad("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                   HTTP_ERROR_BAD_REQUEST);
        expect_bad("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
                   HTTP_ERROR_BAD_REQUEST);
        expect_bad("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", HTTP_ERROR_BAD_REQUEST);
        expect_bad(
                "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                HTTP_ERROR_BAD_REQUEST);
        expect_bad("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", HTTP_ERROR_BAD_REQUEST);
        expect_bad("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n", HTTP_ERROR_BAD_REQUEST);
        expect_bad("GET / HTTP/1.1\r\nHost: h\r\nX-A : a\r\n\r\n", HTTP_ERROR_BAD_REQUEST);
        expect_bad("GET / HTTP/1.1\r\nHost: h\r\nX\001A: a\r\n\r\n", HTTP_ERROR_BAD_REQUEST);
        expect_bad("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\001b\r\n\r\n", HTTP_ERROR_BAD_REQUEST);
        expect_bad("GET /a\001b HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_ERROR_BAD_REQUEST);
        expect_bad("GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_ERROR_BAD_REQUEST);
        expect_bad("GET / HTTP/1.1\r\nX-A: a\r\n\r\n", HTTP_ERROR_BAD_REQUEST);
        expect_bad("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", HTTP_ERROR_BAD_REQUEST);
        expect_bad("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", HTTP_ERROR_BAD_REQUEST);
        expect_bad("GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n", HTTP_ERROR_BAD_REQUEST);
        expect_bad("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_ERROR_BAD_REQUEST);
        expect_bad("GET / HTTP/2.0\r\nHost: h\r\n\r\n", HTTP_ERROR_VERSION);
        expect_bad("GET / HTTX/1.1\r\nHost: h\r\n\r\n", HTTP_ERROR_BAD_REQUEST);
        expect_bad("CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_ERROR_METHOD);
        expect_bad("G(T / HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_ERROR_BAD_REQUEST);
}

static void test_limits(void) {
        char *big = malloc(HTTP_HEAD_MAX + 100);
        size_t scan = 0;
        CHECK(big);
        memset(big, 'a', HTTP_HEAD_MAX + 100);
        CHECK(http_find_head_end(big, 100, &scan) == 0);
        CHECK(http_find_head_end(big, HTTP_HEAD_MAX + 100, &scan) == -EMSGSIZE);
        free(big);

        /* split terminator across calls */
        {
                const char *s = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
                size_t n = strlen(s);
                scan = 0;
                for (size_t k = 1; k < n; k++)
                        CHECK(http_find_head_end(s, k, &scan) == 0);
                CHECK(http_find_head_end(s, n, &scan) == (int) n);
        }

        /* too many fields → 431 */
        {
                char buf[HTTP_HEAD_MAX];
                size_t o = 0;
                HttpError e;
                o += (size_t) sprintf(buf + o, "GET / HTTP/1.1\r\nHost: h\r\n");
                for (unsigned k = 0; k < HTTP_HEADERS_MAX + 1; k++)
                        o += (size_t) sprintf(buf + o, "X%u: v\r\n", k);
                o += (size_t) sprintf(buf + o, "\r\n");
                CHECK(http_request_parse(buf, o, &head, &e) == -EBADMSG && e == HTTP_ERROR_TOO_LARGE);
        }
}

static int resp(const char *s, bool was_head) {
        return http_response_parse(s, strlen(s), was_head, &head, NULL);
}

static void test_response(void) {
        CHECK(resp("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false) == 0);
        CHECK(head.status == 200 && head.body == HTTP_BODY_LENGTH && head.content_length == 5);
        CHECK(resp("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true) == 0);
        CHECK(head.body == HTTP_BODY_NONE);
        CHECK(resp("HTTP/1.1 204 No Content\r\n\r\n", false) == 0 && head.body == HTTP_BODY_NONE);
        CHECK(resp("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", false) == 0 &&
              head.body == HTTP_BODY_NONE);
        CHECK(resp("HTTP/1.1 200 OK\r\n\r\n", false) == 0 && head.body == HTTP_BODY_EOF);
        CHECK(resp("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false) == 0 &&
              head.body == HTTP_BODY_NONE);
        CHECK(resp("HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n", false) == 0 && head.conn_close);
        CHECK(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false) == 0 &&
              head.body == HTTP_BODY_CHUNKED);
        CHECK(resp("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
                   false) == 0 &&
              head.status == 101 && head.conn_upgrade);
        CHECK(resp("HTTP/1.1 200\r\nContent-Length: 1\r\n\r\n", false) == 0);
        CHECK(resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", false) == -EBADMSG);
        CHECK(resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", false) ==
              -EBADMSG);
        CHECK(resp("HTTP/1.1 2x0 OK\r\n\r\n", false) == -EBADMSG);
        CHECK(resp("HTTP/1.1 200 OK\r\nX: a\r\n  b\r\n\r\n", false) == -EBADMSG);
}

/* Upstreams may end header lines in a bare LF (busybox httpd CGIs); requests may not. */
static void test_response_bare_lf(void) {
        static const char *const heads[] = {
                "HTTP/1.0 200 OK\nContent-Type: text/plain\nContent-Length: 3\n\nabc",
                "HTTP/1.0 200 OK\r\nContent-Type: text/plain\nContent-Length: 3\n\r\nabc",
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\nabc",
        };
        for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
                size_t scan = 0, len = strlen(heads[i]);
                int n = http_find_response_head_end(heads[i], len, &scan);
                CHECK(n == (int) (len - 3));
                CHECK(http_response_parse(heads[i], (size_t) n, false, &head, NULL) == 0);
                CHECK(head.status == 200 && head.n_headers == 2 && head.content_length == 3);
                CHECK(head.headers[0].value_len == 10 &&
                      memcmp(head.headers[0].value, "text/plain", 10) == 0);
                /* the request side stays strict: none of these (not even CRLF CRLF-less i == 2) ends a
                 * request head, so a client sending them waits for more (and gets 408) */
                scan = 0;
                CHECK(http_find_head_end(heads[i], len, &scan) == 0);
        }
        /* split across reads: the terminator is found once its second LF arrives */
        {
                const char *s = "HTTP/1.1 204 No Content\nX: y\n\n";
                size_t scan = 0, n = strlen(s);
                for (size_t k = 1; k < n; k++)
                        CHECK(http_find_response_head_end(s, k, &scan) == 0);
                CHECK(http_find_response_head_end(s, n, &scan) == (int) n);
        }
        HttpError e;
        CHECK(req("GET / HTTP/1.1\nHost: h\n\n", &e) == -EAGAIN); /* no CRLF CRLF: not even a head */
        CHECK(http_request_parse("GET / HTTP/1.1\r\nHost: h\nX: 1\r\n\r\n", 32, &head, &e) == -EBADMSG);
}

static void test_lists(void) {
        HttpHeader h = { .name = "X-Foo", .name_len = 5 };
        CHECK(http_list_has("close", 5, "close"));
        CHECK(http_list_has(" keep-alive , Upgrade", 21, "upgrade"));
        CHECK(!http_list_has("closed", 6, "close"));
        CHECK(req("GET / HTTP/1.1\r\nHost: h\r\nConnection: x-foo\r\nX-Foo: 1\r\n\r\n", NULL) == 0);
        CHECK(http_head_connection_lists(&head, &h));
        h.name = "Keep-Alive";
        h.name_len = 10;
        CHECK(http_is_hop_by_hop(&h));
        h.name = "Proxy-Authorization";
        h.name_len = 19;
        CHECK(http_is_hop_by_hop(&h));
}

int main(void) {
        test_valid();
        test_smuggling();
        test_limits();
        test_response();
        test_response_bare_lf();
        test_lists();
        printf("test-http-parser: ok\n");
        return 0;
}
