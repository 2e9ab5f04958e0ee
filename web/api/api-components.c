/* /api/v1/projects/{p}/components…: components (image, endpoints, health checks, resources) and their
 * releases per environment; URLs are api-component-url.c, logs api-component-logs.c.  A spec is
 * validated whole (component-spec.c) before the row is written. */
#include "api.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "component-spec.h"
#include "fs-util.h"
#include "http-json-body.h"
#include "http-response.h"
#include "json-util.h"
#include "sqlite-util.h"

/* Releases shown per environment in component show. */
#define API_SHOW_RELEASES_PER_ENV 5u

/* The fields of a component create request: the spec, and the CLI's shorthands spec_from_request() reads. */
static const HttpJsonBody component_create_body = {
        .what = "component create request",
        .fields = (const char *const[]) { "name",
                                          "image",
                                          "spec",
                                          "endpoints",
                                          "health",
                                          "liveness",
                                          "memory",
                                          "cpus",
                                          "pids",
                                          "health_interval_ms",
                                          "health_timeout_ms",
                                          "health_failures",
                                          "deploy_timeout_ms",
                                          "configs",
                                          "bake_ms",
                                          "bake_max_5xx_percent",
                                          "keep_releases",
                                          "git",
                                          "branch",
                                          "dir",
                                          "dockerfile",
                                          "poll_sec",
                                          "git_token",
                                          "builds_keep",
                                          "ssh_key",
                                          NULL },
        .example =
                "Send {\"name\": \"web\", \"image\": \"busybox:1\"} or {\"name\": \"web\", \"git\": URL}.",
};

/* A component update: any field of create but the name, and configurables to drop. */
static const HttpJsonBody component_update_body = {
        .what = "component update request",
        .fields = (const char *const[]) { "image",
                                          "spec",
                                          "endpoints",
                                          "health",
                                          "liveness",
                                          "memory",
                                          "cpus",
                                          "pids",
                                          "health_interval_ms",
                                          "health_timeout_ms",
                                          "health_failures",
                                          "deploy_timeout_ms",
                                          "configs",
                                          "no_configs",
                                          "bake_ms",
                                          "bake_max_5xx_percent",
                                          "keep_releases",
                                          "git",
                                          "branch",
                                          "dir",
                                          "dockerfile",
                                          "poll_sec",
                                          "git_token",
                                          "builds_keep",
                                          "ssh_key",
                                          "ssh_host_key_reset",
                                          NULL },
        .example = "Send {\"image\": \"web:2\"} or any other field of a component create request.",
};

static json_t *component_json(const ModelComponent *c) {
        _cleanup_json_ json_t *spec = NULL, *source = NULL;

        if (json_parse_buffer(c->spec, strlen(c->spec), &spec, NULL) < 0)
                spec = json_object();
        if (!c->source || json_parse_buffer(c->source, strlen(c->source), &source, NULL) < 0)
                source = json_null();
        return json_pack("{s:s,s:s,s:s?,s:O,s:I,s:O,s:b,s:b,s:I}", "name", c->name, "project",
                         c->project_name, "image", c->image_ref, "spec", spec, "created_at",
                         (json_int_t) c->created_at, "source", source, "autobuild", c->autobuild,
                         "autodeploy", c->autodeploy, "builds_keep", (json_int_t) c->builds_keep);
}

/* The git source of a create or update request ("git", "branch", "dir", "dockerfile", "poll_sec") over the
 * component's current one (cur, NULL: none).  *ret_given false when the request names none of them. */
