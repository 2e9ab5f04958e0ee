/* config_values rows: versioned writes per slot, tombstones for unsets, ciphertext as BLOBs.  "Current"
 * always means the newest version of a (slot, key) when that version is not a tombstone. */
#include "config-value-db.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "sqlite-util.h"

/* Columns 0..12 are read by the field table, 13 and 14 (the BLOBs) by config_value_complete(). */
#define SELECT_CONFIG_VALUE                                                                         \
        "SELECT c.id, c.project_id, c.environment_id, ifnull(c.component_id, 0), c.key, c.version," \
        " c.kind = '" MODEL_CONFIG_KIND_FILE "', c.file_path, c.secret, c.deleted, c.size,"         \
        " ifnull(c.key_version, 0), c.set_at, c.nonce, c.ciphertext"
#define COL_NONCE 13
#define COL_CIPHERTEXT 14

/* c is the newest version of its (slot, key). */
#define NEWEST_OF_SLOT                                                                                      \
        "c.version = (SELECT max(m.version) FROM config_values m WHERE m.environment_id = c.environment_id" \
        " AND ifnull(m.component_id, 0) = ifnull(c.component_id, 0) AND m.key = c.key)"

static int config_value_complete(sqlite3_stmt *s, void *row) {
        ModelConfigValue *v = row;
        int r;

        r = sqlite_column_blob_dup(s, COL_NONCE, &v->nonce, &v->nonce_size);
        if (r < 0)
                return r;
        return sqlite_column_blob_dup(s, COL_CIPHERTEXT, &v->ciphertext, &v->ciphertext_size);
}

static void config_value_release(void *row) {
        ModelConfigValue *v = row;

        free(v->nonce);
        free(v->ciphertext);
}

static const SqliteField config_value_fields[] = {
        SQL_FIELD(ModelConfigValue, id),
        SQL_FIELD(ModelConfigValue, project_id),
        SQL_FIELD(ModelConfigValue, environment_id),
        SQL_FIELD(ModelConfigValue, component_id),
        SQL_FIELD(ModelConfigValue, key),
        SQL_FIELD(ModelConfigValue, version),
        SQL_FIELD(ModelConfigValue, is_file),
        SQL_FIELD(ModelConfigValue, file_path),
        SQL_FIELD(ModelConfigValue, secret),
        SQL_FIELD(ModelConfigValue, deleted),
        SQL_FIELD(ModelConfigValue, size),
        SQL_FIELD(ModelConfigValue, key_version),
        SQL_FIELD(ModelConfigValue, set_at),
};
static const SqliteRowType config_value_row =
        SQL_ROW_TYPE(ModelConfigValue, config_value_fields, .complete = config_value_complete,
                     .release = config_value_release);
SQL_DEFINE_ROW_FUNCS(ModelConfigValue, config_value_row, model_config_value_done, model_config_values_free);

int model_config_effective(sqlite3 *db, int64_t environment_id, int64_t component_id, ModelConfigValue **ret,
                           size_t *ret_n) {
        /* A component's unset (its slot's tombstone) lets the project-wide value show through again. */
        return sqlite_list(
                db, &config_value_row,
                "WITH cur AS (SELECT * FROM config_values c WHERE c.environment_id = ?1"
                "   AND ifnull(c.component_id, 0) IN (0, ?2) AND c.deleted = 0 AND " NEWEST_OF_SLOT ")"
                " " SELECT_CONFIG_VALUE " FROM cur c"
                " WHERE ifnull(c.component_id, 0) = ?2"
                "    OR NOT EXISTS (SELECT 1 FROM cur o WHERE o.key = c.key"
                "                   AND ifnull(o.component_id, 0) = ?2)"
                " ORDER BY c.key",
                SQL_ARGS(SQL_INT(environment_id), SQL_INT(component_id)), ret, ret_n);
}

int model_config_value_get(sqlite3 *db, int64_t id, ModelConfigValue *ret) {
        return sqlite_get(db, &config_value_row, SELECT_CONFIG_VALUE " FROM config_values c WHERE c.id = ?1",
                          SQL_ARGS(SQL_INT(id)), ret);
}

int model_config_slot_list(sqlite3 *db, int64_t environment_id, int64_t component_id, ModelConfigValue **ret,
                           size_t *ret_n) {
        return sqlite_list(db, &config_value_row,
                           SELECT_CONFIG_VALUE " FROM config_values c WHERE c.environment_id = ?1"
                                               " AND ifnull(c.component_id, 0) = ?2 AND c.deleted = 0"
                                               " AND " NEWEST_OF_SLOT " ORDER BY c.key",
                           SQL_ARGS(SQL_INT(environment_id), SQL_INT(component_id)), ret, ret_n);
}

