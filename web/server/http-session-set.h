/* The console sessions slipwayd accepts, in memory: for each, the hash of its cookie, whose it is, its CSRF
 * token and when it ends.  Shared by the API gate's thread and civetweb's under a rwlock, as the token set
 * is (http-token-set.h), so the gate checks a cookie without a database query.  Invariant: a session is
 * found by its cookie's hash, every entry compared with sodium_memcmp, and one past its absolute end or
 * unused for the idle timeout is never accepted. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http-token-set.h"
#include "macro.h"

#define HTTP_SESSION_IDLE_SEC (12 * 3600)         /* a session unused this long ends */
#define HTTP_SESSION_LIFETIME_SEC (7 * 24 * 3600) /* and every session ends this long after login */
#define HTTP_SESSION_CSRF_LEN 64U                 /* hex of 32 random bytes */
/* A session's last use is written back to the database at most this often (or a quarter of the idle
 * timeout, when that is shorter). */
#define HTTP_SESSION_TOUCH_INTERVAL_SEC 60

typedef struct HttpSession {
        int64_t session_id; /* > 0 */
        char user[HTTP_USER_NAME_MAX + 1];
        HttpRole role;
        char csrf_token[HTTP_SESSION_CSRF_LEN + 1];
        int64_t created_at, expires_at; /* seconds since the epoch */
} HttpSession;

typedef struct HttpSessionSet HttpSessionSet;

/* idle_sec: how long an unused session lives (HTTP_SESSION_IDLE_SEC unless a test shortens it). */
int http_session_set_new(int64_t idle_sec, HttpSessionSet **ret);
HttpSessionSet *http_session_set_free(HttpSessionSet *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(HttpSessionSet *, http_session_set_free);
int64_t http_session_set_idle_sec(HttpSessionSet *s);

/* Adds the session whose cookie hash is given, or replaces the one of the same id; last_seen_at: its last
 * use as recorded.  -EINVAL for a bad user name, role or CSRF token. */
int http_session_set_put(HttpSessionSet *s, const unsigned char hash[HTTP_TOKEN_HASH_SIZE],
                         const HttpSession *sess, int64_t last_seen_at);
/* -ENOENT when no session has that id. */
int http_session_set_remove(HttpSessionSet *s, int64_t session_id);
/* Removes every session of user but keep_id (0: none kept); returns how many. */
size_t http_session_set_remove_user(HttpSessionSet *s, const char *user, int64_t keep_id);
size_t http_session_set_size(HttpSessionSet *s);

/* The session of the cookie whose hash is given, as of now: 0 with *ret filled and its last use set to
 * now; -ENOKEY when there is none, -EKEYEXPIRED when it ended (idle or past its end). */
int http_session_set_find(HttpSessionSet *s, const unsigned char hash[HTTP_TOKEN_HASH_SIZE], int64_t now,
                          HttpSession *ret);
/* True when the use last written back for session_id is HTTP_SESSION_TOUCH_INTERVAL_SEC (or a quarter of
 * the idle timeout) or more older than now: the caller then writes now to the database (only one caller
 * gets true). */
bool http_session_set_touch_due(HttpSessionSet *s, int64_t session_id, int64_t now);
