/* Unit tests for appliance/descriptor: a realistic Choreo component.yaml mapped onto a ComponentSpec, every
 * refusal with its file:line:column, the precedence of the three descriptor files, the older shapes, the
 * x-slipway extension, and hostile YAML (alias bombs, depth, size). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "descriptor.h"
#include "fs-util.h"

#include "tests.h"

static const char choreo_yaml[] = "# +required The configuration file schema version\n"
                                  "schemaVersion: 1.2\n"
                                  "\n"
                                  "endpoints:\n"
                                  "  - name: greeter-api\n"
                                  "    displayName: Greeter API\n"
                                  "    service:\n"
                                  "      basePath: /greeting-service\n"
                                  "      port: 9090\n"
                                  "    type: REST\n"
                                  "    networkVisibilities:\n"
                                  "      - Public\n"
                                  "      - Organization\n"
                                  "    schemaFilePath: openapi.yaml\n"
                                  "  - name: graphql\n"
                                  "    displayName: Greeter GraphQL\n"
                                  "    service:\n"
                                  "      port: 9091\n"
                                  "    type: GraphQL\n"
                                  "    networkVisibilities: [Project]\n"
                                  "\n"
                                  "dependencies:\n"
                                  "  connectionReferences:\n"
                                  "    - name: hr-connection\n"
                                  "      resourceRef: service:/HRProject/UserComponent/v1/ad088/PUBLIC\n"
                                  "\n"
                                  "configurations:\n"
                                  "  env:\n"
                                  "    - name: DATABASE_URL\n"
                                  "      valueFrom:\n"
                                  "        configForm:\n"
                                  "          displayName: Database URL\n"
                                  "          type: string\n"
                                  "    - name: API_KEY\n"
                                  "      valueFrom:\n"
                                  "        configForm:\n"
                                  "          displayName: API key\n"
                                  "          required: true\n"
                                  "          type: secret\n"
                                  "    - name: GREETING\n"
                                  "      valueFrom:\n"
                                  "        configForm:\n"
                                  "          required: false\n"
                                  "    - name: HR_SERVICE_URL\n"
                                  "      valueFrom:\n"
                                  "        connectionRef:\n"
                                  "          name: hr-connection\n"
                                  "          key: ServiceURL\n"
                                  "  file:\n"
                                  "    - name: app-config.toml\n"
                                  "      mountPath: /app/config.toml\n"
                                  "      valueFrom:\n"
                                  "        configForm:\n"
                                  "          displayName: App configuration\n"
                                  "          required: false\n";

static Descriptor *parse_ok(DescriptorFormat f, const char *yaml) {
        DescriptorError e = {};
        Descriptor *d = NULL;
        int r = descriptor_parse(f, NULL, yaml, strlen(yaml), &d, &e);
        if (r < 0)
                TEST_FAIL("descriptor_parse failed (%s): %s", strerror(-r), e.text);
        return d;
}

static void test_choreo(void) {
        _cleanup_(descriptor_freep) Descriptor *d = parse_ok(DESCRIPTOR_COMPONENT_YAML, choreo_yaml);
        DescriptorError e = {};
        ComponentSpec s;

        CHECK_STREQ(d->schema_version, "1.2");
        CHECK(d->n_endpoints == 2);
        CHECK_STREQ(d->endpoints[0].name, "greeter-api");
        CHECK_STREQ(d->endpoints[0].display_name, "Greeter API");
        CHECK(d->endpoints[0].type == DESCRIPTOR_ENDPOINT_REST);
        CHECK(d->endpoints[0].visibilities ==
              (DESCRIPTOR_VISIBILITY_PUBLIC | DESCRIPTOR_VISIBILITY_ORGANIZATION));
        CHECK_STREQ(d->endpoints[0].schema_file_path, "openapi.yaml");
        CHECK(d->endpoints[0].line == 5 && d->endpoints[0].column == 5);
        CHECK(d->endpoints[1].type == DESCRIPTOR_ENDPOINT_GRAPHQL);
        CHECK(d->n_configs == 5);
        CHECK_STREQ(d->configs[1].display_name, "API key");
        CHECK(d->configs[1].type == DESCRIPTOR_CONFIG_SECRET);
        CHECK_STREQ(d->configs[3].connection_name, "hr-connection");
        CHECK_STREQ(d->configs[3].connection_key, "ServiceURL");
        CHECK(d->configs[4].file && streq(d->configs[4].name, "app-config.toml"));
        CHECK(d->dependencies);
        char *deps = json_dumps(d->dependencies, JSON_COMPACT);
        CHECK_STREQ(deps, "{\"connectionReferences\":[{\"name\":\"hr-connection\",\"resourceRef\":"
                          "\"service:/HRProject/UserComponent/v1/ad088/PUBLIC\"}]}");
        free(deps);
        CHECK(!d->has_extension);

        CHECK_OK(descriptor_to_spec(d, &s, &e));
        CHECK(s.n_endpoints == 2);
        CHECK_STREQ(s.endpoints[0].name, "greeter-api");
        CHECK(s.endpoints[0].port == 9090 && s.endpoints[0].visibility == ENDPOINT_PUBLIC);
        CHECK_STREQ(s.endpoints[0].base_path, "/greeting-service");
        CHECK_STREQ(s.endpoints[1].name, "graphql");
        CHECK(s.endpoints[1].port == 9091 && s.endpoints[1].visibility == ENDPOINT_PROJECT);
        CHECK_STREQ(s.endpoints[1].base_path, "/");
        /* Nothing in x-slipway: the spec's defaults (TCP to the first endpoint). */
        CHECK(s.readiness.kind == HEALTH_TCP && s.readiness.port == 9090);
        CHECK(s.bake_ms == SPEC_BAKE_DAEMON_DEFAULT && s.pids == SPEC_PIDS_DEFAULT && s.memory_bytes == 0);

        CHECK(s.n_configs == 5);
        const SpecConfig *c = component_spec_config(&s, "DATABASE_URL");
        CHECK(c && !c->secret && !c->optional && c->file[0] == 0);
        c = component_spec_config(&s, "API_KEY");
        CHECK(c && c->secret && !c->optional);
        c = component_spec_config(&s, "GREETING");
        CHECK(c && !c->secret && c->optional);
        c = component_spec_config(&s, "HR_SERVICE_URL");
        CHECK(c && !c->secret && !c->optional);
        c = component_spec_config(&s, "app_config_toml");
        CHECK(c && c->optional && streq(c->file, "/app/config.toml"));

        /* The mapped spec is one the API accepts as it is. */
        char *j = component_spec_format(&s);
        ComponentSpec again;
        char *err = NULL;
        CHECK(j && component_spec_parse(j, &again, &err) == 0);
        CHECK(again.n_configs == 5 && again.n_endpoints == 2);
        free(j);
}

