/* Unit tests for http-json-body: each refusal's sentence (unknown field, not an object, not JSON, too deep),
 * and a live civetweb: 413 naming the limit, a body cut short, deep JSON refused, and JSON_DEPTH_MAX (with
 * room to spare) parsed, dumped, copied and freed on a handler thread whose stack is HTTP_WORKER_STACK_SIZE. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fs-util.h"
#include "http-json-body.h"
#include "http-response.h"
#include "http-server.h"
#include "json-util.h"
#include "string-util.h"
#include "utf8.h"

#include "tests.h"

/* How many times JSON_DEPTH_MAX a handler thread must be able to parse and dump (json_dumps() takes ~300
 * bytes of stack per level, parsing ~80): the limit's safety margin. */
#define STACK_HEADROOM_FACTOR 2U

static const HttpJsonBody create_body = {
        .what = "project create request",
        .max = 1024,
        .fields = (const char *const[]) { "name", "envs", "x", NULL },
        .example = "Send {\"name\": \"shop\"}.",
};

/* '[' * n + ']' * n as a JSON value of field "x": {"name":"x","x":[[…]]}. */
static char *deep_body(size_t n) {
        const char *head = "{\"name\":\"x\",\"x\":";
        size_t h = strlen(head);
        char *s = malloc(h + 2 * n + 2);

        CHECK(s);
        memcpy(s, head, h);
        memset(s + h, '[', n);
        memset(s + h + n, ']', n);
        s[h + 2 * n] = '}';
        s[h + 2 * n + 1] = 0;
        return s;
}

static int decode(const char *s, char **ret_error) {
        _cleanup_json_ json_t *j = NULL;
        *ret_error = NULL;
        return http_json_body_decode(&create_body, s, strlen(s), &j, ret_error);
}

static void test_decode(void) {
        _cleanup_json_ json_t *j = NULL;
        char *error = NULL, *s;

        CHECK(http_json_body_decode(&create_body, "{\"name\":\"a\",\"envs\":[]}", 22, &j, &error) == 0);
        CHECK(json_is_object(j) && !error);

        CHECK(decode("{\"name\":\"a\",\"env\":[\"x\"]}", &error) == -EINVAL);
        CHECK_STREQ(error,
                    "Unknown field 'env' in the project create request; known fields: name, envs, x.");
        free(error);

        CHECK(decode("[1]", &error) == -EINVAL);
        CHECK_STREQ(error, "The project create request must be a JSON object.");
        free(error);

        CHECK(decode("", &error) == -EBADMSG);
        CHECK_STREQ(error, "The project create request has no body; it must be a JSON object.");
        free(error);

        CHECK(decode("{\"name\":\n\"a\",}", &error) == -EBADMSG);
        CHECK(startswith(error, "The project create request is not valid JSON: ") &&
              strstr(error, "line 2"));
        free(error);

        s = deep_body(1000);
        CHECK(decode(s, &error) == -ELOOP);
        CHECK_STREQ(error, "The JSON body is nested deeper than 64 levels; flatten it.");
        free(error);
        free(s);
        s = deep_body(JSON_DEPTH_MAX - 1); /* the object is the first level */
        CHECK(decode(s, &error) == 0);
        free(s);

        /* A hostile key is quoted readably: control characters as '?', cut at a character boundary. */
        CHECK(decode("{\"a\\u0001\\nb\":1}", &error) == -EINVAL);
        CHECK(startswith(error, "Unknown field 'a??b' in"));
        free(error);
        {
                char key[300] = "{\"a";
                for (size_t i = 0; i < 100; i++) /* "a" + 100 × "é": byte 64 is inside the 32nd "é" */
                        strcat(key, "\xc3\xa9");
                strcat(key, "\":1}");
                CHECK(decode(key, &error) == -EINVAL);
                CHECK(utf8_is_valid(error, strlen(error)));
                CHECK(strstr(error, "'a\xc3\xa9") && strlen(error) < 200);
                free(error);
        }

        /* A request that takes no fields says so. */
        {
                HttpJsonBody none = { .what = "gc request", .example = "Send {}." };
                _cleanup_json_ json_t *k = NULL;
                error = NULL;
                CHECK(http_json_body_decode(&none, "{\"a\":1}", 7, &k, &error) == -EINVAL);
                CHECK_STREQ(error, "Unknown field 'a' in the gc request; it takes no fields.");
                free(error);
        }
}

/* Reads the body; on success answers with the stack size of the thread it runs on and whether
 * STACK_HEADROOM_FACTOR × JSON_DEPTH_MAX levels could be parsed, dumped, copied and freed there too. */
static int h_json(HttpRequest *req) {
        _cleanup_json_ json_t *body = NULL, *deep = NULL, *copy = NULL, *reply = NULL;
        _cleanup_free_ char *text = NULL, *s = NULL;
        size_t stack_size = 0;
        pthread_attr_t attr;
        int r;

        r = http_request_read_json(req, &create_body, &body);
        if (r < 0)
                return req->status;
        if (pthread_getattr_np(pthread_self(), &attr) == 0) {
                (void) pthread_attr_getstacksize(&attr, &stack_size);
                pthread_attr_destroy(&attr);
        }
        s = deep_body(STACK_HEADROOM_FACTOR * JSON_DEPTH_MAX);
        r = json_parse_buffer_depth(s, strlen(s), STACK_HEADROOM_FACTOR * JSON_DEPTH_MAX + 1, &deep, NULL);
        if (r >= 0) {
                text = json_dumps(deep, JSON_COMPACT);
                copy = json_deep_copy(deep);
        }
        reply = json_pack("{s:I,s:b}", "stack", (json_int_t) stack_size, "headroom",
                          r >= 0 && text && copy && streq(text, s));
        return http_reply_json(req->conn, 200, reply);
}

