/* Typed queries over projects, environments, components, service addresses, releases, instances and
 * the deploy log.  Multi-row changes (a project with its environments, an environment inserted in the
 * promotion order) run in one transaction, so a failure leaves nothing half-written. */
#include "model.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "address.h"
#include "ifname.h"
#include "sqlite-util.h"
#include "subnet-pool.h"

static int64_t now_sec(void) {
        return (int64_t)time(NULL);
}

static int64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int step_done(sqlite3_stmt *s) {
        int rc = sqlite3_step(s);
        if (rc != SQLITE_DONE)
                return sqlite_to_errno(rc) ?: -EIO;
        return 0;
}

static void bind_text_or_null(sqlite3_stmt *s, int i, const char *t) {
        if (t)
                sqlite3_bind_text(s, i, t, -1, SQLITE_STATIC);
        else
                sqlite3_bind_null(s, i);
}

/* ---- row types ---- */

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

void model_release_done(ModelRelease *r) {
        if (!r)
                return;
        free(r->environment_name);
        free(r->image_digest);
        free(r->spec);
        free(r->status);
        free(r->reason);
        memset(r, 0, sizeof *r);
}

void model_releases_free(ModelRelease *r, size_t n) {
        for (size_t i = 0; i < n; i++)
                model_release_done(&r[i]);
        free(r);
}

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

void model_service_addresses_free(ModelServiceAddress *a, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(a[i].component_name);
                free(a[i].address);
        }
        free(a);
}

void model_log_lines_free(ModelLogLine *l, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(l[i].line);
        free(l);
}

/* ---- generic row readers ---- */

typedef int (*read_row_fn)(sqlite3_stmt *s, void *ret);
typedef void (*done_row_fn)(void *row);

static int query_one(sqlite3_stmt *s, read_row_fn read, void *ret) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return sqlite_to_errno(rc) ?: -EIO;
        return read(s, ret);
}

static int query_all(sqlite3_stmt *s, read_row_fn read, done_row_fn done, size_t size, void **ret,
                     size_t *ret_n) {
        char *v = NULL;
        size_t n = 0;
        int r, rc;

        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                char *nv = realloc(v, (n + 1) * size);
                if (!nv) {
                        r = -ENOMEM;
                        goto fail;
                }
                v = nv;
                memset(v + n * size, 0, size);
                r = read(s, v + n * size);
                if (r < 0)
                        goto fail;
                n++;
        }
        if (rc != SQLITE_DONE) {
                r = sqlite_to_errno(rc) ?: -EIO;
                goto fail;
        }
        *ret = v;
        *ret_n = n;
        return 0;
fail:
        for (size_t i = 0; i < n; i++)
                done(v + i * size);
        free(v);
        return r;
}

#define PROJECT_COLUMNS "p.id, p.name, p.created_at"

static int read_project(sqlite3_stmt *s, void *ret) {
        ModelProject p = {.id = sqlite3_column_int64(s, 0), .created_at = sqlite3_column_int64(s, 2)};
        int r = sqlite_column_strdup(s, 1, &p.name);
        if (r < 0)
                return r;
        *(ModelProject *)ret = p;
        return 0;
}

#define ENV_COLUMNS                                                                                         \
        "e.id, e.project_id, p.name, e.name, e.position, e.subnet, e.bridge, e.ingress_port, e.domain,"     \
        " e.egress, e.created_at"
#define ENV_FROM " FROM environments e JOIN projects p ON p.id = e.project_id"

