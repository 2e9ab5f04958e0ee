/* The deployer's lifecycle: workers for pending releases (one per component and environment at a time),
 * recovery at daemon start, and re-applying networks and routes from the database.  Every step is
 * persisted through the state layer, so a killed slipwayd restarted on the same database fails
 * interrupted deploys cleanly and keeps live releases serving. */
#include "deployer.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgroup-limits.h"
#include "deployer-internal.h"
#include "disk-space.h"
#include "env-network.h"
#include "fs-util.h"
#include "instance-setup.h"
#include "log.h"
#include "model.h"
#include "overlay.h"
#include "proxy-sync.h"
#include "sqlite-util.h"

void deployer_set_reason(char **reason, const char *fmt, ...) {
        char *m = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&m, fmt, ap) < 0)
                m = NULL;
        va_end(ap);
        free(*reason);
        *reason = m;
}

uint64_t deployer_mono_msec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000ULL + (uint64_t) ts.tv_nsec / 1000000ULL;
}

bool deployer_stopping(Deployer *d) {
        return __atomic_load_n(&d->stopping, __ATOMIC_ACQUIRE);
}

int deployer_instance_retire(Deployer *d, int64_t instance_id, const char *dir, const char *netns_recorded,
                             Instance *handle, bool graceful, DeployRetired *ret_how) {
        _cleanup_free_ char *netns = NULL, *ifname = NULL;
        _cleanup_instance_ Instance *i = handle;
        DeployRetired how = {};
        uint64_t start = deployer_mono_msec();
        int r;

        if (!i && d->supervisor)
                i = supervisor_release(d->supervisor, instance_id);
        if (!i)
                (void) instance_adopt(dir, &i); /* fails when it is not running: nothing to stop */
        how.was_running = i != NULL;
        if (i && graceful)
                how.killed =
                        instance_stop(i, 0, DEPLOY_STOP_GRACE_MS) <= 0; /* kills after the grace period */
        else if (i) {
                (void) instance_kill(i);
                how.killed = true;
        }
        how.stop_ms = deployer_mono_msec() - start;
        if (ret_how)
                *ret_how = how;
        r = deploy_instance_names(d->state_dir, instance_id, netns_recorded, &netns, &ifname, NULL);
        if (r < 0)
                return r;
        return instance_setup_teardown(dir, netns, ifname);
}

static void *worker_main(void *userdata) {
        Worker *w = userdata;
        Deployer *d = w->d;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_free_ char *reason = NULL;
        int r;

        r = sqlite_open(d->db_path, &db);
        if (r < 0) {
                log_error_errno(r, "Deploy of release %lld: cannot open the database: %m",
                                (long long) w->release_id);
                goto done;
        }
        r = deployer_run_release(w, db, &reason);
        if (r < 0) {
                if (disk_errno_is_full(r)) {
                        /* Whichever step ran out of space, the person needs which disk and what to run. */
                        char msg[768], hint[512];

                        log_info("Release %lld: %s", (long long) w->release_id, strempty(reason));
                        disk_full_describe(d->state_dir, msg, sizeof msg, hint, sizeof hint);
                        deployer_set_reason(&reason, "%s %s", msg, hint);
                } else if (!reason)
                        deployer_set_reason(&reason, "The deploy failed: %s.", strerror(-r));
                log_info("Release %lld failed: %s", (long long) w->release_id, strempty(reason));
                model_deploy_log_appendf(db, w->release_id, "failed: %s", strempty(reason));
                r = model_release_set_status(db, w->release_id, MODEL_RELEASE_FAILED, reason);
                /* A release must not stay "deploying" for want of a few pages: the reserve is for this. */
                if (disk_errno_is_full(r) && disk_reserve_release(d->state_dir) > 0)
                        r = model_release_set_status(db, w->release_id, MODEL_RELEASE_FAILED, reason);
                if (r < 0)
                        log_warning_errno(r, "Cannot mark release %lld failed: %m",
                                          (long long) w->release_id);
        } else if (r == 0)
                log_info("Release %lld was rolled back by its bake window.", (long long) w->release_id);
        else
                log_info("Release %lld is live.", (long long) w->release_id);
done:
        __atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
        if (d->wake)
                d->wake(d->wake_userdata);
        return NULL;
}

