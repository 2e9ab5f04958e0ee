/* /api/v1/session: logging in to the console.
 *   POST   session {"name", "password"} → 200 {"user", "role", "csrf_token", "expires_at",
 *          "idle_timeout_sec"} and Set-Cookie: slipway_session=…; HttpOnly; SameSite=Strict (+ Secure when
 *          the request came over TLS through a proxy).  No credentials needed; 401 for a wrong name or
 *          password (the same sentence for both), 429 with Retry-After once throttled.
 *   GET    session → the same document for the request's session (401 without one)
 *   DELETE session → logout: the session is gone and the cookie cleared
 * Invariant: the database and the server's session set change together (row first, then the set); the
 * cookie leaves this file only in the answer that made it, and only its hash is kept. */
#include "api.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http-json-body.h"
#include "http-password.h"
#include "http-response.h"
#include "http-session.h"
#include "json-util.h"
#include "log.h"
#include "session-db.h"
#include "sqlite-util.h"
#include "user-account-db.h"

#define API_LOGIN_NAME_MAX 256U         /* a longer "name" is no user's: refused before any lookup */
#define API_LOGIN_BODY_MAX (8U * 1024U) /* a login request's JSON body */
#define API_LOGIN_WRONG "Wrong user name or password."
#define API_LOGIN_WRONG_HINT "Check both; an admin can set a new password with 'slipway user passwd NAME'."

_Static_assert(MODEL_SESSION_HASH_SIZE == HTTP_TOKEN_HASH_SIZE, "session hash sizes differ");
_Static_assert(MODEL_SESSION_CSRF_MAX == HTTP_SESSION_CSRF_LEN, "CSRF token sizes differ");

static const HttpJsonBody login_body = {
        .what = "login request",
        .max = API_LOGIN_BODY_MAX,
        .fields = (const char *const[]) { "name", "password", NULL },
        .example = "Send {\"name\": \"admin\", \"password\": \"…\"}.",
};

/* The headers of the answer: Set-Cookie for value (NULL: clear it), Secure when over TLS. */
static void cookie_header(HttpRequest *req, const char *value, int64_t max_age, char *buf, size_t size) {
        const char *xfp = mg_get_header(req->conn, "X-Forwarded-Proto");
        HttpSessionHeaders h = { .forwarded_proto = xfp, .forwarded_proto_len = xfp ? strlen(xfp) : 0 };

        snprintf(buf, size,
                 "Set-Cookie: %s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%" PRId64 "%s\r\n",
                 HTTP_SESSION_COOKIE, value ?: "", value ? max_age : 0,
                 http_session_https(&h) ? "; Secure" : "");
}

static json_t *session_json(const HttpSession *s, int64_t idle_sec) {
        return json_pack("{s:s,s:s,s:s,s:I,s:I}", "user", s->user, "role", http_role_to_string(s->role),
                         "csrf_token", s->csrf_token, "expires_at", (json_int_t) s->expires_at,
                         "idle_timeout_sec", (json_int_t) idle_sec);
}

/* The session set's entry for a row. */
static int session_put(HttpSessionSet *set, const ModelSession *m) {
        HttpSession s = {
                .session_id = m->id,
                .role = http_role_from_string(m->user_role),
                .created_at = m->created_at,
                .expires_at = m->expires_at,
        };
        int r;

        if (strlen(m->user_name) >= sizeof s.user || strlen(m->csrf_token) != HTTP_SESSION_CSRF_LEN)
                return -EINVAL;
        snprintf(s.user, sizeof s.user, "%s", m->user_name);
        memcpy(s.csrf_token, m->csrf_token, HTTP_SESSION_CSRF_LEN + 1);
        r = http_session_set_put(set, m->hash, &s, m->last_seen_at);
        sodium_memzero(&s, sizeof s);
        return r;
}

