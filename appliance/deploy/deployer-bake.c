/* The bake window after a swap: the new release is live, the previous release's instances stand by
 * (running, routed out), and the worker watches the new instance through slipway-proxy's counters and
 * its own liveness.  Invariant: on a failure the routes go back to a standby instance before any state
 * changes, and the database then says in one transaction which release serves; the new instance is
 * stopped only after that. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "component-spec.h"
#include "deployer-internal.h"
#include "json-util.h"
#include "log.h"
#include "model.h"
#include "probe.h"
#include "proxy-sync.h"
#include "sqlite-util.h"

/* What recovery writes into a window a stopped slipwayd left open. */
#define DEPLOY_BAKE_INTERRUPTED_REASON \
        "slipwayd stopped during the bake window; the release stayed live and its previous instances were stopped"

uint32_t deployer_bake_ms(const Deployer *d, const DeployTarget *t) {
        return t->bake_ms == SPEC_BAKE_DAEMON_DEFAULT ? d->bake_default_ms : t->bake_ms;
}

char *deployer_bake_record(const DeployBakeRecord *b) {
        _cleanup_json_ json_t *j = NULL;

        j = json_pack("{s:s,s:I,s:I,s:I,s:I,s:o,s:o,s:o}", "state", b->state, "bake_ms",
                      (json_int_t) b->bake_ms, "max_5xx_percent", (json_int_t) b->max_5xx_percent,
                      "requests", (json_int_t) b->requests, "5xx", (json_int_t) b->status_5xx, "started_at",
                      b->started_at > 0 ? json_integer(b->started_at) : json_null(), "ended_at",
                      b->ended_at > 0 ? json_integer(b->ended_at) : json_null(), "reason",
                      b->reason ? json_string(b->reason) : json_null());
        if (!j)
                return NULL;
        return json_dumps(j, JSON_COMPACT);
}

/* "850 ms", "2.3 s", "6 s", "31 s". */
static const char *format_ms(uint64_t ms, char buf[static 32]) {
        if (ms < 1000)
                snprintf(buf, 32, "%llu ms", (unsigned long long) ms);
        else if (ms < 10000 && ms % 1000 != 0)
                snprintf(buf, 32, "%.1f s", (double) ms / 1000.0);
        else
                snprintf(buf, 32, "%llu s", (unsigned long long) ((ms + 500) / 1000));
        return buf;
}

typedef struct Bake {
        Deployer *d;
        sqlite3 *db;
        const DeployTarget *t;
        int64_t instance_id;
        struct in_addr address;
        char addr[INET_ADDRSTRLEN];
        Instance *inst; /* the new instance, ours for the window */
        const ModelInstance *standby;
        size_t n_standby;
        Instance **standby_inst; /* per standby instance: our handle, NULL when none */
        bool *standby_gone;      /* per standby instance: seen ended during the window (said once) */
        DeployBakeRecord rec;
        ProxyTargetCounts base;
        uint64_t start_ms, next_record_ms, next_probe_ms;
        unsigned liveness_failures;
} Bake;

static void bake_done(Bake *b) {
        for (size_t k = 0; k < b->n_standby; k++)
                instance_free(b->standby_inst ? b->standby_inst[k] : NULL);
        free(b->standby_inst);
        free(b->standby_gone);
        instance_free(b->inst);
        free(b->rec.reason);
}

static int bake_record_write(Bake *b) {
        _cleanup_free_ char *text = deployer_bake_record(&b->rec);

        if (!text)
                return -ENOMEM;
        return model_release_set_bake(b->db, b->t->release_id, text);
}

/* The counters since the swap.  A proxy restarted meanwhile counts from 0 again: then from there. */
static void bake_sample(Bake *b) {
        ProxyTargetCounts now;

        if (proxy_sync_target_counts(b->d->state_dir, b->t, b->address, &now) < 0)
                return; /* the next poll tries again; the window's verdict needs no single sample */
        if (now.requests < b->base.requests || now.status_5xx < b->base.status_5xx)
                b->base = (ProxyTargetCounts) {};
        b->rec.requests = now.requests - b->base.requests;
        b->rec.status_5xx = now.status_5xx - b->base.status_5xx;
}

