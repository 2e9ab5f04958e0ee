/* Environment networks from the database: bridges, service addresses and this state dir's nft table for
 * all its environments, rebuilt whole each time; only what host-share.h says is ours is touched.  Invariant: one apply at a time (a process-wide mutex), so two
 * deploys never interleave their nft transactions or address syncs. */
#include "env-network.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "bridge.h"
#include "host-claims.h"
#include "log.h"
#include "macro.h"
#include "model.h"
#include "netlink.h"
#include "nft-ruleset.h"
#include "string-util.h"
#include "subnet-claims.h"
#include "subnet-pool.h"

#define ENV_NETWORK_ENVS_MAX 4096U
#define ENV_NETWORK_STACK_SIZE (8U * 1024U * 1024U)

static pthread_mutex_t apply_lock = PTHREAD_MUTEX_INITIALIZER;

const char *env_network_nft_table(const HostShare *hs) {
        return hs->table;
}

typedef struct EnvNet {
        int64_t id;
        char *bridge;
        NetSubnet subnet;
        bool egress;
        struct in_addr *addrs;
        size_t n_addrs;
} EnvNet;

static void env_nets_free(EnvNet *e, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(e[i].bridge);
                free(e[i].addrs);
        }
        free(e);
}

static int load(sqlite3 *db, int64_t exclude_project_id, EnvNet **ret, size_t *ret_n) {
        ModelEnvironment *envs = NULL;
        size_t n_envs = 0;
        EnvNet *e = NULL;
        size_t n = 0;
        int r;

        /* Only environments something runs in (or is being deployed to) get a bridge: a project that was
         * merely created costs no interface. */
        r = model_environment_list_in_use(db, exclude_project_id, &envs, &n_envs);
        if (r < 0)
                return r;
        if (n_envs > ENV_NETWORK_ENVS_MAX) {
                r = -E2BIG;
                goto fail;
        }
        e = calloc(n_envs ?: 1, sizeof *e);
        if (!e) {
                r = -ENOMEM;
                goto fail;
        }
        for (size_t k = 0; k < n_envs; k++) {
                ModelServiceAddress *sa = NULL;
                size_t n_sa = 0;

                e[n] = (EnvNet) { .id = envs[k].id,
                                  .egress = envs[k].egress,
                                  .bridge = TAKE_PTR(envs[k].bridge) };
                n++;
                if (!envs[k].subnet || net_subnet_parse(envs[k].subnet, &e[n - 1].subnet) < 0) {
                        r = -EBADMSG;
                        goto fail;
                }
                r = model_service_address_list(db, envs[k].id, &sa, &n_sa);
                if (r < 0)
                        goto fail;
                e[n - 1].addrs = calloc(MAX(n_sa, (size_t) 1), sizeof(struct in_addr));
                if (!e[n - 1].addrs) {
                        model_service_addresses_free(sa, n_sa);
                        r = -ENOMEM;
                        goto fail;
                }
                for (size_t i = 0; i < n_sa; i++) {
                        EnvNet *en = &e[n - 1];
                        if (sa[i].address && net_address_parse(sa[i].address, &en->addrs[en->n_addrs]) >= 0)
                                en->n_addrs++;
                }
                model_service_addresses_free(sa, n_sa);
        }
        model_environments_free(envs, n_envs);
        *ret = e;
        *ret_n = n;
        return 0;
fail:
        model_environments_free(envs, n_envs);
        env_nets_free(e, n);
        return r;
}

static int set_error(char **ret_error, int r, const char *fmt, const char *arg) {
        if (ret_error) {
                char *m = NULL;
                if (asprintf(&m, fmt, arg, strerror(-r)) >= 0)
                        *ret_error = m;
        }
        return r;
}

/* A bridge this state dir may create and change: one with its own prefix, or a legacy "sw-" one its
 * database recorded before state ids (kept: renaming a live bridge would drop its ports' traffic). */
static bool bridge_is_ours(const HostShare *hs, const char *name) {
        return startswith(name, hs->bridge_prefix) || startswith(name, NET_BRIDGE_PREFIX_LEGACY);
}

/* The table every state dir shared before state ids is this daemon's when it lists exactly the legacy
 * bridges and subnets this database runs, and nothing else: then our own table covers all it did and it
 * goes.  Anything else in it belongs to another state dir, and it stays. */
static void legacy_table_retire(const HostShare *hs, const EnvNet *e, size_t n) {
        _cleanup_(net_name_list_freep) char **bridges = NULL, **subnets = NULL;
        char cidr[NET_CIDR_STRING_MAX];
        size_t n_legacy = 0, nb = 0, ns = 0;
        bool match = true;
        int r;

        r = net_ruleset_read_sets(HOST_SHARE_LEGACY_TABLE, &bridges, &subnets);
        if (r < 0)
                return; /* none (the usual case), or unreadable: leave it */
        for (; bridges[nb]; nb++) {
                bool found = false;
                for (size_t i = 0; i < n && !found; i++)
                        found = streq(bridges[nb], e[i].bridge);
                match = match && found;
        }
        for (; subnets[ns]; ns++) {
                bool found = false;
                for (size_t i = 0; i < n && !found; i++)
                        found = startswith(e[i].bridge, NET_BRIDGE_PREFIX_LEGACY) &&
                                streq(subnets[ns], net_subnet_format(&e[i].subnet, cidr));
                match = match && found;
        }
        for (size_t i = 0; i < n; i++)
                if (startswith(e[i].bridge, NET_BRIDGE_PREFIX_LEGACY))
                        n_legacy++;
        if (match && nb > 0 && nb == n_legacy && ns == n_legacy) {
                r = net_ruleset_remove(HOST_SHARE_LEGACY_TABLE, NULL);
                if (r < 0)
                        log_warning_errno(r, "Cannot remove the old shared table inet %s: %m",
                                          HOST_SHARE_LEGACY_TABLE);
                else
                        log_info(
                                "Removed the old table inet %s: it isolated exactly this state dir's bridges, "
                                "which table inet %s isolates now.",
                                HOST_SHARE_LEGACY_TABLE, hs->table);
        } else if (n_legacy > 0)
                log_warning(
                        "The old shared table inet %s also lists bridges or subnets of another state dir; "
                        "it is left alone (it goes with the last daemon using it, or a reboot).",
                        HOST_SHARE_LEGACY_TABLE);
}

