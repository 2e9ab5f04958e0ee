/* The three descriptor shapes read into one Descriptor.  Each mapping's keys are taken against a table first
 * (an unknown key is refused there), then the fields are checked in a fixed order, so a refusal names the
 * first problem a reader would fix and always points at the node it is about. */
#include "descriptor.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config-names.h"
#include "descriptor-internal.h"
#include "duration.h"
#include "json-util.h"
#include "names.h"
#include "string-util.h"
#include "yaml-tree.h"

#define FIELDS_MAX 8u

static const char *const format_paths[_DESCRIPTOR_FORMAT_MAX] = {
        [DESCRIPTOR_COMPONENT_YAML] = ".choreo/component.yaml",
        [DESCRIPTOR_COMPONENT_CONFIG_YAML] = ".choreo/component-config.yaml",
        [DESCRIPTOR_ENDPOINTS_YAML] = ".choreo/endpoints.yaml",
};

static const char *const endpoint_types[_DESCRIPTOR_ENDPOINT_TYPE_MAX] = {
        [DESCRIPTOR_ENDPOINT_REST] = "REST", [DESCRIPTOR_ENDPOINT_GRAPHQL] = "GraphQL",
        [DESCRIPTOR_ENDPOINT_GRPC] = "GRPC", [DESCRIPTOR_ENDPOINT_TCP] = "TCP",
        [DESCRIPTOR_ENDPOINT_UDP] = "UDP",   [DESCRIPTOR_ENDPOINT_WS] = "WS",
};

static const char *const config_types[_DESCRIPTOR_CONFIG_TYPE_MAX] = {
        [DESCRIPTOR_CONFIG_STRING] = "string",
        [DESCRIPTOR_CONFIG_NUMBER] = "number",
        [DESCRIPTOR_CONFIG_BOOLEAN] = "boolean",
        [DESCRIPTOR_CONFIG_SECRET] = "secret",
};

static const char *const schema_versions[] = { "1.0", "1.1", "1.2" };

const char *descriptor_format_to_string(DescriptorFormat f) {
        return f >= 0 && f < _DESCRIPTOR_FORMAT_MAX ? format_paths[f] : NULL;
}

const char *descriptor_endpoint_type_to_string(DescriptorEndpointType t) {
        return t >= 0 && t < _DESCRIPTOR_ENDPOINT_TYPE_MAX ? endpoint_types[t] : NULL;
}

DescriptorEndpointType descriptor_endpoint_type_from_string(const char *s) {
        for (size_t i = 0; s && i < ELEMENTSOF(endpoint_types); i++)
                if (streq(s, endpoint_types[i]))
                        return (DescriptorEndpointType) i;
        return _DESCRIPTOR_ENDPOINT_TYPE_INVALID;
}

const char *descriptor_config_type_to_string(DescriptorConfigType t) {
        return t >= 0 && t < _DESCRIPTOR_CONFIG_TYPE_MAX ? config_types[t] : NULL;
}

DescriptorConfigType descriptor_config_type_from_string(const char *s) {
        for (size_t i = 0; s && i < ELEMENTSOF(config_types); i++)
                if (streq(s, config_types[i]))
                        return (DescriptorConfigType) i;
        return _DESCRIPTOR_CONFIG_TYPE_INVALID;
}

Descriptor *descriptor_free(Descriptor *d) {
        if (!d)
                return NULL;
        json_decref(d->dependencies);
        free(d);
        return NULL;
}

/* A path inside the repository: relative, without "..", "." or empty segments. */
static bool repo_path_valid(const char *p) {
        if (!p[0] || p[0] == '/')
                return false;
        for (const char *s = p; *s;) {
                size_t n = strcspn(s, "/");
                if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
                        return false;
                s += n;
                if (*s == '/')
                        s++;
        }
        return !endswith(p, "/") && !strchr(p, '\\');
}

/* A DNS label made from an older descriptor's free-text endpoint name ("Greeter API" → "greeter-api"). */
static void label_from_text(const char *s, uint16_t port, char *buf, size_t size) {
        size_t n = 0;

        for (; *s && n + 1 < MIN(size, (size_t) NAME_MAX_LEN + 1); s++) {
                char ch = *s >= 'A' && *s <= 'Z' ? (char) (*s - 'A' + 'a') : *s;
                if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))
                        buf[n++] = ch;
                else if (n > 0 && buf[n - 1] != '-')
                        buf[n++] = '-';
        }
        while (n > 0 && buf[n - 1] == '-')
                n--;
        buf[n] = 0;
        if (n == 0)
                (void) snprintf(buf, size, "port-%u", port);
}

