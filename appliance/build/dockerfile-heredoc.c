/* Dockerfile heredocs: openers are found in the instruction's logical line the way BuildKit splits it (quotes
 * and escapes kept, "<< " joined to its word), bodies are the raw physical lines after it up to the delimiter.
 * Invariant: a line a body takes is never read as an instruction, and p->line counts it. */
#include "dockerfile-heredoc.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockerfile-expand.h"
#include "dockerfile-lexer.h"
#include "macro.h"
#include "strbuf.h"
#include "string-util.h"

/* The escape character BuildKit uses for heredoc words, whatever the escape directive says. */
#define HEREDOC_ESCAPE '\\'

/* ---- words ---- */

/* Splits s at unquoted whitespace keeping quotes and escapes, and joins "<<" with the blanks after it to the
 * word that follows (BuildKit's heredocsFromLine). Returns 0, or 1 when a quote is left open (BuildKit then
 * finds no heredoc in the line), -ENOMEM. */
static int split_line(const char *s, size_t base, WordList *ret) {
        size_t i = 0;
        int r;

        for (;;) {
                size_t start;

                while (s[i] && is_space(s[i]))
                        i++;
                if (!s[i])
                        return 0;
                start = i;
                while (s[i] && !is_space(s[i])) {
                        char c = s[i++];

                        if (c == '\'') {
                                while (s[i] && s[i] != '\'')
                                        i++;
                                if (!s[i])
                                        return 1;
                                i++;
                        } else if (c == '"') {
                                while (s[i] && s[i] != '"') {
                                        if (s[i] == HEREDOC_ESCAPE && s[i + 1])
                                                i++;
                                        i++;
                                }
                                if (!s[i])
                                        return 1;
                                i++;
                        } else if (c == HEREDOC_ESCAPE) {
                                if (s[i])
                                        i++;
                        } else if (c == '<' && s[i] == '<') {
                                i++;
                                while (s[i] && is_space(s[i]))
                                        i++;
                        }
                }
                r = word_list_add(ret, s + start, i - start, base + start);
                if (r < 0)
                        return r;
        }
}

/* The shell word s with quotes and escapes removed, as BuildKit's lexer without raw quotes reads it (an
 * unset $VAR stays as written). Returns 1 when s is one word, 0 when it is none or several or a quote is
 * open, -ENOMEM. */
static int unquote_word(const char *s, char **ret, bool *ret_quoted) {
        _cleanup_(strbuf_done) StrBuf out = {};
        bool quoted = false;
        size_t i = 0;
        int r = 0;

        while (s[i] && r >= 0) {
                char c = s[i++];

                if (is_space(c))
                        return 0;
                if (c == '\'') {
                        size_t start = i;

                        while (s[i] && s[i] != '\'')
                                i++;
                        if (!s[i])
                                return 0;
                        r = strbuf_append(&out, s + start, i - start);
                        i++;
                        quoted = true;
                } else if (c == '"') {
                        for (; s[i] && s[i] != '"' && r >= 0; i++) {
                                char d = s[i];

                                if (d == HEREDOC_ESCAPE &&
                                    (s[i + 1] == '"' || s[i + 1] == '$' || s[i + 1] == HEREDOC_ESCAPE))
                                        d = s[++i];
                                r = strbuf_append_char(&out, d);
                        }
                        if (!s[i])
                                return 0;
                        i++;
                        quoted = true;
                } else if (c == HEREDOC_ESCAPE) {
                        if (s[i])
                                r = strbuf_append_char(&out, s[i++]);
                } else
                        r = strbuf_append_char(&out, c);
        }
        if (r < 0)
                return r;
        *ret = strbuf_steal(&out);
        if (!*ret)
                return -ENOMEM;
        *ret_quoted = quoted;
        return 1;
}

