/* Credential parsing for http-token.h: the scheme is matched case-insensitively and spaces after it are
 * skipped; Basic is decoded into a bounded buffer that is erased after use. */
#include "http-token.h"

#include <string.h>
#include <strings.h>

void http_token_hash(const char *token, size_t len, unsigned char ret[HTTP_TOKEN_HASH_SIZE]) {
        crypto_generichash(ret, HTTP_TOKEN_HASH_SIZE, (const unsigned char *) token, len, NULL, 0);
}

/* The rest of value after "SCHEME " and any further spaces, or NULL when it has another scheme. */
static const char *after_scheme(const char *value, size_t len, const char *scheme, size_t *ret_len) {
        size_t n = strlen(scheme);

        if (!value || len <= n || strncasecmp(value, scheme, n) != 0 || value[n] != ' ')
                return NULL;
        value += n + 1;
        len -= n + 1;
        while (len > 0 && *value == ' ') {
                value++;
                len--;
        }
        *ret_len = len;
        return value;
}

bool http_token_parse_bearer(const char *value, size_t len, const char **ret, size_t *ret_len) {
        const char *t = after_scheme(value, len, "Bearer", ret_len);

        if (!t)
                return false;
        *ret = t;
        return true;
}

bool http_token_parse_basic(const char *value, size_t len, HttpBasicCredentials *ret) {
        const unsigned char *colon;
        const char *b64;
        size_t n = 0;

        b64 = after_scheme(value, len, "Basic", &len);
        if (!b64)
                return false;
        /* one byte kept free, so the decoded text can always be ended with a NUL */
        if (sodium_base642bin(ret->buf, sizeof ret->buf - 1, b64, len, NULL, &n, NULL,
                              sodium_base64_VARIANT_ORIGINAL) < 0) {
                http_basic_done(ret);
                return false;
        }
        colon = memchr(ret->buf, ':', n);
        if (!colon) {
                http_basic_done(ret);
                return false;
        }
        ret->user = (const char *) ret->buf;
        ret->user_len = (size_t) (colon - ret->buf);
        ret->password = (const char *) colon + 1;
        ret->password_len = n - ret->user_len - 1;
        return true;
}

void http_basic_done(HttpBasicCredentials *c) {
        sodium_memzero(c, sizeof *c);
}

bool http_method_writes(const char *method, size_t len) {
        static const char *const writes[] = { "POST", "PUT", "PATCH", "DELETE" };

        for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++)
                if (len == strlen(writes[i]) && strncmp(method, writes[i], len) == 0)
                        return true;
        return false;
}