static int source_from_request(json_t *body, const char *cur, PipelineSource *ret, bool *ret_given,
                               char **ret_error) {
        static const char *const keys[] = { "git", "branch", "dir", "dockerfile" };
        const char *v[ELEMENTSOF(keys)] = {};
        bool given = false;
        json_t *poll = json_object_get(body, "poll_sec");
        char **slots[] = { &ret->url, &ret->branch, &ret->dir, &ret->dockerfile };
        int r;

        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                if (json_get_string_opt(body, keys[i], &v[i]) < 0) {
                        if (asprintf(ret_error, "\"%s\" must be a string.", keys[i]) < 0)
                                *ret_error = NULL;
                        return -EINVAL;
                }
                given = given || v[i];
        }
        if (poll && !json_is_null(poll) && (!json_is_integer(poll) || json_integer_value(poll) < 0)) {
                *ret_error = strdup("\"poll_sec\" must be a number of seconds.");
                return -EINVAL;
        }
        given = given || (poll && !json_is_null(poll));
        *ret_given = given;
        if (!given)
                return 0;
        if (cur)
                r = pipeline_source_parse(cur, ret);
        else if (!v[0]) {
                *ret_error = strdup("--branch, --dir, --dockerfile and --poll go with --git URL.");
                return -EINVAL;
        } else
                r = pipeline_source_parse("{\"url\":\"-\"}", ret);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                if (!v[i])
                        continue;
                char *c = strdup(v[i]);
                if (!c)
                        return -ENOMEM;
                free(*slots[i]);
                *slots[i] = c;
        }
        if (poll && !json_is_null(poll))
                ret->poll_sec = (uint64_t) json_integer_value(poll);
        return pipeline_source_check(ret, ret_error);
}

/* "git_token" and "ssh_key" of a request: strings of the right shape, or -EINVAL with a sentence. */
static int credentials_check(json_t *body, char **ret_error) {
        const char *token = NULL, *key = NULL;

        if (json_get_string_opt(body, "git_token", &token) < 0 || (token && strpbrk(token, "\r\n"))) {
                *ret_error =
                        strdup("\"git_token\" must be one line: the token or password of the repository.");
                return -EINVAL;
        }
        if (json_get_string_opt(body, "ssh_key", &key) < 0 ||
            (key && (!strstr(key, "-----BEGIN ") || !strstr(key, "PRIVATE KEY-----")))) {
                *ret_error = strdup(
                        "\"ssh_key\" must be a private key as ssh-keygen writes it (not the .pub file).");
                return -EINVAL;
        }
        return 0;
}

/* "builds_keep" (1…PIPELINE_BUILDS_KEEP_MAX) into *ret; 0 when absent. */
static int builds_keep_from_request(json_t *body, int64_t *ret, char **ret_error) {
        json_t *k = json_object_get(body, "builds_keep");

        *ret = 0;
        if (!k || json_is_null(k))
                return 0;
        if (!json_is_integer(k) || json_integer_value(k) < 1 ||
            json_integer_value(k) > PIPELINE_BUILDS_KEEP_MAX) {
                if (asprintf(ret_error, "\"builds_keep\" must be a number of builds from 1 to %d.",
                             PIPELINE_BUILDS_KEEP_MAX) < 0)
                        *ret_error = NULL;
                return -EINVAL;
        }
        *ret = json_integer_value(k);
        return 0;
}

/* The source and builds_keep of a request, written to component id. */
static int save_source(sqlite3 *db, int64_t id, const PipelineSource *src, bool has_src, int64_t keep) {
        _cleanup_free_ char *json = NULL;
        int r;

        if (has_src) {
                r = pipeline_source_format(src, &json);
                if (r >= 0)
                        r = model_component_set_source(db, id, json);
                if (r < 0)
                        return r;
        }
        if (keep > 0 && (r = model_component_set_builds_keep(db, id, keep)) < 0)
                return r;
        return 0;
}

/* "git_token" (the password for http(s) fetches) and "ssh_key" (an ssh deploy key, OpenSSH private key
 * text), sealed in the vault (outside any transaction: the vault writes in its own); "ssh_host_key_reset"
 * forgets the pinned host key of the repository's server. */