static void test_versions(void) {
        const char *good[] = { "schemaVersion: 1.0\n", "schemaVersion: 1.1\n", "schemaVersion: \"1.2\"\n",
                               "schemaVersion: '1.0'\n" };
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                _cleanup_(descriptor_freep) Descriptor *d = parse_ok(DESCRIPTOR_COMPONENT_YAML, good[i]);
                CHECK(d->n_endpoints == 0 && d->n_configs == 0 && !d->dependencies);
        }
}

typedef struct Refusal {
        const char *yaml;
        const char *text; /* the exact error text */
} Refusal;

#define F ".choreo/component.yaml:"

static const Refusal refusals[] = {
        { "schemaVersion: 2.0\n", F "1:16: schemaVersion 2.0 is not supported; use 1.0, 1.1 or 1.2." },
        { "endpoints: []\n", F "1:1: The descriptor needs schemaVersion: 1.2 (1.0 and 1.1 are read too)." },
        { "", ".choreo/component.yaml:1:1: The descriptor is empty; it needs at least schemaVersion: 1.2." },
        { "schemaVersion: 1.2\nendpoint: []\n",
          F "2:1: Unknown field 'endpoint' in component.yaml; the known ones are schemaVersion, endpoints, "
            "configurations, dependencies, x-slipway." },
        { "schemaVersion: 1.2\nendpoints:\n  - name: api\n    service:\n      port: 70000\n    type: REST\n",
          F "5:13: Endpoint 'api' has port 70000; use 1..65535." },
        { "schemaVersion: 1.2\nendpoints:\n  - name: api\n    service:\n      port: \"80\"\n    type: REST\n",
          F "5:13: Endpoint 'api' has port 80; use 1..65535." },
        { "schemaVersion: 1.2\nendpoints:\n  - name: api\n    service: {port: 0}\n    type: REST\n",
          F "4:21: Endpoint 'api' has port 0; use 1..65535." },
        { "schemaVersion: 1.2\nendpoints:\n  - name: My API\n    service: {port: 80}\n    type: REST\n", F
          "3:11: Endpoint name 'My API' is not a DNS label (use a-z, 0-9 and '-', at most 63, no '-' at either "
          "end); put free text in displayName." },
        { "schemaVersion: 1.2\nendpoints:\n  - service: {port: 80}\n    type: REST\n",
          F "3:5: Each endpoint needs a name." },
        { "schemaVersion: 1.2\nendpoints:\n  - name: api\n    type: REST\n",
          F "3:5: Endpoint 'api' needs a service with a port." },
        { "schemaVersion: 1.2\nendpoints:\n  - name: api\n    service: {port: 80}\n",
          F "3:5: Endpoint 'api' needs a type: REST, GraphQL, GRPC, TCP, UDP or WS." },
        { "schemaVersion: 1.2\nendpoints:\n  - name: api\n    service: {port: 80}\n    type: rest\n",
          F "5:11: Endpoint 'api' has type 'rest'; use REST, GraphQL, GRPC, TCP, UDP or WS." },
        { "schemaVersion: 1.2\nendpoints:\n  - name: api\n    service: {port: 80, basePath: /a b}\n    type: REST\n",
          F
          "4:35: Endpoint 'api' has an invalid base path '/a b' (it must start with '/' and contain no spaces, "
          "'?', '#', '%', '//' or '/../')." },
        { "schemaVersion: 1.2\nendpoints:\n  - name: api\n    service: {port: 80}\n    type: REST\n"
          "    networkVisibilities: [Internet]\n",
          F "6:27: Endpoint 'api' has network visibility 'Internet'; use Public, Organization or Project." },
        { "schemaVersion: 1.2\nendpoints:\n  - name: api\n    service: {port: 80}\n    type: REST\n"
          "    networkVisibilities: Public\n",
          F "6:26: 'networkVisibilities' must be a list, like [Public]." },
        { "schemaVersion: 1.2\nendpoints:\n  - name: api\n    service: {port: 80}\n    type: REST\n"
          "    schemaFilePath: ../../etc/passwd\n",
          F
          "6:21: Endpoint 'api' has schemaFilePath '../../etc/passwd'; use a path relative to the component's "
          "directory, without '..'." },
        { "schemaVersion: 1.2\nendpoints:\n  - name: api\n    service: {port: 80}\n    type: REST\n"
          "  - name: api\n    service: {port: 81}\n    type: REST\n",
          F "6:11: Two endpoints are named 'api' (the other on line 3)." },
        { "schemaVersion: 1.2\nendpoints:\n  - name: api\n    service: {port: 80}\n    type: REST\n"
          "  - name: web\n    service: {port: 80}\n    type: REST\n",
          F "7:21: Endpoints 'api' and 'web' both use port 80; each endpoint needs its own port." },
        { "schemaVersion: 1.2\nendpoints:\n  - name: api\n    colour: blue\n", F
          "4:5: Unknown field 'colour' in an endpoint; the known ones are name, displayName, service, type, "
          "networkVisibilities, schemaFilePath." },
        { "schemaVersion: 1.2\nendpoints: {name: api}\n",
          F "2:12: 'endpoints' must be a list (lines starting with '- ')." },
        { "schemaVersion: 1.2\nschemaVersion: 1.1\n",
          F "2:1: The key 'schemaVersion' appears twice in this mapping (first on line 1); keep one." },
        { "schemaVersion: 1.2\nendpoints: [\n",
          F "3:1: The file is not valid YAML: did not find expected node content "
            "while parsing a flow node." },
        { "schemaVersion: 1.2\nconfigurations:\n  env:\n    - name: 1BAD\n      valueFrom: {configForm: {}}\n",
          F
          "4:13: The config name '1BAD' is not an environment variable name (letters, digits and '_', not starting "
          "with a digit)." },
        { "schemaVersion: 1.2\nconfigurations:\n  env:\n    - name: A\n      valueFrom: {configForm: {}}\n"
          "    - name: A\n      valueFrom: {configForm: {}}\n",
          F "6:13: Configuration 'A' is declared twice (the other on line 4)." },
        { "schemaVersion: 1.2\nconfigurations:\n  env:\n    - name: A\n      valueFrom:\n        configForm:\n"
          "          required: \"yes\"\n",
          F "7:21: 'required' must be true or false (without quotes)." },
        { "schemaVersion: 1.2\nconfigurations:\n  env:\n    - name: A\n      valueFrom:\n        configForm:\n"
          "          type: password\n",
          F "7:17: Configuration 'A' has type 'password'; use string, number, boolean or secret." },
        { "schemaVersion: 1.2\nconfigurations:\n  env:\n    - name: A\n",
          F "4:7: Configuration 'A' needs valueFrom.configForm or valueFrom.connectionRef." },
        { "schemaVersion: 1.2\nconfigurations:\n  env:\n    - name: A\n      mountPath: /a\n"
          "      valueFrom: {configForm: {}}\n",
          F "5:7: Unknown field 'mountPath' in an env configuration; the known ones are name, valueFrom." },
        { "schemaVersion: 1.2\nconfigurations:\n  file:\n    - name: conf\n      mountPath: /proc/x\n",
          F "5:18: A config file cannot be mounted under /proc: the container's own mounts live there." },
        { "schemaVersion: 1.2\nconfigurations:\n  file:\n    - name: ''\n      mountPath: /a\n",
          F "4:13: Each configuration needs a name." },
        { "schemaVersion: 1.2\nconfigurations:\n  file:\n    - name: conf\n",
          F "4:7: File configuration 'conf' needs a mountPath." },
        { "schemaVersion: 1.2\nconfigurations:\n  file:\n    - name: a\n      mountPath: /a\n"
          "    - name: b\n      mountPath: /a\n",
          F "7:18: Files 'a' and 'b' are both mounted at /a; use one path each." },
        { "schemaVersion: 1.2\nconfigurations:\n  file:\n    - name: a.b\n      mountPath: /a\n"
          "    - name: a-b\n      mountPath: /b\n",
          F "6:13: Configuration 'a-b' has the same value name as the one on line 4; rename one." },
        { "schemaVersion: 1.2\nx-slipway:\n  health:\n    readiness: http:/healthz\n",
          F "4:16: Health check 'http:/healthz' needs an endpoint to probe; add --endpoint NAME:PORT or use "
            "--health none." },
        { "schemaVersion: 1.2\nx-slipway:\n  health:\n    interval: 5\n",
          F "4:15: 'interval' must be a duration like 2s, 500ms or 1m30s." },
        { "schemaVersion: 1.2\nx-slipway:\n  health:\n    timeout: 2h\n",
          F "4:14: 'timeout' is 2h; use 100 ms to 3600 s." },
        { "schemaVersion: 1.2\nx-slipway:\n  resources:\n    memory: 1K\n",
          F "4:13: 'memory' must be a size from 4M up, like 512M or 1G." },
        { "schemaVersion: 1.2\nx-slipway:\n  bake:\n    max5xxPercent: 101\n",
          F "4:20: 'max5xxPercent' is 101; use 0..100." },
        { "schemaVersion: 1.2\nx-slipway:\n  healthcheck: {}\n",
          F "3:3: Unknown field 'healthcheck' in x-slipway; the known ones are health, resources, bake." },
        { "schemaVersion: 1.2\nx: &a [1]\n",
          F "2:4: YAML anchors (&a) are not accepted in a descriptor; write the value out." },
        { "schemaVersion: !!str 1.2\n",
          F "1:16: YAML tags (tag:yaml.org,2002:str) are not accepted in a descriptor; remove the tag." },
        { "schemaVersion: 1.2\n---\nschemaVersion: 1.2\n",
          F "2:1: The file holds more than one YAML document; keep one." },
        { "schemaVersion: 1.2\n? [a]\n: b\n",
          F "2:3: A mapping key must be plain text, not a list or mapping." },
        { "schemaVersion: 1.2\ndependencies: [[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]\n",
          F "2:30: The YAML nests deeper than 16 levels; a descriptor needs far fewer." },
        { "- a\n", F "1:1: component.yaml must be a mapping of keys to values." },
        { "schemaVersion: 1.2\nendpoints:\n  - name: [api]\n",
          F "3:11: 'name' must be text, not a list or mapping." },
        { "schemaVersion: 1.2\nconfigurations: [env]\n",
          F "2:17: configurations must be a mapping of keys to values." },
        { "schemaVersion: 1.2\nendpoints:\n  - {name: a, service: {port: 1}, type: TCP}\nx-slipway:\n  health:\n"
          "    failures: 0\n",
          F "6:15: 'failures' is 0; use 1..100." },
        { "schemaVersion: 1.2\nconfigurations:\n  env:\n    - name: A\n      valueFrom:\n        connectionRef: {name: c}\n",
          F "6:24: Configuration 'A' needs connectionRef's name and key." },
};

