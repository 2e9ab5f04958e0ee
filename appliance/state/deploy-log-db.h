/* The deploy log in slipway.db: what happened while a release deployed and ran, one timestamped
 * line at a time, read back in write order. */
#pragma once

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

typedef struct ModelLogLine {
        int64_t at; /* microseconds since the epoch */
        char *line;
} ModelLogLine;

void model_log_lines_free(ModelLogLine *l, size_t n);

int model_deploy_log_append(sqlite3 *db, int64_t release_id, const char *line);
int model_deploy_log_appendf(sqlite3 *db, int64_t release_id, const char *fmt, ...) _printf_(3, 4);
int model_deploy_log_list(sqlite3 *db, int64_t release_id, ModelLogLine **ret, size_t *ret_n);
