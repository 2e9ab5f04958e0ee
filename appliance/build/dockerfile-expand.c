/* Docker's word expansion (quotes, escapes, $VAR and ${VAR…} forms).
 * The lexer is a recursive-descent reading of BuildKit's rules; it never reads past the word and bounds
 * both the nesting of ${…} and the size of what a word may expand to. The stage scope is dockerfile-scope.c. */
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
        bool skip_quotes; /* heredoc bodies: quotes are text (BuildKit's SkipProcessQuotes) */
        size_t max;       /* bytes the result may have */
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
        size_t max = lx->max ?: DOCKERFILE_EXPANSION_MAX;

        if (out->len + n > max)
                return lex_error(lx, lx->pos, "the value expands to more than %zu bytes", max);
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
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
               (!first && c >= '0' && c <= '9');
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
                        return lex_error(
                                lx, start,
                                "unsupported modifier ':%c' in substitution; expected ${NAME:-default}, "
                                "${NAME:+alternative} or ${NAME:?message}",
                                modifier);
        } else if (c != '-' && c != '+' && c != '?')
                return lex_error(
                        lx, start,
                        "unsupported modifier '%c' in substitution; Slipway supports ${NAME}, "
                        "${NAME:-default}, ${NAME:+alternative}, ${NAME-default}, ${NAME+alternative} "
                        "and ${NAME:?message}",
                        c);

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
                                         : value  ? "is not allowed to be empty"
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
                if ((!lx->skip_quotes && (c == '\'' || c == '"')) || c == '$') {
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
                                r = words_add_string(w, out->data ? out->data + before : "",
                                                     out->len - before, c != '$');
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

int dockerfile_expand_heredoc(const char *body, char *const *env, char *const *args, char **ret,
                              DockerfileError *err) {
        _cleanup_(strbuf_done) StrBuf out = {};
        Lexer lx = { .s = body,
                     .escape = '\\',
                     .env = env,
                     .args = args,
                     .skip_quotes = true,
                     .max = DOCKERFILE_HEREDOC_EXPANSION_MAX };
        int r;

        r = strbuf_append(&out, "", 0);
        if (r >= 0)
                r = lex_process(&lx, 0, false, &out, NULL);
        if (r == -EBADMSG)
                lexer_error_to(&lx, err);
        if (r < 0)
                return r;
        *ret = strbuf_steal(&out);
        return *ret ? 0 : -ENOMEM;
}

int dockerfile_check_heredoc(const char *body, size_t *ret_offset, char *msg, size_t msg_size) {
        _cleanup_(strbuf_done) StrBuf out = {};
        Lexer lx = { .s = body,
                     .escape = '\\',
                     .check_only = true,
                     .skip_quotes = true,
                     .max = DOCKERFILE_HEREDOC_EXPANSION_MAX };
        int r;

        r = lex_process(&lx, 0, false, &out, NULL);
        if (r == -EBADMSG) {
                *ret_offset = lx.err_offset;
                snprintf(msg, msg_size, "%s", lx.err);
        }
        return r;
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
