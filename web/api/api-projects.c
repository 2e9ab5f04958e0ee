/* /api/v1/projects and /api/v1/projects/{p}/environments: projects with environments in promotion
 * order.  Names are checked before anything is written; creation runs in one transaction. */
#include "api.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http-json-body.h"
#include "http-response.h"
#include "json-util.h"
#include "log.h"
#include "names.h"
#include "sqlite-util.h"
#include "string-util.h"
#include "tcp-port.h"

static const HttpJsonBody project_create_body = {
        .what = "project create request",
        .fields = (const char *const[]) { "name", "envs", NULL },
        .example = "Send {\"name\": \"shop\", \"envs\": [\"development\", \"production\"]}.",
};

static const HttpJsonBody project_update_body = {
        .what = "project settings request",
        .fields = (const char *const[]) { "push_to", "scan_fail_on", NULL },
        .example = "Send {\"push_to\": \"corp\"} (null: no push) and/or {\"scan_fail_on\": \"high\"}.",
};

static const HttpJsonBody environment_create_body = {
        .what = "environment create request",
        .fields = (const char *const[]) { "name", "after", "domain", "egress", "ingress_port", NULL },
        .example = "Send {\"name\": \"staging\", \"after\": \"development\"}.",
};

static const HttpJsonBody environment_update_body = {
        .what = "environment settings request",
        .fields = (const char *const[]) { "domain", "egress", "ingress_port", "protected", NULL },
        .example = "Send {\"domain\": \"dev.example.com\", \"egress\": true, \"ingress_port\": 8090, "
                   "\"protected\": true} (any of them).",
};

json_t *api_environment_json(const ModelEnvironment *e) {
        return json_pack("{s:s,s:I,s:s,s:s,s:I,s:s?,s:b,s:b}", "name", e->name, "position",
                         (json_int_t) e->position, "subnet", e->subnet, "bridge", e->bridge, "ingress_port",
                         (json_int_t) e->ingress_port, "domain", e->domain, "egress", e->egress, "protected",
                         e->is_protected);
}

/* The project's environments in promotion order, as a JSON array. */
static int environments_json(sqlite3 *db, const ModelProject *p, json_t **ret) {
        _cleanup_json_ json_t *arr = json_array();
        ModelEnvironment *e = NULL;
        size_t n = 0;
        int r;

        if (!arr)
                return -ENOMEM;
        r = model_environment_list(db, p->id, &e, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                json_array_append_new(arr, api_environment_json(&e[i]));
        model_environments_free(e, n);
        *ret = TAKE_PTR(arr);
        return 0;
}

static json_t *project_json(sqlite3 *db, const ModelProject *p) {
        _cleanup_json_ json_t *envs = NULL;
        unsigned n_components = 0, n_instances = 0;

        if (environments_json(db, p, &envs) < 0)
                return NULL;
        (void) model_component_count(db, p->id, &n_components);
        (void) model_project_count_live_instances(db, p->id, &n_instances);
        return json_pack("{s:s,s:I,s:O,s:I,s:I,s:s?,s:s}", "name", p->name, "created_at",
                         (json_int_t) p->created_at, "environments", envs, "components",
                         (json_int_t) n_components, "instances", (json_int_t) n_instances, "push_to",
                         p->push_to, "scan_fail_on", p->scan_fail_on ?: MODEL_SCAN_FAIL_ON_CRITICAL);
}

int api_projects_list(HttpRequest *req) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_json_ json_t *arr = json_array(), *j = NULL;
        ModelProject *p = NULL;
        size_t n = 0;
        int r;

        if ((r = api_model_open(req, &db)) < 0)
                return req->status;
        r = model_project_list(db, &p, &n);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot list projects");
        for (size_t i = 0; arr && i < n && r >= 0; i++) {
                json_t *pj = project_json(db, &p[i]);
                r = pj ? json_array_append_new(arr, pj) : -ENOMEM;
        }
        model_projects_free(p, n);
        if (!arr || r < 0)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot list projects");
        j = json_pack("{s:O}", "projects", arr);
        return http_reply_json(req->conn, 200, j);
}

