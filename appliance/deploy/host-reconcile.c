/* Host reconciliation: read the proxy's table first, then the database, compare, repair what differs.
 * Invariant: a pass never acts on a (component, environment) with a deploy in flight (its routes move
 * under the deployer), and never overlaps a teardown (host_reconcile_exclude_begin()). */
#include "host-reconcile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "deploy-target.h"
#include "env-network.h"
#include "json-util.h"
#include "log.h"
#include "model.h"
#include "net-inspect.h"
#include "netns.h"
#include "proxy-sync.h"
#include "report-text.h"
#include "sqlite-util.h"
#include "strv.h"
#include "veth.h"

#define HOST_RECONCILE_REPAIRS_MAX 64U
#define HOST_RECONCILE_SERVICES_MAX 254U

static pthread_mutex_t exclude_lock = PTHREAD_MUTEX_INITIALIZER;

void host_reconcile_exclude_begin(void) {
        pthread_mutex_lock(&exclude_lock);
}

void host_reconcile_exclude_end(void) {
        pthread_mutex_unlock(&exclude_lock);
}

void host_reconcile_report_done(HostReconcileReport *r) {
        for (size_t i = 0; i < r->n_repaired; i++)
                free(r->repaired[i]);
        free(r->repaired);
        free(r->degraded);
        *r = (HostReconcileReport) {};
}

static void repaired(HostReconcileReport *r, const char *fmt, ...) _printf_(2, 3);
static void repaired(HostReconcileReport *r, const char *fmt, ...) {
        char *m, **n;
        va_list ap;

        if (r->n_repaired >= HOST_RECONCILE_REPAIRS_MAX)
                return; /* the first ones say what happened; a flood adds nothing */
        va_start(ap, fmt);
        m = report_vformat(fmt, ap);
        va_end(ap);
        n = m ? realloc(r->repaired, (r->n_repaired + 1) * sizeof *n) : NULL;
        if (!n) {
                free(m);
                return;
        }
        r->repaired = n;
        r->repaired[r->n_repaired++] = m;
}

/* Appends one reason to r->degraded ("; " between reasons). */
static void degraded(HostReconcileReport *r, const char *fmt, ...) _printf_(2, 3);
static void degraded(HostReconcileReport *r, const char *fmt, ...) {
        _cleanup_free_ char *m = NULL;
        va_list ap;

        va_start(ap, fmt);
        m = report_vformat(fmt, ap);
        va_end(ap);
        if (m)
                report_join(&r->degraded, m);
}

typedef struct Snapshot {
        ModelRelease *live, *deploying;
        size_t n_live, n_deploying;
        ModelEnvironment *envs;
        size_t n_envs;
        ModelInstance *instances;
        size_t n_instances;
} Snapshot;

static void snapshot_done(Snapshot *s) {
        model_releases_free(s->live, s->n_live);
        model_releases_free(s->deploying, s->n_deploying);
        model_environments_free(s->envs, s->n_envs);
        model_instances_free(s->instances, s->n_instances);
        *s = (Snapshot) {};
}

static int snapshot_load(sqlite3 *db, Snapshot *ret) {
        Snapshot s = {};
        int r;

        r = model_release_list_by_status(db, MODEL_RELEASE_LIVE, &s.live, &s.n_live);
        if (r >= 0)
                r = model_release_list_by_status(db, MODEL_RELEASE_DEPLOYING, &s.deploying, &s.n_deploying);
        if (r >= 0)
                r = model_environment_list_all(db, &s.envs, &s.n_envs);
        if (r >= 0)
                r = model_instance_list_active(db, &s.instances, &s.n_instances);
        if (r < 0) {
                snapshot_done(&s);
                return r;
        }
        *ret = s;
        return 0;
}

static const ModelEnvironment *env_of(const Snapshot *s, int64_t id) {
        for (size_t i = 0; i < s->n_envs; i++)
                if (s->envs[i].id == id)
                        return &s->envs[i];
        return NULL;
}