static int json_from_node(const YamlTreeNode *n, json_t **ret) {
        _cleanup_json_ json_t *j = NULL;

        if (n->kind == YAML_TREE_SCALAR)
                j = yaml_tree_is_null(n) ? json_null() : json_string(n->value);
        else if (n->kind == YAML_TREE_SEQUENCE) {
                j = json_array();
                for (const YamlTreeNode *i = n->first; j && i; i = i->next) {
                        json_t *v;
                        if (json_from_node(i, &v) < 0 || json_array_append_new(j, v) < 0)
                                return -ENOMEM;
                }
        } else {
                j = json_object();
                for (const YamlTreeNode *k = n->first; j && k && k->next; k = k->next->next) {
                        json_t *v;
                        if (json_from_node(k->next, &v) < 0 || json_object_set_new(j, k->value, v) < 0)
                                return -ENOMEM;
                }
        }
        if (!j)
                return -ENOMEM;
        *ret = TAKE_PTR(j);
        return 0;
}

static int parse_visibility(DescriptorCtx *c, DescriptorEndpoint *e, const YamlTreeNode *v) {
        static const struct {
                const char *name;
                DescriptorVisibility bit;
        } vis[] = { { "Public", DESCRIPTOR_VISIBILITY_PUBLIC },
                    { "Organization", DESCRIPTOR_VISIBILITY_ORGANIZATION },
                    { "Project", DESCRIPTOR_VISIBILITY_PROJECT } };

        if (v->kind == YAML_TREE_SCALAR)
                for (size_t i = 0; i < ELEMENTSOF(vis); i++)
                        if (streq(v->value, vis[i].name)) {
                                if (e->visibilities & (unsigned) vis[i].bit)
                                        return descriptor_fail(
                                                c, v, "Endpoint '%s' lists the visibility %s twice.",
                                                e->name, vis[i].name);
                                e->visibilities |= (unsigned) vis[i].bit;
                                return 0;
                        }
        return descriptor_fail(
                c, v, "Endpoint '%s' has network visibility '%.32s'; use Public, Organization or Project.",
                e->name, v->kind == YAML_TREE_SCALAR ? v->value : "(not text)");
}

/* One endpoint: component.yaml's shape, or (legacy) the older files' flat one with port, context and a single
 * networkVisibility, whose free-text name becomes the display name and, as a DNS label, the name. */
