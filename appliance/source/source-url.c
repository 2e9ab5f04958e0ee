/* Git remote URLs: classification, redaction and the normalised key a mirror is named from.  Everything a
 * user may see goes through source_url_redact() or source_url_scrub_text() first. */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "source-url.h"
#include "string-util.h"

static const char *const kind_table[_SOURCE_URL_KIND_MAX] = {
        [SOURCE_URL_PATH] = "path", [SOURCE_URL_FILE] = "file",   [SOURCE_URL_GIT] = "git",
        [SOURCE_URL_HTTP] = "http", [SOURCE_URL_HTTPS] = "https", [SOURCE_URL_SSH] = "ssh",
};

const char *source_url_kind_to_string(SourceUrlKind k) {
        if (k < 0 || k >= _SOURCE_URL_KIND_MAX)
                return NULL;
        return kind_table[k];
}

static char ascii_lower(char c) {
        return c >= 'A' && c <= 'Z' ? (char) (c - 'A' + 'a') : c;
}

static bool has_prefix_nocase(const char *s, const char *prefix) {
        for (; *prefix; s++, prefix++)
                if (ascii_lower(*s) != *prefix)
                        return false;
        return true;
}

/* Length of the scheme including "://", or 0 when s does not start with scheme://. */
static size_t scheme_length(const char *s) {
        size_t n = 0;

        while ((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
               (n > 0 && s[n] >= '0' && s[n] <= '9') ||
               (n > 0 && (s[n] == '+' || s[n] == '-' || s[n] == '.')))
                n++;
        if (n == 0 || strncmp(s + n, "://", 3) != 0)
                return 0;
        return n + 3;
}

/* For a scheme URL: the offsets of the authority [*a, *e) (after "://", up to the first '/', '?' or '#'). */
static void authority_span(const char *url, size_t scheme_len, size_t *ret_start, size_t *ret_end) {
        size_t e = scheme_len;

        while (url[e] && url[e] != '/' && url[e] != '?' && url[e] != '#')
                e++;
        *ret_start = scheme_len;
        *ret_end = e;
}

/* The '@' ending the userinfo within the authority, or SIZE_MAX. */
static size_t userinfo_end(const char *url, size_t a, size_t e) {
        size_t at = SIZE_MAX;

        for (size_t i = a; i < e; i++)
                if (url[i] == '@')
                        at = i; /* the last one: a password may hold an unescaped '@' */
        return at;
}

static bool scp_like(const char *url) {
        /* user@host:path or host:path with no slash before the colon, as git understands it */
        const char *colon = strchr(url, ':');
        const char *slash = strchr(url, '/');

        return colon && colon != url && (!slash || slash > colon);
}

/* A URL's path names something: it is not only slashes. */
static bool path_has_name(const char *path) {
        return path[strspn(path, "/")] != '\0';
}

int source_url_classify(const char *url) {
        size_t n, s, a, e;

        if (!url || !*url)
                return -EINVAL;
        n = strnlen(url, SOURCE_URL_MAX + 1);
        if (n > SOURCE_URL_MAX)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) url[i] <= ' ' || url[i] == 0x7f)
                        return -EINVAL;

        s = scheme_length(url);
        if (s == 0) {
                if (url[0] == '/')
                        return SOURCE_URL_PATH;
                if (scp_like(url) && !startswith(url, "ext::"))
                        return strstr(url, "::") ? -EINVAL : SOURCE_URL_SSH;
                return -EINVAL; /* relative paths depend on a working directory the daemon does not share */
        }

        authority_span(url, s, &a, &e);
        if (has_prefix_nocase(url, "file://")) {
                /* file:///abs/path: empty authority (or "localhost") and an absolute path */
                if (url[e] != '/' || !path_has_name(url + e))
                        return -EINVAL;
                if (e != a && !(e - a == 9 && has_prefix_nocase(url + a, "localhost")))
                        return -EINVAL;
                return SOURCE_URL_FILE;
        }

        /* network schemes: a host and a path */
        size_t at = userinfo_end(url, a, e);
        size_t host = at == SIZE_MAX ? a : at + 1;
        if (host >= e || url[e] != '/' || !path_has_name(url + e))
                return -EINVAL;

        if (s == strlen("git://") && has_prefix_nocase(url, "git://"))
                return SOURCE_URL_GIT;
        if (s == strlen("http://") && has_prefix_nocase(url, "http://"))
                return SOURCE_URL_HTTP;
        if (s == strlen("https://") && has_prefix_nocase(url, "https://"))
                return SOURCE_URL_HTTPS;
        if ((s == strlen("ssh://") && has_prefix_nocase(url, "ssh://")) ||
            (s == strlen("git+ssh://") && has_prefix_nocase(url, "git+ssh://")) ||
            (s == strlen("ssh+git://") && has_prefix_nocase(url, "ssh+git://")))
                return SOURCE_URL_SSH;
        return -EINVAL;
}

