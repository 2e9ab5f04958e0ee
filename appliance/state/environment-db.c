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

#define SELECT_ENVIRONMENT                                                                                     \
        "SELECT e.id, e.project_id, p.name, e.name, e.position, e.subnet, e.bridge, e.ingress_port, e.domain," \
        " e.egress, e.created_at, e.protected FROM environments e JOIN projects p ON p.id = e.project_id"

static const SqliteField environment_fields[] = {
        SQL_FIELD(ModelEnvironment, id),           SQL_FIELD(ModelEnvironment, project_id),
        SQL_FIELD(ModelEnvironment, project_name), SQL_FIELD(ModelEnvironment, name),
        SQL_FIELD(ModelEnvironment, position),     SQL_FIELD(ModelEnvironment, subnet),
        SQL_FIELD(ModelEnvironment, bridge),       SQL_FIELD(ModelEnvironment, ingress_port),
        SQL_FIELD(ModelEnvironment, domain),       SQL_FIELD(ModelEnvironment, egress),
        SQL_FIELD(ModelEnvironment, created_at),   SQL_FIELD(ModelEnvironment, is_protected),
};
static const SqliteRowType environment_row = SQL_ROW_TYPE(ModelEnvironment, environment_fields);
SQL_DEFINE_ROW_FUNCS(ModelEnvironment, environment_row, model_environment_done, model_environments_free);

int model_environment_get(sqlite3 *db, int64_t project_id, const char *name, ModelEnvironment *ret) {
        return sqlite_get(db, &environment_row,
                          SELECT_ENVIRONMENT " WHERE e.project_id = ?1 AND e.name = ?2",
                          SQL_ARGS(SQL_INT(project_id), SQL_TEXT(name)), ret);
}

int model_environment_get_by_id(sqlite3 *db, int64_t id, ModelEnvironment *ret) {
        return sqlite_get(db, &environment_row, SELECT_ENVIRONMENT " WHERE e.id = ?1", SQL_ARGS(SQL_INT(id)),
                          ret);
}

int model_environment_list(sqlite3 *db, int64_t project_id, ModelEnvironment **ret, size_t *ret_n) {
        return sqlite_list(db, &environment_row,
                           SELECT_ENVIRONMENT " WHERE e.project_id = ?1 ORDER BY e.position",
                           SQL_ARGS(SQL_INT(project_id)), ret, ret_n);
}

int model_environment_list_all(sqlite3 *db, ModelEnvironment **ret, size_t *ret_n) {
        return sqlite_list(db, &environment_row, SELECT_ENVIRONMENT " ORDER BY e.id", SQL_NO_ARGS, ret,
                           ret_n);
}

static int shift_positions(sqlite3 *db, int64_t project_id, unsigned from) {
        int r = sqlite_run(
                db,
                "UPDATE environments SET position = -position - 1 WHERE project_id = ?1 AND position >= ?2",
                SQL_ARGS(SQL_INT(project_id), SQL_INT(from)));
        if (r < 0)
                return r;
        r = sqlite_run(db,
                       "UPDATE environments SET position = -position WHERE project_id = ?1 AND position < 0",
                       SQL_ARGS(SQL_INT(project_id)));
        return r < 0 ? r : 0;
}

/* Another environment (not `self`) holding the settings' ingress port or domain. */
int model_environment_settings_conflict(sqlite3 *db, int64_t self, const ModelEnvironmentSettings *st,
                                        ModelEnvironment *ret_conflict) {
        _cleanup_(model_environment_done) ModelEnvironment other = {};
        int r = -ENOENT, conflict = 0;

        if (st->ingress_port > 0) {
                conflict = -EADDRINUSE;
                r = sqlite_get(db, &environment_row,
                               SELECT_ENVIRONMENT " WHERE e.ingress_port = ?1 AND e.id != ?2",
                               SQL_ARGS(SQL_INT(st->ingress_port), SQL_INT(self)), &other);
        }
        if (r == -ENOENT && !isempty(st->domain)) {
                conflict = -ENOTUNIQ;
                r = sqlite_get(db, &environment_row,
                               SELECT_ENVIRONMENT " WHERE e.domain = ?1 AND e.id != ?2",
                               SQL_ARGS(SQL_TEXT(st->domain), SQL_INT(self)), &other);
        }
        if (r < 0)
                return r == -ENOENT ? 0 : r;
        if (ret_conflict)
                *ret_conflict = TAKE_STRUCT(other);
        return conflict;
}

