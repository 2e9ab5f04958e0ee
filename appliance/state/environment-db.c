/* Environments in slipway.db, in each project's promotion order (position 0, 1, …, no gaps or
 * duplicates: an insertion shifts later positions inside the same transaction), and the settings a
 * person may change (domain, egress, ingress port), which no two environments share. */
#include "environment-db.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "allocation.h"
#include "instance-db.h"
#include "project-db.h"
#include "release-db.h"
#include "sqlite-util.h"
#include "subnet-pool.h"

void model_environment_done(ModelEnvironment *e) {
        if (!e)
                return;
        free(e->project_name);
        free(e->name);
        free(e->subnet);
        free(e->bridge);
        free(e->domain);
        memset(e, 0, sizeof *e);
}

void model_environments_free(ModelEnvironment *e, size_t n) {
        for (size_t i = 0; i < n; i++)
                model_environment_done(&e[i]);
        free(e);
}

#define ENV_COLUMNS                                                                                         \
        "e.id, e.project_id, p.name, e.name, e.position, e.subnet, e.bridge, e.ingress_port, e.domain,"     \
        " e.egress, e.created_at"
#define ENV_FROM " FROM environments e JOIN projects p ON p.id = e.project_id"

static int read_environment(sqlite3_stmt *s, void *userdata, void *ret) {
        (void) userdata;
        ModelEnvironment e = {
                .id = sqlite3_column_int64(s, 0),
                .project_id = sqlite3_column_int64(s, 1),
                .position = (unsigned)sqlite3_column_int64(s, 4),
                .ingress_port = (unsigned)sqlite3_column_int64(s, 7),
                .egress = sqlite3_column_int64(s, 9) != 0,
                .created_at = sqlite3_column_int64(s, 10),
        };
        int r;

        if ((r = sqlite_column_strdup(s, 2, &e.project_name)) < 0 || (r = sqlite_column_strdup(s, 3, &e.name)) < 0 ||
            (r = sqlite_column_strdup(s, 5, &e.subnet)) < 0 || (r = sqlite_column_strdup(s, 6, &e.bridge)) < 0 ||
            (r = sqlite_column_strdup(s, 8, &e.domain)) < 0) {
                model_environment_done(&e);
                return r;
        }
        *(ModelEnvironment *)ret = e;
        return 0;
}

static void done_environment(void *p) {
        model_environment_done(p);
}

int model_environment_get(sqlite3 *db, int64_t project_id, const char *name, ModelEnvironment *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(db, "SELECT " ENV_COLUMNS ENV_FROM " WHERE e.project_id = ?1 AND e.name = ?2",
                               &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, project_id);
        sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
        return sqlite_query_one(s, read_environment, NULL, ret);
}

int model_environment_get_by_id(sqlite3 *db, int64_t id, ModelEnvironment *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(db, "SELECT " ENV_COLUMNS ENV_FROM " WHERE e.id = ?1", &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, id);
        return sqlite_query_one(s, read_environment, NULL, ret);
}

int model_environment_list(sqlite3 *db, int64_t project_id, ModelEnvironment **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(
                db, "SELECT " ENV_COLUMNS ENV_FROM " WHERE e.project_id = ?1 ORDER BY e.position", &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, project_id);
        return sqlite_query_all(s, read_environment, done_environment, NULL, sizeof(ModelEnvironment), (void **) ret,
                                ret_n);
}

int model_environment_list_all(sqlite3 *db, ModelEnvironment **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(db, "SELECT " ENV_COLUMNS ENV_FROM " ORDER BY e.id", &s);
        if (r < 0)
                return r;
        return sqlite_query_all(s, read_environment, done_environment, NULL, sizeof(ModelEnvironment), (void **) ret,
                                ret_n);
}