static int parse_endpoint(DescriptorCtx *c, const YamlTreeNode *m, bool legacy) {
        Descriptor *d = c->d;
        DescriptorField f[] = { { "name" }, { "displayName" },         { "service" },
                                { "type" }, { "networkVisibilities" }, { "schemaFilePath" },
                                { NULL } };
        DescriptorField lf[] = { { "name" },    { "port" },           { "type" }, { "networkVisibility" },
                                 { "context" }, { "schemaFilePath" }, { NULL } };
        DescriptorField sf[] = { { "port" }, { "basePath" }, { NULL } };
        const DescriptorField *name, *type, *schema, *port = NULL, *base = NULL;
        DescriptorEndpoint *e;
        uint64_t v;
        int r;

        if (d->n_endpoints >= DESCRIPTOR_ENDPOINTS_MAX)
                return descriptor_fail(c, m, "A component may have at most %u endpoints.",
                                       DESCRIPTOR_ENDPOINTS_MAX);
        e = &d->endpoints[d->n_endpoints];
        *e = (DescriptorEndpoint) { .base_path = "/", .line = m->line, .column = m->column };

        r = descriptor_take_fields(c, m, "an endpoint", legacy ? lf : f);
        if (r < 0)
                return r;
        name = legacy ? &lf[0] : &f[0];
        type = legacy ? &lf[2] : &f[3];
        schema = legacy ? &lf[5] : &f[5];
        if (!name->value)
                return descriptor_fail(c, m, "Each endpoint needs a name.");
        if (legacy) {
                r = descriptor_get_text(c, name, e->display_name, sizeof e->display_name);
                if (r < 0)
                        return r;
                port = &lf[1];
                base = &lf[4];
        } else {
                if (name->value->kind == YAML_TREE_SCALAR && !name_is_valid(name->value->value))
                        return descriptor_fail(
                                c, name->value,
                                "Endpoint name '%.64s' is not a DNS label (use a-z, 0-9 and '-', at most "
                                "63, no '-' at either end); put free text in displayName.",
                                name->value->value);
                r = descriptor_get_text(c, name, e->name, sizeof e->name);
                if (r < 0)
                        return r;
                if (f[1].value &&
                    (r = descriptor_get_text(c, &f[1], e->display_name, sizeof e->display_name)) < 0)
                        return r;
                if (!f[2].value)
                        return descriptor_fail(c, m, "Endpoint '%s' needs a service with a port.", e->name);
                r = descriptor_take_fields(c, f[2].value, "an endpoint's service", sf);
                if (r < 0)
                        return r;
                port = &sf[0];
                base = &sf[1];
        }

        if (!port->value)
                return descriptor_fail(c, legacy ? m : f[2].value, "Endpoint '%s' needs a port.",
                                       legacy ? e->display_name : e->name);
        if (descriptor_scalar_uint(port->value, &v) < 0 || v < 1 || v > 65535)
                return descriptor_fail(c, port->value, "Endpoint '%s' has port %.32s; use 1..65535.",
                                       legacy ? e->display_name : e->name,
                                       port->value->value ?: "(not a number)");
        e->port = (uint16_t) v;
        if (legacy)
                label_from_text(e->display_name, e->port, e->name, sizeof e->name);

        for (size_t i = 0; i < d->n_endpoints; i++) {
                if (streq(d->endpoints[i].name, e->name))
                        return descriptor_fail(c, name->value,
                                               "Two endpoints are named '%s' (the other on line %u).",
                                               e->name, d->endpoints[i].line);
                if (d->endpoints[i].port == e->port)
                        return descriptor_fail(
                                c, port->value,
                                "Endpoints '%s' and '%s' both use port %u; each endpoint needs its own port.",
                                d->endpoints[i].name, e->name, e->port);
        }

        if (!type->value)
                return descriptor_fail(
                        c, m, "Endpoint '%s' needs a type: REST, GraphQL, GRPC, TCP, UDP or WS.", e->name);
        e->type = descriptor_endpoint_type_from_string(
                type->value->kind == YAML_TREE_SCALAR ? type->value->value : NULL);
        if (e->type < 0)
                return descriptor_fail(
                        c, type->value,
                        "Endpoint '%s' has type '%.32s'; use REST, GraphQL, GRPC, TCP, UDP or WS.", e->name,
                        type->value->value ?: "(not text)");

        if (base->value) {
                ComponentSpec scratch;
                char *msg = NULL;
                r = descriptor_get_text(c, base, e->base_path, sizeof e->base_path);
                if (r < 0)
                        return r;
                d->n_endpoints++; /* checked alone through the spec's endpoint rules */
                r = descriptor_spec_endpoints(d, d->n_endpoints, &scratch, &msg);
                d->n_endpoints--;
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return descriptor_fail_spec(c, base->value, msg);
        }

        if (legacy && lf[3].value) {
                r = parse_visibility(c, e, lf[3].value);
                if (r < 0)
                        return r;
        } else if (!legacy && f[4].value) {
                if (f[4].value->kind != YAML_TREE_SEQUENCE)
                        return descriptor_fail(c, f[4].value,
                                               "'networkVisibilities' must be a list, like [Public].");
                for (const YamlTreeNode *i = f[4].value->first; i; i = i->next)
                        if ((r = parse_visibility(c, e, i)) < 0)
                                return r;
        }

        if (schema->value) {
                r = descriptor_get_text(c, schema, e->schema_file_path, sizeof e->schema_file_path);
                if (r < 0)
                        return r;
                if (!repo_path_valid(e->schema_file_path))
                        return descriptor_fail(
                                c, schema->value,
                                "Endpoint '%s' has schemaFilePath '%.64s'; use a path relative to the "
                                "component's directory, without '..'.",
                                e->name, e->schema_file_path);
        }
        d->n_endpoints++;
        return 0;
}

static int parse_endpoints(DescriptorCtx *c, const DescriptorField *f, bool legacy) {
        int r = descriptor_expect_sequence(c, f);
        if (r < 0)
                return r;
        for (const YamlTreeNode *i = f->value->first; i; i = i->next)
                if ((r = parse_endpoint(c, i, legacy)) < 0)
                        return r;
        return 0;
}