int api_sessions_load(sqlite3 *db, HttpSessionSet *set, size_t *ret_n) {
        int64_t now = (int64_t) time(NULL), idle = http_session_set_idle_sec(set);
        ModelSession *m = NULL;
        size_t n = 0, loaded = 0;
        int r;

        r = model_session_delete_ended(db, now, idle);
        if (r < 0)
                return r;
        r = model_session_list_open(db, now, idle, &m, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && r >= 0; i++) {
                r = session_put(set, &m[i]);
                if (r == -EINVAL) {
                        log_warning("Console session %" PRId64 " of user %s is damaged; it is not accepted.",
                                    m[i].id, m[i].user_name);
                        r = 0;
                } else if (r >= 0)
                        loaded++;
        }
        model_sessions_free(m, n);
        if (r < 0)
                return r;
        if (ret_n)
                *ret_n = loaded;
        return 0;
}

void api_session_used(void *userdata, int64_t session_id, int64_t when) {
        ApiContext *ctx = userdata;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        int r;

        if (!ctx->db_path)
                return;
        r = sqlite_open(ctx->db_path, &db);
        if (r >= 0)
                r = model_session_touch(db, session_id, when);
        if (r < 0 && r != -ENOENT)
                log_debug_errno(r, "Cannot record the use of console session %" PRId64 ": %m", session_id);
}

static int reply_wrong(HttpRequest *req) {
        return http_reply_error(req->conn, 401, API_LOGIN_WRONG, API_LOGIN_WRONG_HINT);
}

int api_session_create(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(model_user_done) ModelUser user = {};
        _cleanup_(model_session_done) ModelSession m = {};
        _cleanup_json_ json_t *body = NULL, *j = NULL;
        _cleanup_free_ char *hash = NULL;
        unsigned char raw[HTTP_SESSION_COOKIE_BYTES], cookie_hash[HTTP_TOKEN_HASH_SIZE];
        char cookie[HTTP_SESSION_COOKIE_LEN + 1], csrf[HTTP_SESSION_CSRF_LEN + 1], headers[256];
        int64_t now = (int64_t) time(NULL), wait;
        const char *name, *pw;
        HttpSession sess = {};
        bool ok;
        int r;

        if (!ctx->sessions || !ctx->login_throttle)
                return http_reply_error(req->conn, 503, "This daemon takes no console logins.",
                                        "See its log.");
        /* a login form on another site must not log the browser in to an account of its choosing */
        {
                const char *origin = mg_get_header(req->conn, "Origin"),
                           *host = mg_get_header(req->conn, "Host"),
                           *xfp = mg_get_header(req->conn, "X-Forwarded-Proto");
                HttpSessionHeaders h = {
                        .origin = origin,
                        .origin_len = origin ? strlen(origin) : 0,
                        .host = host,
                        .host_len = host ? strlen(host) : 0,
                        .forwarded_proto = xfp,
                        .forwarded_proto_len = xfp ? strlen(xfp) : 0,
                };

                if (!http_session_origin_ok(&h))
                        return http_reply_error(req->conn, 403, HTTP_CSRF_MESSAGE, HTTP_CSRF_HINT);
        }
        if (http_request_read_json(req, &login_body, &body) < 0)
                return req->status;
        if (json_get_string(body, "name", &name) < 0 || json_get_string(body, "password", &pw) < 0)
                return http_reply_error(req->conn, 400,
                                        "The login request needs \"name\" and \"password\" strings.",
                                        login_body.example);
        if (strlen(name) > API_LOGIN_NAME_MAX)
                return reply_wrong(req);

        wait = http_login_throttle_wait(ctx->login_throttle, name, req->client, now);
        if (wait > 0) {
                char msg[160];

                snprintf(headers, sizeof headers, "Retry-After: %" PRId64 "\r\n", wait);
                snprintf(msg, sizeof msg,
                         "Too many failed logins for this user or from this address; try again in %" PRId64
                         " seconds.",
                         wait);
                log_notice("Console login for user %.64s from %s refused: throttled for %" PRId64 " s.",
                           name, req->client[0] ? req->client : "an unknown address", wait);
                return http_reply_error_with(
                        req->conn, 429, msg,
                        "After 5 failures in 5 minutes logins wait; an admin can set a new "
                        "password with 'slipway user passwd NAME'.",
                        headers);
        }

        if (api_model_open(req, &db) < 0)
                return req->status;
        r = model_user_password_hash(db, name, &user, &hash);
        if (r < 0 && r != -ENOENT && r != -ENOKEY)
                return api_reply_error(req, r, NULL, "Cannot look up the user");
        /* the same work whether the user is unknown, has no password, or gave a wrong one */
        ok = http_password_verify(r >= 0 ? hash : NULL, pw,
                                  json_string_length(json_object_get(body, "password")));
        if (!ok) {
                http_login_throttle_failed(ctx->login_throttle, name, req->client, now);
                log_notice("Failed console login for user %.64s from %s.", name,
                           req->client[0] ? req->client : "an unknown address");
                return reply_wrong(req);
        }
        http_login_throttle_succeeded(ctx->login_throttle, name);

        if (sodium_init() < 0)
                return api_reply_error(req, -EIO, NULL, "Cannot make a session");
        randombytes_buf(raw, sizeof raw);
        sodium_bin2hex(cookie, sizeof cookie, raw, sizeof raw);
        randombytes_buf(raw, sizeof raw);
        sodium_bin2hex(csrf, sizeof csrf, raw, sizeof raw);
        sodium_memzero(raw, sizeof raw);
        http_token_hash(cookie, HTTP_SESSION_COOKIE_LEN, cookie_hash);

        /* ended sessions go now and then: at each login */
        (void) model_session_delete_ended(db, now, http_session_set_idle_sec(ctx->sessions));
        r = model_session_create(db, user.id, cookie_hash, csrf,
                                 now + (ctx->session_lifetime_sec ?: HTTP_SESSION_LIFETIME_SEC), &m);
        sodium_memzero(cookie_hash, sizeof cookie_hash);
        sodium_memzero(csrf, sizeof csrf);
        if (r >= 0)
                r = session_put(ctx->sessions, &m);
        if (r < 0) {
                if (m.id > 0)
                        (void) model_session_delete(db, m.id);
                sodium_memzero(cookie, sizeof cookie);
                return api_reply_error(req, r, NULL, "Cannot make a session");
        }
        snprintf(sess.user, sizeof sess.user, "%s", m.user_name);
        sess.role = http_role_from_string(m.user_role);
        sess.expires_at = m.expires_at;
        memcpy(sess.csrf_token, m.csrf_token, sizeof sess.csrf_token);
        log_info("User %s logged in to the console from %s.", m.user_name,
                 req->client[0] ? req->client : "an unknown address");
        cookie_header(req, cookie, m.expires_at - now, headers, sizeof headers);
        sodium_memzero(cookie, sizeof cookie);
        j = session_json(&sess, http_session_set_idle_sec(ctx->sessions));
        sodium_memzero(&sess, sizeof sess);
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot describe the session");
        r = http_reply_json_with(req->conn, 200, j, headers);
        sodium_memzero(headers, sizeof headers);
        return r;
}