static int shift_positions(sqlite3 *db, int64_t project_id, unsigned from) {
        static const char *const sql[] = {
                "UPDATE environments SET position = -position - 1 WHERE project_id = ?1 AND position >= ?2",
                "UPDATE environments SET position = -position WHERE project_id = ?1 AND position < 0",
        };
        for (size_t i = 0; i < ELEMENTSOF(sql); i++) {
                _cleanup_stmt_ sqlite3_stmt *s = NULL;
                int r = sqlite_prepare(db, sql[i], &s);
                if (r < 0)
                        return r;
                sqlite3_bind_int64(s, 1, project_id);
                if (i == 0)
                        sqlite3_bind_int64(s, 2, from);
                r = sqlite_step_done(s);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Another environment (not `self`) holding the settings' ingress port or domain. */
int model_environment_settings_conflict(sqlite3 *db, int64_t self, const ModelEnvironmentSettings *st,
                                        ModelEnvironment *ret_conflict) {
        _cleanup_(model_environment_done) ModelEnvironment other = {};
        int r;

        if (st->ingress_port > 0) {
                _cleanup_stmt_ sqlite3_stmt *s = NULL;
                r = sqlite_prepare(db, "SELECT " ENV_COLUMNS ENV_FROM " WHERE e.ingress_port = ?1 AND e.id != ?2",
                                   &s);
                if (r < 0)
                        return r;
                sqlite3_bind_int64(s, 1, st->ingress_port);
                sqlite3_bind_int64(s, 2, self);
                r = sqlite_query_one(s, read_environment, NULL, &other);
                if (r >= 0) {
                        if (ret_conflict)
                                *ret_conflict = TAKE_STRUCT(other);
                        return -EADDRINUSE;
                }
                if (r != -ENOENT)
                        return r;
        }
        if (!isempty(st->domain)) {
                _cleanup_stmt_ sqlite3_stmt *s = NULL;
                r = sqlite_prepare(db, "SELECT " ENV_COLUMNS ENV_FROM " WHERE e.domain = ?1 AND e.id != ?2", &s);
                if (r < 0)
                        return r;
                sqlite3_bind_text(s, 1, st->domain, -1, SQLITE_STATIC);
                sqlite3_bind_int64(s, 2, self);
                r = sqlite_query_one(s, read_environment, NULL, &other);
                if (r >= 0) {
                        if (ret_conflict)
                                *ret_conflict = TAKE_STRUCT(other);
                        return -ENOTUNIQ;
                }
                if (r != -ENOENT)
                        return r;
        }
        return 0;
}

static int update_environment(sqlite3 *db, int64_t id, const ModelEnvironmentSettings *st) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(db,
                               "UPDATE environments SET"
                               " domain = CASE WHEN ?2 IS NULL THEN domain WHEN ?2 = '' THEN NULL ELSE ?2 END,"
                               " egress = CASE WHEN ?3 < 0 THEN egress ELSE ?3 END,"
                               " ingress_port = CASE WHEN ?4 = 0 THEN ingress_port ELSE ?4 END"
                               " WHERE id = ?1",
                               &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, id);
        sqlite_bind_text_or_null(s, 2, st->domain);
        sqlite3_bind_int64(s, 3, st->egress);
        sqlite3_bind_int64(s, 4, st->ingress_port);
        r = sqlite_step_done(s);
        if (r < 0)
                return r;
        return sqlite3_changes(db) > 0 ? 0 : -ENOENT;
}

int model_environment_update(sqlite3 *db, int64_t environment_id, const ModelEnvironmentSettings *settings,
                             ModelEnvironment *ret_conflict) {
        int r = sqlite_begin(db);
        if (r < 0)
                return r;
        r = model_environment_settings_conflict(db, environment_id, settings, ret_conflict);
        if (r >= 0)
                r = update_environment(db, environment_id, settings);
        if (r >= 0)
                r = sqlite_commit(db);
        if (r < 0)
                sqlite_rollback(db);
        return r;
}

int model_environment_create(sqlite3 *db, int64_t project_id, const char *name, const char *after,
                             const ModelAllocation *alloc, const ModelEnvironmentSettings *settings,
                             ModelEnvironment *ret, ModelEnvironment *ret_conflict) {
        ModelEnvironmentSettings st = settings ? *settings : MODEL_ENVIRONMENT_SETTINGS_INIT;
        _cleanup_(model_environment_done) ModelEnvironment prev = {};
        ModelProject p = {};
        unsigned n, position;
        int r;

        r = sqlite_begin(db);
        if (r < 0)
                return r;
        r = model_project_get_by_id(db, project_id, &p);
        if (r < 0)
                goto fail;
        r = sqlite_count(db, "SELECT count(*) FROM environments WHERE project_id = ?1", project_id, &n);
        if (r < 0)
                goto fail;
        if (n >= MODEL_ENVS_MAX) {
                r = -E2BIG;
                goto fail;
        }
        r = model_environment_get(db, project_id, name, &prev);
        if (r >= 0) {
                r = -EEXIST;
                goto fail;
        }
        if (r != -ENOENT)
                goto fail;
        r = model_environment_settings_conflict(db, 0, &st, ret_conflict);
        if (r < 0)
                goto fail;
        if (after) {
                r = model_environment_get(db, project_id, after, &prev);
                if (r < 0)
                        goto fail;
                position = prev.position + 1;
                /* Two steps so UNIQUE(project_id, position) never sees a transient duplicate. */
                r = shift_positions(db, project_id, position);
                if (r < 0)
                        goto fail;
        } else {
                r = sqlite_count(
                        db, "SELECT coalesce(max(position) + 1, 0) FROM environments WHERE project_id = ?1",
                        project_id, &position);
                if (r < 0)
                        goto fail;
        }
        r = model_insert_environment(db, project_id, p.name, name, position, alloc, st.ingress_port);
        if (r < 0)
                goto fail;
        st.ingress_port = 0;
        r = update_environment(db, sqlite3_last_insert_rowid(db), &st);
        if (r < 0)
                goto fail;
        r = sqlite_commit(db);
        if (r < 0)
                goto fail;
        model_project_done(&p);
        if (ret)
                return model_environment_get(db, project_id, name, ret);
        return 0;
fail:
        sqlite_rollback(db);
        model_project_done(&p);
        return r;
}

/* ---- addresses inside an environment's subnet (service and instance addresses) ---- */

/* Addresses used in a subnet by some query with ?1 = environment id. */
static int addresses_in_use(sqlite3 *db, const char *sql, int64_t environment_id, struct in_addr **ret,
                            size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        struct in_addr *v = NULL;
        size_t n = 0;
        int r, rc;

        r = sqlite_prepare(db, sql, &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, environment_id);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                struct in_addr a;
                if (net_address_parse((const char *)sqlite3_column_text(s, 0), &a) < 0)
                        continue;
                struct in_addr *nv = realloc(v, (n + 1) * sizeof *v);
                if (!nv) {
                        free(v);
                        return -ENOMEM;
                }
                v = nv;
                v[n++] = a;
        }
        if (rc != SQLITE_DONE) {
                free(v);
                return sqlite_to_errno(rc) ?: -EIO;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

int model_environment_allocate_address(sqlite3 *db, int64_t environment_id, const char *used_sql,
                                       uint32_t first, uint32_t last, char **ret) {
        _cleanup_(model_environment_done) ModelEnvironment e = {};
        _cleanup_free_ struct in_addr *used = NULL;
        size_t n_used = 0;
        NetSubnet subnet;
        struct in_addr a;
        char buf[INET_ADDRSTRLEN];
        int r;

        r = model_environment_get_by_id(db, environment_id, &e);
        if (r < 0)
                return r;
        r = net_subnet_parse(e.subnet, &subnet);
        if (r < 0)
                return r;
        r = addresses_in_use(db, used_sql, environment_id, &used, &n_used);
        if (r < 0)
                return r;
        r = net_subnet_allocate_address(&subnet, first, last, used, n_used, &a);
        if (r < 0)
                return r;
        if (!inet_ntop(AF_INET, &a, buf, sizeof buf))
                return -errno;
        char *d = strdup(buf);
        if (!d)
                return -ENOMEM;
        *ret = d;
        return 0;
}

int model_environment_list_in_use(sqlite3 *db, int64_t exclude_project_id, ModelEnvironment **ret,
                                  size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(
                db,
                "SELECT " ENV_COLUMNS ENV_FROM " WHERE e.project_id != ?1"
                " AND (EXISTS (SELECT 1 FROM releases r WHERE r.environment_id = e.id"
                "              AND r.status IN ('" MODEL_RELEASE_DEPLOYING "', '" MODEL_RELEASE_LIVE "'))"
                "   OR EXISTS (SELECT 1 FROM instances i JOIN releases r ON r.id = i.release_id"
                "              WHERE r.environment_id = e.id AND " MODEL_ACTIVE_INSTANCE_SQL "))"
                " ORDER BY e.id",
                &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, exclude_project_id);
        return sqlite_query_all(s, read_environment, done_environment, NULL, sizeof(ModelEnvironment),
                                (void **) ret, ret_n);
}
