/* Config values and secrets over /api/v1, and the vault's key rotation.  Routes (P project, C component,
 * E environment, K key; without /components/C a value is project-wide, shared by the environment's
 * components):
 *   GET    projects/P[/components/C]/environments/E/configs      the slot's current values → {"project",
 *          "environment", "component", "configs": [VALUE…]}; with /components/C and ?effective=1 what C gets:
 *          its own values and the project-wide ones it does not override ("component": null)
 *   PUT    projects/P[/components/C]/environments/E/configs/K    set: {"value": STRING | "value_base64":
 *          STRING, "secret": BOOL, "file": "/abs/path" | null} → {"config": VALUE}
 *   DELETE projects/P[/components/C]/environments/E/configs/K    unset (a tombstone version)
 *   POST   vault/rotate                                          a new data key, every value re-sealed
 * A secret's value never leaves the daemon: every answer gives its name, version and when it was set.  Every
 * refusal is a 4xx with one sentence, before anything is written; log lines name the key, never the value. */
#include "api.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config-names.h"
#include "http-json-body.h"
#include "http-response.h"
#include "json-util.h"
#include "log.h"
#include "sqlite-util.h"
#include "utf8.h"
#include "vault.h"

/* A set request carries one value of at most VAULT_VALUE_MAX bytes as base64 (4/3) or as a JSON string
 * (escapes grow it); past this the body is refused before it is parsed, below it the value's own limit
 * answers with its sentence. */
#define CONFIG_SET_BODY_MAX (4U * VAULT_VALUE_MAX)

static const HttpJsonBody config_set_body = {
        .what = "config set request",
        .max = CONFIG_SET_BODY_MAX,
        .fields = (const char *const[]) { "value", "value_base64", "secret", "file", NULL },
        .example = "Send {\"value\": \"postgres://db:5432/app\", \"secret\": true} or {\"value_base64\": "
                   "\"aGVsbG8=\", \"file\": \"/etc/app/key.pem\"}.",
};

/* The value's JSON: metadata always; the value only when not secret and opened (text as "value", bytes that
 * are not UTF-8 text as "value_base64"). */
static json_t *config_json(const ModelConfigValue *row, const char *component, const VaultValue *val) {
        _cleanup_json_ json_t *j = NULL;

        j = json_pack("{s:s,s:I,s:s,s:s?,s:b,s:I,s:I,s:s?,s:I}", "key", row->key, "version",
                      (json_int_t) row->version, "kind", row->is_file ? "file" : "env", "path",
                      row->file_path, "secret", row->secret, "size", (json_int_t) row->size, "set_at",
                      (json_int_t) row->set_at, "component", component, "key_version",
                      (json_int_t) row->key_version);
        if (!j)
                return NULL;
        if (row->secret || !val || !val->data)
                return TAKE_PTR(j);
        if (utf8_is_valid((const char *) val->data, val->size) && !memchr(val->data, 0, val->size)) {
                if (json_object_set_new(j, "value", json_stringn((const char *) val->data, val->size)) < 0)
                        return NULL;
        } else {
                size_t n = sodium_base64_encoded_len(val->size, sodium_base64_VARIANT_ORIGINAL);
                _cleanup_free_ char *b = malloc(n);
                if (!b)
                        return NULL;
                sodium_bin2base64(b, n, val->data, val->size, sodium_base64_VARIANT_ORIGINAL);
                if (json_object_set_new(j, "value_base64", json_string(b)) < 0)
                        return NULL;
        }
        return TAKE_PTR(j);
}

static int need_vault(HttpRequest *req) {
        ApiContext *ctx = req->userdata;

        if (ctx->vault)
                return 0;
        http_reply_error(req->conn, 503, "This daemon has no vault.",
                         "Start slipwayd with its state directory.");
        return api_replied(req, 503, -ENXIO);
}

/* The scope of a configs route: the project, the component (when the path has /components/C) and the
 * environment; *ret_tail is the segment index after "configs". */
static int config_scope(HttpRequest *req, ApiScope *s, size_t *ret_tail) {
        bool component = req->n_segments > 2 && streq(req->segments[2], "components");
        int r;

        if (component) {
                r = api_scope_component(req, req->segments[5], s);
                *ret_tail = 7;
        } else {
                r = api_scope_project(req, s);
                if (r >= 0)
                        r = api_environment_lookup(req, s->db, &s->project, req->segments[3],
                                                   &s->environment);
                *ret_tail = 5;
        }
        return r;
}

/* "P/ENV" or "P/C ENV" as messages and log lines name a slot. */
static void slot_name(const ApiScope *s, char *buf, size_t size) {
        if (s->component.id != 0)
                snprintf(buf, size, "%s/%s in %s", s->project.name, s->component.name, s->environment.name);
        else
                snprintf(buf, size, "%s in %s (project-wide)", s->project.name, s->environment.name);
}

