/* Name and path checks for config values (see config-names.h). */
#include "config-names.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "component-spec-configs.h"
#include "macro.h"

int config_key_check(const char *key, char **ret_error) {
        size_t n = key ? strlen(key) : 0;

        if (n == 0)
                return spec_fail(ret_error, "A config value needs a name, like DATABASE_URL=VALUE.");
        if (n >= SPEC_CONFIG_NAME_MAX)
                return spec_fail(ret_error, "The config name '%.40s…' is longer than %u bytes.", key,
                                 SPEC_CONFIG_NAME_MAX - 1);
        for (size_t i = 0; i < n; i++) {
                char c = key[i];
                bool ok = c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                          (i > 0 && c >= '0' && c <= '9');
                if (!ok)
                        return spec_fail(
                                ret_error,
                                "The config name '%.64s' is not an environment variable name (letters, "
                                "digits and '_', not starting with a digit).",
                                key);
        }
        return 0;
}

int build_secret_id_check(const char *id, char **ret_error) {
        size_t n = id ? strlen(id) : 0;

        if (n == 0)
                return spec_fail(ret_error, "A build secret needs an id, like NPM_TOKEN=VALUE.");
        if (n > BUILD_SECRET_ID_MAX)
                return spec_fail(ret_error, "The build secret id '%.40s…' is longer than %u bytes.", id,
                                 BUILD_SECRET_ID_MAX);
        for (size_t i = 0; i < n; i++) {
                char c = id[i];
                bool ok = c == '_' || c == '-' || c == '.' || (c >= 'A' && c <= 'Z') ||
                          (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
                if (!ok || streq(id, ".") || streq(id, ".."))
                        return spec_fail(
                                ret_error,
                                "The build secret id '%.64s' may hold only letters, digits, '_', '-' "
                                "and '.' (and is not '.' or '..').",
                                id);
        }
        return 0;
}

/* Mount points an instance has of its own (slipway-init is at /run/slipway/init): a value file there would
 * hide them, or be hidden. */
static const char *const reserved_trees[] = { "/proc", "/sys", "/dev", "/run/slipway", NULL };

static bool under(const char *path, const char *tree) {
        size_t n = strlen(tree);
        return strncmp(path, tree, n) == 0 && (path[n] == 0 || path[n] == '/');
}

int config_file_path_check(const char *path, char **ret_error) {
        size_t n = path ? strlen(path) : 0;

        if (n == 0 || path[0] != '/')
                return spec_fail(ret_error,
                                 "A config file path must be absolute, like /etc/app/config.json.");
        if (n >= SPEC_CONFIG_PATH_MAX)
                return spec_fail(ret_error, "The config file path '%.40s…' is longer than %u bytes.", path,
                                 SPEC_CONFIG_PATH_MAX - 1);
        if (n == 1)
                return spec_fail(ret_error, "A config file cannot be mounted at '/'; give a file's path.");
        for (const char *c = path; *c; c++)
                if (*c <= ' ' || *c >= 127 || *c == '\\' || *c == ':' || *c == ',')
                        return spec_fail(
                                ret_error,
                                "The config file path '%.64s' has a space, control character, ':', ',' or "
                                "'\\'; use a plain path.",
                                path);
        if (strstr(path, "//") || strstr(path, "/./") || strstr(path, "/../") || path[n - 1] == '/' ||
            (n >= 2 && streq(path + n - 2, "/.")) || (n >= 3 && streq(path + n - 3, "/..")))
                return spec_fail(
                        ret_error,
                        "The config file path '%.64s' is not normalised (no '//', '.', '..' or trailing "
                        "'/').",
                        path);
        for (const char *const *t = reserved_trees; *t; t++)
                if (under(path, *t))
                        return spec_fail(
                                ret_error,
                                "A config file cannot be mounted under %s: the container's own mounts live "
                                "there.",
                                *t);
        if (streq(path, "/etc/hosts"))
                return spec_fail(ret_error,
                                 "A config file cannot replace %s: Slipway mounts it into every instance.",
                                 path);
        return 0;
}
