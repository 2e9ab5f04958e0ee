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
#include "cmd-build.h"
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

static void test_poll(void) {
        uint32_t sec = 7;

        CHECK(model_parse_poll_sec("30s", &sec) == 0 && sec == 30);
        CHECK(model_parse_poll_sec("5m", &sec) == 0 && sec == 300);
        CHECK(model_parse_poll_sec("1h", &sec) == 0 && sec == 3600);
        CHECK(model_parse_poll_sec("1m30s", &sec) == 0 && sec == 90);
        CHECK(model_parse_poll_sec("45", &sec) == 0 && sec == 45);
        CHECK(model_parse_poll_sec("168h", &sec) == 0 && sec == 7 * 24 * 3600);
        CHECK(model_parse_poll_sec("off", &sec) == 0 && sec == 0);
        CHECK(model_parse_poll_sec("0", &sec) == 0 && sec == 0);
        sec = 7;
        CHECK(model_parse_poll_sec("500ms", &sec) == -EINVAL);
        CHECK(model_parse_poll_sec("169h", &sec) == -EINVAL);
        CHECK(model_parse_poll_sec("-5m", &sec) == -EINVAL);
        CHECK(model_parse_poll_sec("5 m", &sec) == -EINVAL);
        CHECK(model_parse_poll_sec("often", &sec) == -EINVAL);
        CHECK(model_parse_poll_sec("", &sec) == -EINVAL);
        CHECK(model_parse_poll_sec(NULL, &sec) == -EINVAL);
        CHECK(sec == 7);
}

/* Token expiries (--expires): days on top of Go's units, a bare number is seconds. */
static void test_long_durations(void) {
        const uint64_t max = 10ULL * 366U * 24U * 3600U;
        uint64_t sec = 7;

        CHECK(model_parse_duration_sec("30d", max, &sec) == 0 && sec == 30U * 86400U);
        CHECK(model_parse_duration_sec("1d12h", max, &sec) == 0 && sec == 36U * 3600U);
        CHECK(model_parse_duration_sec("12h", max, &sec) == 0 && sec == 12U * 3600U);
        CHECK(model_parse_duration_sec("90m", max, &sec) == 0 && sec == 5400);
        CHECK(model_parse_duration_sec("2s", max, &sec) == 0 && sec == 2);
        CHECK(model_parse_duration_sec("45", max, &sec) == 0 && sec == 45);
        CHECK(model_parse_duration_sec("3660d", max, &sec) == 0 && sec == 3660U * 86400U);
        sec = 7;
        CHECK(model_parse_duration_sec("3661d", max, &sec) == -EINVAL);
        CHECK(model_parse_duration_sec("99999999999999999999d", max, &sec) == -EINVAL);
        CHECK(model_parse_duration_sec("0", max, &sec) == -EINVAL);
        CHECK(model_parse_duration_sec("0d", max, &sec) == -EINVAL);
        CHECK(model_parse_duration_sec("200ms", max, &sec) == -EINVAL);
        CHECK(model_parse_duration_sec("d", max, &sec) == -EINVAL);
        CHECK(model_parse_duration_sec("1dd", max, &sec) == -EINVAL);
        CHECK(model_parse_duration_sec("-1d", max, &sec) == -EINVAL);
        CHECK(model_parse_duration_sec("1w", max, &sec) == -EINVAL);
        CHECK(model_parse_duration_sec("", max, &sec) == -EINVAL);
        CHECK(model_parse_duration_sec(NULL, max, &sec) == -EINVAL);
        CHECK(sec == 7);
}

