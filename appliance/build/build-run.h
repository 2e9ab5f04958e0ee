/* RUN steps: the command runs under systemd-nspawn (OCI bundle, no network, the stage's env/workdir/user/
 * shell) over an overlay of the stage's layers, with its RUN --mount mounts; the upper dir becomes the new
 * layer.
 * Invariant: the overlay is unmounted and the step's temp dir removed on every path out. */
#pragma once

#include <jansson.h>

#include "build-job.h"
#include "build-mount.h"

/* mounts: the step's RUN --mount plan (build_mounts_prepare), or NULL. */
int build_run_step(BuildContext *ctx, json_t *state, DockerfileScope *scope, const DockerfileInstruction *i,
                   BuildMounts *mounts, char ret_layer[static DIGEST_STRING_MAX]);
