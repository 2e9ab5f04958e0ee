/* /api/v1/users: who may use this Slipway, with which role, and their console passwords.
 *   GET    users → {"users": [{"name", "role", "created_at", "tokens", "has_password"}]}   (admin)
 *   POST   users {"name", "role", "password"?} → 201 the user; without "password" one is made and
 *          returned once as "password"                                                   (admin)
 *   DELETE users/NAME → 200 {"name", "removed": true}; refused (409) for the last admin      (admin)
 *   PUT    users/NAME/password {"password"?} → 200 {"name"} (+ "password" when made)  (admin, or NAME)
 * Invariant: no answer carries a password hash; a password leaves only in the one answer that made it.
 * A removed user's tokens and sessions are refused from the moment the row is gone (the in-memory sets
 * drop them at once), and a password change ends the user's other console sessions. */
#include "api.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "http-json-body.h"
#include "http-password.h"
#include "http-response.h"
#include "json-util.h"
#include "log.h"
#include "names.h"
#include "session-db.h"
#include "sqlite-util.h"
#include "user-account-db.h"

static const HttpJsonBody user_add_body = {
        .what = "user add request",
        .fields = (const char *const[]) { "name", "role", "password", NULL },
        .example = "Send {\"name\": \"alice\", \"role\": \"developer\"} (a password is made unless you give "
                   "\"password\").",
};

static const HttpJsonBody user_passwd_body = {
        .what = "password change request",
        .fields = (const char *const[]) { "password", NULL },
        .example = "Send {\"password\": \"at least 8 characters\"}, or {} to have one made.",
};

static json_t *user_json(const ModelUser *u) {
        return json_pack("{s:s,s:s,s:I,s:I,s:b}", "name", u->name, "role", u->role, "created_at",
                         (json_int_t) u->created_at, "tokens", (json_int_t) u->tokens, "has_password",
                         u->has_password);
}

static int reply_bad_user_name(HttpRequest *req, const char *name) {
        _cleanup_free_ char *err = NULL;

        (void) user_name_validate(name, &err);
        http_reply_error(
                req->conn, 400, err ?: "The user name is not valid.",
                "User names are 1-63 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit.");
        return api_replied(req, 400, -EINVAL);
}

static int reply_no_user(HttpRequest *req, const char *name) {
        char msg[160];

        snprintf(msg, sizeof msg, "There is no user named '%s'.", name);
        http_reply_error(req->conn, 404, msg, "See 'slipway user list'.");
        return api_replied(req, 404, -ENOENT);
}

/* The body's "password" (checked) into ret_hash, or one made into ret_made (then *ret_made[0] != 0). */
static int password_from_body(HttpRequest *req, json_t *body, const char *example,
                              char ret_hash[HTTP_PASSWORD_HASH_MAX],
                              char ret_made[HTTP_PASSWORD_GENERATED_LEN + 1]) {
        json_t *v = json_object_get(body, "password");
        const char *pw, *problem;
        size_t len;
        int r;

        ret_made[0] = 0;
        if (!v || json_is_null(v)) {
                http_password_generate(ret_made);
                pw = ret_made;
                len = strlen(ret_made);
        } else if (!json_is_string(v)) {
                http_reply_error(req->conn, 400, "\"password\" must be a string.", example);
                return api_replied(req, 400, -EINVAL);
        } else {
                pw = json_string_value(v);
                len = json_string_length(v);
                problem = http_password_problem(pw, len);
                if (problem || strlen(pw) != len) {
                        http_reply_error(req->conn, 400, problem ?: "The password contains a NUL character.",
                                         "Choose another password, or leave it out to have one made.");
                        return api_replied(req, 400, -EINVAL);
                }
        }
        r = http_password_hash(pw, len, ret_hash);
        if (r < 0) {
                sodium_memzero(ret_made, HTTP_PASSWORD_GENERATED_LEN + 1);
                return api_replied(req, api_reply_error(req, r, NULL, "Cannot hash the password"), r);
        }
        return 0;
}

int api_users_list(HttpRequest *req) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_json_ json_t *arr = json_array(), *j = NULL;
        ModelUser *u = NULL;
        size_t n = 0;
        int r = 0;

        if (api_model_open(req, &db) < 0)
                return req->status;
        r = model_user_list(db, &u, &n);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot list the users");
        for (size_t i = 0; arr && i < n && r >= 0; i++) {
                json_t *uj = user_json(&u[i]);
                r = uj ? json_array_append_new(arr, uj) : -ENOMEM;
        }
        model_users_free(u, n);
        if (!arr || r < 0)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot list the users");
        j = json_pack("{s:O}", "users", arr);
        return http_reply_json(req->conn, 200, j);
}

