/* One reconciliation pass of the host against the database: slipway-proxy answers and holds every route
 * of every live release, each environment that runs something has its bridge (up, .1, service addresses),
 * the nft table is there with its rules, and each ready instance's veth is a port of its bridge.  What is
 * missing is re-applied through env_network_apply(), proxy_sync_routes_apply() and net_veth_setup(). */
#pragma once

#include <stddef.h>

#include "host-share.h"
#include "oci-store.h"

typedef struct HostReconcileConfig {
        const char *state_dir;
        const char *db_path;
        const char *proxy_bin; /* restarted when the proxy does not answer */
        OciStore *store;
        const HostShare *host; /* this state dir's table, bridges and claims */
} HostReconcileConfig;

typedef struct HostReconcileReport {
        char **repaired; /* one sentence per thing found missing and re-applied */
        size_t n_repaired;
        char *degraded; /* NULL: everything the database wants is in place now; else why not */
} HostReconcileReport;

void host_reconcile_report_done(HostReconcileReport *r);

/* Compares, and re-applies only what differs.  Blocking (netlink, nft, the proxy socket; up to
 * PROXY_START_TIMEOUT_MS when the proxy must be started): run it off the engine loop.  Opens its own
 * database connection.  Returns < 0 only when the pass itself could not run (no database, no memory). */
int host_reconcile_run(const HostReconcileConfig *c, HostReconcileReport *ret);

/* Held by whoever removes what a pass would repair (a project's teardown), so a pass that read the
 * database before the teardown never re-creates what the teardown removes. */
void host_reconcile_exclude_begin(void);
void host_reconcile_exclude_end(void);
