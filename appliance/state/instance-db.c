/* Instances in slipway.db: one container of a release, its address (.100–.254, unique among the
 * environment's active instances), netns, directory, state and restart count. */
#include "instance-db.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "environment-db.h"
#include "release-db.h"
#include "sqlite-util.h"

#define SELECT_INSTANCE                                                                           \
        "SELECT i.id, i.release_id, i.address, i.netns, i.dir, i.state, i.restarts, i.created_at" \
        " FROM instances i"
/* The same joined with the instance's release, aliased r. */
#define SELECT_INSTANCE_OF_RELEASE SELECT_INSTANCE " JOIN releases r ON r.id = i.release_id"

static const SqliteField instance_fields[] = {
        SQL_FIELD(ModelInstance, id),       SQL_FIELD(ModelInstance, release_id),
        SQL_FIELD(ModelInstance, address),  SQL_FIELD(ModelInstance, netns),
        SQL_FIELD(ModelInstance, dir),      SQL_FIELD(ModelInstance, state),
        SQL_FIELD(ModelInstance, restarts), SQL_FIELD(ModelInstance, created_at),
};
static const SqliteRowType instance_row = SQL_ROW_TYPE(ModelInstance, instance_fields);
SQL_DEFINE_ROW_FUNCS(ModelInstance, instance_row, model_instance_done, model_instances_free);

int model_instance_create(sqlite3 *db, int64_t release_id, const char *address, const char *netns,
                          const char *dir, const char *state, int64_t *ret_id) {
        int r = sqlite_run(db,
                           "INSERT INTO instances(release_id, address, netns, dir, state, created_at)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                           SQL_ARGS(SQL_INT(release_id), SQL_TEXT(address), SQL_TEXT(netns), SQL_TEXT(dir),
                                    SQL_TEXT(state), SQL_INT(sqlite_now_sec())));
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = sqlite3_last_insert_rowid(db);
        return 0;
}

int model_instance_get(sqlite3 *db, int64_t id, ModelInstance *ret) {
        return sqlite_get(db, &instance_row, SELECT_INSTANCE " WHERE i.id = ?1", SQL_ARGS(SQL_INT(id)), ret);
}

int model_instance_set_state(sqlite3 *db, int64_t id, const char *state) {
        return sqlite_run_one(db, "UPDATE instances SET state = ?2 WHERE id = ?1",
                              SQL_ARGS(SQL_INT(id), SQL_TEXT(state)));
}

int model_instance_set_restarts(sqlite3 *db, int64_t id, unsigned restarts) {
        return sqlite_run_one(db, "UPDATE instances SET restarts = ?2 WHERE id = ?1",
                              SQL_ARGS(SQL_INT(id), SQL_INT(restarts)));
}

int model_instance_set_dir(sqlite3 *db, int64_t id, const char *dir) {
        return sqlite_run_one(db, "UPDATE instances SET dir = ?2 WHERE id = ?1",
                              SQL_ARGS(SQL_INT(id), SQL_TEXT(dir)));
}

int model_instance_set_paths(sqlite3 *db, int64_t id, const char *netns, const char *dir) {
        return sqlite_run_one(db, "UPDATE instances SET netns = ?2, dir = ?3 WHERE id = ?1",
                              SQL_ARGS(SQL_INT(id), SQL_TEXT(netns), SQL_TEXT(dir)));
}

int model_instance_count_restart(sqlite3 *db, int64_t id) {
        return sqlite_run_one(db, "UPDATE instances SET restarts = restarts + 1 WHERE id = ?1",
                              SQL_ARGS(SQL_INT(id)));
}

int model_instance_allocate_address(sqlite3 *db, int64_t environment_id, char **ret) {
        return model_environment_allocate_address(
                db, environment_id,
                "SELECT i.address FROM instances i"
                " JOIN releases r ON r.id = i.release_id"
                " WHERE r.environment_id = ?1 AND " MODEL_ACTIVE_INSTANCE_SQL,
                MODEL_INSTANCE_ADDRESS_FIRST, MODEL_INSTANCE_ADDRESS_LAST, ret);
}

int model_instance_get_live(sqlite3 *db, int64_t component_id, int64_t environment_id, ModelInstance *ret) {
        return sqlite_get(
                db, &instance_row,
                SELECT_INSTANCE_OF_RELEASE
                " WHERE r.component_id = ?1 AND r.environment_id = ?2 AND r.status = '" MODEL_RELEASE_LIVE
                "' ORDER BY r.id DESC, i.id DESC LIMIT 1",
                SQL_ARGS(SQL_INT(component_id), SQL_INT(environment_id)), ret);
}

