/* Component specs: JSON in, a fully defaulted ComponentSpec out, and back.  Every limit on user input
 * is a named constant in component-spec.h; an invalid spec is refused whole with one sentence. */
#include "component-spec.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "component-spec-configs.h"
#include "json-util.h"
#include "names.h"
#include "size.h"

const char *endpoint_visibility_to_string(EndpointVisibility v) {
        return v == ENDPOINT_PUBLIC ? "public" : "project";
}

static int endpoint_visibility_from_string(const char *s, EndpointVisibility *ret) {
        if (streq(s, "public"))
                *ret = ENDPOINT_PUBLIC;
        else if (streq(s, "project"))
                *ret = ENDPOINT_PROJECT;
        else
                return -EINVAL;
        return 0;
}

static const char *const health_kinds[] = {
        [HEALTH_HTTP] = "http",
        [HEALTH_TCP] = "tcp",
        [HEALTH_PROCESS] = "process",
        [HEALTH_NONE] = "none",
};

const char *health_kind_to_string(HealthKind k) {
        return (size_t) k < ELEMENTSOF(health_kinds) ? health_kinds[k] : "?";
}

static int health_kind_from_string(const char *s, HealthKind *ret) {
        for (size_t i = 0; i < ELEMENTSOF(health_kinds); i++)
                if (streq(s, health_kinds[i])) {
                        *ret = (HealthKind) i;
                        return 0;
                }
        return -EINVAL;
}

int spec_fail(char **ret_error, const char *fmt, ...) {
        if (ret_error) {
                va_list ap;
                va_start(ap, fmt);
                if (vasprintf(ret_error, fmt, ap) < 0)
                        *ret_error = NULL;
                va_end(ap);
        }
        return -EINVAL;
}

static bool base_path_valid(const char *p) {
        if (p[0] != '/' || strlen(p) >= SPEC_BASE_PATH_MAX)
                return false;
        for (const char *c = p; *c; c++)
                if (*c <= ' ' || *c >= 127 || strchr("?#%\\\"'", *c))
                        return false;
        return !strstr(p, "/../") && !strstr(p, "//");
}

static bool health_path_valid(const char *p) {
        if (p[0] != '/' || strlen(p) >= SPEC_HEALTH_PATH_MAX)
                return false;
        for (const char *c = p; *c; c++)
                if (*c <= ' ' || *c >= 127)
                        return false;
        return true;
}

static int check_endpoint(const SpecEndpoint *e, char **ret_error) {
        if (!name_is_valid(e->name))
                return spec_fail(ret_error, "Endpoint name '%s' is not a DNS label (use a-z, 0-9 and '-').",
                                 e->name);
        if (e->port == 0)
                return spec_fail(ret_error, "Endpoint '%s' needs a port between 1 and 65535.", e->name);
        if (!base_path_valid(e->base_path))
                return spec_fail(ret_error,
                                 "Endpoint '%s' has an invalid base path '%s' (it must start with '/' and "
                                 "contain no spaces, '?', '#', '%%', '//' or '/../').",
                                 e->name, e->base_path);
        return 0;
}

static int uint_field(json_t *o, const char *key, uint64_t max, uint64_t *v, const char *what,
                      char **ret_error) {
        json_t *j = json_object_get(o, key);
        if (!j)
                return 0;
        if (!json_is_integer(j) || json_integer_value(j) < 0 || (uint64_t) json_integer_value(j) > max)
                return spec_fail(ret_error, "%s '%s' must be an integer between 0 and %llu.", what, key,
                                 (unsigned long long) max);
        *v = (uint64_t) json_integer_value(j);
        return 0;
}

/* o must be an object (else the sentence not_object) with no field outside keys (what: where, for the
 * message). */
static int check_object(json_t *o, const char *const *keys, const char *what, const char *not_object,
                        char **ret_error) {
        const char *k;
        json_t *v;

        if (!json_is_object(o))
                return spec_fail(ret_error, "%s", not_object);
        json_object_foreach(o, k, v) {
                bool ok = false;
                for (const char *const *p = keys; *p; p++)
                        if (streq(k, *p))
                                ok = true;
                if (!ok)
                        return spec_fail(ret_error, "Unknown field '%.64s' in %s.", k, what);
        }
        return 0;
}