static int read_environment(sqlite3_stmt *s, void *ret) {
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

#define COMPONENT_COLUMNS "c.id, c.project_id, p.name, c.name, c.image_ref, c.spec, c.created_at"
#define COMPONENT_FROM " FROM components c JOIN projects p ON p.id = c.project_id"

static int read_component(sqlite3_stmt *s, void *ret) {
        ModelComponent c = {
                .id = sqlite3_column_int64(s, 0),
                .project_id = sqlite3_column_int64(s, 1),
                .created_at = sqlite3_column_int64(s, 6),
        };
        int r;

        if ((r = sqlite_column_strdup(s, 2, &c.project_name)) < 0 || (r = sqlite_column_strdup(s, 3, &c.name)) < 0 ||
            (r = sqlite_column_strdup(s, 4, &c.image_ref)) < 0 || (r = sqlite_column_strdup(s, 5, &c.spec)) < 0) {
                model_component_done(&c);
                return r;
        }
        *(ModelComponent *)ret = c;
        return 0;
}

#define RELEASE_COLUMNS                                                                                     \
        "r.id, r.component_id, r.environment_id, e.name, r.image_digest, r.spec, r.status, r.reason,"       \
        " r.created_at, r.finished_at"
#define RELEASE_FROM " FROM releases r JOIN environments e ON e.id = r.environment_id"

static int read_release(sqlite3_stmt *s, void *ret) {
        ModelRelease rel = {
                .id = sqlite3_column_int64(s, 0),
                .component_id = sqlite3_column_int64(s, 1),
                .environment_id = sqlite3_column_int64(s, 2),
                .created_at = sqlite3_column_int64(s, 8),
                .finished_at = sqlite3_column_int64(s, 9),
        };
        int r;

        if ((r = sqlite_column_strdup(s, 3, &rel.environment_name)) < 0 ||
            (r = sqlite_column_strdup(s, 4, &rel.image_digest)) < 0 || (r = sqlite_column_strdup(s, 5, &rel.spec)) < 0 ||
            (r = sqlite_column_strdup(s, 6, &rel.status)) < 0 || (r = sqlite_column_strdup(s, 7, &rel.reason)) < 0) {
                model_release_done(&rel);
                return r;
        }
        *(ModelRelease *)ret = rel;
        return 0;
}

#define INSTANCE_COLUMNS "i.id, i.release_id, i.address, i.netns, i.dir, i.state, i.restarts, i.created_at"

static int read_instance(sqlite3_stmt *s, void *ret) {
        ModelInstance i = {
                .id = sqlite3_column_int64(s, 0),
                .release_id = sqlite3_column_int64(s, 1),
                .restarts = (unsigned)sqlite3_column_int64(s, 6),
                .created_at = sqlite3_column_int64(s, 7),
        };
        int r;

        if ((r = sqlite_column_strdup(s, 2, &i.address)) < 0 || (r = sqlite_column_strdup(s, 3, &i.netns)) < 0 ||
            (r = sqlite_column_strdup(s, 4, &i.dir)) < 0 || (r = sqlite_column_strdup(s, 5, &i.state)) < 0) {
                model_instance_done(&i);
                return r;
        }
        *(ModelInstance *)ret = i;
        return 0;
}

static void done_project(void *p) {
        model_project_done(p);
}
static void done_environment(void *p) {
        model_environment_done(p);
}
static void done_component(void *p) {
        model_component_done(p);
}
static void done_release(void *p) {
        model_release_done(p);
}
static void done_instance(void *p) {
        model_instance_done(p);
}

/* ---- allocation ---- */

static int env_subnets_in_use(sqlite3 *db, NetSubnet **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        NetSubnet *v = NULL;
        size_t n = 0;
        int r, rc;

        r = sqlite_prepare(db, "SELECT subnet FROM environments", &s);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                NetSubnet sn;
                if (net_subnet_parse((const char *)sqlite3_column_text(s, 0), &sn) < 0)
                        continue;
                NetSubnet *nv = realloc(v, (n + 1) * sizeof *v);
                if (!nv) {
                        free(v);
                        return -ENOMEM;
                }
                v = nv;
                v[n++] = sn;
        }
        if (rc != SQLITE_DONE) {
                free(v);
                return sqlite_to_errno(rc) ?: -EIO;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

int model_allocate_subnet(sqlite3 *db, const NetSubnet *pool, const NetSubnet *host, size_t n_host,
                          NetSubnet *ret) {
        _cleanup_free_ NetSubnet *used = NULL;
        size_t n_used = 0;
        int r;

        r = env_subnets_in_use(db, &used, &n_used);
        if (r < 0)
                return r;
        NetSubnet *all = realloc(used, (n_used + n_host + 1) * sizeof *used);
        if (!all)
                return -ENOMEM;
        used = all;
        for (size_t i = 0; i < n_host; i++)
                used[n_used++] = host[i];
        return net_subnet_pool_allocate(pool, used, n_used, ret);
}

int model_allocate_ingress_port(sqlite3 *db, unsigned base, unsigned *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r, rc;

        if (base == 0 || base + MODEL_INGRESS_PORTS_MAX > 65536)
                return -ERANGE;
        r = sqlite_prepare(db, "SELECT 1 FROM environments WHERE ingress_port = ?1", &s);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < MODEL_INGRESS_PORTS_MAX; i++) {
                sqlite3_reset(s);
                sqlite3_bind_int64(s, 1, base + i);
                rc = sqlite3_step(s);
                if (rc == SQLITE_DONE) {
                        *ret = base + i;
                        return 0;
                }
                if (rc != SQLITE_ROW)
                        return sqlite_to_errno(rc) ?: -EIO;
        }
        return -ENOSPC;
}

/* Test hook: when set, used instead of net_host_subnets() (unit tests without touching links). */
static const NetSubnet *host_subnets_override;
static size_t n_host_subnets_override;
static bool host_subnets_overridden;

void model_set_host_subnets(const NetSubnet *s, size_t n) {
        host_subnets_override = s;
        n_host_subnets_override = n;
        host_subnets_overridden = true;
}

static int insert_environment(sqlite3 *db, int64_t project_id, const char *project, const char *name,
                              unsigned position, unsigned ingress_base_port, unsigned ingress_port) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        _cleanup_free_ NetSubnet *host = NULL;
        _cleanup_free_ char *key = NULL;
        size_t n_host = 0;
        char bridge[IFNAMSIZ], cidr[NET_CIDR_STRING_MAX];
        NetSubnet pool, subnet;
        unsigned port;
        int r;

        r = net_subnet_parse(NET_SUBNET_POOL_DEFAULT, &pool);
        if (r < 0)
                return r;
        if (host_subnets_overridden)
                r = model_allocate_subnet(db, &pool, host_subnets_override, n_host_subnets_override,
                                          &subnet);
        else {
                r = net_host_subnets(&host, &n_host);
                if (r < 0)
                        return r;
                r = model_allocate_subnet(db, &pool, host, n_host, &subnet);
        }
        if (r < 0)
                return r;
        if (ingress_port > 0)
                port = ingress_port;
        else {
                r = model_allocate_ingress_port(db, ingress_base_port, &port);
                if (r < 0)
                        return r;
        }
        if (asprintf(&key, "%s/%s", project, name) < 0)
                return -ENOMEM;
        r = net_ifname_from_key("sw-", key, bridge);
        if (r < 0)
                return r;

        r = sqlite_prepare(
                db,
                "INSERT INTO environments(project_id, name, position, subnet, bridge, ingress_port,"
                "                         created_at)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, project_id);
        sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, position);
        sqlite3_bind_text(s, 4, net_subnet_format(&subnet, cidr), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 5, bridge, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 6, port);
        sqlite3_bind_int64(s, 7, now_sec());
        return step_done(s);
}

