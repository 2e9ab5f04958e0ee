/* The deploy log in slipway.db: timestamped lines (microseconds) per release, read back in the order
 * they were written.  Invariant: no stored line is longer than MODEL_DEPLOY_LOG_LINE_MAX bytes, and a cut
 * never splits a UTF-8 character. */
#include "deploy-log-db.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "scrub.h"
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

/* The releases whose secrets are known now, with their scrubbers; few (one per deploy or restart). */
typedef struct LogScrub {
        int64_t release_id;
        const Scrubber *scrubber;
        struct LogScrub *next;
} LogScrub;

static pthread_mutex_t scrub_lock = PTHREAD_MUTEX_INITIALIZER;
static LogScrub *scrubs;

int model_deploy_log_scrub_push(int64_t release_id, const Scrubber *scrubber) {
        LogScrub *e;

        if (scrubber_count(scrubber) == 0)
                return 0;
        e = calloc(1, sizeof *e);
        if (!e)
                return -ENOMEM;
        *e = (LogScrub) { .release_id = release_id, .scrubber = scrubber };
        pthread_mutex_lock(&scrub_lock);
        e->next = scrubs;
        scrubs = e;
        pthread_mutex_unlock(&scrub_lock);
        return 0;
}

void model_deploy_log_scrub_pop(int64_t release_id, const Scrubber *scrubber) {
        pthread_mutex_lock(&scrub_lock);
        for (LogScrub **p = &scrubs; *p; p = &(*p)->next)
                if ((*p)->release_id == release_id && (*p)->scrubber == scrubber) {
                        LogScrub *e = *p;
                        *p = e->next;
                        free(e);
                        break;
                }
        pthread_mutex_unlock(&scrub_lock);
}

/* line scrubbed of the release's known secrets into *ret (NULL when none are known).  Under the lock, so
 * a pop (and the free of the scrubber after it) waits for a scrub in progress. */
static int scrub_line(int64_t release_id, const char *line, char **ret) {
        int r = 0;

        *ret = NULL;
        pthread_mutex_lock(&scrub_lock);
        for (LogScrub *e = scrubs; e; e = e->next)
                if (e->release_id == release_id) {
                        r = scrubber_text(e->scrubber, line, strlen(line), ret, NULL);
                        break;
                }
        pthread_mutex_unlock(&scrub_lock);
        return r;
}

int model_deploy_log_append(sqlite3 *db, int64_t release_id, const char *line) {
        _cleanup_free_ char *scrubbed = NULL;
        size_t len;
        int r;

        /* Unscrubbed, a line with a secret must not be stored: out of memory drops it. */
        r = scrub_line(release_id, line, &scrubbed);
        if (r < 0)
                return r;
        if (scrubbed)
                line = scrubbed;
        len = model_deploy_log_line_length(line);

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
