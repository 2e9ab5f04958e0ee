/* Instances in slipway.db: one container of a release, its address (.100–.254, unique among the
 * environment's active instances), netns, directory, state and restart count. */
#include "instance-db.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "environment-db.h"
#include "release-db.h"
#include "sqlite-util.h"

void model_instance_done(ModelInstance *i) {
        if (!i)
                return;
        free(i->address);
        free(i->netns);
        free(i->dir);
        free(i->state);
        memset(i, 0, sizeof *i);
}

void model_instances_free(ModelInstance *i, size_t n) {
        for (size_t k = 0; k < n; k++)
                model_instance_done(&i[k]);
        free(i);
}

#define INSTANCE_COLUMNS "i.id, i.release_id, i.address, i.netns, i.dir, i.state, i.restarts, i.created_at"
#define INSTANCE_OF_RELEASE_FROM " FROM instances i JOIN releases r ON r.id = i.release_id"

static int read_instance(sqlite3_stmt *s, void *userdata, void *ret) {
        (void) userdata;
        ModelInstance i = {
                .id = sqlite3_column_int64(s, 0),
                .release_id = sqlite3_column_int64(s, 1),
                .restarts = (unsigned) sqlite3_column_int64(s, 6),
                .created_at = sqlite3_column_int64(s, 7),
        };
        int r;

        if ((r = sqlite_column_strdup(s, 2, &i.address)) < 0 ||
            (r = sqlite_column_strdup(s, 3, &i.netns)) < 0 || (r = sqlite_column_strdup(s, 4, &i.dir)) < 0 ||
            (r = sqlite_column_strdup(s, 5, &i.state)) < 0) {
                model_instance_done(&i);
                return r;
        }
        *(ModelInstance *) ret = i;
        return 0;
}

static void done_instance(void *p) {
        model_instance_done(p);
}

int model_instance_create(sqlite3 *db, int64_t release_id, const char *address, const char *netns,
                          const char *dir, const char *state, int64_t *ret_id) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(db,
                               "INSERT INTO instances(release_id, address, netns, dir, state, created_at)"
                               " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                               &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, release_id);
        sqlite3_bind_text(s, 2, address, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, netns, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, dir, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 5, state, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 6, sqlite_now_sec());
        r = sqlite_step_done(s);
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = sqlite3_last_insert_rowid(db);
        return 0;
}

int model_instance_get(sqlite3 *db, int64_t id, ModelInstance *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(db, "SELECT " INSTANCE_COLUMNS " FROM instances i WHERE i.id = ?1", &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, id);
        return sqlite_query_one(s, read_instance, NULL, ret);
}

static int instance_update(sqlite3 *db, const char *sql, int64_t id, const char *text, int64_t num) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(db, sql, &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, id);
        if (text)
                sqlite3_bind_text(s, 2, text, -1, SQLITE_STATIC);
        else
                sqlite3_bind_int64(s, 2, num);
        r = sqlite_step_done(s);
        if (r < 0)
                return r;
        return sqlite3_changes(db) > 0 ? 0 : -ENOENT;
}

int model_instance_set_state(sqlite3 *db, int64_t id, const char *state) {
        return instance_update(db, "UPDATE instances SET state = ?2 WHERE id = ?1", id, state, 0);
}

int model_instance_set_restarts(sqlite3 *db, int64_t id, unsigned restarts) {
        return instance_update(db, "UPDATE instances SET restarts = ?2 WHERE id = ?1", id, NULL, restarts);
}

int model_instance_set_dir(sqlite3 *db, int64_t id, const char *dir) {
        return instance_update(db, "UPDATE instances SET dir = ?2 WHERE id = ?1", id, dir, 0);
}

int model_instance_list_by_release(sqlite3 *db, int64_t release_id, ModelInstance **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(db,
                               "SELECT " INSTANCE_COLUMNS " FROM instances i WHERE i.release_id = ?1"
                               " ORDER BY i.id",
                               &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, release_id);
        return sqlite_query_all(s, read_instance, done_instance, NULL, sizeof(ModelInstance), (void **) ret,
                                ret_n);
}

int model_instance_list_active(sqlite3 *db, ModelInstance **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(db,
                               "SELECT " INSTANCE_COLUMNS
                               " FROM instances i WHERE " MODEL_ACTIVE_INSTANCE_SQL " ORDER BY i.id",
                               &s);
        if (r < 0)
                return r;
        return sqlite_query_all(s, read_instance, done_instance, NULL, sizeof(ModelInstance), (void **) ret,
                                ret_n);
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
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(
                db,
                "SELECT " INSTANCE_COLUMNS " FROM instances i JOIN releases r ON r.id = i.release_id"
                " WHERE r.component_id = ?1 AND r.environment_id = ?2 AND r.status = '" MODEL_RELEASE_LIVE
                "' ORDER BY r.id DESC, i.id DESC LIMIT 1",
                &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, component_id);
        sqlite3_bind_int64(s, 2, environment_id);
        return sqlite_query_one(s, read_instance, NULL, ret);
}

int model_count_live_instances(sqlite3 *db, unsigned *ret) {
        return sqlite_count(db, "SELECT count(*) FROM instances i WHERE " MODEL_ACTIVE_INSTANCE_SQL, 0, ret);
}

