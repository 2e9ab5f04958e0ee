/* The per-stage scope of ENV and ARG values Dockerfile expansion is evaluated in. Expansion is applied to
 * exactly the instructions Docker applies it to; RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK and ONBUILD pass
 * through untouched (their shell expands at run time). */
#pragma once

#include "dockerfile-ast.h"
#include "macro.h"

typedef struct DockerfileScope DockerfileScope;

/* build_args: --build-arg NAME=VALUE values (a bare NAME is ignored). auto_args: predefined args such as
 * TARGETARCH=amd64, visible in FROM lines without declaration and used as the value of a stage's
 * "ARG TARGETARCH" without default (as BuildKit does). Both may be NULL. Evaluates the global ARGs. */
int dockerfile_scope_new(const Dockerfile *df, char *const *build_args, char *const *auto_args,
                         DockerfileScope **ret, DockerfileError *err);
DockerfileScope *dockerfile_scope_free(DockerfileScope *s);
static inline void dockerfile_scope_freep(DockerfileScope **s) {
        dockerfile_scope_free(*s);
}
#define _cleanup_dockerfile_scope_free_ _cleanup_(dockerfile_scope_freep)

/* The stage's FROM image and --platform expanded with the global ARGs only (Docker's rule). ret_platform
 * gets NULL when no --platform was given; either out-parameter may be NULL. */
int dockerfile_scope_expand_from(const DockerfileScope *s, const DockerfileStage *st, char **ret_base,
                                 char **ret_platform, DockerfileError *err);

/* Starts evaluating a stage: the environment becomes base_env (the base image's config Env, or the
 * parent stage's final env), no ARG is declared yet (a global ARG must be redeclared to be visible). */
int dockerfile_scope_enter_stage(DockerfileScope *s, const DockerfileStage *st, char *const *base_env);

/* Expands one instruction of the current stage into ret (a deep copy the caller releases with
 * dockerfile_instruction_done()) and applies its effect on the scope (ENV sets, ARG declares). For ARG
 * the copy carries the effective value of each argument (build arg, default, global value, auto arg, or
 * NULL). ADD of a URL, bad EXPOSE ports and bad --chmod found after expansion are refused here. FROM is
 * refused (use dockerfile_scope_expand_from()). */
int dockerfile_scope_apply(DockerfileScope *s, const DockerfileInstruction *i, DockerfileInstruction *ret,
                           DockerfileError *err);

/* Expands one word with the current stage's ENV and ARGs (as COPY arguments are). */
int dockerfile_scope_expand(const DockerfileScope *s, const char *word, char **ret, DockerfileError *err);

/* The persistent environment (base env + ENV so far), "NAME=VALUE" entries; owned by the scope. */
char *const *dockerfile_scope_env(const DockerfileScope *s);
/* The environment a RUN step sees: the declared ARGs that have values, overridden by ENV. Caller frees. */
int dockerfile_scope_run_env(const DockerfileScope *s, char ***ret);
/* The declared ARGs with values, sorted by name, "NAME=VALUE" (for cache keys). Caller frees. */
int dockerfile_scope_args(const DockerfileScope *s, char ***ret);
/* The global ARGs' values ("NAME=VALUE" or "NAME"); owned by the scope. */
char *const *dockerfile_scope_global_args(const DockerfileScope *s);
