/* What the deployer's files share (deployer.c: lifecycle, reconcile, recovery; deployer-run.c: one
 * release's deploy; deployer-readiness.c: readiness probes; deployer-teardown.c: project teardown).
 * Not for other modules; the unit test includes it to drive the parts that need no container. */
#pragma once

#include <netinet/in.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "deploy-target.h"
#include "deployer.h"
#include "instance.h"
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

/* Runs one release's deploy on its worker thread: 1 when live, < 0 with *reason. */
int deployer_run_release(Worker *w, sqlite3 *db, char **reason);