/* A live release in its bake window: a rollback moves its routes before the database says so. */
static bool baking(const ModelRelease *rel) {
        _cleanup_json_ json_t *j = rel->bake ? json_loads(rel->bake, 0, NULL) : NULL;

        return streq_ptr(json_string_value(json_object_get(j, "state")), MODEL_BAKE_BAKING);
}

static bool deploy_in_flight(const Snapshot *s, const ModelRelease *rel) {
        for (size_t i = 0; i < s->n_deploying; i++)
                if (s->deploying[i].component_id == rel->component_id &&
                    s->deploying[i].environment_id == rel->environment_id)
                        return true;
        for (size_t i = 0; i < s->n_live; i++)
                if (s->live[i].component_id == rel->component_id &&
                    s->live[i].environment_id == rel->environment_id && baking(&s->live[i]))
                        return true;
        return false;
}

static const ModelInstance *ready_instance_of(const Snapshot *s, int64_t release_id) {
        /* The newest ready one: the list is oldest first. */
        for (size_t i = s->n_instances; i > 0; i--)
                if (s->instances[i - 1].release_id == release_id &&
                    streq_ptr(s->instances[i - 1].state, MODEL_INSTANCE_READY))
                        return &s->instances[i - 1];
        return NULL;
}

/* An environment needs its network while a live release in it has a ready instance.  A teardown marks
 * the instances stopped first, so from then on a pass leaves that environment's bridge alone. */
static bool env_serving(const Snapshot *s, int64_t env_id) {
        for (size_t i = 0; i < s->n_live; i++)
                if (s->live[i].environment_id == env_id && ready_instance_of(s, s->live[i].id))
                        return true;
        return false;
}

static const ModelRelease *live_release(const Snapshot *s, int64_t release_id) {
        for (size_t i = 0; i < s->n_live; i++)
                if (s->live[i].id == release_id)
                        return &s->live[i];
        return NULL;
}

static int service_addresses(sqlite3 *db, int64_t env_id, struct in_addr *ret, size_t *ret_n) {
        ModelServiceAddress *a = NULL;
        size_t n = 0, k = 0;
        int r;

        r = model_service_address_list(db, env_id, &a, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && k < HOST_RECONCILE_SERVICES_MAX; i++)
                if (a[i].address && net_address_parse(a[i].address, &ret[k]) >= 0)
                        k++;
        model_service_addresses_free(a, n);
        *ret_n = k;
        return 0;
}

/* What is wrong with one bridge, for a person; NULL when nothing. */
static const char *bridge_problem(const NetBridgeStatus *st) {
        if (!st->exists)
                return "was missing";
        if (!st->is_bridge)
                return "is not a bridge";
        if (!st->up)
                return "was down";
        if (!st->host_address)
                return "had lost its host address";
        if (st->n_missing_addresses > 0)
                return "had lost service addresses";
        return NULL;
}

/* Appends a sentence to the string vector found. */
static int found_add(char ***found, const char *fmt, ...) _printf_(2, 3);
static int found_add(char ***found, const char *fmt, ...) {
        va_list ap;
        char *m;

        va_start(ap, fmt);
        m = report_vformat(fmt, ap);
        va_end(ap);
        return m ? strv_push(found, m) : -ENOMEM;
}

/* Inspects every environment's bridge and the nft table; *ret_found: a sentence per problem (a string
 * vector, NULL when there is none).  < 0: could not look. */
