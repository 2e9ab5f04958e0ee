/* /api/v1/projects/{p}/components…: components (image, endpoints, health checks, resources), their
 * releases per environment, public URLs and the live instance's logs.  A spec is validated whole
 * (component-spec.c) before the row is written. */
#include "api.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "component-spec.h"
#include "fs-util.h"
#include "http-response.h"
#include "json-util.h"
#include "sqlite-util.h"

/* logs: default and maximum lines per stream, and how much of a file's end is read to find them. */
#define API_LOGS_LINES_DEFAULT 100u
#define API_LOGS_LINES_MAX 10000u
#define API_LOGS_TAIL_BYTES_MAX (4u * 1024u * 1024u)
/* Releases shown per environment in component show. */
#define API_SHOW_RELEASES_PER_ENV 5u
/* logs ?follow=1: poll interval, a heartbeat after this many idle ticks, and the most sent at once. */
#define API_LOGS_FOLLOW_TICK_USEC 250000u
#define API_LOGS_HEARTBEAT_TICKS 8u
#define API_LOGS_FOLLOW_CHUNK (64u * 1024u)
/* Each follower holds one of the server's 8 handler threads: leave most of them to the rest of the API. */
#define API_LOGS_FOLLOWERS_MAX 3u

static int component_lookup(HttpRequest *req, sqlite3 *db, ModelProject *p, ModelComponent *ret) {
        char msg[200];
        int r;

        if ((r = api_project_lookup(req, db, req->segments[1], p)) < 0)
                return r;
        r = model_component_get(db, p->id, req->segments[3], ret);
        if (r == -ENOENT) {
                snprintf(msg, sizeof msg, "Project '%s' has no component named '%.80s'.", p->name,
                         req->segments[3]);
                http_reply_error(req->conn, 404, msg, "See 'slipway component list PROJECT'.");
                return -404;
        }
        if (r < 0) {
                api_reply_error(req, r, NULL, "Cannot look up the component");
                return -500;
        }
        return 0;
}

static json_t *component_json(const ModelComponent *c) {
        _cleanup_json_ json_t *spec = NULL;

        if (json_parse_buffer(c->spec, strlen(c->spec), &spec, NULL) < 0)
                spec = json_object();
        return json_pack("{s:s,s:s,s:s?,s:O,s:I}", "name", c->name, "project", c->project_name, "image",
                         c->image_ref, "spec", spec, "created_at", (json_int_t)c->created_at);
}

int api_components_list(HttpRequest *req) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(model_project_done) ModelProject p = {};
        _cleanup_json_ json_t *arr = json_array(), *j = NULL;
        ModelComponent *c = NULL;
        size_t n = 0;
        int r;

        if ((r = api_model_open(req, &db)) < 0)
                return -r;
        if ((r = api_project_lookup(req, db, req->segments[1], &p)) < 0)
                return -r;
        r = model_component_list(db, p.id, &c, &n);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot list components");
        for (size_t i = 0; arr && i < n; i++)
                json_array_append_new(arr, component_json(&c[i]));
        model_components_free(c, n);
        j = json_pack("{s:s,s:O}", "project", p.name, "components", arr);
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot list components");
        return http_reply_json(req->conn, 200, j);
}

static int cmp_u16(const void *a, const void *b) {
        return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
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
                        ports[n++] = (uint16_t)port;
        }
        qsort(ports, n, sizeof *ports, cmp_u16);
        *ret_n = n;
        return 0;
}

/* Builds the spec JSON from a create request: "spec" (a full or partial spec object) and the CLI's
 * shorthands "endpoints" (strings NAME:PORT[:VIS][:/PATH] or objects), "health" (http:PATH|tcp|none or an
 * object), "memory" ("512M" or bytes), "cpus" ("1.5" or a number), "pids". */
