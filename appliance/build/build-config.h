/* Instructions that only change the image config (ENV, LABEL, EXPOSE, WORKDIR, USER, CMD, ENTRYPOINT,
 * VOLUME, STOPSIGNAL, HEALTHCHECK, SHELL, ONBUILD, MAINTAINER, ARG) applied to a stage state, with Docker's
 * rules (ENTRYPOINT resets a CMD inherited from the base; WORKDIR is relative to the previous one). */
#pragma once

#include <jansson.h>

#include "build-job.h"

/* Labels "K=V" (NULL-terminated) set on the final image's config, over the Dockerfile's LABELs. */
int build_config_add_labels(json_t *state, char *const *labels);
int build_config_apply(BuildContext *ctx, json_t *state, DockerfileScope *scope,
                       const DockerfileInstruction *i);
