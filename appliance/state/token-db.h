/* API tokens of users in slipway.db (issue 13): a name unique per user, the token's hash (never the
 * token), read-only or not, created, expiry and last use.  Rows are owned by the caller
 * (model_api_token_done/_free). */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MODEL_API_TOKEN_HASH_SIZE 32U /* crypto_generichash_BYTES */

typedef struct ModelApiToken {
        int64_t id;
        int64_t user_id;
        char *user_name; /* the owner's name and role, joined from users */
        char *user_role;
        char *name;
        bool read_only;
        int64_t created_at;   /* seconds since the epoch */
        int64_t expires_at;   /* 0: never */
        int64_t last_used_at; /* 0: never */
        uint8_t hash[MODEL_API_TOKEN_HASH_SIZE];
} ModelApiToken;

void model_api_token_done(ModelApiToken *t);
void model_api_tokens_free(ModelApiToken *t, size_t n);

/* A new token of user_id (expires_at 0: never).  -EEXIST when the user has a token of that name (or,
 * never in practice, one with that hash), -ENOENT when there is no such user. */
int model_api_token_create(sqlite3 *db, int64_t user_id, const char *name,
                           const uint8_t hash[MODEL_API_TOKEN_HASH_SIZE], bool read_only, int64_t expires_at,
                           ModelApiToken *ret);
/* The user's tokens, by name. */
int model_api_token_list(sqlite3 *db, int64_t user_id, ModelApiToken **ret, size_t *ret_n);
/* Every token of every user (expired ones included): what slipwayd loads at start. */
int model_api_token_list_all(sqlite3 *db, ModelApiToken **ret, size_t *ret_n);
/* Deletes the user's token name; *ret_id (may be NULL) gets its id.  -ENOENT when there is none. */
int model_api_token_delete(sqlite3 *db, int64_t user_id, const char *name, int64_t *ret_id);
/* Records a use at `when` (only ever forward); -ENOENT when the token is gone. */
int model_api_token_touch(sqlite3 *db, int64_t id, int64_t when);
