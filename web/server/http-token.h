/* Reading the credentials of a request: "Bearer TOKEN" (the API, and the registry) and HTTP Basic
 * "base64(USER:TOKEN)" (what docker, skopeo and podman send to the registry), and the token's hash.
 * Invariant: a token is only ever compared as its hash (http_token_hash()), with sodium_memcmp, so the
 * time a check takes does not depend on how much of a guess was right (http-token-set.c). */
#pragma once

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>

#define HTTP_TOKEN_HASH_SIZE crypto_generichash_BYTES

#define HTTP_TOKEN_MISSING_MESSAGE "Missing or wrong API token."
#define HTTP_TOKEN_MISSING_HINT                                                                           \
        "Send 'Authorization: Bearer TOKEN' with the state directory's admin.token or a token made with " \
        "'slipway token create NAME' (slipway does this for you)."
#define HTTP_TOKEN_EXPIRED_MESSAGE "The API token has expired."
#define HTTP_TOKEN_EXPIRED_HINT \
        "Make a new one with 'slipway token create NAME [--expires DUR]'; the state directory's admin.token never expires."
#define HTTP_TOKEN_READ_ONLY_MESSAGE "This API token is read-only: it cannot change anything."
#define HTTP_TOKEN_READ_ONLY_HINT \
        "Use a token made without --read-only for POST, PUT, PATCH and DELETE requests."

/* The registry (/v2/) takes HTTP Basic: a user's name as the user name and one of that user's API tokens
 * as the password. */
#define HTTP_REGISTRY_AUTH_HINT                                                                       \
        "Log in with your user name and one of your API tokens as the password (e.g. skopeo --creds " \
        "admin:TOKEN, podman login -u admin); make a token with 'slipway token create NAME'."
#define HTTP_BASIC_CREDENTIALS_MAX 1024U

void http_token_hash(const char *token, size_t len, unsigned char ret[HTTP_TOKEN_HASH_SIZE]);

/* value (an Authorization header value, len bytes, not necessarily NUL-terminated; NULL when the header
 * is absent) as "Bearer TOKEN": true with the token's bytes in *ret (pointing into value). */
bool http_token_parse_bearer(const char *value, size_t len, const char **ret, size_t *ret_len);

/* HTTP Basic credentials, decoded; user and password point into buf.  Erase with http_basic_done(). */
typedef struct HttpBasicCredentials {
        unsigned char buf[HTTP_BASIC_CREDENTIALS_MAX];
        const char *user, *password;
        size_t user_len, password_len;
} HttpBasicCredentials;

/* value as "Basic base64(USER:PASSWORD)": true with *ret filled. */
bool http_token_parse_basic(const char *value, size_t len, HttpBasicCredentials *ret);
void http_basic_done(HttpBasicCredentials *c);

/* POST, PUT, PATCH, DELETE: what a read-only token may not send. */
bool http_method_writes(const char *method, size_t len);
