/* Running one command to completion in a prepared bundle: systemd-nspawn's combined output handed to a
 * callback as it arrives, stopped on cancel (an eventfd) or at a deadline.
 * Invariant: when container_run() returns, systemd-nspawn and the payload are gone (waited for). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "nspawn.h"

#define CONTAINER_RUN_STOP_GRACE_MS 200U

typedef void (*container_output_fn)(const char *data, size_t size, void *userdata);

/* Starts nspawn for run (its stdout/stderr fields are ignored: output goes to on_output), then waits.
 * cancel_fd (-1: none) becomes readable to cancel; deadline_usec is CLOCK_MONOTONIC µs (0: none).
 * Returns the payload's exit status (0…255), -ECANCELED, -ETIME, -EPROTO (nspawn was killed), or another
 * negative errno when it could not start. */
int container_run(const NspawnRun *run, int cancel_fd, uint64_t deadline_usec, container_output_fn on_output,
                  void *userdata);
