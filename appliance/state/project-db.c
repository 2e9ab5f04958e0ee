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

#define SELECT_PROJECT "SELECT p.id, p.name, p.created_at, p.push_to, p.scan_fail_on FROM projects p"

static const SqliteField project_fields[] = {
        SQL_FIELD(ModelProject, id),           SQL_FIELD(ModelProject, name),
        SQL_FIELD(ModelProject, created_at),   SQL_FIELD(ModelProject, push_to),
        SQL_FIELD(ModelProject, scan_fail_on),
};
static const SqliteRowType project_row = SQL_ROW_TYPE(ModelProject, project_fields);
SQL_DEFINE_ROW_FUNCS(ModelProject, project_row, model_project_done, model_projects_free);

int model_project_get(sqlite3 *db, const char *name, ModelProject *ret) {
        return sqlite_get(db, &project_row, SELECT_PROJECT " WHERE p.name = ?1", SQL_ARGS(SQL_TEXT(name)),
                          ret);
}

int model_project_get_by_id(sqlite3 *db, int64_t id, ModelProject *ret) {
        return sqlite_get(db, &project_row, SELECT_PROJECT " WHERE p.id = ?1", SQL_ARGS(SQL_INT(id)), ret);
}

int model_project_list(sqlite3 *db, ModelProject **ret, size_t *ret_n) {
        return sqlite_list(db, &project_row, SELECT_PROJECT " ORDER BY p.name", SQL_NO_ARGS, ret, ret_n);
}

/* The project row and its environments; the caller holds the transaction. */
static int insert_project(sqlite3 *db, const char *name, char *const *envs, size_t n_envs,
                          const ModelAllocation *alloc) {
        int64_t id;
        int r;

        r = sqlite_run(db, "INSERT INTO projects(name, created_at) VALUES (?1, ?2)",
                       SQL_ARGS(SQL_TEXT(name), SQL_INT(sqlite_now_sec())));
        if (r < 0)
                return r;
        id = sqlite3_last_insert_rowid(db);
        for (size_t i = 0; i < n_envs; i++) {
                r = model_insert_environment(db, id, name, envs[i], (unsigned) i, alloc, 0);
                if (r < 0)
                        return r;
        }
        return 0;
}

int model_project_create(sqlite3 *db, const char *name, char *const *envs, size_t n_envs,
                         const ModelAllocation *alloc, ModelProject *ret) {
        int r;

        if (n_envs > MODEL_ENVS_MAX)
                return -E2BIG;
        r = sqlite_begin(db);
        if (r < 0)
                return r;
        r = sqlite_end(db, insert_project(db, name, envs, n_envs, alloc));
        if (r < 0)
                return r;
        if (ret)
                return model_project_get(db, name, ret);
        return 0;
}

bool model_scan_fail_on_is_valid(const char *s) {
        return streq_ptr(s, MODEL_SCAN_FAIL_ON_CRITICAL) || streq_ptr(s, MODEL_SCAN_FAIL_ON_HIGH) ||
               streq_ptr(s, MODEL_SCAN_FAIL_ON_NONE);
}

static int update_locked(sqlite3 *db, int64_t project_id, const ModelProjectSettings *st) {
        unsigned known = 0;
        int r;

        if (st->push_to && st->push_to[0]) {
                r = sqlite_count(db, "SELECT count(*) FROM registries WHERE name = ?1",
                                 SQL_ARGS(SQL_TEXT(st->push_to)), &known);
                if (r < 0)
                        return r;
                if (known == 0)
                        return -ENXIO;
        }
        if (st->push_to) {
                r = sqlite_run_one(db, "UPDATE projects SET push_to = nullif(?2, '') WHERE id = ?1",
                                   SQL_ARGS(SQL_INT(project_id), SQL_TEXT(st->push_to)));
                if (r < 0)
                        return r;
        }
        if (st->scan_fail_on) {
                r = sqlite_run_one(db, "UPDATE projects SET scan_fail_on = ?2 WHERE id = ?1",
                                   SQL_ARGS(SQL_INT(project_id), SQL_TEXT(st->scan_fail_on)));
                if (r < 0)
                        return r;
        }
        return 0;
}

int model_project_update(sqlite3 *db, int64_t project_id, const ModelProjectSettings *st) {
        int r;

        if (st->scan_fail_on && !model_scan_fail_on_is_valid(st->scan_fail_on))
                return -EINVAL;
        r = sqlite_begin(db);
        if (r < 0)
                return r;
        return sqlite_end(db, update_locked(db, project_id, st));
}

int model_project_delete(sqlite3 *db, int64_t project_id) {
        return sqlite_run_one(db, "DELETE FROM projects WHERE id = ?1", SQL_ARGS(SQL_INT(project_id)));
}

int model_project_count_live_instances(sqlite3 *db, int64_t project_id, unsigned *ret) {
        return sqlite_count(db,
                            "SELECT count(*) FROM instances i JOIN releases r ON r.id = i.release_id"
                            " JOIN components c ON c.id = r.component_id"
                            " WHERE c.project_id = ?1 AND " MODEL_ACTIVE_INSTANCE_SQL,
                            SQL_ARGS(SQL_INT(project_id)), ret);
}

int model_count(sqlite3 *db, const char *table, unsigned *ret) {
        static const char *const tables[] = { "projects", "environments", "components", "releases",
                                              "instances" };
        _cleanup_free_ char *sql = NULL;

        for (size_t i = 0; i < ELEMENTSOF(tables); i++)
                if (streq(table, tables[i])) {
                        if (asprintf(&sql, "SELECT count(*) FROM %s", tables[i]) < 0)
                                return -ENOMEM;
                        return sqlite_count(db, sql, SQL_NO_ARGS, ret);
                }
        return -EINVAL;
}
