/* Dockerfile parser: the driver. Reads logical lines (dockerfile-lexer.c), parses each instruction
 * (dockerfile-instructions.c) and sorts them into global ARGs and stages.
 * Invariant: input is size-checked, NUL-free and valid UTF-8 before a line is read. */
#include "dockerfile-parser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockerfile-instructions.h"
#include "dockerfile-lexer.h"
#include "macro.h"
#include "string-util.h"
#include "utf8.h"

static int append_instruction(DockerfileInstruction **array, size_t *n, DockerfileInstruction *in) {
        DockerfileInstruction *a;

        a = realloc(*array, (*n + 1) * sizeof *a);
        if (!a)
                return -ENOMEM;
        *array = a;
        a[(*n)++] = *in;
        *in = (DockerfileInstruction) {};
        return 0;
}

static int parser_add_stage(Parser *p, DockerfileInstruction *in) {
        DockerfileStage *st;
        const char *platform = NULL;

        if (in->stage_name)
                for (size_t i = 0; i < p->df->n_stages; i++)
                        if (streq_ptr(p->df->stages[i].name, in->stage_name))
                                return parser_error(p, 0,
                                                    "duplicate stage name '%s'; it is already used by the "
                                                    "stage at line %u",
                                                    in->stage_name, p->df->stages[i].from.line);
        st = realloc(p->df->stages, (p->df->n_stages + 1) * sizeof *st);
        if (!st)
                return -ENOMEM;
        p->df->stages = st;
        st = &st[p->df->n_stages];
        (void) dockerfile_instruction_get_flag(in, "platform", &platform);
        *st = (DockerfileStage) {
                .index = p->df->n_stages,
                .name = in->stage_name ? strdup(in->stage_name) : NULL,
                .base = strdup(in->argv[0]),
                .platform = platform ? strdup(platform) : NULL,
        };
        p->df->n_stages++;
        if ((in->stage_name && !st->name) || !st->base || (platform && !st->platform))
                return -ENOMEM;
        st->from = *in;
        *in = (DockerfileInstruction) {};
        return 0;
}

