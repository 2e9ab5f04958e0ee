/* Bearer token comparison for http-token.h: the scheme is matched case-insensitively, spaces after it
 * are skipped, and the rest is hashed and compared in constant time. */
#include "http-token.h"

#include <string.h>
#include <strings.h>

void http_token_hash(const char *token, size_t len, unsigned char ret[HTTP_TOKEN_HASH_SIZE]) {
        crypto_generichash(ret, HTTP_TOKEN_HASH_SIZE, (const unsigned char *) token, len, NULL, 0);
}

bool http_token_check(const unsigned char hash[HTTP_TOKEN_HASH_SIZE], const char *value, size_t len) {
        unsigned char h[HTTP_TOKEN_HASH_SIZE];

        if (!value || len < 7 || strncasecmp(value, "Bearer ", 7) != 0)
                return false;
        value += 7;
        len -= 7;
        while (len > 0 && *value == ' ') {
                value++;
                len--;
        }
        http_token_hash(value, len, h);
        return sodium_memcmp(h, hash, HTTP_TOKEN_HASH_SIZE) == 0;
}

bool http_token_check_basic(const unsigned char hash[HTTP_TOKEN_HASH_SIZE], const char *value, size_t len) {
        unsigned char h[HTTP_TOKEN_HASH_SIZE], bin[HTTP_BASIC_CREDENTIALS_MAX];
        size_t n = 0;
        const unsigned char *colon;
        bool ok;

        if (!value || len < 6 || strncasecmp(value, "Basic ", 6) != 0)
                return false;
        value += 6;
        len -= 6;
        while (len > 0 && *value == ' ') {
                value++;
                len--;
        }
        if (sodium_base642bin(bin, sizeof bin, value, len, NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL) <
            0)
                return false;
        colon = memchr(bin, ':', n);
        if (!colon || (size_t) (colon - bin) != strlen(HTTP_BASIC_USER) ||
            memcmp(bin, HTTP_BASIC_USER, strlen(HTTP_BASIC_USER)) != 0) {
                sodium_memzero(bin, sizeof bin);
                return false;
        }
        http_token_hash((const char *) colon + 1, n - (size_t) (colon + 1 - bin), h);
        ok = sodium_memcmp(h, hash, HTTP_TOKEN_HASH_SIZE) == 0;
        sodium_memzero(bin, sizeof bin);
        return ok;
}
