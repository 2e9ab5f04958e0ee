/* Components in slipway.db: a name unique within its project, an optional image reference and the
 * JSON spec (validated by the caller, component-spec.h) stored as given. */
#include "component-db.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "project-db.h"
#include "sqlite-util.h"

#define SELECT_COMPONENT                                                                \
        "SELECT c.id, c.project_id, p.name, c.name, c.image_ref, c.spec, c.created_at," \
        " c.source, c.autobuild, c.autodeploy, c.builds_keep"                           \
        " FROM components c JOIN projects p ON p.id = c.project_id"

static const SqliteField component_fields[] = {
        SQL_FIELD(ModelComponent, id),           SQL_FIELD(ModelComponent, project_id),
        SQL_FIELD(ModelComponent, project_name), SQL_FIELD(ModelComponent, name),
        SQL_FIELD(ModelComponent, image_ref),    SQL_FIELD(ModelComponent, spec),
        SQL_FIELD(ModelComponent, created_at),   SQL_FIELD(ModelComponent, source),
        SQL_FIELD(ModelComponent, autobuild),    SQL_FIELD(ModelComponent, autodeploy),
        SQL_FIELD(ModelComponent, builds_keep),
};
static const SqliteRowType component_row = SQL_ROW_TYPE(ModelComponent, component_fields);
SQL_DEFINE_ROW_FUNCS(ModelComponent, component_row, model_component_done, model_components_free);

int model_component_create(sqlite3 *db, int64_t project_id, const char *name, const char *image_ref,
                           const char *spec_json, ModelComponent *ret) {
        int r = sqlite_run(db,
                           "INSERT INTO components(project_id, name, image_ref, spec, created_at)"
                           " VALUES (?1, ?2, ?3, ?4, ?5)",
                           SQL_ARGS(SQL_INT(project_id), SQL_TEXT(name), SQL_TEXT(image_ref),
                                    SQL_TEXT(spec_json), SQL_INT(sqlite_now_sec())));
        if (r < 0)
                return r;
        if (ret)
                return model_component_get(db, project_id, name, ret);
        return 0;
}

int model_component_update(sqlite3 *db, int64_t id, const char *image_ref, const char *spec_json) {
        return sqlite_run_one(db, "UPDATE components SET image_ref = ?2, spec = ?3 WHERE id = ?1",
                              SQL_ARGS(SQL_INT(id), SQL_TEXT(image_ref), SQL_TEXT(spec_json)));
}

int model_component_get(sqlite3 *db, int64_t project_id, const char *name, ModelComponent *ret) {
        return sqlite_get(db, &component_row, SELECT_COMPONENT " WHERE c.project_id = ?1 AND c.name = ?2",
                          SQL_ARGS(SQL_INT(project_id), SQL_TEXT(name)), ret);
}

int model_component_get_by_id(sqlite3 *db, int64_t id, ModelComponent *ret) {
        return sqlite_get(db, &component_row, SELECT_COMPONENT " WHERE c.id = ?1", SQL_ARGS(SQL_INT(id)),
                          ret);
}

int model_component_list(sqlite3 *db, int64_t project_id, ModelComponent **ret, size_t *ret_n) {
        return sqlite_list(db, &component_row, SELECT_COMPONENT " WHERE c.project_id = ?1 ORDER BY c.name",
                           SQL_ARGS(SQL_INT(project_id)), ret, ret_n);
}

int model_component_lookup(sqlite3 *db, const char *project, const char *component, ModelComponent *ret,
                           const char **ret_missing) {
        _cleanup_(model_project_done) ModelProject p = {};
        int r;

        r = model_project_get(db, project, &p);
        if (r == -ENOENT && ret_missing)
                *ret_missing = "project";
        if (r < 0)
                return r;
        r = model_component_get(db, p.id, component, ret);
        if (r == -ENOENT && ret_missing)
                *ret_missing = "component";
        return r;
}

int model_component_count(sqlite3 *db, int64_t project_id, unsigned *ret) {
        return sqlite_count(db, "SELECT count(*) FROM components WHERE project_id = ?1",
                            SQL_ARGS(SQL_INT(project_id)), ret);
}

int model_component_set_source(sqlite3 *db, int64_t id, const char *source_json) {
        return sqlite_run_one(db, "UPDATE components SET source = ?2 WHERE id = ?1",
                              SQL_ARGS(SQL_INT(id), SQL_TEXT(source_json)));
}

int model_component_set_autobuild(sqlite3 *db, int64_t id, bool on) {
        return sqlite_run_one(db, "UPDATE components SET autobuild = ?2 WHERE id = ?1",
                              SQL_ARGS(SQL_INT(id), SQL_INT(on)));
}

int model_component_set_autodeploy(sqlite3 *db, int64_t id, bool on) {
        return sqlite_run_one(db, "UPDATE components SET autodeploy = ?2 WHERE id = ?1",
                              SQL_ARGS(SQL_INT(id), SQL_INT(on)));
}

int model_component_set_builds_keep(sqlite3 *db, int64_t id, int64_t keep) {
        return sqlite_run_one(db, "UPDATE components SET builds_keep = ?2 WHERE id = ?1",
                              SQL_ARGS(SQL_INT(id), SQL_INT(keep)));
}

int model_component_list_with_source(sqlite3 *db, ModelComponent **ret, size_t *ret_n) {
        return sqlite_list(db, &component_row, SELECT_COMPONENT " WHERE c.source IS NOT NULL ORDER BY c.id",
                           SQL_NO_ARGS, ret, ret_n);
}
