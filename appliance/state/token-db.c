/* api_tokens rows, read with their owner's name and role.  The hash column is the only copy of what a
 * token is; a row read back with a hash of another size is refused as damaged (-EBADMSG). */
#include "token-db.h"

#include <errno.h>
#include <string.h>

#include "sqlite-util.h"

#define SELECT_TOKEN                                                                                 \
        "SELECT t.id, t.user_id, u.name, u.role, t.name, t.read_only, t.created_at,"                 \
        " ifnull(t.expires_at, 0), ifnull(t.last_used_at, 0), t.hash FROM api_tokens t JOIN users u" \
        " ON u.id = t.user_id"

/* Column 9, the hash. */
static int token_complete(sqlite3_stmt *s, void *row) {
        return sqlite_column_blob_exact(s, 9, ((ModelApiToken *) row)->hash, MODEL_API_TOKEN_HASH_SIZE);
}

static const SqliteField token_fields[] = {
        SQL_FIELD(ModelApiToken, id),           SQL_FIELD(ModelApiToken, user_id),
        SQL_FIELD(ModelApiToken, user_name),    SQL_FIELD(ModelApiToken, user_role),
        SQL_FIELD(ModelApiToken, name),         SQL_FIELD(ModelApiToken, read_only),
        SQL_FIELD(ModelApiToken, created_at),   SQL_FIELD(ModelApiToken, expires_at),
        SQL_FIELD(ModelApiToken, last_used_at),
};
static const SqliteRowType token_row = SQL_ROW_TYPE(ModelApiToken, token_fields, .complete = token_complete);
SQL_DEFINE_ROW_FUNCS(ModelApiToken, token_row, model_api_token_done, model_api_tokens_free);

int model_api_token_create(sqlite3 *db, int64_t user_id, const char *name,
                           const uint8_t hash[MODEL_API_TOKEN_HASH_SIZE], bool read_only, int64_t expires_at,
                           ModelApiToken *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int64_t id;
        int r;

        r = sqlite_prepare_args(
                db,
                "INSERT INTO api_tokens(user_id, name, hash, read_only, created_at, expires_at)"
                " VALUES (?1, ?2, ?3, ?4, ?5, nullif(?6, 0))",
                SQL_ARGS(SQL_INT(user_id), SQL_TEXT(name), SQL_INT(0), SQL_INT(read_only),
                         SQL_INT(sqlite_now_sec()), SQL_INT(expires_at)),
                &s);
        if (r < 0)
                return r;
        r = sqlite_bind_blob(s, 3, hash, MODEL_API_TOKEN_HASH_SIZE);
        if (r >= 0)
                r = sqlite_step_done(s);
        if (r < 0)
                return r;
        id = sqlite3_last_insert_rowid(db);
        if (!ret)
                return 0;
        return sqlite_get(db, &token_row, SELECT_TOKEN " WHERE t.id = ?1", SQL_ARGS(SQL_INT(id)), ret);
}

int model_api_token_list(sqlite3 *db, int64_t user_id, ModelApiToken **ret, size_t *ret_n) {
        return sqlite_list(db, &token_row, SELECT_TOKEN " WHERE t.user_id = ?1 ORDER BY t.name",
                           SQL_ARGS(SQL_INT(user_id)), ret, ret_n);
}

int model_api_token_list_all(sqlite3 *db, ModelApiToken **ret, size_t *ret_n) {
        return sqlite_list(db, &token_row, SELECT_TOKEN " ORDER BY t.id", SQL_NO_ARGS, ret, ret_n);
}

int model_api_token_delete(sqlite3 *db, int64_t user_id, const char *name, int64_t *ret_id) {
        int64_t id;
        int r;

        r = sqlite_get(db, &sqlite_int64_row, "SELECT id FROM api_tokens WHERE user_id = ?1 AND name = ?2",
                       SQL_ARGS(SQL_INT(user_id), SQL_TEXT(name)), &id);
        if (r < 0)
                return r;
        r = sqlite_run_one(db, "DELETE FROM api_tokens WHERE id = ?1", SQL_ARGS(SQL_INT(id)));
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = id;
        return 0;
}

int model_api_token_touch(sqlite3 *db, int64_t id, int64_t when) {
        return sqlite_run_one(db,
                              "UPDATE api_tokens SET last_used_at = max(ifnull(last_used_at, 0), ?2)"
                              " WHERE id = ?1",
                              SQL_ARGS(SQL_INT(id), SQL_INT(when)));
}