static int reply_allocation_error(HttpRequest *req, int r, const char *what) {
        /* -EADDRNOTAVAIL is the allocator's "all taken"; a full disk (-ENOSPC) is api_reply_error()'s. */
        if (r == -EADDRNOTAVAIL)
                return http_reply_error(req->conn, 409,
                                        "No free subnet or ingress port is left for a new environment.",
                                        "Delete unused projects or environments.");
        if (r == -ERANGE)
                return http_reply_error(req->conn, 500,
                                        "The ingress base port leaves no room for environments.",
                                        "Start slipwayd with a lower --ingress-base-port.");
        if (r == -E2BIG)
                return http_reply_error(req->conn, 400, "A project may have at most 16 environments.",
                                        "Remove an environment or use another project.");
        return api_reply_error(req, r, NULL, what);
}

/* Another state dir on this host claims the port (its environment may not be listening right now). */
static int reply_port_claimed(HttpRequest *req, unsigned port) {
        char msg[200];

        snprintf(msg, sizeof msg,
                 "Port %u is the ingress port of another Slipway state directory on this host.", port);
        http_reply_error(req->conn, 409, msg, "Choose a free port for --ingress-port.");
        return 409;
}

/* Takes this host's subnet and port claims, so other state dirs' are avoided and ours recorded at once, and
 * fills in what the model allocates from (ret may be NULL); a port the request names must not be another
 * state dir's (409). */
static int claims_begin(HttpRequest *req, unsigned port, HostAllocation *ha, ModelAllocation *ret) {
        ApiContext *ctx = req->userdata;
        int r;

        r = host_allocation_begin(ctx->host, ha);
        if (r < 0)
                return api_replied(
                        req, api_reply_error(req, r, NULL, "Cannot read this host's subnet and port claims"),
                        r);
        if (port > 0 && host_allocation_port_taken(ha, port)) {
                host_allocation_end(ha);
                return api_replied(req, reply_port_claimed(req, port), -EADDRINUSE);
        }
        if (ret)
                *ret = host_allocation_model(ha, ctx->ingress_base_port ?: MODEL_INGRESS_BASE_PORT_DEFAULT);
        return 0;
}

/* After the model call (r its result): records what it allocated as ours when it succeeded, then lets the
 * claims go. */
static void claims_end(HostAllocation *ha, sqlite3 *db, int r, const char *project, const char *env) {
        if (r >= 0) {
                int k = host_allocation_commit(ha, db);
                if (k < 0)
                        log_warning_errno(k, "Cannot claim the subnets and ports of %s%s%s: %m", project,
                                          env ? "/" : "", strempty(env));
        }
        host_allocation_end(ha);
}

int api_project_create(HttpRequest *req) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_json_ json_t *body = NULL, *j = NULL;
        _cleanup_(model_project_done) ModelProject p = {};
        HostAllocation ha = HOST_ALLOCATION_INIT;
        ModelAllocation al;
        const char *name = NULL;
        char *envs[MODEL_ENVS_MAX];
        char *defaults[] = { "development", "production" };
        char **list = defaults;
        size_t n = ELEMENTSOF(defaults);
        json_t *ea;
        char msg[256];
        int r;

        r = api_read_create_body(req, &project_create_body, "project", NULL, &body, &name, NULL);
        if (r < 0)
                return req->status;

        ea = json_object_get(body, "envs");
        if (ea && !json_is_null(ea)) {
                size_t i;
                json_t *v;

                if (!json_is_array(ea) || json_array_size(ea) == 0)
                        return http_reply_error(req->conn, 400,
                                                "\"envs\" must be a non-empty list of names.",
                                                "For example --envs development,staging,production.");
                if (json_array_size(ea) > MODEL_ENVS_MAX)
                        return http_reply_error(req->conn, 400,
                                                "A project may have at most 16 environments.",
                                                "Name fewer environments.");
                json_array_foreach(ea, i, v) {
                        if (!json_is_string(v))
                                return http_reply_error(req->conn, 400, "\"envs\" must be a list of names.",
                                                        "For example [\"development\", \"production\"].");
                        envs[i] = (char *) json_string_value(v);
                        if ((r = api_check_name(req, "environment", envs[i])) < 0)
                                return req->status;
                        for (size_t k = 0; k < i; k++)
                                if (streq(envs[k], envs[i])) {
                                        snprintf(msg, sizeof msg, "Environment '%s' is named twice.",
                                                 envs[i]);
                                        return http_reply_error(
                                                req->conn, 400, msg,
                                                "Name each environment once, in promotion order.");
                                }
                }
                list = envs;
                n = json_array_size(ea);
        }

        if ((r = api_model_open(req, &db)) < 0)
                return req->status;
        if ((r = claims_begin(req, 0, &ha, &al)) < 0)
                return req->status;
        r = model_project_create(db, name, list, n, &al, &p);
        claims_end(&ha, db, r, name, NULL);
        if (r == -EEXIST) {
                snprintf(msg, sizeof msg, "A project named '%s' already exists.", name);
                return http_reply_error(req->conn, 409, msg,
                                        "Choose another name, or see 'slipway project list'.");
        }
        if (r < 0)
                return reply_allocation_error(req, r, "Cannot create the project");
        j = project_json(db, &p);
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot describe the project");
        return http_reply_json(req->conn, 201, j);
}

