/* release_values in slipway.db: which config_values rows each release was made with, and the pruning of
 * value versions nothing needs any more (not the newest of their slot, pinned by no release). */
#include "release-values-db.h"

#include <errno.h>

#include "sqlite-util.h"

static const SqliteField release_value_fields[] = {
        SQL_FIELD(ModelReleaseValue, value_id),  SQL_FIELD(ModelReleaseValue, component_id),
        SQL_FIELD(ModelReleaseValue, key),       SQL_FIELD(ModelReleaseValue, version),
        SQL_FIELD(ModelReleaseValue, secret),    SQL_FIELD(ModelReleaseValue, is_file),
        SQL_FIELD(ModelReleaseValue, file_path),
};
static const SqliteRowType release_value_row = SQL_ROW_TYPE(ModelReleaseValue, release_value_fields);
SQL_DEFINE_ROW_FUNCS(ModelReleaseValue, release_value_row, model_release_value_done,
                     model_release_values_free);

int model_release_values_pin(sqlite3 *db, int64_t release_id, const int64_t *value_ids, size_t n) {
        for (size_t i = 0; i < n; i++) {
                int r = sqlite_run(
                        db, "INSERT OR IGNORE INTO release_values(release_id, value_id) VALUES (?1, ?2)",
                        SQL_ARGS(SQL_INT(release_id), SQL_INT(value_ids[i])));
                if (r < 0)
                        return r; /* -ENOENT: a foreign key failed */
        }
        return 0;
}

int model_release_value_ids(sqlite3 *db, int64_t release_id, int64_t **ret, size_t *ret_n) {
        return sqlite_list(db, &sqlite_int64_row,
                           "SELECT value_id FROM release_values WHERE release_id = ?1 ORDER BY value_id",
                           SQL_ARGS(SQL_INT(release_id)), ret, ret_n);
}

int model_release_value_list(sqlite3 *db, int64_t release_id, ModelReleaseValue **ret, size_t *ret_n) {
        return sqlite_list(db, &release_value_row,
                           "SELECT v.id, ifnull(v.component_id, 0), v.key, v.version, v.secret,"
                           " v.kind = 'file', v.file_path"
                           " FROM release_values rv JOIN config_values v ON v.id = rv.value_id"
                           " WHERE rv.release_id = ?1 ORDER BY v.key, v.id",
                           SQL_ARGS(SQL_INT(release_id)), ret, ret_n);
}

int model_release_values_missing(sqlite3 *db, int64_t release_id, unsigned *ret) {
        return sqlite_count(db,
                            "SELECT count(*) FROM release_values rv WHERE rv.release_id = ?1"
                            " AND NOT EXISTS (SELECT 1 FROM config_values v WHERE v.id = rv.value_id)",
                            SQL_ARGS(SQL_INT(release_id)), ret);
}

int model_config_values_prune(sqlite3 *db, int64_t environment_id) {
        return sqlite_run(
                db,
                "DELETE FROM config_values WHERE environment_id = ?1"
                " AND version < (SELECT max(n.version) FROM config_values n"
                "                WHERE n.environment_id = config_values.environment_id"
                "                AND ifnull(n.component_id, 0) = ifnull(config_values.component_id, 0)"
                "                AND n.key = config_values.key)"
                " AND NOT EXISTS (SELECT 1 FROM release_values rv WHERE rv.value_id = config_values.id)",
                SQL_ARGS(SQL_INT(environment_id)));
}
