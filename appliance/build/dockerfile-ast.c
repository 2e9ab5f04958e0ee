/* Dockerfile AST: instruction names, memory (free, deep copy) and the error struct of the parser.
 * Invariant: an instruction owns every string it points to; a copy shares nothing with its original. */
#include "dockerfile-ast.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "macro.h"
#include "string-util.h"
#include "strv.h"

static const char *const instruction_table[_DOCKERFILE_INSTRUCTION_MAX] = {
        [DOCKERFILE_ADD] = "ADD",
        [DOCKERFILE_ARG] = "ARG",
        [DOCKERFILE_CMD] = "CMD",
        [DOCKERFILE_COPY] = "COPY",
        [DOCKERFILE_ENTRYPOINT] = "ENTRYPOINT",
        [DOCKERFILE_ENV] = "ENV",
        [DOCKERFILE_EXPOSE] = "EXPOSE",
        [DOCKERFILE_FROM] = "FROM",
        [DOCKERFILE_HEALTHCHECK] = "HEALTHCHECK",
        [DOCKERFILE_LABEL] = "LABEL",
        [DOCKERFILE_MAINTAINER] = "MAINTAINER",
        [DOCKERFILE_ONBUILD] = "ONBUILD",
        [DOCKERFILE_RUN] = "RUN",
        [DOCKERFILE_SHELL] = "SHELL",
        [DOCKERFILE_STOPSIGNAL] = "STOPSIGNAL",
        [DOCKERFILE_USER] = "USER",
        [DOCKERFILE_VOLUME] = "VOLUME",
        [DOCKERFILE_WORKDIR] = "WORKDIR",
};

const char *dockerfile_instruction_to_string(DockerfileInstructionKind k) {
        if (k < 0 || k >= _DOCKERFILE_INSTRUCTION_MAX)
                return NULL;
        return instruction_table[k];
}

DockerfileInstructionKind dockerfile_instruction_from_string(const char *s) {
        for (int k = 0; k < _DOCKERFILE_INSTRUCTION_MAX; k++)
                if (strcasecmp(instruction_table[k], s) == 0)
                        return k;
        return _DOCKERFILE_INSTRUCTION_INVALID;
}

void dockerfile_error_set(DockerfileError *err, const char *file, unsigned line, unsigned column,
                          const char *fmt, ...) {
        va_list ap;

        if (!err)
                return;
        snprintf(err->file, sizeof err->file, "%s", strempty(file));
        err->line = line;
        err->column = column;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
}

const char *dockerfile_error_format(const DockerfileError *e, char *buf, size_t size) {
        if (e->line == 0)
                snprintf(buf, size, "%s: %s", e->file, e->message);
        else
                snprintf(buf, size, "%s:%u:%u: %s", e->file, e->line, e->column, e->message);
        return buf;
}

/* ---- AST memory ---- */

static void name_values_free(DockerfileNameValue *a, size_t n) {
        for (size_t k = 0; k < n; k++) {
                free(a[k].name);
                free(a[k].value);
        }
        free(a);
}

void dockerfile_heredocs_free(DockerfileHeredoc *h, size_t n) {
        for (size_t k = 0; k < n; k++) {
                free(h[k].name);
                free(h[k].content);
        }
        free(h);
}

int dockerfile_heredoc_add(DockerfileHeredoc **array, size_t *n, const DockerfileHeredoc *h) {
        _cleanup_free_ char *name = strdup(h->name), *content = strdup(strempty(h->content));
        DockerfileHeredoc *a;

        if (!name || !content)
                return -ENOMEM;
        a = realloc(*array, (*n + 1) * sizeof *a);
        if (!a)
                return -ENOMEM;
        a[*n] = *h;
        a[*n].name = TAKE_PTR(name);
        a[*n].content = TAKE_PTR(content);
        *array = a;
        (*n)++;
        return 0;
}

void dockerfile_instruction_done(DockerfileInstruction *i) {
        if (!i)
                return;
        free(i->original);
        dockerfile_heredocs_free(i->heredocs, i->n_heredocs);
        name_values_free(i->flags, i->n_flags);
        for (size_t k = 0; k < i->n_argv; k++)
                free(i->argv[k]);
        free(i->argv);
        free(i->shell);
        name_values_free(i->pairs, i->n_pairs);
        free(i->stage_name);
        free(i->trigger);
        dockerfile_instruction_free(i->onbuild);
        *i = (DockerfileInstruction) {};
}

