/* Session cookie, CSRF token and origin checks for http-session.h.  Headers are (pointer, length) pairs,
 * not NUL-terminated, as the gate's parser gives them. */
#include "http-session.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <strings.h>

#include "http-token.h"

static bool is_hex(const char *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
                        return false;
        return true;
}

bool http_session_cookie_find(const char *cookie, size_t len, const char **ret) {
        size_t name_len = strlen(HTTP_SESSION_COOKIE);
        const char *p = cookie, *end = cookie + len;

        if (!cookie)
                return false;
        /* "a=b; slipway_session=HEX; c=d": pairs split by ';', spaces after it */
        while (p < end) {
                const char *semi = memchr(p, ';', (size_t) (end - p));
                const char *pair_end = semi ?: end;

                while (p < pair_end && (*p == ' ' || *p == '\t'))
                        p++;
                if ((size_t) (pair_end - p) > name_len && memcmp(p, HTTP_SESSION_COOKIE, name_len) == 0 &&
                    p[name_len] == '=') {
                        const char *v = p + name_len + 1;
                        size_t vl = (size_t) (pair_end - v);

                        while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
                                vl--;
                        if (vl == HTTP_SESSION_COOKIE_LEN && is_hex(v, vl)) {
                                *ret = v;
                                return true;
                        }
                }
                p = semi ? semi + 1 : end;
        }
        return false;
}

bool http_session_https(const HttpSessionHeaders *h) {
        return h->forwarded_proto && h->forwarded_proto_len == 5 &&
               strncasecmp(h->forwarded_proto, "https", 5) == 0;
}

/* host without a port that is the scheme's default (":80" for http, ":443" for https). */
static size_t host_len_without_default_port(const char *host, size_t len, bool https) {
        const char *port = https ? ":443" : ":80";
        size_t pl = strlen(port);

        if (len > pl && memcmp(host + len - pl, port, pl) == 0)
                return len - pl;
        return len;
}

bool http_session_origin_ok(const HttpSessionHeaders *h) {
        bool https = http_session_https(h);
        const char *scheme = https ? "https://" : "http://";
        size_t sl = strlen(scheme), ol, hl;

        if (!h->origin)
                return true;
        if (!h->host || h->origin_len <= sl || strncasecmp(h->origin, scheme, sl) != 0)
                return false;
        ol = host_len_without_default_port(h->origin + sl, h->origin_len - sl, https);
        hl = host_len_without_default_port(h->host, h->host_len, https);
        return ol == hl && hl > 0 && strncasecmp(h->origin + sl, h->host, hl) == 0;
}

static bool method_reads(const char *m, size_t len) {
        return (len == 3 && memcmp(m, "GET", 3) == 0) || (len == 4 && memcmp(m, "HEAD", 4) == 0);
}

int http_session_check(HttpSessionSet *set, const HttpSessionHeaders *h, int64_t now, HttpSession *ret) {
        unsigned char hash[HTTP_TOKEN_HASH_SIZE];
        HttpSession sess;
        const char *cookie;
        int r;

        if (!set || !http_session_cookie_find(h->cookie, h->cookie_len, &cookie))
                return -ENOKEY;
        http_token_hash(cookie, HTTP_SESSION_COOKIE_LEN, hash);
        r = http_session_set_find(set, hash, now, &sess);
        sodium_memzero(hash, sizeof hash);
        if (r < 0)
                return r;
        if (!method_reads(h->method, h->method_len)) {
                bool csrf_ok = h->csrf && h->csrf_len == HTTP_SESSION_CSRF_LEN &&
                               sodium_memcmp(h->csrf, sess.csrf_token, HTTP_SESSION_CSRF_LEN) == 0;

                if (!csrf_ok || !http_session_origin_ok(h)) {
                        sodium_memzero(&sess, sizeof sess);
                        return -EPERM;
                }
        }
        *ret = sess;
        sodium_memzero(&sess, sizeof sess);
        return 0;
}
