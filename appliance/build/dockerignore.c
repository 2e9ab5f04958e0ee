/* .dockerignore parser and matcher. Each pattern is translated once into an anchored POSIX extended regular
 * expression with Docker's meaning of '*', '?', "**" and '[…]'; matching is a pass over all patterns where
 * the last matching one decides, checking the path itself and each of its parent directories. */
#include "dockerignore.h"

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "fs-util.h"
#include "macro.h"
#include "strbuf.h"
#include "string-util.h"

typedef struct DockerIgnorePattern {
        char *text;     /* cleaned pattern, without the leading '!' */
        bool exclusion; /* a '!' pattern: re-includes what it matches */
        regex_t re;
} DockerIgnorePattern;

struct DockerIgnore {
        DockerIgnorePattern *patterns;
        size_t n_patterns;
        bool has_exclusions;
};

DockerIgnore *dockerignore_free(DockerIgnore *di) {
        if (!di)
                return NULL;
        for (size_t i = 0; i < di->n_patterns; i++) {
                free(di->patterns[i].text);
                regfree(&di->patterns[i].re);
        }
        free(di->patterns);
        free(di);
        return NULL;
}

size_t dockerignore_n_patterns(const DockerIgnore *di) {
        return di->n_patterns;
}

char *dockerignore_clean_path(const char *path) {
        size_t n = strlen(path), r = 0, w = 0, dotdot = 0;
        bool rooted = n > 0 && path[0] == '/';
        char *out;

        out = malloc(n + 2);
        if (!out)
                return NULL;
        if (rooted) {
                out[w++] = '/';
                r = dotdot = 1;
        }
        while (r < n) {
                if (path[r] == '/')
                        r++;
                else if (path[r] == '.' && (r + 1 == n || path[r + 1] == '/'))
                        r++;
                else if (path[r] == '.' && path[r + 1] == '.' && (r + 2 == n || path[r + 2] == '/')) {
                        r += 2;
                        if (w > dotdot) {
                                /* Back up over the last element. */
                                w--;
                                while (w > dotdot && out[w] != '/')
                                        w--;
                        } else if (!rooted) {
                                if (w > 0)
                                        out[w++] = '/';
                                out[w++] = '.';
                                out[w++] = '.';
                                dotdot = w;
                        }
                } else {
                        if ((rooted && w != 1) || (!rooted && w != 0))
                                out[w++] = '/';
                        while (r < n && path[r] != '/')
                                out[w++] = path[r++];
                }
        }
        if (w == 0)
                out[w++] = '.';
        out[w] = 0;
        return out;
}

/* A literal byte in an ERE, escaped when ERE gives it a meaning. */
static int emit_literal(StrBuf *re, char c) {
        int r;

        if (strchr(".[]{}()*+?|^$\\", c)) {
                r = strbuf_append_char(re, '\\');
                if (r < 0)
                        return r;
        }
        return strbuf_append_char(re, c);
}

