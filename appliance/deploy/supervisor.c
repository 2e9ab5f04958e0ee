/* The supervisor thread: adopt, watch, probe and restart the instances of live releases.
 * Invariant: a restart reuses the instance's row, directory, address and netns, so routes stay valid. */
#include "supervisor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgroup-limits.h"
#include "deploy-target.h"
#include "instance-setup.h"
#include "log.h"
#include "macro.h"
#include "model.h"
#include "sqlite-util.h"

typedef struct Supervised {
        int64_t id;
        Instance *inst;
        uint64_t next_restart_ms, next_probe_ms;
        /* After a restart the instance is starting, as after its first start: failed liveness probes do
         * not count until one passed or the deploy timeout (the first start's readiness budget) ran out.
         * Otherwise an app slower to listen than failure_threshold probes is killed every time. */
        uint64_t starting_until_ms;
        unsigned failures;
        uint64_t oom_kills; /* the memory cgroup's OOM kills already reported */
        bool seen;
        bool held; /* supervisor_hold(): the deployer's to watch for now */
} Supervised;

struct Supervisor {
        char *state_dir, *db_path, *layers_dir, *shim_dir;
        OciStore *store;
        pthread_mutex_t lock;
        pthread_mutex_t stop_lock;
        pthread_cond_t stop_cond;
        bool stop;
        pthread_t thread;
        bool started;
        Supervised *items;
        size_t n_items;
};

static uint64_t mono_msec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000ULL + (uint64_t) ts.tv_nsec / 1000000ULL;
}

void supervisor_lock(Supervisor *s) {
        if (s)
                pthread_mutex_lock(&s->lock);
}

void supervisor_unlock(Supervisor *s) {
        if (s)
                pthread_mutex_unlock(&s->lock);
}

static Supervised *find(Supervisor *s, int64_t id) {
        for (size_t i = 0; i < s->n_items; i++)
                if (s->items[i].id == id)
                        return &s->items[i];
        return NULL;
}

static Supervised *add(Supervisor *s, int64_t id) {
        Supervised *n;

        if (s->n_items >= SUPERVISOR_INSTANCES_MAX)
                return NULL;
        n = realloc(s->items, (s->n_items + 1) * sizeof *n);
        if (!n)
                return NULL;
        s->items = n;
        n[s->n_items] = (Supervised) { .id = id };
        return &n[s->n_items++];
}

void supervisor_adopt_handle(Supervisor *s, int64_t instance_id, Instance *i) {
        Supervised *e;

        if (!s) {
                instance_free(i);
                return;
        }
        e = find(s, instance_id) ?: add(s, instance_id);
        if (!e) {
                instance_free(i);
                return;
        }
        if (e->inst && e->inst != i)
                instance_free(e->inst);
        e->inst = i;
}

void supervisor_hold(Supervisor *s, int64_t instance_id, bool hold) {
        Supervised *e;

        if (!s)
                return;
        e = find(s, instance_id);
        if (!e && hold)
                e = add(s, instance_id);
        if (!e)
                return;
        e->held = hold;
        /* Released without a handle: the next tick adopts it afresh, as one it never watched. */
        if (!hold && !e->inst)
                *e = s->items[--s->n_items];
}

Instance *supervisor_release(Supervisor *s, int64_t instance_id) {
        Instance *i = NULL;
        Supervised *e;

        if (!s)
                return NULL;
        pthread_mutex_lock(&s->lock);
        e = find(s, instance_id);
        if (e) {
                i = TAKE_PTR(e->inst);
                *e = s->items[--s->n_items];
        }
        pthread_mutex_unlock(&s->lock);
        return i;
}

static int restart(Supervisor *s, sqlite3 *db, int64_t instance_id, int64_t release_id, const char *address,
                   Supervised *e) {
        _cleanup_(deploy_target_done) DeployTarget t = {};
        _cleanup_(deploy_plan_done) DeployPlan plan = {};
        _cleanup_free_ char *err = NULL;
        struct in_addr a;
        int r;

        if (net_address_parse(address, &a) < 0)
                return -EBADMSG;
        r = deploy_target_load(db, release_id, &t, &err);
        if (r >= 0)
                r = deploy_target_load_image(&t, s->store, &err);
        if (r >= 0)
                r = deploy_plan_build(db, &t, s->state_dir, s->layers_dir, s->shim_dir, s->store,
                                      instance_id, a, &plan);
        if (r >= 0 && instance_setup_kill_leftovers(plan.netns) > 0) {
                struct timespec ts = { .tv_nsec = 200 * 1000 * 1000 }; /* let the kernel release the ports */
                nanosleep(&ts, NULL);
        }
        if (r >= 0)
                r = instance_setup_prepare(&plan.plan, &err);
        if (r >= 0)
                r = instance_setup_start(&plan.plan, &e->inst);
        if (r < 0) {
                model_deploy_log_appendf(db, release_id, "supervisor: cannot restart instance %lld: %s",
                                         (long long) instance_id, err ?: strerror(-r));
                return r;
        }
        (void) model_instance_count_restart(db, instance_id);
        model_deploy_log_appendf(db, release_id, "supervisor: instance %lld restarted",
                                 (long long) instance_id);
        e->starting_until_ms = mono_msec() + (uint64_t) t.deploy_timeout_sec * 1000ULL;
        e->next_probe_ms = mono_msec() + t.liveness.initial_delay_ms;
        return 0;
}

