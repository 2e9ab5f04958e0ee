/* Unit tests for head rewriting: what the upstream receives for a client's request and what the
 * client receives for an upstream's response, each checked by parsing the rewritten head the way the
 * other side would (hop-by-hop fields, X-Forwarded-*, Via, Connection, HTTP/1.0 clients, errors). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "head-rewrite.h"
#include "http-parser.h"
#include "tests.h"

static HttpHead in, seen; /* the head given to the proxy; the rewritten head as its receiver parses it */
static char out_buf[HEAD_OUT_MAX];
static size_t out_len;

static size_t count(const HttpHead *h, const char *name) {
        size_t n = 0;
        for (size_t i = 0; i < h->n_headers; i++)
                n += http_name_eq(&h->headers[i], name);
        return n;
}

/* True when h has exactly one field name and its value is value. */
static bool has(const HttpHead *h, const char *name, const char *value) {
        if (count(h, name) != 1)
                return false;
        for (size_t i = 0; i < h->n_headers; i++)
                if (http_name_eq(&h->headers[i], name))
                        return h->headers[i].value_len == strlen(value) &&
                               memcmp(h->headers[i].value, value, strlen(value)) == 0;
        return false;
}

static bool starts(const char *prefix) {
        return out_len >= strlen(prefix) && memcmp(out_buf, prefix, strlen(prefix)) == 0;
}

/* Rewrites client request s from client_ip for the upstream (the route leaves the path alone) and
 * parses the result as the upstream would.  Returns head_rewrite_request()'s result. */
static int to_upstream(const char *s, const char *client_ip) {
        RequestRewrite rw = { .client_ip = client_ip };
        Out o = { .p = out_buf, .cap = sizeof(out_buf) };
        size_t scan = 0;
        HttpError e;
        int n, r;

        n = http_find_head_end(s, strlen(s), &scan);
        CHECK(n == (int) strlen(s));
        CHECK(http_request_parse(s, (size_t) n, &in, &e) == 0);
        head_request_authority(&in, &rw.host, &rw.host_len, &rw.path, &rw.path_len);
        r = head_rewrite_request(&in, &rw, &o);
        out_len = o.len;
        if (r < 0)
                return r;
        scan = 0;
        n = http_find_head_end(out_buf, out_len, &scan); /* CRLF line ends, one head, nothing after */
        CHECK(n == (int) out_len);
        CHECK(http_request_parse(out_buf, out_len, &seen, &e) == 0);
        return 0;
}

/* Rewrites upstream response s for a client in context ctx and parses the result as the client
 * would (strict CRLF).  Returns head_rewrite_response()'s result; *plan gets the plan. */
static int to_client(const char *s, const ResponseContext *ctx, bool head_method, ResponsePlan *plan) {
        Out o = { .p = out_buf, .cap = sizeof(out_buf) };
        size_t scan = 0;
        int n, r;

        n = http_find_response_head_end(s, strlen(s), &scan);
        CHECK(n == (int) strlen(s));
        CHECK(http_response_parse(s, (size_t) n, head_method, &in, NULL) == 0);
        r = head_rewrite_response(s, (size_t) n, &in, ctx, &o, plan);
        out_len = o.len;
        if (r < 0 || out_len == 0)
                return r;
        scan = 0;
        n = http_find_head_end(out_buf, out_len, &scan);
        CHECK(n == (int) out_len);
        CHECK(http_response_parse(out_buf, out_len, head_method, &seen, NULL) == 0);
        return 0;
}

static void test_request_hop_by_hop(void) {
        CHECK(to_upstream("GET /p?q=1 HTTP/1.1\r\nHost: app.test\r\nConnection: keep-alive, X-Secret\r\n"
                          "X-Secret: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nTrailer: X-Sum\r\n"
                          "Proxy-Authorization: Basic Zm9v\r\nProxy-Connection: keep-alive\r\n"
                          "Upgrade: h2c\r\nAccept: */*\r\nCookie: a=b\r\n\r\n",
                          "192.0.2.7") == 0);
        CHECK(starts("GET /p?q=1 HTTP/1.1\r\n"));
        CHECK(seen.version_minor == 1 && !seen.conn_close && !seen.conn_upgrade);
        CHECK(count(&seen, "connection") == 0 && count(&seen, "keep-alive") == 0 && count(&seen, "te") == 0);
        CHECK(count(&seen, "trailer") == 0 && count(&seen, "upgrade") == 0 && count(&seen, "x-secret") == 0);
        CHECK(count(&seen, "proxy-authorization") == 0 && count(&seen, "proxy-connection") == 0);
        CHECK(has(&seen, "host", "app.test") && has(&seen, "accept", "*/*") && has(&seen, "cookie", "a=b"));
        CHECK(seen.body == HTTP_BODY_NONE);
}

