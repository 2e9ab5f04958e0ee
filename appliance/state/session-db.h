/* Console sessions in slipway.db (issue 14): whose, the hash of the session cookie (never the cookie),
 * the session's CSRF token, when it was made, last seen and when it ends.  Rows are owned by the caller
 * (model_session_done/_free). */
#pragma once

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#define MODEL_SESSION_HASH_SIZE 32U /* crypto_generichash_BYTES */
#define MODEL_SESSION_CSRF_MAX 64U  /* hex of 32 random bytes */

typedef struct ModelSession {
        int64_t id;
        int64_t user_id;
        char *user_name; /* the owner's name and role, joined from users */
        char *user_role;
        char csrf_token[MODEL_SESSION_CSRF_MAX + 1];
        int64_t created_at; /* seconds since the epoch */
        int64_t last_seen_at;
        int64_t expires_at;
        uint8_t hash[MODEL_SESSION_HASH_SIZE];
} ModelSession;

void model_session_done(ModelSession *s);
void model_sessions_free(ModelSession *s, size_t n);

/* A new session of user_id ending at expires_at.  -ENOENT when there is no such user. */
int model_session_create(sqlite3 *db, int64_t user_id, const uint8_t hash[MODEL_SESSION_HASH_SIZE],
                         const char *csrf_token, int64_t expires_at, ModelSession *ret);
/* Every session still open at now: not past expires_at and seen within idle_sec. */
int model_session_list_open(sqlite3 *db, int64_t now, int64_t idle_sec, ModelSession **ret, size_t *ret_n);
/* -ENOENT when there is none. */
int model_session_delete(sqlite3 *db, int64_t id);
/* Removes the sessions that ended by now (see model_session_list_open); returns how many. */
int model_session_delete_ended(sqlite3 *db, int64_t now, int64_t idle_sec);
/* Removes every session of the user but keep_id (0: none kept); returns how many. */
int model_session_delete_user(sqlite3 *db, int64_t user_id, int64_t keep_id);
/* Records a use at `when` (only ever forward); -ENOENT when the session is gone. */
int model_session_touch(sqlite3 *db, int64_t id, int64_t when);
