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

typedef struct Ctx {
        Descriptor *d;
        DescriptorError *error;
} Ctx;

typedef struct Field {
        const char *key;
        const YamlTreeNode *key_node, *value; /* NULL when absent or null */
} Field;

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

_printf_(3, 4) static int fail(Ctx *c, const YamlTreeNode *at, const char *fmt, ...) {
        char msg[DESCRIPTOR_MESSAGE_MAX];
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        return descriptor_error_set(c->error, c->d->file, at ? at->line : 1, at ? at->column : 1, msg);
}

/* A sentence from the spec checks (component-spec.c, config-names.c), placed at node at. */
static int fail_spec(Ctx *c, const YamlTreeNode *at, char *msg) {
        int r = fail(c, at, "%s", msg ?: "The value is not valid.");
        free(msg);
        return r;
}

/* Takes the pairs of mapping m into fields (a NULL-key-terminated table), refusing keys not in it. */
static int take_fields(Ctx *c, const YamlTreeNode *m, const char *what, Field *fields) {
        if (m->kind != YAML_TREE_MAPPING)
                return fail(c, m, "%s must be a mapping of keys to values.", what);
        for (const YamlTreeNode *k = m->first; k && k->next; k = k->next->next) {
                Field *f = fields;
                for (; f->key; f++)
                        if (streq(f->key, k->value))
                                break;
                if (!f->key) {
                        char known[256] = "";
                        for (Field *g = fields; g->key; g++) {
                                if (g != fields)
                                        strncat(known, ", ", sizeof known - strlen(known) - 1);
                                strncat(known, g->key, sizeof known - strlen(known) - 1);
                        }
                        return fail(c, k, "Unknown field '%.64s' in %s; the known ones are %s.", k->value,
                                    what, known);
                }
                f->key_node = k;
                f->value = yaml_tree_is_null(k->next) ? NULL : k->next;
        }
        return 0;
}

static bool has_control(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < ' ' || *s == 0x7f)
                        return true;
        return false;
}

/* A scalar of fewer than size bytes without control characters, copied into buf. */
static int get_text(Ctx *c, const Field *f, char *buf, size_t size) {
        const YamlTreeNode *v = f->value;

        if (v->kind != YAML_TREE_SCALAR)
                return fail(c, v, "'%s' must be text, not a list or mapping.", f->key);
        if (strlen(v->value) >= size)
                return fail(c, v, "'%s' is longer than %zu bytes.", f->key, size - 1);
        if (has_control(v->value))
                return fail(c, v, "'%s' contains a control character.", f->key);
        strcpy(buf, v->value);
        return 0;
}

/* A plain decimal integer: 0 and *ret, or -EINVAL (not a number, or above UINT64_MAX / 10). */
static int scalar_uint(const YamlTreeNode *v, uint64_t *ret) {
        uint64_t n = 0;

        if (v->kind != YAML_TREE_SCALAR || !v->plain || !v->value[0])
                return -EINVAL;
        for (const char *p = v->value; *p; p++) {
                if (*p < '0' || *p > '9' || n > UINT64_MAX / 10 - 1)
                        return -EINVAL;
                n = n * 10 + (uint64_t) (*p - '0');
        }
        *ret = n;
        return 0;
}

static int get_uint(Ctx *c, const Field *f, uint64_t min, uint64_t max, uint64_t *ret) {
        uint64_t v;

        if (scalar_uint(f->value, &v) < 0)
                return fail(c, f->value, "'%s' must be a whole number between %llu and %llu.", f->key,
                            (unsigned long long) min, (unsigned long long) max);
        if (v < min || v > max)
                return fail(c, f->value, "'%s' is %s; use %llu..%llu.", f->key, f->value->value,
                            (unsigned long long) min, (unsigned long long) max);
        *ret = v;
        return 0;
}

static int get_bool(Ctx *c, const Field *f, bool *ret) {
        static const char *const yes[] = { "true", "True", "TRUE" }, *const no[] = { "false", "False",
                                                                                     "FALSE" };
        const YamlTreeNode *v = f->value;

        for (size_t i = 0; v->kind == YAML_TREE_SCALAR && v->plain && i < ELEMENTSOF(yes); i++) {
                if (streq(v->value, yes[i])) {
                        *ret = true;
                        return 0;
                }
                if (streq(v->value, no[i])) {
                        *ret = false;
                        return 0;
                }
        }
        return fail(c, v, "'%s' must be true or false (without quotes).", f->key);
}