static int parse_config_form(DescriptorCtx *c, DescriptorConfig *cfg, const YamlTreeNode *m) {
        DescriptorField f[] = { { "displayName" }, { "required" }, { "type" }, { NULL } };
        int r;

        r = descriptor_take_fields(c, m, "configForm", f);
        if (r < 0)
                return r;
        if (f[0].value &&
            (r = descriptor_get_text(c, &f[0], cfg->display_name, sizeof cfg->display_name)) < 0)
                return r;
        if (f[1].value && (r = descriptor_get_bool(c, &f[1], &cfg->required)) < 0)
                return r;
        if (f[2].value) {
                cfg->type = descriptor_config_type_from_string(
                        f[2].value->kind == YAML_TREE_SCALAR ? f[2].value->value : NULL);
                if (cfg->type < 0)
                        return descriptor_fail(
                                c, f[2].value,
                                "Configuration '%s' has type '%.32s'; use string, number, boolean or secret.",
                                cfg->name, f[2].value->value ?: "(not text)");
        }
        return 0;
}

static int parse_value_from(DescriptorCtx *c, DescriptorConfig *cfg, const DescriptorField *vf) {
        DescriptorField f[] = { { "configForm" }, { "connectionRef" }, { NULL } };
        DescriptorField cf[] = { { "name" }, { "key" }, { NULL } };
        int r;

        r = descriptor_take_fields(c, vf->value, "valueFrom", f);
        if (r < 0)
                return r;
        if (f[0].value && f[1].value)
                return descriptor_fail(
                        c, f[1].key_node,
                        "Configuration '%s' takes its value from configForm or connectionRef, "
                        "not both.",
                        cfg->name);
        if (f[0].value)
                return parse_config_form(c, cfg, f[0].value);
        if (!f[1].value)
                return descriptor_fail(
                        c, vf->value,
                        "Configuration '%s' needs valueFrom.configForm or valueFrom.connectionRef.",
                        cfg->name);
        if (cfg->file)
                return descriptor_fail(c, f[1].key_node,
                                       "File configuration '%s' takes its value from configForm only.",
                                       cfg->name);
        r = descriptor_take_fields(c, f[1].value, "connectionRef", cf);
        if (r < 0)
                return r;
        if (!cf[0].value || !cf[1].value)
                return descriptor_fail(c, f[1].value,
                                       "Configuration '%s' needs connectionRef's name and key.", cfg->name);
        if ((r = descriptor_get_text(c, &cf[0], cfg->connection_name, sizeof cfg->connection_name)) < 0 ||
            (r = descriptor_get_text(c, &cf[1], cfg->connection_key, sizeof cfg->connection_key)) < 0)
                return r;
        return 0;
}

static int parse_config(DescriptorCtx *c, const YamlTreeNode *m, bool file) {
        Descriptor *d = c->d;
        DescriptorField f[] = { { "name" }, { "valueFrom" }, { "mountPath" }, { NULL } };
        DescriptorConfig *cfg;
        char *msg = NULL;
        int r;

        if (d->n_configs >= DESCRIPTOR_CONFIGS_MAX)
                return descriptor_fail(
                        c, m, "A component may declare at most %u configurations (env and file together).",
                        DESCRIPTOR_CONFIGS_MAX);
        cfg = &d->configs[d->n_configs];
        *cfg = (DescriptorConfig) { .file = file,
                                    .required = true,
                                    .type = DESCRIPTOR_CONFIG_STRING,
                                    .line = m->line,
                                    .column = m->column };
        if (!file)
                f[2].key = NULL; /* env entries have no mountPath */
        r = descriptor_take_fields(c, m, file ? "a file configuration" : "an env configuration", f);
        if (r < 0)
                return r;
        if (!f[0].value)
                return descriptor_fail(c, m, "Each configuration needs a name.");
        r = descriptor_get_text(c, &f[0], cfg->name, sizeof cfg->name);
        if (r < 0)
                return r;
        if (!cfg->name[0])
                return descriptor_fail(c, f[0].value, "Each configuration needs a name.");
        if (!file) {
                if (config_key_check(cfg->name, &msg) < 0)
                        return descriptor_fail_spec(c, f[0].value, msg);
                strcpy(cfg->spec_name, cfg->name);
        } else {
                size_t n = 0;
                if (cfg->name[0] >= '0' && cfg->name[0] <= '9')
                        cfg->spec_name[n++] = '_';
                for (const char *p = cfg->name; *p && n + 1 < sizeof cfg->spec_name; p++)
                        cfg->spec_name[n++] = ascii_isalnum(*p) ? *p : '_';
                cfg->spec_name[n] = 0;
                if (strlen(cfg->name) + 1 >= sizeof cfg->spec_name)
                        return descriptor_fail(c, f[0].value,
                                               "File configuration name '%.40s…' is longer than %u bytes.",
                                               cfg->name, SPEC_CONFIG_NAME_MAX - 2);
                if (!f[2].value)
                        return descriptor_fail(c, m, "File configuration '%s' needs a mountPath.",
                                               cfg->name);
                r = descriptor_get_text(c, &f[2], cfg->mount_path, sizeof cfg->mount_path);
                if (r < 0)
                        return r;
                if (config_file_path_check(cfg->mount_path, &msg) < 0)
                        return descriptor_fail_spec(c, f[2].value, msg);
        }
        for (size_t i = 0; i < d->n_configs; i++) {
                const DescriptorConfig *o = &d->configs[i];
                if (streq(o->spec_name, cfg->spec_name))
                        return descriptor_fail(
                                c, f[0].value,
                                streq(o->name, cfg->name)
                                        ? "Configuration '%s' is declared twice (the other on line %u)."
                                        : "Configuration '%s' has the same value name as the one on line %u; "
                                          "rename one.",
                                cfg->name, o->line);
                if (file && o->file && streq(o->mount_path, cfg->mount_path))
                        return descriptor_fail(
                                c, f[2].value,
                                "Files '%s' and '%s' are both mounted at %s; use one path each.", o->name,
                                cfg->name, cfg->mount_path);
        }
        if (f[1].value)
                r = parse_value_from(c, cfg, &f[1]);
        else if (!file)
                r = descriptor_fail(
                        c, m, "Configuration '%s' needs valueFrom.configForm or valueFrom.connectionRef.",
                        cfg->name);
        if (r < 0)
                return r;
        d->n_configs++;
        return 0;
}