static int save_token(HttpRequest *req, sqlite3 *db, int64_t id, json_t *body) {
        ApiContext *ctx = req->userdata;
        const char *token = NULL, *key = NULL;
        int r;

        if (json_get_string_opt(body, "ssh_key", &key) >= 0 && !isempty(key)) {
                if (!ctx->vault)
                        return -EOPNOTSUPP;
                r = vault_component_secret_set(ctx->vault, db, id, VAULT_SECRET_SSH_KEY, key, strlen(key));
                if (r < 0)
                        return r;
        }
        if (json_is_true(json_object_get(body, "ssh_host_key_reset"))) {
                ModelComponent c = {};
                _cleanup_(pipeline_source_done) PipelineSource src = {};
                char host[300];
                r = model_component_get_by_id(db, id, &c);
                if (r >= 0 && c.source && pipeline_source_parse(c.source, &src) >= 0 &&
                    pipeline_ssh_host(src.url, host, sizeof host) >= 0)
                        r = model_source_host_key_unset(db, host);
                model_component_done(&c);
                if (r < 0)
                        return r;
        }
        if (json_get_string_opt(body, "git_token", &token) >= 0 && !isempty(token)) {
                if (!ctx->vault)
                        return -EOPNOTSUPP;
                r = vault_component_secret_set(ctx->vault, db, id, VAULT_SECRET_GIT_TOKEN, token,
                                               strlen(token));
                if (r < 0)
                        return r;
        }
        return 0;
}

int api_components_list(HttpRequest *req) {
        _cleanup_(api_scope_done) ApiScope s = {};
        _cleanup_json_ json_t *arr = json_array(), *j = NULL;
        ModelComponent *c = NULL;
        size_t n = 0;
        int r;

        if ((r = api_scope_project(req, &s)) < 0)
                return req->status;
        r = model_component_list(s.db, s.project.id, &c, &n);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot list components");
        for (size_t i = 0; arr && i < n; i++)
                json_array_append_new(arr, component_json(&c[i]));
        model_components_free(c, n);
        j = json_pack("{s:s,s:O}", "project", s.project.name, "components", arr);
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot list components");
        return http_reply_json(req->conn, 200, j);
}

static int cmp_u16(const void *a, const void *b) {
        return (int) *(const uint16_t *) a - (int) *(const uint16_t *) b;
}

/* The TCP ports in the image config's ExposedPorts ("8080/tcp", "53/udp" skipped), ascending. */
static int image_exposed_ports(ApiContext *ctx, const char *digest, uint16_t *ports, size_t max,
                               size_t *ret_n, OciError *err) {
        _cleanup_json_ json_t *j = NULL;
        json_t *exposed, *v;
        const char *key;
        size_t n = 0;
        int r;

        image_catalog_read_lock(ctx->catalog);
        r = oci_store_image_inspect(ctx->store, digest, &j, err);
        image_catalog_read_unlock(ctx->catalog);
        if (r < 0)
                return r;
        exposed = json_object_get(json_object_get(json_object_get(j, "config"), "config"), "ExposedPorts");
        json_object_foreach(exposed, key, v) {
                char *end;
                unsigned long port = strtoul(key, &end, 10);
                if (end == key || port == 0 || port > 65535 || (*end && !streq(end, "/tcp")))
                        continue;
                if (n < max)
                        ports[n++] = (uint16_t) port;
        }
        qsort(ports, n, sizeof *ports, cmp_u16);
        *ret_n = n;
        return 0;
}

/* "configs" (strings NAME[:secret][:optional][:file=PATH], added or replacing the one of that name) and
 * "no_configs" (names to drop, update only) of a request, applied to spec. */
