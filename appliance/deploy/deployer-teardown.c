/* Project teardown before its rows are deleted: every instance stopped (marked stopped first, under the
 * supervisor lock, so nothing restarts it) and its files removed, its routes and bridges removed.  Invariant: every step is
 * tried even after one fails, and each failure is reported to the caller, never dropped. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "deployer-internal.h"
#include "env-network.h"
#include "host-reconcile.h"
#include "instance-setup.h"
#include "json-util.h"
#include "log.h"
#include "model.h"
#include "proxy-client.h"
#include "proxy-sync.h"
#include "report-text.h"
#include "sqlite-util.h"
#include "string-util.h"

/* What could not be removed: the first error and every message, joined with "; ". */
typedef struct TeardownErrors {
        int error;
        char *message;
} TeardownErrors;

static void teardown_fail(TeardownErrors *e, int r, const char *fmt, ...) _printf_(3, 4);
static void teardown_fail(TeardownErrors *e, int r, const char *fmt, ...) {
        _cleanup_free_ char *m = NULL;
        va_list ap;

        if (e->error == 0)
                e->error = r < 0 ? r : -EIO;
        va_start(ap, fmt);
        m = report_vformat(fmt, ap);
        va_end(ap);
        if (!m)
                return;
        log_warning("Teardown: %s", m);
        report_join(&e->message, m);
}

/* Whether a route name (svc-ENV-…, ing-ENV-…, host-ENV-…) belongs to one of envs. */
static bool route_of(const char *name, const ModelEnvironment *envs, size_t n_envs) {
        long long e;

        if (!name || (sscanf(name, "svc-%lld-", &e) != 1 && sscanf(name, "ing-%lld-", &e) != 1 &&
                      sscanf(name, "host-%lld-", &e) != 1))
                return false;
        for (size_t k = 0; k < n_envs; k++)
                if (envs[k].id == e)
                        return true;
        return false;
}

static void stop_instances(Deployer *d, sqlite3 *db, int64_t project_id, size_t *ret_n,
                           TeardownErrors *errs) {
        _cleanup_free_ Instance **h = NULL;
        ModelInstance *v = NULL;
        size_t n = 0;
        int r;

        /* Marked stopped first (under the supervisor lock) so nothing restarts them. */
        supervisor_lock(d->supervisor);
        r = model_instance_list_active_of_project(db, project_id, &v, &n);
        if (r < 0)
                teardown_fail(errs, r, "cannot list the project's instances: %s", strerror(-r));
        for (size_t i = 0; i < n; i++) {
                r = model_instance_set_state(db, v[i].id, MODEL_INSTANCE_STOPPED);
                if (r < 0)
                        teardown_fail(errs, r, "cannot mark instance %lld stopped: %s", (long long) v[i].id,
                                      strerror(-r));
        }
        supervisor_unlock(d->supervisor);

        /* All get their stop signal at once, then each is waited for (and killed after the grace period). */
        h = calloc(n ?: 1, sizeof *h);
        if (!h && n > 0)
                teardown_fail(errs, -ENOMEM, "out of memory while stopping instances");
        for (size_t i = 0; h && i < n; i++) {
                h[i] = d->supervisor ? supervisor_release(d->supervisor, v[i].id) : NULL;
                if (!h[i])
                        (void) instance_adopt(v[i].dir, &h[i]); /* not running any more: nothing to stop */
                if (h[i])
                        (void) instance_stop_begin(h[i], 0);
        }
        for (size_t i = 0; i < n; i++) {
                r = deployer_instance_retire(d, v[i].id, v[i].dir, v[i].netns, h ? h[i] : NULL, true, NULL);
                if (r < 0)
                        teardown_fail(errs, r, "cannot remove the mount, veth or netns of instance %lld: %s",
                                      (long long) v[i].id, strerror(-r));
        }
        *ret_n = n;
        model_instances_free(v, n);
}

/* Every instance of the project (stopped, failed and superseded ones too, all stopped by now): its
 * directory with the overlay upper and work dir, logs, bundle and hosts file.  A failed instance's logs
 * are kept while its release is in the history; the history goes with the project, and they with it. */