/* ---- projects ---- */

int model_project_get(sqlite3 *db, const char *name, ModelProject *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(db, "SELECT " PROJECT_COLUMNS " FROM projects p WHERE p.name = ?1", &s);
        if (r < 0)
                return r;
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        return query_one(s, read_project, ret);
}

int model_project_list(sqlite3 *db, ModelProject **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(db, "SELECT " PROJECT_COLUMNS " FROM projects p ORDER BY p.name", &s);
        if (r < 0)
                return r;
        return query_all(s, read_project, done_project, sizeof(ModelProject), (void **)ret, ret_n);
}

int model_project_create(sqlite3 *db, const char *name, char *const *envs, size_t n_envs,
                         unsigned ingress_base_port, ModelProject *ret) {
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
                sqlite3_bind_int64(s, 2, now_sec());
                r = step_done(s);
                if (r < 0)
                        goto fail;
                id = sqlite3_last_insert_rowid(db);
        }
        for (size_t i = 0; i < n_envs; i++) {
                r = insert_environment(db, id, name, envs[i], (unsigned)i, ingress_base_port, 0);
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
        r = step_done(s);
        if (r < 0)
                return r;
        return sqlite3_changes(db) > 0 ? 0 : -ENOENT;
}

static int count_query(sqlite3 *db, const char *sql, int64_t arg, unsigned *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r, rc;

        r = sqlite_prepare(db, sql, &s);
        if (r < 0)
                return r;
        if (sqlite3_bind_parameter_count(s) > 0)
                sqlite3_bind_int64(s, 1, arg);
        rc = sqlite3_step(s);
        if (rc != SQLITE_ROW)
                return sqlite_to_errno(rc) ?: -EIO;
        *ret = (unsigned)sqlite3_column_int64(s, 0);
        return 0;
}