static int spec_configs_from_request(json_t *body, ComponentSpec *spec, char **ret_error) {
        json_t *drop = json_object_get(body, "no_configs"), *add = json_object_get(body, "configs"), *e;
        size_t i;
        int r;

        if (drop && !json_is_null(drop) && !json_is_array(drop)) {
                *ret_error = strdup("\"no_configs\" must be a list of configurable names.");
                return -EINVAL;
        }
        json_array_foreach(drop, i, e) {
                const char *name = json_string_value(e);
                const SpecConfig *c = name ? component_spec_config(spec, name) : NULL;
                if (!c) {
                        if (asprintf(ret_error, "The component declares no configurable named '%.80s'.",
                                     name ?: "(not a string)") < 0)
                                *ret_error = NULL;
                        return -EINVAL;
                }
                size_t k = (size_t) (c - spec->configs);
                memmove(&spec->configs[k], &spec->configs[k + 1],
                        (spec->n_configs - k - 1) * sizeof spec->configs[0]);
                spec->n_configs--;
        }
        if (add && !json_is_null(add) && !json_is_array(add)) {
                *ret_error = strdup("\"configs\" must be a list of NAME[:secret][:optional][:file=PATH].");
                return -EINVAL;
        }
        json_array_foreach(add, i, e) {
                SpecConfig c;
                if (!json_is_string(e)) {
                        *ret_error = strdup("Each of \"configs\" must be a string "
                                            "NAME[:secret][:optional][:file=PATH].");
                        return -EINVAL;
                }
                r = spec_config_parse(json_string_value(e), &c, ret_error);
                if (r < 0)
                        return r;
                r = spec_config_put(spec, &c, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Builds the spec from a create or update request over base (the current spec; NULL for a new component):
 * "spec" (a full or partial spec object, its top-level fields replace base's) and the CLI's shorthands
 * "endpoints" (strings NAME:PORT[:VIS][:/PATH] or objects), "health" (http:PATH|tcp|none or an object),
 * "memory" ("512M" or bytes), "cpus" ("1.5" or a number), "pids", "configs"/"no_configs", "bake_ms"
 * (null: the daemon's default), "bake_max_5xx_percent", "keep_releases".  What the request leaves out
 * keeps base's value. */
static int spec_from_request(json_t *body, json_t *base, const uint16_t *exposed, size_t n_exposed,
                             ComponentSpec *ret, char **ret_error) {
        static const char *const extras[] = { "bake_ms", "bake_max_5xx_percent", "keep_releases" };
        _cleanup_json_ json_t *spec = NULL;
        json_t *v, *eps, *health, *res;
        const char *hs = NULL;
        int r;

        v = json_object_get(body, "spec");
        if (v && !json_is_object(v)) {
                *ret_error = strdup("\"spec\" must be a JSON object.");
                return -EINVAL;
        }
        spec = base ? json_deep_copy(base) : json_object();
        if (!spec || (v && json_object_update(spec, v) < 0))
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(extras); i++)
                if ((v = json_object_get(body, extras[i])) && json_object_set(spec, extras[i], v) < 0)
                        return -ENOMEM;

        eps = json_object_get(body, "endpoints");
        if (eps && !json_is_null(eps)) {
                _cleanup_json_ json_t *arr = json_array();
                size_t i;
                json_t *e;

                if (!json_is_array(eps)) {
                        *ret_error = strdup("\"endpoints\" must be a list.");
                        return -EINVAL;
                }
                if (json_array_size(eps) > SPEC_ENDPOINTS_MAX) {
                        *ret_error = strdup("A component may have at most 16 endpoints.");
                        return -EINVAL;
                }
                json_array_foreach(eps, i, e) {
                        SpecEndpoint ep;
                        if (json_is_object(e)) {
                                json_array_append(arr, e);
                                continue;
                        }
                        if (!json_is_string(e)) {
                                *ret_error = strdup("Each endpoint must be a string "
                                                    "NAME:PORT[:public|project][:/BASEPATH].");
                                return -EINVAL;
                        }
                        r = spec_endpoint_parse(json_string_value(e), &ep, ret_error);
                        if (r < 0)
                                return r;
                        json_array_append_new(arr, json_pack("{s:s,s:i,s:s,s:s}", "name", ep.name, "port",
                                                             (int) ep.port, "visibility",
                                                             endpoint_visibility_to_string(ep.visibility),
                                                             "base_path", ep.base_path));
                }
                json_object_set(spec, "endpoints", arr);
        } else if (!json_object_get(spec, "endpoints") && n_exposed > 0) {
                /* Default: each TCP port the image exposes is a public endpoint. */
                _cleanup_json_ json_t *arr = json_array();
                for (size_t i = 0; i < n_exposed; i++) {
                        char name[16];
                        snprintf(name, sizeof name, "port-%u", exposed[i]);
                        json_array_append_new(
                                arr, json_pack("{s:s,s:i}", "name", name, "port", (int) exposed[i]));
                }
                json_object_set(spec, "endpoints", arr);
        }

        health = json_object_get(body, "health");
        if (health && json_is_object(health))
                json_object_set(spec, "health", health);
        else if (health && json_is_string(health))
                hs = json_string_value(health);
        else if (health && !json_is_null(health)) {
                *ret_error = strdup("\"health\" must be http:PATH, tcp or none.");
                return -EINVAL;
        }

        res = json_object_get(spec, "resources");
        if (!res) {
                res = json_object();
                json_object_set_new(spec, "resources", res);
        }
        v = json_object_get(body, "memory");
        if (v && json_is_string(v)) {
                uint64_t m;
                if (spec_memory_parse(json_string_value(v), &m) < 0) {
                        if (asprintf(ret_error, "Memory '%.40s' is not a size like 256M or 1G.",
                                     json_string_value(v)) < 0)
                                *ret_error = NULL;
                        return -EINVAL;
                }
                json_object_set_new(res, "memory_bytes", json_integer((json_int_t) m));
        } else if (v && !json_is_null(v))
                json_object_set(res, "memory_bytes", v);
        v = json_object_get(body, "cpus");
        if (v && !json_is_null(v)) {
                uint32_t m;
                char buf[32];
                if (json_is_string(v))
                        snprintf(buf, sizeof buf, "%s", json_string_value(v));
                else if (json_is_number(v))
                        snprintf(buf, sizeof buf, "%.3f", json_number_value(v));
                else
                        buf[0] = 0;
                /* "%.3f" of an integer gives "2.000": the parser takes up to 3 decimals. */
                if (spec_cpus_parse(buf, &m) < 0) {
                        if (asprintf(ret_error,
                                     "CPUs '%.40s' is not a number of CPUs like 0.5 or 2 (at most 1024, "
                                     "3 decimals).",
                                     buf) < 0)
                                *ret_error = NULL;
                        return -EINVAL;
                }
                json_object_set_new(res, "cpus_milli", json_integer(m));
        }
        v = json_object_get(body, "pids");
        if (v && !json_is_null(v))
                json_object_set(res, "pids", v);

        r = component_spec_from_json(spec, ret, ret_error);
        if (r < 0)
                return r;
        if (hs && (r = spec_health_parse(hs, ret, ret_error)) < 0)
                return r;
        /* Shorthands after the checks: the liveness check alone, and timings for both. */
        v = json_object_get(body, "liveness");
        if (v && !json_is_null(v)) {
                if (!json_is_string(v)) {
                        *ret_error = strdup("\"liveness\" must be http:PATH, tcp or none.");
                        return -EINVAL;
                }
                if ((r = spec_liveness_parse(json_string_value(v), ret, ret_error)) < 0)
                        return r;
        }
        SpecHealthTuning t = {};
        static const struct {
                const char *key;
                size_t offset;
        } timings[] = {
                { "health_interval_ms", offsetof(SpecHealthTuning, interval_ms) },
                { "health_timeout_ms", offsetof(SpecHealthTuning, timeout_ms) },
                { "health_failures", offsetof(SpecHealthTuning, failure_threshold) },
                { "deploy_timeout_ms", offsetof(SpecHealthTuning, deploy_timeout_ms) },
        };
        for (size_t i = 0; i < ELEMENTSOF(timings); i++) {
                v = json_object_get(body, timings[i].key);
                if (!v || json_is_null(v))
                        continue;
                if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > UINT32_MAX) {
                        if (asprintf(ret_error, "\"%s\" must be a positive integer.", timings[i].key) < 0)
                                *ret_error = NULL;
                        return -EINVAL;
                }
                *(uint32_t *) ((char *) &t + timings[i].offset) = (uint32_t) json_integer_value(v);
        }
        r = spec_health_tune(ret, &t, ret_error);
        if (r < 0)
                return r;
        return spec_configs_from_request(body, ret, ret_error);
}

int api_component_create(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_(api_scope_done) ApiScope s = {};
        _cleanup_json_ json_t *body = NULL, *j = NULL;
        _cleanup_free_ char *error = NULL, *ref = NULL, *spec_json = NULL;
        const char *name = NULL, *image = NULL;
        uint16_t exposed[SPEC_ENDPOINTS_MAX];
        size_t n_exposed = 0;
        ComponentSpec spec;
        OciError err = {};
        char msg[256];
        int r;

        _cleanup_(pipeline_source_done) PipelineSource src = {};
        bool has_src = false;
        int64_t keep = 0;

        r = api_read_create_body(req, &component_create_body, "component", "image", &body, &name, &image);
        if (r < 0)
                return req->status;
        r = source_from_request(body, NULL, &src, &has_src, &error);
        if (r >= 0)
                r = builds_keep_from_request(body, &keep, &error);
        if (r >= 0)
                r = credentials_check(body, &error);
        if (r == -EINVAL)
                return http_reply_error(req->conn, 400, error ?: "Invalid git source.",
                                        "See 'slipway component create --help'.");
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot read the git source");
        if (has_src && image)
                return http_reply_error(req->conn, 400,
                                        "A component is built from --git or deploys --image, not both.",
                                        "Give one of them.");
        if (!image && !has_src)
                return http_reply_error(
                        req->conn, 400, "A component needs an image or a git repository.",
                        "Give --image REF (an image from 'slipway image list') or --git URL|PATH.");

        if (image && (r = image_catalog_normalize_ref(image, &ref, &err)) < 0)
                return api_reply_error(req, r, &err, "Invalid image reference");

        if ((r = api_scope_project(req, &s)) < 0)
                return req->status;
        r = model_component_get(s.db, s.project.id, name, &s.component);
        if (r >= 0) {
                snprintf(msg, sizeof msg, "Project '%s' already has a component named '%s'.", s.project.name,
                         name);
                return http_reply_error(req->conn, 409, msg,
                                        "Choose another name, or see 'slipway component list'.");
        }

        /* The image's exposed ports are the default endpoints; without --endpoint the image must exist.  A git
         * component's come from its descriptor at each build. */
        if (ref) {
                ImageRecord rec = {};
                json_t *eps = json_object_get(body, "endpoints");
                bool need = !eps || json_is_null(eps);

                r = image_catalog_lookup(ctx->catalog, ref, &rec, &err);
                if (r >= 0) {
                        r = image_exposed_ports(ctx, rec.digest, exposed, ELEMENTSOF(exposed), &n_exposed,
                                                &err);
                        image_record_done(&rec);
                        if (r < 0)
                                return api_reply_error(req, r, &err, "Cannot read the image");
                } else if (r == -ENOENT && need) {
                        snprintf(msg, sizeof msg, "No image named '%.80s'.", image);
                        return http_reply_error(
                                req->conn, 404, msg,
                                "Import or build it first (see 'slipway image list'), or give its "
                                "endpoints with --endpoint NAME:PORT.");
                } else if (r != -ENOENT)
                        return api_reply_error(req, r, &err, "Cannot look up the image");
        }

        r = spec_from_request(body, NULL, exposed, n_exposed, &spec, &error);
        if (r == -EINVAL)
                return http_reply_error(req->conn, 400, error ?: "Invalid component spec.",
                                        "See 'slipway component create --help'.");
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot build the component spec");
        spec_json = component_spec_format(&spec);
        if (!spec_json)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot build the component spec");

        model_component_done(&s.component);
        r = sqlite_begin(s.db);
        if (r >= 0) {
                r = model_component_create(s.db, s.project.id, name, ref, spec_json, &s.component);
                if (r >= 0 && has_src) {
                        _cleanup_free_ char *sj = NULL;
                        r = pipeline_source_format(&src, &sj);
                        if (r >= 0)
                                r = model_component_set_source(s.db, s.component.id, sj);
                }
                if (r >= 0 && keep > 0)
                        r = model_component_set_builds_keep(s.db, s.component.id, keep);
                r = sqlite_end(s.db, r);
        }
        if (r >= 0 && has_src) {
                /* Re-read: the row now has its source. */
                int64_t id = s.component.id;
                model_component_done(&s.component);
                r = model_component_get_by_id(s.db, id, &s.component);
                if (r >= 0)
                        r = save_token(req, s.db, id, body);
        }
        if (r == -EEXIST) {
                snprintf(msg, sizeof msg, "Project '%s' already has a component named '%s'.", s.project.name,
                         name);
                return http_reply_error(req->conn, 409, msg,
                                        "Choose another name, or see 'slipway component list'.");
        }
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot create the component");
        j = component_json(&s.component);
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot describe the component");
        return http_reply_json(req->conn, 201, j);
}

/* When an update gives new endpoints, the health checks that followed the first endpoint (by default)
 * follow the new first one; checks given their own port keep it. */
static void health_follow_endpoints(json_t *base, json_t *body) {
        json_t *eps = json_object_get(body, "endpoints"), *health = json_object_get(base, "health");
        json_t *first = json_array_get(json_object_get(base, "endpoints"), 0);
        json_int_t old_port = first ? json_integer_value(json_object_get(first, "port")) : 0;

        if (!eps || json_is_null(eps) || json_object_get(body, "health") ||
            json_object_get(json_object_get(body, "spec"), "health") || !json_is_object(health))
                return;
        if (old_port == 0) {
                /* No endpoint before: the checks were the process default; the new endpoints' default now. */
                json_object_del(base, "health");
                return;
        }
        for (const char *const *w = (const char *const[]) { "readiness", "liveness", NULL }; *w; w++) {
                json_t *h = json_object_get(health, *w);
                if (json_integer_value(json_object_get(h, "port")) == old_port)
                        json_object_del(h, "port");
        }
}

/* PATCH …/components/C: a new spec (and image) from the current one and the fields given; running
 * releases keep theirs, the next deploy takes it. */
int api_component_update(HttpRequest *req) {
        _cleanup_(api_scope_done) ApiScope s = {};
        _cleanup_json_ json_t *body = NULL, *base = NULL, *j = NULL;
        _cleanup_free_ char *error = NULL, *ref = NULL, *spec_json = NULL;
        const char *image = NULL;
        ComponentSpec spec;
        OciError err = {};
        int r;

        if ((r = http_request_read_json(req, &component_update_body, &body)) < 0)
                return req->status;
        if (json_get_string_opt(body, "image", &image) < 0 || (image && isempty(image)))
                return http_reply_error(req->conn, 400, "\"image\" must be an image reference.",
                                        "Give an image name like web:1 or a digest.");
        if (image) {
                r = image_catalog_normalize_ref(image, &ref, &err);
                if (r < 0)
                        return api_reply_error(req, r, &err, "Invalid image reference");
        }
        if ((r = api_scope_component(req, NULL, &s)) < 0)
                return req->status;
        _cleanup_(pipeline_source_done) PipelineSource src = {};
        bool has_src = false;
        int64_t keep = 0;
        r = source_from_request(body, s.component.source, &src, &has_src, &error);
        if (r >= 0)
                r = builds_keep_from_request(body, &keep, &error);
        if (r >= 0)
                r = credentials_check(body, &error);
        if (r == -EINVAL)
                return http_reply_error(req->conn, 400, error ?: "Invalid git source.",
                                        "See 'slipway component update --help'; nothing was changed.");
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot read the git source");
        if (json_parse_buffer(s.component.spec, strlen(s.component.spec), &base, NULL) < 0 ||
            !json_is_object(base))
                return api_reply_error(req, -EBADMSG, NULL, "Cannot read the component's current spec");
        health_follow_endpoints(base, body);
        r = spec_from_request(body, base, NULL, 0, &spec, &error);
        if (r == -EINVAL)
                return http_reply_error(req->conn, 400, error ?: "Invalid component spec.",
                                        "See 'slipway component update --help'; nothing was changed.");
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot build the component spec");
        spec_json = component_spec_format(&spec);
        if (!spec_json)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot build the component spec");
        r = sqlite_begin(s.db);
        if (r >= 0) {
                r = model_component_update(s.db, s.component.id, ref ?: s.component.image_ref, spec_json);
                if (r >= 0)
                        r = save_source(s.db, s.component.id, &src, has_src, keep);
                r = sqlite_end(s.db, r);
        }
        if (r >= 0)
                r = save_token(req, s.db, s.component.id, body);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot change the component");
        model_component_done(&s.component);
        r = model_component_get(s.db, s.project.id, req->segments[3], &s.component);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot read the component back");
        j = component_json(&s.component);
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot describe the component");
        return http_reply_json(req->conn, 200, j);
}

int api_component_show(HttpRequest *req) {
        _cleanup_(api_scope_done) ApiScope s = {};
        _cleanup_json_ json_t *j = NULL, *envs = json_array();
        ModelEnvironment *e = NULL;
        size_t n = 0;
        int r;

        if ((r = api_scope_component(req, NULL, &s)) < 0)
                return req->status;
        r = model_environment_list(s.db, s.project.id, &e, &n);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot list environments");
        for (size_t i = 0; envs && i < n; i++) {
                _cleanup_free_ char *addr = NULL;
                ModelRelease *rel = NULL, live = {};
                size_t nr = 0;
                json_t *arr = json_array();

                (void) model_service_address_get(s.db, s.component.id, e[i].id, &addr);
                if (model_release_list(s.db, s.component.id, e[i].id, &rel, &nr) >= 0) {
                        for (size_t k = 0; arr && k < nr && k < API_SHOW_RELEASES_PER_ENV; k++) {
                                json_t *rj = api_release_json(&rel[k]);
                                /* With the value versions it pinned, as 'slipway releases' shows them. */
                                if (rj)
                                        (void) api_release_json_details(s.db, &rel[k], rj);
                                json_array_append_new(arr, rj);
                        }
                        model_releases_free(rel, nr);
                }
                bool has_live = model_release_get_live(s.db, s.component.id, e[i].id, &live) >= 0;
                ModelInstance inst = {};
                json_t *inst_j = json_null();
                /* The instance serving the live release: where it runs and how often it was restarted. */
                if (has_live && model_instance_get_live(s.db, s.component.id, e[i].id, &inst) >= 0) {
                        inst_j = api_instance_json(&inst);
                        model_instance_done(&inst);
                }
                json_array_append_new(envs, json_pack("{s:s,s:s?,s:o,s:o,s:I,s:o}", "name", e[i].name,
                                                      "service_address", addr, "live",
                                                      has_live ? api_release_json(&live) : json_null(),
                                                      "instance", inst_j ?: json_null(), "releases_total",
                                                      (json_int_t) nr, "releases", arr));
                model_release_done(&live);
        }
        model_environments_free(e, n);
        j = component_json(&s.component);
        if (!j || !envs)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot describe the component");
        json_object_set(j, "environments", envs);
        if (s.component.source) {
                ModelBuild *b = NULL;
                size_t nb = 0;
                json_t *lb = json_null();
                if (model_build_list(s.db, s.component.id, &b, &nb) >= 0 && nb > 0)
                        lb = api_build_json(NULL, &b[0]) ?: json_null();
                model_builds_free(b, nb);
                json_object_set_new(j, "latest_build", lb);
                /* An ssh repository: the host key its server is pinned to (null until the first fetch). */
                _cleanup_(pipeline_source_done) PipelineSource src = {};
                _cleanup_free_ char *pinned = NULL;
                char host[300];
                if (pipeline_source_parse(s.component.source, &src) >= 0 &&
                    pipeline_ssh_host(src.url, host, sizeof host) >= 0) {
                        (void) model_source_host_key_get(s.db, host, &pinned);
                        json_object_set_new(j, "ssh_host_key", pinned ? json_string(pinned) : json_null());
                }
        }
        return http_reply_json(req->conn, 200, j);
}

int api_component_releases(HttpRequest *req) {
        _cleanup_(api_scope_done) ApiScope s = {};
        _cleanup_json_ json_t *arr = json_array(), *j = NULL;
        ModelRelease *rel = NULL;
        char env[128];
        size_t n = 0;
        int r;

        /* ?env= is optional here: without it, the releases of every environment. */
        bool one_env = api_env_query(req, env, sizeof env) >= 0;
        if ((r = api_scope_component(req, one_env ? env : NULL, &s)) < 0)
                return req->status;
        r = model_release_list(s.db, s.component.id, s.environment.id, &rel, &n);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot list releases");
        for (size_t i = 0; arr && i < n; i++) {
                json_t *e = api_release_json(&rel[i]);
                if (!e || api_release_json_details(s.db, &rel[i], e) < 0 ||
                    json_array_append_new(arr, e) < 0) {
                        model_releases_free(rel, n);
                        return api_reply_error(req, -ENOMEM, NULL, "Cannot list releases");
                }
        }
        model_releases_free(rel, n);
        j = json_pack("{s:s,s:s,s:s?,s:O}", "project", s.project.name, "component", s.component.name,
                      "environment", s.environment.name, "releases", arr);
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot list releases");
        return http_reply_json(req->conn, 200, j);
}