int model_config_slot_get(sqlite3 *db, int64_t environment_id, int64_t component_id, const char *key,
                          ModelConfigValue *ret) {
        return sqlite_get(db, &config_value_row,
                          SELECT_CONFIG_VALUE " FROM config_values c WHERE c.environment_id = ?1"
                                              " AND ifnull(c.component_id, 0) = ?2 AND c.key = ?3"
                                              " ORDER BY c.version DESC LIMIT 1",
                          SQL_ARGS(SQL_INT(environment_id), SQL_INT(component_id), SQL_TEXT(key)), ret);
}

int model_config_next_version(sqlite3 *db, int64_t environment_id, int64_t component_id, const char *key,
                              int64_t *ret) {
        return sqlite_get_int64(
                db,
                "SELECT ifnull(max(version), 0) + 1 FROM config_values WHERE environment_id = ?1"
                " AND ifnull(component_id, 0) = ?2 AND key = ?3",
                SQL_ARGS(SQL_INT(environment_id), SQL_INT(component_id), SQL_TEXT(key)), ret);
}

int model_config_env_total_size(sqlite3 *db, int64_t environment_id, uint64_t *ret) {
        int64_t total;
        int r;

        r = sqlite_get_int64(db,
                             "SELECT ifnull(sum(c.size), 0) FROM config_values c WHERE c.environment_id = ?1"
                             " AND c.deleted = 0 AND " NEWEST_OF_SLOT,
                             SQL_ARGS(SQL_INT(environment_id)), &total);
        if (r < 0)
                return r;
        *ret = total < 0 ? 0 : (uint64_t) total;
        return 0;
}

int model_config_value_insert(sqlite3 *db, const ModelConfigValue *v, int64_t *ret_id) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        r = sqlite_prepare_args(
                db,
                "INSERT INTO config_values(project_id, environment_id, component_id, key, version, kind,"
                "                          file_path, secret, deleted, size, key_version, set_at, nonce,"
                "                          ciphertext)"
                " VALUES (?1, ?2, nullif(?3, 0), ?4, ?5, ?6, ?7, ?8, ?9, ?10, nullif(?11, 0), ?12, ?13, ?14)",
                SQL_ARGS(SQL_INT(v->project_id), SQL_INT(v->environment_id), SQL_INT(v->component_id),
                         SQL_TEXT(v->key), SQL_INT(v->version),
                         SQL_TEXT(v->is_file ? MODEL_CONFIG_KIND_FILE : MODEL_CONFIG_KIND_ENV),
                         SQL_TEXT(v->is_file ? v->file_path : NULL), SQL_INT(v->secret), SQL_INT(v->deleted),
                         SQL_INT((int64_t) v->size), SQL_INT(v->key_version), SQL_INT(sqlite_now_sec())),
                &s);
        if (r < 0)
                return r;
        r = sqlite_bind_blob(s, 13, v->nonce, v->nonce_size);
        if (r >= 0)
                r = sqlite_bind_blob(s, 14, v->ciphertext, v->ciphertext_size);
        if (r >= 0)
                r = sqlite_step_done(s);
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = sqlite3_last_insert_rowid(db);
        return 0;
}

int model_config_values_by_key_version(sqlite3 *db, int64_t key_version, ModelConfigValue **ret,
                                       size_t *ret_n) {
        return sqlite_list(db, &config_value_row,
                           SELECT_CONFIG_VALUE
                           " FROM config_values c WHERE c.key_version = ?1 ORDER BY c.id",
                           SQL_ARGS(SQL_INT(key_version)), ret, ret_n);
}

int model_config_count_by_key_version(sqlite3 *db, int64_t key_version, unsigned *ret) {
        return sqlite_count(db, "SELECT count(*) FROM config_values WHERE key_version = ?1",
                            SQL_ARGS(SQL_INT(key_version)), ret);
}

int model_config_value_rewrap(sqlite3 *db, int64_t id, int64_t key_version, const uint8_t *nonce,
                              size_t nonce_size, const uint8_t *ciphertext, size_t ciphertext_size) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        r = sqlite_prepare_args(db,
                                "UPDATE config_values SET key_version = ?2, nonce = ?3, ciphertext = ?4"
                                " WHERE id = ?1",
                                SQL_ARGS(SQL_INT(id), SQL_INT(key_version)), &s);
        if (r < 0)
                return r;
        r = sqlite_bind_blob(s, 3, nonce, nonce_size);
        if (r >= 0)
                r = sqlite_bind_blob(s, 4, ciphertext, ciphertext_size);
        if (r >= 0)
                r = sqlite_step_done(s);
        if (r < 0)
                return r;
        return sqlite3_changes(db) > 0 ? 0 : -ENOENT;
}

int model_config_values_of_release(sqlite3 *db, int64_t release_id, ModelConfigValue **ret, size_t *ret_n) {
        return sqlite_list(db, &config_value_row,
                           SELECT_CONFIG_VALUE
                           " FROM config_values c JOIN release_values rv ON rv.value_id = c.id"
                           " WHERE rv.release_id = ?1"
                           " ORDER BY c.key, ifnull(c.component_id, 0)",
                           SQL_ARGS(SQL_INT(release_id)), ret, ret_n);
}
