/* What a request under /api/v1/projects addresses: the database it opens, the project, component and
 * environment its path and query name, and the query flags handlers share.  Every helper here sends the
 * error reply itself and returns -errno with req->status set, so a handler just returns req->status. */
#include "api-scope.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "http-json-body.h"
#include "http-response.h"
#include "json-util.h"
#include "names.h"
#include "sqlite-util.h"

int api_model_open(HttpRequest *req, sqlite3 **ret) {
        ApiContext *ctx = req->userdata;
        int r;

        if (!ctx->db_path) {
                http_reply_error(req->conn, 503, "This daemon has no project database.",
                                 "Start slipwayd with a state directory.");
                return api_replied(req, 503, -ENXIO);
        }
        r = sqlite_open(ctx->db_path, ret);
        if (r < 0)
                return api_replied(req, api_reply_error(req, r, NULL, "Cannot open the database"), r);
        return 0;
}

int api_check_name(HttpRequest *req, const char *what, const char *name) {
        _cleanup_free_ char *error = NULL;

        if (name_validate(what, name, &error) >= 0)
                return 0;
        http_reply_error(req->conn, 400, error ?: "Invalid name.",
                         "Names are DNS labels: 1–63 of a-z, 0-9 and '-', not starting or ending with '-'.");
        return api_replied(req, 400, -EINVAL);
}

int api_project_lookup(HttpRequest *req, sqlite3 *db, const char *name, ModelProject *ret) {
        char msg[160];
        int r;

        r = model_project_get(db, name, ret);
        if (r == -ENOENT) {
                snprintf(msg, sizeof msg, "No project named '%.80s'.", name);
                http_reply_error(req->conn, 404, msg,
                                 "See 'slipway project list', or create it with "
                                 "'slipway project create NAME'.");
                return api_replied(req, 404, -ENOENT);
        }
        if (r < 0)
                return api_replied(req, api_reply_error(req, r, NULL, "Cannot look up the project"), r);
        return 0;
}

int api_environment_lookup(HttpRequest *req, sqlite3 *db, const ModelProject *p, const char *name,
                           ModelEnvironment *ret) {
        ModelEnvironment *envs = NULL;
        size_t n = 0;
        char msg[160], hint[512];
        int r;

        r = model_environment_get(db, p->id, name, ret);
        if (r >= 0)
                return 0;
        if (r != -ENOENT)
                return api_replied(req, api_reply_error(req, r, NULL, "Cannot look up the environment"), r);
        snprintf(msg, sizeof msg, "Project '%s' has no environment named '%.80s'.", p->name, name);
        size_t k = (size_t) snprintf(hint, sizeof hint, "Its environments are:");
        if (model_environment_list(db, p->id, &envs, &n) >= 0) {
                for (size_t i = 0; i < n && k < sizeof hint; i++)
                        k += (size_t) snprintf(hint + k, sizeof hint - k, "%s %s", i ? "," : "",
                                               envs[i].name);
                model_environments_free(envs, n);
        }
        if (k < sizeof hint)
                snprintf(hint + k, sizeof hint - k, "%s", n ? "." : " none.");
        http_reply_error(req->conn, 404, msg, hint);
        return api_replied(req, 404, -ENOENT);
}

/* The component segments[3] of the scope's project; sends 404 when unknown. */
static int component_lookup(HttpRequest *req, ApiScope *s) {
        char msg[200];
        int r;

        r = model_component_get(s->db, s->project.id, req->segments[3], &s->component);
        if (r == -ENOENT) {
                snprintf(msg, sizeof msg, "Project '%s' has no component named '%.80s'.", s->project.name,
                         req->segments[3]);
                http_reply_error(req->conn, 404, msg, "See 'slipway component list PROJECT'.");
                return api_replied(req, 404, -ENOENT);
        }
        if (r < 0)
                return api_replied(req, api_reply_error(req, r, NULL, "Cannot look up the component"), r);
        return 0;
}

void api_scope_done(ApiScope *s) {
        model_environment_done(&s->environment);
        model_component_done(&s->component);
        model_project_done(&s->project);
        if (s->db)
                sqlite3_close_v2(s->db);
        *s = (ApiScope) {};
}

int api_scope_project(HttpRequest *req, ApiScope *s) {
        int r = api_model_open(req, &s->db);
        if (r < 0)
                return r;
        return api_project_lookup(req, s->db, req->segments[1], &s->project);
}

int api_scope_component(HttpRequest *req, const char *env, ApiScope *s) {
        int r = api_scope_project(req, s);
        if (r < 0)
                return r;
        r = component_lookup(req, s);
        if (r < 0 || !env)
                return r;
        return api_environment_lookup(req, s->db, &s->project, env, &s->environment);
}

bool api_query_flag(HttpRequest *req, const char *name) {
        char v[16];

        if (http_request_query(req, name, v, sizeof v) < 0)
                return false;
        return streq(v, "1") || streq(v, "true") || streq(v, "yes") || streq(v, "");
}

int api_env_query(HttpRequest *req, char *buf, size_t size) {
        int r = http_request_query(req, "env", buf, size);
        if (r < 0 || !buf[0])
                return -ENOENT;
        return 0;
}

int api_need_env(HttpRequest *req, char *env, size_t size) {
        if (api_env_query(req, env, size) >= 0)
                return 0;
        http_reply_error(req->conn, 400, "Name the environment with ?env=NAME.",
                         "For example 'slipway url PROJECT/COMPONENT development'.");
        return api_replied(req, 400, -EINVAL);
}

int api_read_create_body(HttpRequest *req, const HttpJsonBody *spec, const char *what, const char *opt_key,
                         json_t **ret_body, const char **ret_name, const char **ret_opt) {
        _cleanup_json_ json_t *body = NULL;
        const char *name = NULL, *opt = NULL;
        char msg[160];
        int r;

        r = http_request_read_json(req, spec, &body);
        if (r < 0)
                return r;
        if (json_get_string(body, "name", &name) < 0) {
                snprintf(msg, sizeof msg, "The %s needs a \"name\" string.", spec->what);
                http_reply_error(req->conn, 400, msg, spec->example);
                return api_replied(req, 400, -EINVAL);
        }
        if (opt_key) {
                json_t *o = json_object_get(body, opt_key);
                if (o && !json_is_null(o) && !json_is_string(o)) {
                        snprintf(msg, sizeof msg, "\"%s\" must be a string or null.", opt_key);
                        http_reply_error(req->conn, 400, msg, spec->example);
                        return api_replied(req, 400, -EINVAL);
                }
                opt = json_string_value(o);
        }
        r = api_check_name(req, what, name);
        if (r < 0)
                return r;
        *ret_name = name;
        if (ret_opt)
                *ret_opt = opt;
        *ret_body = TAKE_PTR(body);
        return 0;
}