int dockerfile_heredoc_parse_word(const char *word, char **ret_name, bool *ret_expand, bool *ret_chomp) {
        _cleanup_free_ char *name = NULL;
        bool chomp = false, quoted = false;
        size_t i = 0;
        int r;

        while (isdigit((unsigned char) word[i]))
                i++;
        if (word[i] != '<' || word[i + 1] != '<')
                return 0;
        i += 2;
        if (word[i] == '-') {
                chomp = true;
                i++;
        }
        while (word[i] && is_space(word[i]))
                i++;
        if (!word[i] || strchr(word + i, '<'))
                return 0;
        r = unquote_word(word + i, &name, &quoted);
        if (r <= 0)
                return r;
        if (ret_name)
                *ret_name = TAKE_PTR(name);
        if (ret_expand)
                *ret_expand = !quoted;
        if (ret_chomp)
                *ret_chomp = chomp;
        return 1;
}

char *dockerfile_heredoc_chomp(const char *s) {
        StrBuf out = {};
        bool line_start = true;

        if (strbuf_append(&out, "", 0) < 0)
                return NULL;
        for (; *s; s++) {
                if (line_start && *s == '\t')
                        continue;
                line_start = *s == '\n';
                if (strbuf_append_char(&out, *s) < 0) {
                        strbuf_done(&out);
                        return NULL;
                }
        }
        return strbuf_steal(&out);
}

/* ---- RUN ---- */

int dockerfile_run_command(const DockerfileInstruction *i, char **ret_command, char **ret_script) {
        _cleanup_free_ char *body = NULL, *command = NULL;
        StrBuf b = {};
        int r;

        *ret_script = NULL;
        if (i->json_form || i->n_heredocs == 0) {
                command = strdup(strempty(i->shell));
                if (!command)
                        return -ENOMEM;
                *ret_command = TAKE_PTR(command);
                return 0;
        }

        r = dockerfile_heredoc_parse_word(strempty(i->shell), NULL, NULL, NULL);
        if (r < 0)
                return r;
        if (r > 0) {
                const DockerfileHeredoc *h = &i->heredocs[0];

                /* The command is the heredoc alone: its body is the script. */
                body = h->chomp ? dockerfile_heredoc_chomp(h->content) : strdup(h->content);
                if (!body)
                        return -ENOMEM;
                if (!startswith(body, "#!")) {
                        *ret_command = TAKE_PTR(body);
                        return 0;
                }
                if (asprintf(&command, "%s/%s", DOCKERFILE_HEREDOC_PIPES_DIR, h->name) < 0)
                        return -ENOMEM;
                *ret_command = TAKE_PTR(command);
                *ret_script = TAKE_PTR(body);
                return 0;
        }

        /* Anything else: the shell reads the heredocs itself, so it gets them back after the command. */
        strbuf_append_str(&b, i->shell);
        for (size_t k = 0; k < i->n_heredocs; k++) {
                strbuf_append_char(&b, '\n');
                strbuf_append_str(&b, i->heredocs[k].content);
                strbuf_append_str(&b, i->heredocs[k].name);
        }
        command = strbuf_steal(&b);
        if (!command)
                return -ENOMEM;
        *ret_command = TAKE_PTR(command);
        return 0;
}

/* ---- reading the bodies ---- */

/* The next physical line with its line end, or false at the end of the data. */
static bool next_raw_line(Parser *p, const char **ret, size_t *ret_len) {
        const char *s, *nl;
        size_t len;

        if (!p->data || p->pos >= p->size)
                return false;
        s = p->data + p->pos;
        nl = memchr(s, '\n', p->size - p->pos);
        len = nl ? (size_t) (nl - s) + 1 : p->size - p->pos;
        p->pos += len;
        p->line++;
        *ret = s;
        *ret_len = len;
        return true;
}

/* Is the raw line (with its line end) the delimiter name, after <<-'s leading tabs? */
static bool is_terminator(const char *s, size_t len, const char *name, bool chomp) {
        while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
                len--;
        if (chomp)
                while (len > 0 && *s == '\t') {
                        s++;
                        len--;
                }
        return len == strlen(name) && memcmp(s, name, len) == 0;
}

