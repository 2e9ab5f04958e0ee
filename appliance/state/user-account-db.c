/* users rows.  The role is checked by the table (CHECK), so a row read back always has a known one; the
 * password hash is read by model_user_password_hash() alone, never with the row. */
#include "user-account-db.h"

#include <errno.h>
#include <stdlib.h>

#include "sqlite-util.h"
#include "string-util.h"

#define SELECT_USER                                                                                \
        "SELECT u.id, u.name, u.role, u.created_at,"                                               \
        " (SELECT count(*) FROM api_tokens t WHERE t.user_id = u.id), u.password_hash IS NOT NULL" \
        " FROM users u"

static const SqliteField user_fields[] = {
        SQL_FIELD(ModelUser, id),         SQL_FIELD(ModelUser, name),   SQL_FIELD(ModelUser, role),
        SQL_FIELD(ModelUser, created_at), SQL_FIELD(ModelUser, tokens), SQL_FIELD(ModelUser, has_password),
};
static const SqliteRowType user_row = SQL_ROW_TYPE(ModelUser, user_fields);
SQL_DEFINE_ROW_FUNCS(ModelUser, user_row, model_user_done, model_users_free);

int model_user_get(sqlite3 *db, const char *name, ModelUser *ret) {
        return sqlite_get(db, &user_row, SELECT_USER " WHERE u.name = ?1", SQL_ARGS(SQL_TEXT(name)), ret);
}

int model_user_list(sqlite3 *db, ModelUser **ret, size_t *ret_n) {
        return sqlite_list(db, &user_row, SELECT_USER " ORDER BY u.name", SQL_NO_ARGS, ret, ret_n);
}

int model_user_create(sqlite3 *db, const char *name, const char *role, const char *password_hash,
                      ModelUser *ret) {
        int r;

        r = sqlite_run(db,
                       "INSERT INTO users(name, role, created_at, password_hash) VALUES (?1, ?2, ?3, ?4)",
                       SQL_ARGS(SQL_TEXT(name), SQL_TEXT(role), SQL_INT(sqlite_now_sec()),
                                SQL_TEXT(password_hash)));
        if (r == -EEXIST) {
                /* UNIQUE (name) and CHECK (role) both end as a constraint failure */
                ModelUser u = {};

                if (model_user_get(db, name, &u) == -ENOENT)
                        return -EINVAL;
                model_user_done(&u);
                return -EEXIST;
        }
        if (r < 0)
                return r;
        return ret ? model_user_get(db, name, ret) : 0;
}

int model_user_delete(sqlite3 *db, const char *name, ModelUser *ret) {
        _cleanup_(model_user_done) ModelUser u = {};
        unsigned admins = 0;
        int r;

        r = sqlite_begin(db);
        if (r < 0)
                return r;
        r = model_user_get(db, name, &u);
        if (r >= 0)
                r = sqlite_count(db, "SELECT count(*) FROM users WHERE role = 'admin'", SQL_NO_ARGS,
                                 &admins);
        if (r >= 0 && streq(u.role, "admin") && admins <= 1)
                r = -EBUSY;
        /* api_tokens and sessions go with it (ON DELETE CASCADE) */
        if (r >= 0)
                r = sqlite_run_one(db, "DELETE FROM users WHERE id = ?1", SQL_ARGS(SQL_INT(u.id)));
        r = sqlite_end(db, r);
        if (r < 0)
                return r;
        if (ret)
                *ret = TAKE_STRUCT(u);
        return 0;
}

int model_user_set_password(sqlite3 *db, const char *name, const char *password_hash) {
        return sqlite_run_one(db, "UPDATE users SET password_hash = ?2 WHERE name = ?1",
                              SQL_ARGS(SQL_TEXT(name), SQL_TEXT(password_hash)));
}

int model_user_password_hash(sqlite3 *db, const char *name, ModelUser *ret_user, char **ret) {
        _cleanup_(model_user_done) ModelUser u = {};
        _cleanup_free_ char *hash = NULL;
        int r;

        r = model_user_get(db, name, &u);
        if (r < 0)
                return r;
        r = sqlite_get(db, &sqlite_text_row, "SELECT password_hash FROM users WHERE id = ?1",
                       SQL_ARGS(SQL_INT(u.id)), &hash);
        if (r < 0)
                return r;
        if (!hash)
                return -ENOKEY;
        *ret = TAKE_PTR(hash);
        if (ret_user)
                *ret_user = TAKE_STRUCT(u);
        return 0;
}