int deployer_new(const DeployerConfig *cfg, Deployer **ret) {
        Deployer *d;
        int r;

        d = calloc(1, sizeof *d);
        if (!d)
                return -ENOMEM;
        d->state_dir = strdup(cfg->state_dir);
        d->host = cfg->host;
        d->bake_default_ms = cfg->bake_default_ms;
        d->vault = cfg->vault;
        d->db_path = strdup(cfg->db_path);
        d->layers_dir = path_join(cfg->state_dir, "layers");
        d->shim_dir = path_join(cfg->state_dir, "instances/.shim");
        d->instances_dir = path_join(cfg->state_dir, "instances");
        d->catalog = cfg->catalog;
        d->store = cfg->store;
        d->wake = cfg->wake;
        d->wake_userdata = cfg->wake_userdata;
        if (!d->state_dir || !d->db_path || !d->layers_dir || !d->shim_dir || !d->instances_dir) {
                r = -ENOMEM;
                goto fail;
        }
        r = mkdir_p(d->instances_dir, 0700);
        if (r >= 0)
                r = overlay_shim_ensure(d->shim_dir);
        if (r >= 0)
                (void) instance_setup_userns_enabled(d->shim_dir, NULL); /* decided and logged at start */
        if (r >= 0)
                r = sqlite_open(d->db_path, &d->db);
        if (r < 0)
                goto fail;
        *ret = d;
        return 0;
fail:
        deployer_free(d);
        return r;
}

Deployer *deployer_free(Deployer *d) {
        if (!d)
                return NULL;
        __atomic_store_n(&d->stopping, 1, __ATOMIC_RELEASE);
        while (d->workers) {
                Worker *w = d->workers;
                d->workers = w->next;
                pthread_join(w->thread, NULL);
                free(w);
        }
        supervisor_free(d->supervisor);
        sqlite3_close_v2(d->db);
        free(d->state_dir);
        free(d->db_path);
        free(d->layers_dir);
        free(d->shim_dir);
        free(d->instances_dir);
        free(d);
        return NULL;
}

static bool target_busy(Deployer *d, int64_t component_id, int64_t environment_id) {
        for (Worker *w = d->workers; w; w = w->next)
                if (w->component_id == component_id && w->environment_id == environment_id)
                        return true;
        return false;
}

void deployer_reconcile(void *userdata) {
        Deployer *d = userdata;
        ModelRelease *pending = NULL;
        size_t n = 0;

        /* Reap finished workers. */
        for (Worker **p = &d->workers; *p;) {
                Worker *w = *p;
                if (__atomic_load_n(&w->done, __ATOMIC_ACQUIRE)) {
                        pthread_join(w->thread, NULL);
                        *p = w->next;
                        free(w);
                } else
                        p = &w->next;
        }
        if (deployer_stopping(d))
                return;

        /* Oldest pending release first; one deploy per (component, environment) at a time. */
        if (model_release_list_by_status(d->db, MODEL_RELEASE_PENDING, &pending, &n) < 0)
                return;
        for (size_t k = 0; k < n; k++) {
                int64_t id = pending[k].id, c = pending[k].component_id, e = pending[k].environment_id;
                Worker *w;

                if (target_busy(d, c, e))
                        continue;
                w = calloc(1, sizeof *w);
                if (!w)
                        break;
                *w = (Worker) { .d = d, .release_id = id, .component_id = c, .environment_id = e };
                if (model_release_set_status(d->db, id, MODEL_RELEASE_DEPLOYING, NULL) < 0) {
                        free(w);
                        continue;
                }
                if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
                        (void) model_release_set_status(d->db, id, MODEL_RELEASE_FAILED,
                                                        "Cannot start a deploy thread.");
                        free(w);
                        continue;
                }
                w->next = d->workers;
                d->workers = w;
        }
        model_releases_free(pending, n);
}

