/* What the deployer's files share (deployer.c: lifecycle, reconcile, recovery; deployer-run.c: one
 * release's deploy; deployer-bake.c: the bake window after its swap; deployer-readiness.c: readiness
 * probes; deployer-teardown.c: project teardown).
 * Not for other modules; the unit test includes it to drive the parts that need no container. */
#pragma once

#include <netinet/in.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "deploy-target.h"
#include "deployer.h"
#include "instance-db.h"
#include "instance.h"
#include "proxy-sync.h"
#include "supervisor.h"

/* What a release that was deploying when slipwayd stopped gets at the next start: its reason, and the line
 * its deploy log ends with. */
#define DEPLOYER_RESTART_REASON "slipwayd stopped during the deploy; deploy again."
#define DEPLOYER_RESTART_LOG_LINE "slipwayd restarted while this release was deploying; marked failed"

typedef struct Worker {
        Deployer *d;
        int64_t release_id, component_id, environment_id;
        pthread_t thread;
        int done; /* atomic */
        struct Worker *next;
} Worker;

struct Deployer {
        char *state_dir, *db_path, *layers_dir, *shim_dir, *instances_dir;
        ImageCatalog *catalog;
        OciStore *store;
        const HostShare *host;
        uint32_t bake_default_ms;
        Vault *vault;
        void (*wake)(void *userdata);
        void *wake_userdata;
        sqlite3 *db; /* engine thread only */
        Worker *workers;
        Supervisor *supervisor;
        int stopping; /* atomic */
};

/* Replaces *reason (the arguments may refer to the old one). */
void deployer_set_reason(char **reason, const char *fmt, ...) _printf_(2, 3);
bool deployer_stopping(Deployer *d);
uint64_t deployer_mono_msec(void);

/* How the stop of a retired instance went, for the deploy log. */
typedef struct DeployRetired {
        bool was_running; /* there was a process to stop */
        bool killed; /* it was killed: not graceful, or it outlived its stop signal by DEPLOY_STOP_GRACE_MS */
        uint64_t stop_ms; /* from its stop signal (or the kill) to its exit */
} DeployRetired;

/* Stops an instance by its directory (adopting it), then removes its rootfs mount, veth and netns (named
 * from netns_recorded, its row's netns, as deploy_instance_names() says).
 * graceful: its stop signal and DEPLOY_STOP_GRACE_MS first (it served traffic); else killed at once (a
 * new instance that never got a request).  Returns the first failure of the removal (the stop itself
 * always ends with a kill); *ret_how (may be NULL) says how the stop went, whatever the removal gave. */
int deployer_instance_retire(Deployer *d, int64_t instance_id, const char *dir, const char *netns_recorded,
                             Instance *handle, bool graceful, DeployRetired *ret_how);

/* Picks the lowest free instance address of the target's environment and records a "starting" instance
 * with it, its netns name and directory, as one step other deploys cannot interleave with. */
int deployer_instance_row_create(Deployer *d, sqlite3 *db, const DeployTarget *t,
                                 struct in_addr *ret_address, int64_t *ret_id);

/* The last DEPLOY_LOG_TAIL_LINES lines of an instance's stderr (else stdout) in dir, joined with "|" and
 * control characters blanked, for a failure reason; NULL when neither has any. */
char *deployer_log_tail(const char *dir);
/* Readiness: probes from the host until success_threshold successes in a row, the instance exits, or
 * the deploy timeout.  Every attempt goes to the deploy log.  0 ready, < 0 with *reason. */
int deployer_wait_ready(Deployer *d, sqlite3 *db, const DeployTarget *t, Instance *inst, const char *dir,
                        struct in_addr address, char **reason);

/* Runs one release's deploy on its worker thread: 1 when live, 0 when its bake window rolled it back (status
 * and reason recorded), < 0 with *reason. */
int deployer_run_release(Worker *w, sqlite3 *db, char **reason);

/* Stops the previous release's instances after a swap (each already marked draining): gracefully, each
 * with a line in release_id's deploy log saying how long it took, then marked stopped.  handles (may be
 * NULL) holds per instance our handle on it or NULL; they are consumed. */
void deployer_retire_previous(Deployer *d, sqlite3 *db, int64_t release_id, const ModelInstance *old,
                              size_t n_old, Instance **handles);

/* The bake window (deployer-bake.c).  The new instance is polled this often: a failure swaps the traffic
 * back within about one poll of the proxy counting the request that crossed the threshold. */
#define DEPLOY_BAKE_POLL_MS 100U
/* The numbers so far reach releases.bake at most this often. */
#define DEPLOY_BAKE_RECORD_MS 1000U

/* releases.bake: {"state", "bake_ms", "max_5xx_percent", "requests", "5xx", "started_at", "ended_at",
 * "reason"} (times in seconds since the epoch, null when not yet; state one of MODEL_BAKE_*). */
typedef struct DeployBakeRecord {
        const char *state;
        uint32_t bake_ms;
        unsigned max_5xx_percent;
        uint64_t requests, status_5xx; /* since the swap, to the new instance */
        int64_t started_at, ended_at;
        char *reason;
} DeployBakeRecord;

/* The record as JSON text (malloc'ed), NULL when out of memory. */
char *deployer_bake_record(const DeployBakeRecord *b);
/* The target's bake window in ms: its spec's, or slipwayd's default; 0 for none. */
uint32_t deployer_bake_ms(const Deployer *d, const DeployTarget *t);

/* Runs the window of a release just made live (its record already says baking since started_at) with
 * the previous release's instances on standby: passes after bake_ms (the standby ones are stopped, the
 * new instance handed to the supervisor, which holds it until then), or on a failure swaps the routes back
 * to a standby instance and records the rollback.  base: the proxy's counters for the new instance before
 * the swap.  Consumes inst.  1 when the release stays live, 0 when it was rolled back (its status and
 * reason set), < 0 when the rollback could not be recorded. */
int deployer_bake(Deployer *d, sqlite3 *db, const DeployTarget *t, int64_t instance_id,
                  struct in_addr address, Instance *inst, const ModelInstance *standby, size_t n_standby,
                  uint32_t bake_ms, const ProxyTargetCounts *base, int64_t started_at);
/* At daemon start: windows a stopped slipwayd left open end "interrupted" (the new release stays live) and
 * their standby instances are stopped. */
int deployer_bake_recover(Deployer *d);