/* Reads the body of h (opened at offset opener of the logical line) into h->content. */
static int read_body(Parser *p, DockerfileHeredoc *h, const char *opener, size_t opener_len, size_t offset) {
        _cleanup_(strbuf_done) StrBuf body = {};
        const char *s;
        size_t len;
        int r;

        r = strbuf_append(&body, "", 0);
        if (r < 0)
                return r;
        h->body_line = p->line + 1;
        for (;;) {
                if (!next_raw_line(p, &s, &len))
                        return parser_error(
                                p, offset,
                                "The heredoc %.*s opened here is never closed: end it with a line "
                                "%.64s%s.",
                                (int) MIN(opener_len, (size_t) 80), opener, h->name,
                                h->chomp ? " (leading tabs allowed)" : "");
                if (is_terminator(s, len, h->name, h->chomp))
                        break;
                r = strbuf_append(&body, s, len);
                if (r < 0)
                        return r;
        }
        h->content = strbuf_steal(&body);
        return h->content ? 0 : -ENOMEM;
}

/* The last heredoc of the line named name (BuildKit looks COPY's sources up by name), or NULL. */
static const DockerfileHeredoc *find_doc(const DockerfileHeredoc *docs, size_t n, const char *name) {
        for (size_t k = n; k > 0; k--)
                if (streq(docs[k - 1].name, name))
                        return &docs[k - 1];
        return NULL;
}

static bool valid_file_name(const char *name) {
        return !isempty(name) && !streq(name, ".") && !streq(name, "..") && !strchr(name, '/') &&
               strlen(name) <= NAME_MAX;
}