/* A duration ("2s", "500ms", "1m30s") in milliseconds, within min_ms..max_ms. */
static int get_duration(Ctx *c, const Field *f, uint64_t min_ms, uint64_t max_ms, uint32_t *ret) {
        uint64_t ns;

        if (f->value->kind != YAML_TREE_SCALAR || duration_parse(f->value->value, &ns) < 0)
                return fail(c, f->value, "'%s' must be a duration like 2s, 500ms or 1m30s.", f->key);
        if (ns / NSEC_PER_MSEC < min_ms || ns / NSEC_PER_MSEC > max_ms)
                return fail(c, f->value, "'%s' is %s; use %llu ms to %llu s.", f->key, f->value->value,
                            (unsigned long long) min_ms, (unsigned long long) (max_ms / 1000));
        *ret = (uint32_t) (ns / NSEC_PER_MSEC);
        return 0;
}

static int expect_sequence(Ctx *c, const Field *f) {
        if (f->value->kind != YAML_TREE_SEQUENCE)
                return fail(c, f->value, "'%s' must be a list (lines starting with '- ').", f->key);
        return 0;
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

static int parse_visibility(Ctx *c, DescriptorEndpoint *e, const YamlTreeNode *v) {
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
                                        return fail(c, v, "Endpoint '%s' lists the visibility %s twice.",
                                                    e->name, vis[i].name);
                                e->visibilities |= (unsigned) vis[i].bit;
                                return 0;
                        }
        return fail(c, v,
                    "Endpoint '%s' has network visibility '%.32s'; use Public, Organization or Project.",
                    e->name, v->kind == YAML_TREE_SCALAR ? v->value : "(not text)");
}

/* One endpoint: component.yaml's shape, or (legacy) the older files' flat one with port, context and a single
 * networkVisibility, whose free-text name becomes the display name and, as a DNS label, the name. */
