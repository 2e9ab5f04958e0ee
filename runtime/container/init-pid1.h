/* What slipway-init does as a container's PID 1 when the image brings no init of its own (Docker's --init):
 * the app runs as its child, in its own session, gets every signal PID 1 receives, and its exit status
 * becomes the container's; orphans are reaped.  Plain libc only: linked into the static slipway-init.
 * Invariant: the app is forked after everything the container set up, so it inherits all of it (the clone3
 * filter, no_new_privs, capabilities, uid/gid, cwd, environment, rlimits) and nothing else is added. */
#pragma once

#include <stdbool.h>

/* What a shell answers for a command it cannot run, so a missing entrypoint reads the same as before. */
#define INIT_EXIT_CANNOT_RUN 127
/* slipway-init failed before the command ran (no filter, no fork): 125, like `docker run` failing first. */
#define INIT_EXIT_INIT_FAILED 125
/* An app killed by signal N gives 128 + N, as a shell and Docker's init report it. */
#define INIT_EXIT_SIGNAL_BASE 128

/* Whether program (the entrypoint: a path, or a name looked up in PATH) is an init system or a container
 * init of its own, by its file name: init, systemd, tini, tini-static, docker-init, dumb-init, catatonit,
 * s6-svscan, runit, runit-init, openrc-init.  Such a program expects to be PID 1 (systemd refuses to
 * manage a system otherwise), so slipway-init execs it in place as it did before. */
bool init_pid1_is_own_init(const char *program);

/* Forks argv (argv[0] looked up in PATH) as the app, then stays as its parent until it exits: every
 * catchable signal but SIGCHLD and SIGPIPE (and the faults of slipway-init itself) goes on to the app's
 * process group (the app is made a session leader, as PID 1 was), every child that ends is reaped.
 * Returns what slipway-init exits with: the app's exit status, INIT_EXIT_SIGNAL_BASE + N when signal N
 * killed it, INIT_EXIT_CANNOT_RUN when it could not be run, INIT_EXIT_INIT_FAILED when the fork failed. */
int init_pid1_run(char *const argv[]);
