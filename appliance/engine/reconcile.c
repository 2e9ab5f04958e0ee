/* The reconcile timer: one pass at a time on its own thread, its findings logged once (a condition that
 * stays degraded is not logged again each tick) and kept for `slipway status`.  Invariant: health is
 * only written by the pass thread and read under the lock, so status never sees a half-updated reason. */
#include "reconcile.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host-reconcile.h"
#include "log.h"

#define USEC_PER_SEC 1000000ULL

struct Reconciler {
        ReconcilerConfig config;
        sd_event_source *timer;
        pthread_t thread;
        bool running;
        int done; /* atomic: the running pass finished */

        pthread_mutex_t lock; /* guards degraded and checked_usec */
        char *degraded;
        uint64_t checked_usec;
};

static uint64_t realtime_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000U;
}

static void *pass_main(void *userdata) {
        Reconciler *rc = userdata;
        HostReconcileReport rep = {};
        HostReconcileConfig hc = {
                .state_dir = rc->config.state_dir,
                .db_path = rc->config.db_path,
                .proxy_bin = rc->config.proxy_bin,
                .store = rc->config.store,
                .host = rc->config.host,
        };
        bool same;
        int r;

        r = host_reconcile_run(&hc, &rep);
        if (r < 0) {
                log_warning_errno(r, "Cannot compare the host with the database: %m");
                goto done;
        }
        pthread_mutex_lock(&rc->lock);
        same = streq_ptr(rc->degraded, rep.degraded);
        pthread_mutex_unlock(&rc->lock);

        /* A repair that worked is news every time; the same failure again is not. */
        if (!same || !rep.degraded)
                for (size_t i = 0; i < rep.n_repaired; i++)
                        log_info("Reconcile: %s", rep.repaired[i]);
        if (!same) {
                if (rep.degraded)
                        log_warning("Degraded: %s.", rep.degraded);
                else
                        log_info("No longer degraded: the host again matches the database.");
        }

        pthread_mutex_lock(&rc->lock);
        free(rc->degraded);
        rc->degraded = TAKE_PTR(rep.degraded);
        rc->checked_usec = realtime_usec();
        pthread_mutex_unlock(&rc->lock);
        host_reconcile_report_done(&rep);
done:
        __atomic_store_n(&rc->done, 1, __ATOMIC_RELEASE);
        return NULL;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Reconciler *rc = userdata;
        int r;

        if (rc->running && __atomic_load_n(&rc->done, __ATOMIC_ACQUIRE)) {
                pthread_join(rc->thread, NULL);
                rc->running = false;
        }
        if (!rc->running) {
                __atomic_store_n(&rc->done, 0, __ATOMIC_RELEASE);
                if (pthread_create(&rc->thread, NULL, pass_main, rc) == 0)
                        rc->running = true;
                else
                        log_warning("Cannot start a reconcile pass; trying again in %u s.",
                                    rc->config.interval_sec);
        }
        r = sd_event_source_set_time_relative(s, (uint64_t) rc->config.interval_sec * USEC_PER_SEC);
        if (r >= 0)
                r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        if (r < 0)
                log_warning_errno(r, "Cannot re-arm the reconcile timer; the host is no longer checked: %m");
        return 0;
}

int reconciler_start(sd_event *event, const ReconcilerConfig *c, Reconciler **ret) {
        Reconciler *rc;
        int r;

        if (c->interval_sec == 0 || c->interval_sec > RECONCILE_INTERVAL_MAX_SEC)
                return -EINVAL;
        rc = calloc(1, sizeof *rc);
        if (!rc)
                return -ENOMEM;
        rc->config = *c;
        pthread_mutex_init(&rc->lock, NULL);
        /* Accuracy a tenth of the interval: the loop may coalesce wake-ups, the pass is not urgent. */
        r = sd_event_add_time_relative(event, &rc->timer, CLOCK_MONOTONIC,
                                       (uint64_t) c->interval_sec * USEC_PER_SEC,
                                       (uint64_t) c->interval_sec * USEC_PER_SEC / 10, on_timer, rc);
        if (r < 0) {
                reconciler_free(rc);
                return r;
        }
        *ret = rc;
        return 0;
}

Reconciler *reconciler_free(Reconciler *rc) {
        if (!rc)
                return NULL;
        sd_event_source_disable_unref(rc->timer);
        if (rc->running)
                pthread_join(rc->thread, NULL);
        pthread_mutex_destroy(&rc->lock);
        free(rc->degraded);
        free(rc);
        return NULL;
}

int reconciler_health(void *userdata, char **ret_reason, uint64_t *ret_checked_usec) {
        Reconciler *rc = userdata;
        char *reason = NULL;
        bool is_degraded;
        uint64_t at;

        if (!rc) { /* not started (yet) */
                if (ret_checked_usec)
                        *ret_checked_usec = 0;
                return 0;
        }
        pthread_mutex_lock(&rc->lock);
        at = rc->checked_usec;
        is_degraded = rc->degraded != NULL;
        if (is_degraded)
                reason = strdup(rc->degraded);
        pthread_mutex_unlock(&rc->lock);
        if (is_degraded && !reason)
                return -ENOMEM;
        if (ret_checked_usec)
                *ret_checked_usec = at;
        if (!is_degraded)
                return 0;
        *ret_reason = reason;
        return 1;
}