#define ACTIVE_INSTANCE "i.state NOT IN ('stopped', 'failed')"

int model_project_count_live_instances(sqlite3 *db, int64_t project_id, unsigned *ret) {
        return count_query(db,
                           "SELECT count(*) FROM instances i JOIN releases r ON r.id = i.release_id"
                           " JOIN components c ON c.id = r.component_id"
                           " WHERE c.project_id = ?1 AND " ACTIVE_INSTANCE,
                           project_id, ret);
}

int model_count(sqlite3 *db, const char *table, unsigned *ret) {
        static const char *const tables[] = {"projects", "environments", "components", "releases",
                                             "instances"};
        _cleanup_free_ char *sql = NULL;

        for (size_t i = 0; i < ELEMENTSOF(tables); i++)
                if (streq(table, tables[i])) {
                        if (asprintf(&sql, "SELECT count(*) FROM %s", tables[i]) < 0)
                                return -ENOMEM;
                        return count_query(db, sql, 0, ret);
                }
        return -EINVAL;
}

int model_count_live_instances(sqlite3 *db, unsigned *ret) {
        return count_query(db, "SELECT count(*) FROM instances i WHERE " ACTIVE_INSTANCE, 0, ret);
}

/* ---- environments ---- */

int model_environment_get(sqlite3 *db, int64_t project_id, const char *name, ModelEnvironment *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(db, "SELECT " ENV_COLUMNS ENV_FROM " WHERE e.project_id = ?1 AND e.name = ?2",
                               &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, project_id);
        sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
        return query_one(s, read_environment, ret);
}

int model_environment_get_by_id(sqlite3 *db, int64_t id, ModelEnvironment *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(db, "SELECT " ENV_COLUMNS ENV_FROM " WHERE e.id = ?1", &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, id);
        return query_one(s, read_environment, ret);
}

int model_environment_list(sqlite3 *db, int64_t project_id, ModelEnvironment **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(
                db, "SELECT " ENV_COLUMNS ENV_FROM " WHERE e.project_id = ?1 ORDER BY e.position", &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, project_id);
        return query_all(s, read_environment, done_environment, sizeof(ModelEnvironment), (void **)ret,
                         ret_n);
}