/* Translates a cleaned Docker pattern into an anchored ERE. Returns -EINVAL for a malformed pattern. */
static int pattern_to_regex(const char *p, char **ret) {
        _cleanup_(strbuf_done) StrBuf re = {};
        int r = strbuf_append_str(&re, "^");

        for (size_t i = 0; p[i] && r >= 0; i++) {
                char c = p[i];

                if (c == '*' && p[i + 1] == '*') {
                        i++;
                        if (p[i + 1] == '/')
                                i++;
                        /* "**" at the end matches everything below; elsewhere any number of directories. */
                        r = strbuf_append_str(&re, p[i + 1] ? "(.*/)?" : ".*");
                } else if (c == '*')
                        r = strbuf_append_str(&re, "[^/]*");
                else if (c == '?')
                        r = strbuf_append_str(&re, "[^/]");
                else if (c == '\\')
                        r = emit_literal(&re, p[i + 1] ? p[++i] : '\\');
                else if (c == '[') {
                        size_t j = i + 1;

                        r = strbuf_append_char(&re, '[');
                        if (p[j] == '^') {
                                r = strbuf_append_char(&re, '^');
                                j++;
                        }
                        /* A ']' right after '[' or '[^' is a member, as in Go and POSIX. */
                        for (bool first = true; r >= 0; j++, first = false) {
                                if (!p[j])
                                        return -EINVAL;
                                if (p[j] == ']' && !first)
                                        break;
                                if (p[j] == '\\' && p[j + 1]) {
                                        /* Go allows escapes inside classes; POSIX needs a collating element. */
                                        char elem[] = { '[', '.', p[++j], '.', ']' };
                                        r = strbuf_append(&re, elem, sizeof elem);
                                } else if (p[j] == '[' && p[j + 1] == ':') {
                                        /* [:alpha:] style classes pass through. */
                                        const char *end = strstr(p + j, ":]");

                                        if (!end)
                                                return -EINVAL;
                                        r = strbuf_append(&re, p + j, (size_t) (end + 2 - (p + j)));
                                        j = (size_t) (end + 1 - p);
                                } else
                                        r = strbuf_append_char(&re, p[j]);
                        }
                        if (r >= 0)
                                r = strbuf_append_char(&re, ']');
                        i = j;
                } else
                        r = emit_literal(&re, c);
        }
        if (r >= 0)
                r = strbuf_append_char(&re, '$');
        if (r < 0)
                return r;
        *ret = strbuf_steal(&re);
        return *ret ? 0 : -ENOMEM;
}

static int add_pattern(DockerIgnore *di, const char *line, size_t len, bool exclusion) {
        _cleanup_free_ char *raw = NULL, *clean = NULL, *regex = NULL;
        DockerIgnorePattern *p;
        const char *text;
        int r;

        raw = strndup(line, len);
        if (!raw)
                return -ENOMEM;
        clean = dockerignore_clean_path(raw);
        if (!clean)
                return -ENOMEM;
        text = clean;
        if (strlen(text) > 1 && text[0] == '/')
                text++;
        r = pattern_to_regex(text, &regex);
        if (r < 0)
                return r;

        p = realloc(di->patterns, (di->n_patterns + 1) * sizeof *p);
        if (!p)
                return -ENOMEM;
        di->patterns = p;
        p = &p[di->n_patterns];
        *p = (DockerIgnorePattern) { .exclusion = exclusion };
        if (regcomp(&p->re, regex, REG_EXTENDED | REG_NOSUB) != 0)
                return -EINVAL;
        p->text = strdup(text);
        if (!p->text) {
                regfree(&p->re);
                return -ENOMEM;
        }
        di->n_patterns++;
        di->has_exclusions = di->has_exclusions || exclusion;
        return 0;
}

static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