static int spec_from_request(json_t *body, const uint16_t *exposed, size_t n_exposed, ComponentSpec *ret,
                             char **ret_error) {
        _cleanup_json_ json_t *spec = NULL;
        json_t *v, *eps, *health, *res;
        const char *hs = NULL;
        int r;

        v = json_object_get(body, "spec");
        if (v && !json_is_object(v)) {
                *ret_error = strdup("\"spec\" must be a JSON object.");
                return -EINVAL;
        }
        spec = v ? json_deep_copy(v) : json_object();
        if (!spec)
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
                                                             (int)ep.port, "visibility",
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
                        json_array_append_new(arr,
                                              json_pack("{s:s,s:i}", "name", name, "port", (int)exposed[i]));
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
                json_object_set_new(res, "memory_bytes", json_integer((json_int_t)m));
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
                {"health_interval_ms", offsetof(SpecHealthTuning, interval_ms)},
                {"health_timeout_ms", offsetof(SpecHealthTuning, timeout_ms)},
                {"health_failures", offsetof(SpecHealthTuning, failure_threshold)},
                {"deploy_timeout_ms", offsetof(SpecHealthTuning, deploy_timeout_ms)},
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
                *(uint32_t *)((char *)&t + timings[i].offset) = (uint32_t)json_integer_value(v);
        }
        return spec_health_tune(ret, &t, ret_error);
}

int api_component_create(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(model_project_done) ModelProject p = {};
        _cleanup_(model_component_done) ModelComponent c = {};
        _cleanup_json_ json_t *body = NULL, *j = NULL;
        _cleanup_free_ char *error = NULL, *ref = NULL, *spec_json = NULL;
        const char *name = NULL, *image = NULL;
        uint16_t exposed[SPEC_ENDPOINTS_MAX];
        size_t n_exposed = 0;
        ComponentSpec spec;
        OciError err = {};
        char msg[256];
        int r;

        r = http_read_body_json(req->conn, HTTP_JSON_BODY_MAX, &body);
        json_t *iv = r >= 0 ? json_object_get(body, "image") : NULL;
        if (iv && json_is_string(iv))
                image = json_string_value(iv);
        if (r < 0 || json_get_string(body, "name", &name) < 0 || (iv && !json_is_null(iv) && !image))
                return http_reply_error(req->conn, r == -EFBIG ? 413 : 400,
                                        "The request body must be a JSON object with a \"name\" string.",
                                        "Send {\"name\": \"web\", \"image\": \"busybox:1\"}.");
        if ((r = api_check_name(req, "component", name)) < 0)
                return -r;
        if (!image)
                return http_reply_error(req->conn, 400, "A component needs an image.",
                                        "Give --image REF (an image from 'slipway image list').");

        r = image_catalog_normalize_ref(image, &ref, &err);
        if (r < 0)
                return api_reply_error(req, r, &err, "Invalid image reference");

        if ((r = api_model_open(req, &db)) < 0)
                return -r;
        if ((r = api_project_lookup(req, db, req->segments[1], &p)) < 0)
                return -r;
        r = model_component_get(db, p.id, name, &c);
        if (r >= 0) {
                snprintf(msg, sizeof msg, "Project '%s' already has a component named '%s'.", p.name, name);
                return http_reply_error(req->conn, 409, msg,
                                        "Choose another name, or see 'slipway component list'.");
        }

        /* The image's exposed ports are the default endpoints; without --endpoint the image must exist. */
        {
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

        r = spec_from_request(body, exposed, n_exposed, &spec, &error);
        if (r == -EINVAL)
                return http_reply_error(req->conn, 400, error ?: "Invalid component spec.",
                                        "See 'slipway component create --help'.");
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot build the component spec");
        spec_json = component_spec_format(&spec);
        if (!spec_json)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot build the component spec");

        model_component_done(&c);
        r = model_component_create(db, p.id, name, ref, spec_json, &c);
        if (r == -EEXIST) {
                snprintf(msg, sizeof msg, "Project '%s' already has a component named '%s'.", p.name, name);
                return http_reply_error(req->conn, 409, msg,
                                        "Choose another name, or see 'slipway component list'.");
        }
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot create the component");
        j = component_json(&c);
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot describe the component");
        return http_reply_json(req->conn, 201, j);
}

int api_component_show(HttpRequest *req) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(model_project_done) ModelProject p = {};
        _cleanup_(model_component_done) ModelComponent c = {};
        _cleanup_json_ json_t *j = NULL, *envs = json_array();
        ModelEnvironment *e = NULL;
        size_t n = 0;
        int r;

        if ((r = api_model_open(req, &db)) < 0)
                return -r;
        if ((r = component_lookup(req, db, &p, &c)) < 0)
                return -r;
        r = model_environment_list(db, p.id, &e, &n);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot list environments");
        for (size_t i = 0; envs && i < n; i++) {
                _cleanup_free_ char *addr = NULL;
                ModelRelease *rel = NULL, live = {};
                size_t nr = 0;
                json_t *arr = json_array();

                (void)model_service_address_get(db, c.id, e[i].id, &addr);
                if (model_release_list(db, c.id, e[i].id, &rel, &nr) >= 0) {
                        for (size_t k = 0; arr && k < nr && k < API_SHOW_RELEASES_PER_ENV; k++)
                                json_array_append_new(arr, api_release_json(&rel[k]));
                        model_releases_free(rel, nr);
                }
                bool has_live = model_release_get_live(db, c.id, e[i].id, &live) >= 0;
                ModelInstance inst = {};
                json_t *inst_j = json_null();
                /* The instance serving the live release: where it runs and how often it was restarted. */
                if (has_live && model_instance_get_live(db, c.id, e[i].id, &inst) >= 0) {
                        inst_j = json_pack("{s:I,s:s,s:s,s:s,s:I}", "id", (json_int_t)inst.id, "address",
                                           inst.address, "netns", inst.netns, "state", inst.state, "restarts",
                                           (json_int_t)inst.restarts);
                        model_instance_done(&inst);
                }
                json_array_append_new(envs, json_pack("{s:s,s:s?,s:o,s:o,s:I,s:o}", "name", e[i].name,
                                                      "service_address", addr, "live",
                                                      has_live ? api_release_json(&live) : json_null(), "instance",
                                                      inst_j ?: json_null(), "releases_total", (json_int_t)nr,
                                                      "releases", arr));
                model_release_done(&live);
        }
        model_environments_free(e, n);
        j = component_json(&c);
        if (!j || !envs)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot describe the component");
        json_object_set(j, "environments", envs);
        return http_reply_json(req->conn, 200, j);
}

