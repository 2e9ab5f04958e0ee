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

int api_component_url(HttpRequest *req) {
        _cleanup_(api_scope_done) ApiScope s = {};
        _cleanup_json_ json_t *arr = json_array(), *j = NULL;
        _cleanup_free_ char *error = NULL;
        ModelRelease live = {};
        ComponentSpec spec;
        char env[128], host[256];
        int r;

        if ((r = api_need_env(req, env, sizeof env)) < 0)
                return req->status;
        if ((r = api_scope_component(req, env, &s)) < 0)
                return req->status;
        /* The live release's spec decides what is served; before the first deploy, the component's. */
        bool has_live = model_release_get_live(s.db, s.component.id, s.environment.id, &live) >= 0;
        r = component_spec_parse(has_live ? live.spec : s.component.spec, &spec, &error);
        model_release_done(&live);
        if (r < 0)
                return api_reply_error(req, -EBADMSG, NULL, "The stored component spec is unreadable");
        request_host(req, host, sizeof host);
        for (size_t i = 0; arr && i < spec.n_endpoints; i++) {
                _cleanup_free_ char *path = NULL, *url = NULL;
                if (component_ingress_path(s.project.name, s.component.name, &spec, i, &path) < 0)
                        continue;
                if (asprintf(&url, "http://%s:%u%s/", host, s.environment.ingress_port, path) < 0)
                        return api_reply_error(req, -ENOMEM, NULL, "Cannot build the URL");
                json_array_append_new(arr, json_pack("{s:s,s:s,s:i}", "endpoint", spec.endpoints[i].name,
                                                     "url", url, "port", (int) spec.endpoints[i].port));
                if (s.environment.domain) {
                        free(url);
                        url = NULL;
                        /* the first public endpoint owns the host's whole path, others /_/<endpoint> */
                        const char *under = strstr(path, "/_/");
                        if (asprintf(&url, "http://%s.%s:%u%s/", s.component.name, s.environment.domain,
                                     s.environment.ingress_port, under ?: "") >= 0)
                                json_object_set_new(json_array_get(arr, json_array_size(arr) - 1),
                                                    "host_url", json_string(url));
                }
        }
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
