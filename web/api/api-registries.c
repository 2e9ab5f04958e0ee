/* Registries you own, for the pipeline's push step (issue 13):
 *   GET    /api/v1/registries          {"registries": [registry]}
 *   POST   /api/v1/registries          {"name", "url", "username"?, "password"?, "ca_pem"?, "insecure"?} → 201
 *   GET    /api/v1/registries/NAME     registry
 *   DELETE /api/v1/registries/NAME     {"deleted": NAME}; 409 while a project pushes to it
 * A registry is {"name", "url", "username", "password_set", "custom_ca", "insecure", "projects", "created_at"}:
 * the password goes into the vault and never comes back out of the API. */
#include "api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http-json-body.h"
#include "http-response.h"
#include "json-util.h"
#include "log.h"
#include "names.h"
#include "registry-client.h"
#include "registry-db.h"
#include "sqlite-util.h"
#include "string-util.h"
#include "strv.h"

static const HttpJsonBody registry_add_body = {
        .what = "registry add request",
        .max = 2U * REGISTRY_CA_PEM_MAX, /* a CA bundle, JSON-escaped */
        .fields =
                (const char *const[]) { "name", "url", "username", "password", "ca_pem", "insecure", NULL },
        .example =
                "Send {\"name\": \"corp\", \"url\": \"https://registry.example.com\", \"username\": \"ci\", "
                "\"password\": \"…\"}.",
};

static json_t *registry_json(sqlite3 *db, const ModelRegistry *r) {
        _cleanup_json_ json_t *projects = json_array();
        char **names = NULL;
        size_t n = 0;

        if (!projects)
                return NULL;
        if (model_registry_projects(db, r->name, &names, &n) >= 0)
                for (size_t i = 0; i < n; i++)
                        json_array_append_new(projects, json_string(names[i]));
        strv_free_n(names, n);
        return json_pack("{s:s,s:s,s:s?,s:b,s:b,s:b,s:O,s:I}", "name", r->name, "url", r->url, "username",
                         r->username, "password_set", r->ciphertext != NULL, "custom_ca", r->ca_pem != NULL,
                         "insecure", r->insecure, "projects", projects, "created_at",
                         (json_int_t) r->created_at);
}

int api_registries_list(HttpRequest *req) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_json_ json_t *arr = json_array(), *j = NULL;
        ModelRegistry *regs = NULL;
        size_t n = 0;
        int r;

        if (api_model_open(req, &db) < 0)
                return req->status;
        r = model_registry_list(db, &regs, &n);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot list the registries");
        for (size_t i = 0; arr && i < n && r >= 0; i++) {
                json_t *rj = registry_json(db, &regs[i]);
                r = rj ? json_array_append_new(arr, rj) : -ENOMEM;
        }
        model_registries_free(regs, n);
        if (!arr || r < 0)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot list the registries");
        j = json_pack("{s:O}", "registries", arr);
        return http_reply_json(req->conn, 200, j);
}

/* 404 naming the registry, with how to see the known ones. */
static int reply_unknown(HttpRequest *req, const char *name) {
        char msg[200];

        snprintf(msg, sizeof msg, "There is no registry named '%.80s'.", name);
        return http_reply_error(req->conn, 404, msg, "See 'slipway registry list'.");
}

int api_registry_show(HttpRequest *req) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(model_registry_done) ModelRegistry reg = {};
        _cleanup_json_ json_t *j = NULL;
        int r;

        if (api_model_open(req, &db) < 0)
                return req->status;
        r = model_registry_get(db, req->segments[1], &reg);
        if (r == -ENOENT)
                return reply_unknown(req, req->segments[1]);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot read the registry");
        j = registry_json(db, &reg);
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot describe the registry");
        return http_reply_json(req->conn, 200, j);
}

static int bad_request(HttpRequest *req, const char *message, const char *hint) {
        http_reply_error(req->conn, 400, message, hint);
        return api_replied(req, 400, -EINVAL);
}

/* A field that is absent, null or a string of 1..max bytes without control characters (and, with
 * no_colon, without ':'); sends 400 otherwise. */
static int optional_text(HttpRequest *req, json_t *body, const char *field, size_t max, bool no_colon,
                         const char **ret) {
        json_t *v = json_object_get(body, field);
        const char *s;
        char msg[200];

        *ret = NULL;
        if (!v || json_is_null(v))
                return 0;
        s = json_string_value(v);
        if (!s || !s[0] || strlen(s) > max || strlen(s) != json_string_length(v)) {
                snprintf(msg, sizeof msg, "\"%s\" must be a string of 1 to %zu bytes.", field, max);
                return bad_request(req, msg, registry_add_body.example);
        }
        for (const char *p = s; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f || (no_colon && *p == ':')) {
                        snprintf(msg, sizeof msg, "\"%s\" must not contain %s.", field,
                                 *p == ':' ? "':' (HTTP Basic auth splits at the first one)"
                                           : "control characters or line breaks");
                        return bad_request(req, msg, registry_add_body.example);
                }
        *ret = s;
        return 0;
}