static bool query_flag(HttpRequest *req, const char *name) {
        char v[16];

        if (http_request_query(req, name, v, sizeof v) < 0)
                return false;
        return streq(v, "1") || streq(v, "true") || streq(v, "yes") || streq(v, "");
}

/* ?env=E into buf: 0, or -ENOENT when absent (sends nothing). */
static int env_query(HttpRequest *req, char *buf, size_t size) {
        int r = http_request_query(req, "env", buf, size);
        if (r < 0 || !buf[0])
                return -ENOENT;
        return 0;
}

int api_component_releases(HttpRequest *req) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(model_project_done) ModelProject p = {};
        _cleanup_(model_component_done) ModelComponent c = {};
        _cleanup_(model_environment_done) ModelEnvironment e = {};
        _cleanup_json_ json_t *arr = json_array(), *j = NULL;
        ModelRelease *rel = NULL;
        char env[128];
        size_t n = 0;
        int r;

        if ((r = api_model_open(req, &db)) < 0)
                return -r;
        if ((r = component_lookup(req, db, &p, &c)) < 0)
                return -r;
        if (env_query(req, env, sizeof env) >= 0 && (r = api_environment_lookup(req, db, &p, env, &e)) < 0)
                return -r;
        r = model_release_list(db, c.id, e.id, &rel, &n);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot list releases");
        for (size_t i = 0; arr && i < n; i++)
                json_array_append_new(arr, api_release_json(&rel[i]));
        model_releases_free(rel, n);
        j = json_pack("{s:s,s:s,s:s?,s:O}", "project", p.name, "component", c.name, "environment", e.name,
                      "releases", arr);
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot list releases");
        return http_reply_json(req->conn, 200, j);
}

