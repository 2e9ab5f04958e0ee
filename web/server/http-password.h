/* Users' passwords for the console login: argon2id hashes (libsodium crypto_pwhash_str, interactive
 * limits), a check that takes as long for an unknown user as for a wrong password, and random passwords
 * for `user add` and the quickstart.  Invariant: a password is never kept, only its hash; buffers that
 * held one are erased. */
#pragma once

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>

#define HTTP_PASSWORD_MIN 8U   /* a chosen password: at least this many bytes */
#define HTTP_PASSWORD_MAX 256U /* and at most this many */
#define HTTP_PASSWORD_HASH_MAX crypto_pwhash_STRBYTES
#define HTTP_PASSWORD_GENERATED_BYTES 15U /* random bytes of a made password: 20 URL-safe base64 chars */
#define HTTP_PASSWORD_GENERATED_LEN 20U

/* A chosen password is 8-256 bytes with no control character: one sentence why not, or NULL. */
const char *http_password_problem(const char *pw, size_t len);
/* The hash of pw into ret.  -ENOMEM when the memory the hash needs cannot be had. */
int http_password_hash(const char *pw, size_t len, char ret[HTTP_PASSWORD_HASH_MAX]);
/* True when pw matches hash.  hash NULL (no such user, or no password): false, after the same work as a
 * real check, so the answer's time does not say which. */
bool http_password_verify(const char *hash, const char *pw, size_t len);
/* A random password (HTTP_PASSWORD_GENERATED_LEN URL-safe characters) into ret. */
void http_password_generate(char ret[HTTP_PASSWORD_GENERATED_LEN + 1]);