int model_environment_list_all(sqlite3 *db, ModelEnvironment **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(db, "SELECT " ENV_COLUMNS ENV_FROM " ORDER BY e.id", &s);
        if (r < 0)
                return r;
        return query_all(s, read_environment, done_environment, sizeof(ModelEnvironment), (void **)ret,
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
                r = step_done(s);
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
                r = query_one(s, read_environment, &other);
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
                r = query_one(s, read_environment, &other);
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
        bind_text_or_null(s, 2, st->domain);
        sqlite3_bind_int64(s, 3, st->egress);
        sqlite3_bind_int64(s, 4, st->ingress_port);
        r = step_done(s);
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
                             unsigned ingress_base_port, const ModelEnvironmentSettings *settings,
                             ModelEnvironment *ret, ModelEnvironment *ret_conflict) {
        ModelEnvironmentSettings st = settings ? *settings : MODEL_ENVIRONMENT_SETTINGS_INIT;
        _cleanup_(model_environment_done) ModelEnvironment prev = {};
        ModelProject p = {};
        unsigned n, position;
        int r;

        r = sqlite_begin(db);
        if (r < 0)
                return r;
        {
                _cleanup_stmt_ sqlite3_stmt *s = NULL;
                r = sqlite_prepare(db, "SELECT " PROJECT_COLUMNS " FROM projects p WHERE p.id = ?1", &s);
                if (r < 0)
                        goto fail;
                sqlite3_bind_int64(s, 1, project_id);
                r = query_one(s, read_project, &p);
                if (r < 0)
                        goto fail;
        }
        r = count_query(db, "SELECT count(*) FROM environments WHERE project_id = ?1", project_id, &n);
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
                r = count_query(
                        db, "SELECT coalesce(max(position) + 1, 0) FROM environments WHERE project_id = ?1",
                        project_id, &position);
                if (r < 0)
                        goto fail;
        }
        r = insert_environment(db, project_id, p.name, name, position, ingress_base_port, st.ingress_port);
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

/* ---- components ---- */

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
        bind_text_or_null(s, 3, image_ref);
        sqlite3_bind_text(s, 4, spec_json, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 5, now_sec());
        r = step_done(s);
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
        return query_one(s, read_component, ret);
}

int model_component_get_by_id(sqlite3 *db, int64_t id, ModelComponent *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(db, "SELECT " COMPONENT_COLUMNS COMPONENT_FROM " WHERE c.id = ?1", &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, id);
        return query_one(s, read_component, ret);
}