/* The host part of the request's Host header ("[::1]:7070" → "[::1]"), or "localhost". */
static void request_host(HttpRequest *req, char *buf, size_t size) {
        const char *h = mg_get_header(req->conn, "Host");
        size_t n;

        if (!h || !*h || strlen(h) >= size) {
                snprintf(buf, size, "localhost");
                return;
        }
        if (h[0] == '[') {
                const char *e = strchr(h, ']');
                n = e ? (size_t)(e - h) + 1 : strlen(h);
        } else {
                const char *c = strchr(h, ':');
                n = c ? (size_t)(c - h) : strlen(h);
        }
        memcpy(buf, h, n);
        buf[n] = 0;
        for (char *p = buf; *p; p++)
                if (!(strchr("[]:.-", *p) || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
                      (*p >= 'A' && *p <= 'Z'))) {
                        snprintf(buf, size, "localhost");
                        return;
                }
}

static int need_env(HttpRequest *req, char *env, size_t size) {
        if (env_query(req, env, size) >= 0)
                return 0;
        http_reply_error(req->conn, 400, "Name the environment with ?env=NAME.",
                         "For example 'slipway url PROJECT/COMPONENT development'.");
        return -400;
}

int api_component_url(HttpRequest *req) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(model_project_done) ModelProject p = {};
        _cleanup_(model_component_done) ModelComponent c = {};
        _cleanup_(model_environment_done) ModelEnvironment e = {};
        _cleanup_json_ json_t *arr = json_array(), *j = NULL;
        _cleanup_free_ char *error = NULL;
        ModelRelease live = {};
        ComponentSpec spec;
        char env[128], host[256];
        int r;

        if ((r = need_env(req, env, sizeof env)) < 0)
                return -r;
        if ((r = api_model_open(req, &db)) < 0)
                return -r;
        if ((r = component_lookup(req, db, &p, &c)) < 0)
                return -r;
        if ((r = api_environment_lookup(req, db, &p, env, &e)) < 0)
                return -r;
        /* The live release's spec decides what is served; before the first deploy, the component's. */
        bool has_live = model_release_get_live(db, c.id, e.id, &live) >= 0;
        r = component_spec_parse(has_live ? live.spec : c.spec, &spec, &error);
        model_release_done(&live);
        if (r < 0)
                return api_reply_error(req, -EBADMSG, NULL, "The stored component spec is unreadable");
        request_host(req, host, sizeof host);
        for (size_t i = 0; arr && i < spec.n_endpoints; i++) {
                _cleanup_free_ char *path = NULL, *url = NULL;
                if (component_ingress_path(p.name, c.name, &spec, i, &path) < 0)
                        continue;
                if (asprintf(&url, "http://%s:%u%s/", host, e.ingress_port, path) < 0)
                        return api_reply_error(req, -ENOMEM, NULL, "Cannot build the URL");
                json_array_append_new(arr, json_pack("{s:s,s:s,s:i}", "endpoint", spec.endpoints[i].name,
                                                     "url", url, "port", (int)spec.endpoints[i].port));
                if (e.domain) {
                        free(url);
                        url = NULL;
                        /* the first public endpoint owns the host's whole path, others /_/<endpoint> */
                        const char *under = strstr(path, "/_/");
                        if (asprintf(&url, "http://%s.%s:%u%s/", c.name, e.domain, e.ingress_port,
                                     under ?: "") >= 0)
                                json_object_set_new(json_array_get(arr, json_array_size(arr) - 1),
                                                    "host_url", json_string(url));
                }
        }
        if (json_array_size(arr) == 0) {
                char msg[256];
                snprintf(msg, sizeof msg, "Component '%s/%s' has no public endpoint.", p.name, c.name);
                return http_reply_error(req->conn, 404, msg,
                                        "Give it one with --endpoint NAME:PORT:public when creating it.");
        }
        j = json_pack("{s:s,s:s,s:s,s:I,s:b,s:O}", "project", p.name, "component", c.name, "environment",
                      e.name, "ingress_port", (json_int_t)e.ingress_port, "live", has_live, "urls", arr);
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot build the URL");
        return http_reply_json(req->conn, 200, j);
}