static int update_environment(sqlite3 *db, int64_t id, const ModelEnvironmentSettings *st) {
        return sqlite_run_one(
                db,
                "UPDATE environments SET"
                " domain = CASE WHEN ?2 IS NULL THEN domain WHEN ?2 = '' THEN NULL ELSE ?2 END,"
                " egress = CASE WHEN ?3 < 0 THEN egress ELSE ?3 END,"
                " ingress_port = CASE WHEN ?4 = 0 THEN ingress_port ELSE ?4 END,"
                " protected = CASE WHEN ?5 < 0 THEN protected ELSE ?5 END"
                " WHERE id = ?1",
                SQL_ARGS(SQL_INT(id), SQL_TEXT(st->domain), SQL_INT(st->egress), SQL_INT(st->ingress_port),
                         SQL_INT(st->is_protected)));
}

int model_environment_update(sqlite3 *db, int64_t environment_id, const ModelEnvironmentSettings *settings,
                             ModelEnvironment *ret_conflict) {
        int r = sqlite_begin(db);
        if (r < 0)
                return r;
        r = model_environment_settings_conflict(db, environment_id, settings, ret_conflict);
        if (r >= 0)
                r = update_environment(db, environment_id, settings);
        return sqlite_end(db, r);
}

/* The body of model_environment_create(), inside its transaction. */
static int insert_environment(sqlite3 *db, int64_t project_id, const char *name, const char *after,
                              const ModelAllocation *alloc, ModelEnvironmentSettings st,
                              ModelEnvironment *ret_conflict) {
        _cleanup_(model_environment_done) ModelEnvironment prev = {};
        _cleanup_(model_project_done) ModelProject p = {};
        unsigned n, position;
        int r;

        r = model_project_get_by_id(db, project_id, &p);
        if (r < 0)
                return r;
        r = sqlite_count(db, "SELECT count(*) FROM environments WHERE project_id = ?1",
                         SQL_ARGS(SQL_INT(project_id)), &n);
        if (r < 0)
                return r;
        if (n >= MODEL_ENVS_MAX)
                return -E2BIG;
        r = model_environment_get(db, project_id, name, &prev);
        if (r >= 0)
                return -EEXIST;
        if (r != -ENOENT)
                return r;
        r = model_environment_settings_conflict(db, 0, &st, ret_conflict);
        if (r < 0)
                return r;
        if (after) {
                r = model_environment_get(db, project_id, after, &prev);
                if (r < 0)
                        return r;
                position = prev.position + 1;
                /* Two steps so UNIQUE(project_id, position) never sees a transient duplicate. */
                r = shift_positions(db, project_id, position);
        } else
                r = sqlite_count(
                        db, "SELECT coalesce(max(position) + 1, 0) FROM environments WHERE project_id = ?1",
                        SQL_ARGS(SQL_INT(project_id)), &position);
        if (r < 0)
                return r;
        r = model_insert_environment(db, project_id, p.name, name, position, alloc, st.ingress_port);
        if (r < 0)
                return r;
        st.ingress_port = 0;
        return update_environment(db, sqlite3_last_insert_rowid(db), &st);
}

int model_environment_create(sqlite3 *db, int64_t project_id, const char *name, const char *after,
                             const ModelAllocation *alloc, const ModelEnvironmentSettings *settings,
                             ModelEnvironment *ret, ModelEnvironment *ret_conflict) {
        int r;

        r = sqlite_begin(db);
        if (r < 0)
                return r;
        r = sqlite_end(db, insert_environment(db, project_id, name, after, alloc,
                                              settings ? *settings : MODEL_ENVIRONMENT_SETTINGS_INIT,
                                              ret_conflict));
        if (r < 0)
                return r;
        if (ret)
                return model_environment_get(db, project_id, name, ret);
        return 0;
}

/* ---- addresses inside an environment's subnet (service and instance addresses) ---- */

static int parse_address(const char *text, void *ret) {
        return net_address_parse(text, ret);
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
        /* used_sql's addresses; what does not parse is no address of the subnet anyway. */
        r = sqlite_list_parsed(db, used_sql, SQL_ARGS(SQL_INT(environment_id)), parse_address, sizeof *used,
                               &used, &n_used);
        if (r < 0)
                return r;
        r = net_subnet_allocate_address(&subnet, first, last, used, n_used, &a);
        if (r == -ENOSPC)
                return -EADDRNOTAVAIL; /* all taken, not a full disk */
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
        return sqlite_list(db, &environment_row,
                           SELECT_ENVIRONMENT
                           " WHERE e.project_id != ?1"
                           " AND (EXISTS (SELECT 1 FROM releases r WHERE r.environment_id = e.id"
                           "              AND r.status IN ('" MODEL_RELEASE_DEPLOYING
                           "', '" MODEL_RELEASE_LIVE "'))"
                           "   OR EXISTS (SELECT 1 FROM instances i JOIN releases r ON r.id = i.release_id"
                           "              WHERE r.environment_id = e.id AND " MODEL_ACTIVE_INSTANCE_SQL "))"
                           " ORDER BY e.id",
                           SQL_ARGS(SQL_INT(exclude_project_id)), ret, ret_n);
}