static void test_refusals(void) {
        for (size_t i = 0; i < ELEMENTSOF(refusals); i++) {
                DescriptorError e = {};
                Descriptor *d = NULL;
                int r = descriptor_parse(DESCRIPTOR_COMPONENT_YAML, NULL, refusals[i].yaml,
                                         strlen(refusals[i].yaml), &d, &e);
                if (r != -EINVAL || !streq(e.text, refusals[i].text))
                        TEST_FAIL("refusal %zu: r=%d\n got: %s\nwant: %s", i, r, e.text, refusals[i].text);
                CHECK(!d);
                CHECK_STREQ(e.file, ".choreo/component.yaml");
        }
}

static void test_limits(void) {
        DescriptorError e = {};
        Descriptor *d = NULL;
        char *big;
        size_t n = 0;

        /* billion laughs: refused at its first alias, never expanded */
        const char *bomb =
                "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
                "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n";
        CHECK(descriptor_parse(DESCRIPTOR_COMPONENT_YAML, NULL, bomb, strlen(bomb), &d, &e) == -EINVAL);
        CHECK_STREQ(e.text,
                    F "1:4: YAML anchors (&a) are not accepted in a descriptor; write the value out.");
        const char *alias = "schemaVersion: 1.2\ndependencies: [*x]\n";
        CHECK(descriptor_parse(DESCRIPTOR_COMPONENT_YAML, NULL, alias, strlen(alias), &d, &e) == -EINVAL);
        CHECK_STREQ(e.text,
                    F "2:16: YAML aliases (*x) are not accepted in a descriptor; write the value out.");

        /* Too large a file: refused before parsing. */
        big = malloc(DESCRIPTOR_FILE_MAX + 2);
        CHECK(big);
        memset(big, '#', DESCRIPTOR_FILE_MAX + 1);
        big[DESCRIPTOR_FILE_MAX + 1] = 0;
        CHECK(descriptor_parse(DESCRIPTOR_COMPONENT_YAML, NULL, big, DESCRIPTOR_FILE_MAX + 1, &d, &e) ==
              -EINVAL);
        CHECK_STREQ(e.text,
                    ".choreo/component.yaml: The descriptor is larger than 64 KiB; keep it smaller.");
        CHECK(e.line == 0);

        /* More nodes than the tree allows. */
        n = (size_t) snprintf(big, DESCRIPTOR_FILE_MAX, "schemaVersion: 1.2\ndependencies: [");
        while (n + 4 < DESCRIPTOR_FILE_MAX) {
                memcpy(big + n, "1, ", 3);
                n += 3;
        }
        big[n++] = ']';
        CHECK(descriptor_parse(DESCRIPTOR_COMPONENT_YAML, NULL, big, n, &d, &e) == -EINVAL);
        CHECK(strstr(e.text, "more than 4096 YAML nodes"));

        /* 17 endpoints, 65 configurations. */
        n = (size_t) snprintf(big, DESCRIPTOR_FILE_MAX, "schemaVersion: 1.2\nendpoints:\n");
        for (unsigned i = 0; i <= DESCRIPTOR_ENDPOINTS_MAX; i++)
                n += (size_t) snprintf(big + n, DESCRIPTOR_FILE_MAX - n,
                                       "  - {name: e%u, service: {port: %u}, type: TCP}\n", i, 1000 + i);
        CHECK(descriptor_parse(DESCRIPTOR_COMPONENT_YAML, NULL, big, n, &d, &e) == -EINVAL);
        CHECK_STREQ(e.text, F "19:5: A component may have at most 16 endpoints.");
        n = (size_t) snprintf(big, DESCRIPTOR_FILE_MAX, "schemaVersion: 1.2\nconfigurations:\n  env:\n");
        for (unsigned i = 0; i <= DESCRIPTOR_CONFIGS_MAX; i++)
                n += (size_t) snprintf(big + n, DESCRIPTOR_FILE_MAX - n,
                                       "    - {name: V%u, valueFrom: {configForm: {}}}\n", i);
        CHECK(descriptor_parse(DESCRIPTOR_COMPONENT_YAML, NULL, big, n, &d, &e) == -EINVAL);
        CHECK_STREQ(e.text,
                    F "68:7: A component may declare at most 64 configurations (env and file together).");

        /* A value over the scalar limit, and a name over the text limit. */
        n = (size_t) snprintf(big, DESCRIPTOR_FILE_MAX, "schemaVersion: 1.2\ndependencies: ");
        memset(big + n, 'x', 5000);
        n += 5000;
        CHECK(descriptor_parse(DESCRIPTOR_COMPONENT_YAML, NULL, big, n, &d, &e) == -EINVAL);
        CHECK_STREQ(e.text, F "2:15: A value is longer than 4096 bytes.");
        free(big);

        /* Not UTF-8, and a NUL inside a value. */
        CHECK(descriptor_parse(DESCRIPTOR_COMPONENT_YAML, NULL, "a: \xff\n", 6, &d, &e) == -EINVAL);
        CHECK(e.line == 1 && strstr(e.message, "not valid YAML"));
        const char *nul = "schemaVersion: \"1.2\\0\"\n";
        CHECK(descriptor_parse(DESCRIPTOR_COMPONENT_YAML, NULL, nul, strlen(nul), &d, &e) == -EINVAL);
        CHECK_STREQ(e.text, F "1:16: A value contains a NUL character.");
}

