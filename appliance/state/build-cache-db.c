/* Build cache rows in slipway.db.  Each function is one statement; the caller serialises use of its
 * connection (the catalog's db_lock). */
#include "build-cache-db.h"

#include <errno.h>
#include <stdlib.h>

#include "sqlite-util.h"

static const SqliteField build_cache_fields[] = {
        SQL_FIELD(BuildCacheRow, key),
        SQL_FIELD(BuildCacheRow, state),
};
static const SqliteRowType build_cache_row = SQL_ROW_TYPE(BuildCacheRow, build_cache_fields);
SQL_DEFINE_ARRAY_FREE_FUNC(BuildCacheRow, build_cache_row, build_cache_rows_free);

int build_cache_db_get(sqlite3 *db, const char *key, char **ret_state) {
        char *state = NULL;
        int r;

        r = sqlite_get(db, &sqlite_text_row, "SELECT state FROM build_cache WHERE key = ?1",
                       SQL_ARGS(SQL_TEXT(key)), &state);
        if (r < 0)
                return r;
        if (!state)
                return -EBADMSG;
        *ret_state = state;
        return 0;
}

int build_cache_db_put(sqlite3 *db, const char *key, const char *state, const char *layer_digest) {
        int r = sqlite_run(
                db,
                "INSERT OR REPLACE INTO build_cache(key, state, layer_digest, created)"
                " VALUES (?1, ?2, ?3, ?4)",
                SQL_ARGS(SQL_TEXT(key), SQL_TEXT(state), SQL_TEXT(layer_digest), SQL_INT(sqlite_now_sec())));
        return r < 0 ? r : 0;
}

int build_cache_db_delete(sqlite3 *db, const char *key) {
        int r = sqlite_run(db, "DELETE FROM build_cache WHERE key = ?1", SQL_ARGS(SQL_TEXT(key)));
        return r < 0 ? r : 0;
}

int build_cache_db_list(sqlite3 *db, BuildCacheRow **ret, size_t *ret_n) {
        return sqlite_list(db, &build_cache_row, "SELECT key, state FROM build_cache ORDER BY key",
                           SQL_NO_ARGS, ret, ret_n);
}

int build_cache_db_count(sqlite3 *db, unsigned *ret) {
        return sqlite_count(db, "SELECT count(*) FROM build_cache", SQL_NO_ARGS, ret);
}
