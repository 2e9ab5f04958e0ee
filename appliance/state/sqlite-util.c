/* sqlite3 open, error conversion and the shared row readers.  Every sqlite error becomes a -errno at
 * this boundary; nothing above appliance/state looks at sqlite result codes. */
#include "sqlite-util.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc-util.h"
#include "log.h"
#include "strv.h"

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

/* sqlite_to_errno() for a failure on db: an I/O error whose system call ran out of space (an fsync, growing
 * the -shm file) is the full disk it is, as SQLITE_FULL already is. */
static int db_errno(sqlite3 *db, int rc) {
        int r = sqlite_to_errno(rc);
        int e = db ? sqlite3_system_errno(db) : 0;

        if (r == -EIO && (e == ENOSPC || e == EDQUOT))
                return -e;
        return r;
}

int sqlite_exec(sqlite3 *db, const char *sql) {
        char *msg = NULL;
        int rc;

        rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
        if (rc != SQLITE_OK) {
                log_debug("sqlite: %s: %s", sql, msg ? msg : sqlite3_errstr(rc));
                sqlite3_free(msg);
                return db_errno(db, rc);
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
                            "PRAGMA foreign_keys=ON;"
                            /* deleted rows (old ciphertexts, wrapped keys) are zeroed */
                            "PRAGMA secure_delete=ON;");
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

int sqlite_column_blob_dup(sqlite3_stmt *s, int col, uint8_t **ret, size_t *ret_size) {
        const void *b = sqlite3_column_blob(s, col);
        int n = sqlite3_column_bytes(s, col);
        uint8_t *copy;

        if (!b || n <= 0) {
                *ret = NULL;
                *ret_size = 0;
                return 0;
        }
        copy = malloc((size_t) n);
        if (!copy)
                return -ENOMEM;
        memcpy(copy, b, (size_t) n);
        *ret = copy;
        *ret_size = (size_t) n;
        return 0;
}

int sqlite_column_blob_exact(sqlite3_stmt *s, int col, uint8_t *out, size_t size) {
        const void *b = sqlite3_column_blob(s, col);

        if (!b || sqlite3_column_bytes(s, col) != (int) size)
                return -EBADMSG;
        memcpy(out, b, size);
        return 0;
}

int sqlite_bind_blob(sqlite3_stmt *s, int index, const uint8_t *b, size_t n) {
        int rc;

        if (!b)
                rc = sqlite3_bind_null(s, index);
        else
                rc = sqlite3_bind_blob64(s, index, n > 0 ? (const void *) b : (const void *) "", n,
                                         SQLITE_STATIC);
        return rc == SQLITE_OK ? 0 : (sqlite_to_errno(rc) ?: -EIO);
}

int sqlite_step_done(sqlite3_stmt *s) {
        int rc = sqlite3_step(s);
        if (rc != SQLITE_DONE)
                return db_errno(sqlite3_db_handle(s), rc) ?: -EIO;
        return 0;
}

int sqlite_step_row(sqlite3_stmt *s) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return db_errno(sqlite3_db_handle(s), rc) ?: -EIO;
        return 0;
}

int sqlite_end(sqlite3 *db, int r) {
        if (r >= 0) {
                int k = sqlite_commit(db);
                if (k >= 0)
                        return r;
                r = k;
        }
        sqlite_rollback(db);
        return r;
}

int sqlite_prepare_args(sqlite3 *db, const char *sql, const SqliteArg *args, size_t n_args,
                        sqlite3_stmt **ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r, rc;

        r = sqlite_prepare(db, sql, &s);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_args; i++) {
                if (!args[i].is_text)
                        rc = sqlite3_bind_int64(s, (int) i + 1, args[i].value);
                else if (args[i].text)
                        rc = sqlite3_bind_text(s, (int) i + 1, args[i].text, args[i].text_len,
                                               SQLITE_STATIC);
                else
                        rc = sqlite3_bind_null(s, (int) i + 1);
                if (rc != SQLITE_OK)
                        return sqlite_to_errno(rc) ?: -EIO;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

int sqlite_run(sqlite3 *db, const char *sql, const SqliteArg *args, size_t n_args) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        r = sqlite_prepare_args(db, sql, args, n_args, &s);
        if (r >= 0)
                r = sqlite_step_done(s);
        return r < 0 ? r : sqlite3_changes(db);
}

int sqlite_run_one(sqlite3 *db, const char *sql, const SqliteArg *args, size_t n_args) {
        int r = sqlite_run(db, sql, args, n_args);
        if (r < 0)
                return r;
        return r > 0 ? 0 : -ENOENT;
}

static int read_field(sqlite3_stmt *s, int col, const SqliteField *f, void *row) {
        void *p = (char *) row + f->offset;
        const char *t;

        switch (f->type) {
        case SQLITE_FIELD_INT64:
                *(int64_t *) p = sqlite3_column_int64(s, col);
                return 0;
        case SQLITE_FIELD_UINT64:
                *(uint64_t *) p = (uint64_t) sqlite3_column_int64(s, col);
                return 0;
        case SQLITE_FIELD_UNSIGNED:
                *(unsigned *) p = (unsigned) sqlite3_column_int64(s, col);
                return 0;
        case SQLITE_FIELD_BOOL:
                *(bool *) p = sqlite3_column_int64(s, col) != 0;
                return 0;
        case SQLITE_FIELD_TEXT:
                return sqlite_column_strdup(s, col, p);
        case SQLITE_FIELD_CHARS:
                t = (const char *) sqlite3_column_text(s, col);
                if (!t || strlen(t) >= f->size)
                        return -EBADMSG;
                strcpy(p, t);
                return 0;
        }
        assert(!"unknown SqliteFieldType");
        return -EINVAL;
}

