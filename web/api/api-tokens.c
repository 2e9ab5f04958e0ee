/* /api/v1/tokens: the calling user's API tokens.
 *   POST   tokens {"name", "expires_in_sec"?, "read_only"?, "user"?} → 201, the token itself shown only
 *          here; "user" (another user's name) is an admin's only: a token for that user
 *   GET    tokens → {"tokens": [{"name", "read_only", "created_at", "expires_at", "last_used_at", "expired"}]}
 *   DELETE tokens/NAME → 200 {"name", "revoked": true}
 * Invariant: the database and the server's token set change together (row first, then the set), and a
 * token leaves this file only in the one answer that made it; the row keeps its hash. */
#include "api.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http-json-body.h"
#include "http-response.h"
#include "json-util.h"
#include "log.h"
#include "sqlite-util.h"
#include "token-db.h"
#include "user-account-db.h"

#define API_TOKEN_NAME_MAX 63U
#define API_TOKEN_BYTES 32U                                /* random bytes of a token, sent as hex */
#define API_TOKEN_EXPIRES_MAX_SEC (10LL * 366 * 24 * 3600) /* about ten years */

_Static_assert(MODEL_API_TOKEN_HASH_SIZE == HTTP_TOKEN_HASH_SIZE, "token hash sizes differ");

static const HttpJsonBody token_create_body = {
        .what = "token create request",
        .fields = (const char *const[]) { "name", "expires_in_sec", "read_only", "user", NULL },
        .example =
                "Send {\"name\": \"ci\", \"expires_in_sec\": 2592000, \"read_only\": false} (name alone is "
                "enough).",
};

/* [a-z0-9][a-z0-9._-]{0,62} */
static bool token_name_valid(const char *name) {
        size_t n = strlen(name);

        if (n == 0 || n > API_TOKEN_NAME_MAX)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = name[i];
                bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

                if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
                        return false;
        }
        return true;
}

static int reply_bad_name(HttpRequest *req) {
        http_reply_error(
                req->conn, 400, "The token name is not valid.",
                "Token names are 1–63 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit.");
        return api_replied(req, 400, -EINVAL);
}

static json_t *time_or_null(int64_t t) {
        return t > 0 ? json_integer((json_int_t) t) : json_null();
}

static json_t *token_json(const ModelApiToken *t, int64_t now) {
        return json_pack("{s:s,s:s,s:b,s:I,s:o,s:o,s:b}", "name", t->name, "user", t->user_name, "read_only",
                         t->read_only, "created_at", (json_int_t) t->created_at, "expires_at",
                         time_or_null(t->expires_at), "last_used_at", time_or_null(t->last_used_at),
                         "expired", t->expires_at > 0 && now >= t->expires_at);
}

/* The caller's users row; 409 when the user is gone (its tokens went with it). */
static int caller_user(HttpRequest *req, sqlite3 *db, ModelUser *ret) {
        int r;

        if (!req->user) {
                http_reply_error(req->conn, 401, HTTP_TOKEN_MISSING_MESSAGE, HTTP_TOKEN_MISSING_HINT);
                return api_replied(req, 401, -EPERM);
        }
        r = model_user_get(db, req->user, ret);
        if (r == -ENOENT) {
                http_reply_error(req->conn, 409, "The user this token belongs to no longer exists.",
                                 "Use another user's token.");
                return api_replied(req, 409, r);
        }
        if (r < 0)
                return api_replied(req, api_reply_error(req, r, NULL, "Cannot look up the calling user"), r);
        return 0;
}

/* The set's entry for a row. */
static int token_put(HttpTokenSet *set, const ModelApiToken *t) {
        HttpIdentity id = {
                .token_id = t->id,
                .role = http_role_from_string(t->user_role),
                .read_only = t->read_only,
                .expires_at = t->expires_at,
        };

        if (strlen(t->user_name) >= sizeof id.user)
                return -EINVAL;
        snprintf(id.user, sizeof id.user, "%s", t->user_name);
        return http_token_set_put(set, t->hash, &id, t->last_used_at);
}

