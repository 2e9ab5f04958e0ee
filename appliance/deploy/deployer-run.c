/* One release's deploy, on its worker thread: target, network, layers, a new instance, readiness, the
 * proxy swap, then the commit that makes it live (and, with a bake window, deployer-bake.c's watch).
 * Invariant: the previous live release is touched only after the new instance passed readiness and the
 * proxy swapped to it; until then a failure stops the new instance (its directory and logs stay) and
 * leaves the old one serving. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deployer-internal.h"
#include "env-network.h"
#include "image-catalog.h"
#include "instance-setup.h"
#include "log.h"
#include "model.h"
#include "proxy-sync.h"
#include "sqlite-util.h"

/* Deploys of other components in the same environment allocate too: pick and record at once. */
static pthread_mutex_t address_lock = PTHREAD_MUTEX_INITIALIZER;

int deployer_instance_row_create(Deployer *d, sqlite3 *db, const DeployTarget *t,
                                 struct in_addr *ret_address, int64_t *ret_id) {
        _cleanup_free_ char *address = NULL, *netns = NULL, *dir = NULL;
        struct in_addr a;
        int64_t id;
        int r;

        pthread_mutex_lock(&address_lock);
        r = model_instance_allocate_address(db, t->environment_id, &address);
        if (r >= 0)
                r = net_address_parse(address, &a);
        if (r >= 0)
                r = model_instance_create(db, t->release_id, address, "", "", MODEL_INSTANCE_STARTING, &id);
        pthread_mutex_unlock(&address_lock);
        if (r < 0)
                return r;

        r = deploy_instance_netns_new(d->state_dir, d->host ? d->host->id : NULL, id, &netns);
        if (r < 0)
                return r;
        if (asprintf(&dir, "%s/%lld", d->instances_dir, (long long) id) < 0)
                return -ENOMEM;
        /* Ids are never reused, so a directory here is no instance's: one left from before they were
         * (migration 4), or a restored database behind its files.  The new instance must not mount its
         * upper or inherit its logs. */
        if (access(dir, F_OK) >= 0) {
                log_warning("Instance directory %s exists before its instance; removing what it holds.",
                            dir);
                r = instance_setup_remove(dir);
                if (r < 0)
                        return log_warning_errno(r, "Cannot remove %s: %m", dir);
        }
        r = model_instance_set_paths(db, id, netns, dir);
        if (r < 0)
                return r;
        *ret_address = a;
        *ret_id = id;
        return 0;
}

void deployer_retire_previous(Deployer *d, sqlite3 *db, int64_t release_id, const ModelInstance *old,
                              size_t n_old, Instance **handles) {
        for (size_t k = 0; k < n_old; k++) {
                DeployRetired how;

                (void) deployer_instance_retire(d, old[k].id, old[k].dir, old[k].netns,
                                                handles ? TAKE_PTR(handles[k]) : NULL, true, &how);
                (void) model_instance_set_state(db, old[k].id, MODEL_INSTANCE_STOPPED);
                /* How long it took says whether the app heeds its stop signal: one that ignores it holds the
                 * component's next deploy for the whole grace. */
                if (!how.was_running)
                        model_deploy_log_appendf(db, release_id,
                                                 "previous instance %lld stopped (it was no longer running)",
                                                 (long long) old[k].id);
                else if (how.killed)
                        model_deploy_log_appendf(
                                db, release_id,
                                "previous instance %lld stopped: it did not exit within %u s "
                                "of its stop signal and was killed",
                                (long long) old[k].id, DEPLOY_STOP_GRACE_MS / 1000U);
                else
                        model_deploy_log_appendf(
                                db, release_id,
                                "previous instance %lld stopped %llu ms after its stop signal",
                                (long long) old[k].id, (unsigned long long) how.stop_ms);
        }
}

