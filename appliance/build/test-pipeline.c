/* Unit tests for the pipeline's pure parts: a component's source (parse, check, format), the settings that
 * make a build's identity, the host key id of ssh URLs and the paths of logs and schemas. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "pipeline.h"

#include "tests.h"

static void check_host(const char *url, const char *expected) {
        char buf[300];

        if (!expected) {
                CHECK(pipeline_ssh_host(url, buf, sizeof buf) == -EINVAL);
                return;
        }
        CHECK_OK(pipeline_ssh_host(url, buf, sizeof buf));
        CHECK_STREQ(buf, expected);
}

static void test_ssh_host(void) {
        check_host("ssh://git@example.org/acme/web.git", "example.org:22");
        check_host("ssh://git@example.org:2222/acme/web.git", "example.org:2222");
        check_host("ssh://example.org/web.git", "example.org:22");
        check_host("ssh://git@[::1]:2200/web.git", "[::1]:2200");
        check_host("git@example.org:acme/web.git", "example.org:22");
        check_host("https://example.org/web.git", NULL);
        check_host("/srv/repo", NULL);
        check_host("git://example.org/web.git", NULL);
}

static int check_source(const char *url, const char *branch, const char *dir, const char *dockerfile,
                        uint64_t poll) {
        _cleanup_free_ char *error = NULL;
        PipelineSource s = {
                .url = (char *) url,
                .branch = (char *) branch,
                .dir = (char *) dir,
                .dockerfile = (char *) dockerfile,
                .poll_sec = poll,
        };
        int r = pipeline_source_check(&s, &error);

        CHECK(r == 0 || (r == -EINVAL && error && error[0]));
        return r;
}

static void test_source_check(void) {
        CHECK_OK(check_source("/", "main", "", "Dockerfile", 0));
        CHECK_OK(check_source("https://example.org/x.git", "release/1.2", "services/api",
                              "docker/Dockerfile", 60));
        CHECK_OK(check_source("ssh://git@example.org/x.git", "main", "", "Dockerfile", 0));
        CHECK(check_source("relative", "main", "", "Dockerfile", 0) == -EINVAL);
        CHECK(check_source("/nonexistent-slipway-repo", "main", "", "Dockerfile", 0) == -EINVAL);
        CHECK(check_source("/", "a..b", "", "Dockerfile", 0) == -EINVAL);
        CHECK(check_source("/", "-x", "", "Dockerfile", 0) == -EINVAL);
        CHECK(check_source("/", "x.lock", "", "Dockerfile", 0) == -EINVAL);
        CHECK(check_source("/", "main", "../up", "Dockerfile", 0) == -EINVAL);
        CHECK(check_source("/", "main", "/abs", "Dockerfile", 0) == -EINVAL);
        CHECK(check_source("/", "main", "", "../Dockerfile", 0) == -EINVAL);
        CHECK(check_source("/", "main", "", "", 0) == -EINVAL);
        CHECK(check_source("/", "main", "", "Dockerfile", 5) == -EINVAL);
        CHECK(check_source("/", "main", "", "Dockerfile", PIPELINE_POLL_MAX_SEC + 1) == -EINVAL);
}

static void test_source_round_trip_and_settings(void) {
        PipelineSource s = {}, back = {};
        _cleanup_free_ char *json = NULL, *json2 = NULL, *settings = NULL, *hash = NULL, *settings2 = NULL,
                            *hash2 = NULL;

        CHECK_OK(pipeline_source_parse("{\"url\": \"/srv/repo\"}", &s));
        CHECK_STREQ(s.branch, "main");
        CHECK_STREQ(s.dir, "");
        CHECK_STREQ(s.dockerfile, "Dockerfile");
        CHECK(s.poll_sec == 0);
        CHECK(pipeline_source_parse("{\"branch\": \"main\"}", &back) == -EINVAL);
        CHECK(pipeline_source_parse("not json", &back) == -EINVAL);
        CHECK(pipeline_source_parse("{\"url\": \"/x\", \"poll_sec\": -1}", &back) == -EINVAL);

        CHECK_OK(pipeline_source_format(&s, &json));
        CHECK_OK(pipeline_source_parse(json, &back));
        CHECK_OK(pipeline_source_format(&back, &json2));
        CHECK_STREQ(json, json2);

        /* The branch and the poll interval are not part of a build's identity: the commit is. */
        CHECK_OK(pipeline_settings(&s, &settings, &hash));
        free(back.branch);
        back.branch = strdup("other");
        back.poll_sec = 60;
        CHECK_OK(pipeline_settings(&back, &settings2, &hash2));
        CHECK_STREQ(hash, hash2);
        free(settings2);
        free(hash2);
        free(back.dockerfile);
        back.dockerfile = strdup("Dockerfile.prod");
        CHECK_OK(pipeline_settings(&back, &settings2, &hash2));
        CHECK(!streq(hash, hash2));
        CHECK(strlen(hash) == 64);
        pipeline_source_done(&s);
        pipeline_source_done(&back);
}

static void test_paths(void) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;
        char *x = NULL;

        CHECK_OK(pipeline_log_path("/var/lib/slipway", 7, NULL, &a));
        CHECK_STREQ(a, "/var/lib/slipway/builds/7/build.log");
        CHECK_OK(pipeline_log_path("/var/lib/slipway", 7, "image", &b));
        CHECK_STREQ(b, "/var/lib/slipway/builds/7/3-image.log");
        CHECK(pipeline_log_path("/var/lib/slipway", 7, "nope", &x) == -ENOENT);
        CHECK_OK(pipeline_schema_path("/d", 3, "greeter", &c));
        CHECK_STREQ(c, "/d/builds/3/schemas/greeter");
        CHECK(pipeline_schema_path("/d", 3, "../x", &x) == -EINVAL);
        CHECK(pipeline_schema_path("/d", 3, ".hidden", &x) == -EINVAL);
        CHECK(pipeline_schema_path("/d", 3, "", &x) == -EINVAL);
}

int main(void) {
        test_ssh_host();
        test_source_check();
        test_source_round_trip_and_settings();
        test_paths();
        return 0;
}
