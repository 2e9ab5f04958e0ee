/* Projects in slipway.db: a project is created with its environments in one transaction, so it
 * never exists without them; deleting it removes everything under it by cascade. */
#include "project-db.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allocation.h"
#include "instance-db.h"
#include "sqlite-util.h"

void model_project_done(ModelProject *p) {
        if (!p)
                return;
        free(p->name);
        memset(p, 0, sizeof *p);
}

void model_projects_free(ModelProject *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                model_project_done(&p[i]);
        free(p);
}

#define PROJECT_COLUMNS "p.id, p.name, p.created_at"

static int read_project(sqlite3_stmt *s, void *userdata, void *ret) {
        (void) userdata;
        ModelProject p = { .id = sqlite3_column_int64(s, 0), .created_at = sqlite3_column_int64(s, 2) };
        int r = sqlite_column_strdup(s, 1, &p.name);
        if (r < 0)
                return r;
        *(ModelProject *) ret = p;
        return 0;
}

static void done_project(void *p) {
        model_project_done(p);
}

int model_project_get(sqlite3 *db, const char *name, ModelProject *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(db, "SELECT " PROJECT_COLUMNS " FROM projects p WHERE p.name = ?1", &s);
        if (r < 0)
                return r;
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        return sqlite_query_one(s, read_project, NULL, ret);
}

int model_project_get_by_id(sqlite3 *db, int64_t id, ModelProject *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(db, "SELECT " PROJECT_COLUMNS " FROM projects p WHERE p.id = ?1", &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, id);
        return sqlite_query_one(s, read_project, NULL, ret);
}

int model_project_list(sqlite3 *db, ModelProject **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(db, "SELECT " PROJECT_COLUMNS " FROM projects p ORDER BY p.name", &s);
        if (r < 0)
                return r;
        return sqlite_query_all(s, read_project, done_project, NULL, sizeof(ModelProject), (void **) ret,
                                ret_n);
}

int model_project_create(sqlite3 *db, const char *name, char *const *envs, size_t n_envs,
                         const ModelAllocation *alloc, ModelProject *ret) {
        int64_t id;
        int r;

        if (n_envs > MODEL_ENVS_MAX)
                return -E2BIG;
        r = sqlite_begin(db);
        if (r < 0)
                return r;
        {
                _cleanup_stmt_ sqlite3_stmt *s = NULL;
                r = sqlite_prepare(db, "INSERT INTO projects(name, created_at) VALUES (?1, ?2)", &s);
                if (r < 0)
                        goto fail;
                sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
                sqlite3_bind_int64(s, 2, sqlite_now_sec());
                r = sqlite_step_done(s);
                if (r < 0)
                        goto fail;
                id = sqlite3_last_insert_rowid(db);
        }
        for (size_t i = 0; i < n_envs; i++) {
                r = model_insert_environment(db, id, name, envs[i], (unsigned) i, alloc, 0);
                if (r < 0)
                        goto fail;
        }
        r = sqlite_commit(db);
        if (r < 0)
                goto fail;
        if (ret)
                return model_project_get(db, name, ret);
        return 0;
fail:
        sqlite_rollback(db);
        return r;
}

int model_project_delete(sqlite3 *db, int64_t project_id) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(db, "DELETE FROM projects WHERE id = ?1", &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, project_id);
        r = sqlite_step_done(s);
        if (r < 0)
                return r;
        return sqlite3_changes(db) > 0 ? 0 : -ENOENT;
}

int model_project_count_live_instances(sqlite3 *db, int64_t project_id, unsigned *ret) {
        return sqlite_count(db,
                            "SELECT count(*) FROM instances i JOIN releases r ON r.id = i.release_id"
                            " JOIN components c ON c.id = r.component_id"
                            " WHERE c.project_id = ?1 AND " MODEL_ACTIVE_INSTANCE_SQL,
                            project_id, ret);
}

int model_count(sqlite3 *db, const char *table, unsigned *ret) {
        static const char *const tables[] = { "projects", "environments", "components", "releases",
                                              "instances" };
        _cleanup_free_ char *sql = NULL;

        for (size_t i = 0; i < ELEMENTSOF(tables); i++)
                if (streq(table, tables[i])) {
                        if (asprintf(&sql, "SELECT count(*) FROM %s", tables[i]) < 0)
                                return -ENOMEM;
                        return sqlite_count(db, sql, 0, ret);
                }
        return -EINVAL;
}
