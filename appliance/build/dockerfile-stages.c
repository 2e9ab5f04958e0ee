/* Stage resolution for --target builds. References always point backwards (to a stage defined above),
 * so one pass from the target down to stage 0 finds every stage the target needs. */
#include "dockerfile-stages.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dockerfile-expand.h"
#include "dockerfile-mount.h"
#include "macro.h"
#include "strbuf.h"

static bool parse_index(const char *s, size_t *ret) {
        size_t v = 0;

        if (!*s || strlen(s) > 9)
                return false;
        for (const char *c = s; *c; c++) {
                if (!isdigit((unsigned char) *c))
                        return false;
                v = v * 10 + (size_t) (*c - '0');
        }
        *ret = v;
        return true;
}

int dockerfile_find_stage(const Dockerfile *df, const char *name_or_index, size_t *ret) {
        size_t idx;

        for (size_t i = 0; i < df->n_stages; i++)
                if (df->stages[i].name && strcasecmp(df->stages[i].name, name_or_index) == 0) {
                        *ret = i;
                        return 0;
                }
        if (parse_index(name_or_index, &idx) && idx < df->n_stages) {
                *ret = idx;
                return 0;
        }
        return -ENOENT;
}

int dockerfile_stage_reference(const Dockerfile *df, size_t current, const char *ref, unsigned line,
                               unsigned column, ssize_t *ret_stage, DockerfileError *err) {
        size_t idx;

        for (size_t i = 0; i < df->n_stages; i++) {
                if (!df->stages[i].name || strcasecmp(df->stages[i].name, ref) != 0)
                        continue;
                if (i == current) {
                        dockerfile_error_set(err, df->filename, line, column,
                                             "stage '%s' refers to itself; use an earlier stage or an image",
                                             ref);
                        return -EBADMSG;
                }
                if (i > current) {
                        dockerfile_error_set(
                                err, df->filename, line, column,
                                "stage '%s' is used before it is defined (at line %u); a stage can "
                                "only use stages defined above it",
                                ref, df->stages[i].from.line);
                        return -EBADMSG;
                }
                *ret_stage = (ssize_t) i;
                return 0;
        }
        if (parse_index(ref, &idx)) {
                if (idx >= current) {
                        dockerfile_error_set(err, df->filename, line, column,
                                             "stage index %zu is not defined before this stage (stage %zu); "
                                             "stages are numbered from 0 in the order they appear",
                                             idx, current);
                        return -EBADMSG;
                }
                *ret_stage = (ssize_t) idx;
                return 0;
        }
        *ret_stage = -1;
        return 0;
}

DockerfileBuildPlan *dockerfile_build_plan_free(DockerfileBuildPlan *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_stages; i++) {
                free(p->stages[i].base_image);
                free(p->stages[i].platform);
        }
        free(p->stages);
        free(p);
        return NULL;
}

/* Marks in needed[] the stages a RUN of stage idx mounts (--mount=…,from=STAGE). */
static int stage_mount_dependencies(const Dockerfile *df, DockerfileScope *scope, size_t idx,
                                    const DockerfileInstruction *in, bool *needed, DockerfileError *err) {
        _cleanup_(dockerfile_instruction_done) DockerfileInstruction c = {};
        bool any = false;
        int r;

        for (size_t k = 0; k < in->n_flags; k++)
                any = any || streq(in->flags[k].name, "mount");
        if (!any)
                return 0;
        r = dockerfile_scope_apply(scope, in, &c, err);
        if (r < 0)
                return r;
        for (size_t k = 0; k < c.n_flags; k++) {
                _cleanup_(dockerfile_mount_done) DockerfileMount m = {};
                ssize_t dep;

                if (!streq(c.flags[k].name, "mount") ||
                    dockerfile_mount_parse(c.flags[k].value, 0, &m, NULL, 0) < 0 || !m.from)
                        continue;
                r = dockerfile_stage_reference(df, idx, m.from, in->line, in->column, &dep, err);
                if (r < 0)
                        return r;
                if (dep >= 0)
                        needed[dep] = true;
        }
        return 0;
}

