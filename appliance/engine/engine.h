/* The engine: slipwayd's main thread, one sd-event loop.  HTTP handler threads never touch its
 * state; they write intent rows and call engine_wake(), which is safe from any thread. */
#pragma once

#include <systemd/sd-event.h>

#include "macro.h"

typedef struct Engine Engine;

/* Blocks SIGTERM/SIGINT in the calling thread (call before starting any other thread, so they
 * inherit the mask) and sets up the loop with its signal and wake-up sources. */
int engine_new(Engine **ret);
Engine *engine_free(Engine *e);
DEFINE_TRIVIAL_CLEANUP_FUNC(Engine *, engine_free);

/* Runs until SIGTERM/SIGINT; returns 0 on a clean stop. */
int engine_run(Engine *e);

/* The reconcile pass run on every wake-up (the deployer's); must not block.  NULL: none. */
void engine_set_reconcile(Engine *e, void (*fn)(void *userdata), void *userdata);
/* The loop, for callers adding their own sources. */
sd_event *engine_event(Engine *e);

/* Thread-safe: asks the loop to reconcile soon (an eventfd write). */
void engine_wake(void *userdata);
