/* slipway config set|unset|list PROJECT/COMPONENT --build: a component's build secrets over
 * /api/v1/projects/P/components/C/build-secrets (web/api/api-build-secrets.c).  Values are never read
 * back; cmd-config.c parses the arguments and calls these. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "cli.h"

/* Each returns the exit status (0, or 1 after the reason was printed). */
int config_build_set(CliContext *c, const char *target, const char *key, const uint8_t *data, size_t size);
int config_build_unset(CliContext *c, const char *target, const char *key);
int config_build_list(CliContext *c, const char *target);