/* An error at the heredoc h (or at the instruction when h is NULL). */
static int heredoc_error(Parser *p, const DockerfileHeredoc *h, const DockerfileInstruction *in,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int heredoc_error(Parser *p, const DockerfileHeredoc *h, const DockerfileInstruction *in,
                         const char *fmt, ...) {
        va_list ap;

        if (!p->err)
                return -EBADMSG;
        dockerfile_error_set(p->err, p->df->filename, h ? h->line : in->line, h ? h->column : in->column,
                             "%s", "");
        va_start(ap, fmt);
        vsnprintf(p->err->message, sizeof p->err->message, fmt, ap);
        va_end(ap);
        return -EBADMSG;
}

/* A COPY/ADD body that is expanded later must be well-formed: the error points into the body. */
static int check_body(Parser *p, const DockerfileInstruction *in, const DockerfileHeredoc *h) {
        char msg[256];
        size_t o = 0, line_start = 0;
        unsigned line;
        int r;

        if (!h->expand)
                return 0;
        r = dockerfile_check_heredoc(h->content, &o, msg, sizeof msg);
        if (r != -EBADMSG)
                return r;
        line = h->body_line;
        for (size_t k = 0; k < o && h->content[k]; k++)
                if (h->content[k] == '\n') {
                        line++;
                        line_start = k + 1;
                }
        dockerfile_error_set(p->err, p->df->filename, line, (unsigned) (o - line_start) + 1,
                             "%s: heredoc %s: %s", dockerfile_instruction_to_string(in->kind), h->name, msg);
        return -EBADMSG;
}

/* COPY/ADD: the sources that are heredocs become in->heredocs (context sources first, then these, as
 * BuildKit copies them), with <<-'s tabs stripped; argv keeps the rest. */
static int copy_sources(Parser *p, DockerfileInstruction *in, const DockerfileHeredoc *docs, size_t n_docs) {
        const char *kw = dockerfile_instruction_to_string(in->kind);
        size_t kept = 0;
        int r;

        if (in->n_argv == 0)
                return 0;
        {
                _cleanup_free_ char *dest = NULL;

                r = dockerfile_heredoc_parse_word(in->argv[in->n_argv - 1], &dest, NULL, NULL);
                if (r < 0)
                        return r;
                if (r > 0)
                        return heredoc_error(
                                p, find_doc(docs, n_docs, dest), in,
                                "%s: a heredoc can't be the destination (%s); write the path of "
                                "the file to create after it, e.g. COPY <<EOF /etc/app.conf",
                                kw, dest);
        }
        for (size_t k = 0; k + 1 < in->n_argv; k++) {
                _cleanup_free_ char *name = NULL;
                DockerfileHeredoc h = {};
                const DockerfileHeredoc *d;

                r = dockerfile_heredoc_parse_word(in->argv[k], &name, &h.expand, &h.chomp);
                if (r < 0)
                        return r;
                if (r == 0) {
                        in->argv[kept++] = in->argv[k];
                        if (kept - 1 != k)
                                in->argv[k] = NULL; /* moved: never two owners */
                        continue;
                }
                d = find_doc(docs, n_docs, name);
                if (!valid_file_name(name))
                        return heredoc_error(p, d, in,
                                             "%s: the heredoc name '%.64s' can't be a file name; use a name "
                                             "without '/', e.g. <<EOF",
                                             kw, name);
                h.name = name;
                h.content = d ? (h.chomp ? dockerfile_heredoc_chomp(d->content) : strdup(d->content))
                              : strdup("");
                if (!h.content)
                        return -ENOMEM;
                if (d) {
                        h.line = d->line;
                        h.column = d->column;
                        h.body_line = d->body_line;
                }
                r = check_body(p, in, &h);
                if (r >= 0)
                        r = dockerfile_heredoc_add(&in->heredocs, &in->n_heredocs, &h);
                free(h.content);
                if (r < 0)
                        return r;
                free(in->argv[k]);
                in->argv[k] = NULL;
        }
        in->argv[kept++] = in->argv[in->n_argv - 1];
        for (size_t k = kept; k <= in->n_argv; k++)
                in->argv[k] = NULL;
        in->n_argv = kept;
        return 0;
}

int parser_read_heredocs(Parser *p, DockerfileInstruction *in, size_t offset, StrBuf *trigger_tail) {
        _cleanup_(word_list_done) WordList w = {};
        DockerfileHeredoc *docs = NULL;
        size_t n_docs = 0;
        int r;

        if (in->json_form || !strstr(p->ll.text.data + offset, "<<"))
                return 0;
        r = split_line(p->ll.text.data + offset, offset, &w);
        if (r != 0)
                return MIN(r, 0);

        for (size_t k = 0; k < w.n; k++) {
                const char *word = w.words[k].text;
                DockerfileHeredoc h = {};
                size_t lt = strspn(word, "0123456789");

                r = dockerfile_heredoc_parse_word(word, &h.name, &h.expand, &h.chomp);
                if (r <= 0) {
                        if (r < 0)
                                goto out;
                        continue;
                }
                if (n_docs >= DOCKERFILE_HEREDOCS_MAX) {
                        free(h.name);
                        r = parser_error(
                                p, w.words[k].offset, "%s: more than %u heredocs in one instruction",
                                dockerfile_instruction_to_string(in->kind), DOCKERFILE_HEREDOCS_MAX);
                        goto out;
                }
                logical_line_position(&p->ll, w.words[k].offset + lt, &h.line, &h.column);
                r = read_body(p, &h, word + lt, strlen(word + lt), w.words[k].offset + lt);
                if (r >= 0)
                        r = dockerfile_heredoc_add(&docs, &n_docs, &h);
                free(h.name);
                free(h.content);
                if (r < 0)
                        goto out;
                if (trigger_tail) {
                        strbuf_append_char(trigger_tail, '\n');
                        strbuf_append_str(trigger_tail, docs[n_docs - 1].content);
                        r = strbuf_append_str(trigger_tail, docs[n_docs - 1].name);
                        if (r < 0)
                                goto out;
                }
        }
        in->end_line = MAX(in->end_line, p->line);

        if (in->kind == DOCKERFILE_COPY || in->kind == DOCKERFILE_ADD)
                r = copy_sources(p, in, docs, n_docs);
        else {
                in->heredocs = TAKE_PTR(docs);
                in->n_heredocs = n_docs;
                n_docs = 0;
                r = 0;
        }
out:
        dockerfile_heredocs_free(docs, n_docs);
        return r;
}