static int networks_inspect(const HostReconcileConfig *c, sqlite3 *db, const Snapshot *s,
                            char ***ret_found) {
        _cleanup_free_ const char **names = NULL;
        _cleanup_strv_free_ char **found = NULL;
        size_t n_names = 0;
        NetRulesetStatus ns;
        int r;

        names = calloc(s->n_envs ?: 1, sizeof *names);
        if (!names)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_envs; i++) {
                const ModelEnvironment *e = &s->envs[i];
                struct in_addr addrs[HOST_RECONCILE_SERVICES_MAX];
                NetBridgeStatus st;
                NetSubnet subnet;
                size_t n_addrs = 0;
                const char *why;

                if (!env_serving(s, e->id) || isempty(e->bridge) || !e->subnet ||
                    net_subnet_parse(e->subnet, &subnet) < 0)
                        continue;
                names[n_names++] = e->bridge;
                r = service_addresses(db, e->id, addrs, &n_addrs);
                if (r < 0)
                        return r;
                r = net_bridge_inspect(e->bridge, &subnet, addrs, n_addrs, &st);
                if (r < 0)
                        return r;
                why = bridge_problem(&st);
                if (!why)
                        continue;
                r = found_add(&found, "bridge %s of %s/%s %s", e->bridge, e->project_name, e->name, why);
                if (r < 0)
                        return r;
        }
        r = net_ruleset_inspect(env_network_nft_table(c->host), names, n_names, &ns);
        if (r < 0)
                return r;
        if (!ns.exists || ns.n_rules == 0 || ns.n_missing > 0) {
                r = found_add(&found, "the nft table %s %s", env_network_nft_table(c->host),
                              !ns.exists        ? "was missing"
                              : ns.n_rules == 0 ? "had no rules"
                                                : "lacked bridges in its set");
                if (r < 0)
                        return r;
        }
        *ret_found = TAKE_PTR(found);
        return 0;
}

static void networks_reconcile(const HostReconcileConfig *c, sqlite3 *db, const Snapshot *s,
                               HostReconcileReport *rep) {
        _cleanup_free_ char *err = NULL;
        _cleanup_strv_free_ char **found = NULL, **after = NULL;
        int r;

        r = networks_inspect(c, db, s, &found);
        if (r < 0) {
                degraded(rep, "cannot inspect the environment networks (%s)", strerror(-r));
                return;
        }
        if (!found)
                return;
        /* The existing convergence: it rebuilds every environment's bridge, addresses and the table. */
        r = env_network_apply(c->host, db, 0, &err);
        if (r >= 0)
                r = networks_inspect(c, db, s, &after);
        for (char **f = found; *f; f++)
                if (r < 0 || after)
                        degraded(rep, "%s and cannot be repaired (%s)", *f,
                                 err     ? err
                                 : after ? "still wrong after re-applying"
                                         : strerror(-r));
                else
                        repaired(rep, "%s; re-applied the environment networks.", *f);
}

/* Each ready instance's veth must be a port of its bridge: a bridge re-created above has no ports. */
static void veths_reconcile(const HostReconcileConfig *c, const Snapshot *s, HostReconcileReport *rep) {
        for (size_t i = 0; i < s->n_instances; i++) {
                const ModelInstance *in = &s->instances[i];
                const ModelRelease *rel = live_release(s, in->release_id);
                const ModelEnvironment *e;
                _cleanup_free_ char *netns = NULL, *ifname = NULL;
                struct in_addr a;
                NetSubnet subnet;
                int r, port;

                if (!rel || !streq_ptr(in->state, MODEL_INSTANCE_READY) || deploy_in_flight(s, rel))
                        continue;
                e = env_of(s, rel->environment_id);
                if (!e || isempty(e->bridge) || !e->subnet || net_subnet_parse(e->subnet, &subnet) < 0 ||
                    !in->address || net_address_parse(in->address, &a) < 0)
                        continue;
                if (deploy_instance_names(c->state_dir, in->id, in->netns, &netns, &ifname, NULL) < 0)
                        continue;
                port = net_veth_port_inspect(ifname, e->bridge);
                if (port > 0 || net_bridge_exists(e->bridge) <= 0)
                        continue; /* fine, or its bridge could not be repaired (already reported) */
                if (netns_exists(netns) <= 0) {
                        /* The supervisor restarts an instance that ended; a netns removed under a running
                         * one is beyond repair in place. */
                        degraded(rep, "the network namespace %s of instance %lld is gone", netns,
                                 (long long) in->id);
                        continue;
                }
                r = net_veth_setup(&(NetVethConfig) {
                        .netns = netns,
                        .host_ifname = ifname,
                        .bridge = e->bridge,
                        .address = a,
                        .prefixlen = subnet.prefixlen,
                        .gateway = net_subnet_host_address(&subnet),
                });
                if (r < 0)
                        degraded(rep, "the link %s of instance %lld cannot be put back on %s (%s)", ifname,
                                 (long long) in->id, e->bridge, strerror(-r));
                else
                        repaired(rep, "the link %s of instance %lld was %s; put it back on bridge %s.",
                                 ifname, (long long) in->id,
                                 port == -ENODEV ? "missing" : "not a port of its bridge", e->bridge);
        }
}

