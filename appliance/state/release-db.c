/* Releases in slipway.db: an image digest and spec for one (component, environment) moving through
 * pending → deploying → live | failed → superseded; finished_at is set once, when it first finishes. */
#include "release-db.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "instance-db.h"
#include "macro.h"
#include "sqlite-util.h"

#define SELECT_RELEASE                                                                                       \
        "SELECT r.id, r.component_id, r.environment_id, e.name, r.image_digest, r.spec, r.status, r.reason," \
        " r.created_at, r.finished_at, r.origin, r.source_release_id, r.bake"                                \
        " FROM releases r JOIN environments e ON e.id = r.environment_id"

static const SqliteField release_fields[] = {
        SQL_FIELD(ModelRelease, id),
        SQL_FIELD(ModelRelease, component_id),
        SQL_FIELD(ModelRelease, environment_id),
        SQL_FIELD(ModelRelease, environment_name),
        SQL_FIELD(ModelRelease, image_digest),
        SQL_FIELD(ModelRelease, spec),
        SQL_FIELD(ModelRelease, status),
        SQL_FIELD(ModelRelease, reason),
        SQL_FIELD(ModelRelease, created_at),
        SQL_FIELD(ModelRelease, finished_at),
        SQL_FIELD(ModelRelease, origin),
        SQL_FIELD(ModelRelease, source_release_id),
        SQL_FIELD(ModelRelease, bake),
};
static const SqliteRowType release_row = SQL_ROW_TYPE(ModelRelease, release_fields);
SQL_DEFINE_ROW_FUNCS(ModelRelease, release_row, model_release_done, model_releases_free);

int model_release_create(sqlite3 *db, int64_t component_id, int64_t environment_id, const char *image_digest,
                         const char *spec_json, int64_t *ret_id) {
        return model_release_create_from(db, component_id, environment_id, image_digest, spec_json,
                                         MODEL_RELEASE_ORIGIN_DEPLOY, 0, ret_id);
}

int model_release_create_from(sqlite3 *db, int64_t component_id, int64_t environment_id,
                              const char *image_digest, const char *spec_json, const char *origin,
                              int64_t source_release_id, int64_t *ret_id) {
        int r = sqlite_run(db,
                           "INSERT INTO releases(component_id, environment_id, image_digest, spec, status,"
                           "                     created_at, origin, source_release_id)"
                           " VALUES (?1, ?2, ?3, ?4, '" MODEL_RELEASE_PENDING "', ?5, ?6, nullif(?7, 0))",
                           SQL_ARGS(SQL_INT(component_id), SQL_INT(environment_id), SQL_TEXT(image_digest),
                                    SQL_TEXT(spec_json), SQL_INT(sqlite_now_sec()), SQL_TEXT(origin),
                                    SQL_INT(source_release_id)));
        if (r < 0)
                return r; /* -ENOENT: a foreign key failed */
        if (ret_id)
                *ret_id = sqlite3_last_insert_rowid(db);
        return 0;
}

int model_release_get(sqlite3 *db, int64_t id, ModelRelease *ret) {
        return sqlite_get(db, &release_row, SELECT_RELEASE " WHERE r.id = ?1", SQL_ARGS(SQL_INT(id)), ret);
}

int model_release_set_status(sqlite3 *db, int64_t id, const char *status, const char *reason) {
        bool finished = streq(status, MODEL_RELEASE_LIVE) || streq(status, MODEL_RELEASE_FAILED) ||
                        streq(status, MODEL_RELEASE_SUPERSEDED) || streq(status, MODEL_RELEASE_ROLLED_BACK);

        return sqlite_run_one(db,
                              "UPDATE releases SET status = ?2, reason = ?3,"
                              " finished_at = CASE WHEN ?4 THEN coalesce(finished_at, ?5) ELSE NULL END"
                              " WHERE id = ?1",
                              SQL_ARGS(SQL_INT(id), SQL_TEXT(status), SQL_TEXT(reason), SQL_INT(finished),
                                       SQL_INT(sqlite_now_sec())));
}

int model_release_list(sqlite3 *db, int64_t component_id, int64_t environment_id, ModelRelease **ret,
                       size_t *ret_n) {
        return sqlite_list(db, &release_row,
                           SELECT_RELEASE " WHERE r.component_id = ?1 AND (?2 = 0 OR r.environment_id = ?2)"
                                          " ORDER BY r.id DESC",
                           SQL_ARGS(SQL_INT(component_id), SQL_INT(environment_id)), ret, ret_n);
}