static bool bake_too_many_5xx(const Bake *b) {
        return b->rec.requests >= b->t->bake_min_requests &&
               b->rec.status_5xx * 100U > (uint64_t) b->t->bake_max_5xx_percent * b->rec.requests;
}

/* Whether the new instance passes its liveness probe often enough (the supervisor's rule: failure_threshold
 * failures in a row fail it).  Probes as often as the spec says, never more. */
static bool bake_liveness_ok(Bake *b, char **reason) {
        const DeployHealth *l = &b->t->liveness;
        uint16_t port;

        if (!l->enabled || deployer_mono_msec() < b->next_probe_ms)
                return true;
        b->next_probe_ms = deployer_mono_msec() + l->interval_ms;
        port = l->port
                       ?: (b->t->n_ports > 0 ? b->t->ports[b->t->public_index >= 0 ? b->t->public_index : 0]
                                             : 0);
        if (port == 0)
                return true;
        ProbeSpec ps = {
                .type = l->type,
                .address = b->addr,
                .port = port,
                .path = l->type == PROBE_HTTP ? l->path : NULL,
                .timeout_ms = l->timeout_ms,
        };
        ProbeResult pr = {};
        if (probe_run(&ps, &pr) >= 0 && pr.healthy) {
                b->liveness_failures = 0;
                return true;
        }
        b->liveness_failures++;
        model_deploy_log_appendf(b->db, b->t->release_id,
                                 "bake: liveness probe to %s:%u failed (%u of %u): %s", b->addr, port,
                                 b->liveness_failures, l->failure_threshold, pr.message);
        if (b->liveness_failures < l->failure_threshold)
                return true;
        deployer_set_reason(reason, "the new instance failed its liveness check %u times in a row (%s)",
                            b->liveness_failures, pr.message);
        return false;
}

/* Why the new release fails, or NULL while it does not. */
static char *bake_failure(Bake *b) {
        char *reason = NULL;
        InstanceState state = INSTANCE_GONE;
        int status = -1;

        if (instance_status(b->inst, &state, &status) < 0)
                state = INSTANCE_GONE;
        if (state == INSTANCE_EXITED)
                deployer_set_reason(&reason, "the new instance exited with status %d", status);
        else if (state != INSTANCE_RUNNING)
                deployer_set_reason(&reason, "the new instance is no longer running");
        if (reason)
                return reason;
        bake_sample(b);
        if (bake_too_many_5xx(b)) {
                deployer_set_reason(&reason, "%llu of %llu requests (%llu%%) answered 5xx, above %u%%",
                                    (unsigned long long) b->rec.status_5xx,
                                    (unsigned long long) b->rec.requests,
                                    (unsigned long long) (b->rec.status_5xx * 100U / b->rec.requests),
                                    b->t->bake_max_5xx_percent);
                return reason;
        }
        if (!bake_liveness_ok(b, &reason))
                return reason;
        return NULL;
}

/* Says once when a standby instance ended during the window: a failure can no longer go back to it. */
static void bake_watch_standby(Bake *b) {
        for (size_t k = 0; k < b->n_standby; k++) {
                InstanceState state = INSTANCE_GONE;
                int status = -1;

                if (b->standby_gone[k])
                        continue;
                if (b->standby_inst[k] && instance_status(b->standby_inst[k], &state, &status) < 0)
                        state = INSTANCE_GONE;
                if (state == INSTANCE_RUNNING)
                        continue;
                b->standby_gone[k] = true;
                if (state == INSTANCE_EXITED)
                        model_deploy_log_appendf(b->db, b->t->release_id,
                                                 "bake: previous instance %lld exited with status %d during "
                                                 "the bake window; a failure cannot go back to it",
                                                 (long long) b->standby[k].id, status);
                else
                        model_deploy_log_appendf(b->db, b->t->release_id,
                                                 "bake: previous instance %lld is no longer running; a "
                                                 "failure cannot go back to it",
                                                 (long long) b->standby[k].id);
        }
}