static int parse_endpoint(Ctx *c, const YamlTreeNode *m, bool legacy) {
        Descriptor *d = c->d;
        Field f[] = { { "name" }, { "displayName" },         { "service" },
                      { "type" }, { "networkVisibilities" }, { "schemaFilePath" },
                      { NULL } };
        Field lf[] = { { "name" },    { "port" },           { "type" }, { "networkVisibility" },
                       { "context" }, { "schemaFilePath" }, { NULL } };
        Field sf[] = { { "port" }, { "basePath" }, { NULL } };
        const Field *name, *type, *schema, *port = NULL, *base = NULL;
        DescriptorEndpoint *e;
        uint64_t v;
        int r;

        if (d->n_endpoints >= DESCRIPTOR_ENDPOINTS_MAX)
                return fail(c, m, "A component may have at most %u endpoints.", DESCRIPTOR_ENDPOINTS_MAX);
        e = &d->endpoints[d->n_endpoints];
        *e = (DescriptorEndpoint) { .base_path = "/", .line = m->line, .column = m->column };

        r = take_fields(c, m, "an endpoint", legacy ? lf : f);
        if (r < 0)
                return r;
        name = legacy ? &lf[0] : &f[0];
        type = legacy ? &lf[2] : &f[3];
        schema = legacy ? &lf[5] : &f[5];
        if (!name->value)
                return fail(c, m, "Each endpoint needs a name.");
        if (legacy) {
                r = get_text(c, name, e->display_name, sizeof e->display_name);
                if (r < 0)
                        return r;
                port = &lf[1];
                base = &lf[4];
        } else {
                if (name->value->kind == YAML_TREE_SCALAR && !name_is_valid(name->value->value))
                        return fail(
                                c, name->value,
                                "Endpoint name '%.64s' is not a DNS label (use a-z, 0-9 and '-', at most "
                                "63, no '-' at either end); put free text in displayName.",
                                name->value->value);
                r = get_text(c, name, e->name, sizeof e->name);
                if (r < 0)
                        return r;
                if (f[1].value && (r = get_text(c, &f[1], e->display_name, sizeof e->display_name)) < 0)
                        return r;
                if (!f[2].value)
                        return fail(c, m, "Endpoint '%s' needs a service with a port.", e->name);
                r = take_fields(c, f[2].value, "an endpoint's service", sf);
                if (r < 0)
                        return r;
                port = &sf[0];
                base = &sf[1];
        }

        if (!port->value)
                return fail(c, legacy ? m : f[2].value, "Endpoint '%s' needs a port.",
                            legacy ? e->display_name : e->name);
        if (scalar_uint(port->value, &v) < 0 || v < 1 || v > 65535)
                return fail(c, port->value, "Endpoint '%s' has port %.32s; use 1..65535.",
                            legacy ? e->display_name : e->name, port->value->value ?: "(not a number)");
        e->port = (uint16_t) v;
        if (legacy)
                label_from_text(e->display_name, e->port, e->name, sizeof e->name);

        for (size_t i = 0; i < d->n_endpoints; i++) {
                if (streq(d->endpoints[i].name, e->name))
                        return fail(c, name->value, "Two endpoints are named '%s' (the other on line %u).",
                                    e->name, d->endpoints[i].line);
                if (d->endpoints[i].port == e->port)
                        return fail(
                                c, port->value,
                                "Endpoints '%s' and '%s' both use port %u; each endpoint needs its own port.",
                                d->endpoints[i].name, e->name, e->port);
        }

        if (!type->value)
                return fail(c, m, "Endpoint '%s' needs a type: REST, GraphQL, GRPC, TCP, UDP or WS.",
                            e->name);
        e->type = descriptor_endpoint_type_from_string(
                type->value->kind == YAML_TREE_SCALAR ? type->value->value : NULL);
        if (e->type < 0)
                return fail(c, type->value,
                            "Endpoint '%s' has type '%.32s'; use REST, GraphQL, GRPC, TCP, UDP or WS.",
                            e->name, type->value->value ?: "(not text)");

        if (base->value) {
                ComponentSpec scratch;
                char *msg = NULL;
                r = get_text(c, base, e->base_path, sizeof e->base_path);
                if (r < 0)
                        return r;
                d->n_endpoints++; /* checked alone through the spec's endpoint rules */
                r = descriptor_spec_endpoints(d, d->n_endpoints, &scratch, &msg);
                d->n_endpoints--;
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return fail_spec(c, base->value, msg);
        }

        if (legacy && lf[3].value) {
                r = parse_visibility(c, e, lf[3].value);
                if (r < 0)
                        return r;
        } else if (!legacy && f[4].value) {
                if (f[4].value->kind != YAML_TREE_SEQUENCE)
                        return fail(c, f[4].value, "'networkVisibilities' must be a list, like [Public].");
                for (const YamlTreeNode *i = f[4].value->first; i; i = i->next)
                        if ((r = parse_visibility(c, e, i)) < 0)
                                return r;
        }

        if (schema->value) {
                r = get_text(c, schema, e->schema_file_path, sizeof e->schema_file_path);
                if (r < 0)
                        return r;
                if (!repo_path_valid(e->schema_file_path))
                        return fail(c, schema->value,
                                    "Endpoint '%s' has schemaFilePath '%.64s'; use a path relative to the "
                                    "component's directory, without '..'.",
                                    e->name, e->schema_file_path);
        }
        d->n_endpoints++;
        return 0;
}

static int parse_endpoints(Ctx *c, const Field *f, bool legacy) {
        int r = expect_sequence(c, f);
        if (r < 0)
                return r;
        for (const YamlTreeNode *i = f->value->first; i; i = i->next)
                if ((r = parse_endpoint(c, i, legacy)) < 0)
                        return r;
        return 0;
}

static int parse_config_form(Ctx *c, DescriptorConfig *cfg, const YamlTreeNode *m) {
        Field f[] = { { "displayName" }, { "required" }, { "type" }, { NULL } };
        int r;

        r = take_fields(c, m, "configForm", f);
        if (r < 0)
                return r;
        if (f[0].value && (r = get_text(c, &f[0], cfg->display_name, sizeof cfg->display_name)) < 0)
                return r;
        if (f[1].value && (r = get_bool(c, &f[1], &cfg->required)) < 0)
                return r;
        if (f[2].value) {
                cfg->type = descriptor_config_type_from_string(
                        f[2].value->kind == YAML_TREE_SCALAR ? f[2].value->value : NULL);
                if (cfg->type < 0)
                        return fail(
                                c, f[2].value,
                                "Configuration '%s' has type '%.32s'; use string, number, boolean or secret.",
                                cfg->name, f[2].value->value ?: "(not text)");
        }
        return 0;
}

