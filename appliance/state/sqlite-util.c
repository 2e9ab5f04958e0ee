/* sqlite3 open, error conversion and the shared row readers.  Every sqlite error becomes a -errno at
 * this boundary; nothing above appliance/state looks at sqlite result codes. */
#include "sqlite-util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

int sqlite_to_errno(int rc) {
        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_ROW:
        case SQLITE_DONE:
                return 0;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_READONLY:
                return -EROFS;
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EPERM;
        case SQLITE_CANTOPEN:
                return -ENOENT;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_CONSTRAINT:
                return (rc == SQLITE_CONSTRAINT_FOREIGNKEY) ? -ENOENT : -EEXIST;
        case SQLITE_TOOBIG:
                return -E2BIG;
        case SQLITE_MISMATCH:
        case SQLITE_RANGE:
        case SQLITE_MISUSE:
                return -EINVAL;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
        case SQLITE_FORMAT:
                return -EBADMSG;
        case SQLITE_INTERRUPT:
        case SQLITE_ABORT:
                return -ECANCELED;
        case SQLITE_IOERR:
        case SQLITE_PROTOCOL:
        default:
                return -EIO;
        }
}

int sqlite_exec(sqlite3 *db, const char *sql) {
        char *msg = NULL;
        int rc;

        rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
        if (rc != SQLITE_OK) {
                log_debug("sqlite: %s: %s", sql, msg ? msg : sqlite3_errstr(rc));
                sqlite3_free(msg);
                return sqlite_to_errno(rc);
        }
        return 0;
}

int sqlite_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **ret) {
        sqlite3_stmt *s = NULL;
        int rc;

        rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
        if (rc != SQLITE_OK) {
                log_debug("sqlite: cannot prepare '%s': %s", sql, sqlite3_errmsg(db));
                return sqlite_to_errno(rc);
        }
        *ret = s;
        return 0;
}

int sqlite_open(const char *path, sqlite3 **ret) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        int rc, r;

        rc = sqlite3_open_v2(path, &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX |
                                     SQLITE_OPEN_EXRESCODE,
                             NULL);
        if (rc != SQLITE_OK)
                return sqlite_to_errno(rc);

        rc = sqlite3_busy_timeout(db, STATE_BUSY_TIMEOUT_MS);
        if (rc != SQLITE_OK)
                return sqlite_to_errno(rc);

        /* journal_mode returns a row; sqlite3_exec ignores it. */
        r = sqlite_exec(db, "PRAGMA journal_mode=WAL;"
                            "PRAGMA synchronous=FULL;"
                            "PRAGMA foreign_keys=ON;");
        if (r < 0)
                return r;

        *ret = TAKE_PTR(db);
        return 0;
}

int sqlite_begin(sqlite3 *db) {
        return sqlite_exec(db, "BEGIN IMMEDIATE;");
}

int sqlite_commit(sqlite3 *db) {
        return sqlite_exec(db, "COMMIT;");
}

void sqlite_rollback(sqlite3 *db) {
        if (!sqlite3_get_autocommit(db))
                (void) sqlite_exec(db, "ROLLBACK;");
}

int sqlite_column_strdup(sqlite3_stmt *s, int col, char **ret) {
        const char *t = (const char *) sqlite3_column_text(s, col);

        if (!t) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(t);
        return *ret ? 0 : -ENOMEM;
}

void sqlite_bind_text_or_null(sqlite3_stmt *s, int i, const char *t) {
        if (t)
                sqlite3_bind_text(s, i, t, -1, SQLITE_STATIC);
        else
                sqlite3_bind_null(s, i);
}

int sqlite_step_done(sqlite3_stmt *s) {
        int rc = sqlite3_step(s);
        if (rc != SQLITE_DONE)
                return sqlite_to_errno(rc) ?: -EIO;
        return 0;
}

int sqlite_query_one(sqlite3_stmt *s, SqliteReadRow read, void *userdata, void *ret) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return sqlite_to_errno(rc) ?: -EIO;
        return read(s, userdata, ret);
}

int sqlite_query_all(sqlite3_stmt *s, SqliteReadRow read, SqliteDoneRow done, void *userdata, size_t size,
                     void **ret, size_t *ret_n) {
        char *v = NULL;
        size_t n = 0;
        int r, rc;

        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                char *nv = realloc(v, (n + 1) * size);
                if (!nv) {
                        r = -ENOMEM;
                        goto fail;
                }
                v = nv;
                memset(v + n * size, 0, size);
                r = read(s, userdata, v + n * size);
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
        if (done)
                for (size_t i = 0; i < n; i++)
                        done(v + i * size);
        free(v);
        return r;
}

static int read_string(sqlite3_stmt *s, void *userdata, void *ret) {
        (void) userdata;
        return sqlite_column_strdup(s, 0, ret);
}

static void done_string(void *p) {
        free(*(char **) p);
}

int sqlite_query_strings(sqlite3_stmt *s, char ***ret, size_t *ret_n) {
        return sqlite_query_all(s, read_string, done_string, NULL, sizeof(char *), (void **) ret, ret_n);
}

int sqlite_query_int64(sqlite3_stmt *s, int64_t *ret) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return sqlite_to_errno(rc) ?: -EIO;
        *ret = sqlite3_column_int64(s, 0);
        return 0;
}

int sqlite_count(sqlite3 *db, const char *sql, int64_t arg, unsigned *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r, rc;

        r = sqlite_prepare(db, sql, &s);
        if (r < 0)
                return r;
        if (sqlite3_bind_parameter_count(s) > 0)
                sqlite3_bind_int64(s, 1, arg);
        rc = sqlite3_step(s);
        if (rc != SQLITE_ROW)
                return sqlite_to_errno(rc) ?: -EIO;
        *ret = (unsigned) sqlite3_column_int64(s, 0);
        return 0;
}

int64_t sqlite_now_sec(void) {
        return (int64_t) time(NULL);
}

int64_t sqlite_now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
