/* Following a build log against a scripted daemon on a loopback socket: a stream that breaks off is asked
 * for again from the byte count already printed (nothing twice, nothing lost), the client stops only when
 * the build ended and the rest of the log was read, and the exit status is the build's outcome. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "cmd-build.h"
#include "fs-util.h"
#include "string-util.h"

#include "tests.h"

/* One exchange: the request line the client must send, and the raw response. */
typedef struct Exchange {
        const char *request; /* "GET /api/v1/… HTTP/1.1" */
        const char *response;
} Exchange;

typedef struct Server {
        int fd;
        const Exchange *script;
        size_t n;
        size_t served;
        char bad[512]; /* the first request that was not the one expected */
} Server;

#define JSON_REPLY(body) \
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n" body
#define BUILD_RUNNING \
        JSON_REPLY("{\"id\":7,\"project\":\"shop\",\"component\":\"web\",\"status\":\"running\"}")

static void *serve(void *userdata) {
        Server *s = userdata;

        for (s->served = 0; s->served < s->n; s->served++) {
                char req[4096];
                size_t len = 0;
                int fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);

                if (fd < 0)
                        break;
                /* The head, and a JSON body if any (the client sends it with the head or right after). */
                while (len < sizeof req - 1) {
                        ssize_t n = read(fd, req + len, sizeof req - 1 - len);
                        if (n <= 0)
                                break;
                        len += (size_t) n;
                        req[len] = 0;
                        char *end = strstr(req, "\r\n\r\n");
                        const char *cl = strcasestr(req, "Content-Length: ");
                        if (end && (!cl || strlen(end + 4) >= strtoul(cl + 16, NULL, 10)))
                                break;
                }
                req[len] = 0;
                const Exchange *e = &s->script[s->served];
                if (!startswith(req, e->request) && !s->bad[0])
                        snprintf(s->bad, sizeof s->bad, "exchange %zu: expected '%s', got '%.200s'",
                                 s->served, e->request, req);
                (void) loop_write(fd, e->response, strlen(e->response));
                close(fd);
        }
        return NULL;
}

/* Runs "slipway WORDS…" (argv from words) against the script; *ret_stdout gets what it printed. */
static int run_against(const Exchange *script, size_t n, const char *words, char **ret_stdout) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t sl = sizeof sa;
        Server s = { .script = script, .n = n };
        pthread_t t;
        char url[64], *argv[16], *save = NULL;
        _cleanup_free_ char *copy = strdup(words);
        int argc = 0, r;

        CHECK(copy);
        s.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        CHECK(s.fd >= 0);
        CHECK(bind(s.fd, (struct sockaddr *) &sa, sizeof sa) == 0 && listen(s.fd, 8) == 0);
        CHECK(getsockname(s.fd, (struct sockaddr *) &sa, &sl) == 0);
        snprintf(url, sizeof url, "http://127.0.0.1:%u", ntohs(sa.sin_port));
        CHECK(pthread_create(&t, NULL, serve, &s) == 0);

        for (char *w = strtok_r(copy, " ", &save); w && argc < 15; w = strtok_r(NULL, " ", &save))
                argv[argc++] = w;
        argv[argc] = NULL;

        /* stdout into a file, to compare. */
        FILE *out = tmpfile();
        CHECK(out);
        fflush(stdout);
        int saved = dup(STDOUT_FILENO);
        CHECK(saved >= 0 && dup2(fileno(out), STDOUT_FILENO) >= 0);
        CliContext c = { .state_dir = "/nonexistent", .url_arg = url, .token_arg = "tok" };
        r = cmd_build(&c, argc, argv);
        cli_context_done(&c);
        fflush(stdout);
        CHECK(dup2(saved, STDOUT_FILENO) >= 0);
        close(saved);

        /* The client made every call of the script, in order, and no more. */
        shutdown(s.fd, SHUT_RDWR);
        close(s.fd);
        CHECK(pthread_join(t, NULL) == 0);
        if (s.bad[0])
                TEST_FAIL("%s", s.bad);
        CHECK(s.served == n);

        long size = ftell(out);
        CHECK(size >= 0);
        char *text = calloc(1, (size_t) size + 1);
        CHECK(text);
        rewind(out);
        CHECK(fread(text, 1, (size_t) size, out) == (size_t) size);
        fclose(out);
        *ret_stdout = text;
        return r;
}

