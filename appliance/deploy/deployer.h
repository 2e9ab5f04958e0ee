/* The deployer: advances each pending release (pending → deploying → live | failed) in a worker thread of
 * its own, persisting every step (release status, deploy_log lines, instance rows), so a killed slipwayd
 * restarted on the same database fails interrupted deploys cleanly and keeps live releases serving.
 * Threads: deployer_reconcile() runs on the engine loop and never blocks; workers do the blocking steps
 * (layers, netlink, nspawn, probes, proxy swaps with wait_drained) and wake the engine when done. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "host-share.h"
#include "vault.h"

#include "image-catalog.h"
#include "macro.h"

/* Instance and service addresses: MODEL_INSTANCE_ADDRESS_* and MODEL_SERVICE_ADDRESS_* (appliance/state). */
/* Defaults when the component's spec says nothing. */
#define DEPLOY_TIMEOUT_DEFAULT_SEC 60U
#define DEPLOY_TIMEOUT_MAX_SEC 3600U
#define DEPLOY_PROBE_INTERVAL_DEFAULT_MS 500U
#define DEPLOY_PROBE_TIMEOUT_DEFAULT_MS 2000U
/* While the instance still refuses connections, readiness retries after FIRST ms, doubling up to INTERVAL. */
#define DEPLOY_PROBE_STARTUP_FIRST_MS 10U
#define DEPLOY_PROBE_STARTUP_INTERVAL_MS 200U
#define DEPLOY_NO_PROBE_GRACE_MS 2000U
#define DEPLOY_STOP_GRACE_MS 10000U
#define DEPLOY_LOG_TAIL_LINES 5U
/* The bake window of components whose spec leaves it to slipwayd (slipwayd --bake-default). */
#define DEPLOY_BAKE_DEFAULT_MS 30000U

typedef struct Deployer Deployer;

typedef struct DeployerConfig {
        const char *state_dir;
        const char *db_path;
        ImageCatalog *catalog;
        OciStore *store;
        const HostShare *host;    /* this state dir's id, names and claims; outlives the deployer */
        uint32_t bake_default_ms; /* bake window of specs with SPEC_BAKE_DAEMON_DEFAULT; 0: none */
        Vault *vault; /* opens the values releases pinned, for their instances; outlives the deployer.  NULL:
                       * instances run without values */
        void (*wake)(void *userdata); /* thread-safe: asks the engine to call deployer_reconcile() */
        void *wake_userdata;
} DeployerConfig;

int deployer_new(const DeployerConfig *cfg, Deployer **ret);
/* Waits for running workers (each finishes its current deploy) and the supervisor. */
Deployer *deployer_free(Deployer *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(Deployer *, deployer_free);

/* At daemon start, before serving deploys: releases left "deploying" by a killed daemon fail (their new
 * instances stopped), networks and routes are re-applied from the database, and the supervisor thread
 * starts (it adopts live instances, restarts crashed ones with backoff, runs liveness probes). */
int deployer_recover(Deployer *d);

/* At daemon start, before slipway-proxy is started: the environment bridges and isolation rules from the
 * database.  After a reboot the proxy restores its saved routes, whose service addresses live on those
 * bridges; without them its listens fail and it exits.  Idempotent (deployer_recover applies again). */
int deployer_restore_networks(Deployer *d);

/* Engine loop: joins finished workers and starts one for the oldest pending release of each component
 * and environment that has none running.  Never blocks. */
void deployer_reconcile(void *userdata);

/* ApiContext.teardown_project: stops every instance of the project (marked stopped first so the
 * supervisor leaves them), removes its routes and bridges.  Blocking; called on a handler thread.  Every
 * step is tried; what could not be removed makes it fail, with ret_error (may be NULL) saying what. */
int deployer_teardown_project(void *userdata, int64_t project_id, const char *project, char **ret_error);

/* ApiContext.refresh_environment: after an environment's settings changed (domain, egress, ingress port),
 * re-applies the isolation rules and the routes of its live releases.  Any thread; blocks until done.
 * ret_error gets the first failure's message (e.g. the proxy cannot listen on the new port). */
int deployer_refresh_environment(void *userdata, int64_t environment_id, char **ret_error);

/* The deploy log is the state layer's: model_deploy_log_append() (deploy-log-db.h). */