static void test_git_source(void) {
        _cleanup_free_ char *cwd = getcwd(NULL, 0), *dot = NULL, *https = NULL, *scp = NULL, *file = NULL;
        char *missing = NULL;

        CHECK(cwd);
        /* A local path is sent absolute, URLs as given. */
        CHECK(model_git_source("component create", ".", &dot) == 0 && streq(dot, cwd));
        CHECK(model_git_source("component create", "https://example.com/x.git", &https) == 0 &&
              streq(https, "https://example.com/x.git"));
        CHECK(model_git_source("component create", "git@example.com:shop/web.git", &scp) == 0 &&
              streq(scp, "git@example.com:shop/web.git"));
        CHECK(model_git_source("component create", "file:///srv/git/x", &file) == 0 &&
              streq(file, "file:///srv/git/x"));
        CHECK(model_git_source("component create", "./no/such/dir-for-test-cli", &missing) == -EINVAL);
        CHECK(model_git_source("component create", "", &missing) == -EINVAL);
        CHECK(!missing);
}

static void test_build_helpers(void) {
        int64_t id = 5;
        json_t *body = NULL;
        char buf[32];

        CHECK(build_id_parse("build show", "7", &id) == 0 && id == 7);
        CHECK(build_id_parse("build show", "0", &id) == -EINVAL);
        CHECK(build_id_parse("build show", "-3", &id) == -EINVAL);
        CHECK(build_id_parse("build show", "7x", &id) == -EINVAL);
        CHECK(build_id_parse("build show", "", &id) == -EINVAL);
        CHECK(build_id_parse("build show", "99999999999999999999", &id) == -EINVAL);
        CHECK(id == 7);

        CHECK(build_request_body("build", "abc", "main", false, &body) == -EINVAL && !body);
        CHECK(build_request_body("build", "", NULL, false, &body) == -EINVAL && !body);
        CHECK(build_request_body("build", NULL, NULL, false, &body) == 0 && json_object_size(body) == 0);
        json_decref(body);
        CHECK(build_request_body("build", "abc1234", NULL, true, &body) == 0);
        CHECK(streq(json_string_value(json_object_get(body, "commit")), "abc1234"));
        CHECK(json_is_true(json_object_get(body, "deploy")) && !json_object_get(body, "branch"));
        json_decref(body);
        CHECK(build_request_body("build", NULL, "release", false, &body) == 0);
        CHECK(streq(json_string_value(json_object_get(body, "branch")), "release"));
        CHECK(!json_object_get(body, "deploy") && !json_object_get(body, "commit"));
        json_decref(body);

        build_format_duration(-1, buf);
        CHECK(streq(buf, "-"));
        build_format_duration(0, buf);
        CHECK(streq(buf, "0s"));
        build_format_duration(72, buf);
        CHECK(streq(buf, "1m12s"));
        build_format_duration(7500, buf);
        CHECK(streq(buf, "2h05m"));

        CHECK(build_status_ended("succeeded") && build_status_ended("failed") &&
              build_status_ended("cancelled"));
        CHECK(!build_status_ended("queued") && !build_status_ended("running") && !build_status_ended(NULL));
}

/* Runs "slipway WORDS…" through the command's entry point against a state directory no daemon ever used:
 * a usage error is found before any connection (2), anything else fails at the connection (1). */
static int run_command(int (*cmd)(CliContext *c, int argc, char *argv[]), const char *words) {
        _cleanup_free_ char *copy = strdup(words);
        char *argv[32], *save = NULL;
        int argc = 0, r;
        CliContext c = { .state_dir = "/nonexistent/test-cli-state" };

        CHECK(copy);
        for (char *w = strtok_r(copy, " ", &save); w && argc < 31; w = strtok_r(NULL, " ", &save))
                argv[argc++] = w;
        argv[argc] = NULL;
        r = cmd(&c, argc, argv);
        cli_context_done(&c);
        return r;
}