static int parse_value_from(Ctx *c, DescriptorConfig *cfg, const Field *vf) {
        Field f[] = { { "configForm" }, { "connectionRef" }, { NULL } };
        Field cf[] = { { "name" }, { "key" }, { NULL } };
        int r;

        r = take_fields(c, vf->value, "valueFrom", f);
        if (r < 0)
                return r;
        if (f[0].value && f[1].value)
                return fail(c, f[1].key_node,
                            "Configuration '%s' takes its value from configForm or connectionRef, "
                            "not both.",
                            cfg->name);
        if (f[0].value)
                return parse_config_form(c, cfg, f[0].value);
        if (!f[1].value)
                return fail(c, vf->value,
                            "Configuration '%s' needs valueFrom.configForm or valueFrom.connectionRef.",
                            cfg->name);
        if (cfg->file)
                return fail(c, f[1].key_node,
                            "File configuration '%s' takes its value from configForm only.", cfg->name);
        r = take_fields(c, f[1].value, "connectionRef", cf);
        if (r < 0)
                return r;
        if (!cf[0].value || !cf[1].value)
                return fail(c, f[1].value, "Configuration '%s' needs connectionRef's name and key.",
                            cfg->name);
        if ((r = get_text(c, &cf[0], cfg->connection_name, sizeof cfg->connection_name)) < 0 ||
            (r = get_text(c, &cf[1], cfg->connection_key, sizeof cfg->connection_key)) < 0)
                return r;
        return 0;
}

static int parse_config(Ctx *c, const YamlTreeNode *m, bool file) {
        Descriptor *d = c->d;
        Field f[] = { { "name" }, { "valueFrom" }, { "mountPath" }, { NULL } };
        DescriptorConfig *cfg;
        char *msg = NULL;
        int r;

        if (d->n_configs >= DESCRIPTOR_CONFIGS_MAX)
                return fail(c, m,
                            "A component may declare at most %u configurations (env and file together).",
                            DESCRIPTOR_CONFIGS_MAX);
        cfg = &d->configs[d->n_configs];
        *cfg = (DescriptorConfig) { .file = file,
                                    .required = true,
                                    .type = DESCRIPTOR_CONFIG_STRING,
                                    .line = m->line,
                                    .column = m->column };
        if (!file)
                f[2].key = NULL; /* env entries have no mountPath */
        r = take_fields(c, m, file ? "a file configuration" : "an env configuration", f);
        if (r < 0)
                return r;
        if (!f[0].value)
                return fail(c, m, "Each configuration needs a name.");
        r = get_text(c, &f[0], cfg->name, sizeof cfg->name);
        if (r < 0)
                return r;
        if (!cfg->name[0])
                return fail(c, f[0].value, "Each configuration needs a name.");
        if (!file) {
                if (config_key_check(cfg->name, &msg) < 0)
                        return fail_spec(c, f[0].value, msg);
                strcpy(cfg->spec_name, cfg->name);
        } else {
                size_t n = 0;
                if (cfg->name[0] >= '0' && cfg->name[0] <= '9')
                        cfg->spec_name[n++] = '_';
                for (const char *p = cfg->name; *p && n + 1 < sizeof cfg->spec_name; p++)
                        cfg->spec_name[n++] = ascii_isalnum(*p) ? *p : '_';
                cfg->spec_name[n] = 0;
                if (strlen(cfg->name) + 1 >= sizeof cfg->spec_name)
                        return fail(c, f[0].value,
                                    "File configuration name '%.40s…' is longer than %u bytes.", cfg->name,
                                    SPEC_CONFIG_NAME_MAX - 2);
                if (!f[2].value)
                        return fail(c, m, "File configuration '%s' needs a mountPath.", cfg->name);
                r = get_text(c, &f[2], cfg->mount_path, sizeof cfg->mount_path);
                if (r < 0)
                        return r;
                if (config_file_path_check(cfg->mount_path, &msg) < 0)
                        return fail_spec(c, f[2].value, msg);
        }
        for (size_t i = 0; i < d->n_configs; i++) {
                const DescriptorConfig *o = &d->configs[i];
                if (streq(o->spec_name, cfg->spec_name))
                        return fail(
                                c, f[0].value,
                                streq(o->name, cfg->name)
                                        ? "Configuration '%s' is declared twice (the other on line %u)."
                                        : "Configuration '%s' has the same value name as the one on line %u; "
                                          "rename one.",
                                cfg->name, o->line);
                if (file && o->file && streq(o->mount_path, cfg->mount_path))
                        return fail(c, f[2].value,
                                    "Files '%s' and '%s' are both mounted at %s; use one path each.",
                                    o->name, cfg->name, cfg->mount_path);
        }
        if (f[1].value)
                r = parse_value_from(c, cfg, &f[1]);
        else if (!file)
                r = fail(c, m, "Configuration '%s' needs valueFrom.configForm or valueFrom.connectionRef.",
                         cfg->name);
        if (r < 0)
                return r;
        d->n_configs++;
        return 0;
}

