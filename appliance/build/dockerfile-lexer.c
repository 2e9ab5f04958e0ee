/* Dockerfile lexer: physical lines → logical lines (parser directives, comments, continuations), the
 * parser's error and warning reporting, and the word splitters instructions share.
 * Invariant: every byte of a logical line maps back to its physical line and column. */
#include "dockerfile-lexer.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dockerfile-expand.h"
#include "macro.h"
#include "string-util.h"

#define DOCKERFILE_WARNINGS_MAX 100U

/* ---- logical lines ---- */


void logical_line_done(LogicalLine *ll) {
        strbuf_done(&ll->text);
        free(ll->segs);
        *ll = (LogicalLine) {};
}


int logical_line_add(LogicalLine *ll, const char *s, size_t n, unsigned line, unsigned column) {
        if (grow((void **) &ll->segs, &ll->allocated, ll->n_segs, sizeof *ll->segs) < 0)
                return -ENOMEM;
        ll->segs[ll->n_segs++] = (Segment) { .offset = ll->text.len, .line = line, .column = column };
        if (ll->n_segs == 1)
                ll->first_line = line;
        ll->last_line = line;
        return strbuf_append(&ll->text, s, n);
}

void logical_line_position(const LogicalLine *ll, size_t offset, unsigned *ret_line, unsigned *ret_column) {
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


int parser_error(Parser *p, size_t offset, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int parser_error(Parser *p, size_t offset, const char *fmt, ...) {
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

int parser_warning(Parser *p, size_t offset, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int parser_warning(Parser *p, size_t offset, const char *fmt, ...) {
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
                                            (int) MIN(value_end - value_start, (size_t) 32),
                                            s + value_start);
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
int parser_read_logical(Parser *p) {
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


void word_list_done(WordList *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->words[i].text);
        free(l->words);
        *l = (WordList) {};
}

int word_list_add(WordList *l, const char *s, size_t n, size_t offset) {
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
int split_blanks(const char *s, size_t base, WordList *ret) {
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
int split_words_quoted(const char *s, size_t base, char escape, WordList *ret) {
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

int check_expandable(Parser *p, const char *what, const char *s, size_t offset) {
        char msg[256];
        size_t o = 0;
        int r;

        r = dockerfile_check_word(s, p->df->escape, &o, msg, sizeof msg);
        if (r == -EBADMSG)
                return parser_error(p, offset + o, "%s: %s", what, msg);
        return r;
}