static int reply_no_session(HttpRequest *req) {
        return http_reply_error(
                req->conn, 401, "This request comes with no console session.",
                "Log in with POST /api/v1/session {\"name\", \"password\"}; API tokens have no "
                "session.");
}

int api_session_show(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_json_ json_t *j = NULL;

        if (req->session_id <= 0 || !ctx->sessions)
                return reply_no_session(req);
        j = session_json(&req->session, http_session_set_idle_sec(ctx->sessions));
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot describe the session");
        return http_reply_json(req->conn, 200, j);
}

int api_session_delete(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_json_ json_t *j = NULL;
        char headers[256];
        int r;

        if (req->session_id <= 0 || !ctx->sessions)
                return reply_no_session(req);
        if (api_model_open(req, &db) < 0)
                return req->status;
        r = model_session_delete(db, req->session_id);
        if (r < 0 && r != -ENOENT)
                return api_reply_error(req, r, NULL, "Cannot end the session");
        (void) http_session_set_remove(ctx->sessions, req->session_id);
        log_info("User %s logged out of the console.", req->user);
        cookie_header(req, NULL, 0, headers, sizeof headers);
        j = json_pack("{s:s,s:b}", "user", req->user, "logged_out", true);
        return http_reply_json_with(req->conn, 200, j, headers);
}
