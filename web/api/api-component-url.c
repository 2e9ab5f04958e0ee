/* GET /api/v1/projects/{p}/components/{c}/url?env=E: where a component answers in an environment (its
 * ingress port on the host the client reached, and its domain when the environment has one); without
 * ?env, the same for each of the project's environments in promotion order.  "live" says whether a
 * release serves there. */
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

/* The URLs of s->component in env (an array, empty without a public endpoint) and whether a release is live
 * there: the live release's spec decides what is served; before the first deploy, the component's. */
static int env_urls(HttpRequest *req, ApiScope *s, const ModelEnvironment *env, const char *host,
                    json_t **ret, bool *ret_live) {
        _cleanup_json_ json_t *arr = json_array();
        _cleanup_free_ char *error = NULL;
        ModelRelease live = {};
        ComponentSpec spec;
        int r;

        if (!arr)
                return api_replied(req, api_reply_error(req, -ENOMEM, NULL, "Cannot build the URL"),
                                   -ENOMEM);
        bool has_live = model_release_get_live(s->db, s->component.id, env->id, &live) >= 0;
        r = component_spec_parse(has_live ? live.spec : s->component.spec, &spec, &error);
        model_release_done(&live);
        if (r < 0)
                return api_replied(
                        req, api_reply_error(req, -EBADMSG, NULL, "The stored component spec is unreadable"),
                        -EBADMSG);
        for (size_t i = 0; i < spec.n_endpoints; i++) {
                _cleanup_free_ char *path = NULL, *url = NULL;
                if (component_ingress_path(s->project.name, s->component.name, &spec, i, &path) < 0)
                        continue;
                if (asprintf(&url, "http://%s:%u%s/", host, env->ingress_port, path) < 0)
                        return api_replied(req, api_reply_error(req, -ENOMEM, NULL, "Cannot build the URL"),
                                           -ENOMEM);
                json_array_append_new(arr, json_pack("{s:s,s:s,s:i}", "endpoint", spec.endpoints[i].name,
                                                     "url", url, "port", (int) spec.endpoints[i].port));
                if (env->domain) {
                        free(url);
                        url = NULL;
                        /* the first public endpoint owns the host's whole path, others /_/<endpoint> */
                        const char *under = strstr(path, "/_/");
                        if (asprintf(&url, "http://%s.%s:%u%s/", s->component.name, env->domain,
                                     env->ingress_port, under ?: "") >= 0)
                                json_object_set_new(json_array_get(arr, json_array_size(arr) - 1),
                                                    "host_url", json_string(url));
                }
        }
        *ret = TAKE_PTR(arr);
        *ret_live = has_live;
        return 0;
}

/* Without ?env: every environment of the project, in promotion order (the console's Deploy view asks once). */
static int all_env_urls(HttpRequest *req, ApiScope *s, const char *host) {
        _cleanup_json_ json_t *envs = json_array(), *j = NULL;
        ModelEnvironment *e = NULL;
        size_t n = 0;
        int r;

        if (!envs)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot build the URLs");
        r = model_environment_list(s->db, s->project.id, &e, &n);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot list the project's environments");
        for (size_t i = 0; i < n; i++) {
                json_t *arr = NULL;
                bool live = false;

                if (env_urls(req, s, &e[i], host, &arr, &live) < 0) {
                        model_environments_free(e, n);
                        return req->status;
                }
                json_array_append_new(envs, json_pack("{s:s,s:I,s:b,s:o}", "environment", e[i].name,
                                                      "ingress_port", (json_int_t) e[i].ingress_port, "live",
                                                      live, "urls", arr));
        }
        model_environments_free(e, n);
        j = json_pack("{s:s,s:s,s:O}", "project", s->project.name, "component", s->component.name,
                      "environments", envs);
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot build the URLs");
        return http_reply_json(req->conn, 200, j);
}

int api_component_url(HttpRequest *req) {
        _cleanup_(api_scope_done) ApiScope s = {};
        _cleanup_json_ json_t *arr = NULL, *j = NULL;
        char env[128], host[256];
        bool has_live = false;
        int r;

        if (http_request_query(req, "env", env, sizeof env) == -ENOENT) {
                if ((r = api_scope_component(req, NULL, &s)) < 0)
                        return req->status;
                request_host(req, host, sizeof host);
                return all_env_urls(req, &s, host);
        }
        if ((r = api_need_env(req, env, sizeof env)) < 0)
                return req->status;
        if ((r = api_scope_component(req, env, &s)) < 0)
                return req->status;
        request_host(req, host, sizeof host);
        if (env_urls(req, &s, &s.environment, host, &arr, &has_live) < 0)
                return req->status;
        if (json_array_size(arr) == 0) {
                char msg[256];
                snprintf(msg, sizeof msg, "Component '%s/%s' has no public endpoint.", s.project.name,
                         s.component.name);
                return http_reply_error(req->conn, 404, msg,
                                        "Give it one with --endpoint NAME:PORT:public when creating it.");
        }
        j = json_pack("{s:s,s:s,s:s,s:I,s:b,s:O}", "project", s.project.name, "component", s.component.name,
                      "environment", s.environment.name, "ingress_port",
                      (json_int_t) s.environment.ingress_port, "live", has_live, "urls", arr);
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot build the URL");
        return http_reply_json(req->conn, 200, j);
}