/* The window ended or no rollback is possible: the new instance goes to the supervisor, the standby ones
 * drain and are stopped as a swap without a bake stops them. */
static void bake_keep_new(Bake *b) {
        supervisor_lock(b->d->supervisor);
        supervisor_adopt_handle(b->d->supervisor, b->instance_id, TAKE_PTR(b->inst));
        supervisor_hold(b->d->supervisor, b->instance_id, false);
        for (size_t k = 0; k < b->n_standby; k++)
                (void) model_instance_set_state(b->db, b->standby[k].id, MODEL_INSTANCE_DRAINING);
        supervisor_unlock(b->d->supervisor);
        deployer_retire_previous(b->d, b->db, b->t->release_id, b->standby, b->n_standby, b->standby_inst);
        for (size_t k = 0; k < b->n_standby; k++)
                b->standby_inst[k] = NULL; /* retired above, handles consumed */
}

static int bake_pass(Bake *b) {
        char took[32];

        b->rec.state = MODEL_BAKE_PASSED;
        b->rec.ended_at = sqlite_now_sec();
        (void) bake_record_write(b);
        model_deploy_log_appendf(
                b->db, b->t->release_id,
                "bake window passed after %s: %llu requests, %llu answered 5xx (limit %u%%)",
                format_ms(deployer_mono_msec() - b->start_ms, took), (unsigned long long) b->rec.requests,
                (unsigned long long) b->rec.status_5xx, b->t->bake_max_5xx_percent);
        bake_keep_new(b);
        return 1;
}

/* A failure with nothing (or no way) to go back to: the new release stays live, and the record says so. */
static int bake_fail_keep(Bake *b, const char *why, const char *why_not) {
        b->rec.state = MODEL_BAKE_FAILED;
        b->rec.ended_at = sqlite_now_sec();
        deployer_set_reason(&b->rec.reason, "%s; not rolled back: %s", why, why_not);
        (void) bake_record_write(b);
        /* Live, and the release says why it was not rolled back ('slipway releases' shows the reason). */
        (void) model_release_set_status(b->db, b->t->release_id, MODEL_RELEASE_LIVE, b->rec.reason);
        model_deploy_log_appendf(b->db, b->t->release_id, "bake: %s; release %lld stays live", b->rec.reason,
                                 (long long) b->t->release_id);
        log_warning("Release %lld: %s.", (long long) b->t->release_id, b->rec.reason);
        bake_keep_new(b);
        return 1;
}

/* The standby instance the traffic goes back to: one still running, of the release it belonged to. */
static ssize_t bake_pick_standby(Bake *b) {
        bake_watch_standby(b);
        for (size_t k = 0; k < b->n_standby; k++)
                if (!b->standby_gone[k])
                        return (ssize_t) k;
        return -1;
}

