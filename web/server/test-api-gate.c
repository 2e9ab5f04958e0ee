/* Unit tests for the API gate's head check: strict framing (one Content-Length, not with
 * Transfer-Encoding), absolute-form targets rewritten to origin form, and the bearer token, each
 * decided before anything reaches civetweb. */
#include <stdio.h>
#include <string.h>

#include "api-gate.h"

#include "tests.h"

#define TOKEN "s3cret"
#define AUTH "Authorization: Bearer " TOKEN "\r\n"

static unsigned char token_hash[HTTP_TOKEN_HASH_SIZE];

static GateHeadCheck check(const char *head) {
        GateHeadCheck c;

        api_gate_check_head(head, strlen(head), token_hash, &c);
        return c;
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

int main(void) {
        http_token_hash(TOKEN, strlen(TOKEN), token_hash);
        test_forwarded();
        test_absolute_form();
        test_framing();
        test_token();
        printf("test-api-gate: OK\n");
        return 0;
}