static int parse_configurations(DescriptorCtx *c, const DescriptorField *cf) {
        DescriptorField f[] = { { "env" }, { "file" }, { NULL } };
        int r;

        r = descriptor_take_fields(c, cf->value, "configurations", f);
        if (r < 0)
                return r;
        for (size_t k = 0; k < 2; k++) {
                if (!f[k].value)
                        continue;
                if ((r = descriptor_expect_sequence(c, &f[k])) < 0)
                        return r;
                for (const YamlTreeNode *i = f[k].value->first; i; i = i->next)
                        if ((r = parse_config(c, i, k == 1)) < 0)
                                return r;
        }
        return 0;
}

static int parse_dependencies(DescriptorCtx *c, const DescriptorField *f) {
        return json_from_node(f->value, &c->d->dependencies);
}

static int parse_component_yaml(DescriptorCtx *c, const YamlTreeNode *root) {
        DescriptorField f[] = { { "schemaVersion" },          { "endpoints" },
                                { "configurations" },         { "dependencies" },
                                { DESCRIPTOR_EXTENSION_KEY }, { NULL } };
        const YamlTreeNode *v;
        int r;

        r = descriptor_take_fields(c, root, "component.yaml", f);
        if (r < 0)
                return r;
        v = f[0].value;
        if (!v)
                return descriptor_fail(
                        c, root, "The descriptor needs schemaVersion: 1.2 (1.0 and 1.1 are read too).");
        for (size_t i = 0; v->kind == YAML_TREE_SCALAR && i < ELEMENTSOF(schema_versions); i++)
                if (streq(v->value, schema_versions[i]))
                        strcpy(c->d->schema_version, schema_versions[i]);
        if (!c->d->schema_version[0])
                return descriptor_fail(c, v, "schemaVersion %.16s is not supported; use 1.0, 1.1 or 1.2.",
                                       v->kind == YAML_TREE_SCALAR ? v->value : "(not text)");
        if (f[1].value && (r = parse_endpoints(c, &f[1], false)) < 0)
                return r;
        if (f[2].value && (r = parse_configurations(c, &f[2])) < 0)
                return r;
        if (f[3].value && (r = parse_dependencies(c, &f[3])) < 0)
                return r;
        if (f[4].value && (r = descriptor_parse_extension(c, &f[4])) < 0)
                return r;
        return 0;
}

/* .choreo/component-config.yaml: apiVersion core.choreo.dev/v1beta1, kind ComponentConfig, spec.inbound[]
 * (endpoints as in endpoints.yaml) and spec.outbound (kept as dependencies). */