static int reply_bad(HttpRequest *req, int status, const char *message, const char *hint) {
        http_reply_error(req->conn, status, message, hint);
        return api_replied(req, status, -EINVAL);
}

int api_configs_list(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_(api_scope_done) ApiScope s = {};
        _cleanup_json_ json_t *arr = json_array(), *j = NULL;
        _cleanup_free_ char *error = NULL;
        ModelConfigValue *rows = NULL;
        VaultValue *vals = NULL;
        size_t n = 0, tail;
        bool effective;
        int r;

        if (!arr)
                return http_reply_error(req->conn, 500, "Out of memory.", NULL);
        if (need_vault(req) < 0 || config_scope(req, &s, &tail) < 0)
                return req->status;
        effective = s.component.id != 0 && api_query_flag(req, "effective");
        r = (effective ? vault_effective_list : vault_slot_list)(
                ctx->vault, s.db, s.environment.id, s.component.id, true, &rows, &vals, &n, &error);
        if (r == -EBADMSG)
                return http_reply_error(req->conn, 409, error ?: "A value cannot be decrypted.",
                                        "Set it again with 'slipway config set'.");
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot read the config values");
        for (size_t i = 0; i < n; i++)
                json_array_append_new(
                        arr,
                        config_json(&rows[i], rows[i].component_id ? s.component.name : NULL, &vals[i]));
        vault_values_free(vals, n);
        model_config_values_free(rows, n);
        j = json_pack("{s:s,s:s,s:s?,s:O}", "project", s.project.name, "environment", s.environment.name,
                      "component", s.component.id ? s.component.name : NULL, "configs", arr);
        if (!j)
                return http_reply_error(req->conn, 500, "Out of memory.", NULL);
        return http_reply_json(req->conn, 200, j);
}

int api_config_body_value(HttpRequest *req, json_t *body, const char *key, const char *hint, uint8_t **ret,
                          size_t *ret_size) {
        json_t *text = json_object_get(body, "value"), *b64 = json_object_get(body, "value_base64");
        char msg[256];
        uint8_t *buf;
        size_t n, len;

        if (!!text == !!b64) {
                snprintf(msg, sizeof msg,
                         "The config set request for %s needs exactly one of \"value\" and "
                         "\"value_base64\".",
                         key);
                return reply_bad(req, 400, msg, hint);
        }
        if (text) {
                if (!json_is_string(text))
                        return reply_bad(req, 400, "\"value\" must be a string.", hint);
                n = json_string_length(text);
                buf = malloc(n + 1);
                if (!buf)
                        return api_replied(req, http_reply_error(req->conn, 500, "Out of memory.", NULL),
                                           -ENOMEM);
                memcpy(buf, json_string_value(text), n);
                *ret = buf;
                *ret_size = n;
                return 0;
        }
        if (!json_is_string(b64))
                return reply_bad(req, 400, "\"value_base64\" must be a string.", hint);
        len = json_string_length(b64);
        buf = malloc(len / 4 * 3 + 3);
        if (!buf)
                return api_replied(req, http_reply_error(req->conn, 500, "Out of memory.", NULL), -ENOMEM);
        if (sodium_base642bin(buf, len / 4 * 3 + 3, json_string_value(b64), len, NULL, &n, NULL,
                              sodium_base64_VARIANT_ORIGINAL) != 0) {
                free(buf);
                return reply_bad(req, 400, "\"value_base64\" is not valid base64.", hint);
        }
        *ret = buf;
        *ret_size = n;
        return 0;
}