int api_registry_add(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(model_registry_done) ModelRegistry reg = {};
        _cleanup_json_ json_t *body = NULL, *j = NULL;
        _cleanup_free_ char *error = NULL;
        const char *name, *url, *username, *password, *ca;
        json_t *insecure_v;
        bool insecure = false;
        char msg[300];
        int r;

        if (http_request_read_json(req, &registry_add_body, &body) < 0)
                return req->status;
        name = json_string_value(json_object_get(body, "name"));
        if (registry_name_validate(name, &error) < 0)
                return bad_request(req, error ?: "Invalid registry name.",
                                   "A registry name is [a-z0-9][a-z0-9._-]*, e.g. corp or harbor.prod.");
        insecure_v = json_object_get(body, "insecure");
        if (insecure_v && !json_is_boolean(insecure_v))
                return bad_request(req, "\"insecure\" must be true or false.", registry_add_body.example);
        insecure = json_is_true(insecure_v);
        url = json_string_value(json_object_get(body, "url"));
        free(error);
        error = NULL;
        if (!url)
                return bad_request(req,
                                   "\"url\" must be the registry's URL, like https://registry.example.com.",
                                   registry_add_body.example);
        if (registry_url_parse(url, insecure, NULL, &error) < 0)
                return bad_request(req, error ?: "Invalid registry URL.",
                                   "Give https://host[:port] (or http:// with --insecure).");
        if (optional_text(req, body, "username", REGISTRY_USERNAME_MAX, true, &username) < 0 ||
            optional_text(req, body, "password", VAULT_REGISTRY_PASSWORD_MAX, false, &password) < 0)
                return req->status;
        if (password && !username)
                return bad_request(req, "A password needs a user name.",
                                   "Give --username USER with --password-stdin.");
        if (username && !password)
                return bad_request(req, "A user name needs its password.",
                                   "Give the password on stdin with --password-stdin.");
        ca = json_string_value(json_object_get(body, "ca_pem"));
        if (json_object_get(body, "ca_pem") && !json_is_null(json_object_get(body, "ca_pem")) && !ca)
                return bad_request(req, "\"ca_pem\" must be the PEM text of a CA certificate.",
                                   registry_add_body.example);
        if (ca && (strlen(ca) > REGISTRY_CA_PEM_MAX ||
                   strlen(ca) != json_string_length(json_object_get(body, "ca_pem"))))
                return bad_request(
                        req, "The CA file is larger than 256 KiB.",
                        "Give only the CA certificate(s) the registry's certificate is signed by.");
        if (ca && !strstr(ca, "-----BEGIN CERTIFICATE-----"))
                return bad_request(
                        req,
                        "The CA file holds no PEM certificate (no \"-----BEGIN CERTIFICATE-----\" line).",
                        "Give the CA certificate in PEM form (openssl x509 -outform PEM).");
        if (ca && insecure)
                return bad_request(req,
                                   "--insecure turns TLS verification off, so a CA file would not be used.",
                                   "Give --ca-file or --insecure, not both.");
        if (!ctx->vault) {
                http_reply_error(req->conn, 503, "This daemon has no vault to keep the password in.",
                                 "Start slipwayd with its state directory.");
                return 503;
        }
        if (api_model_open(req, &db) < 0)
                return req->status;
        ModelRegistry row = {
                .name = (char *) name,
                .url = (char *) url,
                .username = (char *) username,
                .ca_pem = (char *) ca,
                .insecure = insecure,
        };
        r = vault_registry_add(ctx->vault, db, &row, password, password ? strlen(password) : 0);
        if (r == -EEXIST) {
                snprintf(msg, sizeof msg, "There is already a registry named '%s'.", name);
                return http_reply_error(
                        req->conn, 409, msg,
                        "Remove it first with 'slipway registry rm NAME', or choose another name.");
        }
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot add the registry");
        log_info("Registry %s added: %s%s%s.", name, url, username ? " as " : "", strempty(username));
        r = model_registry_get(db, name, &reg);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot read the registry back");
        j = registry_json(db, &reg);
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot describe the registry");
        return http_reply_json(req->conn, 201, j);
}

int api_registry_remove(HttpRequest *req) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_json_ json_t *j = NULL;
        const char *name = req->segments[1];
        char **users = NULL;
        size_t n = 0;
        int r;

        if (api_model_open(req, &db) < 0)
                return req->status;
        r = model_registry_delete(db, name);
        if (r == -ENOENT)
                return reply_unknown(req, name);
        if (r == -EBUSY) {
                _cleanup_free_ char *msg = NULL, *hint = NULL;
                char list[512] = "";
                size_t len = 0;
                (void) model_registry_projects(db, name, &users, &n);
                for (size_t i = 0; i < n && len < sizeof list; i++)
                        len += (size_t) snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "",
                                                 users[i]);
                if (asprintf(&msg, "Registry %.80s is where project%s %s push%s images; it stays.", name,
                             n == 1 ? "" : "s", list[0] ? list : "(some)",
                             n == 1 ? "es its" : " their") < 0 ||
                    asprintf(&hint, "Stop that first with 'slipway project set %s --no-push'.",
                             n > 0 ? users[0] : "PROJECT") < 0) {
                        strv_free_n(users, n);
                        return api_reply_error(req, -ENOMEM, NULL, "Cannot remove the registry");
                }
                strv_free_n(users, n);
                return http_reply_error(req->conn, 409, msg, hint);
        }
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot remove the registry");
        log_info("Registry %s removed.", name);
        j = json_pack("{s:s}", "deleted", name);
        return http_reply_json(req->conn, 200, j);
}
