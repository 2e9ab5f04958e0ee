/* libFuzzer target for the Dockerfile parser: parse, then drive everything that consumes the AST
 * (serialisation, stage planning for every target, per-stage expansion) and the word lexer directly. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockerfile-expand.h"
#include "dockerfile-mount.h"
#include "dockerfile-parser.h"
#include "dockerfile-stages.h"
#include "macro.h"
#include "strbuf.h"
#include "string-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise_stages(const Dockerfile *df) {
        char *build_args[] = { "A=1", "B=two words", "SRC=src", NULL };
        char *auto_args[] = { "TARGETARCH=amd64", "BUILDPLATFORM=linux/amd64", NULL };
        char *base_env[] = { "PATH=/usr/bin:/bin", NULL };
        DockerfileScope *s = NULL;
        DockerfileError err;

        char **unused = NULL;

        if (dockerfile_unused_build_args(df, build_args, &unused) >= 0)
                strv_free(unused);
        if (dockerfile_scope_new(df, build_args, auto_args, &s, &err) < 0)
                return;
        for (size_t i = 0; i < df->n_stages; i++) {
                DockerfileBuildPlan *plan = NULL;
                char idx[32], *base = NULL, *platform = NULL;

                snprintf(idx, sizeof idx, "%zu", i);
                if (dockerfile_plan(df, idx, build_args, auto_args, &plan, &err) >= 0)
                        dockerfile_build_plan_free(plan);
                if (dockerfile_scope_expand_from(s, &df->stages[i], &base, &platform, &err) >= 0) {
                        free(base);
                        free(platform);
                }
                if (dockerfile_scope_enter_stage(s, &df->stages[i], base_env) < 0)
                        break;
                for (size_t k = 0; k < df->stages[i].n_instructions; k++) {
                        DockerfileInstruction c = {};
                        char *j = NULL, **env = NULL;

                        if (dockerfile_scope_apply(s, &df->stages[i].instructions[k], &c, &err) < 0)
                                continue;
                        if (dockerfile_instruction_serialize(&c, &j) >= 0)
                                free(j);
                        for (size_t f = 0; f < c.n_flags; f++) {
                                DockerfileMount m = {};
                                char merr[256];

                                if (streq(c.flags[f].name, "mount") && c.flags[f].value &&
                                    dockerfile_mount_parse(c.flags[f].value, 0, &m, merr, sizeof merr) >= 0)
                                        dockerfile_mount_done(&m);
                        }
                        if (c.onbuild) {
                                DockerfileInstruction *t = NULL;

                                if (dockerfile_parse_trigger(c.trigger, df->escape, "trigger", &t, &err) >=
                                    0)
                                        dockerfile_instruction_free(t);
                        }
                        dockerfile_instruction_done(&c);
                        if (dockerfile_scope_run_env(s, &env) >= 0)
                                strv_free(env);
                }
        }
        dockerfile_scope_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Dockerfile *df = NULL;
        DockerfileError err;
        char *word, *out = NULL, **words = NULL;
        char *env[] = { "A=a", "EMPTY=", "SP=x y", "DECL", NULL };

        if (dockerfile_parse((const char *) data, size, "Dockerfile", &df, &err) >= 0) {
                exercise_stages(df);
                dockerfile_free(df);
        }

        /* The lexer on the raw bytes, up to the first NUL. */
        if (size > 64 * 1024)
                return 0;
        word = strndup((const char *) data, size);
        if (!word)
                return 0;
        if (dockerfile_expand_word(word, size > 0 && data[0] == '`' ? '`' : '\\', env, NULL, &out, &err) >=
            0)
                free(out);
        if (dockerfile_expand_words(word, '\\', env, NULL, &words, &err) >= 0)
                strv_free(words);
        free(word);
        return 0;
}
