/* COPY and ADD: sources resolved inside their root (the context, a stage or an image; never followed out),
 * a checksum of their content for the cache key, and a staging dir that becomes the layer.
 * Invariant: nothing is written outside the step's temp dir; ADD extracts archives without letting an entry
 * escape the destination. WORKDIR's directory is made here too (the same staging of parents). */
#pragma once

#include <jansson.h>

#include "build-copy-plan.h"
#include "build-job.h"

int build_copy_execute(BuildContext *ctx, json_t *state, CopyPlan *p, const DockerfileInstruction *i,
                       char ret_layer[static DIGEST_STRING_MAX]);

/* WORKDIR: creates the (already updated) WorkingDir of state's config when the image does not have it, as
 * buildah and docker do: missing directories 0755, owned by the USER when it resolves, else root; existing
 * parents keep what they have below. Returns 1 with ret_layer set when it committed a layer, 0 when the
 * directory was there (no layer). */
int build_workdir_ensure(BuildContext *ctx, json_t *state, const DockerfileInstruction *i,
                         char ret_layer[static DIGEST_STRING_MAX]);