static void test_extension(void) {
        const char *yaml = "schemaVersion: 1.1\n"
                           "endpoints:\n"
                           "  - name: web\n"
                           "    service: {port: 8080, basePath: /shop}\n"
                           "    type: REST\n"
                           "    networkVisibilities: [Organization]\n"
                           "x-slipway:\n"
                           "  health:\n"
                           "    readiness: http:/healthz\n"
                           "    liveness: tcp\n"
                           "    interval: 500ms\n"
                           "    timeout: 2s\n"
                           "    failures: 5\n"
                           "    deployTimeout: 1m30s\n"
                           "  resources:\n"
                           "    memory: 512M\n"
                           "    cpus: 1.5\n"
                           "    pids: 256\n"
                           "  bake:\n"
                           "    duration: 2m\n"
                           "    max5xxPercent: 10\n";
        _cleanup_(descriptor_freep) Descriptor *d = parse_ok(DESCRIPTOR_COMPONENT_YAML, yaml);
        DescriptorError e = {};
        ComponentSpec s;

        CHECK(d->has_extension && d->extension.line == 8 && d->extension.column == 3);
        CHECK_OK(descriptor_to_spec(d, &s, &e));
        CHECK(s.n_endpoints == 1 && s.endpoints[0].visibility == ENDPOINT_PROJECT);
        CHECK_STREQ(s.endpoints[0].base_path, "/shop");
        CHECK(s.readiness.kind == HEALTH_HTTP && streq(s.readiness.path, "/healthz") &&
              s.readiness.port == 8080);
        CHECK(s.liveness.kind == HEALTH_TCP && s.liveness.port == 8080);
        CHECK(s.readiness.interval_ms == 500 && s.liveness.interval_ms == 500);
        CHECK(s.readiness.timeout_ms == 2000 && s.readiness.failure_threshold == 5);
        CHECK(s.deploy_timeout_ms == 90000);
        CHECK(s.memory_bytes == 512ull << 20 && s.cpus_milli == 1500 && s.pids == 256);
        CHECK(s.bake_ms == 120000 && s.bake_max_5xx_percent == 10);

        /* bake.duration 0 turns the bake window off; readiness none with no endpoint is fine. */
        const char *off =
                "schemaVersion: 1.2\nx-slipway:\n  bake: {duration: 0}\n  health: {readiness: none}\n";
        _cleanup_(descriptor_freep) Descriptor *o = parse_ok(DESCRIPTOR_COMPONENT_YAML, off);
        CHECK_OK(descriptor_to_spec(o, &s, &e));
        CHECK(s.bake_ms == 0 && s.readiness.kind == HEALTH_NONE && s.liveness.kind == HEALTH_NONE);
}

