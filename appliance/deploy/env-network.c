/* Environment networks from the database: bridges, service addresses and the nft table for all
 * environments, rebuilt whole each time.  Invariant: one apply at a time (a process-wide mutex), so two
 * deploys never interleave their nft transactions or address syncs. */
#include "env-network.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "bridge.h"
#include "log.h"
#include "macro.h"
#include "nft-ruleset.h"
#include "model.h"
#include "subnet-pool.h"

#define ENV_NETWORK_ENVS_MAX 4096U
#define ENV_NETWORK_STACK_SIZE (8U * 1024U * 1024U)

static pthread_mutex_t apply_lock = PTHREAD_MUTEX_INITIALIZER;

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

                e[n] = (EnvNet){.id = envs[k].id, .egress = envs[k].egress, .bridge = TAKE_PTR(envs[k].bridge)};
                n++;
                if (!envs[k].subnet || net_subnet_parse(envs[k].subnet, &e[n - 1].subnet) < 0) {
                        r = -EBADMSG;
                        goto fail;
                }
                r = model_service_address_list(db, envs[k].id, &sa, &n_sa);
                if (r < 0)
                        goto fail;
                e[n - 1].addrs = calloc(MAX(n_sa, (size_t)1), sizeof(struct in_addr));
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

static int apply(sqlite3 *db, int64_t exclude_project_id, char **ret_error) {
        EnvNet *e = NULL;
        NetRulesetBridge *b = NULL;
        size_t n = 0;
        int r;

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
        for (size_t i = 0; i < n; i++) {
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
                b[i] = (NetRulesetBridge){
                        .name = e[i].bridge,
                        .subnet = e[i].subnet,
                        .service_addresses = e[i].addrs,
                        .n_service_addresses = e[i].n_addrs,
                        .egress = e[i].egress,
                };
        }
        {
                NetRuleset rs = {.bridges = b, .n_bridges = n};
                _cleanup_free_ char *err = NULL;

                r = net_ruleset_apply(&rs, &err);
                if (r < 0)
                        set_error(ret_error, r, "Cannot apply the isolation rules (%s): %s.", strempty(err));
        }
finish:
        pthread_mutex_unlock(&apply_lock);
        free(b);
        env_nets_free(e, n);
        return r < 0 ? r : 0;
}

typedef struct ApplyArgs {
        sqlite3 *db;
        int64_t exclude_project_id;
        char **ret_error;
        int r;
} ApplyArgs;

static void *apply_thread(void *userdata) {
        ApplyArgs *a = userdata;
        a->r = apply(a->db, a->exclude_project_id, a->ret_error);
        return NULL;
}

int env_network_apply(sqlite3 *db, int64_t exclude_project_id, char **ret_error) {
        ApplyArgs a = {.db = db, .exclude_project_id = exclude_project_id, .ret_error = ret_error};
        pthread_attr_t attr;
        pthread_t t;
        int k;

        /* libnftables' parser recurses deeply: on a civetweb handler thread's small stack it overflows.  Run
         * it on a thread of our own with a known, large stack. */
        if (pthread_attr_init(&attr) != 0)
                return -ENOMEM;
        (void)pthread_attr_setstacksize(&attr, ENV_NETWORK_STACK_SIZE);
        k = pthread_create(&t, &attr, apply_thread, &a);
        pthread_attr_destroy(&attr);
        if (k != 0)
                return -k;
        pthread_join(t, NULL);
        return a.r;
}