int api_config_set(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_(api_scope_done) ApiScope s = {};
        _cleanup_json_ json_t *body = NULL, *j = NULL;
        _cleanup_(model_config_value_done) ModelConfigValue row = {};
        _cleanup_free_ char *error = NULL;
        uint8_t *data = NULL;
        size_t size = 0, tail;
        const char *key, *file = NULL;
        json_t *f, *secret;
        char where[400], msg[512];
        int64_t id, version;
        int r;

        if (need_vault(req) < 0)
                return req->status;
        if (http_request_read_json(req, &config_set_body, &body) < 0)
                return req->status;
        if (config_scope(req, &s, &tail) < 0)
                return req->status;
        key = req->segments[tail];
        if (config_key_check(key, &error) < 0)
                return reply_bad(
                        req, 400, error ?: "Invalid config key.",
                        "A key is an environment variable name: a letter or '_', then letters, digits "
                        "and '_'.");
        f = json_object_get(body, "file");
        if (f && !json_is_null(f)) {
                if (!json_is_string(f))
                        return reply_bad(req, 400, "\"file\" must be an absolute path or null.",
                                         config_set_body.example);
                file = json_string_value(f);
                if (config_file_path_check(file, &error) < 0)
                        return reply_bad(req, 400, error ?: "Invalid file path.",
                                         "Give an absolute path such as /etc/app/config.json.");
        }
        secret = json_object_get(body, "secret");
        if (secret && !json_is_boolean(secret))
                return reply_bad(req, 400, "\"secret\" must be true or false.", config_set_body.example);
        if (api_config_body_value(req, body, key, config_set_body.example, &data, &size) < 0)
                return req->status;
        if (!file && memchr(data, 0, size)) {
                sodium_memzero(data, size);
                free(data);
                snprintf(msg, sizeof msg,
                         "The value of %s holds a NUL byte, which an environment variable cannot carry.",
                         key);
                return reply_bad(req, 400, msg, "Mount it as a file with --file PATH.");
        }

        r = vault_value_set(ctx->vault, s.db,
                            &(VaultWrite) {
                                    .project_id = s.project.id,
                                    .environment_id = s.environment.id,
                                    .component_id = s.component.id,
                                    .key = key,
                                    .secret = json_is_true(secret),
                                    .is_file = !!file,
                                    .file_path = file,
                                    .data = data,
                                    .size = size,
                            },
                            &id, &version, &error);
        sodium_memzero(data, size);
        free(data);
        if (r == -EFBIG)
                return http_reply_error(req->conn, 413, error ?: "The value is too large.",
                                        "Keep large content out of config values, or unset values no longer "
                                        "needed.");
        if (r == -EEXIST)
                return http_reply_error(req->conn, 409, error ?: "That file path is taken.",
                                        "See 'slipway config list'.");
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot store the config value");

        slot_name(&s, where, sizeof where);
        log_info("config set: %s of %s, version %" PRId64 "%s.", key, where, version,
                 json_is_true(secret) ? " (secret)" : "");
        r = model_config_value_get(s.db, id, &row);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot read the config value back");
        j = json_pack("{s:s,s:s,s:o}", "project", s.project.name, "environment", s.environment.name,
                      "config", config_json(&row, s.component.id ? s.component.name : NULL, NULL));
        if (!j)
                return http_reply_error(req->conn, 500, "Out of memory.", NULL);
        return http_reply_json(req->conn, 200, j);
}

int api_config_unset(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_(api_scope_done) ApiScope s = {};
        _cleanup_json_ json_t *j = NULL;
        _cleanup_free_ char *error = NULL;
        char where[400], msg[600];
        const char *key;
        int64_t version;
        size_t tail;
        int r;

        if (need_vault(req) < 0 || config_scope(req, &s, &tail) < 0)
                return req->status;
        key = req->segments[tail];
        if (config_key_check(key, &error) < 0)
                return reply_bad(req, 400, error ?: "Invalid config key.", "See 'slipway config list'.");
        slot_name(&s, where, sizeof where);
        r = vault_value_unset(ctx->vault, s.db, s.project.id, s.environment.id, s.component.id, key,
                              &version);
        if (r == -ENOENT) {
                snprintf(msg, sizeof msg, "%s has no value in %s.", key, where);
                return http_reply_error(req->conn, 404, msg, "See 'slipway config list'.");
        }
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot unset the config value");
        log_info("config unset: %s of %s, version %" PRId64 ".", key, where, version);
        j = json_pack("{s:s,s:s,s:s?,s:s,s:I,s:b}", "project", s.project.name, "environment",
                      s.environment.name, "component", s.component.id ? s.component.name : NULL, "key", key,
                      "version", (json_int_t) version, "deleted", 1);
        if (!j)
                return http_reply_error(req->conn, 500, "Out of memory.", NULL);
        return http_reply_json(req->conn, 200, j);
}

int api_vault_rotate(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_json_ json_t *retired = json_array(), *j = NULL;
        VaultRotation rot = {};
        int r;

        if (!retired)
                return http_reply_error(req->conn, 500, "Out of memory.", NULL);
        if (need_vault(req) < 0 || api_model_open(req, &db) < 0)
                return req->status;
        r = vault_rotate(ctx->vault, db, &rot);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot rotate the vault's key");
        for (size_t i = 0; i < rot.n_retired; i++)
                json_array_append_new(retired, json_integer(rot.retired_versions[i]));
        log_info("Vault key rotated to version %" PRId64 ": %" PRIu64 " value(s) re-sealed in %" PRIu64
                 " ms%s.",
                 rot.new_version, rot.rewrapped, rot.usec / 1000U,
                 rot.checkpointed ? "" : " (the WAL could not be truncated yet)");
        j = json_pack("{s:I,s:O,s:I,s:I,s:I,s:b}", "key_version", (json_int_t) rot.new_version, "retired",
                      retired, "rewrapped", (json_int_t) rot.rewrapped, "unopenable",
                      (json_int_t) rot.unopenable, "duration_us", (json_int_t) rot.usec, "wal_truncated",
                      rot.checkpointed);
        if (!j)
                return http_reply_error(req->conn, 500, "Out of memory.", NULL);
        return http_reply_json(req->conn, 200, j);
}
