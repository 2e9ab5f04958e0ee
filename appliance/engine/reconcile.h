/* Periodic reconciliation of the host against the database, driven by an sd-event timer on the engine
 * loop: each tick starts one host_reconcile_run() on a thread of its own (never two at once), so the
 * loop never blocks.  The latest outcome ("ok" or a degraded reason) is readable from any thread. */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

#include "host-share.h"
#include "macro.h"
#include "oci-store.h"

#define RECONCILE_INTERVAL_DEFAULT_SEC 10U
#define RECONCILE_INTERVAL_MAX_SEC 3600U

typedef struct Reconciler Reconciler;

typedef struct ReconcilerConfig {
        const char *state_dir;
        const char *db_path;
        const char *proxy_bin;
        OciStore *store;
        const HostShare *host;
        unsigned interval_sec; /* 1..RECONCILE_INTERVAL_MAX_SEC */
} ReconcilerConfig;

/* Arms the timer on event; the first pass runs one interval from now (the daemon's start applied
 * everything already).  The strings and store must outlive the reconciler. */
int reconciler_start(sd_event *event, const ReconcilerConfig *c, Reconciler **ret);
/* Disarms the timer and waits for a running pass. */
Reconciler *reconciler_free(Reconciler *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(Reconciler *, reconciler_free);

/* ApiContext.health: 0 when the last pass left everything in place (or none ran yet), 1 when degraded
 * with *ret_reason set (caller frees); ret_checked_usec (may be NULL) gets the realtime of the last pass,
 * 0 when none. */
int reconciler_health(void *userdata, char **ret_reason, uint64_t *ret_checked_usec);