static void test_legacy(void) {
        const char *endpoints = "version: 0.1\n"
                                "endpoints:\n"
                                "  - name: Greeter API\n"
                                "    port: 9090\n"
                                "    type: REST\n"
                                "    networkVisibility: Public\n"
                                "    context: /greeter\n"
                                "    schemaFilePath: openapi.yaml\n"
                                "  - name: '!!!'\n"
                                "    port: 7000\n"
                                "    type: TCP\n";
        _cleanup_(descriptor_freep) Descriptor *d = parse_ok(DESCRIPTOR_ENDPOINTS_YAML, endpoints);
        DescriptorError e = {};
        ComponentSpec s;

        CHECK(d->format == DESCRIPTOR_ENDPOINTS_YAML && d->schema_version[0] == 0);
        CHECK_STREQ(d->endpoints[0].name, "greeter-api");
        CHECK_STREQ(d->endpoints[0].display_name, "Greeter API");
        CHECK_STREQ(d->endpoints[1].name, "port-7000");
        CHECK_OK(descriptor_to_spec(d, &s, &e));
        CHECK(s.endpoints[0].visibility == ENDPOINT_PUBLIC && streq(s.endpoints[0].base_path, "/greeter"));
        CHECK(s.endpoints[1].visibility == ENDPOINT_PROJECT);

        const char *config = "apiVersion: core.choreo.dev/v1beta1\n"
                             "kind: ComponentConfig\n"
                             "spec:\n"
                             "  inbound:\n"
                             "    - name: Greeter\n"
                             "      port: 9090\n"
                             "      type: REST\n"
                             "      networkVisibility: Organization\n"
                             "      context: /greet\n"
                             "  outbound:\n"
                             "    serviceReferences:\n"
                             "      - name: choreo:///org/proj/comp/v1/PUBLIC\n"
                             "        connectionConfig: 19d2648b\n"
                             "        env:\n"
                             "          - from: ServiceURL\n"
                             "            to: SERVICE_URL\n";
        _cleanup_(descriptor_freep) Descriptor *c = parse_ok(DESCRIPTOR_COMPONENT_CONFIG_YAML, config);
        CHECK(c->n_endpoints == 1 && streq(c->endpoints[0].name, "greeter"));
        CHECK(c->endpoints[0].visibilities == DESCRIPTOR_VISIBILITY_ORGANIZATION);
        CHECK(c->dependencies && json_object_get(c->dependencies, "serviceReferences"));

        Descriptor *x = NULL;
        const char *bad = "apiVersion: core.choreo.dev/v1\nkind: ComponentConfig\n";
        CHECK(descriptor_parse(DESCRIPTOR_COMPONENT_CONFIG_YAML, NULL, bad, strlen(bad), &x, &e) == -EINVAL);
        CHECK_STREQ(e.text, ".choreo/component-config.yaml:1:13: component-config.yaml needs apiVersion: "
                            "core.choreo.dev/v1beta1.");
        const char *bad2 = "version: 0.1\nendpoints:\n  - name: a\n    port: 99999\n    type: REST\n";
        CHECK(descriptor_parse(DESCRIPTOR_ENDPOINTS_YAML, NULL, bad2, strlen(bad2), &x, &e) == -EINVAL);
        CHECK_STREQ(e.text, ".choreo/endpoints.yaml:4:11: Endpoint 'a' has port 99999; use 1..65535.");
}

