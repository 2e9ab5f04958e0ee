/* Thin helpers over sqlite3: opening a database the way Slipway needs it (WAL, synchronous=FULL,
 * foreign keys on, busy timeout), converting sqlite result codes to -errno once, here, and the
 * statement/row helpers every typed query of appliance/state shares (one row, all rows, a count). */
#pragma once

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

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

/* Binds t as text (SQLITE_STATIC: t must outlive the step), or NULL when t is NULL. */
void sqlite_bind_text_or_null(sqlite3_stmt *s, int i, const char *t);

/* Steps a statement that returns no rows: 0 on SQLITE_DONE, else -errno. */
int sqlite_step_done(sqlite3_stmt *s);

/* Reads the current row into ret (a zeroed row struct); on failure frees what it filled. */
typedef int (*SqliteReadRow)(sqlite3_stmt *s, void *userdata, void *ret);
/* Releases what a SqliteReadRow filled in (not the struct itself). */
typedef void (*SqliteDoneRow)(void *row);

/* Steps once: -ENOENT when there is no row, else read() of it. */
int sqlite_query_one(sqlite3_stmt *s, SqliteReadRow read, void *userdata, void *ret);
/* Steps to the end, collecting rows of `size` bytes in a malloc'ed array (NULL when empty).  On
 * failure nothing is returned and every row read so far is released with done(). */
int sqlite_query_all(sqlite3_stmt *s, SqliteReadRow read, SqliteDoneRow done, void *userdata, size_t size,
                     void **ret, size_t *ret_n);
/* Every value of column 0 as a malloc'ed string (a NULL stays NULL); the caller frees each and the array. */
int sqlite_query_strings(sqlite3_stmt *s, char ***ret, size_t *ret_n);
/* Column 0 of the first row as an integer (e.g. count(*)); -ENOENT when there is no row. */
int sqlite_query_int64(sqlite3_stmt *s, int64_t *ret);

/* Runs sql (binding arg to ?1 when it has a parameter) and returns column 0 of its one row. */
int sqlite_count(sqlite3 *db, const char *sql, int64_t arg, unsigned *ret);

/* Timestamps as rows store them: seconds, and microseconds (deploy log), since the epoch. */
int64_t sqlite_now_sec(void);
int64_t sqlite_now_usec(void);
