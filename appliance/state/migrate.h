/* Ordered schema migrations keyed on PRAGMA user_version.
 * Invariant: migration i takes the schema from version i to i+1 inside one transaction together
 * with the user_version bump, so a failed (or killed) migration leaves the database at the version
 * before it. */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct Migration {
        const char *name; /* for error messages */
        const char *sql;  /* one or more statements */
        /* The step rebuilds tables (CREATE new, copy, DROP old, RENAME): it runs with foreign keys off,
         * since a DROP with them on would cascade into the child tables and the PRAGMA cannot change
         * inside a transaction, and commits only when PRAGMA foreign_key_check finds nothing. */
        bool rebuilds_tables;
} Migration;

/* Reads PRAGMA user_version. */
int migrate_get_version(sqlite3 *db, int *ret);

/* Applies migrations[version..n-1].  A database newer than n is refused with -EPROTONOSUPPORT
 * (a downgrade of slipwayd).  On failure *ret_failed (when given) names the migration. */
int migrate_apply(sqlite3 *db, const Migration *migrations, size_t n, const char **ret_failed);
