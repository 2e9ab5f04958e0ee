/* releases.bake: one JSON object per release, written whole by the deployer and searched by its "state"
 * (sqlite's json_extract), so a restarted daemon finds the windows a stop left open. */
#include "release-bake-db.h"

#include "release-db.h"
#include "sqlite-util.h"

int model_release_set_bake(sqlite3 *db, int64_t release_id, const char *json) {
        return sqlite_run_one(db, "UPDATE releases SET bake = ?2 WHERE id = ?1",
                              SQL_ARGS(SQL_INT(release_id), SQL_TEXT(json)));
}

int model_release_list_baking(sqlite3 *db, int64_t **ret_ids, size_t *ret_n) {
        return sqlite_list(db, &sqlite_int64_row,
                           "SELECT id FROM releases WHERE json_valid(bake)"
                           " AND json_extract(bake, '$.state') = '" MODEL_BAKE_BAKING "' ORDER BY id",
                           SQL_NO_ARGS, ret_ids, ret_n);
}