int model_release_list_by_status(sqlite3 *db, const char *status, ModelRelease **ret, size_t *ret_n) {
        return sqlite_list(db, &release_row, SELECT_RELEASE " WHERE r.status = ?1 ORDER BY r.id",
                           SQL_ARGS(SQL_TEXT(status)), ret, ret_n);
}

int model_release_get_live(sqlite3 *db, int64_t component_id, int64_t environment_id, ModelRelease *ret) {
        return sqlite_get(db, &release_row,
                          SELECT_RELEASE " WHERE r.component_id = ?1 AND r.environment_id = ?2"
                                         " AND r.status = '" MODEL_RELEASE_LIVE
                                         "' ORDER BY r.id DESC LIMIT 1",
                          SQL_ARGS(SQL_INT(component_id), SQL_INT(environment_id)), ret);
}

int model_release_supersede_live(sqlite3 *db, int64_t component_id, int64_t environment_id) {
        int r = sqlite_run(
                db,
                "UPDATE releases SET status = '" MODEL_RELEASE_SUPERSEDED "',"
                " finished_at = coalesce(finished_at, ?3)"
                " WHERE component_id = ?1 AND environment_id = ?2"
                " AND status = '" MODEL_RELEASE_LIVE "'",
                SQL_ARGS(SQL_INT(component_id), SQL_INT(environment_id), SQL_INT(sqlite_now_sec())));
        return r < 0 ? r : 0;
}

int model_release_fail_all(sqlite3 *db, const char *status, const char *reason) {
        int r = sqlite_run(db,
                           "UPDATE releases SET status = '" MODEL_RELEASE_FAILED "', reason = ?2,"
                           " finished_at = coalesce(finished_at, ?3) WHERE status = ?1",
                           SQL_ARGS(SQL_TEXT(status), SQL_TEXT(reason), SQL_INT(sqlite_now_sec())));
        return r < 0 ? r : 0;
}

int model_release_get_previous_live(sqlite3 *db, int64_t component_id, int64_t environment_id,
                                    int64_t before_id, ModelRelease *ret) {
        return sqlite_get(db, &release_row,
                          SELECT_RELEASE " WHERE r.component_id = ?1 AND r.environment_id = ?2 AND r.id < ?3"
                                         " AND r.status = '" MODEL_RELEASE_SUPERSEDED
                                         "' ORDER BY r.id DESC LIMIT 1",
                          SQL_ARGS(SQL_INT(component_id), SQL_INT(environment_id), SQL_INT(before_id)), ret);
}

/* The releases of ?1/?2 beyond the newest ?3 that nothing still needs. */
#define PRUNABLE_RELEASES_SQL                                                                                 \
        "SELECT r.id FROM releases r WHERE r.component_id = ?1 AND r.environment_id = ?2"                     \
        " AND r.id NOT IN (SELECT id FROM releases WHERE component_id = ?1 AND environment_id = ?2"           \
        "                  ORDER BY id DESC LIMIT ?3)"                                                        \
        " AND r.status NOT IN ('" MODEL_RELEASE_LIVE "', '" MODEL_RELEASE_PENDING                             \
        "', '" MODEL_RELEASE_DEPLOYING "')"                                                                   \
        " AND NOT EXISTS (SELECT 1 FROM instances i WHERE i.release_id = r.id AND " MODEL_ACTIVE_INSTANCE_SQL \
        ")"

int model_release_prune(sqlite3 *db, int64_t component_id, int64_t environment_id, unsigned keep,
                        char ***ret_dirs, size_t *ret_n_dirs) {
        char **dirs = NULL;
        size_t n_dirs = 0;
        int r;

        assert(keep > 0);
        if (ret_dirs) {
                r = sqlite_list(db, &sqlite_text_row,
                                "SELECT dir FROM instances WHERE release_id IN (" PRUNABLE_RELEASES_SQL ")",
                                SQL_ARGS(SQL_INT(component_id), SQL_INT(environment_id), SQL_INT(keep)),
                                &dirs, &n_dirs);
                if (r < 0)
                        return r;
        }
        r = sqlite_run(db, "DELETE FROM releases WHERE id IN (" PRUNABLE_RELEASES_SQL ")",
                       SQL_ARGS(SQL_INT(component_id), SQL_INT(environment_id), SQL_INT(keep)));
        if (r < 0) {
                sqlite_rows_free(&sqlite_text_row, dirs, n_dirs);
                return r;
        }
        if (ret_dirs) {
                *ret_dirs = dirs;
                *ret_n_dirs = n_dirs;
        }
        return r;
}
