/* Thin helpers over sqlite3: opening a database the way Slipway needs it (WAL, synchronous=FULL,
 * foreign keys on, busy timeout), converting sqlite result codes to -errno once, here, and what every
 * typed query of appliance/state shares: bound argument lists, and row structs read by a field table. */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
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
/* Copies a BLOB column into a malloc'ed *ret of *ret_size bytes (NULL or empty: NULL, 0). */
int sqlite_column_blob_dup(sqlite3_stmt *s, int col, uint8_t **ret, size_t *ret_size);
/* Copies a BLOB column of exactly size bytes into out; -EBADMSG for NULL or another size (a damaged row). */
int sqlite_column_blob_exact(sqlite3_stmt *s, int col, uint8_t *out, size_t size);
/* Binds b (n bytes, without a copy) to parameter index; NULL binds NULL. */
int sqlite_bind_blob(sqlite3_stmt *s, int index, const uint8_t *b, size_t n);

/* Transactions: BEGIN IMMEDIATE / COMMIT / ROLLBACK. */
int sqlite_begin(sqlite3 *db);
int sqlite_commit(sqlite3 *db);
void sqlite_rollback(sqlite3 *db);

/* Steps a statement that returns no rows: 0 on SQLITE_DONE, else -errno. */
int sqlite_step_done(sqlite3_stmt *s);
/* Steps to the next row: 0 when there is one, -ENOENT at the end, else -errno. */
int sqlite_step_row(sqlite3_stmt *s);

/* A value for one statement parameter; a list of them binds ?1, ?2, … in order.  Text is bound without
 * a copy (it must live until the call returns); NULL text binds NULL. */
typedef struct SqliteArg {
        bool is_text;
        int64_t value;
        const char *text;
        int text_len; /* bytes of text, -1: up to its NUL */
} SqliteArg;

#define SQL_INT(v) ((SqliteArg) { .value = (v) })
#define SQL_TEXT(t) ((SqliteArg) { .is_text = true, .text = (t), .text_len = -1 })
#define SQL_TEXT_N(t, n) ((SqliteArg) { .is_text = true, .text = (t), .text_len = (n) })
/* The (args, n_args) pair the functions below take: SQL_ARGS(SQL_INT(id), SQL_TEXT(name)). */
#define SQL_ARGS(...) (const SqliteArg[]) { __VA_ARGS__ }, ELEMENTSOF(((const SqliteArg[]) { __VA_ARGS__ }))
#define SQL_NO_ARGS NULL, 0

/* How a row struct is read from a result: column i goes to fields[i]. */
typedef enum SqliteFieldType {
        SQLITE_FIELD_INT64,    /* int64_t */
        SQLITE_FIELD_UINT64,   /* uint64_t */
        SQLITE_FIELD_UNSIGNED, /* unsigned */
        SQLITE_FIELD_BOOL,     /* bool: the column is not 0 */
        SQLITE_FIELD_TEXT,     /* char *, a malloc'ed copy (NULL stays NULL) */
        SQLITE_FIELD_CHARS,    /* char[size]: text that fits with its NUL, else -EBADMSG (NULL too) */
} SqliteFieldType;

typedef struct SqliteField {
        SqliteFieldType type;
        size_t offset;
        size_t size;
} SqliteField;

/* How a field is read, from the type of a pointer to it (a type not listed fails to compile). */
#define SQL_FIELD_TYPE(p, size) \
        _Generic((p), int64_t *: SQLITE_FIELD_INT64, uint64_t *: SQLITE_FIELD_UINT64,     \
                 unsigned *: SQLITE_FIELD_UNSIGNED, bool *: SQLITE_FIELD_BOOL,            \
                 char **: SQLITE_FIELD_TEXT, char(*)[size]: SQLITE_FIELD_CHARS)
/* Field f of struct T, read as its C type says. */
#define SQL_FIELD(T, f)                                                                                \
        {                                                                                              \
                .type = SQL_FIELD_TYPE(&((T *) 0)->f, sizeof(((T *) 0)->f)), .offset = offsetof(T, f), \
                .size = sizeof(((T *) 0)->f)                                                           \
        }

/* A row struct of `size` bytes and how to read it.  complete() (optional) fills what no column holds,
 * e.g. from another query on sqlite3_db_handle(s); release() (optional) frees what complete() filled. */
