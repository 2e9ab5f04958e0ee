/* The admin token check shared by the API gate (which answers 401 before a request reaches civetweb)
 * and the /api dispatcher behind it.  Invariant: the comparison takes the same time whatever the
 * candidate is: both sides are hashed and the hashes compared with sodium_memcmp. */
#pragma once

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>

#define HTTP_TOKEN_HASH_SIZE crypto_generichash_BYTES

#define HTTP_TOKEN_MISSING_MESSAGE "Missing or wrong API token."
#define HTTP_TOKEN_MISSING_HINT                                                                              \
        "Send 'Authorization: Bearer TOKEN' with the token from the state directory's admin.token (slipway " \
        "does this for you)."

void http_token_hash(const char *token, size_t len, unsigned char ret[HTTP_TOKEN_HASH_SIZE]);
/* True when value (an Authorization header value, len bytes, not necessarily NUL-terminated; NULL when
 * the header is absent) is "Bearer TOKEN" for the token whose hash is given. */
bool http_token_check(const unsigned char hash[HTTP_TOKEN_HASH_SIZE], const char *value, size_t len);

/* The registry (/v2/) takes HTTP Basic as docker, skopeo and podman send it: "Basic base64(admin:TOKEN)",
 * the user name admin and the admin token as the password (until users and their tokens exist). */
#define HTTP_BASIC_USER "admin"
#define HTTP_REGISTRY_AUTH_HINT                                                                     \
        "Log in with the user name admin and the admin token as the password (e.g. skopeo --creds " \
        "admin:TOKEN, podman login)."
#define HTTP_BASIC_CREDENTIALS_MAX 1024U
bool http_token_check_basic(const unsigned char hash[HTTP_TOKEN_HASH_SIZE], const char *value, size_t len);
