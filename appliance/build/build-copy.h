/* COPY and ADD: sources resolved inside their root (the context, a stage or an image; never followed out),
 * a checksum of their content for the cache key, and a staging dir that becomes the layer.
 * Invariant: nothing is written outside the step's temp dir; ADD extracts archives without letting an entry
 * escape the destination. */
#pragma once

#include <jansson.h>

#include "build-job.h"

#define COPY_SOURCES_MAX 10000U   /* files one COPY may match */

typedef struct CopyPlan CopyPlan;

/* from_state: the --from stage's state (NULL: the context, or an image named by --from, resolved here).
 * Returns the checksum of the sources (hex string) for the cache key. */
int build_copy_prepare(BuildContext *ctx, json_t *from_state, const DockerfileInstruction *i, CopyPlan **ret,
                       char **ret_checksum);
int build_copy_execute(BuildContext *ctx, json_t *state, CopyPlan *p, const DockerfileInstruction *i,
                       char ret_layer[static DIGEST_STRING_MAX]);
CopyPlan *copy_plan_free(CopyPlan *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(CopyPlan *, copy_plan_free);