int deployer_restore_networks(Deployer *d) {
        _cleanup_free_ char *err = NULL;
        int r;

        r = env_network_apply(d->host, d->db, 0, &err);
        if (r < 0)
                log_debug("Cannot restore the environment networks: %s", strempty(err));
        return r;
}

/* Points the routes of every live release (of one environment, or all with environment_id 0) at its
 * ready instance.  Each failure is logged; the first one's message goes to ret_error (may be NULL) and
 * makes the result -EIO, after every release was tried. */
static int apply_live_routes(Deployer *d, sqlite3 *db, int64_t environment_id, char **ret_error) {
        ModelInstance *v = NULL;
        size_t n = 0;
        int r, result = 0;

        r = model_instance_list_serving(db, environment_id, &v, &n);
        if (r < 0)
                return r;
        for (size_t k = 0; k < n; k++) {
                _cleanup_(deploy_target_done) DeployTarget t = {};
                _cleanup_free_ char *e = NULL;
                struct in_addr a;

                if (net_address_parse(v[k].address ?: "", &a) < 0)
                        continue;
                if (deploy_target_load(db, v[k].release_id, &t, &e) < 0 ||
                    deploy_target_load_image(&t, d->store, &e) < 0 ||
                    proxy_sync_routes_apply(d->state_dir, &t, a, false, &e) < 0) {
                        log_warning("Cannot apply the routes of release %lld: %s",
                                    (long long) v[k].release_id, strempty(e));
                        if (result == 0 && ret_error)
                                *ret_error = TAKE_PTR(e);
                        result = -EIO;
                }
        }
        model_instances_free(v, n);
        return result;
}

int deployer_refresh_environment(void *userdata, int64_t environment_id, char **ret_error) {
        Deployer *d = userdata;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        int r;

        r = sqlite_open(d->db_path, &db);
        if (r < 0)
                return r;
        r = env_network_apply(d->host, db, 0, ret_error);
        if (r < 0)
                return r;
        return apply_live_routes(d, db, environment_id, ret_error);
}

/* Retires every instance listed and marks it `state`. */
static void retire_all(Deployer *d, ModelInstance *v, size_t n, const char *state) {
        for (size_t k = 0; k < n; k++) {
                if (!isempty(v[k].dir))
                        (void) deployer_instance_retire(d, v[k].id, v[k].dir, v[k].netns, NULL, false, NULL);
                (void) model_instance_set_state(d->db, v[k].id, state);
        }
        model_instances_free(v, n);
}

/* Whether s is an instance directory's name (a row id in decimal), and which. */
static bool instance_dir_name(const char *s, int64_t *ret_id) {
        char *end;
        long long v;

        if (!s || s[0] < '1' || s[0] > '9')
                return false;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno != 0 || *end || v <= 0)
                return false;
        *ret_id = v;
        return true;
}

/* Directories in DIR/instances that no instance row owns: left by an older slipwayd's project delete
 * (which kept them), or by a crash between a delete and the removal.  A new instance must never find one,
 * so they go at start.  A row is made before its directory, so a deploy running meanwhile is safe. */
static void remove_orphan_dirs(Deployer *d) {
        _cleanup_(closedirp) DIR *dir = opendir(d->instances_dir);
        unsigned removed = 0;

        if (!dir) {
                log_warning_errno(-errno, "Cannot list %s: %m", d->instances_dir);
                return;
        }
        for (struct dirent *de; (de = readdir_no_dot(dir));) {
                _cleanup_(model_instance_done) ModelInstance row = {};
                _cleanup_free_ char *path = NULL;
                int64_t id;
                int r;

                if (!instance_dir_name(de->d_name, &id))
                        continue;
                r = model_instance_get(d->db, id, &row);
                if (r != -ENOENT)
                        continue; /* owned, or unknown: kept */
                path = path_join(d->instances_dir, de->d_name);
                if (!path)
                        return;
                r = instance_setup_remove(path);
                if (r < 0)
                        log_warning_errno(r, "Cannot remove %s, which no instance owns: %m", path);
                else
                        removed++;
        }
        if (removed > 0)
                log_info("Removed %u instance director%s that no instance owns.", removed,
                         removed == 1 ? "y" : "ies");
}