static int bake_roll_back(Bake *b, const char *why) {
        _cleanup_(deploy_target_done) DeployTarget prev = {};
        _cleanup_(model_instance_done) ModelInstance row = {};
        _cleanup_free_ char *err = NULL;
        uint64_t seen_ms = deployer_mono_msec(), elapsed = seen_ms - b->start_ms;
        char took[32], swap_took[32], back_addr[INET_ADDRSTRLEN];
        struct in_addr back;
        int64_t back_release;
        ssize_t k;
        int r;

        model_deploy_log_appendf(b->db, b->t->release_id, "bake: failure after %s: %s",
                                 format_ms(elapsed, took), why);
        k = bake_pick_standby(b);
        if (k < 0)
                return bake_fail_keep(b, why, "the previous instances stopped during the bake window");
        back_release = b->standby[k].release_id;
        if (net_address_parse(b->standby[k].address ?: "", &back) < 0)
                return bake_fail_keep(b, why, "the previous instance has no address on record");
        inet_ntop(AF_INET, &back, back_addr, sizeof back_addr);

        /* Traffic first: every route of the component back to the standby instance, without waiting for
         * the failing one's requests (they end when it is stopped below). */
        r = deploy_target_load(b->db, back_release, &prev, &err);
        if (r >= 0)
                r = deploy_target_load_image(&prev, b->d->store, &err);
        if (r >= 0)
                r = proxy_sync_routes_apply(b->d->state_dir, &prev, back, false, &err);
        if (r < 0) {
                _cleanup_free_ char *m = NULL;
                if (asprintf(&m, "the proxy cannot be switched back to %s (%s)", back_addr,
                             err ?: strerror(-r)) < 0)
                        m = NULL;
                /* Whatever routes did move go back to the new instance, which stays live. */
                (void) proxy_sync_routes_apply(b->d->state_dir, b->t, b->address, false, NULL);
                return bake_fail_keep(b, why, m ?: "the proxy cannot be switched back");
        }
        model_deploy_log_appendf(b->db, b->t->release_id,
                                 "bake: proxy switched back to previous instance %lld at %s, %s after the "
                                 "failure was seen",
                                 (long long) b->standby[k].id, back_addr,
                                 format_ms(deployer_mono_msec() - seen_ms, swap_took));
        /* Endpoints only the rolled-back release had lose their routes: the instance behind them stops. */
        unsigned pruned = 0;
        r = proxy_sync_routes_prune(b->d->state_dir, &prev, back, &pruned);
        if (r < 0)
                model_deploy_log_appendf(
                        b->db, b->t->release_id,
                        "bake: cannot remove the routes of endpoints only this release had: %s",
                        strerror(-r));
        else if (pruned > 0)
                model_deploy_log_appendf(b->db, b->t->release_id,
                                         "bake: removed %u route(s) of endpoints only this release had",
                                         pruned);

        /* Then the record, in one transaction the supervisor waits for: the previous release live with its
         * instances ready (the supervisor adopts them), the new one rolled back and its instance draining. */
        b->rec.state = MODEL_BAKE_ROLLED_BACK;
        b->rec.ended_at = sqlite_now_sec();
        deployer_set_reason(&b->rec.reason, "rolled back after %s: %s", took, why);
        _cleanup_free_ char *text = deployer_bake_record(&b->rec);
        if (!text)
                return -ENOMEM;
        supervisor_lock(b->d->supervisor);
        r = sqlite_begin(b->db);
        if (r >= 0) {
                /* Unless something else (a project teardown, under the same lock) stopped them meanwhile. */
                r = model_instance_get(b->db, b->instance_id, &row);
                if (r >= 0 && !streq_ptr(row.state, MODEL_INSTANCE_READY))
                        r = -ESTALE;
                for (size_t i = 0; i < b->n_standby && r >= 0; i++) {
                        _cleanup_(model_instance_done) ModelInstance sb = {};
                        r = model_instance_get(b->db, b->standby[i].id, &sb);
                        if (r >= 0 && !streq_ptr(sb.state, MODEL_INSTANCE_STANDBY))
                                r = -ESTALE;
                }
                for (size_t i = 0; i < b->n_standby && r >= 0; i++)
                        r = model_instance_set_state(b->db, b->standby[i].id,
                                                     b->standby[i].release_id == back_release
                                                             ? MODEL_INSTANCE_READY
                                                             : MODEL_INSTANCE_DRAINING);
                if (r >= 0)
                        r = model_instance_set_state(b->db, b->instance_id, MODEL_INSTANCE_DRAINING);
                if (r >= 0)
                        r = model_release_set_status(b->db, b->t->release_id, MODEL_RELEASE_ROLLED_BACK,
                                                     b->rec.reason);
                if (r >= 0)
                        r = model_release_set_bake(b->db, b->t->release_id, text);
                if (r >= 0)
                        r = model_release_set_status(b->db, back_release, MODEL_RELEASE_LIVE, NULL);
                r = sqlite_end(b->db, r);
        }
        if (r >= 0) {
                supervisor_hold(b->d->supervisor, b->instance_id, false);
                for (size_t i = 0; i < b->n_standby; i++)
                        if (b->standby[i].release_id == back_release && !b->standby_gone[i])
                                supervisor_adopt_handle(b->d->supervisor, b->standby[i].id,
                                                        TAKE_PTR(b->standby_inst[i]));
        }
        if (r == -ESTALE)
                supervisor_hold(b->d->supervisor, b->instance_id, false);
        supervisor_unlock(b->d->supervisor);
        if (r == -ESTALE) {
                model_deploy_log_appendf(
                        b->db, b->t->release_id,
                        "bake: the instances were stopped meanwhile (project deleted?); the bake "
                        "window ends without a rollback");
                return 1;
        }
        if (r < 0) {
                /* The proxy serves the previous release while the database still says the new one: the next
                 * start's recovery points the routes at the new one again.  Said loudly. */
                log_error_errno(
                        r,
                        "Release %lld: the proxy went back to release %lld but the rollback cannot be "
                        "recorded: %m",
                        (long long) b->t->release_id, (long long) back_release);
                model_deploy_log_appendf(b->db, b->t->release_id,
                                         "bake: cannot record the rollback to release %lld: %s",
                                         (long long) back_release, strerror(-r));
                return r;
        }
        model_deploy_log_appendf(b->db, b->t->release_id,
                                 "release %lld rolled back: release %lld is live again",
                                 (long long) b->t->release_id, (long long) back_release);
        log_info("Release %lld %s; release %lld is live again.", (long long) b->t->release_id, b->rec.reason,
                 (long long) back_release);

        /* Last, the failing instance. */
        {
                DeployRetired how = {};
                (void) deployer_instance_retire(b->d, b->instance_id, row.dir, row.netns, TAKE_PTR(b->inst),
                                                true, &how);
                (void) model_instance_set_state(b->db, b->instance_id, MODEL_INSTANCE_FAILED);
                model_deploy_log_appendf(b->db, b->t->release_id,
                                         "instance %lld stopped %s (its logs stay in %s)",
                                         (long long) b->instance_id,
                                         !how.was_running ? "(it was no longer running)"
                                         : how.killed     ? "(killed)"
                                                          : "after its stop signal",
                                         strempty(row.dir));
        }
        /* Standby instances of other releases (left from an earlier interrupted swap) go as usual. */
        for (size_t i = 0; i < b->n_standby; i++)
                if (b->standby[i].release_id != back_release) {
                        (void) deployer_instance_retire(b->d, b->standby[i].id, b->standby[i].dir,
                                                        b->standby[i].netns, TAKE_PTR(b->standby_inst[i]),
                                                        true, NULL);
                        (void) model_instance_set_state(b->db, b->standby[i].id, MODEL_INSTANCE_STOPPED);
                }
        return 0;
}