int model_component_list(sqlite3 *db, int64_t project_id, ModelComponent **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(
                db, "SELECT " COMPONENT_COLUMNS COMPONENT_FROM " WHERE c.project_id = ?1 ORDER BY c.name",
                &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, project_id);
        return query_all(s, read_component, done_component, sizeof(ModelComponent), (void **)ret, ret_n);
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

/* ---- service addresses ---- */

int model_service_address_get(sqlite3 *db, int64_t component_id, int64_t environment_id, char **ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r, rc;

        r = sqlite_prepare(
                db, "SELECT address FROM service_addresses WHERE component_id = ?1 AND environment_id = ?2",
                &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, component_id);
        sqlite3_bind_int64(s, 2, environment_id);
        rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return sqlite_to_errno(rc) ?: -EIO;
        return sqlite_column_strdup(s, 0, ret);
}

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

static int allocate_in_env(sqlite3 *db, int64_t environment_id, const char *used_sql, uint32_t first,
                           uint32_t last, char **ret) {
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

int model_service_address_ensure(sqlite3 *db, int64_t component_id, int64_t environment_id, char **ret) {
        _cleanup_free_ char *a = NULL;
        int r;

        r = model_service_address_get(db, component_id, environment_id, ret);
        if (r != -ENOENT)
                return r;
        r = sqlite_begin(db);
        if (r < 0)
                return r;
        r = allocate_in_env(db, environment_id,
                            "SELECT address FROM service_addresses WHERE environment_id = ?1",
                            MODEL_SERVICE_ADDRESS_FIRST, MODEL_SERVICE_ADDRESS_LAST, &a);
        if (r < 0)
                goto fail;
        {
                _cleanup_stmt_ sqlite3_stmt *s = NULL;
                r = sqlite_prepare(db,
                                   "INSERT INTO service_addresses(component_id, environment_id, address)"
                                   " VALUES (?1, ?2, ?3)",
                                   &s);
                if (r < 0)
                        goto fail;
                sqlite3_bind_int64(s, 1, component_id);
                sqlite3_bind_int64(s, 2, environment_id);
                sqlite3_bind_text(s, 3, a, -1, SQLITE_STATIC);
                r = step_done(s);
                if (r < 0)
                        goto fail;
        }
        r = sqlite_commit(db);
        if (r < 0)
                goto fail;
        *ret = TAKE_PTR(a);
        return 0;
fail:
        sqlite_rollback(db);
        return r;
}

int model_service_address_list(sqlite3 *db, int64_t environment_id, ModelServiceAddress **ret,
                               size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        ModelServiceAddress *v = NULL;
        size_t n = 0;
        int r, rc;

        r = sqlite_prepare(
                db,
                "SELECT sa.component_id, c.name, sa.environment_id, sa.address FROM service_addresses sa"
                " JOIN components c ON c.id = sa.component_id WHERE sa.environment_id = ?1"
                " ORDER BY c.name",
                &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, environment_id);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                ModelServiceAddress *nv = realloc(v, (n + 1) * sizeof *v);
                if (!nv) {
                        r = -ENOMEM;
                        goto fail;
                }
                v = nv;
                v[n] = (ModelServiceAddress){
                        .component_id = sqlite3_column_int64(s, 0),
                        .environment_id = sqlite3_column_int64(s, 2),
                };
                n++;
                if ((r = sqlite_column_strdup(s, 1, &v[n - 1].component_name)) < 0 ||
                    (r = sqlite_column_strdup(s, 3, &v[n - 1].address)) < 0)
                        goto fail;
        }
        if (rc != SQLITE_DONE) {
                r = sqlite_to_errno(rc) ?: -EIO;
                goto fail;
        }
        *ret = v;
        *ret_n = n;
        return 0;
fail:
        model_service_addresses_free(v, n);
        return r;
}

/* ---- releases ---- */

int model_release_create(sqlite3 *db, int64_t component_id, int64_t environment_id, const char *image_digest,
                         const char *spec_json, int64_t *ret_id) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(
                db,
                "INSERT INTO releases(component_id, environment_id, image_digest, spec, status,"
                "                     created_at)"
                " VALUES (?1, ?2, ?3, ?4, '" MODEL_RELEASE_PENDING "', ?5)",
                &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, component_id);
        sqlite3_bind_int64(s, 2, environment_id);
        sqlite3_bind_text(s, 3, image_digest, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, spec_json, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 5, now_sec());
        r = step_done(s);
        if (r < 0)
                return r; /* -ENOENT: a foreign key failed */
        if (ret_id)
                *ret_id = sqlite3_last_insert_rowid(db);
        return 0;
}

int model_release_get(sqlite3 *db, int64_t id, ModelRelease *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(db, "SELECT " RELEASE_COLUMNS RELEASE_FROM " WHERE r.id = ?1", &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, id);
        return query_one(s, read_release, ret);
}

int model_release_set_status(sqlite3 *db, int64_t id, const char *status, const char *reason) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        bool finished = streq(status, MODEL_RELEASE_LIVE) || streq(status, MODEL_RELEASE_FAILED) ||
                        streq(status, MODEL_RELEASE_SUPERSEDED);
        int r;

        r = sqlite_prepare(db,
                           "UPDATE releases SET status = ?2, reason = ?3,"
                           " finished_at = CASE WHEN ?4 THEN coalesce(finished_at, ?5) ELSE NULL END"
                           " WHERE id = ?1",
                           &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_text(s, 2, status, -1, SQLITE_STATIC);
        bind_text_or_null(s, 3, reason);
        sqlite3_bind_int(s, 4, finished);
        sqlite3_bind_int64(s, 5, now_sec());
        r = step_done(s);
        if (r < 0)
                return r;
        return sqlite3_changes(db) > 0 ? 0 : -ENOENT;
}

int model_release_list(sqlite3 *db, int64_t component_id, int64_t environment_id, ModelRelease **ret,
                       size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(db,
                               "SELECT " RELEASE_COLUMNS RELEASE_FROM
                               " WHERE r.component_id = ?1 AND (?2 = 0 OR r.environment_id = ?2)"
                               " ORDER BY r.id DESC",
                               &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, component_id);
        sqlite3_bind_int64(s, 2, environment_id);
        return query_all(s, read_release, done_release, sizeof(ModelRelease), (void **)ret, ret_n);
}

