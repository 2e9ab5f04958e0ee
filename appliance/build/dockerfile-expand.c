/* Docker's word expansion (quotes, escapes, $VAR and ${VAR…} forms) and the stage scope it runs in.
 * The lexer is a recursive-descent reading of BuildKit's rules; it never reads past the word and bounds
 * both the nesting of ${…} and the size of what a word may expand to. */
#include "dockerfile-expand.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "strbuf.h"

/* Collects words for the multi-word mode: unquoted whitespace separates, quoted text never does. */
typedef struct Words {
        char **list;
        StrBuf cur;
        bool in_word;
} Words;

typedef struct Lexer {
        const char *s;
        size_t pos;
        char escape;
        char *const *env;
        char *const *args;
        bool check_only;
        unsigned depth;
        size_t err_offset;
        char err[256];
} Lexer;

static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int lex_error(Lexer *lx, size_t offset, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int lex_error(Lexer *lx, size_t offset, const char *fmt, ...) {
        va_list ap;

        lx->err_offset = offset;
        va_start(ap, fmt);
        vsnprintf(lx->err, sizeof lx->err, fmt, ap);
        va_end(ap);
        return -EBADMSG;
}

static int words_push(Words *w) {
        char *s = strbuf_steal(&w->cur);

        if (!s)
                return -ENOMEM;
        w->in_word = false;
        return strv_push(&w->list, s);
}

static int words_add_char(Words *w, char c, bool raw) {
        if (!w)
                return 0;
        if (!raw && is_space(c))
                return w->in_word ? words_push(w) : 0;
        w->in_word = true;
        return strbuf_append_char(&w->cur, c);
}

static int words_add_string(Words *w, const char *s, size_t n, bool raw) {
        int r;

        if (!w)
                return 0;
        if (raw) {
                w->in_word = true;
                return strbuf_append(&w->cur, s, n);
        }
        for (size_t i = 0; i < n; i++) {
                r = words_add_char(w, s[i], false);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int lex_append(Lexer *lx, StrBuf *out, const char *s, size_t n) {
        if (out->len + n > DOCKERFILE_EXPANSION_MAX)
                return lex_error(lx, lx->pos, "the value expands to more than %u bytes", DOCKERFILE_EXPANSION_MAX);
        return strbuf_append(out, s, n);
}

/* Returns the entry's value, or NULL when the variable is unset (absent or declared without value). */
static const char *lex_lookup(Lexer *lx, const char *name, size_t len) {
        const char *e;

        if (lx->check_only)
                return NULL;
        e = strv_env_find(lx->env, name, len);
        if (!e)
                e = strv_env_find(lx->args, name, len);
        if (!e || e[len] != '=')
                return NULL;
        return e + len + 1;
}

static bool is_name_char(char c, bool first) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!first && c >= '0' && c <= '9');
}

/* A variable name after '$': letters/digits/'_', or all digits (positional), or one special character. */
static size_t lex_name(Lexer *lx) {
        size_t start = lx->pos;

        if (lx->s[lx->pos] >= '0' && lx->s[lx->pos] <= '9') {
                while (lx->s[lx->pos] >= '0' && lx->s[lx->pos] <= '9')
                        lx->pos++;
                return lx->pos - start;
        }
        if (lx->s[lx->pos] && strchr("@*#?-$!", lx->s[lx->pos])) {
                lx->pos++;
                return 1;
        }
        while (is_name_char(lx->s[lx->pos], lx->pos == start))
                lx->pos++;
        return lx->pos - start;
}

static int lex_process(Lexer *lx, char stop, bool raw_escapes, StrBuf *out, Words *w);

static int lex_single_quote(Lexer *lx, StrBuf *out) {
        size_t start = lx->pos++;

        while (lx->s[lx->pos] != '\'') {
                if (!lx->s[lx->pos])
                        return lex_error(lx, start, "unterminated single quote; add the closing '");
                lx->pos++;
        }
        lx->pos++;
        return lex_append(lx, out, lx->s + start + 1, lx->pos - start - 2);
}

static int lex_dollar(Lexer *lx, StrBuf *out);

static int lex_double_quote(Lexer *lx, StrBuf *out) {
        size_t start = lx->pos++;
        int r;

        for (;;) {
                char c = lx->s[lx->pos];

                if (!c)
                        return lex_error(lx, start, "unterminated double quote; add the closing \"");
                if (c == '"') {
                        lx->pos++;
                        return 0;
                }
                if (c == '$') {
                        r = lex_dollar(lx, out);
                        if (r < 0)
                                return r;
                        continue;
                }
                lx->pos++;
                if (c == lx->escape) {
                        char n = lx->s[lx->pos];

                        if (!n)
                                continue;
                        /* Inside double quotes only ", $ and the escape character itself can be escaped. */
                        if (n == '"' || n == '$' || n == lx->escape) {
                                c = n;
                                lx->pos++;
                        }
                }
                r = lex_append(lx, out, &c, 1);
                if (r < 0)
                        return r;
        }
}

static int lex_dollar(Lexer *lx, StrBuf *out) {
        _cleanup_(strbuf_done) StrBuf word = {};
        size_t start = lx->pos, name, nlen;
        const char *value;
        char c, modifier = 0;
        int r;

        lx->pos++;
        if (lx->s[lx->pos] != '{') {
                name = lx->pos;
                nlen = lex_name(lx);
                if (nlen == 0)
                        return lex_append(lx, out, "$", 1);
                value = lex_lookup(lx, lx->s + name, nlen);
                return value ? lex_append(lx, out, value, strlen(value)) : 0;
        }

        lx->pos++;
        c = lx->s[lx->pos];
        if (!c)
                return lex_error(lx, start, "bad substitution: missing '}'");
        if (c == '{' || c == '}' || c == ':')
                return lex_error(lx, start, "bad substitution: expected a variable name after '${'");
        name = lx->pos;
        nlen = lex_name(lx);
        c = lx->s[lx->pos];
        if (!c)
                return lex_error(lx, start, "bad substitution: missing '}'");
        lx->pos++;
        if (nlen == 0)
                return lex_error(lx, start, "bad substitution: expected a variable name after '${'");
        value = lex_lookup(lx, lx->s + name, nlen);
        if (c == '}')
                return value ? lex_append(lx, out, value, strlen(value)) : 0;

        if (c == ':') {
                modifier = lx->s[lx->pos];
                if (!modifier)
                        return lex_error(lx, start, "bad substitution: missing '}'");
                lx->pos++;
                if (modifier != '-' && modifier != '+' && modifier != '?')
                        return lex_error(lx, start,
                                         "unsupported modifier ':%c' in substitution; expected ${NAME:-default}, "
                                         "${NAME:+alternative} or ${NAME:?message}", modifier);
        } else if (c != '-' && c != '+' && c != '?')
                return lex_error(lx, start,
                                 "unsupported modifier '%c' in substitution; Slipway supports ${NAME}, "
                                 "${NAME:-default}, ${NAME:+alternative}, ${NAME-default}, ${NAME+alternative} "
                                 "and ${NAME:?message}", c);

        if (++lx->depth > DOCKERFILE_EXPANSION_DEPTH_MAX)
                return lex_error(lx, start, "substitutions nested more than %u levels deep",
                                 DOCKERFILE_EXPANSION_DEPTH_MAX);
        r = lex_process(lx, '}', false, &word, NULL);
        lx->depth--;
        if (r == -EBADMSG && !lx->s[lx->pos] && strstr(lx->err, "missing '}'"))
                lx->err_offset = start;
        if (r < 0)
                return r;

        if (modifier) {
                /* With ':' an empty value counts as unset. */
                bool empty = !value || !*value;

                if (modifier == '-')
                        return empty ? lex_append(lx, out, strempty(word.data), word.len)
                                     : lex_append(lx, out, value, strlen(value));
                if (modifier == '+')
                        return empty ? 0 : lex_append(lx, out, strempty(word.data), word.len);
                if (empty && !lx->check_only)
                        return lex_error(lx, start, "%.*s: %s", (int) MIN(nlen, (size_t) 64), lx->s + name,
                                         word.len ? word.data
                                                  : value ? "is not allowed to be empty"
                                                          : "is not allowed to be unset");
                return value ? lex_append(lx, out, value, strlen(value)) : 0;
        }
        if (c == '-')
                return value ? lex_append(lx, out, value, strlen(value))
                             : lex_append(lx, out, strempty(word.data), word.len);
        if (c == '+')
                return value ? lex_append(lx, out, strempty(word.data), word.len) : 0;
        if (!value && !lx->check_only)
                return lex_error(lx, start, "%.*s: %s", (int) MIN(nlen, (size_t) 64), lx->s + name,
                                 word.len ? word.data : "is not allowed to be unset");
        return value ? lex_append(lx, out, value, strlen(value)) : 0;
}

/* Reads until stop (0 = end of word). raw_escapes keeps escape characters in the output (BuildKit does so
 * only for the ${a#pattern} forms, which Slipway does not implement; kept for parity of the lexer). */
static int lex_process(Lexer *lx, char stop, bool raw_escapes, StrBuf *out, Words *w) {
        int r;

        while (lx->s[lx->pos]) {
                char c = lx->s[lx->pos];
                size_t before = out->len;

                if (stop && c == stop) {
                        lx->pos++;
                        return 0;
                }
                if (c == '\'' || c == '"' || c == '$') {
                        if (c == '\'')
                                r = lex_single_quote(lx, out);
                        else if (c == '"')
                                r = lex_double_quote(lx, out);
                        else
                                r = lex_dollar(lx, out);
                        if (r < 0)
                                return r;
                        /* Quoted text stays one word; an unquoted expansion splits at its whitespace. An empty
                         * quoted string still makes a word (""), an empty expansion does not. */
                        if (out->len > before || c != '$') {
                                r = words_add_string(w, out->data ? out->data + before : "", out->len - before,
                                                     c != '$');
                                if (r < 0)
                                        return r;
                        }
                        continue;
                }
                lx->pos++;
                if (c == lx->escape) {
                        if (raw_escapes) {
                                r = lex_append(lx, out, &c, 1);
                                if (r < 0)
                                        return r;
                                r = words_add_char(w, c, true);
                                if (r < 0)
                                        return r;
                        }
                        if (!lx->s[lx->pos])
                                break;
                        c = lx->s[lx->pos++];
                        r = words_add_char(w, c, true);
                } else
                        r = words_add_char(w, c, false);
                if (r < 0)
                        return r;
                r = lex_append(lx, out, &c, 1);
                if (r < 0)
                        return r;
        }
        if (stop)
                return lex_error(lx, lx->pos, "bad substitution: missing '}'");
        return 0;
}

static void lexer_error_to(const Lexer *lx, DockerfileError *err) {
        dockerfile_error_set(err, "", 0, (unsigned) lx->err_offset + 1, "%s", lx->err);
}

int dockerfile_expand_word(const char *word, char escape, char *const *env, char *const *args, char **ret,
                           DockerfileError *err) {
        _cleanup_(strbuf_done) StrBuf out = {};
        Lexer lx = { .s = word, .escape = escape, .env = env, .args = args };
        int r;

        r = lex_process(&lx, 0, false, &out, NULL);
        if (r == -EBADMSG)
                lexer_error_to(&lx, err);
        if (r < 0)
                return r;
        *ret = strbuf_steal(&out);
        return *ret ? 0 : -ENOMEM;
}

int dockerfile_expand_words(const char *word, char escape, char *const *env, char *const *args, char ***ret,
                            DockerfileError *err) {
        _cleanup_(strbuf_done) StrBuf out = {};
        Words w = {};
        Lexer lx = { .s = word, .escape = escape, .env = env, .args = args };
        int r;

        r = lex_process(&lx, 0, false, &out, &w);
        if (r >= 0 && w.in_word)
                r = words_push(&w);
        if (r >= 0 && !w.list) {
                w.list = calloc(1, sizeof(char *));
                if (!w.list)
                        r = -ENOMEM;
        }
        if (r == -EBADMSG)
                lexer_error_to(&lx, err);
        strbuf_done(&w.cur);
        if (r < 0) {
                strv_free(w.list);
                return r;
        }
        *ret = w.list;
        return 0;
}

int dockerfile_check_word(const char *word, char escape, size_t *ret_offset, char *msg, size_t msg_size) {
        _cleanup_(strbuf_done) StrBuf out = {};
        Lexer lx = { .s = word, .escape = escape, .check_only = true };
        int r;

        r = lex_process(&lx, 0, false, &out, NULL);
        if (r == -EBADMSG) {
                *ret_offset = lx.err_offset;
                snprintf(msg, msg_size, "%s", lx.err);
        }
        return r;
}

/* ---- scope ---- */

struct DockerfileScope {
        const Dockerfile *df;
        char **build_args;
        char **auto_args;
        char **global;  /* evaluated global ARGs */
        char **env;     /* the current stage's environment */
        char **args;    /* ARGs declared in the current stage */
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
static const char *arg_effective(const DockerfileScope *s, const char *name, const char *dflt, bool in_stage) {
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
                _cleanup_free_ char *name = NULL;
                int r;

                if (!eq || eq == in[i])
                        continue;
                name = strndup(in[i], (size_t) (eq - in[i]));
                if (!name)
                        return -ENOMEM;
                r = strv_env_set(&l, name, eq + 1);
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

                r = scope_expand(s, i, env, args, &c->pairs[k].key, err);
                if (r < 0)
                        return r;
                r = scope_expand(s, i, env, args, &c->pairs[k].value, err);
                if (r < 0)
                        return r;
                v = arg_effective(s, c->pairs[k].key, c->pairs[k].value, in_stage);
                if (v != c->pairs[k].value) {
                        char *d = v ? strdup(v) : NULL;

                        if (v && !d)
                                return -ENOMEM;
                        free(c->pairs[k].value);
                        c->pairs[k].value = d;
                }
                r = strv_env_set(vars, c->pairs[k].key, c->pairs[k].value);
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
                dockerfile_error_set(err, s->df->filename, st->from.line, st->from.column,
                                     "FROM: the base image '%s' expands to an empty name; set the ARG it uses",
                                     st->base);
                return -EBADMSG;
        }
        if (st->platform) {
                r = dockerfile_expand_word(st->platform, s->df->escape, s->global, s->auto_args, &platform, err);
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

static int scope_expand_instruction(DockerfileScope *s, const DockerfileInstruction *i, DockerfileInstruction *c,
                                    DockerfileError *err) {
        int r;

        switch (i->kind) {
        case DOCKERFILE_ENV:
        case DOCKERFILE_LABEL:
                /* All pairs see the environment from before the instruction (ENV a=1 b=$a uses the old a). */
                for (size_t k = 0; k < c->n_pairs; k++) {
                        r = scope_expand(s, i, s->env, s->args, &c->pairs[k].key, err);
                        if (r < 0)
                                return r;
                        r = scope_expand(s, i, s->env, s->args, &c->pairs[k].value, err);
                        if (r < 0)
                                return r;
                }
                if (i->kind == DOCKERFILE_ENV)
                        for (size_t k = 0; k < c->n_pairs; k++) {
                                if (isempty(c->pairs[k].key)) {
                                        dockerfile_error_set(err, s->df->filename, i->line, i->column,
                                                             "ENV: a variable name expands to an empty string");
                                        return -EBADMSG;
                                }
                                r = strv_env_set(&s->env, c->pairs[k].key, c->pairs[k].value);
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
                                dockerfile_error_set(err, s->df->filename, i->line, i->column,
                                                     "%s: invalid --chmod=%s; expected an octal mode such as 0755",
                                                     dockerfile_instruction_to_string(i->kind), c->flags[k].value);
                                return -EBADMSG;
                        }
                        if (isempty(c->flags[k].value)) {
                                dockerfile_error_set(err, s->df->filename, i->line, i->column,
                                                     "%s: --%s expands to an empty value",
                                                     dockerfile_instruction_to_string(i->kind), c->flags[k].name);
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
                                                             "PORT/PROTOCOL or FIRST-LAST/PROTOCOL", w[n]);
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
                /* RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK, ONBUILD, MAINTAINER: no expansion. */
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

int dockerfile_scope_run_env(const DockerfileScope *s, char ***ret) {
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
        int r;

        if (!l)
                return -ENOMEM;
        for (size_t i = 0; s->args[i]; i++)
                if (strchr(s->args[i], '=')) {
                        r = strv_extend(&l, s->args[i]);
                        if (r < 0)
                                return r;
                }
        for (size_t i = 0; s->env[i]; i++) {
                const char *eq = strchr(s->env[i], '=');
                _cleanup_free_ char *name = NULL;

                if (!eq)
                        continue;
                name = strndup(s->env[i], (size_t) (eq - s->env[i]));
                if (!name)
                        return -ENOMEM;
                r = strv_env_set(&l, name, eq + 1);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int dockerfile_scope_args(const DockerfileScope *s, char ***ret) {
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
        int r;

        if (!l)
                return -ENOMEM;
        for (size_t i = 0; s->args[i]; i++)
                if (strchr(s->args[i], '=')) {
                        r = strv_extend(&l, s->args[i]);
                        if (r < 0)
                                return r;
                }
        qsort(l, strv_length(l), sizeof(char *), cmp_str);
        *ret = TAKE_PTR(l);
        return 0;
}