void sqlite_row_done(const SqliteRowType *type, void *row) {
        if (!row)
                return;
        if (type->release)
                type->release(row);
        for (size_t i = 0; i < type->n_fields; i++)
                if (type->fields[i].type == SQLITE_FIELD_TEXT)
                        free(*(char **) ((char *) row + type->fields[i].offset));
        memset(row, 0, type->size);
}

void sqlite_rows_free(const SqliteRowType *type, void *rows, size_t n) {
        for (size_t i = 0; i < n; i++)
                sqlite_row_done(type, (char *) rows + i * type->size);
        free(rows);
}

/* Reads the current row into row (zeroed); on failure releases what it filled. */
static int read_row(const SqliteRowType *type, sqlite3_stmt *s, void *row) {
        int r = 0;

        assert((size_t) sqlite3_column_count(s) >= type->n_fields);
        for (size_t i = 0; i < type->n_fields && r >= 0; i++)
                r = read_field(s, (int) i, &type->fields[i], row);
        if (r >= 0 && type->complete)
                r = type->complete(s, row);
        if (r < 0)
                sqlite_row_done(type, row);
        return r;
}

int sqlite_get(sqlite3 *db, const SqliteRowType *type, const char *sql, const SqliteArg *args, size_t n_args,
               void *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        _cleanup_free_ void *row = NULL;
        int r;

        r = sqlite_prepare_args(db, sql, args, n_args, &s);
        if (r < 0)
                return r;
        r = sqlite_step_row(s);
        if (r < 0)
                return r;
        /* Read aside, so *ret is written only on success. */
        row = calloc(1, type->size);
        if (!row)
                return -ENOMEM;
        r = read_row(type, s, row);
        if (r < 0)
                return r;
        memcpy(ret, row, type->size);
        return 0;
}

int sqlite_list(sqlite3 *db, const SqliteRowType *type, const char *sql, const SqliteArg *args,
                size_t n_args, void *ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        char *v = NULL;
        size_t n = 0, allocated = 0;
        int r, rc;

        r = sqlite_prepare_args(db, sql, args, n_args, &s);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                r = greedy_realloc((void **) &v, &allocated, n + 1, type->size);
                if (r < 0)
                        goto fail;
                memset(v + n * type->size, 0, type->size);
                r = read_row(type, s, v + n * type->size);
                if (r < 0)
                        goto fail;
                n++;
        }
        if (rc != SQLITE_DONE) {
                r = sqlite_to_errno(rc) ?: -EIO;
                goto fail;
        }
        memcpy(ret, &v, sizeof v);
        *ret_n = n;
        return 0;
fail:
        sqlite_rows_free(type, v, n);
        return r;
}

const SqliteRowType sqlite_text_row = {
        .size = sizeof(char *),
        .fields =
                (const SqliteField[]) { { .type = SQLITE_FIELD_TEXT, .offset = 0, .size = sizeof(char *) } },
        .n_fields = 1,
};

const SqliteRowType sqlite_int64_row = {
        .size = sizeof(int64_t),
        .fields =
                (const SqliteField[]) {
                        { .type = SQLITE_FIELD_INT64, .offset = 0, .size = sizeof(int64_t) } },
        .n_fields = 1,
};

int sqlite_list_parsed(sqlite3 *db, const char *sql, const SqliteArg *args, size_t n_args,
                       int (*parse)(const char *text, void *ret), size_t size, void *ret, size_t *ret_n) {
        char **text = NULL, *v = NULL;
        size_t n_text = 0, n = 0;
        int r;

        r = sqlite_list(db, &sqlite_text_row, sql, args, n_args, &text, &n_text);
        if (r < 0)
                return r;
        if (n_text > 0)
                v = calloc(n_text, size);
        for (size_t i = 0; v && i < n_text; i++)
                if (text[i] && parse(text[i], v + n * size) >= 0)
                        n++;
        strv_free_n(text, n_text);
        if (n_text > 0 && !v)
                return -ENOMEM;
        memcpy(ret, &v, sizeof v);
        *ret_n = n;
        return 0;
}

int sqlite_get_int64(sqlite3 *db, const char *sql, const SqliteArg *args, size_t n_args, int64_t *ret) {
        int r = sqlite_get(db, &sqlite_int64_row, sql, args, n_args, ret);
        return r == -ENOENT ? -EIO : r;
}

int sqlite_count(sqlite3 *db, const char *sql, const SqliteArg *args, size_t n_args, unsigned *ret) {
        int64_t v;
        int r;

        r = sqlite_get_int64(db, sql, args, n_args, &v);
        if (r < 0)
                return r;
        *ret = (unsigned) v;
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

int sqlite_list_strv(sqlite3 *db, const char *sql, const SqliteArg *args, size_t n_args, char ***ret) {
        char **rows = NULL, **v;
        size_t n = 0;
        int r;

        r = sqlite_list(db, &sqlite_text_row, sql, args, n_args, &rows, &n);
        if (r < 0)
                return r;
        v = realloc(rows, (n + 1) * sizeof *v);
        if (!v) {
                sqlite_rows_free(&sqlite_text_row, rows, n);
                return -ENOMEM;
        }
        v[n] = NULL;
        *ret = v;
        return 0;
}