int api_tokens_load(sqlite3 *db, HttpTokenSet *set, size_t *ret_n) {
        ModelApiToken *t = NULL;
        size_t n = 0, loaded = 0;
        int r;

        r = model_api_token_list_all(db, &t, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = token_put(set, &t[i]);
                if (r == -EINVAL)
                        log_warning(
                                "API token %s of user %s has an unknown role or too long a user name; it is "
                                "not accepted.",
                                t[i].name, t[i].user_name);
                else if (r < 0)
                        break;
                else
                        loaded++;
        }
        model_api_tokens_free(t, n);
        if (r < 0 && r != -EINVAL)
                return r;
        if (ret_n)
                *ret_n = loaded;
        return 0;
}

void api_token_used(void *userdata, int64_t token_id, int64_t when) {
        ApiContext *ctx = userdata;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        int r;

        if (!ctx->db_path)
                return;
        r = sqlite_open(ctx->db_path, &db);
        if (r >= 0)
                r = model_api_token_touch(db, token_id, when);
        if (r < 0 && r != -ENOENT)
                log_debug_errno(r, "Cannot record the use of API token %" PRId64 ": %m", token_id);
}

/* expires_in_sec: absent or null (never), or 1 … API_TOKEN_EXPIRES_MAX_SEC. */
static int read_expiry(HttpRequest *req, json_t *body, int64_t now, int64_t *ret) {
        json_t *v = json_object_get(body, "expires_in_sec");

        if (!v || json_is_null(v)) {
                *ret = 0;
                return 0;
        }
        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
            json_integer_value(v) > API_TOKEN_EXPIRES_MAX_SEC) {
                http_reply_error(req->conn, 400,
                                 "expires_in_sec must be a number of seconds from 1 to about ten years.",
                                 token_create_body.example);
                return api_replied(req, 400, -EINVAL);
        }
        *ret = now + (int64_t) json_integer_value(v);
        return 0;
}

int api_token_create(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(model_user_done) ModelUser user = {};
        _cleanup_(model_api_token_done) ModelApiToken t = {};
        _cleanup_json_ json_t *body = NULL, *j = NULL;
        unsigned char raw[API_TOKEN_BYTES], hash[HTTP_TOKEN_HASH_SIZE];
        char token[API_TOKEN_BYTES * 2 + 1], msg[160];
        int64_t now = (int64_t) time(NULL), expires_at;
        const char *name, *for_user = NULL;
        json_t *ro;
        int r;

        if (!ctx->tokens)
                return http_reply_error(req->conn, 503, "This daemon keeps no API tokens.", "See its log.");
        if (http_request_read_json(req, &token_create_body, &body) < 0)
                return req->status;
        if (json_get_string(body, "name", &name) < 0)
                return http_reply_error(req->conn, 400, "The token create request has no \"name\" string.",
                                        token_create_body.example);
        if (!token_name_valid(name))
                return reply_bad_name(req);
        ro = json_object_get(body, "read_only");
        if (ro && !json_is_boolean(ro))
                return http_reply_error(req->conn, 400, "read_only must be true or false.",
                                        token_create_body.example);
        if (read_expiry(req, body, now, &expires_at) < 0)
                return req->status;
        if (json_get_string_opt(body, "user", &for_user) < 0)
                return http_reply_error(req->conn, 400, "\"user\" must be a user's name.",
                                        token_create_body.example);
        if (for_user && !streq_ptr(for_user, req->user) && req->role != HTTP_ROLE_ADMIN) {
                snprintf(msg, sizeof msg, HTTP_ROLE_FORBIDDEN_FORMAT,
                         strempty(http_role_to_string(req->role)));
                return http_reply_error(req->conn, 403, msg,
                                        "Make tokens for yourself; an admin may make them for anyone.");
        }
        if (api_model_open(req, &db) < 0)
                return req->status;
        if (for_user && !streq_ptr(for_user, req->user)) {
                r = model_user_get(db, for_user, &user);
                if (r == -ENOENT) {
                        snprintf(msg, sizeof msg, "There is no user named '%.64s'.", for_user);
                        return http_reply_error(req->conn, 404, msg, "See 'slipway user list'.");
                }
                if (r < 0)
                        return api_reply_error(req, r, NULL, "Cannot look up the user");
        } else if (caller_user(req, db, &user) < 0)
                return req->status;

        if (sodium_init() < 0)
                return api_reply_error(req, -EIO, NULL, "Cannot make a token");
        randombytes_buf(raw, sizeof raw);
        sodium_bin2hex(token, sizeof token, raw, sizeof raw);
        sodium_memzero(raw, sizeof raw);
        http_token_hash(token, strlen(token), hash);
        r = model_api_token_create(db, user.id, name, hash, json_is_true(ro), expires_at, &t);
        sodium_memzero(hash, sizeof hash);
        if (r == -EEXIST) {
                sodium_memzero(token, sizeof token);
                if (streq(user.name, strempty(req->user)))
                        snprintf(msg, sizeof msg, "You already have an API token named '%s'.", name);
                else
                        snprintf(msg, sizeof msg, "User %s already has an API token named '%s'.", user.name,
                                 name);
                return http_reply_error(
                        req->conn, 409, msg,
                        "Choose another name, or revoke that one first with 'slipway token revoke "
                        "NAME'.");
        }
        if (r < 0) {
                sodium_memzero(token, sizeof token);
                return api_reply_error(req, r, NULL, "Cannot store the token");
        }
        r = token_put(ctx->tokens, &t);
        if (r < 0) {
                /* A row the server does not know would be a token that never works: take it back. */
                (void) model_api_token_delete(db, user.id, name, NULL);
                sodium_memzero(token, sizeof token);
                return api_reply_error(req, r, NULL, "Cannot activate the token");
        }
        log_info("User %s made API token %s%s%s%s.", strempty(req->user), t.name,
                 t.read_only ? " (read-only)" : "",
                 streq(user.name, strempty(req->user)) ? "" : " for user ",
                 streq(user.name, strempty(req->user)) ? "" : user.name);
        j = token_json(&t, now);
        if (j)
                json_object_set_new(j, "token", json_string(token));
        sodium_memzero(token, sizeof token);
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot describe the token");
        return http_reply_json(req->conn, 201, j);
}