int deployer_bake(Deployer *d, sqlite3 *db, const DeployTarget *t, int64_t instance_id,
                  struct in_addr address, Instance *inst, const ModelInstance *standby, size_t n_standby,
                  uint32_t bake_ms, const ProxyTargetCounts *base, int64_t started_at) {
        _cleanup_(bake_done) Bake b = {
                .d = d,
                .db = db,
                .t = t,
                .instance_id = instance_id,
                .address = address,
                .inst = inst,
                .standby = standby,
                .n_standby = n_standby,
                .base = *base,
                .rec = { .state = MODEL_BAKE_BAKING,
                         .bake_ms = bake_ms,
                         .max_5xx_percent = t->bake_max_5xx_percent,
                         .started_at = started_at },
        };
        char window[32];

        inet_ntop(AF_INET, &address, b.addr, sizeof b.addr);
        b.standby_inst = calloc(n_standby ?: 1, sizeof *b.standby_inst);
        b.standby_gone = calloc(n_standby ?: 1, sizeof *b.standby_gone);
        if (!b.standby_inst || !b.standby_gone)
                return -ENOMEM;
        /* Our own handles on the standby instances, to see them end (the supervisor dropped or drops its own:
         * they are not ready any more). */
        for (size_t k = 0; k < n_standby; k++) {
                b.standby_inst[k] = supervisor_release(d->supervisor, standby[k].id);
                if (!b.standby_inst[k])
                        (void) instance_adopt(standby[k].dir, &b.standby_inst[k]);
        }
        b.start_ms = deployer_mono_msec();
        model_deploy_log_appendf(
                db, t->release_id,
                "bake window of %s: %zu previous instance(s) stand by; rolled back when more "
                "than %u%% of at least %u requests answer 5xx, or the new instance exits or "
                "fails its liveness check",
                format_ms(bake_ms, window), n_standby, t->bake_max_5xx_percent, t->bake_min_requests);
        bake_watch_standby(&b);

        for (;;) {
                _cleanup_free_ char *why = NULL;
                struct timespec ts = { .tv_nsec = DEPLOY_BAKE_POLL_MS * 1000000L };
                uint64_t now;

                if (deployer_stopping(d)) {
                        /* The next start's recovery stops the standby instances and ends the record. */
                        model_deploy_log_appendf(db, t->release_id,
                                                 "bake: slipwayd is stopping during the bake window");
                        (void) bake_record_write(&b);
                        return 1;
                }
                why = bake_failure(&b);
                if (why)
                        return bake_roll_back(&b, why);
                bake_watch_standby(&b);
                now = deployer_mono_msec();
                if (now - b.start_ms >= bake_ms)
                        return bake_pass(&b);
                if (now >= b.next_record_ms) {
                        /* Progress for 'slipway releases': the numbers so far. */
                        (void) bake_record_write(&b);
                        b.next_record_ms = now + DEPLOY_BAKE_RECORD_MS;
                }
                nanosleep(&ts, NULL);
        }
}

