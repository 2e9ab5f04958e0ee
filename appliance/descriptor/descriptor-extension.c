/* x-slipway, the descriptor's Slipway-only settings: health checks (checked against the endpoints read
 * before), resources and the bake window, over the spec's defaults. */
#include <errno.h>
#include <stdlib.h>

#include "component-spec.h"
#include "descriptor-internal.h"

static int parse_health(DescriptorCtx *c, DescriptorExtension *x, const YamlTreeNode *m) {
        DescriptorField f[] = { { "readiness" }, { "liveness" },      { "interval" }, { "timeout" },
                                { "failures" },  { "deployTimeout" }, { NULL } };
        ComponentSpec scratch;
        char *msg = NULL;
        uint64_t v;
        int r;

        r = descriptor_take_fields(c, m, "x-slipway health", f);
        if (r < 0)
                return r;
        r = descriptor_spec_endpoints(c->d, c->d->n_endpoints, &scratch, &msg);
        if (r < 0) {
                free(msg);
                return r == -ENOMEM ? r : descriptor_fail(c, m, "The endpoints do not form a spec.");
        }
        for (size_t k = 0; k < 2; k++) {
                char *buf = k == 0 ? x->readiness : x->liveness;
                if (!f[k].value)
                        continue;
                if ((r = descriptor_get_text(c, &f[k], buf, sizeof x->readiness)) < 0)
                        return r;
                r = (k == 0 ? spec_health_parse : spec_liveness_parse)(buf, &scratch, &msg);
                if (r < 0)
                        return descriptor_fail_spec(c, f[k].value, msg);
        }
        if (f[2].value && (r = descriptor_get_duration(c, &f[2], SPEC_HEALTH_MS_MIN, SPEC_TIME_MS_MAX,
                                                       &x->tuning.interval_ms)) < 0)
                return r;
        if (f[3].value && (r = descriptor_get_duration(c, &f[3], SPEC_HEALTH_MS_MIN, SPEC_TIME_MS_MAX,
                                                       &x->tuning.timeout_ms)) < 0)
                return r;
        if (f[4].value) {
                if ((r = descriptor_get_uint(c, &f[4], 1, SPEC_THRESHOLD_MAX, &v)) < 0)
                        return r;
                x->tuning.failure_threshold = (uint32_t) v;
        }
        if (f[5].value && (r = descriptor_get_duration(c, &f[5], 1000, SPEC_TIME_MS_MAX,
                                                       &x->tuning.deploy_timeout_ms)) < 0)
                return r;
        return 0;
}

static int parse_resources(DescriptorCtx *c, DescriptorExtension *x, const YamlTreeNode *m) {
        DescriptorField f[] = { { "memory" }, { "cpus" }, { "pids" }, { NULL } };
        uint64_t v;
        int r;

        r = descriptor_take_fields(c, m, "x-slipway resources", f);
        if (r < 0)
                return r;
        if (f[0].value) {
                if (f[0].value->kind != YAML_TREE_SCALAR ||
                    spec_memory_parse(f[0].value->value, &x->memory_bytes) < 0 ||
                    x->memory_bytes < SPEC_MEMORY_MIN)
                        return descriptor_fail(c, f[0].value,
                                               "'memory' must be a size from 4M up, like 512M or 1G.");
        }
        if (f[1].value) {
                if (f[1].value->kind != YAML_TREE_SCALAR ||
                    spec_cpus_parse(f[1].value->value, &x->cpus_milli) < 0 || x->cpus_milli == 0)
                        return descriptor_fail(
                                c, f[1].value,
                                "'cpus' must be a CPU count above 0, like 0.5 or 2 (leave it out for no limit).");
        }
        if (f[2].value) {
                if ((r = descriptor_get_uint(c, &f[2], 1, SPEC_PIDS_MAX, &v)) < 0)
                        return r;
                x->pids = (uint32_t) v;
        }
        return 0;
}

static int parse_bake(DescriptorCtx *c, DescriptorExtension *x, const YamlTreeNode *m) {
        DescriptorField f[] = { { "duration" }, { "max5xxPercent" }, { NULL } };
        uint64_t v;
        int r;

        r = descriptor_take_fields(c, m, "x-slipway bake", f);
        if (r < 0)
                return r;
        if (f[0].value) {
                if ((r = descriptor_get_duration(c, &f[0], 0, SPEC_BAKE_MS_MAX, &x->bake_ms)) < 0)
                        return r;
                x->bake_set = true;
        }
        if (f[1].value) {
                if ((r = descriptor_get_uint(c, &f[1], 0, 100, &v)) < 0)
                        return r;
                x->max_5xx_percent = (uint32_t) v;
                x->max_5xx_set = true;
        }
        return 0;
}

int descriptor_parse_extension(DescriptorCtx *c, const DescriptorField *xf) {
        DescriptorExtension *x = &c->d->extension;
        DescriptorField f[] = { { "health" }, { "resources" }, { "bake" }, { NULL } };
        int r;

        r = descriptor_take_fields(c, xf->value, DESCRIPTOR_EXTENSION_KEY, f);
        if (r < 0)
                return r;
        c->d->has_extension = true;
        x->line = xf->value->line;
        x->column = xf->value->column;
        if (f[0].value && (r = parse_health(c, x, f[0].value)) < 0)
                return r;
        if (f[1].value && (r = parse_resources(c, x, f[1].value)) < 0)
                return r;
        if (f[2].value && (r = parse_bake(c, x, f[2].value)) < 0)
                return r;
        return 0;
}