static int parse_configurations(Ctx *c, const Field *cf) {
        Field f[] = { { "env" }, { "file" }, { NULL } };
        int r;

        r = take_fields(c, cf->value, "configurations", f);
        if (r < 0)
                return r;
        for (size_t k = 0; k < 2; k++) {
                if (!f[k].value)
                        continue;
                if ((r = expect_sequence(c, &f[k])) < 0)
                        return r;
                for (const YamlTreeNode *i = f[k].value->first; i; i = i->next)
                        if ((r = parse_config(c, i, k == 1)) < 0)
                                return r;
        }
        return 0;
}

static int parse_health(Ctx *c, DescriptorExtension *x, const YamlTreeNode *m) {
        Field f[] = { { "readiness" }, { "liveness" },      { "interval" }, { "timeout" },
                      { "failures" },  { "deployTimeout" }, { NULL } };
        ComponentSpec scratch;
        char *msg = NULL;
        uint64_t v;
        int r;

        r = take_fields(c, m, "x-slipway health", f);
        if (r < 0)
                return r;
        r = descriptor_spec_endpoints(c->d, c->d->n_endpoints, &scratch, &msg);
        if (r < 0) {
                free(msg);
                return r == -ENOMEM ? r : fail(c, m, "The endpoints do not form a spec.");
        }
        for (size_t k = 0; k < 2; k++) {
                char *buf = k == 0 ? x->readiness : x->liveness;
                if (!f[k].value)
                        continue;
                if ((r = get_text(c, &f[k], buf, sizeof x->readiness)) < 0)
                        return r;
                r = (k == 0 ? spec_health_parse : spec_liveness_parse)(buf, &scratch, &msg);
                if (r < 0)
                        return fail_spec(c, f[k].value, msg);
        }
        if (f[2].value &&
            (r = get_duration(c, &f[2], SPEC_HEALTH_MS_MIN, SPEC_TIME_MS_MAX, &x->tuning.interval_ms)) < 0)
                return r;
        if (f[3].value &&
            (r = get_duration(c, &f[3], SPEC_HEALTH_MS_MIN, SPEC_TIME_MS_MAX, &x->tuning.timeout_ms)) < 0)
                return r;
        if (f[4].value) {
                if ((r = get_uint(c, &f[4], 1, SPEC_THRESHOLD_MAX, &v)) < 0)
                        return r;
                x->tuning.failure_threshold = (uint32_t) v;
        }
        if (f[5].value &&
            (r = get_duration(c, &f[5], 1000, SPEC_TIME_MS_MAX, &x->tuning.deploy_timeout_ms)) < 0)
                return r;
        return 0;
}

static int parse_resources(Ctx *c, DescriptorExtension *x, const YamlTreeNode *m) {
        Field f[] = { { "memory" }, { "cpus" }, { "pids" }, { NULL } };
        uint64_t v;
        int r;

        r = take_fields(c, m, "x-slipway resources", f);
        if (r < 0)
                return r;
        if (f[0].value) {
                if (f[0].value->kind != YAML_TREE_SCALAR ||
                    spec_memory_parse(f[0].value->value, &x->memory_bytes) < 0 ||
                    x->memory_bytes < SPEC_MEMORY_MIN)
                        return fail(c, f[0].value, "'memory' must be a size from 4M up, like 512M or 1G.");
        }
        if (f[1].value) {
                if (f[1].value->kind != YAML_TREE_SCALAR ||
                    spec_cpus_parse(f[1].value->value, &x->cpus_milli) < 0 || x->cpus_milli == 0)
                        return fail(
                                c, f[1].value,
                                "'cpus' must be a CPU count above 0, like 0.5 or 2 (leave it out for no limit).");
        }
        if (f[2].value) {
                if ((r = get_uint(c, &f[2], 1, SPEC_PIDS_MAX, &v)) < 0)
                        return r;
                x->pids = (uint32_t) v;
        }
        return 0;
}

static int parse_bake(Ctx *c, DescriptorExtension *x, const YamlTreeNode *m) {
        Field f[] = { { "duration" }, { "max5xxPercent" }, { NULL } };
        uint64_t v;
        int r;

        r = take_fields(c, m, "x-slipway bake", f);
        if (r < 0)
                return r;
        if (f[0].value) {
                if ((r = get_duration(c, &f[0], 0, SPEC_BAKE_MS_MAX, &x->bake_ms)) < 0)
                        return r;
                x->bake_set = true;
        }
        if (f[1].value) {
                if ((r = get_uint(c, &f[1], 0, 100, &v)) < 0)
                        return r;
                x->max_5xx_percent = (uint32_t) v;
                x->max_5xx_set = true;
        }
        return 0;
}