static void test_logs_follow_reconnects(void) {
        static const Exchange script[] = {
                /* The stream breaks off inside a chunk: 6 bytes arrived. */
                { "GET /api/v1/builds/7/logs?offset=0&follow=1 HTTP/1.1",
                  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello \r\n9\r\nwor" },
                { "GET /api/v1/builds/7 HTTP/1.1", BUILD_RUNNING },
                /* Asked again from 9 bytes ("hello wor" printed); this one ends cleanly. */
                { "GET /api/v1/builds/7/logs?offset=9&follow=1 HTTP/1.1",
                  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nld\n\r\n0\r\n\r\n" },
                { "GET /api/v1/builds/7 HTTP/1.1",
                  JSON_REPLY(
                          "{\"id\":7,\"project\":\"shop\",\"component\":\"web\",\"status\":\"succeeded\"}") },
                /* Ended: what was written after the stream closed. */
                { "GET /api/v1/builds/7/logs?offset=12 HTTP/1.1",
                  "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Slipway-Log-Offset: 17\r\n\r\ntail\n" },
        };
        _cleanup_free_ char *out = NULL;

        CHECK(run_against(script, ELEMENTSOF(script), "build logs 7 --follow", &out) == 0);
        CHECK(streq(out, "hello world\ntail\n"));
}

static void test_logs_follow_step(void) {
        static const Exchange script[] = {
                { "GET /api/v1/builds/7/logs?offset=0&step=image&follow=1 HTTP/1.1",
                  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nstep\n\r\n0\r\n\r\n" },
                { "GET /api/v1/builds/7 HTTP/1.1",
                  JSON_REPLY(
                          "{\"id\":7,\"project\":\"shop\",\"component\":\"web\",\"status\":\"failed\"}") },
                { "GET /api/v1/builds/7/logs?offset=5&step=image HTTP/1.1",
                  "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Slipway-Log-Offset: 5\r\n\r\n" },
        };
        _cleanup_free_ char *out = NULL;

        CHECK(run_against(script, ELEMENTSOF(script), "build logs 7 --step image --follow", &out) == 0);
        CHECK(streq(out, "step\n"));
}

static void test_build_follow_outcome(void) {
        static const Exchange script[] = {
                { "POST /api/v1/projects/shop/components/web/builds HTTP/1.1",
                  "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
                  "{\"id\":7,\"project\":\"shop\",\"component\":\"web\",\"status\":\"queued\",\"commit\":null,"
                  "\"existing\":false}" },
                { "GET /api/v1/builds/7/logs?offset=0&follow=1 HTTP/1.1",
                  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\nfetch.\n\r\n0\r\n\r\n" },
                { "GET /api/v1/builds/7 HTTP/1.1",
                  JSON_REPLY("{\"id\":7,\"project\":\"shop\",\"component\":\"web\",\"status\":\"failed\","
                             "\"reason\":\"the Dockerfile has no FROM\",\"duration_sec\":3}") },
                { "GET /api/v1/builds/7/logs?offset=7 HTTP/1.1",
                  "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Slipway-Log-Offset: 7\r\n\r\n" },
        };
        _cleanup_free_ char *out = NULL;

        /* A failed build: its log was printed, and the exit status says it failed. */
        CHECK(run_against(script, ELEMENTSOF(script), "build shop/web --follow", &out) == 1);
        CHECK(strstr(out, "Build 7 of shop/web queued") && strstr(out, "fetch.\n"));
}

static void test_build_existing(void) {
        static const Exchange script[] = {
                { "POST /api/v1/projects/shop/components/web/builds HTTP/1.1",
                  JSON_REPLY("{\"id\":7,\"project\":\"shop\",\"component\":\"web\",\"status\":\"succeeded\","
                             "\"commit\":\"abc1234def\",\"short_commit\":\"abc1234\","
                             "\"image_ref\":\"shop/web:abc1234\",\"existing\":true}") },
        };
        _cleanup_free_ char *out = NULL;

        /* Asking again for a built commit answers at once, even with --follow. */
        CHECK(run_against(script, ELEMENTSOF(script), "build shop/web --commit abc1234 --follow", &out) ==
              0);
        CHECK(streq(out, "Commit abc1234 is already built: build 7 (succeeded), image shop/web:abc1234.\n"));
}

int main(void) {
        test_logs_follow_reconnects();
        test_logs_follow_step();
        test_build_follow_outcome();
        test_build_existing();
        printf("test-build-follow: OK\n");
        return 0;
}