int model_instance_set_paths(sqlite3 *db, int64_t id, const char *netns, const char *dir) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(db, "UPDATE instances SET netns = ?2, dir = ?3 WHERE id = ?1", &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_text(s, 2, netns, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, dir, -1, SQLITE_STATIC);
        r = sqlite_step_done(s);
        if (r < 0)
                return r;
        return sqlite3_changes(db) > 0 ? 0 : -ENOENT;
}

int model_instance_count_restart(sqlite3 *db, int64_t id) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(db, "UPDATE instances SET restarts = restarts + 1 WHERE id = ?1", &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, id);
        r = sqlite_step_done(s);
        if (r < 0)
                return r;
        return sqlite3_changes(db) > 0 ? 0 : -ENOENT;
}

static int list_with_ids(sqlite3 *db, const char *sql, int64_t a, int64_t b, int64_t c, ModelInstance **ret,
                         size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(db, sql, &s);
        if (r < 0)
                return r;
        int n = sqlite3_bind_parameter_count(s);
        if (n >= 1)
                sqlite3_bind_int64(s, 1, a);
        if (n >= 2)
                sqlite3_bind_int64(s, 2, b);
        if (n >= 3)
                sqlite3_bind_int64(s, 3, c);
        return sqlite_query_all(s, read_instance, done_instance, NULL, sizeof(ModelInstance), (void **) ret,
                                ret_n);
}

int model_instance_list_serving(sqlite3 *db, int64_t environment_id, ModelInstance **ret, size_t *ret_n) {
        return list_with_ids(db,
                             "SELECT " INSTANCE_COLUMNS INSTANCE_OF_RELEASE_FROM
                             " WHERE i.state = '" MODEL_INSTANCE_READY "'"
                             " AND r.status = '" MODEL_RELEASE_LIVE "'"
                             " AND (?1 = 0 OR r.environment_id = ?1) ORDER BY i.id",
                             environment_id, 0, 0, ret, ret_n);
}

int model_instance_list_active_of_target(sqlite3 *db, int64_t component_id, int64_t environment_id,
                                         int64_t except_release_id, ModelInstance **ret, size_t *ret_n) {
        return list_with_ids(db,
                             "SELECT " INSTANCE_COLUMNS INSTANCE_OF_RELEASE_FROM
                             " WHERE r.component_id = ?1 AND r.environment_id = ?2 AND r.id != ?3"
                             " AND " MODEL_ACTIVE_INSTANCE_SQL " ORDER BY i.id",
                             component_id, environment_id, except_release_id, ret, ret_n);
}

int model_instance_list_active_of_project(sqlite3 *db, int64_t project_id, ModelInstance **ret,
                                          size_t *ret_n) {
        return list_with_ids(db,
                             "SELECT " INSTANCE_COLUMNS INSTANCE_OF_RELEASE_FROM
                             " JOIN components c ON c.id = r.component_id"
                             " WHERE c.project_id = ?1 AND " MODEL_ACTIVE_INSTANCE_SQL " ORDER BY i.id",
                             project_id, 0, 0, ret, ret_n);
}

int model_instance_list_active_by_release_status(sqlite3 *db, const char *status, ModelInstance **ret,
                                                 size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(db,
                               "SELECT " INSTANCE_COLUMNS INSTANCE_OF_RELEASE_FROM
                               " WHERE r.status = ?1 AND " MODEL_ACTIVE_INSTANCE_SQL " ORDER BY i.id",
                               &s);
        if (r < 0)
                return r;
        sqlite3_bind_text(s, 1, status, -1, SQLITE_STATIC);
        return sqlite_query_all(s, read_instance, done_instance, NULL, sizeof(ModelInstance), (void **) ret,
                                ret_n);
}

int model_instance_list_by_state(sqlite3 *db, const char *state, ModelInstance **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(
                db, "SELECT " INSTANCE_COLUMNS " FROM instances i WHERE i.state = ?1 ORDER BY i.id", &s);
        if (r < 0)
                return r;
        sqlite3_bind_text(s, 1, state, -1, SQLITE_STATIC);
        return sqlite_query_all(s, read_instance, done_instance, NULL, sizeof(ModelInstance), (void **) ret,
                                ret_n);
}

int model_instance_list_ended(sqlite3 *db, ModelInstance **ret, size_t *ret_n) {
        return list_with_ids(db,
                             "SELECT " INSTANCE_COLUMNS
                             " FROM instances i WHERE NOT " MODEL_ACTIVE_INSTANCE_SQL " ORDER BY i.id",
                             0, 0, 0, ret, ret_n);
}

int model_instance_get_newest(sqlite3 *db, int64_t component_id, int64_t environment_id,
                              ModelInstance *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(db,
                               "SELECT " INSTANCE_COLUMNS INSTANCE_OF_RELEASE_FROM
                               " WHERE r.component_id = ?1 AND r.environment_id = ?2"
                               " ORDER BY i.id DESC LIMIT 1",
                               &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, component_id);
        sqlite3_bind_int64(s, 2, environment_id);
        return sqlite_query_one(s, read_instance, NULL, ret);
}