int api_tokens_list(HttpRequest *req) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(model_user_done) ModelUser user = {};
        _cleanup_json_ json_t *arr = json_array(), *j = NULL;
        ModelApiToken *t = NULL;
        int64_t now = (int64_t) time(NULL);
        size_t n = 0;
        int r = 0;

        if (api_model_open(req, &db) < 0 || caller_user(req, db, &user) < 0)
                return req->status;
        r = model_api_token_list(db, user.id, &t, &n);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot list the tokens");
        for (size_t i = 0; arr && i < n && r >= 0; i++) {
                json_t *tj = token_json(&t[i], now);
                r = tj ? json_array_append_new(arr, tj) : -ENOMEM;
        }
        model_api_tokens_free(t, n);
        if (!arr || r < 0)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot list the tokens");
        j = json_pack("{s:s,s:O}", "user", user.name, "tokens", arr);
        return http_reply_json(req->conn, 200, j);
}

int api_token_revoke(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(model_user_done) ModelUser user = {};
        _cleanup_json_ json_t *j = NULL;
        const char *name = req->segments[1];
        char msg[160];
        int64_t id;
        int r;

        if (!token_name_valid(name))
                return reply_bad_name(req);
        if (api_model_open(req, &db) < 0 || caller_user(req, db, &user) < 0)
                return req->status;
        r = model_api_token_delete(db, user.id, name, &id);
        if (r == -ENOENT) {
                snprintf(msg, sizeof msg, "You have no API token named '%s'.", name);
                return http_reply_error(req->conn, 404, msg, "See 'slipway token list'.");
        }
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot revoke the token");
        if (ctx->tokens)
                (void) http_token_set_remove(ctx->tokens, id);
        log_info("User %s revoked API token %s.", user.name, name);
        j = json_pack("{s:s,s:b}", "name", name, "revoked", true);
        return http_reply_json(req->conn, 200, j);
}
