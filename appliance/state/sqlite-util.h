/* Thin helpers over sqlite3: opening a database the way Slipway needs it (WAL, synchronous=FULL,
 * foreign keys on, busy timeout) and converting sqlite result codes to -errno once, here. */
#pragma once

#include <sqlite3.h>

#include "macro.h"

/* How long a writer waits for another connection's lock before giving up with -EBUSY. */
#define STATE_BUSY_TIMEOUT_MS 5000

DEFINE_TRIVIAL_CLEANUP_FUNC(sqlite3_stmt *, sqlite3_finalize);
DEFINE_TRIVIAL_CLEANUP_FUNC(sqlite3 *, sqlite3_close_v2);
#define _cleanup_stmt_ _cleanup_(sqlite3_finalizep)

/* Maps an sqlite3 (extended) result code to a negative errno; SQLITE_OK/ROW/DONE map to 0. */
int sqlite_to_errno(int rc);

/* Opens (creating) the database file at path with the pragmas above. */
int sqlite_open(const char *path, sqlite3 **ret);

/* Runs one or more statements without results. */
int sqlite_exec(sqlite3 *db, const char *sql);

/* Prepares one statement. */
int sqlite_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **ret);

/* Copies a text column (NULL stays NULL) into *ret. */
int sqlite_column_strdup(sqlite3_stmt *s, int col, char **ret);

/* Transactions: BEGIN IMMEDIATE / COMMIT / ROLLBACK. */
int sqlite_begin(sqlite3 *db);
int sqlite_commit(sqlite3 *db);
void sqlite_rollback(sqlite3 *db);