int model_release_list_by_status(sqlite3 *db, const char *status, ModelRelease **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(
                db, "SELECT " RELEASE_COLUMNS RELEASE_FROM " WHERE r.status = ?1 ORDER BY r.id", &s);
        if (r < 0)
                return r;
        sqlite3_bind_text(s, 1, status, -1, SQLITE_STATIC);
        return query_all(s, read_release, done_release, sizeof(ModelRelease), (void **)ret, ret_n);
}

int model_release_get_live(sqlite3 *db, int64_t component_id, int64_t environment_id, ModelRelease *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(
                db,
                "SELECT " RELEASE_COLUMNS RELEASE_FROM
                " WHERE r.component_id = ?1 AND r.environment_id = ?2 AND r.status = '" MODEL_RELEASE_LIVE
                "' ORDER BY r.id DESC LIMIT 1",
                &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, component_id);
        sqlite3_bind_int64(s, 2, environment_id);
        return query_one(s, read_release, ret);
}

/* ---- instances ---- */

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
        sqlite3_bind_int64(s, 6, now_sec());
        r = step_done(s);
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
        return query_one(s, read_instance, ret);
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
        r = step_done(s);
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
        return query_all(s, read_instance, done_instance, sizeof(ModelInstance), (void **)ret, ret_n);
}

int model_instance_list_active(sqlite3 *db, ModelInstance **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(
                db, "SELECT " INSTANCE_COLUMNS " FROM instances i WHERE " ACTIVE_INSTANCE " ORDER BY i.id",
                &s);
        if (r < 0)
                return r;
        return query_all(s, read_instance, done_instance, sizeof(ModelInstance), (void **)ret, ret_n);
}

int model_instance_allocate_address(sqlite3 *db, int64_t environment_id, char **ret) {
        return allocate_in_env(db, environment_id,
                               "SELECT i.address FROM instances i JOIN releases r ON r.id = i.release_id"
                               " WHERE r.environment_id = ?1 AND " ACTIVE_INSTANCE,
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
        return query_one(s, read_instance, ret);
}

/* ---- deploy log ---- */

int model_deploy_log_append(sqlite3 *db, int64_t release_id, const char *line) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(db, "INSERT INTO deploy_log(release_id, at, line) VALUES (?1, ?2, ?3)", &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, release_id);
        sqlite3_bind_int64(s, 2, now_usec());
        sqlite3_bind_text(s, 3, line, -1, SQLITE_STATIC);
        r = step_done(s);
        return r;
}

int model_deploy_log_appendf(sqlite3 *db, int64_t release_id, const char *fmt, ...) {
        _cleanup_free_ char *line = NULL;
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = vasprintf(&line, fmt, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;
        return model_deploy_log_append(db, release_id, line);
}

int model_deploy_log_list(sqlite3 *db, int64_t release_id, ModelLogLine **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        ModelLogLine *v = NULL;
        size_t n = 0;
        int r, rc;

        r = sqlite_prepare(db, "SELECT at, line FROM deploy_log WHERE release_id = ?1 ORDER BY at, rowid",
                           &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, release_id);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                ModelLogLine *nv = realloc(v, (n + 1) * sizeof *v);
                if (!nv) {
                        r = -ENOMEM;
                        goto fail;
                }
                v = nv;
                v[n].at = sqlite3_column_int64(s, 0);
                r = sqlite_column_strdup(s, 1, &v[n].line);
                if (r < 0)
                        goto fail;
                n++;
        }
        if (rc != SQLITE_DONE) {
                r = sqlite_to_errno(rc) ?: -EIO;
                goto fail;
        }
        *ret = v;
        *ret_n = n;
        return 0;
fail:
        model_log_lines_free(v, n);
        return r;
}
