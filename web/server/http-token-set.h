/* The API tokens slipwayd accepts, in memory: the admin.token (id 0) and every user's tokens, each with
 * who it speaks for.  Shared by the API gate's thread and civetweb's: a rwlock guards it, lookups take
 * the read side.  Invariant: a token is found by its hash, every entry compared with sodium_memcmp, and
 * an expired token is never accepted. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http-token.h"
#include "macro.h"

#define HTTP_USER_NAME_MAX 63U
/* A token's last use is written back (token_used) at most this often. */
#define HTTP_TOKEN_TOUCH_INTERVAL_SEC 60
#define HTTP_TOKEN_ADMIN_ID 0 /* the bootstrap admin.token, which has no row */

/* Least privilege first, so a zeroed HttpRequest of an anonymous caller is never an admin's. */
typedef enum HttpRole {
        HTTP_ROLE_VIEWER,
        HTTP_ROLE_DEVELOPER,
        HTTP_ROLE_ADMIN,
        _HTTP_ROLE_MAX,
        _HTTP_ROLE_INVALID = -EINVAL,
} HttpRole;

const char *http_role_to_string(HttpRole r);
HttpRole http_role_from_string(const char *s);

/* Who a token speaks for. */
typedef struct HttpIdentity {
        int64_t token_id;
        char user[HTTP_USER_NAME_MAX + 1];
        HttpRole role;
        bool read_only;
        int64_t expires_at; /* seconds since the epoch; 0: never */
} HttpIdentity;

typedef struct HttpTokenSet HttpTokenSet;

int http_token_set_new(HttpTokenSet **ret);
HttpTokenSet *http_token_set_free(HttpTokenSet *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(HttpTokenSet *, http_token_set_free);

/* Adds the token whose hash is given, or replaces the entry of the same token id.  last_used_at: when it
 * was last used as far as anyone recorded (0: never).  -EINVAL for a user name longer than
 * HTTP_USER_NAME_MAX or an unknown role. */
int http_token_set_put(HttpTokenSet *s, const unsigned char hash[HTTP_TOKEN_HASH_SIZE],
                       const HttpIdentity *id, int64_t last_used_at);
/* -ENOENT when no entry has that id. */
int http_token_set_remove(HttpTokenSet *s, int64_t token_id);
/* Removes every token of user (a user removed); returns how many. */
size_t http_token_set_remove_user(HttpTokenSet *s, const char *user);
size_t http_token_set_size(HttpTokenSet *s);

/* The entry of the token whose hash is given: 0 with *ret filled; -ENOKEY when there is none, -EKEYEXPIRED
 * when it expired at or before now (seconds since the epoch). */
int http_token_set_find(HttpTokenSet *s, const unsigned char hash[HTTP_TOKEN_HASH_SIZE], int64_t now,
                        HttpIdentity *ret);
/* An Authorization header value (NULL when absent): "Bearer TOKEN", or with basic_ok also "Basic
 * base64(USER:TOKEN)" where USER must be the token's owner.  As http_token_set_find(); -ENOKEY for a
 * missing or malformed header and for a user name that is not the token's owner. */
int http_token_set_check(HttpTokenSet *s, const char *value, size_t len, bool basic_ok, int64_t now,
                         HttpIdentity *ret);
/* Notes a use of token_id at now.  True when the use recorded before is HTTP_TOKEN_TOUCH_INTERVAL_SEC or
 * more older (or there was none): the caller then writes now back to the database. */
bool http_token_set_touch(HttpTokenSet *s, int64_t token_id, int64_t now);