static const HttpRoute routes[] = {
        { "POST", "json", h_json, HTTP_ROLE_VIEWER },
};

/* Sends head + body (with shutdown of the sending side) and returns the whole answer. */
static char *roundtrip(int port, const char *head, const char *body) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
        size_t n = 0, size = 65536;
        char *buf = calloc(1, size);
        ssize_t k;
        int fd;

        CHECK(buf);
        inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        CHECK(fd >= 0);
        CHECK(connect(fd, (struct sockaddr *) &sa, sizeof sa) == 0);
        CHECK(loop_write(fd, head, strlen(head)) == 0);
        CHECK(loop_write(fd, body, strlen(body)) == 0);
        shutdown(fd, SHUT_WR);
        while ((k = read(fd, buf + n, size - 1 - n)) > 0)
                n += (size_t) k;
        close(fd);
        return buf;
}

static char *post(int port, const char *body, long content_length) {
        _cleanup_free_ char *head = NULL;

        CHECK(asprintf(&head,
                       "POST /api/v1/json HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n"
                       "Content-Length: %ld\r\n\r\n",
                       content_length >= 0 ? content_length : (long) strlen(body)) > 0);
        return roundtrip(port, head, body);
}

static void expect(const char *resp, const char *a, const char *b) {
        if (!strstr(resp, a) || (b && !strstr(resp, b)))
                TEST_FAIL("expected %s and %s in: %s", a, b ?: "-", resp);
}

static void test_live(void) {
        HttpServerConfig cfg = {
                .listen = "127.0.0.1:0",
                .token = "s3cret",
                .routes = routes,
                .n_routes = ELEMENTSOF(routes),
        };
        _cleanup_(http_server_stopp) HttpServer *s = NULL;
        char *resp, *body;
        int port;

        CHECK(http_server_start(&cfg, &s) == 0);
        port = http_server_port(s);

        /* Past the limit by its Content-Length, and by what arrives without one (chunked). */
        body = calloc(1, 2000);
        CHECK(body);
        memset(body, ' ', 1999);
        resp = post(port, body, -1);
        expect(resp, "HTTP/1.1 413",
               "\"error\":\"The project create request is larger than 1 KiB, the most this endpoint accepts.\"");
        free(resp);
        free(body);
        resp = roundtrip(port,
                         "POST /api/v1/json HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n",
                         "400\r\n"
                         "                                                                "
                         "                                                                "
                         "                                                                "
                         "                                                                "
                         "                                                                "
                         "                                                                "
                         "                                                                "
                         "                                                                "
                         "                                                                "
                         "                                                                "
                         "                                                                "
                         "                                                                "
                         "                                                                "
                         "                                                                "
                         "                                                                "
                         "                                                                "
                         "\r\n1\r\n \r\n0\r\n\r\n");
        expect(resp, "HTTP/1.1 413", "larger than 1 KiB");
        free(resp);

        /* A body that stops short of its Content-Length. */
        resp = post(port, "{\"name\":", 100);
        expect(resp, "HTTP/1.1 400", "ended before all of its body arrived");
        free(resp);

        /* Deep JSON: refused with the sentence, and the server still answers. */
        body = deep_body(500); /* 1018 bytes: under the size limit */
        resp = post(port, body, -1);
        expect(resp, "HTTP/1.1 400",
               "\"error\":\"The JSON body is nested deeper than 64 levels; flatten it.\"");
        free(resp);
        free(body);

        /* At the limit it is served, on a worker with the stack we sized the limit for, with room to spare. */
        body = deep_body(JSON_DEPTH_MAX - 1);
        resp = post(port, body, -1);
        expect(resp, "HTTP/1.1 200", "\"headroom\":true");
        {
                const char *p = strstr(resp, "\"stack\":");
                long stack = p ? strtol(p + 8, NULL, 10) : 0;
                if (stack < (long) HTTP_WORKER_STACK_SIZE || stack > (long) HTTP_WORKER_STACK_SIZE + 4096)
                        TEST_FAIL("civetweb's handler stack is %ld bytes, HTTP_WORKER_STACK_SIZE says %u: "
                                  "check JSON_DEPTH_MAX against it and update the constant",
                                  stack, HTTP_WORKER_STACK_SIZE);
                printf("handler stack: %ld bytes\n", stack);
        }
        free(resp);
        free(body);

        resp = post(port, "{\"name\":\"a\",\"env\":[]}", -1);
        expect(resp, "HTTP/1.1 400",
               "Unknown field 'env' in the project create request; known fields: name");
        free(resp);
}

int main(void) {
        test_decode();
        test_live();
        printf("test-http-json-body: OK\n");
        return 0;
}