int model_instance_get_newest(sqlite3 *db, int64_t component_id, int64_t environment_id,
                              ModelInstance *ret) {
        return sqlite_get(db, &instance_row,
                          SELECT_INSTANCE_OF_RELEASE " WHERE r.component_id = ?1 AND r.environment_id = ?2"
                                                     " ORDER BY i.id DESC LIMIT 1",
                          SQL_ARGS(SQL_INT(component_id), SQL_INT(environment_id)), ret);
}

int model_count_live_instances(sqlite3 *db, unsigned *ret) {
        return sqlite_count(db, "SELECT count(*) FROM instances i WHERE " MODEL_ACTIVE_INSTANCE_SQL,
                            SQL_NO_ARGS, ret);
}

int model_instance_list_by_release(sqlite3 *db, int64_t release_id, ModelInstance **ret, size_t *ret_n) {
        return sqlite_list(db, &instance_row, SELECT_INSTANCE " WHERE i.release_id = ?1 ORDER BY i.id",
                           SQL_ARGS(SQL_INT(release_id)), ret, ret_n);
}

int model_instance_list_active(sqlite3 *db, ModelInstance **ret, size_t *ret_n) {
        return sqlite_list(db, &instance_row,
                           SELECT_INSTANCE " WHERE " MODEL_ACTIVE_INSTANCE_SQL " ORDER BY i.id", SQL_NO_ARGS,
                           ret, ret_n);
}

int model_instance_list_serving(sqlite3 *db, int64_t environment_id, ModelInstance **ret, size_t *ret_n) {
        return sqlite_list(db, &instance_row,
                           SELECT_INSTANCE_OF_RELEASE " WHERE i.state = '" MODEL_INSTANCE_READY "'"
                                                      " AND r.status = '" MODEL_RELEASE_LIVE "'"
                                                      " AND (?1 = 0 OR r.environment_id = ?1) ORDER BY i.id",
                           SQL_ARGS(SQL_INT(environment_id)), ret, ret_n);
}

int model_instance_list_active_of_target(sqlite3 *db, int64_t component_id, int64_t environment_id,
                                         int64_t except_release_id, ModelInstance **ret, size_t *ret_n) {
        return sqlite_list(
                db, &instance_row,
                SELECT_INSTANCE_OF_RELEASE
                " WHERE r.component_id = ?1 AND r.environment_id = ?2 AND r.id != ?3"
                " AND " MODEL_ACTIVE_INSTANCE_SQL " ORDER BY i.id",
                SQL_ARGS(SQL_INT(component_id), SQL_INT(environment_id), SQL_INT(except_release_id)), ret,
                ret_n);
}

int model_instance_list_active_of_project(sqlite3 *db, int64_t project_id, ModelInstance **ret,
                                          size_t *ret_n) {
        return sqlite_list(db, &instance_row,
                           SELECT_INSTANCE_OF_RELEASE
                           " JOIN components c ON c.id = r.component_id"
                           " WHERE c.project_id = ?1 AND " MODEL_ACTIVE_INSTANCE_SQL " ORDER BY i.id",
                           SQL_ARGS(SQL_INT(project_id)), ret, ret_n);
}

int model_instance_list_of_project(sqlite3 *db, int64_t project_id, ModelInstance **ret, size_t *ret_n) {
        return sqlite_list(db, &instance_row,
                           SELECT_INSTANCE_OF_RELEASE " JOIN components c ON c.id = r.component_id"
                                                      " WHERE c.project_id = ?1 ORDER BY i.id",
                           SQL_ARGS(SQL_INT(project_id)), ret, ret_n);
}

int model_instance_list_active_by_release_status(sqlite3 *db, const char *status, ModelInstance **ret,
                                                 size_t *ret_n) {
        return sqlite_list(db, &instance_row,
                           SELECT_INSTANCE_OF_RELEASE " WHERE r.status = ?1 AND " MODEL_ACTIVE_INSTANCE_SQL
                                                      " ORDER BY i.id",
                           SQL_ARGS(SQL_TEXT(status)), ret, ret_n);
}

int model_instance_list_by_state(sqlite3 *db, const char *state, ModelInstance **ret, size_t *ret_n) {
        return sqlite_list(db, &instance_row, SELECT_INSTANCE " WHERE i.state = ?1 ORDER BY i.id",
                           SQL_ARGS(SQL_TEXT(state)), ret, ret_n);
}

int model_instance_list_ended(sqlite3 *db, ModelInstance **ret, size_t *ret_n) {
        return sqlite_list(db, &instance_row,
                           SELECT_INSTANCE " WHERE NOT " MODEL_ACTIVE_INSTANCE_SQL " ORDER BY i.id",
                           SQL_NO_ARGS, ret, ret_n);
}