static void remove_instance_files(Deployer *d, sqlite3 *db, int64_t project_id, TeardownErrors *errs) {
        ModelInstance *v = NULL;
        size_t n = 0;
        int r;

        r = model_instance_list_of_project(db, project_id, &v, &n);
        if (r < 0) {
                teardown_fail(errs, r, "cannot list the project's instances: %s", strerror(-r));
                return;
        }
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *dir = NULL;

                /* The path from the id, never from the row's text: a database copied from elsewhere must
                 * not make this remove another directory. */
                if (asprintf(&dir, "%s/%lld", d->instances_dir, (long long) v[i].id) < 0) {
                        teardown_fail(errs, -ENOMEM, "out of memory while removing instance files");
                        break;
                }
                /* Each was torn down when it ended or just now; again in case that failed half-way (a
                 * no-op otherwise): nothing may run on, or stay mounted over, what is removed. */
                (void) deployer_instance_retire(d, v[i].id, dir, v[i].netns, NULL, false, NULL);
                r = instance_setup_remove(dir);
                if (r == -EBUSY)
                        teardown_fail(errs, r, "cannot remove %s: its root file system is still mounted",
                                      dir);
                else if (r < 0)
                        teardown_fail(errs, r, "cannot remove %s: %s", dir, strerror(-r));
        }
        model_instances_free(v, n);
}

static void remove_routes(Deployer *d, const ModelEnvironment *envs, size_t n_envs, TeardownErrors *errs) {
        _cleanup_json_ json_t *req = json_pack("{s:s}", "cmd", "route-list"), *reply = NULL;
        json_t *rt;
        size_t i;
        int r;

        if (!req) {
                teardown_fail(errs, -ENOMEM, "out of memory while listing routes");
                return;
        }
        r = proxy_control_call(d->state_dir, req, &reply);
        if (r == -ENOENT || r == -ECONNREFUSED)
                return; /* slipway-proxy is not running: it holds no routes */
        if (r < 0) {
                teardown_fail(errs, r, "cannot list slipway-proxy's routes: %s", strerror(-r));
                return;
        }
        json_array_foreach(json_object_get(reply, "routes"), i, rt) {
                const char *name = json_string_value(json_object_get(rt, "name"));

                if (!route_of(name, envs, n_envs))
                        continue;
                r = proxy_sync_route_remove(d->state_dir, name, false);
                if (r < 0)
                        teardown_fail(errs, r, "cannot remove route %s: %s", name, strerror(-r));
        }
}

int deployer_teardown_project(void *userdata, int64_t project_id, const char *project, char **ret_error) {
        Deployer *d = userdata;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        TeardownErrors errs = {};
        ModelEnvironment *envs = NULL;
        size_t n_instances = 0, n_envs = 0;
        int r;

        r = sqlite_open(d->db_path, &db);
        if (r < 0) {
                if (ret_error && asprintf(ret_error, "Cannot open the database: %s", strerror(-r)) < 0)
                        *ret_error = NULL;
                return r;
        }
        /* No host check runs meanwhile: one that read the database before would re-create what goes. */
        host_reconcile_exclude_begin();
        stop_instances(d, db, project_id, &n_instances, &errs);
        remove_instance_files(d, db, project_id, &errs);

        /* Its environments: routes (named after the environment id) and bridges. */
        r = model_environment_list(db, project_id, &envs, &n_envs);
        if (r < 0)
                teardown_fail(&errs, r, "cannot list the project's environments: %s", strerror(-r));
        remove_routes(d, envs, n_envs, &errs);

        /* The isolation rules without the project's bridges, then the bridges themselves. */
        {
                _cleanup_free_ char *err = NULL;
                r = env_network_apply(d->host, db, project_id, &err);
                if (r < 0)
                        teardown_fail(&errs, r, "cannot update the isolation rules without project %s: %s",
                                      project, err ?: strerror(-r));
        }
        /* Only bridges named ours: a database copied from another state dir must not delete its bridges. */
        for (size_t k = 0; k < n_envs; k++) {
                if (!startswith(envs[k].bridge, d->host->bridge_prefix) &&
                    !startswith(envs[k].bridge, NET_BRIDGE_PREFIX_LEGACY))
                        continue;
                r = net_bridge_delete(envs[k].bridge);
                if (r < 0)
                        teardown_fail(&errs, r, "cannot delete bridge %s: %s", envs[k].bridge, strerror(-r));
        }
        model_environments_free(envs, n_envs);
        host_reconcile_exclude_end();

        log_info("Stopped %zu instance(s) of project %s.", n_instances, project);
        if (errs.error < 0) {
                if (ret_error)
                        *ret_error = TAKE_PTR(errs.message);
                free(errs.message);
                return errs.error;
        }
        return 0;
}