/* Invalid UTF-8 would make the JSON string fail: each byte of a bad sequence becomes '?'. */
static void utf8_sanitize(char *s) {
        unsigned char *p = (unsigned char *)s;

        while (*p) {
                size_t n = *p < 0x80             ? 1
                           : (*p & 0xe0) == 0xc0 ? 2
                           : (*p & 0xf0) == 0xe0 ? 3
                           : (*p & 0xf8) == 0xf0 ? 4
                                                 : 0;
                bool ok = n > 0 && !(n == 2 && *p < 0xc2) && !(n == 4 && *p > 0xf4);
                for (size_t i = 1; ok && i < n; i++)
                        ok = (p[i] & 0xc0) == 0x80;
                if (ok && n == 3 && ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0)))
                        ok = false;
                if (ok && n == 4 && ((p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90)))
                        ok = false;
                if (!ok) {
                        *p++ = '?';
                        continue;
                }
                p += n;
        }
}

/* The last `lines` lines of dir/name (at most API_LOGS_TAIL_BYTES_MAX from its end); "" when absent.
 * *ret_end: the file size read up to (where a follow continues). */
static int tail_file(const char *dir, const char *name, unsigned lines, char **ret, uint64_t *ret_end) {
        _cleanup_free_ char *path = path_join(dir, name), *buf = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        off_t start;
        size_t size;
        ssize_t k;

        if (!path)
                return -ENOMEM;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0) {
                if (errno != ENOENT)
                        return -errno;
                *ret = strdup("");
                *ret_end = 0;
                return *ret ? 0 : -ENOMEM;
        }
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADF;
        start = st.st_size > (off_t)API_LOGS_TAIL_BYTES_MAX ? st.st_size - (off_t)API_LOGS_TAIL_BYTES_MAX
                                                            : 0;
        size = (size_t)(st.st_size - start);
        buf = malloc(size + 1);
        if (!buf)
                return -ENOMEM;
        k = pread(fd, buf, size, start);
        if (k < 0)
                return -errno;
        buf[k] = 0;
        /* Walk back over `lines` newlines (a final newline ends the last line, it does not start one). */
        size_t end = (size_t)k, pos = end;
        if (pos > 0 && buf[pos - 1] == '\n')
                pos--;
        unsigned seen = 0;
        while (pos > 0) {
                if (buf[pos - 1] == '\n' && ++seen == lines)
                        break;
                pos--;
        }
        if (lines == 0)
                pos = end;
        char *out = strndup(buf + pos, end - pos);
        if (!out)
                return -ENOMEM;
        utf8_sanitize(out);
        *ret = out;
        *ret_end = (uint64_t)start + (uint64_t)k;
        return 0;
}

static bool logs_stopping;
static unsigned logs_followers;

void api_logs_stop(void) {
        __atomic_store_n(&logs_stopping, true, __ATOMIC_RELEASE);
        /* Let each follower send its end line while the server still writes (a few poll intervals). */
        for (unsigned i = 0; i < 20 && __atomic_load_n(&logs_followers, __ATOMIC_ACQUIRE) > 0; i++)
                (void)usleep(API_LOGS_FOLLOW_TICK_USEC / 2);
}

static int send_json_line(struct mg_connection *conn, json_t *j) {
        _cleanup_free_ char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
        _cleanup_free_ char *line = NULL;

        if (!s || asprintf(&line, "%s\n", s) < 0)
                return -ENOMEM;
        return http_stream_write(conn, line, strlen(line));
}

/* New bytes of dir/name after *offset (from 0 again when the file shrank: copy-truncate rotation), up to the
 * last complete line unless API_LOGS_FOLLOW_CHUNK bytes are pending.  NULL *ret when nothing is new. */