int source_url_redact(const char *url, char **ret) {
        size_t s, a, e, at;
        char *r;

        assert(url);
        assert(ret);

        s = scheme_length(url);
        if (s > 0) {
                authority_span(url, s, &a, &e);
                at = userinfo_end(url, a, e);
                if (at != SIZE_MAX) {
                        size_t n = strlen(url);
                        r = malloc(n - (at + 1 - a) + 1);
                        if (!r)
                                return -ENOMEM;
                        memcpy(r, url, a);
                        memcpy(r + a, url + at + 1, n - at - 1 + 1);
                        *ret = r;
                        return 0;
                }
        }
        r = strdup(url);
        if (!r)
                return -ENOMEM;
        *ret = r;
        return 0;
}

int source_url_normalize(const char *url, char **ret) {
        _cleanup_free_ char *r = NULL;
        size_t s, n;
        int k;

        assert(ret);

        k = source_url_classify(url);
        if (k < 0)
                return k;
        if (source_url_redact(url, &r) < 0)
                return -ENOMEM;

        s = scheme_length(r);
        if (s > 0) {
                size_t a, e;

                authority_span(r, s, &a, &e);
                for (size_t i = 0; i < e; i++)
                        r[i] = ascii_lower(r[i]);
                if (strncmp(r, "git+ssh://", 10) == 0 || strncmp(r, "ssh+git://", 10) == 0) {
                        memmove(r, r + 4, strlen(r + 4) + 1);
                        memcpy(r, "ssh", 3);
                        s -= 4;
                }
        }
        n = strlen(r);
        while (n > 1 && r[n - 1] == '/' && !(s > 0 && n == s))
                r[--n] = '\0';

        *ret = TAKE_PTR(r);
        return 0;
}

/* Removes [from, to) from text. */
static void cut(char *text, size_t from, size_t to) {
        memmove(text + from, text + to, strlen(text + to) + 1);
}

void source_url_scrub_text(char *text, const char *url) {
        if (!text)
                return;

        /* every userinfo of any scheme URL quoted in text */
        for (size_t i = 0; text[i]; i++) {
                size_t s, a, e, at;

                if (i > 0 && ascii_isalnum(text[i - 1]))
                        continue; /* scheme starts at a word boundary */
                s = scheme_length(text + i);
                if (s == 0)
                        continue;
                authority_span(text + i, s, &a, &e);
                /* the authority of a quoted URL also ends at white space or a quote */
                for (size_t j = a; j < e; j++)
                        if (text[i + j] == ' ' || text[i + j] == '\'' || text[i + j] == '"') {
                                e = j;
                                break;
                        }
                at = userinfo_end(text + i, a, e);
                if (at != SIZE_MAX)
                        cut(text, i + a, i + at + 1);
                i += s - 1;
        }

        /* and the password itself, wherever a library quoted it on its own */
        if (url) {
                size_t s = scheme_length(url), a, e, at;
                const char *colon;

                if (s == 0)
                        return;
                authority_span(url, s, &a, &e);
                at = userinfo_end(url, a, e);
                if (at == SIZE_MAX)
                        return;
                colon = memchr(url + a, ':', at - a);
                if (!colon || (size_t) (url + at - colon - 1) == 0)
                        return;

                size_t plen = (size_t) (url + at - colon - 1);
                char *p;
                while ((p = memmem(text, strlen(text), colon + 1, plen)))
                        cut(text, (size_t) (p - text), (size_t) (p - text) + plen);
        }
}
