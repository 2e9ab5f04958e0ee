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

void model_log_lines_free(ModelLogLine *l, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(l[i].line);
        free(l);
}

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
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        size_t len = model_deploy_log_line_length(line);
        int r;

        log_debug("release %lld: %.*s", (long long) release_id, (int) len, line);
        r = sqlite_prepare(db, "INSERT INTO deploy_log(release_id, at, line) VALUES (?1, ?2, ?3)", &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, release_id);
        sqlite3_bind_int64(s, 2, sqlite_now_usec());
        sqlite3_bind_text(s, 3, line, (int) len, SQLITE_STATIC);
        r = sqlite_step_done(s);
        return r;
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
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        ModelLogLine *v = NULL;
        size_t n = 0;
        int r, rc;

        r = sqlite_prepare(db, "SELECT at, line FROM deploy_log WHERE release_id = ?1 ORDER BY at, rowid",
                           &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, release_id);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                ModelLogLine *nv = realloc(v, (n + 1) * sizeof *v);
                if (!nv) {
                        r = -ENOMEM;
                        goto fail;
                }
                v = nv;
                v[n].at = sqlite3_column_int64(s, 0);
                r = sqlite_column_strdup(s, 1, &v[n].line);
                if (r < 0)
                        goto fail;
                n++;
        }
        if (rc != SQLITE_DONE) {
                r = sqlite_to_errno(rc) ?: -EIO;
                goto fail;
        }
        *ret = v;
        *ret_n = n;
        return 0;
fail:
        model_log_lines_free(v, n);
        return r;
}