int api_project_show(HttpRequest *req) {
        _cleanup_(api_scope_done) ApiScope s = {};
        _cleanup_json_ json_t *j = NULL;
        int r;

        if ((r = api_scope_project(req, &s)) < 0)
                return req->status;
        j = project_json(s.db, &s.project);
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot describe the project");
        return http_reply_json(req->conn, 200, j);
}

int api_project_update(HttpRequest *req) {
        _cleanup_(api_scope_done) ApiScope s = {};
        _cleanup_(model_project_done) ModelProject p = {};
        _cleanup_json_ json_t *body = NULL, *j = NULL;
        ModelProjectSettings st = {};
        json_t *v;
        char msg[300], hint[300];
        int r;

        if (http_request_read_json(req, &project_update_body, &body) < 0)
                return req->status;
        v = json_object_get(body, "push_to");
        if (v && json_is_null(v))
                st.push_to = "";
        else if (v && (!json_string_value(v) || !json_string_value(v)[0])) {
                http_reply_error(req->conn, 400, "\"push_to\" must be a registry's name or null.",
                                 project_update_body.example);
                return 400;
        } else if (v)
                st.push_to = json_string_value(v);
        v = json_object_get(body, "scan_fail_on");
        if (v && !model_scan_fail_on_is_valid(json_string_value(v))) {
                http_reply_error(
                        req->conn, 400, "\"scan_fail_on\" must be \"critical\", \"high\" or \"none\".",
                        "critical fails a build on critical findings, high on high or critical ones, "
                        "none never.");
                return 400;
        }
        st.scan_fail_on = json_string_value(v);
        if (!st.push_to && !st.scan_fail_on) {
                http_reply_error(req->conn, 400, "Nothing to change.", project_update_body.example);
                return 400;
        }
        if (api_scope_project(req, &s) < 0)
                return req->status;
        r = model_project_update(s.db, s.project.id, &st);
        if (r == -ENXIO) {
                snprintf(msg, sizeof msg,
                         "There is no registry named '%.80s'; add it with slipway registry add.",
                         st.push_to);
                snprintf(hint, sizeof hint,
                         "slipway registry add %.80s https://HOST[:PORT] --username USER "
                         "--password-stdin",
                         st.push_to);
                return http_reply_error(req->conn, 404, msg, hint);
        }
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot change the project");
        r = model_project_get_by_id(s.db, s.project.id, &p);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot read the project back");
        j = project_json(s.db, &p);
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot describe the project");
        return http_reply_json(req->conn, 200, j);
}