static char tmpdir[] = "/tmp/test-descriptor.XXXXXX";

static void put(const char *path, const char *text) {
        char *p = path_join(tmpdir, path);
        CHECK(p);
        CHECK_OK(write_file_atomic(p, text, strlen(text), 0644));
        free(p);
}

static void test_precedence(void) {
        _cleanup_close_ int fd = -EBADF;
        DescriptorFormat f;
        DescriptorError e = {};
        Descriptor *d = NULL;
        char *p;

        CHECK(mkdtemp(tmpdir));
        fd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        CHECK(fd >= 0);
        CHECK(descriptor_find(fd, NULL, &f) == -ENOENT);
        CHECK(descriptor_load(fd, "", &d, &e) == -ENOENT);
        CHECK_STREQ(e.text,
                    ".: No .choreo/component.yaml, .choreo/component-config.yaml or .choreo/endpoints.yaml "
                    "in the repository's top directory.");

        p = path_join(tmpdir, "svc/.choreo");
        CHECK(p && mkdir_p(p, 0755) == 0);
        free(p);
        put("svc/.choreo/endpoints.yaml", "version: 0.1\nendpoints:\n  - {name: Old, port: 1, type: TCP}\n");
        CHECK_OK(descriptor_find(fd, "svc", &f));
        CHECK(f == DESCRIPTOR_ENDPOINTS_YAML);
        put("svc/.choreo/component-config.yaml",
            "apiVersion: core.choreo.dev/v1beta1\nkind: ComponentConfig\n"
            "spec:\n  inbound:\n    - {name: Mid, port: 2, type: TCP}\n");
        CHECK_OK(descriptor_find(fd, "svc/", &f));
        CHECK(f == DESCRIPTOR_COMPONENT_CONFIG_YAML);
        put("svc/.choreo/component.yaml",
            "schemaVersion: 1.2\nendpoints:\n  - {name: new, service: {port: 3}, "
            "type: TCP}\n  - {name: new, service: {port: 4}, type: TCP}\n");
        CHECK_OK(descriptor_find(fd, "svc", &f));
        CHECK(f == DESCRIPTOR_COMPONENT_YAML);
        /* The winner is read even when it is wrong: no silent fallback to an older file. */
        CHECK(descriptor_load(fd, "svc", &d, &e) == -EINVAL);
        CHECK_STREQ(e.text,
                    "svc/.choreo/component.yaml:4:12: Two endpoints are named 'new' (the other on line 3).");
        put("svc/.choreo/component.yaml",
            "schemaVersion: 1.2\nendpoints:\n  - {name: new, service: {port: 3}, "
            "type: TCP}\n");
        CHECK_OK(descriptor_load(fd, "./svc", &d, &e));
        CHECK(d->format == DESCRIPTOR_COMPONENT_YAML && streq(d->endpoints[0].name, "new"));
        CHECK_STREQ(d->file, "svc/.choreo/component.yaml");
        d = descriptor_free(d);

        /* The top directory's own descriptor, separate from svc's. */
        p = path_join(tmpdir, ".choreo");
        CHECK(p && mkdir(p, 0755) == 0);
        free(p);
        put(".choreo/component-config.yaml", "apiVersion: core.choreo.dev/v1beta1\nkind: ComponentConfig\n");
        CHECK_OK(descriptor_load(fd, ".", &d, &e));
        CHECK(d->format == DESCRIPTOR_COMPONENT_CONFIG_YAML && d->n_endpoints == 0);
        CHECK_STREQ(d->file, ".choreo/component-config.yaml");
        d = descriptor_free(d);

        /* Nothing outside the tree: "..", an absolute path or a symlink out are refused. */
        CHECK(descriptor_load(fd, "../..", &d, &e) == -EINVAL);
        CHECK(strstr(e.text, "leads outside the repository"));
        CHECK(descriptor_load(fd, "/etc", &d, &e) == -EINVAL);
        p = path_join(tmpdir, "link/.choreo");
        CHECK(p && mkdir_p(p, 0755) == 0);
        free(p);
        p = path_join(tmpdir, "link/.choreo/component.yaml");
        CHECK(p && symlink("/etc/passwd", p) == 0);
        free(p);
        CHECK(descriptor_load(fd, "link", &d, &e) == -EINVAL);
        CHECK_STREQ(e.text,
                    "link/.choreo/component.yaml: The descriptor's path leads outside the repository "
                    "(through '..' or a symbolic link); use a path inside it.");
        put("file", "not a directory\n");
        CHECK(descriptor_load(fd, "file", &d, &e) == -EINVAL);
        CHECK_STREQ(e.text, "file: The component's directory is not a directory in the repository.");
        /* A directory where the file should be. */
        p = path_join(tmpdir, "dir/.choreo/component.yaml");
        CHECK(p && mkdir_p(p, 0755) == 0);
        free(p);
        CHECK(descriptor_load(fd, "dir", &d, &e) == -EINVAL);
        CHECK_STREQ(e.text, "dir/.choreo/component.yaml: The descriptor is not a regular file.");
        CHECK_OK(rm_rf(tmpdir));
}

int main(void) {
        test_choreo();
        test_versions();
        test_refusals();
        test_limits();
        test_extension();
        test_legacy();
        test_precedence();
        return 0;
}
