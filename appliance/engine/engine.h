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

/* Thread-safe: asks the loop to reconcile soon (an eventfd write). */
void engine_wake(void *userdata);
