/* Build secrets from the command line: set (a new version of KEY, sent base64-encoded so any bytes arrive as
 * they were), unset (a tombstone version), list (KEY, VERSION, SET; never a value). */
#include "cmd-config-build.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd-model-args.h"
#include "http-client.h"
#include "json-util.h"
#include "macro.h"

/* "PROJECT/COMPONENT" (and KEY) → the API path of its build secrets; -EINVAL after a usage error. */
static int build_path(const char *full, const char *target, const char *key, char **ret) {
        _cleanup_free_ char *project = NULL, *component = NULL, *enc = NULL, *suffix = NULL;

        if (model_split_component(full, target, &project, &component) < 0)
                return -EINVAL;
        enc = key ? http_url_encode(key) : NULL;
        if (key && !enc)
                return cli_oom_errno();
        if (asprintf(&suffix, "/build-secrets%s%s", key ? "/" : "", strempty(enc)) < 0)
                return cli_oom_errno();
        *ret = model_api_path(project, component, suffix);
        return *ret ? 0 : cli_oom_errno();
}

int config_build_set(CliContext *c, const char *target, const char *key, const uint8_t *data, size_t size) {
        _cleanup_json_ json_t *body = NULL, *reply = NULL;
        _cleanup_free_ char *path = NULL, *b64 = NULL;
        size_t n = sodium_base64_encoded_len(size, sodium_base64_VARIANT_ORIGINAL);
        int r;

        r = build_path("config set", target, key, &path);
        if (r < 0)
                return cli_exit_status(r);
        b64 = malloc(n);
        if (!b64)
                return log_oom_cli();
        sodium_bin2base64(b64, n, data, size, sodium_base64_VARIANT_ORIGINAL);
        body = json_pack("{s:s,s:b}", "value_base64", b64, "secret", 1);
        sodium_memzero(b64, n);
        if (!body)
                return log_oom_cli();
        r = model_call(c, "PUT", path, body, &reply);
        if (r <= 0)
                return cli_exit_status(r);
        printf("Set build secret %s of %s, version %lld.\n", key, target,
               (long long) json_integer_value(
                       json_object_get(json_object_get(reply, "build_secret"), "version")));
        printf("Builds from now on mount it with RUN --mount=type=secret,id=%s: slipway build %s\n", key,
               target);
        return 0;
}

int config_build_unset(CliContext *c, const char *target, const char *key) {
        _cleanup_json_ json_t *reply = NULL;
        _cleanup_free_ char *path = NULL;
        int r;

        r = build_path("config unset", target, key, &path);
        if (r < 0)
                return cli_exit_status(r);
        r = model_call(c, "DELETE", path, NULL, &reply);
        if (r <= 0)
                return cli_exit_status(r);
        printf("Unset build secret %s of %s (version %lld).\n", key, target,
               (long long) json_integer_value(json_object_get(reply, "version")));
        return 0;
}

int config_build_list(CliContext *c, const char *target) {
        _cleanup_json_ json_t *reply = NULL;
        _cleanup_free_ char *path = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        json_t *s;
        size_t i;
        int r;

        r = build_path("config list", target, NULL, &path);
        if (r < 0)
                return cli_exit_status(r);
        r = model_call(c, "GET", path, NULL, &reply);
        if (r <= 0)
                return cli_exit_status(r);
        t = table_new(3, "KEY", "VERSION", "SET");
        if (!t)
                return log_oom_cli();
        json_array_foreach(json_object_get(reply, "build_secrets"), i, s) {
                char version[24], when[32];

                snprintf(version, sizeof version, "%lld",
                         (long long) json_integer_value(json_object_get(s, "version")));
                model_format_time(json_object_get(s, "set_at"), when);
                if (table_add_row(t, json_string_value(json_object_get(s, "key")), version, when) < 0)
                        return log_oom_cli();
        }
        table_print(t);
        return 0;
}
