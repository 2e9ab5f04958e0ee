/* A component's build secrets over /api/v1 (issue 15): what RUN --mount=type=secret,id=KEY gets when the
 * pipeline builds the component (per component, not per environment: a commit is built once).  Routes (P
 * project, C component, K the secret's id):
 *   GET    projects/P/components/C/build-secrets      → {"project", "component", "build_secrets": [SECRET…]}
 *   PUT    projects/P/components/C/build-secrets/K    set: {"value": STRING | "value_base64": STRING[,
 *          "secret": true]} → {"project", "component", "build_secret": SECRET}
 *   DELETE projects/P/components/C/build-secrets/K    unset (a tombstone version)
 * SECRET is {"key", "version", "size", "set_at", "key_version", "secret": true}: a build secret's value never
 * leaves the daemon, and log lines name the key, never the value. */
#include "api.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build-secret-db.h"
#include "config-names.h"
#include "http-json-body.h"
#include "http-response.h"
#include "json-util.h"
#include "log.h"
#include "vault.h"

/* One value of at most VAULT_VALUE_MAX bytes, as base64 or as a JSON string (escapes grow it): past this the
 * body is refused before it is parsed, below it the value's own limit answers with its sentence. */
#define BUILD_SECRET_SET_BODY_MAX (4U * VAULT_VALUE_MAX)

static const HttpJsonBody build_secret_set_body = {
        .what = "build secret set request",
        .max = BUILD_SECRET_SET_BODY_MAX,
        .fields = (const char *const[]) { "value", "value_base64", "secret", NULL },
        .example = "Send {\"value\": \"npm-token-…\"} or {\"value_base64\": \"aGVsbG8=\"}.",
};

static json_t *build_secret_json(const ModelBuildSecret *row) {
        return json_pack("{s:s,s:I,s:I,s:I,s:I,s:b}", "key", row->key, "version", (json_int_t) row->version,
                         "size", (json_int_t) row->size, "set_at", (json_int_t) row->set_at, "key_version",
                         (json_int_t) row->key_version, "secret", 1);
}

static int reply_bad(HttpRequest *req, int status, const char *message, const char *hint) {
        http_reply_error(req->conn, status, message, hint);
        return api_replied(req, status, -EINVAL);
}

/* The vault, the project and component of the path, and (with a key segment) the secret's id, checked. */
static int build_secret_scope(HttpRequest *req, ApiScope *s, const char **ret_key) {
        ApiContext *ctx = req->userdata;
        _cleanup_free_ char *error = NULL;
        int r;

        if (!ctx->vault) {
                http_reply_error(req->conn, 503, "This daemon has no vault.",
                                 "Start slipwayd with its state directory.");
                return api_replied(req, 503, -ENXIO);
        }
        r = api_scope_component(req, NULL, s);
        if (r < 0)
                return r;
        if (!ret_key)
                return 0;
        *ret_key = req->segments[5];
        if (build_secret_id_check(*ret_key, &error) < 0)
                return reply_bad(req, 400, error ?: "Invalid build secret id.",
                                 "Use the id the Dockerfile mounts: RUN --mount=type=secret,id=ID.");
        return 0;
}

int api_build_secrets_list(HttpRequest *req) {
        _cleanup_(api_scope_done) ApiScope s = {};
        _cleanup_json_ json_t *arr = json_array(), *j = NULL;
        ModelBuildSecret *rows = NULL;
        size_t n = 0;
        int r;

        if (!arr)
                return http_reply_error(req->conn, 500, "Out of memory.", NULL);
        if (build_secret_scope(req, &s, NULL) < 0)
                return req->status;
        r = model_build_secret_list(s.db, s.component.id, &rows, &n);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot read the build secrets");
        for (size_t i = 0; i < n; i++)
                json_array_append_new(arr, build_secret_json(&rows[i]));
        model_build_secrets_free(rows, n);
        j = json_pack("{s:s,s:s,s:O}", "project", s.project.name, "component", s.component.name,
                      "build_secrets", arr);
        if (!j)
                return http_reply_error(req->conn, 500, "Out of memory.", NULL);
        return http_reply_json(req->conn, 200, j);
}

int api_build_secret_set(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_(api_scope_done) ApiScope s = {};
        _cleanup_(model_build_secret_done) ModelBuildSecret row = {};
        _cleanup_json_ json_t *body = NULL, *j = NULL;
        _cleanup_free_ char *error = NULL;
        const char *key;
        uint8_t *data = NULL;
        size_t size = 0;
        json_t *secret;
        int64_t id, version;
        int r;

        if (http_request_read_json(req, &build_secret_set_body, &body) < 0)
                return req->status;
        if (build_secret_scope(req, &s, &key) < 0)
                return req->status;
        secret = json_object_get(body, "secret");
        if (secret && !json_is_true(secret))
                return reply_bad(req, 400, "A build value is always a secret: \"secret\" may only be true.",
                                 "Build args come from the Dockerfile's ARG defaults; set what a RUN step "
                                 "mounts with RUN --mount=type=secret,id=ID.");
        if (api_config_body_value(req, body, key, build_secret_set_body.example, &data, &size) < 0)
                return req->status;
        r = vault_build_secret_set(ctx->vault, s.db, s.project.id, s.component.id, key, data, size, &id,
                                   &version, &error);
        sodium_memzero(data, size);
        free(data);
        if (r == -EFBIG || r == -E2BIG)
                return http_reply_error(req->conn, 413, error ?: "The build secret is too large.",
                                        "See 'slipway config list PROJECT/COMPONENT --build'.");
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot store the build secret");
        log_info("build secret set: %s of %s/%s, version %" PRId64 ".", key, s.project.name,
                 s.component.name, version);
        r = model_build_secret_get(s.db, s.component.id, key, &row);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot read the build secret back");
        j = json_pack("{s:s,s:s,s:o}", "project", s.project.name, "component", s.component.name,
                      "build_secret", build_secret_json(&row));
        if (!j)
                return http_reply_error(req->conn, 500, "Out of memory.", NULL);
        return http_reply_json(req->conn, 200, j);
}

int api_build_secret_unset(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_(api_scope_done) ApiScope s = {};
        _cleanup_json_ json_t *j = NULL;
        const char *key;
        char msg[400];
        int64_t version;
        int r;

        if (build_secret_scope(req, &s, &key) < 0)
                return req->status;
        r = vault_build_secret_unset(ctx->vault, s.db, s.project.id, s.component.id, key, &version);
        if (r == -ENOENT) {
                snprintf(msg, sizeof msg, "%s/%s has no build secret %s.", s.project.name, s.component.name,
                         key);
                return http_reply_error(req->conn, 404, msg,
                                        "See 'slipway config list PROJECT/COMPONENT --build'.");
        }
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot unset the build secret");
        log_info("build secret unset: %s of %s/%s, version %" PRId64 ".", key, s.project.name,
                 s.component.name, version);
        j = json_pack("{s:s,s:s,s:s,s:I,s:b}", "project", s.project.name, "component", s.component.name,
                      "key", key, "version", (json_int_t) version, "deleted", 1);
        if (!j)
                return http_reply_error(req->conn, 500, "Out of memory.", NULL);
        return http_reply_json(req->conn, 200, j);
}
