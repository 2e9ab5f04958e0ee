/* sqlite3 open and error conversion.  Every sqlite error becomes a -errno at this boundary;
 * nothing above this file looks at sqlite result codes. */
#include "sqlite-util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
