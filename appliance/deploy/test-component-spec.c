/* Unit tests for names.c and component-spec.c: DNS-label names, spec defaults (ARCHITECTURE "Health
 * checks"), endpoint/health/memory/cpus parsing and the refusal of invalid input. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "component-spec.h"
#include "names.h"

#include "tests.h"

static void test_names(void) {
        char *err = NULL;
        const char *good[] = { "a", "shop", "my-app", "a1", "0", "x23-y" };
        const char *bad[] = { "",
                              "-a",
                              "a-",
                              "A",
                              "my_app",
                              "a.b",
                              "a b",
                              "ü",
                              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" /* 64 */ };

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                CHECK(name_is_valid(good[i]));
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                CHECK(!name_is_valid(bad[i]));
        CHECK(name_is_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")); /* 63 */
        CHECK(!name_is_valid(NULL));
        CHECK(name_validate("project", "My_App", &err) == -EINVAL);
        CHECK(strstr(err, "project") && strstr(err, "My_App") && strstr(err, "a-z"));
        free(err);
}

static void test_defaults(void) {
        ComponentSpec s;
        char *err = NULL;

        /* Nothing declared, one endpoint: TCP to its port. */
        CHECK(component_spec_parse("{\"endpoints\":[{\"name\":\"http\",\"port\":8080}]}", &s, &err) == 0);
        CHECK(s.n_endpoints == 1 && s.endpoints[0].visibility == ENDPOINT_PUBLIC);
        CHECK(streq(s.endpoints[0].base_path, "/"));
        CHECK(s.readiness.kind == HEALTH_TCP && s.readiness.port == 8080);
        CHECK(s.liveness.kind == HEALTH_TCP);
        CHECK(s.readiness.interval_ms == SPEC_HEALTH_INTERVAL_MS_DEFAULT);
        CHECK(s.readiness.failure_threshold == SPEC_HEALTH_FAILURE_THRESHOLD_DEFAULT);
        CHECK(s.deploy_timeout_ms == SPEC_DEPLOY_TIMEOUT_MS_DEFAULT);
        CHECK(s.memory_bytes == 0 && s.cpus_milli == 0 && s.pids == SPEC_PIDS_DEFAULT);

        /* No endpoint: the process still runs after a grace period. */
        CHECK(component_spec_parse("{}", &s, &err) == 0);
        CHECK(s.n_endpoints == 0 && s.readiness.kind == HEALTH_PROCESS);
        CHECK(s.readiness.initial_delay_ms == SPEC_PROCESS_GRACE_MS_DEFAULT);

        /* Round trip: the serialised form is explicit and parses to the same spec. */
        CHECK(component_spec_parse(
                      "{\"endpoints\":[{\"name\":\"api\",\"port\":80,\"visibility\":\"project\","
                      "\"base_path\":\"/v1\"}],\"health\":{\"readiness\":{\"kind\":\"http\","
                      "\"path\":\"/healthz\",\"interval_ms\":500},\"deploy_timeout_ms\":9000},"
                      "\"resources\":{\"memory_bytes\":268435456,\"cpus_milli\":1500}}",
                      &s, &err) == 0);
        CHECK(s.readiness.kind == HEALTH_HTTP && streq(s.readiness.path, "/healthz") &&
              s.readiness.port == 80);
        CHECK(s.readiness.interval_ms == 500 && s.liveness.kind == HEALTH_TCP);
        char *j = component_spec_format(&s);
        CHECK(j && strstr(j, "\"path\":\"/healthz\"") && strstr(j, "\"visibility\":\"project\""));
        ComponentSpec t;
        CHECK(component_spec_parse(j, &t, &err) == 0);
        CHECK(memcmp(&s, &t, sizeof s) == 0 ||
              (t.readiness.interval_ms == 500 && t.memory_bytes == 268435456 && t.cpus_milli == 1500 &&
               t.deploy_timeout_ms == 9000));
        free(j);
        CHECK(component_spec_public_endpoint(&s) == NULL);
}

