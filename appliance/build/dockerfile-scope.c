/* The stage scope of Dockerfile variables: global ARGs, build args, the stage's ENV and declared ARGs, and
 * the expansion of each instruction in it. Invariant: an ARG is visible in a stage only once declared
 * there; ENV wins over ARG; FROM sees only the global ARGs. */
#include "dockerfile-scope.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockerfile-expand.h"
#include "dockerfile-mount.h"
#include "macro.h"
#include "strbuf.h"

struct DockerfileScope {
        const Dockerfile *df;
        char **build_args;
        char **auto_args;
        char **global; /* evaluated global ARGs */
        char **env;    /* the current stage's environment */
        char **args;   /* ARGs declared in the current stage */
};

DockerfileScope *dockerfile_scope_free(DockerfileScope *s) {
        if (!s)
                return NULL;
        strv_free(s->build_args);
        strv_free(s->auto_args);
        strv_free(s->global);
        strv_free(s->env);
        strv_free(s->args);
        free(s);
        return NULL;
}

static const char *env_value(char *const *l, const char *name) {
        size_t len = strlen(name);
        const char *e = strv_env_find(l, name, len);

        return e && e[len] == '=' ? e + len + 1 : NULL;
}

static int scope_error(const DockerfileScope *s, const DockerfileInstruction *i, DockerfileError *err) {
        char msg[DOCKERFILE_ERROR_MESSAGE_MAX];

        if (!err)
                return -EBADMSG;
        snprintf(msg, sizeof msg, "%s", err->message);
        dockerfile_error_set(err, s->df->filename, i->line, i->column, "%s: %s",
                             dockerfile_instruction_to_string(i->kind), msg);
        return -EBADMSG;
}

static int scope_expand(const DockerfileScope *s, const DockerfileInstruction *i, char *const *env,
                        char *const *args, char **word, DockerfileError *err) {
        char *n = NULL;
        int r;

        if (!*word)
                return 0;
        r = dockerfile_expand_word(*word, s->df->escape, env, args, &n, err);
        if (r == -EBADMSG)
                return scope_error(s, i, err);
        if (r < 0)
                return r;
        free(*word);
        *word = n;
        return 0;
}

/* An ARG's value: --build-arg, else its (expanded) default, else the global ARG's value, else the
 * predefined value. NULL when none (declared but unset). */
static const char *arg_effective(const DockerfileScope *s, const char *name, const char *dflt,
                                 bool in_stage) {
        const char *v;

        v = env_value(s->build_args, name);
        if (v)
                return v;
        if (dflt)
                return dflt;
        if (in_stage) {
                v = env_value(s->global, name);
                if (v)
                        return v;
        }
        return env_value(s->auto_args, name);
}