int api_project_delete(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_(api_scope_done) ApiScope s = {};
        _cleanup_json_ json_t *j = NULL;
        bool force = api_query_flag(req, "force");
        unsigned running = 0;
        char msg[256];
        int r;

        if ((r = api_scope_project(req, &s)) < 0)
                return req->status;
        r = model_project_count_live_instances(s.db, s.project.id, &running);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot count the project's instances");
        if (running > 0 && !force) {
                snprintf(msg, sizeof msg, "Project '%s' has %u running instance%s.", s.project.name, running,
                         running == 1 ? "" : "s");
                return http_reply_error(req->conn, 409, msg,
                                        "Use 'slipway project delete NAME --force' to stop them and delete "
                                        "everything.");
        }
        if (ctx->teardown_project) {
                _cleanup_free_ char *err = NULL;
                r = ctx->teardown_project(ctx->teardown_userdata, s.project.id, s.project.name, &err);
                if (r < 0) {
                        log_warning("Tearing down project %s: %s", s.project.name, strempty(err));
                        snprintf(msg, sizeof msg, "Cannot tear down project '%s': %s", s.project.name,
                                 err ?: strerror(-r));
                        return http_reply_error(req->conn, 500, msg,
                                                "Nothing was deleted; fix the cause and delete it again.");
                }
        } else if (running > 0)
                return http_reply_error(req->conn, 501, "This slipwayd cannot stop running instances yet.",
                                        "Stop the instances first, then delete the project.");
        r = model_project_delete(s.db, s.project.id);
        if (r < 0 && api_delete_begin(req, r))
                r = model_project_delete(s.db, s.project.id);
        api_delete_end(req);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot delete the project");
        /* Its subnets and ingress ports are free for any state dir on this host again. */
        r = host_share_claims_sync(ctx->host, s.db, NULL);
        if (r < 0)
                log_warning_errno(r, "Cannot release the subnets and ports of project %s: %m",
                                  s.project.name);
        j = json_pack("{s:s,s:I}", "deleted", s.project.name, "instances_stopped", (json_int_t) running);
        return http_reply_json(req->conn, 200, j);
}

int api_environments_list(HttpRequest *req) {
        _cleanup_(api_scope_done) ApiScope s = {};
        _cleanup_json_ json_t *arr = NULL, *j = NULL;
        int r;

        if ((r = api_scope_project(req, &s)) < 0)
                return req->status;
        r = environments_json(s.db, &s.project, &arr);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot list environments");
        j = json_pack("{s:s,s:O}", "project", s.project.name, "environments", arr);
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot list environments");
        return http_reply_json(req->conn, 200, j);
}

/* Reads the settings a person may give an environment ("domain": string or null, "egress": bool,
 * "ingress_port": 1–65535) into st; the domain is lower-cased into dom.  Sends 400 and returns -400 when
 * a value is wrong. */
static int env_settings_from_json(HttpRequest *req, json_t *body, ModelEnvironmentSettings *st,
                                  char dom[static DOMAIN_MAX_LEN + 1]) {
        json_t *v;

        *st = MODEL_ENVIRONMENT_SETTINGS_INIT;
        v = json_object_get(body, "domain");
        if (v && json_is_null(v))
                st->domain = "";
        else if (v) {
                _cleanup_free_ char *error = NULL;
                const char *d = json_string_value(v);
                size_t n = d ? strlen(d) : 0;

                if (!d) {
                        http_reply_error(req->conn, 400, "\"domain\" must be a string or null.",
                                         "For example --domain dev.example.com.");
                        return api_replied(req, 400, -EINVAL);
                }
                if (n > 1 && d[n - 1] == '.') /* a fully qualified name's root dot */
                        n--;
                if (n > DOMAIN_MAX_LEN)
                        d = NULL; /* domain_validate() says it is too long */
                else {
                        for (size_t i = 0; i < n; i++)
                                dom[i] = (char) (d[i] >= 'A' && d[i] <= 'Z' ? d[i] - 'A' + 'a' : d[i]);
                        dom[n] = 0;
                }
                if (domain_validate(d ? dom : json_string_value(v), &error) < 0) {
                        http_reply_error(
                                req->conn, 400, error ?: "Invalid domain.",
                                "Give a DNS name such as dev.example.com; each component then answers "
                                "at COMPONENT.DOMAIN on the environment's ingress port.");
                        return api_replied(req, 400, -EINVAL);
                }
                st->domain = dom;
        }
        v = json_object_get(body, "egress");
        if (v) {
                if (!json_is_boolean(v)) {
                        http_reply_error(req->conn, 400, "\"egress\" must be true or false.",
                                         "Use --egress on or --egress off.");
                        return api_replied(req, 400, -EINVAL);
                }
                st->egress = json_is_true(v);
        }
        v = json_object_get(body, "ingress_port");
        if (v) {
                if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65535) {
                        http_reply_error(req->conn, 400,
                                         "\"ingress_port\" must be a port between 1 and 65535.",
                                         "For example --ingress-port 8090.");
                        return api_replied(req, 400, -EINVAL);
                }
                st->ingress_port = (unsigned) json_integer_value(v);
        }
        return 0;
}