static int read_new(const char *dir, const char *name, uint64_t *offset, char **ret) {
        _cleanup_free_ char *path = path_join(dir, name), *buf = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        ssize_t k;

        *ret = NULL;
        if (!path)
                return -ENOMEM;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if ((uint64_t)st.st_size < *offset)
                *offset = 0;
        if ((uint64_t)st.st_size == *offset)
                return 0;
        size_t want = MIN((uint64_t)st.st_size - *offset, (uint64_t)API_LOGS_FOLLOW_CHUNK);
        buf = malloc(want + 1);
        if (!buf)
                return -ENOMEM;
        k = pread(fd, buf, want, (off_t)*offset);
        if (k <= 0)
                return k < 0 ? -errno : 0;
        size_t n = (size_t)k;
        if (n < API_LOGS_FOLLOW_CHUNK) {
                while (n > 0 && buf[n - 1] != '\n')
                        n--;
                if (n == 0)
                        return 0; /* a line still being written */
        }
        buf[n] = 0;
        *offset += n;
        utf8_sanitize(buf);
        *ret = TAKE_PTR(buf);
        return 0;
}

/* Streams what the instance writes as JSON lines {"stream","text"} until the client goes, the instance
 * stops (then {"end":true,"state"}) or slipwayd stops.  An empty line every few seconds notices a
 * client that went away. */
static int follow_logs(HttpRequest *req, sqlite3 *db, const ModelInstance *inst, uint64_t off_out,
                       uint64_t off_err) {
        static const char *const names[] = {"stdout.log", "stderr.log"};
        static const char *const streams[] = {"stdout", "stderr"};
        uint64_t offsets[2] = {off_out, off_err};
        unsigned idle = 0;

        for (unsigned tick = 0;; tick++) {
                bool sent = false, done = false;
                _cleanup_free_ char *state = NULL;

                if (__atomic_load_n(&logs_stopping, __ATOMIC_ACQUIRE)) {
                        _cleanup_json_ json_t *j =
                                json_pack("{s:b,s:s}", "end", true, "state", "slipwayd stopping");
                        (void)send_json_line(req->conn, j);
                        break;
                }
                /* Once a second: has the instance stopped?  Its last lines are sent before the end. */
                if (tick % 4 == 0) {
                        ModelInstance now = {};
                        if (model_instance_get(db, inst->id, &now) < 0)
                                done = true;
                        else if (streq(now.state, MODEL_INSTANCE_STOPPED) ||
                                 streq(now.state, MODEL_INSTANCE_FAILED)) {
                                done = true;
                                state = TAKE_PTR(now.state);
                        }
                        model_instance_done(&now);
                }
                for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                        _cleanup_free_ char *text = NULL;
                        _cleanup_json_ json_t *j = NULL;

                        if (read_new(inst->dir, names[i], &offsets[i], &text) < 0 || !text)
                                continue;
                        j = json_pack("{s:s,s:s}", "stream", streams[i], "text", text);
                        if (send_json_line(req->conn, j) < 0)
                                return 200;
                        sent = true;
                }
                if (done) {
                        _cleanup_json_ json_t *j =
                                json_pack("{s:b,s:s}", "end", true, "state", state ?: "gone");
                        (void)send_json_line(req->conn, j);
                        break;
                }
                idle = sent ? 0 : idle + 1;
                if (idle >= API_LOGS_HEARTBEAT_TICKS) {
                        if (http_stream_write(req->conn, "\n", 1) < 0)
                                return 200;
                        idle = 0;
                }
                (void)usleep(API_LOGS_FOLLOW_TICK_USEC);
        }
        (void)http_stream_end(req->conn);
        return 200;
}

