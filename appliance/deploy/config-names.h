/* The names a config value may have: an environment variable's name, and the absolute path a file value is
 * mounted at inside the container.  Shared by configurables in component specs and by `config set`, so both
 * refuse the same names with the same sentence. */
#pragma once

#include <stdbool.h>

#include "component-spec.h"

/* [A-Za-z_][A-Za-z0-9_]*, at most SPEC_CONFIG_NAME_MAX - 1 bytes.  -EINVAL with *ret_error otherwise. */
int config_key_check(const char *key, char **ret_error);
/* Absolute, normalised (no "//", "/./", "/../", no trailing '/'), printable without spaces, at most
 * SPEC_CONFIG_PATH_MAX - 1 bytes, and not where the instance's own mounts are (/proc, /sys, /dev, /run/slipway,
 * /etc/hosts, slipway-init, the root itself).  -EINVAL with *ret_error otherwise. */
int config_file_path_check(const char *path, char **ret_error);

/* The id of a build secret (RUN --mount=type=secret,id=ID; by default mounted at /run/secrets/ID; without
 * id=, BuildKit takes the target's base name, e.g. ".npmrc"): letters, digits, '_', '-' and '.', not "." or
 * "..", at most BUILD_SECRET_ID_MAX bytes.  -EINVAL with *ret_error otherwise. */
#define BUILD_SECRET_ID_MAX 255U
int build_secret_id_check(const char *id, char **ret_error);
