/* GET /api/v1/projects/{p}/components/{c}/url?env=E: where a component answers in an environment (its
 * ingress port on the host the client reached, and its domain when the environment has one).  Only
 * a live release has a URL. */
#include "api.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "component-spec.h"
#include "http-response.h"
#include "json-util.h"
#include "sqlite-util.h"

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
                n = e ? (size_t) (e - h) + 1 : strlen(h);
        } else {
                const char *c = strchr(h, ':');
                n = c ? (size_t) (c - h) : strlen(h);
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

int api_need_env(HttpRequest *req, char *env, size_t size) {
        if (api_env_query(req, env, size) >= 0)
                return 0;
        http_reply_error(req->conn, 400, "Name the environment with ?env=NAME.",
                         "For example 'slipway url PROJECT/COMPONENT development'.");
        return api_replied(req, 400, -EINVAL);
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

        if ((r = api_need_env(req, env, sizeof env)) < 0)
                return req->status;
        if ((r = api_model_open(req, &db)) < 0)
                return req->status;
        if ((r = api_component_lookup(req, db, &p, &c)) < 0)
                return req->status;
        if ((r = api_environment_lookup(req, db, &p, env, &e)) < 0)
                return req->status;
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
                                                     "url", url, "port", (int) spec.endpoints[i].port));
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
                      e.name, "ingress_port", (json_int_t) e.ingress_port, "live", has_live, "urls", arr);
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot build the URL");
        return http_reply_json(req->conn, 200, j);
}
