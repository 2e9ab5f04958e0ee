/* The deploy log in slipway.db: timestamped lines (microseconds) per release, read back in the order
 * they were written.  Invariant: no stored line is longer than MODEL_DEPLOY_LOG_LINE_MAX bytes, and a cut
 * never splits a UTF-8 character. */
#include "deploy-log-db.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sqlite-util.h"

static const SqliteField log_line_fields[] = {
        SQL_FIELD(ModelLogLine, at),
        SQL_FIELD(ModelLogLine, line),
};
static const SqliteRowType log_line_row = SQL_ROW_TYPE(ModelLogLine, log_line_fields);
SQL_DEFINE_ARRAY_FREE_FUNC(ModelLogLine, log_line_row, model_log_lines_free);

size_t model_deploy_log_line_length(const char *line) {
        size_t n = strlen(line);

        if (n <= MODEL_DEPLOY_LOG_LINE_MAX)
                return n;
        n = MODEL_DEPLOY_LOG_LINE_MAX;
        /* Back off over continuation bytes (10xxxxxx) to the start of the character that did not fit. */
        while (n > 0 && ((unsigned char) line[n] & 0xc0) == 0x80)
                n--;
        return n;
}

int model_deploy_log_append(sqlite3 *db, int64_t release_id, const char *line) {
        size_t len = model_deploy_log_line_length(line);
        int r;

        log_debug("release %lld: %.*s", (long long) release_id, (int) len, line);
        r = sqlite_run(
                db, "INSERT INTO deploy_log(release_id, at, line) VALUES (?1, ?2, ?3)",
                SQL_ARGS(SQL_INT(release_id), SQL_INT(sqlite_now_usec()), SQL_TEXT_N(line, (int) len)));
        return r < 0 ? r : 0;
}

int model_deploy_log_appendf(sqlite3 *db, int64_t release_id, const char *fmt, ...) {
        _cleanup_free_ char *line = NULL;
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = vasprintf(&line, fmt, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;
        return model_deploy_log_append(db, release_id, line);
}

int model_deploy_log_list(sqlite3 *db, int64_t release_id, ModelLogLine **ret, size_t *ret_n) {
        return sqlite_list(db, &log_line_row,
                           "SELECT at, line FROM deploy_log WHERE release_id = ?1 ORDER BY at, rowid",
                           SQL_ARGS(SQL_INT(release_id)), ret, ret_n);
}
