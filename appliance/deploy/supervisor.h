/* Instance supervision: a thread that holds a handle on every ready instance of a live release (adopting
 * those a previous slipwayd started), restarts crashed ones with exponential backoff and runs liveness
 * probes.  Invariant: it acts only on instances the database says are 'ready' of a 'live' release, and
 * decides under the supervisor lock, which the deployer takes while it changes those states. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "instance.h"
#include "oci-store.h"
#include "vault.h"

#define SUPERVISOR_TICK_MS 1000U
#define SUPERVISOR_BACKOFF_MIN_MS 1000U
#define SUPERVISOR_BACKOFF_MAX_MS 60000U
#define SUPERVISOR_INSTANCES_MAX 4096U

typedef struct Supervisor Supervisor;

typedef struct SupervisorConfig {
        const char *state_dir;
        const char *db_path;
        const char *layers_dir;
        const char *shim_dir;
        OciStore *store;
        Vault *vault; /* a restart rebuilds the instance's tmpfs with its release's values (NULL: none) */
} SupervisorConfig;

int supervisor_start(const SupervisorConfig *c, Supervisor **ret);
/* Stops the thread; the instances keep running (a restarted slipwayd adopts them). */
Supervisor *supervisor_free(Supervisor *s);

/* NULL-safe. */
void supervisor_lock(Supervisor *s);
void supervisor_unlock(Supervisor *s);
/* Caller holds the lock: hands over the handle of an instance that just became ready (NULL s: freed). */
void supervisor_adopt_handle(Supervisor *s, int64_t instance_id, Instance *i);
/* Caller holds the lock: while held, the supervisor leaves a ready instance alone (no adoption, probe or
 * restart): the deployer watches it through its bake window and decides itself what a crash means. */
void supervisor_hold(Supervisor *s, int64_t instance_id, bool hold);
/* Takes the lock: removes and returns the handle of an instance (NULL when none), e.g. to stop it. */
Instance *supervisor_release(Supervisor *s, int64_t instance_id);