static bool liveness_ok(sqlite3 *db, int64_t release_id, const char *address, Supervised *e,
                        bool *ret_probed) {
        _cleanup_(deploy_target_done) DeployTarget t = {};
        _cleanup_free_ char *err = NULL;

        *ret_probed = false;
        if (mono_msec() < e->next_probe_ms)
                return true;
        if (deploy_target_load(db, release_id, &t, &err) < 0 || !t.liveness.enabled)
                return true;
        e->next_probe_ms = mono_msec() + t.liveness.interval_ms;
        uint16_t port =
                t.liveness.port ?: (t.n_ports > 0 ? t.ports[t.public_index >= 0 ? t.public_index : 0] : 0);
        if (port == 0)
                return true;
        ProbeSpec ps = {
                .type = t.liveness.type,
                .address = address,
                .port = port,
                .path = t.liveness.type == PROBE_HTTP ? t.liveness.path : NULL,
                .timeout_ms = t.liveness.timeout_ms,
        };
        ProbeResult pr = {};
        *ret_probed = true;
        if (probe_run(&ps, &pr) >= 0 && pr.healthy) {
                e->failures = 0;
                e->starting_until_ms = 0;
                return true;
        }
        if (mono_msec() < e->starting_until_ms) {
                model_deploy_log_appendf(db, release_id,
                                         "liveness probe to %s:%u failed while the instance starts: %s",
                                         address, port, pr.message);
                return true;
        }
        e->failures++;
        model_deploy_log_appendf(db, release_id, "liveness probe to %s:%u failed (%u of %u): %s", address,
                                 port, e->failures, t.liveness.failure_threshold, pr.message);
        return e->failures < t.liveness.failure_threshold;
}

static void tick(Supervisor *s, sqlite3 *db) {
        ModelInstance *v = NULL;
        size_t n = 0;

        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->n_items; i++)
                s->items[i].seen = false;
        if (model_instance_list_serving(db, 0, &v, &n) < 0)
                goto finish;
        for (size_t k = 0; k < n; k++) {
                int64_t id = v[k].id, release_id = v[k].release_id;
                const char *dir = v[k].dir ?: "";
                const char *address = v[k].address ?: "";
                unsigned restarts = v[k].restarts;
                const char *netns = v[k].netns;
                Supervised *e = find(s, id);
                InstanceState state = INSTANCE_GONE;
                int status = -1;
                bool fresh = false, probed, killed = false;

                if (e && e->held) {
                        e->seen = true;
                        continue;
                }
                if (!e) {
                        e = add(s, id);
                        if (!e)
                                break;
                        fresh = true;
                        /* OOM kills from before we watched it (an adopted instance) are not news. */
                        if (netns)
                                (void) cgroup_limits_oom_kills(netns, &e->oom_kills);
                }
                e->seen = true;
                if (fresh && !e->inst) {
                        int r = instance_adopt(dir, &e->inst);
                        if (r < 0)
                                log_info("Instance %lld is no longer running (%s); restarting it.",
                                         (long long) id, strerror(-r));
                        else
                                log_info("Adopted instance %lld (pid %d).", (long long) id,
                                         (int) instance_pid(e->inst));
                }
                if (e->inst && instance_status(e->inst, &state, &status) < 0)
                        state = INSTANCE_GONE;
                /* A probe fails also when the instance ended meanwhile (killed for its memory, say): then
                 * its exit is the news, and there is nothing left to kill. */
                if (state == INSTANCE_RUNNING && !liveness_ok(db, release_id, address, e, &probed)) {
                        (void) instance_status(e->inst, &state, &status); /* on failure state stays */
                        if (state == INSTANCE_RUNNING) {
                                model_deploy_log_appendf(db, release_id,
                                                         "supervisor: instance %lld failed its liveness "
                                                         "check; restarting it",
                                                         (long long) id);
                                (void) instance_kill(e->inst);
                                state = INSTANCE_GONE;
                                killed = true;
                        }
                }
                if (state == INSTANCE_RUNNING)
                        continue;
                if (e->inst) {
                        uint64_t ooms = 0;
                        /* Its own memory cgroup (named after its netns) counts the kernel's OOM kills. */
                        if (netns && cgroup_limits_oom_kills(netns, &ooms) >= 0 && ooms > e->oom_kills) {
                                model_deploy_log_appendf(
                                        db, release_id,
                                        "supervisor: instance %lld went over its memory limit and "
                                        "the kernel killed %llu of its processes",
                                        (long long) id, (unsigned long long) (ooms - e->oom_kills));
                                e->oom_kills = ooms;
                        }
                        if (killed)
                                ; /* said above: it failed its liveness check */
                        else if (state == INSTANCE_EXITED)
                                model_deploy_log_appendf(db, release_id,
                                                         "supervisor: instance %lld exited with status %d",
                                                         (long long) id, status);
                        else
                                model_deploy_log_appendf(db, release_id, "supervisor: instance %lld is gone",
                                                         (long long) id);
                        instance_free(TAKE_PTR(e->inst));
                        /* Back off: 1 s, 2 s, 4 s, … up to a minute, by how often it was restarted. */
                        uint64_t backoff = SUPERVISOR_BACKOFF_MIN_MS << MIN(restarts, 16U);
                        e->next_restart_ms =
                                mono_msec() + MIN(backoff, (uint64_t) SUPERVISOR_BACKOFF_MAX_MS);
                        if (!fresh)
                                continue;
                }
                if (mono_msec() < e->next_restart_ms)
                        continue;
                e->failures = 0;
                if (restart(s, db, id, release_id, address, e) < 0) {
                        uint64_t backoff = SUPERVISOR_BACKOFF_MIN_MS << MIN(restarts + 1, 16U);
                        e->next_restart_ms =
                                mono_msec() + MIN(backoff, (uint64_t) SUPERVISOR_BACKOFF_MAX_MS);
                }
        }
        /* Instances no longer ready (retired by a deploy) are not ours to watch any more. */
        for (size_t i = 0; i < s->n_items;)
                if (!s->items[i].seen) {
                        instance_free(s->items[i].inst);
                        s->items[i] = s->items[--s->n_items];
                } else
                        i++;