static void test_request_forwarded(void) {
        /* first hop: the proxy starts the list */
        CHECK(to_upstream("GET / HTTP/1.1\r\nHost: app.test:8080\r\n\r\n", "192.0.2.7") == 0);
        CHECK(has(&seen, "x-forwarded-for", "192.0.2.7"));
        CHECK(has(&seen, "x-forwarded-proto", "http"));
        CHECK(has(&seen, "x-forwarded-host", "app.test:8080"));
        CHECK(has(&seen, "via", VIA_TOKEN));

        /* behind another proxy: appended to; the client's Proto and Host claims are replaced */
        CHECK(to_upstream(
                      "GET / HTTP/1.1\r\nHost: app.test\r\nX-Forwarded-For: 203.0.113.1, 198.51.100.2\r\n"
                      "X-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.test\r\nVia: 1.0 edge\r\n\r\n",
                      "2001:db8::1") == 0);
        CHECK(has(&seen, "x-forwarded-for", "203.0.113.1, 198.51.100.2, 2001:db8::1"));
        CHECK(has(&seen, "x-forwarded-proto", "http"));
        CHECK(has(&seen, "x-forwarded-host", "app.test"));
        CHECK(count(&seen, "via") == 2); /* the earlier hop's entry stays, ours follows */
        CHECK(strstr(out_buf, "Via: 1.0 edge\r\n") && strstr(out_buf, "Via: " VIA_TOKEN "\r\n") &&
              strstr(out_buf, "Via: 1.0 edge\r\n") < strstr(out_buf, "Via: " VIA_TOKEN "\r\n"));

        /* several X-Forwarded-For fields are one list: every earlier hop is kept, in order */
        CHECK(to_upstream("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 203.0.113.1\r\nAccept: */*\r\n"
                          "X-Forwarded-For: 198.51.100.2\r\n\r\n",
                          "192.0.2.7") == 0);
        CHECK(count(&seen, "x-forwarded-for") == 1);
        CHECK(has(&seen, "x-forwarded-for", "203.0.113.1, 198.51.100.2, 192.0.2.7"));

        /* an empty list from the client is not kept as an empty element */
        CHECK(to_upstream("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For:\r\n\r\n", NULL) == 0);
        CHECK(has(&seen, "x-forwarded-for", "unknown"));
}

static void test_request_absolute_form(void) {
        CHECK(to_upstream("GET http://app.test/x/y?z HTTP/1.1\r\nHost: app.test\r\n\r\n", "192.0.2.7") == 0);
        CHECK(starts("GET /x/y?z HTTP/1.1\r\n"));
        CHECK(has(&seen, "host", "app.test") && has(&seen, "x-forwarded-host", "app.test"));

        /* HTTP/1.0 without Host: the authority becomes the Host the upstream sees */
        CHECK(to_upstream("GET http://app.test HTTP/1.0\r\n\r\n", "192.0.2.7") == 0);
        CHECK(starts("GET / HTTP/1.1\r\n"));
        CHECK(has(&seen, "host", "app.test"));
}