int api_component_logs(HttpRequest *req) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(model_project_done) ModelProject p = {};
        _cleanup_(model_component_done) ModelComponent c = {};
        _cleanup_(model_environment_done) ModelEnvironment e = {};
        _cleanup_(model_instance_done) ModelInstance inst = {};
        _cleanup_free_ char *out = NULL, *err = NULL;
        _cleanup_json_ json_t *j = NULL;
        char env[128], lines_s[16], msg[256];
        unsigned lines = API_LOGS_LINES_DEFAULT;
        uint64_t end_out = 0, end_err = 0;
        bool live = true, follow = query_flag(req, "follow");
        int r;

        if ((r = need_env(req, env, sizeof env)) < 0)
                return -r;
        if (http_request_query(req, "lines", lines_s, sizeof lines_s) >= 0) {
                char *end;
                unsigned long v = strtoul(lines_s, &end, 10);
                if (!lines_s[0] || *end || lines_s[0] == '-' || v > API_LOGS_LINES_MAX)
                        return http_reply_error(req->conn, 400, "?lines must be a number from 0 to 10000.",
                                                "For example --lines 200.");
                lines = (unsigned)v;
        }
        if ((r = api_model_open(req, &db)) < 0)
                return -r;
        if ((r = component_lookup(req, db, &p, &c)) < 0)
                return -r;
        if ((r = api_environment_lookup(req, db, &p, env, &e)) < 0)
                return -r;
        r = model_instance_get_live(db, c.id, e.id, &inst);
        if (r == -ENOENT) {
                /* No live release: the newest instance of any release (a failed deploy keeps its instance
                 * for exactly this). */
                _cleanup_stmt_ sqlite3_stmt *s = NULL;
                live = false;
                r = sqlite_prepare(
                        db,
                        "SELECT i.id FROM instances i JOIN releases r ON r.id = i.release_id"
                        " WHERE r.component_id = ?1 AND r.environment_id = ?2 ORDER BY i.id DESC LIMIT 1",
                        &s);
                if (r >= 0) {
                        sqlite3_bind_int64(s, 1, c.id);
                        sqlite3_bind_int64(s, 2, e.id);
                        r = sqlite3_step(s) == SQLITE_ROW
                                    ? model_instance_get(db, sqlite3_column_int64(s, 0), &inst)
                                    : -ENOENT;
                }
        }
        if (r == -ENOENT) {
                snprintf(msg, sizeof msg, "Component '%s/%s' has no instance in '%s'.", p.name, c.name,
                         e.name);
                return http_reply_error(req->conn, 404, msg,
                                        "Deploy it first: 'slipway deploy PROJECT/COMPONENT ENV "
                                        "--image REF'.");
        }
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot find the instance");
        r = tail_file(inst.dir, "stdout.log", lines, &out, &end_out);
        if (r >= 0)
                r = tail_file(inst.dir, "stderr.log", lines, &err, &end_err);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot read the instance's logs");
        if (follow) {
                _cleanup_json_ json_t *head =
                        json_pack("{s:I,s:I,s:s,s:b}", "instance", (json_int_t)inst.id, "release",
                                  (json_int_t)inst.release_id, "state", inst.state, "live", live);
                _cleanup_json_ json_t *jo = json_pack("{s:s,s:s}", "stream", "stdout", "text", out);
                _cleanup_json_ json_t *je = json_pack("{s:s,s:s}", "stream", "stderr", "text", err);

                if (__atomic_add_fetch(&logs_followers, 1, __ATOMIC_ACQ_REL) > API_LOGS_FOLLOWERS_MAX) {
                        __atomic_sub_fetch(&logs_followers, 1, __ATOMIC_ACQ_REL);
                        return http_reply_error(req->conn, 503, "Too many 'logs --follow' streams are open.",
                                                "Close one, or run 'slipway logs' without --follow.");
                }
                r = http_stream_begin(req->conn, 200, "application/x-ndjson", NULL);
                if (r >= 0 && send_json_line(req->conn, head) >= 0 &&
                    (!out[0] || send_json_line(req->conn, jo) >= 0) &&
                    (!err[0] || send_json_line(req->conn, je) >= 0))
                        (void)follow_logs(req, db, &inst, end_out, end_err);
                __atomic_sub_fetch(&logs_followers, 1, __ATOMIC_ACQ_REL);
                return 200;
        }
        j = json_pack("{s:I,s:I,s:s,s:b,s:s,s:s}", "instance", (json_int_t)inst.id, "release",
                      (json_int_t)inst.release_id, "state", inst.state, "live", live, "stdout", out,
                      "stderr", err);
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot send the logs");
        return http_reply_json(req->conn, 200, j);
}