finish:
        pthread_mutex_unlock(&s->lock);
        model_instances_free(v, n);
}

static void *supervisor_main(void *userdata) {
        Supervisor *s = userdata;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;

        if (sqlite_open(s->db_path, &db) < 0) {
                log_error("The supervisor cannot open the database; instances are not supervised.");
                return NULL;
        }
        for (;;) {
                struct timespec until;

                tick(s, db);
                clock_gettime(CLOCK_REALTIME, &until);
                until.tv_sec += SUPERVISOR_TICK_MS / 1000;
                pthread_mutex_lock(&s->stop_lock);
                if (!s->stop)
                        pthread_cond_timedwait(&s->stop_cond, &s->stop_lock, &until);
                bool stop = s->stop;
                pthread_mutex_unlock(&s->stop_lock);
                if (stop)
                        break;
        }
        return NULL;
}

int supervisor_start(const SupervisorConfig *c, Supervisor **ret) {
        Supervisor *s = calloc(1, sizeof *s);

        if (!s)
                return -ENOMEM;
        pthread_mutex_init(&s->lock, NULL);
        pthread_mutex_init(&s->stop_lock, NULL);
        pthread_cond_init(&s->stop_cond, NULL);
        s->state_dir = strdup(c->state_dir);
        s->db_path = strdup(c->db_path);
        s->layers_dir = strdup(c->layers_dir);
        s->shim_dir = strdup(c->shim_dir);
        s->store = c->store;
        if (!s->state_dir || !s->db_path || !s->layers_dir || !s->shim_dir) {
                supervisor_free(s);
                return -ENOMEM;
        }
        if (pthread_create(&s->thread, NULL, supervisor_main, s) != 0) {
                supervisor_free(s);
                return -EAGAIN;
        }
        s->started = true;
        *ret = s;
        return 0;
}

Supervisor *supervisor_free(Supervisor *s) {
        if (!s)
                return NULL;
        if (s->started) {
                pthread_mutex_lock(&s->stop_lock);
                s->stop = true;
                pthread_cond_signal(&s->stop_cond);
                pthread_mutex_unlock(&s->stop_lock);
                pthread_join(s->thread, NULL);
        }
        for (size_t i = 0; i < s->n_items; i++)
                instance_free(s->items[i].inst);
        free(s->items);
        free(s->state_dir);
        free(s->db_path);
        free(s->layers_dir);
        free(s->shim_dir);
        pthread_mutex_destroy(&s->lock);
        pthread_mutex_destroy(&s->stop_lock);
        pthread_cond_destroy(&s->stop_cond);
        free(s);
        return NULL;
}
