/* Build stages: finding a stage by name or index, resolving FROM/COPY --from references, and the plan of
 * which stages a --target needs. A stage may only use stages defined above it. */
#pragma once

#include <sys/types.h>

#include "dockerfile-parser.h"

typedef struct DockerfileStagePlan {
        size_t index;       /* index in Dockerfile.stages */
        ssize_t base_stage; /* FROM names an earlier stage: its index; else -1 */
        char *base_image;   /* expanded image reference when base_stage < 0 ("scratch" included) */
        char *platform;     /* expanded --platform, or NULL */
} DockerfileStagePlan;

typedef struct DockerfileBuildPlan {
        DockerfileStagePlan
                *stages; /* the stages the target needs, in Dockerfile order; the last is the target */
        size_t n_stages;
} DockerfileBuildPlan;

/* A stage by (case-insensitive) name or by decimal index. -ENOENT when there is none. */
int dockerfile_find_stage(const Dockerfile *df, const char *name_or_index, size_t *ret);

/* What ref (an expanded FROM image or COPY --from value) means inside stage current: *ret_stage is the
 * index of an earlier stage, or -1 for an image. A name or index of this or a later stage is an error
 * (-EBADMSG, err filled with line and column). */
int dockerfile_stage_reference(const Dockerfile *df, size_t current, const char *ref, unsigned line,
                               unsigned column, ssize_t *ret_stage, DockerfileError *err);

/* The stages needed to build target (NULL: the last stage), following FROM and COPY --from. FROM lines are
 * expanded with the global ARGs; --from values with the ARGs and ENVs declared in the stage up to that
 * instruction (the base image's own ENV is not known here). */
int dockerfile_plan(const Dockerfile *df, const char *target, char *const *build_args,
                    char *const *auto_args, DockerfileBuildPlan **ret, DockerfileError *err);
DockerfileBuildPlan *dockerfile_build_plan_free(DockerfileBuildPlan *p);

/* The names of --build-arg values ("NAME=VALUE") that no ARG in the Dockerfile declares (Docker warns
 * "build-args were not consumed"). A NULL-terminated vector the caller frees with strv_free(). */
int dockerfile_unused_build_args(const Dockerfile *df, char *const *build_args, char ***ret);
static inline void dockerfile_build_plan_freep(DockerfileBuildPlan **p) {
        dockerfile_build_plan_free(*p);
}