DockerfileInstruction *dockerfile_instruction_free(DockerfileInstruction *i) {
        if (!i)
                return NULL;
        dockerfile_instruction_done(i);
        free(i);
        return NULL;
}

static int strdup_maybe(const char *s, char **ret) {
        if (!s) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int dockerfile_name_value_add(DockerfileNameValue **array, size_t *n, const char *name, size_t name_len,
                              const char *value) {
        _cleanup_free_ char *name_copy = strndup(name, name_len), *value_copy = value ? strdup(value) : NULL;
        DockerfileNameValue *a;

        if (!name_copy || (value && !value_copy))
                return -ENOMEM;
        a = realloc(*array, (*n + 1) * sizeof *a);
        if (!a)
                return -ENOMEM;
        a[*n] = (DockerfileNameValue) { .name = TAKE_PTR(name_copy), .value = TAKE_PTR(value_copy) };
        *array = a;
        (*n)++;
        return 0;
}

/* A deep copy of the n entries of from (NULL for none). */
static int name_values_copy(const DockerfileNameValue *from, size_t n, DockerfileNameValue **ret) {
        DockerfileNameValue *a = NULL;
        size_t copied = 0;

        while (copied < n) {
                const DockerfileNameValue *f = &from[copied];
                int r = dockerfile_name_value_add(&a, &copied, f->name, strlen(f->name), f->value);

                if (r < 0) {
                        name_values_free(a, copied);
                        return r;
                }
        }
        *ret = a;
        return 0;
}

int dockerfile_instruction_copy(const DockerfileInstruction *i, DockerfileInstruction *ret) {
        DockerfileInstruction c = {
                .kind = i->kind,
                .line = i->line,
                .column = i->column,
                .end_line = i->end_line,
                .json_form = i->json_form,
                .healthcheck = i->healthcheck,
        };
        int r;

        if (strdup_maybe(i->original, &c.original) < 0 || strdup_maybe(i->shell, &c.shell) < 0 ||
            strdup_maybe(i->stage_name, &c.stage_name) < 0 || strdup_maybe(i->trigger, &c.trigger) < 0)
                goto oom;
        if (name_values_copy(i->flags, i->n_flags, &c.flags) < 0)
                goto oom;
        c.n_flags = i->n_flags;
        if (i->n_argv > 0) {
                c.argv = strv_copy(i->argv);
                if (!c.argv)
                        goto oom;
                c.n_argv = i->n_argv;
        }
        if (name_values_copy(i->pairs, i->n_pairs, &c.pairs) < 0)
                goto oom;
        c.n_pairs = i->n_pairs;
        for (size_t k = 0; k < i->n_heredocs; k++)
                if (dockerfile_heredoc_add(&c.heredocs, &c.n_heredocs, &i->heredocs[k]) < 0)
                        goto oom;
        if (i->onbuild) {
                c.onbuild = calloc(1, sizeof *c.onbuild);
                if (!c.onbuild)
                        goto oom;
                r = dockerfile_instruction_copy(i->onbuild, c.onbuild);
                if (r < 0)
                        goto oom;
        }
        *ret = c;
        return 0;
oom:
        dockerfile_instruction_done(&c);
        return -ENOMEM;
}

Dockerfile *dockerfile_free(Dockerfile *df) {
        if (!df)
                return NULL;
        free(df->filename);
        free(df->syntax);
        for (size_t i = 0; i < df->n_global_args; i++)
                dockerfile_instruction_done(&df->global_args[i]);
        free(df->global_args);
        for (size_t s = 0; s < df->n_stages; s++) {
                DockerfileStage *st = &df->stages[s];

                free(st->name);
                free(st->base);
                free(st->platform);
                dockerfile_instruction_done(&st->from);
                for (size_t i = 0; i < st->n_instructions; i++)
                        dockerfile_instruction_done(&st->instructions[i]);
                free(st->instructions);
        }
        free(df->stages);
        free(df->warnings);
        free(df);
        return NULL;
}

int dockerfile_instruction_get_flag(const DockerfileInstruction *i, const char *name, const char **ret) {
        for (size_t k = 0; k < i->n_flags; k++)
                if (streq(i->flags[k].name, name)) {
                        if (ret)
                                *ret = i->flags[k].value;
                        return 0;
                }
        return -ENOENT;
}