int dockerignore_parse(const char *data, size_t size, const char *filename, DockerIgnore **ret,
                       DockerfileError *err) {
        _cleanup_dockerignore_free_ DockerIgnore *di = NULL;
        const char *file = filename ? filename : ".dockerignore";
        unsigned line = 0;
        size_t pos = 0;
        int r;

        if (size > DOCKERIGNORE_SIZE_MAX) {
                dockerfile_error_set(err, file, 0, 0,
                                     "the file is %zu bytes, more than the limit of %u bytes", size,
                                     DOCKERIGNORE_SIZE_MAX);
                return -EFBIG;
        }
        di = calloc(1, sizeof *di);
        if (!di)
                return -ENOMEM;

        while (pos < size) {
                const char *s = data + pos, *nl = memchr(s, '\n', size - pos);
                size_t len = nl ? (size_t) (nl - s) : size - pos;
                bool exclusion = false;

                pos += len + (nl ? 1 : 0);
                line++;
                if (line == 1 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
                        s += 3;
                        len -= 3;
                }
                if (memchr(s, 0, len)) {
                        dockerfile_error_set(err, file, line, 1,
                                             "the line contains a NUL byte; is this a binary file?");
                        return -EBADMSG;
                }
                if (len > 0 && s[0] == '#')
                        continue;
                while (len > 0 && is_space(*s)) {
                        s++;
                        len--;
                }
                while (len > 0 && is_space(s[len - 1]))
                        len--;
                if (len == 0)
                        continue;
                if (s[0] == '!') {
                        exclusion = true;
                        s++;
                        len--;
                        while (len > 0 && is_space(*s)) {
                                s++;
                                len--;
                        }
                        if (len == 0) {
                                dockerfile_error_set(
                                        err, file, line, 1,
                                        "illegal exclusion pattern '!': write the path to re-include "
                                        "after the '!'");
                                return -EBADMSG;
                        }
                }
                if (di->n_patterns >= DOCKERIGNORE_PATTERNS_MAX) {
                        dockerfile_error_set(err, file, line, 1, "more than %u patterns",
                                             DOCKERIGNORE_PATTERNS_MAX);
                        return -EBADMSG;
                }
                r = add_pattern(di, s, len, exclusion);
                if (r == -EINVAL) {
                        dockerfile_error_set(err, file, line, 1,
                                             "syntax error in pattern '%.*s': a '[' character class is not "
                                             "terminated or not valid; escape a literal '[' as '\\['",
                                             (int) MIN(len, (size_t) 128), s);
                        return -EBADMSG;
                }
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(di);
        return 0;
}

static bool pattern_match(const DockerIgnorePattern *p, const char *path) {
        return regexec(&p->re, path, 0, NULL, 0) == 0;
}

bool dockerignore_match(const DockerIgnore *di, const char *relpath, bool is_dir) {
        _cleanup_free_ char *path = NULL;
        bool matched = false;
        const char *slash;
        char *p;

        if (!di || di->n_patterns == 0)
                return false;
        while (startswith(relpath, "./"))
                relpath += 2;
        path = dockerignore_clean_path(relpath);
        if (!path)
                return false;
        p = path;
        while (*p == '/')
                p++;
        if (!*p || streq(p, "."))
                return false;
        slash = strrchr(p, '/');

        for (size_t i = 0; i < di->n_patterns; i++) {
                const DockerIgnorePattern *pat = &di->patterns[i];
                bool m;

                /* Only patterns that could change the answer matter. */
                if (pat->exclusion != matched)
                        continue;
                m = pattern_match(pat, p);
                /* A pattern matching a parent directory matches everything below it. */
                for (char *s = p; !m && slash && (s = strchr(s, '/')) && s <= slash; s++) {
                        *s = 0;
                        m = pattern_match(pat, p);
                        *s = '/';
                }
                if (m)
                        matched = !pat->exclusion;
        }
        return matched;
}

bool dockerignore_should_descend(const DockerIgnore *di, const char *reldir) {
        _cleanup_free_ char *dir = NULL;
        size_t len;

        if (!dockerignore_match(di, reldir, true))
                return true;
        if (!di->has_exclusions)
                return false;
        dir = dockerignore_clean_path(reldir);
        if (!dir)
                return true;
        len = strlen(dir);
        for (size_t i = 0; i < di->n_patterns; i++) {
                const char *t = di->patterns[i].text;

                if (di->patterns[i].exclusion && strncmp(t, dir, len) == 0 && (t[len] == '/' || t[len] == 0))
                        return true;
        }
        return false;
}

int dockerignore_load(const char *dir, const char *shown, DockerIgnore **ret, char **ret_error) {
        _cleanup_free_ char *path = path_join(dir, ".dockerignore"), *data = NULL;
        _cleanup_dockerignore_free_ DockerIgnore *di = NULL;
        DockerfileError derr = {};
        char msg[DOCKERFILE_ERROR_FILE_MAX + DOCKERFILE_ERROR_MESSAGE_MAX + 32];
        size_t size;
        int r;

        if (!path)
                return -ENOMEM;
        r = read_full_file_at(AT_FDCWD, path, DOCKERIGNORE_SIZE_MAX, &data, &size);
        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        if (r == -EFBIG)
                return errmsg_set(ret_error, -EBADMSG, "%s is larger than %u bytes", shown ?: path,
                                  DOCKERIGNORE_SIZE_MAX);
        if (r < 0)
                return errmsg_set(ret_error, r, "Cannot read %s: %s", shown ?: path, strerror(-r));
        r = dockerignore_parse(data, size, ".dockerignore", &di, &derr);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return errmsg_set(ret_error, -EBADMSG, "%s",
                                  dockerfile_error_format(&derr, msg, sizeof msg));
        *ret = TAKE_PTR(di);
        return 0;
}