int deployer_run_release(Worker *w, sqlite3 *db, char **reason) {
        Deployer *d = w->d;
        _cleanup_(deploy_target_done) DeployTarget t = {};
        _cleanup_(deploy_plan_done) DeployPlan plan = {};
        _cleanup_instance_ Instance *inst = NULL;
        OciError oerr = {};
        struct in_addr address;
        int64_t instance_id = 0;
        ModelInstance *old = NULL;
        size_t n_old = 0;
        char addr[INET_ADDRSTRLEN];
        int r;

        r = deploy_target_load(db, w->release_id, &t, reason);
        if (r < 0)
                return r;
        model_deploy_log_appendf(db, t.release_id, "deploying %s to %s/%s (%s)", t.digest, t.project,
                                 t.environment, t.component);
        /* The values it pinned, decrypted: one that does not open fails the deploy before anything runs.
         * From here on the deploy log of the release is scrubbed of its secrets. */
        r = deploy_target_load_values(&t, d->vault, db, reason);
        if (r < 0)
                return r;

        r = env_network_apply(d->host, db, 0, reason);
        if (r < 0)
                return r;
        model_deploy_log_appendf(db, t.release_id, "network of %s ready (bridge %s)", t.environment,
                                 t.bridge);

        r = image_catalog_prepare_layers(d->catalog, t.digest, &oerr);
        if (r < 0) {
                deployer_set_reason(reason, "Cannot prepare the image's layers: %s",
                                    oerr.message[0] ? oerr.message : strerror(-r));
                return r;
        }
        r = deploy_target_load_image(&t, d->store, reason);
        if (r < 0)
                return r;
        model_deploy_log_appendf(db, t.release_id, "image layers ready");

        r = deployer_instance_row_create(d, db, &t, &address, &instance_id);
        if (r == -EADDRNOTAVAIL) {
                deployer_set_reason(reason, "No free instance address in %s: %s.", t.environment,
                                    strerror(-r));
                return r;
        }
        if (r < 0)
                return r;
        inet_ntop(AF_INET, &address, addr, sizeof addr);
        r = deploy_plan_build(db, &t, d->state_dir, d->layers_dir, d->shim_dir, d->store, instance_id,
                              address, &plan);
        if (r < 0) {
                deployer_set_reason(reason, "Cannot plan the instance: %s.", strerror(-r));
                goto fail;
        }
        r = instance_setup_prepare(&plan.plan, reason);
        if (r < 0)
                goto fail;
        r = instance_setup_start(&plan.plan, &inst);
        if (r < 0) {
                deployer_set_reason(reason, "Cannot start the instance: %s.", strerror(-r));
                goto fail;
        }
        const char *why_not = NULL;
        uid_t shift = 0;
        (void) instance_setup_uid_shift(plan.dir, &shift);
        (void) instance_setup_userns_enabled(d->shim_dir, &why_not);
        if (shift > 0)
                model_deploy_log_appendf(
                        db, t.release_id,
                        "instance %lld started at %s (machine %s, user namespace: root is host "
                        "uid %u)",
                        (long long) instance_id, addr, plan.machine, (unsigned) shift);
        else
                model_deploy_log_appendf(
                        db, t.release_id, "instance %lld started at %s (machine %s, no user namespace: %s)",
                        (long long) instance_id, addr, plan.machine, why_not ?: "it was set up without one");

        r = deployer_wait_ready(d, db, &t, inst, plan.dir, address, reason);
        if (r < 0)
                goto fail;
        model_deploy_log_appendf(db, t.release_id, "instance %lld is ready", (long long) instance_id);

        /* The bake window counts what the proxy answers for the new instance from the swap on. */
        uint32_t bake_ms = deployer_bake_ms(d, &t);
        ProxyTargetCounts base = {};
        if (bake_ms > 0)
                (void) proxy_sync_target_counts(d->state_dir, &t, address, &base);

        /* The swap: routes to the new instance; returns once the old one's requests finished. */
        r = proxy_sync_routes_apply(d->state_dir, &t, address, true, reason);
        if (r < 0) {
                deployer_set_reason(reason, "Cannot switch the proxy to the new instance: %s.",
                                    strempty(*reason));
                goto fail;
        }
        model_deploy_log_appendf(db, t.release_id, "proxy switched to %s", addr);
        /* Endpoints the previous release had and this one has not: their routes would point at an instance
         * about to stop. */
        unsigned pruned = 0;
        r = proxy_sync_routes_prune(d->state_dir, &t, address, &pruned);
        if (r < 0)
                model_deploy_log_appendf(db, t.release_id,
                                         "cannot remove the routes of endpoints this release dropped: %s",
                                         strerror(-r));
        else if (pruned > 0)
                model_deploy_log_appendf(db, t.release_id,
                                         "removed %u route(s) of endpoints this release no "
                                         "longer has",
                                         pruned);

        /* Commit: the new release is live, the old ones superseded; their instances drain, or with a bake
         * window stand by (running, routed out) while the worker watches the new one. */
        bool bake = false;
        int64_t bake_started = sqlite_now_sec();
        supervisor_lock(d->supervisor);
        r = sqlite_begin(db);
        if (r >= 0) {
                /* Every active instance of the previous releases, however many there are. */
                r = model_instance_list_active_of_target(db, t.component_id, t.environment_id, t.release_id,
                                                         &old, &n_old);
                bake = bake_ms > 0 && n_old > 0;
                for (size_t k = 0; k < n_old && r >= 0; k++)
                        r = model_instance_set_state(
                                db, old[k].id, bake ? MODEL_INSTANCE_STANDBY : MODEL_INSTANCE_DRAINING);
                if (r >= 0)
                        r = model_release_supersede_live(db, t.component_id, t.environment_id);
                if (r >= 0)
                        r = model_instance_set_state(db, instance_id, MODEL_INSTANCE_READY);
                if (r >= 0)
                        r = model_release_set_status(db, t.release_id, MODEL_RELEASE_LIVE, NULL);
                if (r >= 0) {
                        _cleanup_free_ char *record = deployer_bake_record(&(DeployBakeRecord) {
                                .state = bake ? MODEL_BAKE_BAKING : MODEL_BAKE_OFF,
                                .bake_ms = bake_ms,
                                .max_5xx_percent = t.bake_max_5xx_percent,
                                .started_at = bake ? bake_started : 0,
                                .reason = bake_ms > 0 && !bake
                                                  ? (char *) "no previous instance to roll back to"
                                                  : NULL,
                        });
                        r = record ? model_release_set_bake(db, t.release_id, record) : -ENOMEM;
                }
                r = sqlite_end(db, r);
        }
        if (r >= 0 && bake)
                supervisor_hold(d->supervisor, instance_id, true); /* ours until the window ends */
        else if (r >= 0)
                supervisor_adopt_handle(d->supervisor, instance_id, TAKE_PTR(inst));
        supervisor_unlock(d->supervisor);
        if (r < 0) {
                deployer_set_reason(reason, "Cannot record the new release: %s.", strerror(-r));
                goto fail;
        }
        model_deploy_log_appendf(db, t.release_id, "release %lld is live", (long long) t.release_id);

        if (bake) {
                r = deployer_bake(d, db, &t, instance_id, address, TAKE_PTR(inst), old, n_old, bake_ms,
                                  &base, bake_started);
                model_instances_free(old, n_old);
                if (r < 0)
                        deployer_set_reason(reason,
                                            "The bake window rolled the traffic back, but the rollback "
                                            "cannot be recorded: %s.",
                                            strerror(-r));
                return r;
        }
        deployer_retire_previous(d, db, t.release_id, old, n_old, NULL);
        model_instances_free(old, n_old);
        return 1;

fail:
        /* The reason may quote the app's output (its stderr's tail): no secret of its goes on. */
        deploy_target_scrub(&t, reason);
        model_instances_free(old, n_old);
        if (instance_id > 0) {
                _cleanup_(model_instance_done) ModelInstance row = {};
                _cleanup_free_ char *dir = NULL;
                (void) model_instance_get(db, instance_id, &row); /* its recorded names */
                if (asprintf(&dir, "%s/%lld", d->instances_dir, (long long) instance_id) >= 0)
                        (void) deployer_instance_retire(d, instance_id, dir, row.netns, TAKE_PTR(inst),
                                                        false, NULL);
                (void) model_instance_set_state(db, instance_id, MODEL_INSTANCE_FAILED);
                model_deploy_log_appendf(db, t.release_id, "instance %lld stopped (its logs stay in %s)",
                                         (long long) instance_id, plan.dir ?: "");
        }
        return r < 0 ? r : -EIO;
}