/* Marks in needed[] the stages that stage idx copies from (COPY --from, RUN --mount from=). */
static int stage_copy_dependencies(const Dockerfile *df, DockerfileScope *scope, size_t idx, bool *needed,
                                   DockerfileError *err) {
        const DockerfileStage *st = &df->stages[idx];
        int r;

        r = dockerfile_scope_enter_stage(scope, st, NULL);
        if (r < 0)
                return r;
        for (size_t k = 0; k < st->n_instructions; k++) {
                const DockerfileInstruction *in = &st->instructions[k];
                _cleanup_free_ char *from = NULL;
                const char *raw;
                ssize_t dep;

                if (in->kind == DOCKERFILE_ARG || in->kind == DOCKERFILE_ENV) {
                        _cleanup_(dockerfile_instruction_done) DockerfileInstruction c = {};

                        r = dockerfile_scope_apply(scope, in, &c, err);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (in->kind == DOCKERFILE_RUN) {
                        r = stage_mount_dependencies(df, scope, idx, in, needed, err);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (in->kind != DOCKERFILE_COPY || dockerfile_instruction_get_flag(in, "from", &raw) < 0)
                        continue;
                r = dockerfile_scope_expand(scope, raw, &from, err);
                if (r == -EBADMSG && err) {
                        err->line = in->line;
                        err->column = in->column;
                        snprintf(err->file, sizeof err->file, "%s", df->filename);
                }
                if (r < 0)
                        return r;
                r = dockerfile_stage_reference(df, idx, from, in->line, in->column, &dep, err);
                if (r < 0)
                        return r;
                if (dep >= 0)
                        needed[dep] = true;
        }
        return 0;
}

int dockerfile_plan(const Dockerfile *df, const char *target, char *const *build_args,
                    char *const *auto_args, DockerfileBuildPlan **ret, DockerfileError *err) {
        _cleanup_(dockerfile_scope_freep) DockerfileScope *scope = NULL;
        _cleanup_(dockerfile_build_plan_freep) DockerfileBuildPlan *plan = NULL;
        _cleanup_free_ bool *needed = NULL;
        _cleanup_free_ ssize_t *bases = NULL;
        size_t t;
        int r;

        if (!target)
                t = df->n_stages - 1;
        else if (dockerfile_find_stage(df, target, &t) < 0) {
                char names[256] = "";
                size_t used = 0;

                for (size_t i = 0; i < df->n_stages && used < sizeof names; i++)
                        used += (size_t) snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "",
                                                  df->stages[i].name ? df->stages[i].name : "(unnamed)");
                dockerfile_error_set(err, df->filename, 0, 0,
                                     "target stage '%s' not found; the stages are: %s", target, names);
                return -ENOENT;
        }

        r = dockerfile_scope_new(df, build_args, auto_args, &scope, err);
        if (r < 0)
                return r;
        needed = calloc(df->n_stages, sizeof *needed);
        bases = calloc(df->n_stages, sizeof *bases);
        plan = calloc(1, sizeof *plan);
        if (!needed || !bases || !plan)
                return -ENOMEM;
        plan->stages = calloc(t + 1, sizeof *plan->stages);
        if (!plan->stages)
                return -ENOMEM;
        plan->n_stages = t + 1; /* unused slots stay zeroed, so freeing on error is safe */

        needed[t] = true;
        for (size_t i = t + 1; i-- > 0;) {
                _cleanup_free_ char *base = NULL, *platform = NULL;

                if (!needed[i])
                        continue;
                r = dockerfile_scope_expand_from(scope, &df->stages[i], &base, &platform, err);
                if (r < 0)
                        return r;
                r = dockerfile_stage_reference(df, i, base, df->stages[i].from.line,
                                               df->stages[i].from.column, &bases[i], err);
                if (r < 0)
                        return r;
                if (bases[i] >= 0)
                        needed[bases[i]] = true;
                r = stage_copy_dependencies(df, scope, i, needed, err);
                if (r < 0)
                        return r;
                plan->stages[i] = (DockerfileStagePlan) {
                        .index = i,
                        .base_stage = bases[i],
                        .base_image = bases[i] < 0 ? TAKE_PTR(base) : NULL,
                        .platform = TAKE_PTR(platform),
                };
        }

        /* Compact to the needed stages, keeping Dockerfile order. */
        plan->n_stages = 0;
        for (size_t i = 0; i <= t; i++)
                if (needed[i]) {
                        DockerfileStagePlan sp = plan->stages[i];

                        plan->stages[i] = (DockerfileStagePlan) {};
                        plan->stages[plan->n_stages++] = sp;
                }
        *ret = TAKE_PTR(plan);
        return 0;
}

static bool declares_arg(const DockerfileInstruction *in, const char *name, size_t len) {
        if (in->kind != DOCKERFILE_ARG)
                return false;
        for (size_t k = 0; k < in->n_pairs; k++)
                if (strlen(in->pairs[k].name) == len && strncmp(in->pairs[k].name, name, len) == 0)
                        return true;
        return false;
}

int dockerfile_unused_build_args(const Dockerfile *df, char *const *build_args, char ***ret) {
        _cleanup_strv_free_ char **unused = calloc(1, sizeof(char *));
        int r;

        if (!unused)
                return -ENOMEM;
        for (size_t i = 0; build_args && build_args[i]; i++) {
                const char *eq = strchr(build_args[i], '=');
                size_t len = eq ? (size_t) (eq - build_args[i]) : strlen(build_args[i]);
                bool used = false;

                for (size_t g = 0; g < df->n_global_args && !used; g++)
                        used = declares_arg(&df->global_args[g], build_args[i], len);
                for (size_t s = 0; s < df->n_stages && !used; s++)
                        for (size_t k = 0; k < df->stages[s].n_instructions && !used; k++)
                                used = declares_arg(&df->stages[s].instructions[k], build_args[i], len);
                if (used || strv_env_find(unused, build_args[i], len))
                        continue;
                r = strv_push(&unused, strndup(build_args[i], len));
                if (r < 0)
                        return r;
                if (!unused[strv_length(unused) - 1])
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(unused);
        return 0;
}
