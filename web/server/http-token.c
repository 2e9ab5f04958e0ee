/* Bearer token comparison for http-token.h: the scheme is matched case-insensitively, spaces after it
 * are skipped, and the rest is hashed and compared in constant time. */
#include "http-token.h"

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