static void health_defaults(HealthCheck *h, HealthKind kind, uint16_t port) {
        *h = (HealthCheck) {
                .kind = kind,
                .port = port,
                .interval_ms = SPEC_HEALTH_INTERVAL_MS_DEFAULT,
                .timeout_ms = SPEC_HEALTH_TIMEOUT_MS_DEFAULT,
                .initial_delay_ms = kind == HEALTH_PROCESS ? SPEC_PROCESS_GRACE_MS_DEFAULT
                                                           : SPEC_HEALTH_INITIAL_DELAY_MS_DEFAULT,
                .success_threshold = SPEC_HEALTH_SUCCESS_THRESHOLD_DEFAULT,
                .failure_threshold = SPEC_HEALTH_FAILURE_THRESHOLD_DEFAULT,
        };
}

static int parse_health(json_t *o, const char *which, const ComponentSpec *spec, HealthCheck *h,
                        char **ret_error) {
        static const char *const keys[] = { "kind",
                                            "path",
                                            "port",
                                            "interval_ms",
                                            "timeout_ms",
                                            "initial_delay_ms",
                                            "success_threshold",
                                            "failure_threshold",
                                            NULL };
        uint16_t first_port = spec->n_endpoints > 0 ? spec->endpoints[0].port : 0;
        const char *kind_s = NULL, *path = NULL;
        char not_object[64];
        HealthKind kind;
        uint64_t v;
        int r;

        snprintf(not_object, sizeof not_object, "Health check '%s' must be an object.", which);
        r = check_object(o, keys, which, not_object, ret_error);
        if (r < 0)
                return r;
        if (json_get_string(o, "kind", &kind_s) < 0 || health_kind_from_string(kind_s, &kind) < 0)
                return spec_fail(ret_error, "Health check '%s' needs a kind: http, tcp, process or none.",
                                 which);
        health_defaults(h, kind, first_port);

        if (kind == HEALTH_HTTP) {
                if (json_get_string(o, "path", &path) < 0)
                        path = "/";
                if (!health_path_valid(path))
                        return spec_fail(ret_error,
                                         "Health check '%s' has an invalid path (it must start with '/', "
                                         "without spaces, shorter than %u bytes).",
                                         which, SPEC_HEALTH_PATH_MAX);
                strcpy(h->path, path);
        } else if (json_object_get(o, "path"))
                return spec_fail(ret_error, "Health check '%s': only http checks take a path.", which);

        v = h->port;
        if ((r = uint_field(o, "port", 65535, &v, which, ret_error)) < 0)
                return r;
        h->port = (uint16_t) v;
        if ((kind == HEALTH_HTTP || kind == HEALTH_TCP) && h->port == 0)
                return spec_fail(ret_error,
                                 "Health check '%s' is %s but the component has no endpoint and no port "
                                 "was given; add --endpoint or use --health none.",
                                 which, health_kind_to_string(kind));

#define TIME_FIELD(f)                                                            \
        v = h->f;                                                                \
        if ((r = uint_field(o, #f, SPEC_TIME_MS_MAX, &v, which, ret_error)) < 0) \
                return r;                                                        \
        h->f = (uint32_t) v;
        TIME_FIELD(interval_ms);
        TIME_FIELD(timeout_ms);
        TIME_FIELD(initial_delay_ms);
#undef TIME_FIELD
        v = h->success_threshold;
        if ((r = uint_field(o, "success_threshold", SPEC_THRESHOLD_MAX, &v, which, ret_error)) < 0)
                return r;
        h->success_threshold = (uint32_t) v;
        v = h->failure_threshold;
        if ((r = uint_field(o, "failure_threshold", SPEC_THRESHOLD_MAX, &v, which, ret_error)) < 0)
                return r;
        h->failure_threshold = (uint32_t) v;
        if (h->interval_ms == 0 || h->timeout_ms == 0 || h->success_threshold == 0 ||
            h->failure_threshold == 0)
                return spec_fail(ret_error,
                                 "Health check '%s': interval, timeout and thresholds must be at least 1.",
                                 which);
        return 0;
}

int component_spec_from_json(json_t *j, ComponentSpec *ret, char **ret_error) {
        static const char *const top_keys[] = { "endpoints",     "health",  "resources",
                                                "configs",       "bake_ms", "bake_max_5xx_percent",
                                                "keep_releases", NULL };
        static const char *const ep_keys[] = { "name", "port", "visibility", "base_path", NULL };
        static const char *const health_keys[] = { "readiness", "liveness", "deploy_timeout_ms", NULL };
        static const char *const res_keys[] = { "memory_bytes", "cpus_milli", "pids", NULL };
        ComponentSpec spec = { .deploy_timeout_ms = SPEC_DEPLOY_TIMEOUT_MS_DEFAULT,
                               .pids = SPEC_PIDS_DEFAULT };
        json_t *eps, *health, *res, *o;
        uint64_t v;
        int r;

        r = check_object(j, top_keys, "the component spec", "A component spec must be a JSON object.",
                         ret_error);
        if (r < 0)
                return r;

        eps = json_object_get(j, "endpoints");
        if (eps) {
                size_t i;
                json_t *e;
                if (!json_is_array(eps))
                        return spec_fail(ret_error, "'endpoints' must be an array.");
                if (json_array_size(eps) > SPEC_ENDPOINTS_MAX)
                        return spec_fail(ret_error, "A component may have at most %u endpoints.",
                                         SPEC_ENDPOINTS_MAX);
                json_array_foreach(eps, i, e) {
                        SpecEndpoint *ep = &spec.endpoints[spec.n_endpoints];
                        const char *name = NULL, *vis = NULL, *bp = NULL;

                        r = check_object(e, ep_keys, "an endpoint", "Each endpoint must be an object.",
                                         ret_error);
                        if (r < 0)
                                return r;
                        v = 0;
                        if ((r = uint_field(e, "port", 65535, &v, "Endpoint field", ret_error)) < 0)
                                return r;
                        ep->port = (uint16_t) v;
                        if (json_get_string(e, "name", &name) < 0) {
                                if (ep->port == 0)
                                        return spec_fail(ret_error, "Each endpoint needs a port.");
                                snprintf(ep->name, sizeof ep->name, "port-%u", ep->port);
                        } else if (strlen(name) >= sizeof ep->name)
                                return spec_fail(ret_error,
                                                 "Endpoint name '%.64s…' is longer than 63 characters.",
                                                 name);
                        else
                                strcpy(ep->name, name);
                        ep->visibility = ENDPOINT_PUBLIC;
                        if (json_get_string(e, "visibility", &vis) >= 0 &&
                            endpoint_visibility_from_string(vis, &ep->visibility) < 0)
                                return spec_fail(
                                        ret_error,
                                        "Endpoint '%s' has visibility '%.32s'; use public or project.",
                                        ep->name, vis);
                        if (json_get_string(e, "base_path", &bp) < 0)
                                bp = "/";
                        if (strlen(bp) >= SPEC_BASE_PATH_MAX)
                                return spec_fail(ret_error,
                                                 "Endpoint '%s' has a base path longer than %u bytes.",
                                                 ep->name, SPEC_BASE_PATH_MAX - 1);
                        strcpy(ep->base_path, bp);
                        r = check_endpoint(ep, ret_error);
                        if (r < 0)
                                return r;
                        for (size_t k = 0; k < spec.n_endpoints; k++) {
                                if (streq(spec.endpoints[k].name, ep->name))
                                        return spec_fail(ret_error, "Two endpoints are named '%s'.",
                                                         ep->name);
                                if (spec.endpoints[k].port == ep->port)
                                        return spec_fail(
                                                ret_error,
                                                "Endpoints '%s' and '%s' both use port %u; each endpoint of "
                                                "a component needs its own port (other components may use "
                                                "it: each has its own address).",
                                                spec.endpoints[k].name, ep->name, ep->port);
                        }
                        spec.n_endpoints++;
                }
        }

        /* Defaults: TCP connect to the first endpoint's port; with no endpoint, the process still running
         * after a grace period. */
        if (spec.n_endpoints > 0)
                health_defaults(&spec.readiness, HEALTH_TCP, spec.endpoints[0].port);
        else
                health_defaults(&spec.readiness, HEALTH_PROCESS, 0);
        spec.liveness = spec.readiness;

        health = json_object_get(j, "health");
        if (health) {
                r = check_object(health, health_keys, "'health'", "'health' must be an object.", ret_error);
                if (r < 0)
                        return r;
                o = json_object_get(health, "readiness");
                if (o && (r = parse_health(o, "readiness", &spec, &spec.readiness, ret_error)) < 0)
                        return r;
                o = json_object_get(health, "liveness");
                if (o && (r = parse_health(o, "liveness", &spec, &spec.liveness, ret_error)) < 0)
                        return r;
                v = spec.deploy_timeout_ms;
                if ((r = uint_field(health, "deploy_timeout_ms", SPEC_TIME_MS_MAX, &v, "Health field",
                                    ret_error)) < 0)
                        return r;
                if (v == 0)
                        return spec_fail(ret_error, "The deploy timeout must be at least 1 ms.");
                spec.deploy_timeout_ms = (uint32_t) v;
        }

        res = json_object_get(j, "resources");
        if (res) {
                r = check_object(res, res_keys, "'resources'", "'resources' must be an object.", ret_error);
                if (r < 0)
                        return r;
                v = 0;
                if ((r = uint_field(res, "memory_bytes", SPEC_MEMORY_MAX, &v, "Resource", ret_error)) < 0)
                        return r;
                if (v != 0 && v < SPEC_MEMORY_MIN)
                        return spec_fail(ret_error,
                                         "A memory limit below 4M cannot run a container; raise it.");
                spec.memory_bytes = v;
                v = 0;
                if ((r = uint_field(res, "cpus_milli", SPEC_CPUS_MILLI_MAX, &v, "Resource", ret_error)) < 0)
                        return r;
                spec.cpus_milli = (uint32_t) v;
                v = spec.pids;
                if ((r = uint_field(res, "pids", SPEC_PIDS_MAX, &v, "Resource", ret_error)) < 0)
                        return r;
                spec.pids = (uint32_t) v;
        }

        r = component_spec_extras_from_json(j, &spec, ret_error);
        if (r < 0)
                return r;
        *ret = spec;
        return 0;
}

int component_spec_parse(const char *json, ComponentSpec *ret, char **ret_error) {
        _cleanup_json_ json_t *j = NULL;
        if (json_parse_buffer(json, strlen(json), &j, NULL) < 0)
                return spec_fail(ret_error, "The component spec is not valid JSON.");
        return component_spec_from_json(j, ret, ret_error);
}

static json_t *health_to_json(const HealthCheck *h) {
        json_t *o = json_pack(
                "{s:s, s:I, s:I, s:I, s:I, s:I}", "kind", health_kind_to_string(h->kind), "interval_ms",
                (json_int_t) h->interval_ms, "timeout_ms", (json_int_t) h->timeout_ms, "initial_delay_ms",
                (json_int_t) h->initial_delay_ms, "success_threshold", (json_int_t) h->success_threshold,
                "failure_threshold", (json_int_t) h->failure_threshold);
        if (!o)
                return NULL;
        if (h->kind == HEALTH_HTTP)
                json_object_set_new(o, "path", json_string(h->path));
        if (h->kind == HEALTH_HTTP || h->kind == HEALTH_TCP)
                json_object_set_new(o, "port", json_integer(h->port));
        return o;
}

json_t *component_spec_to_json(const ComponentSpec *spec) {
        _cleanup_json_ json_t *eps = json_array(), *j = NULL;
        if (!eps)
                return NULL;
        for (size_t i = 0; i < spec->n_endpoints; i++) {
                const SpecEndpoint *e = &spec->endpoints[i];
                if (json_array_append_new(eps, json_pack("{s:s, s:i, s:s, s:s}", "name", e->name, "port",
                                                         (int) e->port, "visibility",
                                                         endpoint_visibility_to_string(e->visibility),
                                                         "base_path", e->base_path)) < 0)
                        return NULL;
        }
        j = json_pack("{s:O, s:{s:o, s:o, s:I}, s:{s:I, s:I, s:I}}", "endpoints", eps, "health", "readiness",
                      health_to_json(&spec->readiness), "liveness", health_to_json(&spec->liveness),
                      "deploy_timeout_ms", (json_int_t) spec->deploy_timeout_ms, "resources", "memory_bytes",
                      (json_int_t) spec->memory_bytes, "cpus_milli", (json_int_t) spec->cpus_milli, "pids",
                      (json_int_t) spec->pids);
        if (!j || component_spec_extras_to_json(spec, j) < 0)
                return NULL;
        return TAKE_PTR(j);
}

char *component_spec_format(const ComponentSpec *spec) {
        _cleanup_json_ json_t *j = component_spec_to_json(spec);
        if (!j)
                return NULL;
        return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
}

int spec_endpoint_parse(const char *s, SpecEndpoint *ret, char **ret_error) {
        SpecEndpoint e = { .visibility = ENDPOINT_PUBLIC, .base_path = "/" };
        _cleanup_free_ char *copy = strdup(s);
        char *fields[4] = {}, *p, *end;
        size_t n = 0;
        unsigned long port;
        int r;

        if (!copy)
                return -ENOMEM;
        /* NAME:PORT[:VIS][:/PATH] — the path is the rest after a ":/" so it may contain ':'. */
        p = strstr(copy, ":/");
        char *path = NULL;
        if (p) {
                *p = 0;
                path = p + 1;
        }
        for (char *tok = copy; tok && n < ELEMENTSOF(fields); n++) {
                fields[n] = tok;
                tok = strchr(tok, ':');
                if (tok)
                        *tok++ = 0;
                if (n == ELEMENTSOF(fields) - 1 && tok)
                        return spec_fail(ret_error,
                                         "Endpoint '%.80s' has too many ':' fields; use "
                                         "NAME:PORT[:public|project][:/BASEPATH].",
                                         s);
        }
        if (n == 1) { /* "PORT" */
                fields[1] = fields[0];
                fields[0] = NULL;
                n = 2;
        }
        if (n > 3)
                return spec_fail(ret_error,
                                 "Endpoint '%.80s' has too many ':' fields; use "
                                 "NAME:PORT[:public|project][:/BASEPATH].",
                                 s);
        errno = 0;
        port = strtoul(fields[1], &end, 10);
        if (errno != 0 || end == fields[1] || *end || port == 0 || port > 65535 || fields[1][0] == '-' ||
            fields[1][0] == '+')
                return spec_fail(ret_error,
                                 "Endpoint '%.80s' needs a port between 1 and 65535; use "
                                 "NAME:PORT[:public|project][:/BASEPATH].",
                                 s);
        e.port = (uint16_t) port;
        if (fields[0]) {
                if (strlen(fields[0]) >= sizeof e.name)
                        return spec_fail(ret_error, "Endpoint name '%.64s…' is longer than 63 characters.",
                                         fields[0]);
                strcpy(e.name, fields[0]);
        } else
                snprintf(e.name, sizeof e.name, "port-%u", e.port);
        if (n == 3 && endpoint_visibility_from_string(fields[2], &e.visibility) < 0)
                return spec_fail(ret_error,
                                 "Endpoint '%.80s' has visibility '%.32s'; use public or project.", s,
                                 fields[2]);
        if (path) {
                if (strlen(path) >= SPEC_BASE_PATH_MAX)
                        return spec_fail(ret_error, "Endpoint '%.80s' has a base path longer than %u bytes.",
                                         s, SPEC_BASE_PATH_MAX - 1);
                strcpy(e.base_path, path);
        }
        r = check_endpoint(&e, ret_error);
        if (r < 0)
                return r;
        *ret = e;
        return 0;
}

static int check_parse(const char *s, const ComponentSpec *spec, HealthCheck *ret, char **ret_error) {
        uint16_t port = spec->n_endpoints > 0 ? spec->endpoints[0].port : 0;
        HealthCheck h;

        if (streq(s, "none"))
                health_defaults(&h, HEALTH_NONE, 0);
        else if (streq(s, "tcp"))
                health_defaults(&h, HEALTH_TCP, port);
        else if (strncmp(s, "http:", 5) == 0) {
                health_defaults(&h, HEALTH_HTTP, port);
                if (!health_path_valid(s + 5))
                        return spec_fail(ret_error,
                                         "Health check '%.80s' needs a path starting with '/' and without "
                                         "spaces, like http:/healthz.",
                                         s);
                strcpy(h.path, s + 5);
        } else
                return spec_fail(ret_error, "Health check '%.80s' is not one of http:PATH, tcp or none.", s);
        if ((h.kind == HEALTH_HTTP || h.kind == HEALTH_TCP) && port == 0)
                return spec_fail(ret_error,
                                 "Health check '%.80s' needs an endpoint to probe; add --endpoint NAME:PORT "
                                 "or use --health none.",
                                 s);
        *ret = h;
        return 0;
}

int spec_health_parse(const char *s, ComponentSpec *spec, char **ret_error) {
        HealthCheck h;
        int r = check_parse(s, spec, &h, ret_error);
        if (r < 0)
                return r;
        spec->readiness = h;
        spec->liveness = h;
        return 0;
}

int spec_liveness_parse(const char *s, ComponentSpec *spec, char **ret_error) {
        return check_parse(s, spec, &spec->liveness, ret_error);
}

int spec_health_tune(ComponentSpec *spec, const SpecHealthTuning *t, char **ret_error) {
        if (t->interval_ms && (t->interval_ms < SPEC_HEALTH_MS_MIN || t->interval_ms > SPEC_TIME_MS_MAX))
                return spec_fail(ret_error, "The health check interval must be between 100 ms and 1 hour.");
        if (t->timeout_ms && (t->timeout_ms < SPEC_HEALTH_MS_MIN || t->timeout_ms > SPEC_TIME_MS_MAX))
                return spec_fail(ret_error, "The health check timeout must be between 100 ms and 1 hour.");
        if (t->failure_threshold > SPEC_THRESHOLD_MAX)
                return spec_fail(ret_error, "The health check failure threshold must be between 1 and %u.",
                                 SPEC_THRESHOLD_MAX);
        if (t->deploy_timeout_ms && (t->deploy_timeout_ms < 1000 || t->deploy_timeout_ms > SPEC_TIME_MS_MAX))
                return spec_fail(ret_error, "The deploy timeout must be between 1 second and 1 hour.");
        HealthCheck *both[] = { &spec->readiness, &spec->liveness };
        for (size_t i = 0; i < ELEMENTSOF(both); i++) {
                if (t->interval_ms)
                        both[i]->interval_ms = t->interval_ms;
                if (t->timeout_ms)
                        both[i]->timeout_ms = t->timeout_ms;
                if (t->failure_threshold)
                        both[i]->failure_threshold = t->failure_threshold;
        }
        if (t->deploy_timeout_ms)
                spec->deploy_timeout_ms = t->deploy_timeout_ms;
        return 0;
}

int spec_memory_parse(const char *s, uint64_t *ret) {
        return size_parse(s, SPEC_MEMORY_MAX, ret);
}

int spec_cpus_parse(const char *s, uint32_t *ret) {
        uint64_t whole = 0, frac = 0, scale = 1000;
        const char *p = s;

        if (!s || !*s)
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                whole = whole * 10 + (uint64_t) (*p - '0');
                if (whole > SPEC_CPUS_MILLI_MAX / 1000)
                        return -ERANGE;
        }
        if (p == s && *p != '.')
                return -EINVAL;
        if (*p == '.') {
                p++;
                if (!(*p >= '0' && *p <= '9'))
                        return -EINVAL;
                for (; *p >= '0' && *p <= '9'; p++) {
                        scale /= 10;
                        if (scale == 0)
                                return -EINVAL; /* more than 3 decimals */
                        frac += (uint64_t) (*p - '0') * scale;
                }
        }
        if (*p)
                return -EINVAL;
        uint64_t m = whole * 1000 + frac;
        if (m == 0 || m > SPEC_CPUS_MILLI_MAX)
                return -ERANGE;
        *ret = (uint32_t) m;
        return 0;
}

const SpecEndpoint *component_spec_public_endpoint(const ComponentSpec *spec) {
        for (size_t i = 0; i < spec->n_endpoints; i++)
                if (spec->endpoints[i].visibility == ENDPOINT_PUBLIC)
                        return &spec->endpoints[i];
        return NULL;
}

int component_ingress_path(const char *project, const char *component, const ComponentSpec *spec, size_t i,
                           char **ret) {
        const SpecEndpoint *first = component_spec_public_endpoint(spec);
        int k;

        if (i >= spec->n_endpoints || spec->endpoints[i].visibility != ENDPOINT_PUBLIC || !first)
                return -ENOENT;
        if (first == &spec->endpoints[i])
                k = asprintf(ret, "/%s/%s", project, component);
        else
                k = asprintf(ret, "/%s/%s/_/%s", project, component, spec->endpoints[i].name);
        return k < 0 ? -ENOMEM : 0;
}
