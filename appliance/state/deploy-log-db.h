/* The deploy log in slipway.db: what happened while a release deployed and ran, one timestamped
 * line at a time, read back in write order. */
#pragma once

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

/* A longer line is cut to at most this many bytes (at a UTF-8 character boundary) when stored. */
#define MODEL_DEPLOY_LOG_LINE_MAX 1024U

typedef struct ModelLogLine {
        int64_t at; /* microseconds since the epoch */
        char *line;
} ModelLogLine;

void model_log_lines_free(ModelLogLine *l, size_t n);

/* How many bytes of line are stored: all, or MODEL_DEPLOY_LOG_LINE_MAX backed off to a character start. */
size_t model_deploy_log_line_length(const char *line);
/* While the deployer knows a release's secrets (it decrypted its values), every line of that release
 * passes through scrubber (scrub.h) before it is stored or logged: a secret becomes [secret KEY].  The
 * scrubber must stay valid until the matching pop; a push of a release already pushed stacks.  Any thread. */
typedef struct Scrubber Scrubber;
int model_deploy_log_scrub_push(int64_t release_id, const Scrubber *scrubber);
void model_deploy_log_scrub_pop(int64_t release_id, const Scrubber *scrubber);

/* Appends one line (any connection, any thread), also logged at debug level. */
int model_deploy_log_append(sqlite3 *db, int64_t release_id, const char *line);
int model_deploy_log_appendf(sqlite3 *db, int64_t release_id, const char *fmt, ...) _printf_(3, 4);
int model_deploy_log_list(sqlite3 *db, int64_t release_id, ModelLogLine **ret, size_t *ret_n);