static void test_invalid(void) {
        const char *bad[] = {
                "[]",
                "{\"bogus\":1}",
                "{\"endpoints\":{}}",
                "{\"endpoints\":[{\"name\":\"a\"}]}",
                "{\"endpoints\":[{\"name\":\"a\",\"port\":70000}]}",
                "{\"endpoints\":[{\"name\":\"A_b\",\"port\":80}]}",
                "{\"endpoints\":[{\"name\":\"a\",\"port\":80},{\"name\":\"a\",\"port\":81}]}",
                "{\"endpoints\":[{\"name\":\"a\",\"port\":80},{\"name\":\"b\",\"port\":80}]}",
                "{\"endpoints\":[{\"name\":\"a\",\"port\":80,\"visibility\":\"world\"}]}",
                "{\"endpoints\":[{\"name\":\"a\",\"port\":80,\"base_path\":\"x\"}]}",
                "{\"health\":{\"readiness\":{\"kind\":\"tcp\"}}}", /* no port to probe */
                "{\"health\":{\"readiness\":{\"kind\":\"dns\"}}}",
                "{\"health\":{\"readiness\":{\"kind\":\"none\",\"interval_ms\":0}}}",
                "{\"health\":{\"readiness\":{\"kind\":\"none\",\"timeout_ms\":-1}}}",
                "{\"health\":{\"deploy_timeout_ms\":0}}",
                "{\"resources\":{\"memory_bytes\":1}}",
                "{\"resources\":{\"cpus_milli\":\"1\"}}",
                "not json",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                ComponentSpec s;
                char *err = NULL;
                if (component_spec_parse(bad[i], &s, &err) != -EINVAL || !err) {
                        fprintf(stderr, "accepted: %s\n", bad[i]);
                        exit(1);
                }
                CHECK(err[strlen(err) - 1] == '.');
                free(err);
        }
}

static void test_flags(void) {
        SpecEndpoint e;
        ComponentSpec s = {};
        char *err = NULL;
        uint64_t m;
        uint32_t c;

        CHECK(spec_endpoint_parse("http:8080", &e, &err) == 0);
        CHECK(streq(e.name, "http") && e.port == 8080 && e.visibility == ENDPOINT_PUBLIC &&
              streq(e.base_path, "/"));
        CHECK(spec_endpoint_parse("api:9000:project:/v1/x", &e, &err) == 0);
        CHECK(e.visibility == ENDPOINT_PROJECT && streq(e.base_path, "/v1/x"));
        CHECK(spec_endpoint_parse("web:80:/app", &e, &err) == 0 && streq(e.base_path, "/app"));
        CHECK(spec_endpoint_parse("3000", &e, &err) == 0 && streq(e.name, "port-3000"));
        const char *bad[] = { "http",          "http:0",           "http:65536",
                              "http:80:world", "Web:80",           "a:80:public:x",
                              "a:-1",          "a:80:public:/x y", ":80" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                err = NULL;
                if (spec_endpoint_parse(bad[i], &e, &err) != -EINVAL) {
                        fprintf(stderr, "accepted endpoint: %s\n", bad[i]);
                        exit(1);
                }
                CHECK(err);
                free(err);
        }

        CHECK(spec_health_parse("tcp", &s, &err) == -EINVAL); /* no endpoint */
        free(err);
        s.endpoints[0] = (SpecEndpoint) { .name = "http", .port = 8080, .base_path = "/" };
        s.n_endpoints = 1;
        CHECK(spec_health_parse("http:/healthz", &s, &err) == 0);
        CHECK(s.readiness.kind == HEALTH_HTTP && s.readiness.port == 8080 && s.liveness.kind == HEALTH_HTTP);
        CHECK(spec_health_parse("none", &s, &err) == 0 && s.readiness.kind == HEALTH_NONE);
        CHECK(spec_health_parse("http:healthz", &s, &err) == -EINVAL);
        free(err);
        CHECK(spec_health_parse("grpc", &s, &err) == -EINVAL);
        free(err);

        CHECK(spec_memory_parse("512M", &m) == 0 && m == 512u << 20);
        CHECK(spec_memory_parse("1G", &m) == 0 && m == 1u << 30);
        CHECK(spec_memory_parse("1GiB", &m) == 0 && m == 1u << 30);
        CHECK(spec_memory_parse("4096", &m) == 0 && m == 4096);
        CHECK(spec_memory_parse("12X", &m) == -EINVAL);
        CHECK(spec_memory_parse("-1", &m) == -EINVAL);
        CHECK(spec_memory_parse("", &m) == -EINVAL);
        CHECK(spec_cpus_parse("1.5", &c) == 0 && c == 1500);
        CHECK(spec_cpus_parse("2", &c) == 0 && c == 2000);
        CHECK(spec_cpus_parse("0.25", &c) == 0 && c == 250);
        CHECK(spec_cpus_parse("0", &c) == -ERANGE);
        CHECK(spec_cpus_parse("1.0001", &c) == -EINVAL);
        CHECK(spec_cpus_parse("x", &c) == -EINVAL);
        CHECK(spec_cpus_parse("99999", &c) == -ERANGE);
}