static int parse_component_config_yaml(DescriptorCtx *c, const YamlTreeNode *root) {
        DescriptorField f[] = { { "apiVersion" }, { "kind" }, { "spec" }, { NULL } };
        DescriptorField sf[] = { { "inbound" }, { "outbound" }, { NULL } };
        int r;

        r = descriptor_take_fields(c, root, "component-config.yaml", f);
        if (r < 0)
                return r;
        if (!f[0].value || f[0].value->kind != YAML_TREE_SCALAR ||
            !streq(f[0].value->value, "core.choreo.dev/v1beta1"))
                return descriptor_fail(c, f[0].value ?: root,
                                       "component-config.yaml needs apiVersion: core.choreo.dev/v1beta1.");
        if (!f[1].value || f[1].value->kind != YAML_TREE_SCALAR ||
            !streq(f[1].value->value, "ComponentConfig"))
                return descriptor_fail(c, f[1].value ?: root,
                                       "component-config.yaml needs kind: ComponentConfig.");
        if (!f[2].value)
                return 0;
        r = descriptor_take_fields(c, f[2].value, "spec", sf);
        if (r < 0)
                return r;
        if (sf[0].value && (r = parse_endpoints(c, &sf[0], true)) < 0)
                return r;
        if (sf[1].value && (r = parse_dependencies(c, &sf[1])) < 0)
                return r;
        return 0;
}

/* .choreo/endpoints.yaml: version 0.1 and endpoints[] {name, port, type, networkVisibility, context,
 * schemaFilePath}. */
static int parse_endpoints_yaml(DescriptorCtx *c, const YamlTreeNode *root) {
        DescriptorField f[] = { { "version" }, { "endpoints" }, { NULL } };
        int r;

        r = descriptor_take_fields(c, root, "endpoints.yaml", f);
        if (r < 0)
                return r;
        if (f[0].value && (f[0].value->kind != YAML_TREE_SCALAR || !streq(f[0].value->value, "0.1")))
                return descriptor_fail(
                        c, f[0].value, "endpoints.yaml version %.16s is not supported; use 0.1.",
                        f[0].value->kind == YAML_TREE_SCALAR ? f[0].value->value : "(not text)");
        if (f[1].value && (r = parse_endpoints(c, &f[1], true)) < 0)
                return r;
        return 0;
}

int descriptor_parse(DescriptorFormat format, const char *file, const char *data, size_t size,
                     Descriptor **ret, DescriptorError *ret_error) {
        _cleanup_(descriptor_freep) Descriptor *d = NULL;
        _cleanup_(yaml_tree_freep) YamlTree *t = NULL;
        YamlTreeError te = {};
        ComponentSpec spec;
        DescriptorCtx c;
        int r;

        assert(format >= 0 && format < _DESCRIPTOR_FORMAT_MAX);
        file = file ?: format_paths[format];
        if (size > DESCRIPTOR_FILE_MAX) {
                char msg[128];
                (void) snprintf(msg, sizeof msg, "The descriptor is larger than %u KiB; keep it smaller.",
                                DESCRIPTOR_FILE_MAX / 1024);
                return descriptor_error_set(ret_error, file, 0, 0, msg);
        }
        d = calloc(1, sizeof *d);
        if (!d)
                return -ENOMEM;
        d->format = format;
        (void) snprintf(d->file, sizeof d->file, "%s", file);
        c = (DescriptorCtx) { .d = d, .error = ret_error };

        r = yaml_tree_parse(data, size, &t, &te);
        if (r == -EINVAL)
                return descriptor_error_set(ret_error, d->file, te.line, te.column, te.message);
        if (r < 0)
                return r;
        if (!t->root)
                return descriptor_fail(&c, NULL, "The descriptor is empty; it needs at least %s.",
                                       format == DESCRIPTOR_COMPONENT_YAML ? "schemaVersion: 1.2"
                                                                           : "its endpoints");

        switch (format) {
        case DESCRIPTOR_COMPONENT_YAML:
                r = parse_component_yaml(&c, t->root);
                break;
        case DESCRIPTOR_COMPONENT_CONFIG_YAML:
                r = parse_component_config_yaml(&c, t->root);
                break;
        default:
                r = parse_endpoints_yaml(&c, t->root);
                break;
        }
        if (r < 0)
                return r;
        /* Whatever was not checked field by field (combinations) must still map. */
        r = descriptor_to_spec(d, &spec, ret_error);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(d);
        return 0;
}