static int parser_run(Parser *p) {
        int r;

        for (;;) {
                _cleanup_(dockerfile_instruction_done) DockerfileInstruction in = {};
                DockerfileStage *st;

                r = parser_read_logical(p);
                if (r <= 0)
                        return r;
                if (++p->n_instructions > DOCKERFILE_INSTRUCTIONS_MAX)
                        return parser_error(p, 0, "more than %u instructions; split the build",
                                            DOCKERFILE_INSTRUCTIONS_MAX);
                if (p->ll.empty_continuation) {
                        r = parser_warning(p, 0,
                                           "empty continuation line in this instruction; a future Docker "
                                           "release treats it as an error, remove it");
                        if (r < 0)
                                return r;
                }
                r = parse_instruction(p, &in, skip_space(p->ll.text.data, p->ll.text.len), false);
                if (r < 0)
                        return r;

                if (in.kind == DOCKERFILE_FROM) {
                        r = parser_add_stage(p, &in);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (p->df->n_stages == 0) {
                        if (in.kind != DOCKERFILE_ARG)
                                return parser_error(p, 0,
                                                    "%s before the first FROM; only ARG may come before "
                                                    "FROM, start the stage with FROM image",
                                                    dockerfile_instruction_to_string(in.kind));
                        r = append_instruction(&p->df->global_args, &p->df->n_global_args, &in);
                        if (r < 0)
                                return r;
                        continue;
                }
                st = &p->df->stages[p->df->n_stages - 1];
                r = append_instruction(&st->instructions, &st->n_instructions, &in);
                if (r < 0)
                        return r;
        }
}

static Dockerfile *dockerfile_new(const char *filename) {
        Dockerfile *df = calloc(1, sizeof *df);

        if (!df)
                return NULL;
        df->escape = '\\';
        df->filename = strdup(filename ? filename : "Dockerfile");
        if (!df->filename)
                return dockerfile_free(df);
        return df;
}

int dockerfile_parse(const char *data, size_t size, const char *filename, Dockerfile **ret,
                     DockerfileError *err) {
        _cleanup_dockerfile_free_ Dockerfile *df = NULL;
        Parser p = {};
        const char *nul;
        size_t bad;
        int r;

        df = dockerfile_new(filename);
        if (!df)
                return -ENOMEM;
        if (size > DOCKERFILE_SIZE_MAX) {
                dockerfile_error_set(err, df->filename, 0, 0,
                                     "the Dockerfile is %zu bytes, more than the limit of %u bytes", size,
                                     DOCKERFILE_SIZE_MAX);
                return -EFBIG;
        }
        nul = memchr(data, 0, size);
        if (nul) {
                unsigned line = 1;

                for (const char *c = data; c < nul; c++)
                        line += *c == '\n';
                dockerfile_error_set(err, df->filename, line, 0,
                                     "the Dockerfile contains a NUL byte; is it a binary file?");
                return -EBADMSG;
        }

        bad = utf8_valid_prefix(data, size);
        if (bad < size) {
                unsigned line = 1, column = 1;

                for (size_t i = 0; i < bad; i++) {
                        column = data[i] == '\n' ? 1 : column + 1;
                        line += data[i] == '\n';
                }
                dockerfile_error_set(err, df->filename, line, column,
                                     "the Dockerfile is not valid UTF-8 here; save it as UTF-8");
                return -EBADMSG;
        }

        p = (Parser) { .df = df, .data = data, .size = size, .err = err };
        r = parser_run(&p);
        logical_line_done(&p.ll);
        strbuf_done(&p.trigger_tail);
        if (r < 0)
                return r;
        if (df->n_stages == 0) {
                dockerfile_error_set(err, df->filename, 0, 0,
                                     "no FROM instruction; a Dockerfile needs at least one build stage "
                                     "starting with FROM image (or FROM scratch)");
                return -EBADMSG;
        }
        *ret = TAKE_PTR(df);
        return 0;
}

int dockerfile_parse_trigger(const char *text, char escape, const char *filename,
                             DockerfileInstruction **ret, DockerfileError *err) {
        _cleanup_dockerfile_free_ Dockerfile *df = NULL;
        _cleanup_(dockerfile_instruction_freep) DockerfileInstruction *in = NULL;
        Parser p = {};
        size_t lead, first;
        int r;

        df = dockerfile_new(filename);
        if (!df)
                return -ENOMEM;
        df->escape = escape;
        if (strlen(text) > DOCKERFILE_SIZE_MAX) {
                dockerfile_error_set(err, df->filename, 0, 0, "ONBUILD trigger too long");
                return -EFBIG;
        }
        if (utf8_valid_prefix(text, strlen(text)) < strlen(text)) {
                dockerfile_error_set(err, df->filename, 0, 0, "ONBUILD trigger is not valid UTF-8");
                return -EBADMSG;
        }
        in = calloc(1, sizeof *in);
        if (!in)
                return -ENOMEM;
        /* The first line is the instruction; lines after it are the bodies of its heredocs. */
        first = strcspn(text, "\n");
        p = (Parser) { .df = df, .err = err, .line = 1, .data = text, .size = strlen(text), .pos = first };
        p.pos += text[first] == '\n';
        lead = skip_space(text, first);
        r = logical_line_add(&p.ll, text + lead, first - lead, 1, (unsigned) lead + 1);
        if (r >= 0) {
                while (p.ll.text.len > 0 && is_space(p.ll.text.data[p.ll.text.len - 1]))
                        p.ll.text.data[--p.ll.text.len] = 0;
                if (p.ll.text.len == 0)
                        r = parser_error(&p, 0, "empty ONBUILD trigger");
                else
                        r = parse_instruction(&p, in, 0, true);
        }
        if (r >= 0 && p.pos < p.size)
                r = parser_error(&p, 0, "ONBUILD trigger has lines that belong to no heredoc");
        logical_line_done(&p.ll);
        strbuf_done(&p.trigger_tail);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(in);
        return 0;
}
