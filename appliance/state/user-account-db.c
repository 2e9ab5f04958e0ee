/* users rows.  The role is checked by the table (CHECK), so a row read back always has a known one. */
#include "user-account-db.h"

#include "sqlite-util.h"

#define SELECT_USER "SELECT u.id, u.name, u.role, u.created_at FROM users u"

static const SqliteField user_fields[] = {
        SQL_FIELD(ModelUser, id),
        SQL_FIELD(ModelUser, name),
        SQL_FIELD(ModelUser, role),
        SQL_FIELD(ModelUser, created_at),
};
static const SqliteRowType user_row = SQL_ROW_TYPE(ModelUser, user_fields);
SQL_DEFINE_ROW_FUNCS(ModelUser, user_row, model_user_done, model_users_free);

int model_user_get(sqlite3 *db, const char *name, ModelUser *ret) {
        return sqlite_get(db, &user_row, SELECT_USER " WHERE u.name = ?1", SQL_ARGS(SQL_TEXT(name)), ret);
}

int model_user_list(sqlite3 *db, ModelUser **ret, size_t *ret_n) {
        return sqlite_list(db, &user_row, SELECT_USER " ORDER BY u.name", SQL_NO_ARGS, ret, ret_n);
}