static void test_request_http10_and_bodies(void) {
        /* an HTTP/1.0 client, closing or keep-alive, reaches the upstream as HTTP/1.1 keep-alive */
        CHECK(to_upstream("GET / HTTP/1.0\r\nHost: h\r\n\r\n", "192.0.2.7") == 0);
        CHECK(in.conn_close && seen.version_minor == 1 && !seen.conn_close &&
              count(&seen, "connection") == 0);
        CHECK(to_upstream("GET / HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n", "192.0.2.7") == 0);
        CHECK(!in.conn_close && seen.version_minor == 1 && !seen.conn_close &&
              count(&seen, "connection") == 0);
        CHECK(to_upstream("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "192.0.2.7") == 0);
        CHECK(in.conn_close && !seen.conn_close && count(&seen, "connection") == 0);

        CHECK(to_upstream("POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n\r\n", "192.0.2.7") == 0);
        CHECK(seen.body == HTTP_BODY_LENGTH && seen.content_length == 12 &&
              has(&seen, "content-length", "12"));
        CHECK(to_upstream("POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n",
                          "192.0.2.7") == 0);
        CHECK(seen.body == HTTP_BODY_CHUNKED && has(&seen, "transfer-encoding", "chunked"));
}

static void test_request_upgrade(void) {
        CHECK(to_upstream(
                      "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                      "192.0.2.7") == 0);
        CHECK(seen.conn_upgrade && has(&seen, "connection", "upgrade") &&
              has(&seen, "upgrade", "websocket"));
        CHECK(has(&seen, "sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==") &&
              has(&seen, "sec-websocket-version", "13"));
}

static void test_request_too_large(void) {
        RequestRewrite rw = {
                .path = "/", .path_len = 1, .host = "h", .host_len = 1, .client_ip = "192.0.2.7"
        };
        char small[64];
        Out o = { .p = small, .cap = sizeof(small) };
        size_t scan = 0;
        HttpError e;
        const char *s =
                "GET / HTTP/1.1\r\nHost: h\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
        int n = http_find_head_end(s, strlen(s), &scan);

        CHECK(http_request_parse(s, (size_t) n, &in, &e) == 0);
        CHECK(head_rewrite_request(&in, &rw, &o) == -ENOBUFS);
        CHECK(o.len <= sizeof(small));
}

static void test_response_keep_alive(void) {
        ResponseContext http11 = {}, http10_keep = { .client_http10 = true },
                        http10_close = { .client_http10 = true, .client_close = true },
                        http11_close = { .client_close = true }, shutdown = { .closing = true };
        ResponsePlan plan;
        const char *r =
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive, X-Hop\r\n"
                "Keep-Alive: timeout=5\r\nX-Hop: 1\r\nProxy-Authenticate: Basic\r\nServer: s\r\n\r\n";

        CHECK(to_client(r, &http11, false, &plan) == 0);
        CHECK(!plan.close_after && !plan.tunnel && !plan.dechunk && !plan.interim);
        CHECK(starts("HTTP/1.1 200 OK\r\n") && seen.status == 200 && !seen.conn_close);
        CHECK(count(&seen, "connection") == 0 && count(&seen, "keep-alive") == 0 &&
              count(&seen, "x-hop") == 0);
        CHECK(count(&seen, "proxy-authenticate") == 0);
        CHECK(has(&seen, "content-length", "2") && has(&seen, "server", "s") &&
              has(&seen, "via", VIA_TOKEN));

        /* HTTP/1.0 clients must be told the connection stays open, or they would wait for the close */
        CHECK(to_client(r, &http10_keep, false, &plan) == 0);
        CHECK(!plan.close_after && has(&seen, "connection", "keep-alive") && !seen.conn_close);

        CHECK(to_client(r, &http10_close, false, &plan) == 0);
        CHECK(plan.close_after && has(&seen, "connection", "close") && seen.conn_close);
        CHECK(to_client(r, &http11_close, false, &plan) == 0);
        CHECK(plan.close_after && has(&seen, "connection", "close"));
        CHECK(to_client(r, &shutdown, false, &plan) == 0);
        CHECK(plan.close_after && has(&seen, "connection", "close"));

        /* the upstream closing its side does not close the client's connection */
        CHECK(to_client("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", &http11, false, &plan) == 0);
        CHECK(!plan.close_after && seen.status == 204 && count(&seen, "connection") == 0);
}

static void test_response_framing(void) {
        ResponseContext http11 = {}, http10 = { .client_http10 = true };
        ResponsePlan plan;

        /* chunked passes through to HTTP/1.1 clients */
        CHECK(to_client("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", &http11, false, &plan) ==
              0);
        CHECK(!plan.dechunk && !plan.close_after && seen.body == HTTP_BODY_CHUNKED);
        /* HTTP/1.0 knows no chunked coding: the body is decoded and ends with the connection */
        CHECK(to_client("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", &http10, false, &plan) ==
              0);
        CHECK(plan.dechunk && plan.close_after && count(&seen, "transfer-encoding") == 0);
        CHECK(seen.body == HTTP_BODY_EOF && has(&seen, "connection", "close"));
        /* a body delimited by the upstream's close is delimited by ours */
        CHECK(to_client("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n", &http11, false, &plan) == 0);
        CHECK(plan.close_after && starts("HTTP/1.1 200 OK\r\n") && seen.body == HTTP_BODY_EOF &&
              seen.conn_close);
        /* bare LF from the upstream becomes CRLF (to_client parses strictly) */
        CHECK(to_client("HTTP/1.0 200 OK\nContent-Type: text/plain\nContent-Length: 3\n\n", &http11, false,
                        &plan) == 0);
        CHECK(seen.content_length == 3 && has(&seen, "content-type", "text/plain"));
        /* a response to HEAD keeps its Content-Length but has no body */
        CHECK(to_client("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", &http11, true, &plan) == 0);
        CHECK(!plan.close_after && has(&seen, "content-length", "99") && seen.body == HTTP_BODY_NONE);
}

static void test_response_interim_and_upgrade(void) {
        ResponseContext http11 = {}, http10 = { .client_http10 = true }, ws = { .upgrade_requested = true };
        ResponsePlan plan;

        CHECK(to_client("HTTP/1.1 100 Continue\r\n\r\n", &http11, false, &plan) == 0);
        CHECK(plan.interim && out_len == strlen("HTTP/1.1 100 Continue\r\n\r\n") &&
              memcmp(out_buf, "HTTP/1.1 100 Continue\r\n\r\n", out_len) == 0);
        CHECK(to_client("HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n", &http11, false, &plan) == 0);
        CHECK(plan.interim && seen.status == 103);
        /* HTTP/1.0 clients get no interim responses */
        CHECK(to_client("HTTP/1.1 100 Continue\r\n\r\n", &http10, false, &plan) == 0);
        CHECK(plan.interim && out_len == 0);

        CHECK(to_client("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
                        &ws, false, &plan) == 0);
        CHECK(plan.tunnel && !plan.close_after && seen.status == 101 && seen.conn_upgrade);
        CHECK(has(&seen, "connection", "upgrade") && has(&seen, "upgrade", "websocket"));
        CHECK(has(&seen, "sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") &&
              has(&seen, "via", VIA_TOKEN));
        /* a switch nobody asked for is refused */
        CHECK(to_client(
                      "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
                      &http11, false, &plan) == -EPROTO);
}

static void test_error_response(void) {
        char buf[HEAD_ERROR_MAX], detail[400];
        Out o = { .p = buf, .cap = sizeof(buf) };
        const char *body;
        size_t scan = 0;
        int n;

        CHECK(head_error_response(502, "the upstream refused the connection", false, &o) == 0);
        n = http_find_head_end(buf, o.len, &scan);
        CHECK(n > 0 && http_response_parse(buf, (size_t) n, false, &seen, NULL) == 0);
        CHECK(seen.status == 502 && seen.conn_close && seen.body == HTTP_BODY_LENGTH);
        CHECK(has(&seen, "content-type", "text/plain") && has(&seen, "via", VIA_TOKEN));
        body = "502 Bad Gateway: the upstream refused the connection\n";
        CHECK(o.len - (size_t) n == seen.content_length && seen.content_length == strlen(body));
        CHECK(memcmp(buf + n, body, strlen(body)) == 0);

        /* HEAD: the same head, no body */
        o = (Out) { .p = buf, .cap = sizeof(buf) };
        scan = 0;
        CHECK(head_error_response(404, "no route matches this request", true, &o) == 0);
        n = http_find_head_end(buf, o.len, &scan);
        CHECK(n == (int) o.len && http_response_parse(buf, (size_t) n, true, &seen, NULL) == 0);
        CHECK(seen.status == 404 && seen.body == HTTP_BODY_NONE);
        CHECK(seen.content_length == strlen("404 Not Found: no route matches this request\n"));

        /* a detail too long for the body is cut, and Content-Length still matches what is sent */
        memset(detail, 'd', sizeof(detail) - 1);
        detail[sizeof(detail) - 1] = 0;
        o = (Out) { .p = buf, .cap = sizeof(buf) };
        scan = 0;
        CHECK(head_error_response(400, detail, false, &o) == 0);
        n = http_find_head_end(buf, o.len, &scan);
        CHECK(n > 0 && http_response_parse(buf, (size_t) n, false, &seen, NULL) == 0);
        CHECK(seen.content_length == o.len - (size_t) n && seen.content_length == HEAD_ERROR_BODY_MAX - 1);
}

int main(void) {
        test_request_hop_by_hop();
        test_request_forwarded();
        test_request_absolute_form();
        test_request_http10_and_bodies();
        test_request_upgrade();
        test_request_too_large();
        test_response_keep_alive();
        test_response_framing();
        test_response_interim_and_upgrade();
        test_error_response();
        printf("ok\n");
        return 0;
}
