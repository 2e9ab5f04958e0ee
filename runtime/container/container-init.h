/* Where slipway-init (the static program every container starts with, see slipway-init.c) lives on the host
 * and inside a container.  Invariant: a bundle is only ever written with the shim bound in and first in
 * process.args — without it there is no bundle, never an unprotected container. */
#pragma once

/* Inside the container: on the tmpfs systemd-nspawn mounts at /run, so nothing lands in the root file system
 * (a build step's changes become a layer); bound read-only. */
#define CONTAINER_INIT_PATH "/run/slipway/init"

/* The environment variable that names the host's slipway-init explicitly (tests, unusual installs). */
#define CONTAINER_INIT_ENV "SLIPWAY_INIT"

/* The host path of slipway-init (absolute, canonical): $SLIPWAY_INIT when set; else, from the directory of
 * the running program, ../../runtime/container/slipway-init (the build tree) or slipway-init next to it;
 * else the installed LIBEXECDIR/slipway/slipway-init.  -ENOENT when none is an executable file (a set
 * $SLIPWAY_INIT that is not one is not passed over). */
int container_init_find(char **ret);

/* For a person, when container_init_find() failed: what is missing and what to do (no final period). */
const char *container_init_missing_hint(void);