static int copy_build_args(char *const *in, char ***ret) {
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));

        if (!l)
                return -ENOMEM;
        for (size_t i = 0; in && in[i]; i++) {
                const char *eq = strchr(in[i], '=');
                int r;

                if (!eq || eq == in[i])
                        continue; /* no NAME=VALUE */
                r = strv_env_put(&l, in[i]);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

/* Declares the ARGs of instruction i (already copied into c) into *vars, one after the other so a later
 * default can use an earlier one; c gets the effective values. In a stage, defaults see the stage's ENV
 * first and its ARGs second; global ARGs see the earlier global ARGs first and the predefined ones second.
 * *vars is re-read on every use because declaring reallocates it. */
static int scope_declare_args(DockerfileScope *s, const DockerfileInstruction *i, DockerfileInstruction *c,
                              char ***vars, bool in_stage, DockerfileError *err) {
        int r;

        for (size_t k = 0; k < c->n_pairs; k++) {
                char *const *env = in_stage ? s->env : *vars;
                char *const *args = in_stage ? *vars : s->auto_args;
                const char *v;

                r = scope_expand(s, i, env, args, &c->pairs[k].name, err);
                if (r < 0)
                        return r;
                r = scope_expand(s, i, env, args, &c->pairs[k].value, err);
                if (r < 0)
                        return r;
                v = arg_effective(s, c->pairs[k].name, c->pairs[k].value, in_stage);
                if (v != c->pairs[k].value) {
                        char *d = v ? strdup(v) : NULL;

                        if (v && !d)
                                return -ENOMEM;
                        free(c->pairs[k].value);
                        c->pairs[k].value = d;
                }
                r = strv_env_set(vars, c->pairs[k].name, c->pairs[k].value);
                if (r < 0)
                        return r;
        }
        return 0;
}

int dockerfile_scope_new(const Dockerfile *df, char *const *build_args, char *const *auto_args,
                         DockerfileScope **ret, DockerfileError *err) {
        _cleanup_dockerfile_scope_free_ DockerfileScope *s = NULL;
        int r;

        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->df = df;
        r = copy_build_args(build_args, &s->build_args);
        if (r < 0)
                return r;
        r = copy_build_args(auto_args, &s->auto_args);
        if (r < 0)
                return r;
        s->global = calloc(1, sizeof(char *));
        s->env = calloc(1, sizeof(char *));
        s->args = calloc(1, sizeof(char *));
        if (!s->global || !s->env || !s->args)
                return -ENOMEM;

        for (size_t i = 0; i < df->n_global_args; i++) {
                _cleanup_(dockerfile_instruction_done) DockerfileInstruction c = {};

                r = dockerfile_instruction_copy(&df->global_args[i], &c);
                if (r < 0)
                        return r;
                /* Global ARG defaults see earlier global ARGs and the predefined args. */
                r = scope_declare_args(s, &df->global_args[i], &c, &s->global, false, err);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

int dockerfile_scope_expand_from(const DockerfileScope *s, const DockerfileStage *st, char **ret_base,
                                 char **ret_platform, DockerfileError *err) {
        _cleanup_free_ char *base = NULL, *platform = NULL;
        int r;

        r = dockerfile_expand_word(st->base, s->df->escape, s->global, s->auto_args, &base, err);
        if (r == -EBADMSG)
                return scope_error(s, &st->from, err);
        if (r < 0)
                return r;
        if (isempty(base)) {
                dockerfile_error_set(
                        err, s->df->filename, st->from.line, st->from.column,
                        "FROM: the base image '%s' expands to an empty name; set the ARG it uses", st->base);
                return -EBADMSG;
        }
        if (st->platform) {
                r = dockerfile_expand_word(st->platform, s->df->escape, s->global, s->auto_args, &platform,
                                           err);
                if (r == -EBADMSG)
                        return scope_error(s, &st->from, err);
                if (r < 0)
                        return r;
        }
        if (ret_base)
                *ret_base = TAKE_PTR(base);
        if (ret_platform)
                *ret_platform = TAKE_PTR(platform);
        return 0;
}

int dockerfile_scope_enter_stage(DockerfileScope *s, const DockerfileStage *st, char *const *base_env) {
        char **env, **args;

        env = base_env ? strv_copy(base_env) : calloc(1, sizeof(char *));
        args = calloc(1, sizeof(char *));
        if (!env || !args) {
                strv_free(env);
                strv_free(args);
                return -ENOMEM;
        }
        strv_free(s->env);
        strv_free(s->args);
        s->env = env;
        s->args = args;
        return 0;
}

static bool chmod_valid(const char *v) {
        return *v && strlen(v) <= 4 && strspn(v, "01234567") == strlen(v);
}

/* RUN --mount=SPEC: ARG and ENV expanded in each option's value (as BuildKit does), the spec written back
 * with the expanded values and then checked in full. */
static int scope_expand_mount(DockerfileScope *s, const DockerfileInstruction *i, char **spec,
                              DockerfileError *err) {
        _cleanup_strv_free_ char **fields = NULL;
        char msg[DOCKERFILE_ERROR_MESSAGE_MAX];
        char *joined = NULL;
        int r;

        r = dockerfile_mount_split(*spec, &fields, msg, sizeof msg);
        for (size_t k = 0; r >= 0 && fields[k]; k++) {
                _cleanup_free_ char *value = NULL;
                char *eq = strchr(fields[k], '='), *f;

                if (!eq || !strchr(eq + 1, '$'))
                        continue;
                value = strdup(eq + 1);
                if (!value)
                        return -ENOMEM;
                r = scope_expand(s, i, s->env, s->args, &value, err);
                if (r < 0)
                        return r;
                if (asprintf(&f, "%.*s=%s", (int) (eq - fields[k]), fields[k], value) < 0)
                        return -ENOMEM;
                free(fields[k]);
                fields[k] = f;
        }
        if (r >= 0)
                r = dockerfile_mount_join(fields, &joined);
        if (r >= 0) {
                r = dockerfile_mount_parse(joined, 0, NULL, msg, sizeof msg);
                if (r >= 0) {
                        free(*spec);
                        *spec = TAKE_PTR(joined);
                }
                free(joined);
        }
        if (r == -EBADMSG) {
                dockerfile_error_set(err, s->df->filename, i->line, i->column, "%s", msg);
                return r;
        }
        return r;
}

static int scope_expand_instruction(DockerfileScope *s, const DockerfileInstruction *i,
                                    DockerfileInstruction *c, DockerfileError *err) {
        int r;

        switch (i->kind) {
        case DOCKERFILE_RUN:
                for (size_t k = 0; k < c->n_flags; k++) {
                        if (!streq(c->flags[k].name, "mount"))
                                continue;
                        r = scope_expand_mount(s, i, &c->flags[k].value, err);
                        if (r < 0)
                                return r;
                }
                return 0;

        case DOCKERFILE_ENV:
        case DOCKERFILE_LABEL:
                /* All pairs see the environment from before the instruction (ENV a=1 b=$a uses the old a). */
                for (size_t k = 0; k < c->n_pairs; k++) {
                        r = scope_expand(s, i, s->env, s->args, &c->pairs[k].name, err);
                        if (r < 0)
                                return r;
                        r = scope_expand(s, i, s->env, s->args, &c->pairs[k].value, err);
                        if (r < 0)
                                return r;
                }
                if (i->kind == DOCKERFILE_ENV)
                        for (size_t k = 0; k < c->n_pairs; k++) {
                                if (isempty(c->pairs[k].name)) {
                                        dockerfile_error_set(
                                                err, s->df->filename, i->line, i->column,
                                                "ENV: a variable name expands to an empty string");
                                        return -EBADMSG;
                                }
                                r = strv_env_set(&s->env, c->pairs[k].name, c->pairs[k].value);
                                if (r < 0)
                                        return r;
                        }
                return 0;

        case DOCKERFILE_ARG:
                return scope_declare_args(s, i, c, &s->args, true, err);

        case DOCKERFILE_COPY:
        case DOCKERFILE_ADD:
                for (size_t k = 0; k < c->n_argv; k++) {
                        r = scope_expand(s, i, s->env, s->args, &c->argv[k], err);
                        if (r < 0)
                                return r;
                        if (i->kind == DOCKERFILE_ADD && k + 1 < c->n_argv &&
                            dockerfile_source_is_remote(c->argv[k])) {
                                dockerfile_error_set(err, s->df->filename, i->line, i->column, "%s",
                                                     DOCKERFILE_ADD_URL_MESSAGE);
                                return -EBADMSG;
                        }
                }
                for (size_t k = 0; k < c->n_flags; k++) {
                        if (!streq(c->flags[k].name, "from") && !streq(c->flags[k].name, "chown") &&
                            !streq(c->flags[k].name, "chmod"))
                                continue;
                        r = scope_expand(s, i, s->env, s->args, &c->flags[k].value, err);
                        if (r < 0)
                                return r;
                        if (streq(c->flags[k].name, "chmod") && !chmod_valid(c->flags[k].value)) {
                                dockerfile_error_set(
                                        err, s->df->filename, i->line, i->column,
                                        "%s: invalid --chmod=%s; expected an octal mode such as 0755",
                                        dockerfile_instruction_to_string(i->kind), c->flags[k].value);
                                return -EBADMSG;
                        }
                        if (isempty(c->flags[k].value)) {
                                dockerfile_error_set(err, s->df->filename, i->line, i->column,
                                                     "%s: --%s expands to an empty value",
                                                     dockerfile_instruction_to_string(i->kind),
                                                     c->flags[k].name);
                                return -EBADMSG;
                        }
                }
                return 0;

        case DOCKERFILE_EXPOSE: {
                _cleanup_strv_free_ char **ports = calloc(1, sizeof(char *));

                if (!ports)
                        return -ENOMEM;
                for (size_t k = 0; k < c->n_argv; k++) {
                        _cleanup_strv_free_ char **w = NULL;

                        r = dockerfile_expand_words(c->argv[k], s->df->escape, s->env, s->args, &w, err);
                        if (r == -EBADMSG)
                                return scope_error(s, i, err);
                        if (r < 0)
                                return r;
                        for (size_t n = 0; w[n]; n++) {
                                if (!dockerfile_expose_port_is_valid(w[n])) {
                                        dockerfile_error_set(err, s->df->filename, i->line, i->column,
                                                             "EXPOSE: invalid port '%s'; expected PORT, "
                                                             "PORT/PROTOCOL or FIRST-LAST/PROTOCOL",
                                                             w[n]);
                                        return -EBADMSG;
                                }
                                /* The protocol is case-insensitive; the image config spells it lower-case. */
                                for (char *q = strchr(w[n], '/'); q && *q; q++)
                                        *q = (char) tolower((unsigned char) *q);
                                r = strv_extend(&ports, w[n]);
                                if (r < 0)
                                        return r;
                        }
                }
                strv_free(c->argv);
                c->argv = TAKE_PTR(ports);
                c->n_argv = strv_length(c->argv);
                return 0;
        }

        case DOCKERFILE_VOLUME:
                for (size_t k = 0; k < c->n_argv; k++) {
                        r = scope_expand(s, i, s->env, s->args, &c->argv[k], err);
                        if (r < 0)
                                return r;
                        if (isempty(c->argv[k])) {
                                dockerfile_error_set(err, s->df->filename, i->line, i->column,
                                                     "VOLUME: a volume path can not be an empty string");
                                return -EBADMSG;
                        }
                }
                return 0;

        case DOCKERFILE_WORKDIR:
        case DOCKERFILE_USER:
        case DOCKERFILE_STOPSIGNAL:
                r = scope_expand(s, i, s->env, s->args, &c->shell, err);
                if (r < 0)
                        return r;
                if (isempty(c->shell)) {
                        dockerfile_error_set(err, s->df->filename, i->line, i->column,
                                             "%s: the argument expands to an empty string",
                                             dockerfile_instruction_to_string(i->kind));
                        return -EBADMSG;
                }
                return 0;

        case DOCKERFILE_FROM:
                return -EINVAL;

        default:
                /* CMD, ENTRYPOINT, SHELL, HEALTHCHECK, ONBUILD, MAINTAINER: no expansion (RUN: its mounts). */
                return 0;
        }
}

int dockerfile_scope_apply(DockerfileScope *s, const DockerfileInstruction *i, DockerfileInstruction *ret,
                           DockerfileError *err) {
        _cleanup_(dockerfile_instruction_done) DockerfileInstruction c = {};
        int r;

        if (i->kind == DOCKERFILE_FROM)
                return -EINVAL;
        r = dockerfile_instruction_copy(i, &c);
        if (r < 0)
                return r;
        r = scope_expand_instruction(s, i, &c, err);
        if (r < 0)
                return r;
        *ret = c;
        c = (DockerfileInstruction) {};
        return 0;
}

int dockerfile_scope_expand(const DockerfileScope *s, const char *word, char **ret, DockerfileError *err) {
        return dockerfile_expand_word(word, s->df->escape, s->env, s->args, ret, err);
}

char *const *dockerfile_scope_env(const DockerfileScope *s) {
        return s->env;
}

char *const *dockerfile_scope_global_args(const DockerfileScope *s) {
        return s->global;
}

/* Sets each entry of from that has a value ("NAME=VALUE") in *l, replacing an entry for the same NAME. */
static int env_put_values(char ***l, char *const *from) {
        for (size_t i = 0; from[i]; i++) {
                int r;

                if (!strchr(from[i], '='))
                        continue;
                r = strv_env_put(l, from[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The ARGs of the scope that have a value, as NAME=VALUE, in declaration order (each name is declared
 * once); NULL when out of memory. */
static char **scope_args_with_value(const DockerfileScope *s) {
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));

        if (!l || env_put_values(&l, s->args) < 0)
                return NULL;
        return TAKE_PTR(l);
}

int dockerfile_scope_run_env(const DockerfileScope *s, char ***ret) {
        _cleanup_strv_free_ char **l = scope_args_with_value(s);
        int r;

        if (!l)
                return -ENOMEM;
        r = env_put_values(&l, s->env);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int dockerfile_scope_args(const DockerfileScope *s, char ***ret) {
        char **l = scope_args_with_value(s);

        if (!l)
                return -ENOMEM;
        qsort(l, strv_length(l), sizeof(char *), cmp_str);
        *ret = l;
        return 0;
}