static void routes_reconcile(const HostReconcileConfig *c, sqlite3 *db, const Snapshot *s, json_t *routes,
                             HostReconcileReport *rep) {
        for (size_t i = 0; i < s->n_live; i++) {
                const ModelRelease *rel = &s->live[i];
                const ModelInstance *in;
                _cleanup_(deploy_target_done) DeployTarget t = {};
                _cleanup_free_ char *err = NULL, *first = NULL;
                struct in_addr a;
                int n, r;

                if (deploy_in_flight(s, rel))
                        continue; /* the deployer moves these routes right now */
                in = ready_instance_of(s, rel->id);
                if (!in || !in->address || net_address_parse(in->address, &a) < 0)
                        continue; /* restarting: the supervisor's business */
                if (deploy_target_load(db, rel->id, &t, &err) < 0 ||
                    deploy_target_load_image(&t, c->store, &err) < 0) {
                        degraded(rep, "cannot read what release %lld should serve (%s)", (long long) rel->id,
                                 strempty(err));
                        continue;
                }
                n = proxy_sync_routes_check(routes, &t, a, &first);
                if (n <= 0)
                        continue;
                r = proxy_sync_routes_apply(c->state_dir, &t, a, false, &err);
                if (r < 0)
                        degraded(rep,
                                 "%d route(s) of %s/%s in %s are missing from slipway-proxy and cannot be "
                                 "re-applied (%s)",
                                 n, t.project, t.component, t.environment, strempty(err));
                else
                        repaired(rep,
                                 "%d route(s) of %s/%s in %s (first: %s) were missing from slipway-proxy; "
                                 "re-applied them.",
                                 n, t.project, t.component, t.environment, strempty(first));
        }
}

int host_reconcile_run(const HostReconcileConfig *c, HostReconcileReport *ret) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_json_ json_t *routes = NULL;
        HostReconcileReport rep = {};
        Snapshot s = {};
        int r;

        host_reconcile_exclude_begin();
        r = sqlite_open(c->db_path, &db);
        if (r < 0)
                goto finish;

        /* The proxy first: one that died is started again (it restores its saved table); its table is read
         * before the database so that a swap finishing in between shows as a release already live. */
        if (proxy_sync_running(c->state_dir) <= 0) {
                r = proxy_sync_ensure_running(c->state_dir, c->proxy_bin);
                if (r < 0)
                        degraded(&rep, "slipway-proxy is not running and cannot be started (%s)",
                                 strerror(-r));
                else if (r > 0)
                        repaired(&rep, "slipway-proxy did not answer; started %s again.", c->proxy_bin);
        }
        if (!rep.degraded) {
                r = proxy_sync_route_list(c->state_dir, &routes);
                if (r < 0)
                        degraded(&rep, "cannot read slipway-proxy's routes (%s)", strerror(-r));
        }

        r = snapshot_load(db, &s);
        if (r < 0)
                goto finish;
        networks_reconcile(c, db, &s, &rep);
        veths_reconcile(c, &s, &rep);
        if (routes)
                routes_reconcile(c, db, &s, routes, &rep);
        r = 0;
finish:
        host_reconcile_exclude_end();
        snapshot_done(&s);
        if (r < 0) {
                host_reconcile_report_done(&rep);
                return r;
        }
        *ret = rep;
        return 0;
}
