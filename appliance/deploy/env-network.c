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
#include "sqlite-util.h"
#include "subnet-pool.h"

#define ENV_NETWORK_ENVS_MAX 4096U
#define ENV_NETWORK_SERVICES_MAX 254U
#define ENV_NETWORK_STACK_SIZE (8U * 1024U * 1024U)

static pthread_mutex_t apply_lock = PTHREAD_MUTEX_INITIALIZER;

const char *env_network_nft_table(void) {
        return NET_NFT_TABLE_DEFAULT;
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
        _cleanup_(sqlite3_finalizep) sqlite3_stmt *st = NULL, *sa = NULL;
        EnvNet *e = NULL;
        size_t n = 0;
        int r, rc;

        /* Only environments something runs in (or is being deployed to) get a bridge: a project that was
         * merely created costs no interface. */
        r = sqlite_prepare(
                db,
                "SELECT e.id, e.bridge, e.subnet, e.egress FROM environments e WHERE e.project_id != ? "
                "AND (EXISTS (SELECT 1 FROM releases r WHERE r.environment_id = e.id "
                "             AND r.status IN ('deploying', 'live')) "
                "  OR EXISTS (SELECT 1 FROM instances i JOIN releases r ON r.id = i.release_id "
                "             WHERE r.environment_id = e.id "
                "             AND i.state IN ('starting', 'ready', 'draining'))) "
                "ORDER BY e.id",
                &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, exclude_project_id);
        r = sqlite_prepare(db, "SELECT address FROM service_addresses WHERE environment_id = ?", &sa);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                EnvNet *ne;
                const char *subnet = (const char *)sqlite3_column_text(st, 2);

                if (n >= ENV_NETWORK_ENVS_MAX) {
                        r = -E2BIG;
                        goto fail;
                }
                ne = realloc(e, (n + 1) * sizeof *e);
                if (!ne) {
                        r = -ENOMEM;
                        goto fail;
                }
                e = ne;
                e[n] = (EnvNet){.id = sqlite3_column_int64(st, 0), .egress = sqlite3_column_int(st, 3) != 0};
                e[n].bridge = strdup((const char *)sqlite3_column_text(st, 1) ?: "");
                n++;
                if (!e[n - 1].bridge) {
                        r = -ENOMEM;
                        goto fail;
                }
                if (!subnet || net_subnet_parse(subnet, &e[n - 1].subnet) < 0) {
                        r = -EBADMSG;
                        goto fail;
                }
                e[n - 1].addrs = calloc(ENV_NETWORK_SERVICES_MAX, sizeof(struct in_addr));
                if (!e[n - 1].addrs) {
                        r = -ENOMEM;
                        goto fail;
                }
                sqlite3_reset(sa);
                sqlite3_bind_int64(sa, 1, e[n - 1].id);
                while ((rc = sqlite3_step(sa)) == SQLITE_ROW &&
                       e[n - 1].n_addrs < ENV_NETWORK_SERVICES_MAX) {
                        const char *a = (const char *)sqlite3_column_text(sa, 0);
                        if (a && net_address_parse(a, &e[n - 1].addrs[e[n - 1].n_addrs]) >= 0)
                                e[n - 1].n_addrs++;
                }
        }
        if (rc != SQLITE_DONE) {
                r = sqlite_to_errno(rc);
                goto fail;
        }
        *ret = e;
        *ret_n = n;
        return 0;
fail:
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
                NetRuleset rs = {.table = env_network_nft_table(), .bridges = b, .n_bridges = n};
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