int deployer_bake_recover(Deployer *d) {
        int64_t *ids = NULL;
        ModelInstance *v = NULL;
        size_t n = 0, n_ids = 0;
        int r;

        /* Standby instances of a window a stop left open go as draining ones do: the new release serves. */
        r = model_instance_list_by_state(d->db, MODEL_INSTANCE_STANDBY, &v, &n);
        if (r < 0)
                return r;
        for (size_t k = 0; k < n; k++) {
                if (!isempty(v[k].dir))
                        (void) deployer_instance_retire(d, v[k].id, v[k].dir, v[k].netns, NULL, false, NULL);
                (void) model_instance_set_state(d->db, v[k].id, MODEL_INSTANCE_STOPPED);
                log_info("Instance %lld stood by for a bake window when slipwayd stopped; stopped it.",
                         (long long) v[k].id);
        }
        model_instances_free(v, n);

        r = model_release_list_baking(d->db, &ids, &n_ids);
        if (r < 0)
                return r;
        for (size_t k = 0; k < n_ids; k++) {
                _cleanup_(model_release_done) ModelRelease rel = {};
                _cleanup_json_ json_t *j = NULL;
                _cleanup_free_ char *text = NULL;

                if (model_release_get(d->db, ids[k], &rel) < 0)
                        continue;
                j = rel.bake ? json_loads(rel.bake, 0, NULL) : NULL;
                if (!j)
                        j = json_object();
                if (!j || json_object_set_new(j, "state", json_string(MODEL_BAKE_INTERRUPTED)) < 0 ||
                    json_object_set_new(j, "ended_at", json_integer(sqlite_now_sec())) < 0 ||
                    json_object_set_new(j, "reason", json_string(DEPLOY_BAKE_INTERRUPTED_REASON)) < 0 ||
                    !(text = json_dumps(j, JSON_COMPACT))) {
                        r = -ENOMEM;
                        break;
                }
                r = model_release_set_bake(d->db, ids[k], text);
                if (r < 0)
                        log_warning_errno(r, "Cannot end the bake record of release %lld: %m",
                                          (long long) ids[k]);
                model_deploy_log_appendf(d->db, ids[k], "bake: %s", DEPLOY_BAKE_INTERRUPTED_REASON);
                log_info("Release %lld was in its bake window when slipwayd stopped; it stays live.",
                         (long long) ids[k]);
        }
        free(ids);
        return r < 0 ? r : 0;
}