/* "protected": a boolean, and only an admin's to change (whoever protects production decides who promotes
 * into it).  Sends 400 or 403 and returns -errno when it may not be set. */
static int env_protected_from_json(HttpRequest *req, json_t *body, ModelEnvironmentSettings *st) {
        json_t *v = json_object_get(body, "protected");

        if (!v)
                return 0;
        if (!json_is_boolean(v)) {
                http_reply_error(req->conn, 400, "\"protected\" must be true or false.",
                                 "Use --protected on or --protected off.");
                return api_replied(req, 400, -EINVAL);
        }
        if (req->role != HTTP_ROLE_ADMIN) {
                http_reply_error(req->conn, 403,
                                 "Only an admin may protect an environment or lift its protection.",
                                 "Ask an admin to run 'slipway env set PROJECT ENV --protected on|off'.");
                return api_replied(req, 403, -EPERM);
        }
        st->is_protected = json_is_true(v);
        return 0;
}

/* 409 for a settings conflict (another environment's port or domain, or a port another program holds);
 * 0 when there is none. */
static int reply_settings_conflict(HttpRequest *req, int r, const ModelEnvironment *other,
                                   const ModelEnvironmentSettings *st) {
        char msg[400];

        if (r == -EADDRINUSE) {
                snprintf(msg, sizeof msg, "Port %u is already the ingress port of environment %s/%s.",
                         st->ingress_port, other->project_name, other->name);
                return http_reply_error(req->conn, 409, msg,
                                        "Each environment needs its own ingress port; choose another "
                                        "--ingress-port.");
        }
        if (r == -ENOTUNIQ) {
                snprintf(msg, sizeof msg, "The domain %s is already used by environment %s/%s.", st->domain,
                         other->project_name, other->name);
                return http_reply_error(
                        req->conn, 409, msg,
                        "Each environment needs its own domain; choose another, or remove it "
                        "there first with 'slipway env set PROJECT ENV --no-domain'.");
        }
        return 0;
}

static int check_port_free_on_host(HttpRequest *req, unsigned port) {
        char msg[200];

        if (port == 0 || !net_tcp_port_busy(port))
                return 0;
        snprintf(msg, sizeof msg, "Port %u is already in use on this host by another program.", port);
        http_reply_error(req->conn, 409, msg, "Choose a free port for --ingress-port (see 'ss -ltn').");
        return api_replied(req, 409, -EEXIST);
}

int api_environment_create(HttpRequest *req) {
        _cleanup_(api_scope_done) ApiScope s = {};
        _cleanup_(model_environment_done) ModelEnvironment e = {}, a = {};
        _cleanup_json_ json_t *body = NULL, *j = NULL;
        _cleanup_(model_environment_done) ModelEnvironment conflict = {};
        ModelEnvironmentSettings st;
        HostAllocation ha = HOST_ALLOCATION_INIT;
        ModelAllocation al;
        const char *name = NULL, *after = NULL;
        char msg[256], dom[DOMAIN_MAX_LEN + 1];
        int r;

        r = api_read_create_body(req, &environment_create_body, "environment", "after", &body, &name,
                                 &after);
        if (r < 0)
                return req->status;
        if ((r = env_settings_from_json(req, body, &st, dom)) < 0)
                return req->status;
        if ((r = api_scope_project(req, &s)) < 0)
                return req->status;
        if (after && (r = api_environment_lookup(req, s.db, &s.project, after, &a)) < 0)
                return req->status;
        r = model_environment_settings_conflict(s.db, 0, &st, &conflict);
        if (r == -EADDRINUSE || r == -ENOTUNIQ)
                return reply_settings_conflict(req, r, &conflict, &st);
        if ((r = check_port_free_on_host(req, st.ingress_port)) < 0)
                return req->status;
        if ((r = claims_begin(req, st.ingress_port, &ha, &al)) < 0)
                return req->status;
        r = model_environment_create(s.db, s.project.id, name, after, &al, &st, &e, &conflict);
        claims_end(&ha, s.db, r, s.project.name, name);
        if (r == -EADDRINUSE || r == -ENOTUNIQ)
                return reply_settings_conflict(req, r, &conflict, &st);
        if (r == -EEXIST) {
                snprintf(msg, sizeof msg, "Project '%s' already has an environment named '%s'.",
                         s.project.name, name);
                return http_reply_error(req->conn, 409, msg, "See 'slipway env list PROJECT'.");
        }
        if (r < 0)
                return reply_allocation_error(req, r, "Cannot create the environment");
        j = api_environment_json(&e);
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot describe the environment");
        json_object_set_new(j, "project", json_string(s.project.name));
        return http_reply_json(req->conn, 201, j);
}

