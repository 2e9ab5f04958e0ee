/* Dockerfile parser: a reader that joins physical lines into logical lines (directives, comments,
 * continuations), then one small parser per instruction. The AST keeps arguments as written; every piece
 * that will be expanded later is syntax-checked here so errors point at the exact line and column. */
#include "dockerfile-parser.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockerfile-expand.h"
#include "json-util.h"
#include "macro.h"
#include "strbuf.h"

#define DOCKERFILE_WARNINGS_MAX 100U

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

bool dockerfile_source_is_remote(const char *s) {
        static const char *const prefixes[] = { "http://", "https://", "git://", "ssh://", "git@" };

        for (size_t i = 0; i < ELEMENTSOF(prefixes); i++)
                if (strncasecmp(s, prefixes[i], strlen(prefixes[i])) == 0)
                        return true;
        return false;
}

/* ---- AST memory ---- */

void dockerfile_instruction_done(DockerfileInstruction *i) {
        if (!i)
                return;
        free(i->original);
        for (size_t k = 0; k < i->n_flags; k++) {
                free(i->flags[k].name);
                free(i->flags[k].value);
        }
        free(i->flags);
        for (size_t k = 0; k < i->n_argv; k++)
                free(i->argv[k]);
        free(i->argv);
        free(i->shell);
        for (size_t k = 0; k < i->n_pairs; k++) {
                free(i->pairs[k].key);
                free(i->pairs[k].value);
        }
        free(i->pairs);
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
        if (i->n_flags > 0) {
                c.flags = calloc(i->n_flags, sizeof *c.flags);
                if (!c.flags)
                        goto oom;
                for (; c.n_flags < i->n_flags; c.n_flags++)
                        if (strdup_maybe(i->flags[c.n_flags].name, &c.flags[c.n_flags].name) < 0 ||
                            strdup_maybe(i->flags[c.n_flags].value, &c.flags[c.n_flags].value) < 0) {
                                c.n_flags++;
                                goto oom;
                        }
        }
        if (i->n_argv > 0) {
                c.argv = calloc(i->n_argv + 1, sizeof *c.argv);
                if (!c.argv)
                        goto oom;
                for (; c.n_argv < i->n_argv; c.n_argv++)
                        if (strdup_maybe(i->argv[c.n_argv], &c.argv[c.n_argv]) < 0)
                                goto oom;
        }
        if (i->n_pairs > 0) {
                c.pairs = calloc(i->n_pairs, sizeof *c.pairs);
                if (!c.pairs)
                        goto oom;
                for (; c.n_pairs < i->n_pairs; c.n_pairs++)
                        if (strdup_maybe(i->pairs[c.n_pairs].key, &c.pairs[c.n_pairs].key) < 0 ||
                            strdup_maybe(i->pairs[c.n_pairs].value, &c.pairs[c.n_pairs].value) < 0) {
                                c.n_pairs++;
                                goto oom;
                        }
        }
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

/* ---- logical lines ---- */

/* Maps byte offsets of a logical line back to physical line and column. */
typedef struct Segment {
        size_t offset;
        unsigned line;
        unsigned column;
} Segment;

typedef struct LogicalLine {
        StrBuf text;
        Segment *segs;
        size_t n_segs;
        size_t allocated;
        unsigned first_line;
        unsigned last_line;
        bool empty_continuation;
} LogicalLine;

static void logical_line_done(LogicalLine *ll) {
        strbuf_done(&ll->text);
        free(ll->segs);
        *ll = (LogicalLine) {};
}

/* Grows *array (of *allocated elements of size) so that one more element fits, doubling. */
static int grow(void **array, size_t *allocated, size_t n, size_t size) {
        size_t want;
        void *p;

        if (n < *allocated)
                return 0;
        want = MAX(*allocated * 2, (size_t) 8);
        p = realloc(*array, want * size);
        if (!p)
                return -ENOMEM;
        *array = p;
        *allocated = want;
        return 0;
}

static int logical_line_add(LogicalLine *ll, const char *s, size_t n, unsigned line, unsigned column) {
        if (grow((void **) &ll->segs, &ll->allocated, ll->n_segs, sizeof *ll->segs) < 0)
                return -ENOMEM;
        ll->segs[ll->n_segs++] = (Segment) { .offset = ll->text.len, .line = line, .column = column };
        if (ll->n_segs == 1)
                ll->first_line = line;
        ll->last_line = line;
        return strbuf_append(&ll->text, s, n);
}

static void logical_line_position(const LogicalLine *ll, size_t offset, unsigned *ret_line, unsigned *ret_column) {
        size_t lo = 0, hi = ll->n_segs;
        const Segment *seg;

        /* The last segment starting at or before offset (segments are sorted by offset). */
        while (hi - lo > 1) {
                size_t mid = lo + (hi - lo) / 2;

                if (ll->segs[mid].offset <= offset)
                        lo = mid;
                else
                        hi = mid;
        }
        seg = &ll->segs[lo];
        *ret_line = seg->line;
        *ret_column = seg->column + (unsigned) (offset - seg->offset);
}

/* Go's unicode.IsSpace over ASCII, which is what Docker trims. */
static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* Docker splits words on [\t\v\f\r ]. */
static bool is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

typedef struct Parser {
        Dockerfile *df;
        const char *data;
        size_t size;
        size_t pos;
        unsigned line;             /* number of the last physical line read */
        bool directives_done;
        bool seen_escape, seen_syntax, seen_check;
        LogicalLine ll;            /* the logical line being parsed */
        DockerfileError *err;
        unsigned n_instructions;
} Parser;

static int parser_error(Parser *p, size_t offset, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int parser_error(Parser *p, size_t offset, const char *fmt, ...) {
        unsigned line = 0, column = 0;
        va_list ap;

        if (!p->err)
                return -EBADMSG;
        if (p->ll.n_segs > 0)
                logical_line_position(&p->ll, offset, &line, &column);
        else {
                line = p->line;
                column = 1;
        }
        dockerfile_error_set(p->err, p->df->filename, line, column, "%s", "");
        va_start(ap, fmt);
        vsnprintf(p->err->message, sizeof p->err->message, fmt, ap);
        va_end(ap);
        return -EBADMSG;
}

static int parser_warning(Parser *p, size_t offset, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int parser_warning(Parser *p, size_t offset, const char *fmt, ...) {
        DockerfileError *w, *n;
        va_list ap;

        if (p->df->n_warnings >= DOCKERFILE_WARNINGS_MAX)
                return 0;
        n = realloc(p->df->warnings, (p->df->n_warnings + 1) * sizeof *n);
        if (!n)
                return -ENOMEM;
        p->df->warnings = n;
        w = &n[p->df->n_warnings++];
        dockerfile_error_set(w, p->df->filename, 0, 0, "%s", "");
        logical_line_position(&p->ll, offset, &w->line, &w->column);
        va_start(ap, fmt);
        vsnprintf(w->message, sizeof w->message, fmt, ap);
        va_end(ap);
        return 0;
}

/* Next physical line without its line terminator ("\n" or "\r\n"). Returns false at end of data. */
static bool parser_next_physical(Parser *p, const char **ret, size_t *ret_len) {
        const char *s, *nl;
        size_t len;

        if (p->pos >= p->size)
                return false;
        s = p->data + p->pos;
        nl = memchr(s, '\n', p->size - p->pos);
        len = nl ? (size_t) (nl - s) : p->size - p->pos;
        p->pos += len + (nl ? 1 : 0);
        p->line++;
        if (p->line == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
                s += 3;
                len -= 3;
        }
        while (len > 0 && (s[len - 1] == '\r' || s[len - 1] == '\n'))
                len--;
        *ret = s;
        *ret_len = len;
        return true;
}

static size_t skip_space(const char *s, size_t len) {
        size_t i = 0;

        while (i < len && is_space(s[i]))
                i++;
        return i;
}

/* "# name=value" at the top of the file, before anything else (empty lines and other comments end the
 * directive section, as in Docker). */
static int parser_directive(Parser *p, const char *s, size_t len) {
        size_t i = 0, name_start, name_end, value_start, value_end;
        char name[16];

        if (p->directives_done)
                return 0;
        if (len == 0 || s[0] != '#')
                goto done;
        i = 1;
        while (i < len && (s[i] == ' ' || s[i] == '\t'))
                i++;
        name_start = i;
        if (i >= len || !isalpha((unsigned char) s[i]))
                goto done;
        while (i < len && isalnum((unsigned char) s[i]))
                i++;
        name_end = i;
        while (i < len && (s[i] == ' ' || s[i] == '\t'))
                i++;
        if (i >= len || s[i] != '=')
                goto done;
        i++;
        while (i < len && (s[i] == ' ' || s[i] == '\t'))
                i++;
        value_start = i;
        value_end = len;
        while (value_end > value_start && (s[value_end - 1] == ' ' || s[value_end - 1] == '\t'))
                value_end--;
        if (value_end == value_start || name_end - name_start >= sizeof name)
                goto done;
        memcpy(name, s + name_start, name_end - name_start);
        name[name_end - name_start] = 0;

        if (strcasecmp(name, "escape") == 0) {
                if (p->seen_escape)
                        return parser_error(p, 0, "only one escape parser directive can be used");
                p->seen_escape = true;
                if (value_end - value_start != 1 || (s[value_start] != '\\' && s[value_start] != '`'))
                        return parser_error(p, 0, "invalid escape character '%.*s'; expected '\\' or '`'",
                                            (int) MIN(value_end - value_start, (size_t) 32), s + value_start);
                p->df->escape = s[value_start];
        } else if (strcasecmp(name, "syntax") == 0) {
                if (p->seen_syntax)
                        return parser_error(p, 0, "only one syntax parser directive can be used");
                p->seen_syntax = true;
                p->df->syntax = strndup(s + value_start, value_end - value_start);
                if (!p->df->syntax)
                        return -ENOMEM;
        } else if (strcasecmp(name, "check") == 0) {
                if (p->seen_check)
                        return parser_error(p, 0, "only one check parser directive can be used");
                p->seen_check = true;
        } else
                goto done;
        return 0;
done:
        p->directives_done = true;
        return 0;
}

/* A physical line ending in the escape character (optionally followed by blanks) continues. Returns
 * the length of the content before the escape character, or len when the line does not continue. */
static size_t trim_continuation(const char *s, size_t len, char escape, bool *ret_continues) {
        size_t e = len;

        while (e > 0 && (s[e - 1] == ' ' || s[e - 1] == '\t'))
                e--;
        if (e > 0 && s[e - 1] == escape) {
                *ret_continues = true;
                return e - 1;
        }
        *ret_continues = false;
        return len;
}

/* Reads the next logical line into p->ll. Returns 1 when one was read, 0 at end of file. */
static int parser_read_logical(Parser *p) {
        const char *s;
        size_t len;

        logical_line_done(&p->ll);
        for (;;) {
                size_t lead, n;
                bool continues;
                int r;

                if (!parser_next_physical(p, &s, &len))
                        return 0;
                lead = skip_space(s, len);
                r = parser_directive(p, s + lead, len - lead);
                if (r < 0)
                        return r;
                if (lead == len || s[lead] == '#')
                        continue;

                n = trim_continuation(s + lead, len - lead, p->df->escape, &continues);
                r = logical_line_add(&p->ll, s + lead, n, p->line, (unsigned) lead + 1);
                if (r < 0)
                        return r;
                while (continues) {
                        unsigned cont_line = p->line;
                        size_t l2;

                        if (!parser_next_physical(p, &s, &len)) {
                                p->ll.n_segs = 0;
                                p->line = cont_line;
                                return parser_error(p, 0,
                                                    "the file ends right after a line continuation ('%c'); "
                                                    "remove the trailing '%c' or complete the instruction",
                                                    p->df->escape, p->df->escape);
                        }
                        l2 = skip_space(s, len);
                        if (l2 < len && s[l2] == '#')
                                continue; /* comment lines inside a continuation are dropped */
                        if (l2 == len) {
                                p->ll.empty_continuation = true;
                                continue;
                        }
                        n = trim_continuation(s, len, p->df->escape, &continues);
                        r = logical_line_add(&p->ll, s, n, p->line, 1);
                        if (r < 0)
                                return r;
                }
                /* Docker trims the whole logical line; one made of blanks only is no instruction. */
                while (p->ll.text.len > 0 && is_space(p->ll.text.data[p->ll.text.len - 1]))
                        p->ll.text.data[--p->ll.text.len] = 0;
                if (skip_space(p->ll.text.data, p->ll.text.len) == p->ll.text.len) {
                        logical_line_done(&p->ll);
                        continue;
                }
                return 1;
        }
}

/* ---- argument helpers ---- */

/* A piece of the logical line: text plus its offset in the logical line (for error positions). */
typedef struct Word {
        char *text;
        size_t offset;
} Word;

typedef struct WordList {
        Word *words;
        size_t n;
        size_t allocated;
} WordList;

static void word_list_done(WordList *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->words[i].text);
        free(l->words);
        *l = (WordList) {};
}

static int word_list_add(WordList *l, const char *s, size_t n, size_t offset) {
        Word *w;

        if (grow((void **) &l->words, &l->allocated, l->n, sizeof *l->words) < 0)
                return -ENOMEM;
        w = l->words;
        w[l->n].text = strndup(s, n);
        if (!w[l->n].text)
                return -ENOMEM;
        w[l->n++].offset = offset;
        return 0;
}

/* Split at runs of blanks, no quote handling (Docker's parseStringsWhitespaceDelimited). */
static int split_blanks(const char *s, size_t base, WordList *ret) {
        size_t i = 0;
        int r;

        for (;;) {
                size_t start;

                while (s[i] && is_blank(s[i]))
                        i++;
                if (!s[i])
                        return 0;
                start = i;
                while (s[i] && !is_blank(s[i]))
                        i++;
                r = word_list_add(ret, s + start, i - start, base + start);
                if (r < 0)
                        return r;
        }
}

/* Split at unquoted whitespace keeping quotes and escapes in the words (Docker's parseWords, used for
 * ENV, LABEL and ARG). An unterminated quote ends its word at the end of the line; the later syntax
 * check of the value reports it. */
static int split_words_quoted(const char *s, size_t base, char escape, WordList *ret) {
        size_t i = 0;
        int r;

        for (;;) {
                size_t start;
                char quote = 0;

                while (s[i] && is_space(s[i]))
                        i++;
                if (!s[i])
                        return 0;
                start = i;
                for (; s[i]; i++) {
                        if (quote) {
                                if (s[i] == quote)
                                        quote = 0;
                                else if (s[i] == escape && quote != '\'' && s[i + 1])
                                        i++;
                                continue;
                        }
                        if (is_space(s[i]))
                                break;
                        if (s[i] == '\'' || s[i] == '"')
                                quote = s[i];
                        else if (s[i] == escape && s[i + 1])
                                i++;
                }
                r = word_list_add(ret, s + start, i - start, base + start);
                if (r < 0)
                        return r;
        }
}

static int check_expandable(Parser *p, const char *what, const char *s, size_t offset) {
        char msg[256];
        size_t o = 0;
        int r;

        r = dockerfile_check_word(s, p->df->escape, &o, msg, sizeof msg);
        if (r == -EBADMSG)
                return parser_error(p, offset + o, "%s: %s", what, msg);
        return r;
}

/* Parses a JSON array of strings. Returns 1 when s is one, 0 when s is not valid JSON or not an array
 * (Docker then uses the shell form), -EBADMSG for a JSON array holding something other than strings. */
static int parse_json_array(Parser *p, const char *s, size_t offset, const char *kw, char ***ret_argv,
                            size_t *ret_n) {
        _cleanup_json_ json_t *j = NULL;
        _cleanup_strv_free_ char **argv = NULL;
        json_error_t jerr;
        size_t idx;
        json_t *v;
        int r;

        if (s[skip_space(s, strlen(s))] != '[')
                return 0;
        j = json_loads(s, 0, &jerr);
        if (!j || !json_is_array(j))
                return 0;
        argv = calloc(1, sizeof(char *));
        if (!argv)
                return -ENOMEM;
        json_array_foreach(j, idx, v) {
                if (!json_is_string(v))
                        return parser_error(p, offset,
                                            "%s: when using JSON array syntax, arrays must be comprised of "
                                            "strings only; quote element %zu",
                                            kw, idx + 1);
                r = strv_extend(&argv, json_string_value(v));
                if (r < 0)
                        return r;
        }
        *ret_n = json_array_size(j);
        *ret_argv = TAKE_PTR(argv);
        return 1;
}

/* RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK CMD: exec form when the text is a JSON array of strings,
 * shell form otherwise, as Docker does (with a warning when it looked like a JSON array). */
static int parse_maybe_json(Parser *p, DockerfileInstruction *in, const char *kw, const char *s, size_t offset) {
        size_t lead = skip_space(s, strlen(s));
        int r;

        r = parse_json_array(p, s, offset, kw, &in->argv, &in->n_argv);
        if (r < 0)
                return r;
        if (r > 0) {
                in->json_form = true;
                return 0;
        }
        if (s[lead] == '[') {
                r = parser_warning(p, offset + lead,
                                   "%s arguments start with '[' but are not a valid JSON array of strings; "
                                   "they are run as a shell command",
                                   kw);
                if (r < 0)
                        return r;
        }
        in->shell = strdup(s);
        return in->shell ? 0 : -ENOMEM;
}

/* Refuses heredocs (<<EOF), which Slipway does not implement: a word like <<EOF, <<-EOF, <<"EOF". */
static int check_no_heredoc(Parser *p, const char *kw, const char *s, size_t offset) {
        for (size_t i = 0; s[i]; i++) {
                size_t j = i;

                if (i > 0 && !is_blank(s[i - 1]))
                        continue;
                while (isdigit((unsigned char) s[j]))
                        j++;
                if (s[j] != '<' || s[j + 1] != '<')
                        continue;
                j += 2;
                if (s[j] == '-')
                        j++;
                if (s[j] == '"' || s[j] == '\'')
                        j++;
                if (isalpha((unsigned char) s[j]) || s[j] == '_')
                        return parser_error(p, offset + i,
                                            "%s: heredocs (<<%s) are not supported; put the content in a file in "
                                            "the build context and COPY it",
                                            kw, "EOF");
        }
        return 0;
}

/* ---- flags ---- */

typedef enum FlagKind {
        FLAG_VALUE,     /* --name=value required */
        FLAG_BOOL,      /* --name or --name=true|false */
        FLAG_REFUSED,   /* known to Docker, refused by Slipway with a reason */
} FlagKind;

typedef struct FlagSpec {
        const char *name;
        FlagKind kind;
        const char *reason;
} FlagSpec;

static const FlagSpec from_flags[] = { { "platform", FLAG_VALUE } };
static const FlagSpec run_flags[] = {
        { "network", FLAG_VALUE },
        { "mount", FLAG_REFUSED,
          "RUN --mount is not supported; copy what the step needs into the stage with COPY" },
        { "security", FLAG_REFUSED,
          "RUN --security is not supported; build steps always run unprivileged in a sandbox" },
};
static const FlagSpec copy_flags[] = {
        { "from", FLAG_VALUE },
        { "chown", FLAG_VALUE },
        { "chmod", FLAG_VALUE },
        { "link", FLAG_BOOL },
        { "parents", FLAG_REFUSED, "COPY --parents is not supported; copy each directory explicitly" },
        { "exclude", FLAG_REFUSED, "--exclude is not supported; use .dockerignore to leave files out" },
};
static const FlagSpec add_flags[] = {
        { "chown", FLAG_VALUE },
        { "chmod", FLAG_VALUE },
        { "link", FLAG_BOOL },
        { "checksum", FLAG_REFUSED, DOCKERFILE_ADD_URL_MESSAGE },
        { "keep-git-dir", FLAG_REFUSED, DOCKERFILE_ADD_URL_MESSAGE },
        { "exclude", FLAG_REFUSED, "--exclude is not supported; use .dockerignore to leave files out" },
};
static const FlagSpec healthcheck_flags[] = {
        { "interval", FLAG_VALUE },
        { "timeout", FLAG_VALUE },
        { "start-period", FLAG_VALUE },
        { "start-interval", FLAG_VALUE },
        { "retries", FLAG_VALUE },
};

static void flag_specs(DockerfileInstructionKind k, const FlagSpec **ret, size_t *ret_n) {
#define SPECS(a)                        \
        do {                            \
                *ret = a;               \
                *ret_n = ELEMENTSOF(a); \
                return;                 \
        } while (0)
        switch (k) {
        case DOCKERFILE_FROM:
                SPECS(from_flags);
        case DOCKERFILE_RUN:
                SPECS(run_flags);
        case DOCKERFILE_COPY:
                SPECS(copy_flags);
        case DOCKERFILE_ADD:
                SPECS(add_flags);
        case DOCKERFILE_HEALTHCHECK:
                SPECS(healthcheck_flags);
        default:
                *ret = NULL;
                *ret_n = 0;
        }
#undef SPECS
}

static void format_flag_names(DockerfileInstructionKind k, char *buf, size_t size) {
        const FlagSpec *specs;
        size_t n, used = 0;

        flag_specs(k, &specs, &n);
        buf[0] = 0;
        for (size_t i = 0; i < n && used < size; i++)
                if (specs[i].kind != FLAG_REFUSED)
                        used += snprintf(buf + used, size - used, "%s--%s", used ? ", " : "", specs[i].name);
}

/* Leading --flags of an instruction (Docker's extractBuilderFlags: quotes removed, '\' escapes, "--"
 * ends the flags). Returns the offset in s where the arguments start. */
static int parse_flags(Parser *p, DockerfileInstruction *in, const char *kw, const char *s, size_t base,
                       size_t *ret_rest) {
        size_t i = 0;
        int r;

        for (;;) {
                _cleanup_(strbuf_done) StrBuf word = {};
                const FlagSpec *specs, *spec = NULL;
                DockerfileFlag *f;
                size_t start, n_specs;
                char quote = 0, *eq;
                bool blank_ok = false;

                while (s[i] && is_space(s[i]))
                        i++;
                if (s[i] != '-' || s[i + 1] != '-')
                        break;
                start = i;
                for (; s[i]; i++) {
                        char c = s[i];

                        if (!quote && is_space(c))
                                break;
                        if (!quote && (c == '\'' || c == '"')) {
                                quote = c;
                                blank_ok = true;
                                continue;
                        }
                        if (quote && c == quote) {
                                quote = 0;
                                continue;
                        }
                        if (c == '\\') {
                                if (!s[i + 1])
                                        continue;
                                c = s[++i];
                        }
                        r = strbuf_append_char(&word, c);
                        if (r < 0)
                                return r;
                }
                if (!word.data && !blank_ok)
                        continue;
                if (streq(strempty(word.data), "--"))
                        break;

                eq = strchr(word.data, '=');
                if (eq)
                        *eq = 0;
                flag_specs(in->kind, &specs, &n_specs);
                for (size_t k = 0; k < n_specs; k++)
                        if (streq(specs[k].name, word.data + 2))
                                spec = &specs[k];
                if (!spec) {
                        char names[128];

                        format_flag_names(in->kind, names, sizeof names);
                        if (names[0])
                                return parser_error(p, base + start, "%s: unknown flag '%s'; expected %s", kw,
                                                    word.data, names);
                        return parser_error(p, base + start, "%s: unknown flag '%s'; %s takes no flags", kw,
                                            word.data, kw);
                }
                if (spec->kind == FLAG_REFUSED)
                        return parser_error(p, base + start, "%s", spec->reason);
                if (spec->kind == FLAG_VALUE && (!eq || eq[1] == 0))
                        return parser_error(p, base + start, "%s: flag '%s' requires a value, e.g. %s=VALUE", kw,
                                            word.data, word.data);
                if (spec->kind == FLAG_BOOL && eq && strcasecmp(eq + 1, "true") != 0 &&
                    strcasecmp(eq + 1, "false") != 0)
                        return parser_error(p, base + start, "%s: flag '%s' expects true or false, not '%s'", kw,
                                            word.data, eq + 1);
                if (dockerfile_instruction_get_flag(in, word.data + 2, NULL) >= 0)
                        return parser_error(p, base + start, "%s: flag '%s' given twice", kw, word.data);
                if (eq && spec->kind == FLAG_VALUE) {
                        r = check_expandable(p, kw, eq + 1, base + start);
                        if (r < 0)
                                return r;
                }

                f = realloc(in->flags, (in->n_flags + 1) * sizeof *f);
                if (!f)
                        return -ENOMEM;
                in->flags = f;
                f = &f[in->n_flags];
                *f = (DockerfileFlag) { .name = strdup(word.data + 2), .value = eq ? strdup(eq + 1) : NULL };
                in->n_flags++;
                if (!f->name || (eq && !f->value))
                        return -ENOMEM;
        }
        *ret_rest = i;
        return 0;
}

/* ---- Go-style durations for HEALTHCHECK ("30s", "1m30s", "1.5h", "250ms") ---- */

static int parse_duration(const char *s, uint64_t *ret) {
        static const struct {
                const char *unit;
                uint64_t ns;
        } units[] = {
                { "ns", 1ULL }, { "us", 1000ULL }, { "\xc2\xb5s", 1000ULL }, { "\xce\xbcs", 1000ULL },
                { "ms", 1000000ULL }, { "s", 1000000000ULL }, { "m", 60000000000ULL }, { "h", 3600000000000ULL },
        };
        long double total = 0;

        if (streq(s, "0")) {
                *ret = 0;
                return 0;
        }
        if (!*s)
                return -EINVAL;
        while (*s) {
                long double v = 0, scale = 1;
                bool digits = false;
                size_t best = SIZE_MAX, best_len = 0;

                while (isdigit((unsigned char) *s)) {
                        v = v * 10 + (*s++ - '0');
                        digits = true;
                }
                if (*s == '.') {
                        s++;
                        while (isdigit((unsigned char) *s)) {
                                scale /= 10;
                                v += scale * (*s++ - '0');
                                digits = true;
                        }
                }
                if (!digits)
                        return -EINVAL;
                for (size_t k = 0; k < ELEMENTSOF(units); k++) {
                        size_t l = strlen(units[k].unit);

                        if (strncmp(s, units[k].unit, l) == 0 && l > best_len) {
                                best = k;
                                best_len = l;
                        }
                }
                if (best == SIZE_MAX)
                        return -EINVAL;
                s += best_len;
                total += v * units[best].ns;
                if (total > (long double) INT64_MAX)
                        return -ERANGE;
        }
        *ret = (uint64_t) total;
        return 0;
}

/* ---- per-instruction parsers ---- */

static int parse_instruction(Parser *p, DockerfileInstruction *in, size_t kw_offset, bool trigger);

static int parse_from(Parser *p, DockerfileInstruction *in, const char *s, size_t base) {
        _cleanup_(word_list_done) WordList w = {};
        int r;

        r = split_blanks(s, base, &w);
        if (r < 0)
                return r;
        if (w.n == 3 && strcasecmp(w.words[1].text, "AS") == 0) {
                char *name = w.words[2].text;

                for (char *c = name; *c; c++)
                        *c = (char) tolower((unsigned char) *c);
                if (!islower((unsigned char) name[0]) || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-_.") !=
                                                                 strlen(name))
                        return parser_error(p, w.words[2].offset,
                                            "FROM: invalid stage name '%s'; a name starts with a letter and "
                                            "contains only letters, digits, '-', '_' and '.'",
                                            name);
                in->stage_name = TAKE_PTR(w.words[2].text);
        } else if (w.n != 1)
                return parser_error(p, w.n > 0 ? w.words[w.n - 1].offset : in->column - 1,
                                    "FROM requires either one argument (the base image) or three "
                                    "(image AS name)");
        r = check_expandable(p, "FROM", w.words[0].text, w.words[0].offset);
        if (r < 0)
                return r;
        in->argv = calloc(2, sizeof(char *));
        if (!in->argv)
                return -ENOMEM;
        in->argv[0] = TAKE_PTR(w.words[0].text);
        in->n_argv = 1;
        return 0;
}

static int argv_from_words(DockerfileInstruction *in, WordList *w) {
        in->argv = calloc(w->n + 1, sizeof(char *));
        if (!in->argv)
                return -ENOMEM;
        for (size_t i = 0; i < w->n; i++)
                in->argv[i] = TAKE_PTR(w->words[i].text);
        in->n_argv = w->n;
        return 0;
}

static int parse_run_like(Parser *p, DockerfileInstruction *in, const char *kw, const char *s, size_t base) {
        const char *network;
        int r;

        if (dockerfile_instruction_get_flag(in, "network", &network) >= 0 && !streq(network, "none") &&
            !streq(network, "default"))
                return parser_error(p, base, "RUN --network=%s is not supported; build steps run without network "
                                             "access (use --network=none or leave the flag out)", network);
        if (isempty(s + skip_space(s, strlen(s))))
                return parser_error(p, base,
                                    "%s requires at least one argument, e.g. %s [\"executable\", \"arg\"]", kw, kw);
        r = parse_maybe_json(p, in, kw, s, base);
        if (r < 0)
                return r;
        if (in->kind == DOCKERFILE_RUN && !in->json_form)
                return check_no_heredoc(p, kw, s, base);
        return 0;
}

static int parse_shell(Parser *p, DockerfileInstruction *in, const char *s, size_t base) {
        int r;

        r = parse_json_array(p, s, base, "SHELL", &in->argv, &in->n_argv);
        if (r < 0)
                return r;
        if (r == 0)
                return parser_error(p, base,
                                    "SHELL requires the arguments in JSON form, e.g. SHELL [\"/bin/sh\", \"-c\"]");
        if (in->n_argv == 0)
                return parser_error(p, base,
                                    "SHELL requires at least one argument, e.g. SHELL [\"/bin/sh\", \"-c\"]");
        in->json_form = true;
        return 0;
}

static int add_pair(DockerfileInstruction *in, const char *key, size_t key_len, const char *value) {
        DockerfileKeyValue *kv;

        kv = realloc(in->pairs, (in->n_pairs + 1) * sizeof *kv);
        if (!kv)
                return -ENOMEM;
        in->pairs = kv;
        kv[in->n_pairs] = (DockerfileKeyValue) {
                .key = strndup(key, key_len),
                .value = value ? strdup(value) : NULL,
        };
        in->n_pairs++;
        if (!kv[in->n_pairs - 1].key || (value && !kv[in->n_pairs - 1].value))
                return -ENOMEM;
        return 0;
}

/* ENV and LABEL: "KEY value…" (legacy) or "k=v k2='v 2'…". */
static int parse_name_value(Parser *p, DockerfileInstruction *in, const char *kw, const char *s, size_t base) {
        _cleanup_(word_list_done) WordList w = {};
        int r;

        r = split_words_quoted(s, base, p->df->escape, &w);
        if (r < 0)
                return r;
        if (w.n == 0)
                return parser_error(p, base, "%s requires at least one argument, e.g. %s name=value", kw, kw);

        if (!strchr(w.words[0].text, '=')) {
                /* Legacy form: the first blank-separated word is the key, the rest of the line the value. */
                size_t k = 0, v;

                while (s[k] && !is_blank(s[k]))
                        k++;
                v = k;
                while (s[v] && is_blank(s[v]))
                        v++;
                if (!s[v])
                        return parser_error(p, base, "%s %s: missing value; write %s %s=value", kw,
                                            w.words[0].text, kw, w.words[0].text);
                r = check_expandable(p, kw, w.words[0].text, base);
                if (r < 0)
                        return r;
                r = check_expandable(p, kw, s + v, base + v);
                if (r < 0)
                        return r;
                return add_pair(in, s, k, s + v);
        }

        for (size_t i = 0; i < w.n; i++) {
                char *eq = strchr(w.words[i].text, '=');

                if (!eq)
                        return parser_error(p, w.words[i].offset,
                                            "%s: can't find '=' in '%s'; expected name=value", kw,
                                            w.words[i].text);
                if (eq == w.words[i].text)
                        return parser_error(p, w.words[i].offset, "%s: name before '=' must not be empty", kw);
                *eq = 0;
                r = check_expandable(p, kw, w.words[i].text, w.words[i].offset);
                if (r < 0)
                        return r;
                r = check_expandable(p, kw, eq + 1, w.words[i].offset + (size_t) (eq + 1 - w.words[i].text));
                if (r < 0)
                        return r;
                r = add_pair(in, w.words[i].text, strlen(w.words[i].text), eq + 1);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_arg(Parser *p, DockerfileInstruction *in, const char *s, size_t base) {
        _cleanup_(word_list_done) WordList w = {};
        int r;

        r = split_words_quoted(s, base, p->df->escape, &w);
        if (r < 0)
                return r;
        if (w.n == 0)
                return parser_error(p, base,
                                    "ARG requires at least one argument, e.g. ARG NAME or ARG NAME=default");
        for (size_t i = 0; i < w.n; i++) {
                char *eq = strchr(w.words[i].text, '=');

                if (eq == w.words[i].text)
                        return parser_error(p, w.words[i].offset, "ARG: name before '=' must not be empty");
                if (eq) {
                        *eq = 0;
                        r = check_expandable(p, "ARG", eq + 1,
                                             w.words[i].offset + (size_t) (eq + 1 - w.words[i].text));
                        if (r < 0)
                                return r;
                }
                r = check_expandable(p, "ARG", w.words[i].text, w.words[i].offset);
                if (r < 0)
                        return r;
                r = add_pair(in, w.words[i].text, strlen(w.words[i].text), eq ? eq + 1 : NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_copy_add(Parser *p, DockerfileInstruction *in, const char *kw, const char *s, size_t base) {
        _cleanup_(word_list_done) WordList w = {};
        const char *v;
        int r;

        r = parse_json_array(p, s, base, kw, &in->argv, &in->n_argv);
        if (r < 0)
                return r;
        if (r > 0) {
                in->json_form = true;
                /* JSON strings are expanded too; their syntax errors point at the array. */
                for (size_t i = 0; i < in->n_argv; i++) {
                        r = check_expandable(p, kw, in->argv[i], base);
                        if (r < 0)
                                return r;
                }
        } else {
                r = check_no_heredoc(p, kw, s, base);
                if (r < 0)
                        return r;
                r = split_blanks(s, base, &w);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < w.n; i++) {
                        r = check_expandable(p, kw, w.words[i].text, w.words[i].offset);
                        if (r < 0)
                                return r;
                }
                r = argv_from_words(in, &w);
                if (r < 0)
                        return r;
        }
        if (in->n_argv < 2)
                return parser_error(p, base, "%s requires at least two arguments (source… destination), but %s "
                                    "given", kw, in->n_argv == 0 ? "none was" : "only one was");
        if (in->kind == DOCKERFILE_ADD)
                for (size_t i = 0; i + 1 < in->n_argv; i++) {
                        const char *a = in->argv[i];

                        if (*a == '"' || *a == '\'')
                                a++;
                        if (dockerfile_source_is_remote(a))
                                return parser_error(p, base, DOCKERFILE_ADD_URL_MESSAGE);
                }
        if (dockerfile_instruction_get_flag(in, "chmod", &v) >= 0 && !strchr(v, '$') &&
            (strspn(v, "01234567") != strlen(v) || strlen(v) > 4 || strtoul(v, NULL, 8) > 07777))
                return parser_error(p, base, "%s: invalid --chmod=%s; expected an octal mode such as 0755", kw, v);
        return 0;
}

static int parse_volume(Parser *p, DockerfileInstruction *in, const char *s, size_t base) {
        _cleanup_(word_list_done) WordList w = {};
        int r;

        r = parse_json_array(p, s, base, "VOLUME", &in->argv, &in->n_argv);
        if (r < 0)
                return r;
        if (r > 0) {
                in->json_form = true;
                for (size_t i = 0; i < in->n_argv; i++) {
                        r = check_expandable(p, "VOLUME", in->argv[i], base);
                        if (r < 0)
                                return r;
                }
        } else {
                r = split_blanks(s, base, &w);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < w.n; i++) {
                        r = check_expandable(p, "VOLUME", w.words[i].text, w.words[i].offset);
                        if (r < 0)
                                return r;
                }
                r = argv_from_words(in, &w);
                if (r < 0)
                        return r;
        }
        if (in->n_argv == 0)
                return parser_error(p, base, "VOLUME requires at least one argument, e.g. VOLUME /data");
        for (size_t i = 0; i < in->n_argv; i++)
                if (isempty(in->argv[i]))
                        return parser_error(p, base, "VOLUME: a volume path can not be an empty string");
        return 0;
}

/* port, port/proto, or a range first-last[/proto]. */
static bool expose_port_valid(const char *s) {
        char *end;
        unsigned long a, b;
        const char *slash = strchr(s, '/');

        if (slash && !streq(slash + 1, "tcp") && !streq(slash + 1, "udp") && !streq(slash + 1, "sctp") &&
            strcasecmp(slash + 1, "tcp") != 0 && strcasecmp(slash + 1, "udp") != 0 &&
            strcasecmp(slash + 1, "sctp") != 0)
                return false;
        if (!isdigit((unsigned char) *s))
                return false;
        a = strtoul(s, &end, 10);
        if (a == 0 || a > 65535)
                return false;
        if (*end == '-') {
                if (!isdigit((unsigned char) end[1]))
                        return false;
                b = strtoul(end + 1, &end, 10);
                if (b < a || b > 65535)
                        return false;
        }
        return *end == 0 || end == slash;
}

bool dockerfile_expose_port_is_valid(const char *s) {
        return expose_port_valid(s);
}

static int parse_expose(Parser *p, DockerfileInstruction *in, const char *s, size_t base) {
        _cleanup_(word_list_done) WordList w = {};
        int r;

        r = split_blanks(s, base, &w);
        if (r < 0)
                return r;
        if (w.n == 0)
                return parser_error(p, base, "EXPOSE requires at least one argument, e.g. EXPOSE 8080/tcp");
        for (size_t i = 0; i < w.n; i++) {
                r = check_expandable(p, "EXPOSE", w.words[i].text, w.words[i].offset);
                if (r < 0)
                        return r;
                if (!strchr(w.words[i].text, '$') && !strchr(w.words[i].text, '"') &&
                    !strchr(w.words[i].text, '\'') && !expose_port_valid(w.words[i].text))
                        return parser_error(p, w.words[i].offset,
                                            "EXPOSE: invalid port '%s'; expected PORT, PORT/PROTOCOL or "
                                            "FIRST-LAST/PROTOCOL with a port from 1 to 65535 and protocol tcp, "
                                            "udp or sctp",
                                            w.words[i].text);
        }
        return argv_from_words(in, &w);
}

/* WORKDIR, USER, STOPSIGNAL, MAINTAINER: the rest of the line is one value. */
static int parse_string(Parser *p, DockerfileInstruction *in, const char *kw, const char *s, size_t base,
                        bool expandable) {
        int r;

        if (!*s) {
                static const char *const examples[_DOCKERFILE_INSTRUCTION_MAX] = {
                        [DOCKERFILE_WORKDIR] = "/app",
                        [DOCKERFILE_USER] = "app:app",
                        [DOCKERFILE_STOPSIGNAL] = "SIGTERM",
                        [DOCKERFILE_MAINTAINER] = "name@example.com",
                };
                return parser_error(p, base, "%s requires exactly one argument, e.g. %s %s", kw, kw,
                                    strempty(examples[in->kind]));
        }
        if (expandable) {
                r = check_expandable(p, kw, s, base);
                if (r < 0)
                        return r;
        }
        in->shell = strdup(s);
        return in->shell ? 0 : -ENOMEM;
}

static int parse_healthcheck(Parser *p, DockerfileInstruction *in, const char *s, size_t base) {
        static const struct {
                const char *name;
                size_t offset;
        } durations[] = {
                { "interval", offsetof(DockerfileHealthcheck, interval_ns) },
                { "timeout", offsetof(DockerfileHealthcheck, timeout_ns) },
                { "start-period", offsetof(DockerfileHealthcheck, start_period_ns) },
                { "start-interval", offsetof(DockerfileHealthcheck, start_interval_ns) },
        };
        size_t k = 0, rest;
        const char *v;

        in->healthcheck.retries = -1;
        while (s[k] && !is_blank(s[k]))
                k++;
        if (k == 0)
                return parser_error(p, base, "HEALTHCHECK requires an argument: CMD command… or NONE");
        rest = k + skip_space(s + k, strlen(s + k));
        if (k == 4 && strncasecmp(s, "NONE", 4) == 0) {
                if (in->n_flags > 0 || s[rest])
                        return parser_error(p, base, "HEALTHCHECK NONE takes no arguments or flags");
                in->healthcheck.none = true;
                return 0;
        }
        if (k != 3 || strncasecmp(s, "CMD", 3) != 0)
                return parser_error(p, base, "HEALTHCHECK: unknown type '%.*s'; expected CMD command… or NONE",
                                    (int) MIN(k, (size_t) 64), s);
        if (!s[rest])
                return parser_error(p, base + k, "HEALTHCHECK CMD: missing command after CMD");

        for (size_t d = 0; d < ELEMENTSOF(durations); d++) {
                uint64_t ns;

                if (dockerfile_instruction_get_flag(in, durations[d].name, &v) < 0)
                        continue;
                if (parse_duration(v, &ns) < 0)
                        return parser_error(p, base, "HEALTHCHECK: invalid --%s=%s; expected a duration such as "
                                            "30s, 1m30s or 500ms", durations[d].name, v);
                if (ns > 0 && ns < 1000000ULL)
                        return parser_error(p, base, "HEALTHCHECK: --%s=%s is shorter than the minimum of 1ms",
                                            durations[d].name, v);
                *(uint64_t *) ((char *) &in->healthcheck + durations[d].offset) = ns;
        }
        if (dockerfile_instruction_get_flag(in, "retries", &v) >= 0) {
                char *end;
                long n;

                errno = 0;
                n = strtol(v, &end, 10);
                if (errno != 0 || *end || end == v || n > INT32_MAX || n < INT32_MIN)
                        return parser_error(p, base, "HEALTHCHECK: invalid --retries=%s; expected a number", v);
                if (n < 0)
                        return parser_error(p, base, "HEALTHCHECK: --retries can not be negative");
                in->healthcheck.retries = (int) n;
        }
        return parse_maybe_json(p, in, "HEALTHCHECK CMD", s + rest, base + rest);
}

static int parse_onbuild(Parser *p, DockerfileInstruction *in, const char *s, size_t base) {
        _cleanup_(dockerfile_instruction_freep) DockerfileInstruction *sub = NULL;
        int r;

        if (!*s)
                return parser_error(p, base, "ONBUILD requires an instruction, e.g. ONBUILD COPY . /app");
        sub = calloc(1, sizeof *sub);
        if (!sub)
                return -ENOMEM;
        r = parse_instruction(p, sub, base, true);
        if (r < 0)
                return r;
        in->trigger = strdup(s);
        if (!in->trigger)
                return -ENOMEM;
        in->onbuild = TAKE_PTR(sub);
        return 0;
}

static unsigned edit_distance(const char *a, const char *b) {
        unsigned prev[32], cur[32];
        size_t la = strlen(a), lb = strlen(b);

        if (la >= 31 || lb >= 31)
                return UINT32_MAX;
        for (size_t j = 0; j <= lb; j++)
                prev[j] = (unsigned) j;
        for (size_t i = 1; i <= la; i++) {
                cur[0] = (unsigned) i;
                for (size_t j = 1; j <= lb; j++) {
                        unsigned sub = prev[j - 1] + (toupper((unsigned char) a[i - 1]) != b[j - 1]);

                        cur[j] = MIN(MIN(prev[j] + 1, cur[j - 1] + 1), sub);
                }
                memcpy(prev, cur, sizeof cur);
        }
        return prev[lb];
}

static int unknown_instruction(Parser *p, const char *kw, size_t offset) {
        const char *best = NULL;
        unsigned best_d = 3;
        char list[256] = "";
        size_t used = 0;

        for (int k = 0; k < _DOCKERFILE_INSTRUCTION_MAX; k++) {
                unsigned d = edit_distance(kw, instruction_table[k]);

                if (d < best_d) {
                        best_d = d;
                        best = instruction_table[k];
                }
                used += snprintf(list + used, sizeof list - MIN(used, sizeof list), "%s%s", k ? ", " : "",
                                 instruction_table[k]);
                used = MIN(used, sizeof list);
        }
        if (best)
                return parser_error(p, offset,
                                    "unknown instruction '%.64s' (did you mean %s?); expected one of %s", kw, best,
                                    list);
        return parser_error(p, offset, "unknown instruction '%.64s'; expected one of %s", kw, list);
}

/* Parses the instruction starting at kw_offset of the current logical line into in. */
static int parse_instruction(Parser *p, DockerfileInstruction *in, size_t kw_offset, bool trigger) {
        const char *text = p->ll.text.data, *kwname, *args;
        _cleanup_free_ char *kw = NULL;
        size_t k = kw_offset, args_offset = 0;
        int kind, r;

        while (text[k] && !is_space(text[k]))
                k++;
        kw = strndup(text + kw_offset, k - kw_offset);
        if (!kw)
                return -ENOMEM;
        logical_line_position(&p->ll, kw_offset, &in->line, &in->column);
        in->end_line = p->ll.last_line;
        in->original = strdup(text + kw_offset);
        if (!in->original)
                return -ENOMEM;

        kind = dockerfile_instruction_from_string(kw);
        if (kind < 0)
                return unknown_instruction(p, kw, kw_offset);
        in->kind = kind;
        kwname = instruction_table[kind];
        if (trigger && (kind == DOCKERFILE_ONBUILD || kind == DOCKERFILE_FROM || kind == DOCKERFILE_MAINTAINER))
                return parser_error(p, kw_offset, "%s isn't allowed as an ONBUILD trigger", kwname);

        while (text[k] && is_space(text[k]))
                k++;
        r = parse_flags(p, in, kwname, text + k, k, &args_offset);
        if (r < 0)
                return r;
        args_offset += k;
        args = text + args_offset;

        switch (in->kind) {
        case DOCKERFILE_FROM:
                r = parse_from(p, in, args, args_offset);
                break;
        case DOCKERFILE_RUN:
        case DOCKERFILE_CMD:
        case DOCKERFILE_ENTRYPOINT:
                r = parse_run_like(p, in, kwname, args, args_offset);
                break;
        case DOCKERFILE_SHELL:
                r = parse_shell(p, in, args, args_offset);
                break;
        case DOCKERFILE_ENV:
        case DOCKERFILE_LABEL:
                r = parse_name_value(p, in, kwname, args, args_offset);
                break;
        case DOCKERFILE_ARG:
                r = parse_arg(p, in, args, args_offset);
                break;
        case DOCKERFILE_COPY:
        case DOCKERFILE_ADD:
                r = parse_copy_add(p, in, kwname, args, args_offset);
                break;
        case DOCKERFILE_VOLUME:
                r = parse_volume(p, in, args, args_offset);
                break;
        case DOCKERFILE_EXPOSE:
                r = parse_expose(p, in, args, args_offset);
                break;
        case DOCKERFILE_WORKDIR:
        case DOCKERFILE_USER:
        case DOCKERFILE_STOPSIGNAL:
                r = parse_string(p, in, kwname, args, args_offset, true);
                break;
        case DOCKERFILE_MAINTAINER:
                r = parse_string(p, in, kwname, args, args_offset, false);
                break;
        case DOCKERFILE_HEALTHCHECK:
                r = parse_healthcheck(p, in, args, args_offset);
                break;
        case DOCKERFILE_ONBUILD:
                r = parse_onbuild(p, in, args, args_offset);
                break;
        default:
                r = -EINVAL;
        }
        return r;
}

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
                                return parser_error(p, 0, "duplicate stage name '%s'; it is already used by the "
                                                    "stage at line %u", in->stage_name,
                                                    p->df->stages[i].from.line);
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
                        r = parser_warning(p, 0, "empty continuation line in this instruction; a future Docker "
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
                                return parser_error(p, 0, "%s before the first FROM; only ARG may come before "
                                                    "FROM, start the stage with FROM image",
                                                    instruction_table[in.kind]);
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

/* Returns the offset of the first byte that is not part of valid UTF-8, or len. */
static size_t utf8_valid_prefix(const char *s, size_t len) {
        const unsigned char *u = (const unsigned char *) s;
        size_t i = 0;

        while (i < len) {
                unsigned char c = u[i];
                size_t n;
                uint32_t cp;

                if (c < 0x80) {
                        i++;
                        continue;
                }
                if (c >= 0xC2 && c <= 0xDF) {
                        n = 1;
                        cp = c & 0x1F;
                } else if (c >= 0xE0 && c <= 0xEF) {
                        n = 2;
                        cp = c & 0x0F;
                } else if (c >= 0xF0 && c <= 0xF4) {
                        n = 3;
                        cp = c & 0x07;
                } else
                        return i;
                for (size_t k = 1; k <= n; k++) {
                        if (i + k >= len || (u[i + k] & 0xC0) != 0x80)
                                return i;
                        cp = (cp << 6) | (u[i + k] & 0x3F);
                }
                if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
                    (cp >= 0xD800 && cp <= 0xDFFF))
                        return i;
                i += n + 1;
        }
        return len;
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

int dockerfile_parse(const char *data, size_t size, const char *filename, Dockerfile **ret, DockerfileError *err) {
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

int dockerfile_parse_trigger(const char *text, char escape, const char *filename, DockerfileInstruction **ret,
                             DockerfileError *err) {
        _cleanup_dockerfile_free_ Dockerfile *df = NULL;
        _cleanup_(dockerfile_instruction_freep) DockerfileInstruction *in = NULL;
        Parser p = {};
        size_t lead;
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
        p = (Parser) { .df = df, .err = err, .line = 1 };
        lead = skip_space(text, strlen(text));
        r = logical_line_add(&p.ll, text + lead, strlen(text + lead), 1, (unsigned) lead + 1);
        if (r >= 0) {
                if (!text[lead])
                        r = parser_error(&p, 0, "empty ONBUILD trigger");
                else
                        r = parse_instruction(&p, in, 0, true);
        }
        logical_line_done(&p.ll);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(in);
        return 0;
}

/* ---- canonical serialisation ---- */

static json_t *instruction_to_json(const DockerfileInstruction *i) {
        _cleanup_json_ json_t *o = NULL;
        json_t *a;

        o = json_object();
        if (!o || json_object_set_new(o, "kind", json_string(instruction_table[i->kind])) < 0)
                return NULL;
        if (i->n_flags > 0) {
                a = json_object();
                if (!a || json_object_set_new(o, "flags", a) < 0)
                        return NULL;
                for (size_t k = 0; k < i->n_flags; k++)
                        if (json_object_set_new(a, i->flags[k].name,
                                                i->flags[k].value ? json_string(i->flags[k].value)
                                                                  : json_null()) < 0)
                                return NULL;
        }
        if (i->n_argv > 0 || i->json_form) {
                a = json_array();
                if (!a || json_object_set_new(o, i->json_form ? "exec" : "args", a) < 0)
                        return NULL;
                for (size_t k = 0; k < i->n_argv; k++)
                        if (json_array_append_new(a, json_string(i->argv[k])) < 0)
                                return NULL;
        }
        if (i->shell && json_object_set_new(o, "shell", json_string(i->shell)) < 0)
                return NULL;
        if (i->n_pairs > 0) {
                a = json_array();
                if (!a || json_object_set_new(o, "pairs", a) < 0)
                        return NULL;
                for (size_t k = 0; k < i->n_pairs; k++)
                        if (json_array_append_new(a, json_pack("[s,s?]", i->pairs[k].key, i->pairs[k].value)) < 0)
                                return NULL;
        }
        if (i->stage_name && json_object_set_new(o, "as", json_string(i->stage_name)) < 0)
                return NULL;
        if (i->kind == DOCKERFILE_HEALTHCHECK &&
            json_object_set_new(o, "healthcheck",
                                json_pack("{s:b,s:I,s:I,s:I,s:I,s:i}", "none", i->healthcheck.none, "interval",
                                          (json_int_t) i->healthcheck.interval_ns, "timeout",
                                          (json_int_t) i->healthcheck.timeout_ns, "start_period",
                                          (json_int_t) i->healthcheck.start_period_ns, "start_interval",
                                          (json_int_t) i->healthcheck.start_interval_ns, "retries",
                                          i->healthcheck.retries)) < 0)
                return NULL;
        if (i->onbuild) {
                a = instruction_to_json(i->onbuild);
                if (!a || json_object_set_new(o, "trigger", a) < 0)
                        return NULL;
        }
        return TAKE_PTR(o);
}

int dockerfile_instruction_serialize(const DockerfileInstruction *i, char **ret) {
        _cleanup_json_ json_t *j = NULL;
        char *s;

        j = instruction_to_json(i);
        if (!j)
                return -ENOMEM;
        s = json_dump_canonical(j);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}
