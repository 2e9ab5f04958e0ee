/* Schema migrations: each step and its user_version bump commit together or not at all. */
#include "migrate.h"

#include <errno.h>
#include <stdio.h>

#include "log.h"
#include "sqlite-util.h"

int migrate_get_version(sqlite3 *db, int *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int64_t v;
        int r;

        r = sqlite_prepare(db, "PRAGMA user_version;", &s);
        if (r < 0)
                return r;
        r = sqlite_query_int64(s, &v);
        if (r < 0)
                return r == -ENOENT ? -EIO : r;
        *ret = (int) v;
        return 0;
}

static int migrate_one(sqlite3 *db, const Migration *m, int to_version) {
        char pragma[64];
        int r;

        r = sqlite_begin(db);
        if (r < 0)
                return r;

        r = sqlite_exec(db, m->sql);
        if (r < 0)
                goto fail;

        /* PRAGMA takes no bound parameters; the number is ours, not user input. */
        snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d;", to_version);
        r = sqlite_exec(db, pragma);
        if (r < 0)
                goto fail;

        r = sqlite_commit(db);
        if (r < 0)
                goto fail;
        return 0;

fail:
        sqlite_rollback(db);
        return r;
}

int migrate_apply(sqlite3 *db, const Migration *migrations, size_t n, const char **ret_failed) {
        int version, r;

        r = migrate_get_version(db, &version);
        if (r < 0)
                return r;
        if (version < 0 || (size_t) version > n)
                return -EPROTONOSUPPORT;

        for (size_t i = (size_t) version; i < n; i++) {
                r = migrate_one(db, &migrations[i], (int) i + 1);
                if (r < 0) {
                        log_debug("Migration %zu (%s) failed: %s", i + 1, migrations[i].name, strerror(-r));
                        if (ret_failed)
                                *ret_failed = migrations[i].name;
                        return r;
                }
                log_debug("Database migrated to version %zu (%s).", i + 1, migrations[i].name);
        }
        return 0;
}
