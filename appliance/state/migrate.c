/* Schema migrations: each step and its user_version bump commit together or not at all. */
#include "migrate.h"

#include <errno.h>
#include <stdio.h>

#include "log.h"
#include "sqlite-util.h"

int migrate_get_version(sqlite3 *db, int *ret) {
        int64_t v;
        int r;

        r = sqlite_get_int64(db, "PRAGMA user_version;", SQL_NO_ARGS, &v);
        if (r < 0)
                return r;
        *ret = (int) v;
        return 0;
}

/* Whether the foreign keys the step left behind all hold: PRAGMA foreign_key_check returns a row per
 * violation. */
static int migrate_foreign_keys_hold(sqlite3 *db) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        r = sqlite_prepare(db, "PRAGMA foreign_key_check;", &s);
        if (r < 0)
                return r;
        r = sqlite_step_row(s);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        log_debug("Migration left a dangling foreign key in table %s.", sqlite3_column_text(s, 0));
        return -EBADMSG;
}

/* Step m and the user_version bump, inside the caller's transaction. */
static int migrate_step(sqlite3 *db, const Migration *m, int to_version) {
        char pragma[64];
        int r;

        r = sqlite_exec(db, m->sql);
        if (r < 0)
                return r;
        if (m->rebuilds_tables) {
                r = migrate_foreign_keys_hold(db);
                if (r < 0)
                        return r;
        }
        /* PRAGMA takes no bound parameters; the number is ours, not user input. */
        snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d;", to_version);
        return sqlite_exec(db, pragma);
}

static int migrate_one(sqlite3 *db, const Migration *m, int to_version) {
        int64_t on = 1;
        int r;

        if (m->rebuilds_tables) {
                /* Outside the transaction (inside it the PRAGMA is a no-op), and checked: with the keys
                 * on, dropping the old parent table would delete every child row. */
                r = sqlite_exec(db, "PRAGMA foreign_keys=OFF;");
                if (r >= 0)
                        r = sqlite_get_int64(db, "PRAGMA foreign_keys;", SQL_NO_ARGS, &on);
                if (r >= 0 && on != 0)
                        r = -EBUSY; /* inside someone's transaction: the PRAGMA did not apply */
                if (r < 0)
                        goto done;
        }
        r = sqlite_begin(db);
        if (r >= 0)
                r = sqlite_end(db, migrate_step(db, m, to_version));
done:
        if (m->rebuilds_tables) {
                int k = sqlite_exec(db, "PRAGMA foreign_keys=ON;");
                if (k < 0 && r >= 0)
                        r = k;
        }
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
