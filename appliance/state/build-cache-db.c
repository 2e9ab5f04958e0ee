/* Build cache rows in slipway.db.  Each function is one statement; the caller serialises use of its
 * connection (the catalog's db_lock). */
#include "build-cache-db.h"

#include <errno.h>
#include <stdlib.h>

#include "sqlite-util.h"

void build_cache_rows_free(BuildCacheRow *v, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(v[i].key);
                free(v[i].state);
        }
        free(v);
}

int build_cache_db_get(sqlite3 *db, const char *key, char **ret_state) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r, rc;

        r = sqlite_prepare(db, "SELECT state FROM build_cache WHERE key = ?1", &s);
        if (r < 0)
                return r;
        sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
        rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return sqlite_to_errno(rc) ?: -EIO;
        if (sqlite3_column_type(s, 0) == SQLITE_NULL)
                return -EBADMSG;
        return sqlite_column_strdup(s, 0, ret_state);
}

int build_cache_db_put(sqlite3 *db, const char *key, const char *state, const char *layer_digest) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        r = sqlite_prepare(db,
                           "INSERT OR REPLACE INTO build_cache(key, state, layer_digest, created)"
                           " VALUES (?1, ?2, ?3, ?4)",
                           &s);
        if (r < 0)
                return r;
        sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, state, -1, SQLITE_STATIC);
        sqlite_bind_text_or_null(s, 3, layer_digest);
        sqlite3_bind_int64(s, 4, sqlite_now_sec());
        return sqlite_step_done(s);
}

int build_cache_db_delete(sqlite3 *db, const char *key) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        r = sqlite_prepare(db, "DELETE FROM build_cache WHERE key = ?1", &s);
        if (r < 0)
                return r;
        sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
        return sqlite_step_done(s);
}

static int read_row(sqlite3_stmt *s, void *userdata, void *ret) {
        BuildCacheRow row = {};
        int r;

        (void) userdata;
        if ((r = sqlite_column_strdup(s, 0, &row.key)) < 0 ||
            (r = sqlite_column_strdup(s, 1, &row.state)) < 0) {
                free(row.key);
                return r;
        }
        *(BuildCacheRow *) ret = row;
        return 0;
}

static void done_row(void *p) {
        BuildCacheRow *row = p;
        free(row->key);
        free(row->state);
}

int build_cache_db_list(sqlite3 *db, BuildCacheRow **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        r = sqlite_prepare(db, "SELECT key, state FROM build_cache ORDER BY key", &s);
        if (r < 0)
                return r;
        return sqlite_query_all(s, read_row, done_row, NULL, sizeof(BuildCacheRow), (void **) ret, ret_n);
}

int build_cache_db_count(sqlite3 *db, unsigned *ret) {
        return sqlite_count(db, "SELECT count(*) FROM build_cache", 0, ret);
}