static void test_configs(void) {
        ComponentSpec spec, back;
        SpecConfig c;
        char *err = NULL, *json = NULL;

        CHECK(spec_config_parse("DB_URL", &c, &err) == 0);
        CHECK(streq(c.name, "DB_URL") && !c.secret && !c.optional && c.file[0] == 0);
        CHECK(spec_config_parse("TOKEN:secret", &c, &err) == 0 && c.secret && !c.optional);
        CHECK(spec_config_parse("TLS:secret:optional:file=/etc/tls/key.pem", &c, &err) == 0);
        CHECK(c.secret && c.optional && streq(c.file, "/etc/tls/key.pem") && streq(c.name, "TLS"));
        CHECK(spec_config_parse("X:optional:secret", &c, &err) == 0 && c.secret && c.optional);

        const char *bad[] = { "",
                              ":secret",
                              "1X",
                              "A-B",
                              "X:",
                              "X:secrets",
                              "X:file=",
                              "X:file=relative",
                              "X:file=/proc/x",
                              "X:file=/a//b",
                              "X:file=/a:b" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                CHECK(spec_config_parse(bad[i], &c, &err) == -EINVAL);
                CHECK(err && err[0]); /* one sentence for the person */
                free(err);
                err = NULL;
        }

        /* put: adds, replaces by name, refuses two at one path. */
        CHECK(component_spec_parse("{}", &spec, &err) == 0);
        CHECK(spec.n_configs == 0 && spec.bake_ms == SPEC_BAKE_DAEMON_DEFAULT);
        CHECK(spec.bake_max_5xx_percent == SPEC_BAKE_MAX_5XX_PERCENT_DEFAULT);
        CHECK(spec.keep_releases == SPEC_KEEP_RELEASES_DEFAULT);
        CHECK(spec_config_parse("DB_URL", &c, &err) == 0 && spec_config_put(&spec, &c, &err) == 0);
        CHECK(spec_config_parse("TLS:secret:file=/etc/tls/key.pem", &c, &err) == 0);
        CHECK(spec_config_put(&spec, &c, &err) == 0 && spec.n_configs == 2);
        CHECK(spec_config_parse("DB_URL:optional", &c, &err) == 0 && spec_config_put(&spec, &c, &err) == 0);
        CHECK(spec.n_configs == 2 && component_spec_config(&spec, "DB_URL")->optional);
        CHECK(spec_config_parse("OTHER:file=/etc/tls/key.pem", &c, &err) == 0);
        CHECK(spec_config_put(&spec, &c, &err) == -EINVAL && err);
        free(err);
        err = NULL;
        CHECK(!component_spec_config(&spec, "OTHER"));

        /* The JSON round trip keeps configurables, bake and releases kept exactly. */
        spec.bake_ms = 45000;
        spec.bake_max_5xx_percent = 12;
        spec.keep_releases = 2;
        json = component_spec_format(&spec);
        CHECK(json);
        CHECK(component_spec_parse(json, &back, &err) == 0);
        CHECK(back.n_configs == 2 && back.bake_ms == 45000 && back.bake_max_5xx_percent == 12);
        CHECK(back.keep_releases == 2);
        CHECK(streq(back.configs[0].name, "DB_URL") && back.configs[0].optional && !back.configs[0].secret);
        CHECK(streq(back.configs[1].name, "TLS") && back.configs[1].secret &&
              streq(back.configs[1].file, "/etc/tls/key.pem"));
        free(json);
        /* The daemon's default bake is null in JSON and stays the default. */
        back.bake_ms = SPEC_BAKE_DAEMON_DEFAULT;
        json = component_spec_format(&back);
        CHECK(json && strstr(json, "\"bake_ms\":null"));
        CHECK(component_spec_parse(json, &spec, &err) == 0 && spec.bake_ms == SPEC_BAKE_DAEMON_DEFAULT);
        free(json);
        /* No bake is 0, not the default. */
        CHECK(component_spec_parse("{\"bake_ms\":0}", &spec, &err) == 0 && spec.bake_ms == 0);

        const char *bad_json[] = { "{\"keep_releases\":0}",
                                   "{\"keep_releases\":1001}",
                                   "{\"bake_max_5xx_percent\":101}",
                                   "{\"bake_ms\":-1}",
                                   "{\"bake_ms\":\"30s\"}",
                                   "{\"configs\":[{\"name\":\"A\"},{\"name\":\"A\"}]}",
                                   "{\"configs\":[{\"name\":\"A\",\"extra\":1}]}",
                                   "{\"configs\":[{\"name\":\"A\",\"file\":\"/sys/x\"}]}",
                                   "{\"configs\":\"A\"}" };
        for (size_t i = 0; i < ELEMENTSOF(bad_json); i++) {
                CHECK(component_spec_parse(bad_json[i], &spec, &err) == -EINVAL && err);
                free(err);
                err = NULL;
        }
}

int main(void) {
        test_names();
        test_defaults();
        test_invalid();
        test_flags();
        test_configs();
        printf("test-component-spec: ok\n");
        return 0;
}