/* Releases a killed daemon left deploying: failed, finished now, and the deploy log says why. */
static int fail_interrupted_releases(Deployer *d) {
        ModelRelease *v = NULL;
        size_t n = 0;
        int r;

        r = model_release_list_by_status(d->db, MODEL_RELEASE_DEPLOYING, &v, &n);
        if (r < 0)
                return r;
        for (size_t k = 0; k < n; k++) {
                model_deploy_log_appendf(d->db, v[k].id, "%s", DEPLOYER_RESTART_LOG_LINE);
                r = model_release_set_status(d->db, v[k].id, MODEL_RELEASE_FAILED, DEPLOYER_RESTART_REASON);
                if (r < 0)
                        log_warning_errno(r, "Cannot mark release %lld failed: %m", (long long) v[k].id);
                else
                        log_info("Release %lld was deploying when slipwayd stopped; marked failed.",
                                 (long long) v[k].id);
        }
        model_releases_free(v, n);
        /* Any the loop could not mark (the same update, in one statement). */
        return model_release_fail_all(d->db, MODEL_RELEASE_DEPLOYING, DEPLOYER_RESTART_REASON);
}

int deployer_recover(Deployer *d) {
        _cleanup_free_ char *err = NULL;
        ModelInstance *v = NULL;
        size_t n = 0;
        int r;

        /* Deploys a killed daemon left half-way fail cleanly: their new instances go, the old stay. */
        r = model_instance_list_active_by_release_status(d->db, MODEL_RELEASE_DEPLOYING, &v, &n);
        if (r < 0)
                return r;
        retire_all(d, v, n, MODEL_INSTANCE_FAILED);
        r = fail_interrupted_releases(d);
        if (r < 0)
                return r;
        remove_orphan_dirs(d);
        /* Instances of superseded releases that were still draining: stop them now. */
        r = model_instance_list_by_state(d->db, MODEL_INSTANCE_DRAINING, &v, &n);
        if (r < 0)
                return r;
        retire_all(d, v, n, MODEL_INSTANCE_STOPPED);
        /* Bake windows a stop left open: their releases stay live, the standby instances go. */
        r = deployer_bake_recover(d);
        if (r < 0)
                return r;
        /* Cgroups of instances that ended while no daemon watched (a crash between marking one stopped and
         * its teardown): gone with their processes.  No-op for those already removed. */
        r = model_instance_list_ended(d->db, &v, &n);
        if (r < 0)
                return r;
        for (size_t k = 0; k < n; k++) {
                const char *netns = v[k].netns;
                if (!isempty(netns) && cgroup_limits_remove(netns) == -EBUSY &&
                    cgroup_limits_kill(netns) > 0)
                        (void) cgroup_limits_remove(netns);
                /* And its tmpfs (bundle and values), which outlives a daemon but not the instance. */
                if (!isempty(netns))
                        (void) instance_run_dir_remove(netns);
        }
        model_instances_free(v, n);

        r = env_network_apply(d->host, d->db, 0, &err);
        if (r < 0)
                log_warning("Cannot restore the environment networks: %s", strempty(err));

        /* Routes of live releases, as the database says (the proxy keeps its table, but a crash between
         * a swap and its commit would leave the proxy ahead of the database). */
        r = apply_live_routes(d, d->db, 0, NULL);
        if (r < 0)
                return r;

        SupervisorConfig sc = {
                .state_dir = d->state_dir,
                .db_path = d->db_path,
                .layers_dir = d->layers_dir,
                .shim_dir = d->shim_dir,
                .store = d->store,
                .vault = d->vault,
        };
        r = supervisor_start(&sc, &d->supervisor);
        if (r < 0)
                return r;
        /* Releases that were pending when the daemon stopped start now. */
        if (d->wake)
                d->wake(d->wake_userdata);
        return 0;
}