static void test_build_usage(void) {
        /* Missing or malformed PROJECT/COMPONENT. */
        CHECK(run_command(cmd_build, "build") == EXIT_USAGE);
        CHECK(run_command(cmd_build, "build shop") == EXIT_USAGE);
        CHECK(run_command(cmd_build, "build shop/web extra") == EXIT_USAGE);
        CHECK(run_command(cmd_builds, "builds") == EXIT_USAGE);
        CHECK(run_command(cmd_builds, "builds /web") == EXIT_USAGE);
        CHECK(run_command(cmd_autobuild, "autobuild shop/web") == EXIT_USAGE);
        CHECK(run_command(cmd_autobuild, "autobuild shop/web maybe") == EXIT_USAGE);
        CHECK(run_command(cmd_autodeploy, "autodeploy web on") == EXIT_USAGE);
        CHECK(run_command(cmd_webhook, "webhook show") == EXIT_USAGE);
        CHECK(run_command(cmd_webhook, "webhook shop/web") == EXIT_USAGE);
        /* Options that exclude each other, or belong to another command. */
        CHECK(run_command(cmd_build, "build shop/web --commit abc --branch main") == EXIT_USAGE);
        CHECK(run_command(cmd_build, "build shop/web --step fetch") == EXIT_USAGE);
        CHECK(run_command(cmd_build, "build shop/web --rotate") == EXIT_USAGE);
        CHECK(run_command(cmd_build, "build show 7 --follow") == EXIT_USAGE);
        CHECK(run_command(cmd_build, "build show") == EXIT_USAGE);
        CHECK(run_command(cmd_build, "build show seven") == EXIT_USAGE);
        CHECK(run_command(cmd_build, "build logs 0") == EXIT_USAGE);
        CHECK(run_command(cmd_build, "build cancel 7 8") == EXIT_USAGE);
        CHECK(run_command(cmd_deploy, "deploy shop/web dev --image x --build 3") == EXIT_USAGE);
        CHECK(run_command(cmd_deploy, "deploy shop/web dev --build three") == EXIT_USAGE);
        /* Well-formed: they get as far as looking for the daemon. */
        CHECK(run_command(cmd_build, "build shop/web --commit abc --deploy --follow") == 1);
        CHECK(run_command(cmd_build, "build --json logs 7 --step fetch --follow") == 1);
        CHECK(run_command(cmd_builds, "builds shop/web") == 1);
        CHECK(run_command(cmd_autodeploy, "autodeploy shop/web off") == 1);
        CHECK(run_command(cmd_webhook, "webhook show shop/web --rotate") == 1);
        CHECK(run_command(cmd_deploy, "deploy shop/web dev --build 3") == 1);
}

static void test_component_source_usage(void) {
        CHECK(run_command(cmd_component, "component create shop/web --git . --image busybox") == EXIT_USAGE);
        CHECK(run_command(cmd_component, "component update shop/web --git . --image busybox") == EXIT_USAGE);
        CHECK(run_command(cmd_component, "component create shop/web") == EXIT_USAGE);
        CHECK(run_command(cmd_component, "component create --git .") == EXIT_USAGE);
        CHECK(run_command(cmd_component, "component create shop/web --image busybox --branch main") ==
              EXIT_USAGE);
        CHECK(run_command(cmd_component, "component create shop/web --git . --poll soon") == EXIT_USAGE);
        CHECK(run_command(cmd_component, "component create shop/web --git ./no/such/dir-for-test-cli") ==
              EXIT_USAGE);
        CHECK(run_command(cmd_component, "component create shop/web --git . --builds-keep 3") == EXIT_USAGE);
        CHECK(run_command(cmd_component, "component update shop/web --builds-keep none") == EXIT_USAGE);
        CHECK(run_command(
                      cmd_component,
                      "component create shop/web --git . --branch main --dir app --dockerfile Dockerfile "
                      "--poll 5m") == 1);
        CHECK(run_command(cmd_component, "component update shop/web --poll off --builds-keep 5") == 1);
}

int main(void) {
        test_url();
        test_encode();
        test_entry_names();
        test_framing();
        test_durations();
        test_poll();
        test_long_durations();
        test_git_source();
        test_build_helpers();
        test_build_usage();
        test_component_source_usage();
        printf("test-cli: OK\n");
        return 0;
}