typedef struct SqliteRowType {
        size_t size;
        const SqliteField *fields;
        size_t n_fields;
        int (*complete)(sqlite3_stmt *s, void *row);
        void (*release)(void *row);
} SqliteRowType;

/* The row type of struct T read through field_table; .complete and .release may follow. */
#define SQL_ROW_TYPE(T, field_table, ...) \
        { .size = sizeof(T), .fields = (field_table), .n_fields = ELEMENTSOF(field_table), __VA_ARGS__ }

/* Rows of one column: a char * (NULL stays NULL), an int64_t. */
extern const SqliteRowType sqlite_text_row;
extern const SqliteRowType sqlite_int64_row;

/* Frees what reading filled into row (NULL is fine) and zeroes it. */
void sqlite_row_done(const SqliteRowType *type, void *row);
/* sqlite_row_done() on each of n rows, then the array. */
void sqlite_rows_free(const SqliteRowType *type, void *rows, size_t n);

/* The public free(T *, size_t n) of an array of row structs, over their row type (as DEFINE_TRIVIAL_CLEANUP_FUNC
 * defines a cleanup helper); the entity's header declares it. */
#define SQL_DEFINE_ARRAY_FREE_FUNC(T, row_type, free_array) \
        void free_array(T *rows, size_t n) {                \
                sqlite_rows_free(&(row_type), rows, n);     \
        }
/* The same and the row's done(T *), which frees what a read filled in and zeroes it (NULL is fine). */
#define SQL_DEFINE_ROW_FUNCS(T, row_type, done, free_array) \
        void done(T *row) {                                 \
                sqlite_row_done(&(row_type), row);          \
        }                                                   \
        SQL_DEFINE_ARRAY_FREE_FUNC(T, row_type, free_array)

/* Prepares sql and binds args to it. */
int sqlite_prepare_args(sqlite3 *db, const char *sql, const SqliteArg *args, size_t n_args,
                        sqlite3_stmt **ret);
/* Runs a statement that returns no rows; returns how many rows it changed. */
int sqlite_run(sqlite3 *db, const char *sql, const SqliteArg *args, size_t n_args);
/* The same for one that must change a row (an UPDATE or DELETE by id): -ENOENT when it changed none. */
int sqlite_run_one(sqlite3 *db, const char *sql, const SqliteArg *args, size_t n_args);
/* The first row into *ret (a struct of type->size bytes, written only on success); -ENOENT when there is
 * none. */
int sqlite_get(sqlite3 *db, const SqliteRowType *type, const char *sql, const SqliteArg *args, size_t n_args,
               void *ret);
/* Every row, as a malloc'ed array into *(T **) ret (NULL when empty); on failure nothing is returned. */
int sqlite_list(sqlite3 *db, const SqliteRowType *type, const char *sql, const SqliteArg *args,
                size_t n_args, void *ret, size_t *ret_n);
/* Column 0 of each row as a value of `size` bytes that parse() makes of its text, in a malloc'ed array
 * (NULL when empty); a NULL or a text parse() refuses is skipped. */
int sqlite_list_parsed(sqlite3 *db, const char *sql, const SqliteArg *args, size_t n_args,
                       int (*parse)(const char *text, void *ret), size_t size, void *ret, size_t *ret_n);
/* Column 0 (text) of every row of sql as a NULL-terminated strv in *ret (free with strv_free). */
int sqlite_list_strv(sqlite3 *db, const char *sql, const SqliteArg *args, size_t n_args, char ***ret);
/* Column 0 of the one row of sql (e.g. count(*) or a PRAGMA); -EIO when it returns none. */
int sqlite_get_int64(sqlite3 *db, const char *sql, const SqliteArg *args, size_t n_args, int64_t *ret);
/* The same as an unsigned, for counts. */
int sqlite_count(sqlite3 *db, const char *sql, const SqliteArg *args, size_t n_args, unsigned *ret);

/* Ends the transaction sqlite_begin() opened: COMMIT when r >= 0, else ROLLBACK.  Returns r, or the
 * COMMIT's error (after which it rolls back). */
int sqlite_end(sqlite3 *db, int r);

/* Timestamps as rows store them: seconds, and microseconds (deploy log), since the epoch. */
int64_t sqlite_now_sec(void);
int64_t sqlite_now_usec(void);