static int parse_extension(Ctx *c, const Field *xf) {
        DescriptorExtension *x = &c->d->extension;
        Field f[] = { { "health" }, { "resources" }, { "bake" }, { NULL } };
        int r;

        r = take_fields(c, xf->value, DESCRIPTOR_EXTENSION_KEY, f);
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

static int parse_dependencies(Ctx *c, const Field *f) {
        return json_from_node(f->value, &c->d->dependencies);
}

static int parse_component_yaml(Ctx *c, const YamlTreeNode *root) {
        Field f[] = { { "schemaVersion" },          { "endpoints" },
                      { "configurations" },         { "dependencies" },
                      { DESCRIPTOR_EXTENSION_KEY }, { NULL } };
        const YamlTreeNode *v;
        int r;

        r = take_fields(c, root, "component.yaml", f);
        if (r < 0)
                return r;
        v = f[0].value;
        if (!v)
                return fail(c, root, "The descriptor needs schemaVersion: 1.2 (1.0 and 1.1 are read too).");
        for (size_t i = 0; v->kind == YAML_TREE_SCALAR && i < ELEMENTSOF(schema_versions); i++)
                if (streq(v->value, schema_versions[i]))
                        strcpy(c->d->schema_version, schema_versions[i]);
        if (!c->d->schema_version[0])
                return fail(c, v, "schemaVersion %.16s is not supported; use 1.0, 1.1 or 1.2.",
                            v->kind == YAML_TREE_SCALAR ? v->value : "(not text)");
        if (f[1].value && (r = parse_endpoints(c, &f[1], false)) < 0)
                return r;
        if (f[2].value && (r = parse_configurations(c, &f[2])) < 0)
                return r;
        if (f[3].value && (r = parse_dependencies(c, &f[3])) < 0)
                return r;
        if (f[4].value && (r = parse_extension(c, &f[4])) < 0)
                return r;
        return 0;
}

/* .choreo/component-config.yaml: apiVersion core.choreo.dev/v1beta1, kind ComponentConfig, spec.inbound[]
 * (endpoints as in endpoints.yaml) and spec.outbound (kept as dependencies). */
static int parse_component_config_yaml(Ctx *c, const YamlTreeNode *root) {
        Field f[] = { { "apiVersion" }, { "kind" }, { "spec" }, { NULL } };
        Field sf[] = { { "inbound" }, { "outbound" }, { NULL } };
        int r;

        r = take_fields(c, root, "component-config.yaml", f);
        if (r < 0)
                return r;
        if (!f[0].value || f[0].value->kind != YAML_TREE_SCALAR ||
            !streq(f[0].value->value, "core.choreo.dev/v1beta1"))
                return fail(c, f[0].value ?: root,
                            "component-config.yaml needs apiVersion: core.choreo.dev/v1beta1.");
        if (!f[1].value || f[1].value->kind != YAML_TREE_SCALAR ||
            !streq(f[1].value->value, "ComponentConfig"))
                return fail(c, f[1].value ?: root, "component-config.yaml needs kind: ComponentConfig.");
        if (!f[2].value)
                return 0;
        r = take_fields(c, f[2].value, "spec", sf);
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
static int parse_endpoints_yaml(Ctx *c, const YamlTreeNode *root) {
        Field f[] = { { "version" }, { "endpoints" }, { NULL } };
        int r;

        r = take_fields(c, root, "endpoints.yaml", f);
        if (r < 0)
                return r;
        if (f[0].value && (f[0].value->kind != YAML_TREE_SCALAR || !streq(f[0].value->value, "0.1")))
                return fail(c, f[0].value, "endpoints.yaml version %.16s is not supported; use 0.1.",
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
        Ctx c;
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
        c = (Ctx) { .d = d, .error = ret_error };

        r = yaml_tree_parse(data, size, &t, &te);
        if (r == -EINVAL)
                return descriptor_error_set(ret_error, d->file, te.line, te.column, te.message);
        if (r < 0)
                return r;
        if (!t->root)
                return fail(&c, NULL, "The descriptor is empty; it needs at least %s.",
                            format == DESCRIPTOR_COMPONENT_YAML ? "schemaVersion: 1.2" : "its endpoints");

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