int api_user_add(HttpRequest *req) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(model_user_done) ModelUser u = {};
        _cleanup_json_ json_t *body = NULL, *j = NULL;
        char hash[HTTP_PASSWORD_HASH_MAX], made[HTTP_PASSWORD_GENERATED_LEN + 1], msg[160];
        const char *name, *role;
        int r;

        if (http_request_read_json(req, &user_add_body, &body) < 0)
                return req->status;
        if (json_get_string(body, "name", &name) < 0)
                return http_reply_error(req->conn, 400, "The user add request has no \"name\" string.",
                                        user_add_body.example);
        if (user_name_validate(name, NULL) < 0)
                return reply_bad_user_name(req, name);
        if (json_get_string(body, "role", &role) < 0 || http_role_from_string(role) < 0)
                return http_reply_error(req->conn, 400, "The role must be admin, developer or viewer.",
                                        user_add_body.example);
        if (api_model_open(req, &db) < 0)
                return req->status;
        /* before the (slow, on purpose) hash: a taken name is answered at once */
        r = model_user_get(db, name, &u);
        if (r >= 0) {
                snprintf(msg, sizeof msg, "A user named '%s' already exists.", name);
                return http_reply_error(req->conn, 409, msg,
                                        "Choose another name, or change its password with 'slipway user "
                                        "passwd NAME'.");
        }
        if (r != -ENOENT)
                return api_reply_error(req, r, NULL, "Cannot look up the user");
        if (password_from_body(req, body, user_add_body.example, hash, made) < 0)
                return req->status;
        r = model_user_create(db, name, role, hash, &u);
        sodium_memzero(hash, sizeof hash);
        if (r == -EEXIST) {
                sodium_memzero(made, sizeof made);
                snprintf(msg, sizeof msg, "A user named '%s' already exists.", name);
                return http_reply_error(req->conn, 409, msg, "Choose another name.");
        }
        if (r < 0) {
                sodium_memzero(made, sizeof made);
                return api_reply_error(req, r, NULL, "Cannot add the user");
        }
        log_info("User %s added user %s with role %s.", strempty(req->user), u.name, u.role);
        j = user_json(&u);
        if (j && made[0])
                json_object_set_new(j, "password", json_string(made));
        sodium_memzero(made, sizeof made);
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot describe the user");
        return http_reply_json(req->conn, 201, j);
}

int api_user_remove(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(model_user_done) ModelUser u = {};
        _cleanup_json_ json_t *j = NULL;
        const char *name = req->segments[1];
        size_t tokens = 0, sessions = 0;
        char msg[200];
        int r;

        if (user_name_validate(name, NULL) < 0)
                return reply_bad_user_name(req, name);
        if (api_model_open(req, &db) < 0)
                return req->status;
        r = model_user_delete(db, name, &u);
        if (r == -ENOENT)
                return reply_no_user(req, name);
        if (r == -EBUSY) {
                snprintf(msg, sizeof msg, "User %s is the last admin and cannot be removed.", name);
                return http_reply_error(req->conn, 409, msg,
                                        "Add another admin first (slipway user add NAME --role admin).");
        }
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot remove the user");
        /* the rows are gone; now nothing in memory speaks for the user either (admin.token included) */
        if (ctx->tokens)
                tokens = http_token_set_remove_user(ctx->tokens, u.name);
        if (ctx->sessions)
                sessions = http_session_set_remove_user(ctx->sessions, u.name, 0);
        log_info("User %s removed user %s (%s) with %zu API token(s) and %zu session(s).",
                 strempty(req->user), u.name, u.role, tokens, sessions);
        j = json_pack("{s:s,s:b}", "name", u.name, "removed", true);
        return http_reply_json(req->conn, 200, j);
}

int api_user_passwd(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(model_user_done) ModelUser u = {};
        _cleanup_json_ json_t *body = NULL, *j = NULL;
        char hash[HTTP_PASSWORD_HASH_MAX], made[HTTP_PASSWORD_GENERATED_LEN + 1];
        const char *name = req->segments[1];
        int r;

        if (user_name_validate(name, NULL) < 0)
                return reply_bad_user_name(req, name);
        /* Anyone may change their own password; only an admin another's. */
        if (req->role != HTTP_ROLE_ADMIN && !streq_ptr(req->user, name)) {
                char msg[128];

                snprintf(msg, sizeof msg, HTTP_ROLE_FORBIDDEN_FORMAT,
                         strempty(http_role_to_string(req->role)));
                return http_reply_error(req->conn, 403, msg,
                                        "You may change your own password; an admin may change anyone's.");
        }
        if (http_request_read_json(req, &user_passwd_body, &body) < 0)
                return req->status;
        if (api_model_open(req, &db) < 0)
                return req->status;
        r = model_user_get(db, name, &u);
        if (r == -ENOENT)
                return reply_no_user(req, name);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot look up the user");
        if (password_from_body(req, body, user_passwd_body.example, hash, made) < 0)
                return req->status;
        r = model_user_set_password(db, name, hash);
        sodium_memzero(hash, sizeof hash);
        if (r >= 0)
                /* other logins with the old password end; the one asking (if a session) stays */
                r = model_session_delete_user(db, u.id, req->session_id);
        if (r < 0) {
                sodium_memzero(made, sizeof made);
                return api_reply_error(req, r, NULL, "Cannot set the password");
        }
        if (ctx->sessions)
                (void) http_session_set_remove_user(ctx->sessions, name, req->session_id);
        log_info("User %s set the password of user %s.", strempty(req->user), name);
        j = json_pack("{s:s}", "name", name);
        if (j && made[0])
                json_object_set_new(j, "password", json_string(made));
        sodium_memzero(made, sizeof made);
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot describe the user");
        return http_reply_json(req->conn, 200, j);
}
