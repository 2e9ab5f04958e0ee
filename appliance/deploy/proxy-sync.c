/* slipway-proxy from slipwayd: detached start and route pushes over DIR/proxy.sock.
 * Invariant: we never start a second proxy for a state dir whose proxy answers. */
#include "proxy-sync.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "deploy-target.h"
#include "fs-util.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "process.h"
#include "proxy-client.h"
#include <arpa/inet.h>

int proxy_sync_running(const char *state_dir) {
        _cleanup_json_ json_t *req = json_pack("{s:s}", "cmd", "route-list"), *reply = NULL;
        int r;

        if (!req)
                return -ENOMEM;
        r = proxy_control_call(state_dir, req, &reply);
        if (r < 0)
                return 0;
        return json_is_true(json_object_get(reply, "ok")) ? 1 : 0;
}

int proxy_sync_find_binary(const char *explicit_bin, const char *self_exe, char **ret) {
        char *p;

        if (!isempty(explicit_bin)) {
                p = strdup(explicit_bin);
                if (!p)
                        return -ENOMEM;
                *ret = p;
                return 0;
        }
        if (!isempty(self_exe)) {
                _cleanup_free_ char *copy = strdup(self_exe), *cand = NULL;
                char *slash;

                if (!copy)
                        return -ENOMEM;
                slash = strrchr(copy, '/');
                if (slash) {
                        *slash = 0;
                        if (asprintf(&cand, "%s/../../runtime/proxy/slipway-proxy", copy) < 0)
                                return -ENOMEM;
                        if (access(cand, X_OK) == 0) {
                                char *real = realpath(cand, NULL);
                                *ret = real ?: TAKE_PTR(cand);
                                return 0;
                        }
                        free(cand);
                        if (asprintf(&cand, "%s/slipway-proxy", copy) < 0)
                                return -ENOMEM;
                        if (access(cand, X_OK) == 0) {
                                *ret = TAKE_PTR(cand);
                                return 0;
                        }
                }
        }
        p = strdup("slipway-proxy"); /* spawn_process searches PATH */
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

int proxy_sync_ensure_running(const char *state_dir, const char *proxy_bin) {
        _cleanup_free_ char *log_path = path_join(state_dir, "proxy.log");
        _cleanup_close_ int log_fd = -EBADF;
        struct timespec ts = { .tv_nsec = 50 * 1000 * 1000 };
        pid_t pid;
        int r;

        if (!log_path)
                return -ENOMEM;
        r = proxy_sync_running(state_dir);
        if (r != 0)
                return r < 0 ? r : 0;

        log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        char *argv[] = { (char *) proxy_bin, (char *) "serve", (char *) "--state-dir", (char *) state_dir,
                         NULL };
        SpawnOptions opts = SPAWN_OPTIONS_INIT;
        opts.stdout_fd = log_fd;
        opts.stderr_fd = log_fd;
        opts.new_session = true;
        opts.keep_on_parent_death = true;
        opts.wait_for_exec = true;
        pid = spawn_process(argv, &opts);
        if (pid < 0)
                return (int) pid;

        for (unsigned waited = 0; waited < PROXY_START_TIMEOUT_MS; waited += 50) {
                int status;

                if (proxy_sync_running(state_dir) > 0)
                        return 1;
                /* Not our child to keep: a proxy that died at once is reaped here, else it is adopted by
                 * init when we exit. */
                if (waitpid(pid, &status, WNOHANG) == pid)
                        return -ECHILD;
                nanosleep(&ts, NULL);
        }
        return -ETIMEDOUT;
}

static int call(const char *state_dir, json_t *req, char **ret_error) {
        _cleanup_json_ json_t *reply = NULL;
        int r;

        r = proxy_control_call(state_dir, req, &reply);
        if (r < 0) {
                if (ret_error)
                        *ret_error =
                                strdup(r == -ENOENT || r == -ECONNREFUSED ? "slipway-proxy is not running"
                                                                          : "slipway-proxy did not answer");
                return r;
        }
        if (!json_is_true(json_object_get(reply, "ok"))) {
                if (ret_error) {
                        const char *m = json_string_value(json_object_get(reply, "error"));
                        *ret_error = strdup(m ?: "slipway-proxy refused the request");
                }
                return -EINVAL;
        }
        return 0;
}

int proxy_sync_route_set(const char *state_dir, const ProxyRouteSpec *spec, bool wait_drained,
                         char **ret_error) {
        _cleanup_json_ json_t *route = NULL, *req = NULL;

        route = json_pack("{s:s,s:s,s:b,s:[s],s:i}", "name", spec->name, "listen", spec->listen, "strip",
                          spec->strip, "targets", spec->target, "drain_timeout", PROXY_DRAIN_TIMEOUT_SEC);
        if (!route)
                return -ENOMEM;
        if (spec->path && json_object_set_new(route, "path", json_string(spec->path)) < 0)
                return -ENOMEM;
        if (spec->host && json_object_set_new(route, "host", json_string(spec->host)) < 0)
                return -ENOMEM;
        req = json_pack("{s:s,s:O,s:b}", "cmd", "route-set", "route", route, "wait_drained", wait_drained);
        if (!req)
                return -ENOMEM;
        return call(state_dir, req, ret_error);
}

int proxy_sync_route_remove(const char *state_dir, const char *name, bool wait_drained) {
        _cleanup_json_ json_t *req =
                json_pack("{s:s,s:s,s:b}", "cmd", "route-rm", "name", name, "wait_drained", wait_drained);
        _cleanup_free_ char *err = NULL;
        int r;

        if (!req)
                return -ENOMEM;
        r = call(state_dir, req, &err);
        if (r == -EINVAL && err && strstr(err, "no route"))
                return 0;
        return r;
}

/* Route names carry the environment id first: teardown finds a project's routes by it. */
static void route_names(const DeployTarget *t, size_t k, char ret_svc[static 64], char ret_ing[static 64],
                        char ret_host[static 64]) {
        long long e = (long long) t->environment_id, c = (long long) t->component_id;

        snprintf(ret_svc, 64, "svc-%lld-%lld-%u", e, c, t->ports[k]);
        /* The first public endpoint keeps the short names (routes made before further endpoints were
         * routed have them). */
        if ((int) k == t->public_index) {
                snprintf(ret_ing, 64, "ing-%lld-%lld", e, c);
                snprintf(ret_host, 64, "host-%lld-%lld", e, c);
        } else {
                snprintf(ret_ing, 64, "ing-%lld-%lld-%u", e, c, t->ports[k]);
                snprintf(ret_host, 64, "host-%lld-%lld-%u", e, c, t->ports[k]);
        }
}

/* Calls fn for every route the component should have with its instance at address (remove: a host route
 * that must not exist, as when the environment has no domain).  Stops at fn's first failure. */
typedef int (*RouteFn)(const ProxyRouteSpec *spec, bool remove, void *userdata);

static int routes_foreach(const DeployTarget *t, struct in_addr address, RouteFn fn, void *userdata) {
        char inst[INET_ADDRSTRLEN], svc[INET_ADDRSTRLEN];
        int r;

        inet_ntop(AF_INET, &address, inst, sizeof inst);
        inet_ntop(AF_INET, &t->service, svc, sizeof svc);
        for (size_t k = 0; k < t->n_ports; k++) {
                char svc_name[64], ing_name[64], host_name[64], listen[64], target[64], path[512], host[320];
                bool first = (int) k == t->public_index;

                route_names(t, k, svc_name, ing_name, host_name);
                snprintf(listen, sizeof listen, "%s:%u", svc, t->ports[k]);
                snprintf(target, sizeof target, "%s:%u", inst, t->ports[k]);
                r = fn(&(ProxyRouteSpec) { .name = svc_name, .listen = listen, .target = target }, false,
                       userdata);
                if (r < 0)
                        return r;
                if (!t->is_public[k] || t->ingress_port == 0)
                        continue;
                /* Path-based: /<project>/<component> for the first public endpoint, further ones under
                 * /<project>/<component>/_/<endpoint> (as component_ingress_path() names them). */
                snprintf(listen, sizeof listen, "0.0.0.0:%u", t->ingress_port);
                if (first)
                        snprintf(path, sizeof path, "/%s/%s", t->project, t->component);
                else
                        snprintf(path, sizeof path, "/%s/%s/_/%s", t->project, t->component,
                                 t->endpoint_names[k]);
                r = fn(&(ProxyRouteSpec) { .name = ing_name,
                                           .listen = listen,
                                           .path = path,
                                           .strip = true,
                                           .target = target },
                       false, userdata);
                if (r < 0)
                        return r;
                if (!t->domain) {
                        r = fn(&(ProxyRouteSpec) { .name = host_name }, true, userdata);
                        if (r < 0)
                                return r;
                        continue;
                }
                /* Host-based: the whole path of COMPONENT.DOMAIN, further endpoints under /_/<endpoint>. */
                snprintf(host, sizeof host, "%s.%s", t->component, t->domain);
                if (!first)
                        snprintf(path, sizeof path, "/_/%s", t->endpoint_names[k]);
                r = fn(&(ProxyRouteSpec) { .name = host_name,
                                           .listen = listen,
                                           .host = host,
                                           .path = first ? NULL : path,
                                           .strip = !first,
                                           .target = target },
                       false, userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}

typedef struct ApplyArgs {
        const char *state_dir;
        bool wait;
        char **ret_error;
} ApplyArgs;

static int apply_one(const ProxyRouteSpec *spec, bool remove, void *userdata) {
        ApplyArgs *a = userdata;

        if (remove)
                return proxy_sync_route_remove(a->state_dir, spec->name, a->wait);
        return proxy_sync_route_set(a->state_dir, spec, a->wait, a->ret_error);
}

/* Points the component's service routes and its ingress routes at address; with wait, returns once
 * requests to the replaced targets have drained. */
int proxy_sync_routes_apply(const char *state_dir, const DeployTarget *t, struct in_addr address, bool wait,
                            char **ret_error) {
        return routes_foreach(t, address, apply_one,
                              &(ApplyArgs) { .state_dir = state_dir, .wait = wait, .ret_error = ret_error });
}

typedef struct NameArgs {
        const char *name;
        bool found;
} NameArgs;

static int name_one(const ProxyRouteSpec *spec, bool remove, void *userdata) {
        NameArgs *a = userdata;

        if (!remove && streq(spec->name, a->name))
                a->found = true;
        return 0;
}

/* Whether name is one of the route names route_names() gives component c in environment e, for any port. */
static bool route_name_is_component(const char *name, long long e, long long c) {
        static const char *const kinds[] = { "svc", "ing", "host" };
        char prefix[96];

        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                int n = snprintf(prefix, sizeof prefix, "%s-%lld-%lld", kinds[i], e, c);
                if (n < 0 || strncmp(name, prefix, (size_t) n) != 0)
                        continue;
                const char *rest = name + n;
                if (*rest == 0 && !streq(kinds[i], "svc"))
                        return true;
                if (*rest == '-' && rest[1] && strspn(rest + 1, "0123456789") == strlen(rest + 1))
                        return true;
        }
        return false;
}

int proxy_sync_routes_prune(const char *state_dir, const DeployTarget *t, struct in_addr address,
                            unsigned *ret_removed) {
        _cleanup_json_ json_t *routes = NULL;
        unsigned removed = 0;
        json_t *rt;
        size_t i;
        int r;

        r = proxy_sync_route_list(state_dir, &routes);
        if (r < 0)
                return r;
        json_array_foreach(routes, i, rt) {
                const char *name = json_string_value(json_object_get(rt, "name"));
                NameArgs a = { .name = name };

                if (!name || !route_name_is_component(name, (long long) t->environment_id,
                                                      (long long) t->component_id))
                        continue;
                (void) routes_foreach(t, address, name_one, &a);
                if (a.found)
                        continue;
                r = proxy_sync_route_remove(state_dir, name, false);
                if (r < 0)
                        return r;
                removed++;
        }
        if (ret_removed)
                *ret_removed = removed;
        return 0;
}

int proxy_sync_route_list(const char *state_dir, json_t **ret_routes) {
        _cleanup_json_ json_t *req = json_pack("{s:s}", "cmd", "route-list"), *reply = NULL;
        json_t *routes;
        int r;

        if (!req)
                return -ENOMEM;
        r = proxy_control_call(state_dir, req, &reply);
        if (r < 0)
                return r;
        routes = json_object_get(reply, "routes");
        if (!json_is_true(json_object_get(reply, "ok")) || !json_is_array(routes))
                return -EBADMSG;
        *ret_routes = json_incref(routes);
        return 0;
}

static bool str_eq_opt(json_t *v, const char *want) {
        if (!want)
                return !v || json_is_null(v) || (json_is_string(v) && isempty(json_string_value(v)));
        return json_is_string(v) && streq(json_string_value(v), want);
}

/* Whether the route in the proxy's list matches spec (name, listen, host, path, strip, its one target). */
static bool route_matches(json_t *rt, const ProxyRouteSpec *spec) {
        json_t *targets = json_object_get(rt, "targets"), *t0;

        if (!str_eq_opt(json_object_get(rt, "listen"), spec->listen) ||
            !str_eq_opt(json_object_get(rt, "host"), spec->host) ||
            !str_eq_opt(json_object_get(rt, "path"), spec->path ?: "/") || /* the proxy lists no path as / */
            json_is_true(json_object_get(rt, "strip")) != spec->strip)
                return false;
        if (!json_is_array(targets) || json_array_size(targets) != 1)
                return false;
        t0 = json_array_get(targets, 0);
        return str_eq_opt(json_is_object(t0) ? json_object_get(t0, "address") : t0, spec->target);
}

typedef struct CheckArgs {
        json_t *routes;
        unsigned n_missing;
        char *first; /* name of the first missing or different route */
} CheckArgs;

static int check_one(const ProxyRouteSpec *spec, bool remove, void *userdata) {
        CheckArgs *a = userdata;
        json_t *rt;
        size_t i;

        if (remove)
                return 0; /* a stray host route serves nothing it should not: left to the next deploy */
        json_array_foreach(a->routes, i, rt)
                if (str_eq_opt(json_object_get(rt, "name"), spec->name)) {
                        if (route_matches(rt, spec))
                                return 0;
                        break;
                }
        a->n_missing++;
        if (!a->first && !(a->first = strdup(spec->name)))
                return -ENOMEM;
        return 0;
}

int proxy_sync_routes_check(json_t *routes, const DeployTarget *t, struct in_addr address,
                            char **ret_first_missing) {
        CheckArgs a = { .routes = routes };
        int r;

        r = routes_foreach(t, address, check_one, &a);
        if (r < 0) {
                free(a.first);
                return r;
        }
        if (ret_first_missing)
                *ret_first_missing = a.first;
        else
                free(a.first);
        return (int) a.n_missing;
}

typedef struct CountArgs {
        json_t *routes; /* the "routes" of a stats reply */
        ProxyTargetCounts counts;
} CountArgs;

static int count_one(const ProxyRouteSpec *spec, bool remove, void *userdata) {
        CountArgs *a = userdata;
        json_t *rt, *tg;
        size_t i, k;

        if (remove)
                return 0;
        json_array_foreach(a->routes, i, rt) {
                if (!str_eq_opt(json_object_get(rt, "name"), spec->name))
                        continue;
                json_array_foreach(json_object_get(rt, "targets"), k, tg) {
                        json_int_t req, fails;

                        if (!str_eq_opt(json_object_get(tg, "address"), spec->target))
                                continue;
                        req = json_integer_value(json_object_get(tg, "requests"));
                        fails = json_integer_value(json_object_get(json_object_get(tg, "status"), "5xx"));
                        a->counts.requests += (uint64_t) MAX(req, 0);
                        a->counts.status_5xx += (uint64_t) MAX(fails, 0);
                }
                break;
        }
        return 0;
}

int proxy_sync_target_counts(const char *state_dir, const DeployTarget *t, struct in_addr address,
                             ProxyTargetCounts *ret) {
        _cleanup_json_ json_t *req = json_pack("{s:s}", "cmd", "stats"), *reply = NULL;
        CountArgs a = {};
        int r;

        if (!req)
                return -ENOMEM;
        r = proxy_control_call(state_dir, req, &reply);
        if (r < 0)
                return r;
        a.routes = json_object_get(reply, "routes");
        if (!json_is_true(json_object_get(reply, "ok")) || !json_is_array(a.routes))
                return -EBADMSG;
        r = routes_foreach(t, address, count_one, &a);
        if (r < 0)
                return r;
        *ret = a.counts;
        return 0;
}
