/* A parsed descriptor as a ComponentSpec: the endpoints through component_spec_from_json (one set of endpoint
 * rules for the API, the CLI and descriptors), then x-slipway over the defaults, then the configurables. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "descriptor-internal.h"
#include "json-util.h"

int descriptor_error_set(DescriptorError *e, const char *file, unsigned line, unsigned column,
                         const char *msg) {
        if (!e)
                return -EINVAL;
        *e = (DescriptorError) { .line = line, .column = column };
        (void) snprintf(e->file, sizeof e->file, "%s", strempty(file));
        (void) snprintf(e->message, sizeof e->message, "%s", strempty(msg));
        if (line > 0)
                (void) snprintf(e->text, sizeof e->text, "%s:%u:%u: %s", e->file, line, column, e->message);
        else
                (void) snprintf(e->text, sizeof e->text, "%s: %s", e->file, e->message);
        return -EINVAL;
}

int descriptor_spec_endpoints(const Descriptor *d, size_t n_endpoints, ComponentSpec *ret,
                              char **ret_error) {
        _cleanup_json_ json_t *eps = json_array(), *j = NULL;

        if (!eps)
                return -ENOMEM;
        for (size_t i = 0; i < n_endpoints && i < d->n_endpoints; i++) {
                const DescriptorEndpoint *e = &d->endpoints[i];
                bool public = e->visibilities & DESCRIPTOR_VISIBILITY_PUBLIC;
                if (json_array_append_new(eps, json_pack("{s:s, s:i, s:s, s:s}", "name", e->name, "port",
                                                         (int) e->port, "visibility",
                                                         public ? "public" : "project", "base_path",
                                                         e->base_path)) < 0)
                        return -ENOMEM;
        }
        j = json_pack("{s:O}", "endpoints", eps);
        if (!j)
                return -ENOMEM;
        return component_spec_from_json(j, ret, ret_error);
}

static int spec_error(const Descriptor *d, unsigned line, unsigned column, char *msg, DescriptorError *e) {
        int r = descriptor_error_set(e, d->file, line, column,
                                     msg ?: "The descriptor does not map to a spec.");
        free(msg);
        return r;
}

int descriptor_to_spec(const Descriptor *d, ComponentSpec *ret, DescriptorError *ret_error) {
        const DescriptorExtension *x = &d->extension;
        char *msg = NULL;
        ComponentSpec spec;
        int r;

        r = descriptor_spec_endpoints(d, d->n_endpoints, &spec, &msg);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return spec_error(d, d->n_endpoints ? d->endpoints[0].line : 0,
                                  d->n_endpoints ? d->endpoints[0].column : 0, msg, ret_error);

        if (d->has_extension) {
                if (x->readiness[0] && (r = spec_health_parse(x->readiness, &spec, &msg)) < 0)
                        return spec_error(d, x->line, x->column, msg, ret_error);
                if (x->liveness[0] && (r = spec_liveness_parse(x->liveness, &spec, &msg)) < 0)
                        return spec_error(d, x->line, x->column, msg, ret_error);
                if ((r = spec_health_tune(&spec, &x->tuning, &msg)) < 0)
                        return spec_error(d, x->line, x->column, msg, ret_error);
                if (x->memory_bytes)
                        spec.memory_bytes = x->memory_bytes;
                if (x->cpus_milli)
                        spec.cpus_milli = x->cpus_milli;
                if (x->pids)
                        spec.pids = x->pids;
                if (x->bake_set)
                        spec.bake_ms = x->bake_ms;
                if (x->max_5xx_set)
                        spec.bake_max_5xx_percent = x->max_5xx_percent;
        }

        for (size_t i = 0; i < d->n_configs; i++) {
                const DescriptorConfig *c = &d->configs[i];
                SpecConfig s = {
                        .secret = c->type == DESCRIPTOR_CONFIG_SECRET,
                        .optional = !c->required,
                };
                (void) snprintf(s.name, sizeof s.name, "%s", c->spec_name);
                if (c->file)
                        (void) snprintf(s.file, sizeof s.file, "%s", c->mount_path);
                if (component_spec_config(&spec, s.name))
                        return descriptor_error_set(ret_error, d->file, c->line, c->column,
                                                    "Two configurables have the same name; rename one.");
                r = spec_config_put(&spec, &s, &msg);
                if (r < 0)
                        return spec_error(d, c->line, c->column, msg, ret_error);
        }
        *ret = spec;
        return 0;
}