int api_environment_update(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_(api_scope_done) ApiScope s = {};
        _cleanup_(model_environment_done) ModelEnvironment old = {}, e = {}, conflict = {};
        _cleanup_json_ json_t *body = NULL, *j = NULL;
        _cleanup_free_ char *error = NULL;
        ModelEnvironmentSettings st;
        char dom[DOMAIN_MAX_LEN + 1], msg[600];
        int r;

        if ((r = http_request_read_json(req, &environment_update_body, &body)) < 0)
                return req->status;
        if ((r = env_settings_from_json(req, body, &st, dom)) < 0)
                return req->status;
        if ((r = env_protected_from_json(req, body, &st)) < 0)
                return req->status;
        if ((r = api_scope_project(req, &s)) < 0)
                return req->status;
        if ((r = api_environment_lookup(req, s.db, &s.project, req->segments[3], &old)) < 0)
                return req->status;
        if (st.ingress_port == old.ingress_port)
                st.ingress_port = 0;
        r = model_environment_settings_conflict(s.db, old.id, &st, &conflict);
        if (r == -EADDRINUSE || r == -ENOTUNIQ)
                return reply_settings_conflict(req, r, &conflict, &st);
        if ((r = check_port_free_on_host(req, st.ingress_port)) < 0)
                return req->status;
        if (st.ingress_port > 0) {
                /* Checked and claimed under the claims' lock, so another daemon cannot take it meanwhile. */
                HostAllocation ha = HOST_ALLOCATION_INIT;

                if ((r = claims_begin(req, st.ingress_port, &ha, NULL)) < 0)
                        return req->status;
                r = model_environment_update(s.db, old.id, &st, &conflict);
                claims_end(&ha, s.db, r, s.project.name, old.name);
        } else
                r = model_environment_update(s.db, old.id, &st, &conflict);
        if (r == -EADDRINUSE || r == -ENOTUNIQ)
                return reply_settings_conflict(req, r, &conflict, &st);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot change the environment");
        if (ctx->refresh_environment) {
                r = ctx->refresh_environment(ctx->teardown_userdata, old.id, &error);
                if (r < 0) {
                        /* Back to what worked, so nothing is left half-applied. */
                        ModelEnvironmentSettings back = {
                                .domain = old.domain ?: "",
                                .egress = old.egress,
                                .ingress_port = old.ingress_port,
                                .is_protected = old.is_protected,
                        };
                        (void) model_environment_update(s.db, old.id, &back, NULL);
                        (void) ctx->refresh_environment(ctx->teardown_userdata, old.id, NULL);
                        snprintf(
                                msg, sizeof msg,
                                "Cannot apply the new settings of %s/%s: %.400s; it keeps its previous ones.",
                                s.project.name, old.name, error ?: strerror(-r));
                        return http_reply_error(
                                req->conn, 409, msg,
                                "Fix the cause (e.g. choose a free ingress port) and try again.");
                }
        }
        if ((r = model_environment_get_by_id(s.db, old.id, &e)) < 0)
                return api_reply_error(req, r, NULL, "Cannot read the environment back");
        j = api_environment_json(&e);
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot describe the environment");
        json_object_set_new(j, "project", json_string(s.project.name));
        return http_reply_json(req->conn, 200, j);
}
