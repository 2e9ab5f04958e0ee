/* Components in slipway.db: a name unique within its project, an optional image reference and the
 * JSON spec (validated by the caller, component-spec.h) stored as given. */
#include "component-db.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "project-db.h"
#include "sqlite-util.h"

void model_component_done(ModelComponent *c) {
        if (!c)
                return;
        free(c->project_name);
        free(c->name);
        free(c->image_ref);
        free(c->spec);
        memset(c, 0, sizeof *c);
}

void model_components_free(ModelComponent *c, size_t n) {
        for (size_t i = 0; i < n; i++)
                model_component_done(&c[i]);
        free(c);
}

#define COMPONENT_COLUMNS "c.id, c.project_id, p.name, c.name, c.image_ref, c.spec, c.created_at"
#define COMPONENT_FROM " FROM components c JOIN projects p ON p.id = c.project_id"

static int read_component(sqlite3_stmt *s, void *userdata, void *ret) {
        (void) userdata;
        ModelComponent c = {
                .id = sqlite3_column_int64(s, 0),
                .project_id = sqlite3_column_int64(s, 1),
                .created_at = sqlite3_column_int64(s, 6),
        };
        int r;

        if ((r = sqlite_column_strdup(s, 2, &c.project_name)) < 0 ||
            (r = sqlite_column_strdup(s, 3, &c.name)) < 0 ||
            (r = sqlite_column_strdup(s, 4, &c.image_ref)) < 0 ||
            (r = sqlite_column_strdup(s, 5, &c.spec)) < 0) {
                model_component_done(&c);
                return r;
        }
        *(ModelComponent *) ret = c;
        return 0;
}

static void done_component(void *p) {
        model_component_done(p);
}

int model_component_create(sqlite3 *db, int64_t project_id, const char *name, const char *image_ref,
                           const char *spec_json, ModelComponent *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(db,
                               "INSERT INTO components(project_id, name, image_ref, spec, created_at)"
                               " VALUES (?1, ?2, ?3, ?4, ?5)",
                               &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, project_id);
        sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
        sqlite_bind_text_or_null(s, 3, image_ref);
        sqlite3_bind_text(s, 4, spec_json, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 5, sqlite_now_sec());
        r = sqlite_step_done(s);
        if (r < 0)
                return r;
        if (ret)
                return model_component_get(db, project_id, name, ret);
        return 0;
}

int model_component_get(sqlite3 *db, int64_t project_id, const char *name, ModelComponent *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(
                db, "SELECT " COMPONENT_COLUMNS COMPONENT_FROM " WHERE c.project_id = ?1 AND c.name = ?2",
                &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, project_id);
        sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
        return sqlite_query_one(s, read_component, NULL, ret);
}

int model_component_get_by_id(sqlite3 *db, int64_t id, ModelComponent *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(db, "SELECT " COMPONENT_COLUMNS COMPONENT_FROM " WHERE c.id = ?1", &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, id);
        return sqlite_query_one(s, read_component, NULL, ret);
}

int model_component_list(sqlite3 *db, int64_t project_id, ModelComponent **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(
                db, "SELECT " COMPONENT_COLUMNS COMPONENT_FROM " WHERE c.project_id = ?1 ORDER BY c.name",
                &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, project_id);
        return sqlite_query_all(s, read_component, done_component, NULL, sizeof(ModelComponent),
                                (void **) ret, ret_n);
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
        return sqlite_count(db, "SELECT count(*) FROM components WHERE project_id = ?1", project_id, ret);
}
