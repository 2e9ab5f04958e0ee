/* sessions rows, read with their owner's name and role.  A row read back with a hash of another size is
 * refused as damaged (-EBADMSG). */
#include "session-db.h"

#include <errno.h>
#include <string.h>

#include "sqlite-util.h"

#define SELECT_SESSION                                                                        \
        "SELECT s.id, s.user_id, u.name, u.role, s.csrf_token, s.created_at, s.last_seen_at," \
        " s.expires_at, s.hash FROM sessions s JOIN users u ON u.id = s.user_id"
#define SESSION_OPEN "s.expires_at > ?1 AND s.last_seen_at > ?1 - ?2"

/* Column 8, the hash. */
static int session_complete(sqlite3_stmt *s, void *row) {
        return sqlite_column_blob_exact(s, 8, ((ModelSession *) row)->hash, MODEL_SESSION_HASH_SIZE);
}

static const SqliteField session_fields[] = {
        SQL_FIELD(ModelSession, id),           SQL_FIELD(ModelSession, user_id),
        SQL_FIELD(ModelSession, user_name),    SQL_FIELD(ModelSession, user_role),
        SQL_FIELD(ModelSession, csrf_token),   SQL_FIELD(ModelSession, created_at),
        SQL_FIELD(ModelSession, last_seen_at), SQL_FIELD(ModelSession, expires_at),
};
static const SqliteRowType session_row =
        SQL_ROW_TYPE(ModelSession, session_fields, .complete = session_complete);
SQL_DEFINE_ROW_FUNCS(ModelSession, session_row, model_session_done, model_sessions_free);

int model_session_create(sqlite3 *db, int64_t user_id, const uint8_t hash[MODEL_SESSION_HASH_SIZE],
                         const char *csrf_token, int64_t expires_at, ModelSession *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int64_t now = sqlite_now_sec(), id;
        int r;

        r = sqlite_prepare_args(db,
                                "INSERT INTO sessions(user_id, hash, csrf_token, created_at, last_seen_at,"
                                " expires_at) VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
                                SQL_ARGS(SQL_INT(user_id), SQL_INT(0), SQL_TEXT(csrf_token), SQL_INT(now),
                                         SQL_INT(expires_at)),
                                &s);
        if (r < 0)
                return r;
        r = sqlite_bind_blob(s, 2, hash, MODEL_SESSION_HASH_SIZE);
        if (r >= 0)
                r = sqlite_step_done(s);
        if (r < 0)
                return r;
        id = sqlite3_last_insert_rowid(db);
        if (!ret)
                return 0;
        return sqlite_get(db, &session_row, SELECT_SESSION " WHERE s.id = ?1", SQL_ARGS(SQL_INT(id)), ret);
}

int model_session_list_open(sqlite3 *db, int64_t now, int64_t idle_sec, ModelSession **ret, size_t *ret_n) {
        return sqlite_list(db, &session_row, SELECT_SESSION " WHERE " SESSION_OPEN " ORDER BY s.id",
                           SQL_ARGS(SQL_INT(now), SQL_INT(idle_sec)), ret, ret_n);
}

int model_session_delete(sqlite3 *db, int64_t id) {
        return sqlite_run_one(db, "DELETE FROM sessions WHERE id = ?1", SQL_ARGS(SQL_INT(id)));
}

int model_session_delete_ended(sqlite3 *db, int64_t now, int64_t idle_sec) {
        return sqlite_run(db, "DELETE FROM sessions WHERE NOT (expires_at > ?1 AND last_seen_at > ?1 - ?2)",
                          SQL_ARGS(SQL_INT(now), SQL_INT(idle_sec)));
}

int model_session_delete_user(sqlite3 *db, int64_t user_id, int64_t keep_id) {
        return sqlite_run(db, "DELETE FROM sessions WHERE user_id = ?1 AND id != ?2",
                          SQL_ARGS(SQL_INT(user_id), SQL_INT(keep_id)));
}

int model_session_touch(sqlite3 *db, int64_t id, int64_t when) {
        return sqlite_run_one(db, "UPDATE sessions SET last_seen_at = max(last_seen_at, ?2) WHERE id = ?1",
                              SQL_ARGS(SQL_INT(id), SQL_INT(when)));
}