static int apply(const HostShare *hs, sqlite3 *db, int64_t exclude_project_id, char **ret_error) {
        EnvNet *e = NULL;
        NetRulesetBridge *b = NULL;
        size_t n = 0, nb = 0;
        int r, first_error = 0;

        pthread_mutex_lock(&apply_lock);
        r = load(db, exclude_project_id, &e, &n);
        if (r < 0) {
                set_error(ret_error, r, "Cannot read the environments%s: %s.", "");
                goto finish;
        }
        b = calloc(n ?: 1, sizeof *b);
        if (!b) {
                r = -ENOMEM;
                goto finish;
        }
        /* The pool's unreachable route first: a missing bridge must never send a container address out
         * through the default route.  Shared with other state dirs (subnet-claims.h). */
        if (n > 0) {
                r = net_pool_route_hold(&hs->pool, hs->id, hs->state_dir);
                if (r < 0)
                        log_warning_errno(r, "Cannot add the unreachable route of the address pool: %m");
        }
        for (size_t i = 0; i < n; i++) {
                char cidr[NET_CIDR_STRING_MAX];

                /* Never touch what another state dir owns: a subnet it claims, a bridge not named ours. */
                char claim[NET_SUBNET_CLAIM_NAME_MAX];

                /* Taken here too (idempotent), so a claim lost with /run heals on the next apply. */
                r = bridge_is_ours(hs, e[i].bridge)
                            ? host_claim_take_in(NET_SUBNET_CLAIMS_DIR,
                                                 net_subnet_claim_name(&e[i].subnet, claim), hs->state_dir)
                            : 0;
                if (r <= 0) {
                        r = r < 0 ? r : -EADDRINUSE;
                        if (first_error == 0)
                                first_error =
                                        set_error(ret_error, r,
                                                  "The subnet %s is claimed by another state dir on this "
                                                  "host: %s.",
                                                  net_subnet_format(&e[i].subnet, cidr));
                        continue;
                }
                r = net_bridge_create(e[i].bridge, &e[i].subnet);
                if (r < 0) {
                        set_error(ret_error, r, "Cannot create the bridge %s: %s.", e[i].bridge);
                        goto finish;
                }
                r = net_service_addresses_sync(e[i].bridge, e[i].addrs, e[i].n_addrs);
                if (r < 0) {
                        set_error(ret_error, r, "Cannot put the service addresses on %s: %s.", e[i].bridge);
                        goto finish;
                }
                b[nb++] = (NetRulesetBridge) {
                        .name = e[i].bridge,
                        .subnet = e[i].subnet,
                        .service_addresses = e[i].addrs,
                        .n_service_addresses = e[i].n_addrs,
                        .egress = e[i].egress,
                };
        }
        {
                NetRuleset rs = { .table = hs->table, .bridges = b, .n_bridges = nb };
                _cleanup_free_ char *err = NULL;

                r = net_ruleset_apply(&rs, &err);
                if (r < 0) {
                        set_error(ret_error, r, "Cannot apply the isolation rules (%s): %s.", strempty(err));
                        goto finish;
                }
        }
        legacy_table_retire(hs, e, n);
        if (n == 0) {
                r = net_pool_route_release(&hs->pool, hs->id, hs->state_dir);
                if (r < 0)
                        log_warning_errno(r, "Cannot drop this state dir's share of the pool route: %m");
        }
        r = first_error;
finish:
        pthread_mutex_unlock(&apply_lock);
        free(b);
        env_nets_free(e, n);
        return r < 0 ? r : 0;
}

typedef struct ApplyArgs {
        const HostShare *hs;
        sqlite3 *db;
        int64_t exclude_project_id;
        char **ret_error;
        int r;
} ApplyArgs;

static void *apply_thread(void *userdata) {
        ApplyArgs *a = userdata;
        a->r = apply(a->hs, a->db, a->exclude_project_id, a->ret_error);
        return NULL;
}

int env_network_apply(const HostShare *hs, sqlite3 *db, int64_t exclude_project_id, char **ret_error) {
        ApplyArgs a = {
                .hs = hs, .db = db, .exclude_project_id = exclude_project_id, .ret_error = ret_error
        };
        pthread_attr_t attr;
        pthread_t t;
        int k;

        /* libnftables' parser recurses deeply: on a civetweb handler thread's small stack it overflows.  Run
         * it on a thread of our own with a known, large stack. */
        if (pthread_attr_init(&attr) != 0)
                return -ENOMEM;
        (void) pthread_attr_setstacksize(&attr, ENV_NETWORK_STACK_SIZE);
        k = pthread_create(&t, &attr, apply_thread, &a);
        pthread_attr_destroy(&attr);
        if (k != 0)
                return -k;
        pthread_join(t, NULL);
        return a.r;
}
