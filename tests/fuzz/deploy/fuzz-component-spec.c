/* libFuzzer target for component specs and names: the input as a spec JSON document (a valid one must
 * survive format → parse unchanged), and each line as an endpoint, health check, configurable, size, CPU count
 * and name. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "component-spec.h"
#include "names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s, *copy, *line, *save = NULL, *err = NULL;
        ComponentSpec spec, again;

        if (size > 64 * 1024)
                return 0;
        s = strndup((const char *) data, size);
        if (!s)
                return 0;
        if (component_spec_parse(s, &spec, &err) == 0) {
                char *j = component_spec_format(&spec);
                if (!j || component_spec_parse(j, &again, NULL) != 0 ||
                    memcmp(&spec.readiness, &again.readiness, sizeof spec.readiness) != 0 ||
                    spec.n_endpoints != again.n_endpoints || spec.memory_bytes != again.memory_bytes ||
                    spec.n_configs != again.n_configs ||
                    memcmp(spec.configs, again.configs, spec.n_configs * sizeof spec.configs[0]) != 0 ||
                    spec.bake_ms != again.bake_ms ||
                    spec.bake_max_5xx_percent != again.bake_max_5xx_percent ||
                    spec.keep_releases != again.keep_releases)
                        abort();
                for (size_t i = 0; i < spec.n_endpoints; i++) {
                        char *p = NULL;
                        if (component_ingress_path("p", "c", &spec, i, &p) == 0 && p[0] != '/')
                                abort();
                        free(p);
                }
                free(j);
        }
        free(err);

        copy = strdup(s);
        for (line = copy ? strtok_r(copy, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
                SpecEndpoint e;
                ComponentSpec h = { .n_endpoints = 1,
                                    .endpoints[0] = { .name = "a", .port = 80, .base_path = "/" } };
                uint64_t m;
                uint32_t c;

                err = NULL;
                (void) spec_endpoint_parse(line, &e, &err);
                free(err);
                err = NULL;
                (void) spec_health_parse(line, &h, &err);
                free(err);
                SpecConfig cfg;
                err = NULL;
                if (spec_config_parse(line, &cfg, &err) == 0 &&
                    (cfg.name[0] == 0 || (cfg.file[0] && cfg.file[0] != '/')))
                        abort();
                free(err);
                (void) spec_memory_parse(line, &m);
                (void) spec_cpus_parse(line, &c);
                err = NULL;
                if (name_validate("project", line, &err) == 0 && !name_is_valid(line))
                        abort();
                free(err);
        }
        free(copy);
        free(s);
        return 0;
}
