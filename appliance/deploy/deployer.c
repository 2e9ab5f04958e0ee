/* The deployer state machine: pending → deploying → live | failed, one worker thread per release, every
 * step persisted (release status and reason, instance rows, deploy_log).  Invariant: the previous live
 * release is touched only after the new instance passed readiness and the proxy swapped to it; until
 * then a failure stops the new instance (its directory and logs stay) and leaves the old one serving. */
#include "deployer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "bridge.h"
#include "cgroup-limits.h"
#include "deploy-target.h"
#include "env-network.h"
#include "fs-util.h"
#include "instance-setup.h"
#include "json-util.h"
#include "log.h"
#include "overlay.h"
#include "host-reconcile.h"
#include "proxy-client.h"
#include "proxy-sync.h"
#include "sqlite-util.h"
#include "string-util.h"
#include "supervisor.h"

typedef struct Worker {
        Deployer *d;
        int64_t release_id, component_id, environment_id;
        pthread_t thread;
        int done; /* atomic */
        struct Worker *next;
} Worker;

static pthread_mutex_t address_lock = PTHREAD_MUTEX_INITIALIZER;

struct Deployer {
        char *state_dir, *db_path, *layers_dir, *shim_dir, *instances_dir;
        ImageCatalog *catalog;
        OciStore *store;
        const HostShare *host;
        void (*wake)(void *userdata);
        void *wake_userdata;
        sqlite3 *db; /* engine thread only */
        Worker *workers;
        Supervisor *supervisor;
        int stopping; /* atomic */
};

/* Replaces *reason (the arguments may refer to the old one). */
static void set_reason(char **reason, const char *fmt, ...) _printf_(2, 3);
static void set_reason(char **reason, const char *fmt, ...) {
        char *m = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&m, fmt, ap) < 0)
                m = NULL;
        va_end(ap);
        free(*reason);
        *reason = m;
}

static uint64_t now_usec(void) {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        return (uint64_t)tv.tv_sec * 1000000ULL + (uint64_t)tv.tv_usec;
}

static uint64_t mono_msec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000ULL + (uint64_t)ts.tv_nsec / 1000000ULL;
}

int deploy_log_append(sqlite3 *db, int64_t release_id, const char *fmt, ...) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_free_ char *line = NULL;
        va_list ap;
        int r, rc;

        va_start(ap, fmt);
        r = vasprintf(&line, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        if (strlen(line) > DEPLOY_LOG_LINE_MAX)
                line[DEPLOY_LOG_LINE_MAX] = 0;
        log_debug("release %lld: %s", (long long)release_id, line);
        r = sqlite_prepare(db, "INSERT INTO deploy_log (release_id, at, line) VALUES (?, ?, ?)", &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, release_id);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)now_usec());
        sqlite3_bind_text(st, 3, line, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        return rc == SQLITE_DONE ? 0 : sqlite_to_errno(rc);
}

static int exec_sql(sqlite3 *db, const char *sql, int64_t a, int64_t b, const char *text) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r, rc, k = 1;

        r = sqlite_prepare(db, sql, &st);
        if (r < 0)
                return r;
        if (text)
                sqlite3_bind_text(st, k++, text, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, k++, a);
        if (sqlite3_bind_parameter_count(st) >= k)
                sqlite3_bind_int64(st, k, b);
        rc = sqlite3_step(st);
        return rc == SQLITE_DONE ? 0 : sqlite_to_errno(rc);
}

static int release_set_status(sqlite3 *db, int64_t id, const char *status, const char *reason) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        bool final = streq(status, "live") || streq(status, "failed");
        int r, rc;

        r = sqlite_prepare(db,
                           final ? "UPDATE releases SET status = ?, reason = ?, finished_at = ? WHERE id = ?"
                                 : "UPDATE releases SET status = ?, reason = ? WHERE id = ?",
                           &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
        if (reason)
                sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
        else
                sqlite3_bind_null(st, 2);
        if (final) {
                sqlite3_bind_int64(st, 3, (sqlite3_int64)(now_usec() / 1000000ULL));
                sqlite3_bind_int64(st, 4, id);
        } else
                sqlite3_bind_int64(st, 3, id);
        rc = sqlite3_step(st);
        return rc == SQLITE_DONE ? 0 : sqlite_to_errno(rc);
}

static int instance_set_state(sqlite3 *db, int64_t id, const char *state) {
        return exec_sql(db, "UPDATE instances SET state = ? WHERE id = ?", id, 0, state);
}

/* The last lines of an instance's stderr (else stdout), joined with " | ", for a failure reason. */
static char *log_tail(const char *dir) {
        static const char *const files[] = {INSTANCE_STDERR_LOG, INSTANCE_STDOUT_LOG};

        for (size_t f = 0; f < ELEMENTSOF(files); f++) {
                _cleanup_free_ char *path = path_join(dir, files[f]);
                _cleanup_close_ int fd = -EBADF;
                char buf[2048];
                ssize_t n;
                off_t size;

                if (!path)
                        return NULL;
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        continue;
                size = lseek(fd, 0, SEEK_END);
                if (size <= 0)
                        continue;
                if (lseek(fd, size > (off_t)sizeof buf - 1 ? size - (off_t)sizeof buf + 1 : 0, SEEK_SET) < 0)
                        continue;
                n = loop_read(fd, buf, sizeof buf - 1);
                if (n <= 0)
                        continue;
                buf[n] = 0;
                while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
                        buf[--n] = 0;
                /* Keep the last DEPLOY_LOG_TAIL_LINES lines. */
                char *start = buf;
                unsigned lines = 0;
                for (char *p = buf + n; p > buf; p--)
                        if (p[-1] == '\n' && ++lines >= DEPLOY_LOG_TAIL_LINES) {
                                start = p;
                                break;
                        }
                for (char *p = start; *p; p++)
                        if (*p == '\n')
                                *p = '|';
                        else if ((unsigned char)*p < ' ')
                                *p = ' ';
                return strdup(start);
        }
        return NULL;
}

static int instance_address_allocate(sqlite3 *db, const DeployTarget *t, struct in_addr *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        struct in_addr used[DEPLOY_INSTANCE_ADDRESS_LAST + 1];
        size_t n = 0;
        int r;

        r = sqlite_prepare(db,
                           "SELECT i.address FROM instances i JOIN releases r ON r.id = i.release_id "
                           "WHERE r.environment_id = ? AND i.state IN ('starting', 'ready', 'draining')",
                           &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, t->environment_id);
        while (sqlite3_step(st) == SQLITE_ROW && n < ELEMENTSOF(used))
                if (net_address_parse((const char *)sqlite3_column_text(st, 0) ?: "", &used[n]) >= 0)
                        n++;
        return net_subnet_allocate_address(&t->subnet, DEPLOY_INSTANCE_ADDRESS_FIRST,
                                           DEPLOY_INSTANCE_ADDRESS_LAST, used, n, ret);
}

static int instance_row_create(Deployer *d, sqlite3 *db, const DeployTarget *t, struct in_addr a,
                               int64_t *ret) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_free_ char *netns = NULL, *dir = NULL;
        char addr[INET_ADDRSTRLEN];
        int64_t id;
        int r, rc;

        inet_ntop(AF_INET, &a, addr, sizeof addr);
        r = sqlite_prepare(db,
                           "INSERT INTO instances (release_id, address, netns, dir, state, created_at) "
                           "VALUES (?, ?, '', '', 'starting', ?)",
                           &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, t->release_id);
        sqlite3_bind_text(st, 2, addr, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)(now_usec() / 1000000ULL));
        rc = sqlite3_step(st);
        if (rc != SQLITE_DONE)
                return sqlite_to_errno(rc);
        id = sqlite3_last_insert_rowid(db);
        sqlite3_finalize(TAKE_PTR(st));

        r = deploy_instance_names(d->state_dir, id, &netns, NULL, NULL);
        if (r < 0)
                return r;
        if (asprintf(&dir, "%s/%lld", d->instances_dir, (long long)id) < 0)
                return -ENOMEM;
        r = sqlite_prepare(db, "UPDATE instances SET netns = ?, dir = ? WHERE id = ?", &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, netns, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, dir, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, id);
        rc = sqlite3_step(st);
        if (rc != SQLITE_DONE)
                return sqlite_to_errno(rc);
        *ret = id;
        return 0;
}

/* Stops an instance by its directory (adopting it), then removes its rootfs mount, veth and netns. graceful:
 * its stop signal and DEPLOY_STOP_GRACE_MS first (it served traffic); else killed at once (a new instance
 * that never got a request). */
static void instance_retire(Deployer *d, int64_t instance_id, const char *dir, Instance *handle,
                            bool graceful) {
        _cleanup_free_ char *netns = NULL, *ifname = NULL;
        _cleanup_instance_ Instance *i = handle;

        if (!i && d->supervisor)
                i = supervisor_release(d->supervisor, instance_id);
        if (!i)
                (void)instance_adopt(dir, &i);
        if (i && graceful)
                (void)instance_stop(i, 0, DEPLOY_STOP_GRACE_MS);
        else if (i)
                (void)instance_kill(i);
        if (deploy_instance_names(d->state_dir, instance_id, &netns, &ifname, NULL) >= 0)
                (void)instance_setup_teardown(dir, netns, ifname);
}

static bool stopping(Deployer *d) {
        return __atomic_load_n(&d->stopping, __ATOMIC_ACQUIRE);
}

static void sleep_ms(unsigned ms) {
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

/* Readiness: probes from the host until success_threshold successes in a row, the instance exits, or
 * the deploy timeout.  Every attempt goes to the deploy log.  0 ready, < 0 with *reason. */
static int wait_ready(Deployer *d, sqlite3 *db, const DeployTarget *t, Instance *inst, const char *dir,
                      struct in_addr address, char **reason) {
        const DeployHealth *h = &t->readiness;
        uint64_t deadline = mono_msec() + (uint64_t)t->deploy_timeout_sec * 1000ULL, start = mono_msec();
        char addr[INET_ADDRSTRLEN], last[PROBE_MESSAGE_MAX + 64] = "no probe ran";
        unsigned ok = 0, attempt = 0, answered_bad = 0, startup_interval = DEPLOY_PROBE_STARTUP_FIRST_MS;
        uint16_t port =
                h->port ?: (t->n_ports > 0 ? t->ports[t->public_index >= 0 ? t->public_index : 0] : 0);
        bool probing = h->enabled && port > 0;

        inet_ntop(AF_INET, &address, addr, sizeof addr);
        if (h->initial_delay_ms)
                sleep_ms(h->initial_delay_ms);
        for (;;) {
                InstanceState state;
                int status = -1;

                if (instance_status(inst, &state, &status) >= 0 && state != INSTANCE_RUNNING) {
                        _cleanup_free_ char *tail = log_tail(dir);
                        if (state == INSTANCE_EXITED)
                                set_reason(reason,
                                           "The instance exited with status %d before it was ready%s%s",
                                           status, tail ? "; its last output: " : ".", tail ?: "");
                        else
                                set_reason(reason, "The instance stopped before it was ready%s%s",
                                           tail ? "; its last output: " : ".", tail ?: "");
                        return -ECHILD;
                }
                if (stopping(d)) {
                        *reason = strdup("slipwayd was stopped during the deploy; deploy again.");
                        return -ECANCELED;
                }
                if (!probing) {
                        if (mono_msec() - start >= h->grace_ms) {
                                deploy_log_append(db, t->release_id,
                                                  "readiness: no probe; still running after %u ms",
                                                  h->grace_ms);
                                return 0;
                        }
                        sleep_ms(100);
                        continue;
                }
                if (mono_msec() >= deadline) {
                        set_reason(reason,
                                   "The readiness check did not pass within the deploy timeout of %u s "
                                   "(last result: %s).",
                                   t->deploy_timeout_sec, last);
                        return -ETIMEDOUT;
                }
                ProbeSpec ps = {
                        .type = h->type,
                        .address = addr,
                        .port = port,
                        .path = h->type == PROBE_HTTP ? h->path : NULL,
                        .timeout_ms = h->timeout_ms,
                };
                ProbeResult pr = {};
                uint64_t t0 = mono_msec();
                int r = probe_run(&ps, &pr);
                attempt++;
                if (r < 0)
                        snprintf(pr.message, sizeof pr.message, "probe error: %s", strerror(-r));
                snprintf(last, sizeof last, "%s", pr.message);
                deploy_log_append(db, t->release_id, "readiness %s probe #%u to %s:%u%s: %s",
                                  probe_type_to_string(h->type), attempt, addr, port,
                                  h->type == PROBE_HTTP ? h->path : "",
                                  r >= 0 && pr.healthy ? "healthy" : pr.message);
                if (r >= 0 && pr.healthy) {
                        if (++ok >= h->success_threshold)
                                return 0;
                        answered_bad = 0;
                } else {
                        ok = 0;
                        /* Not listening yet is normal while it starts; answering "unhealthy"
                         * failure_threshold times in a row is a verdict, no need to wait for the deploy
                         * timeout. */
                        if (r >= 0 && pr.http_status > 0 && ++answered_bad >= h->failure_threshold) {
                                set_reason(reason,
                                           "The readiness check failed %u times in a row (last result: %s).",
                                           answered_bad, pr.message);
                                return -EIO;
                        }
                        if (!(r >= 0 && pr.http_status > 0))
                                answered_bad = 0;
                }
                /* While it is not listening yet (refused), look again soon — 10 ms, doubling up to
                 * DEPLOY_PROBE_STARTUP_INTERVAL_MS: a refused connect on our own bridge costs microseconds
                 * and a deploy waits on this. */
                uint64_t spent = mono_msec() - t0, interval = h->interval_ms;
                if (r >= 0 && !pr.healthy && pr.error == ECONNREFUSED) {
                        interval = MIN(interval, (uint64_t)startup_interval);
                        startup_interval = MIN(startup_interval * 2, DEPLOY_PROBE_STARTUP_INTERVAL_MS);
                }
                if (spent < interval)
                        sleep_ms((unsigned)MIN(interval - spent,
                                               deadline > mono_msec() ? deadline - mono_msec() : 0));
        }
}

typedef struct OldInstance {
        int64_t id;
        char *dir;
} OldInstance;

static int deploy_run(Worker *w, sqlite3 *db, char **reason) {
        Deployer *d = w->d;
        _cleanup_(deploy_target_done) DeployTarget t = {};
        _cleanup_(deploy_plan_done) DeployPlan plan = {};
        _cleanup_instance_ Instance *inst = NULL;
        OciError oerr = {};
        struct in_addr address;
        int64_t instance_id = 0;
        OldInstance old[16];
        size_t n_old = 0;
        char addr[INET_ADDRSTRLEN];
        int r;

        r = deploy_target_load(db, w->release_id, &t, reason);
        if (r < 0)
                return r;
        deploy_log_append(db, t.release_id, "deploying %s to %s/%s (%s)", t.digest, t.project, t.environment,
                          t.component);

        r = env_network_apply(d->host, db, 0, reason);
        if (r < 0)
                return r;
        deploy_log_append(db, t.release_id, "network of %s ready (bridge %s)", t.environment, t.bridge);

        r = image_catalog_prepare_layers(d->catalog, t.digest, &oerr);
        if (r < 0) {
                set_reason(reason, "Cannot prepare the image's layers: %s",
                           oerr.message[0] ? oerr.message : strerror(-r));
                return r;
        }
        r = deploy_target_load_image(&t, d->store, reason);
        if (r < 0)
                return r;
        deploy_log_append(db, t.release_id, "image layers ready");

        /* Deploys of other components in the same environment allocate too: pick and record at once. */
        pthread_mutex_lock(&address_lock);
        r = instance_address_allocate(db, &t, &address);
        if (r >= 0)
                r = instance_row_create(d, db, &t, address, &instance_id);
        pthread_mutex_unlock(&address_lock);
        if (r == -ENOSPC) {
                set_reason(reason, "No free instance address in %s: %s.", t.environment, strerror(-r));
                return r;
        }
        if (r < 0)
                return r;
        inet_ntop(AF_INET, &address, addr, sizeof addr);
        r = deploy_plan_build(db, &t, d->state_dir, d->layers_dir, d->shim_dir, d->store, instance_id,
                              address, &plan);
        if (r < 0) {
                set_reason(reason, "Cannot plan the instance: %s.", strerror(-r));
                goto fail;
        }
        r = instance_setup_prepare(&plan.plan, reason);
        if (r < 0)
                goto fail;
        r = instance_setup_start(&plan.plan, &inst);
        if (r < 0) {
                set_reason(reason, "Cannot start the instance: %s.", strerror(-r));
                goto fail;
        }
        const char *why_not = NULL;
        uid_t shift = 0;
        (void)instance_setup_uid_shift(plan.dir, &shift);
        (void)instance_setup_userns_enabled(d->shim_dir, &why_not);
        if (shift > 0)
                deploy_log_append(db, t.release_id,
                                  "instance %lld started at %s (machine %s, user namespace: root is host "
                                  "uid %u)",
                                  (long long)instance_id, addr, plan.machine, (unsigned)shift);
        else
                deploy_log_append(db, t.release_id,
                                  "instance %lld started at %s (machine %s, no user namespace: %s)",
                                  (long long)instance_id, addr, plan.machine,
                                  why_not ?: "it was set up without one");

        r = wait_ready(d, db, &t, inst, plan.dir, address, reason);
        if (r < 0)
                goto fail;
        deploy_log_append(db, t.release_id, "instance %lld is ready", (long long)instance_id);

        /* The swap: routes to the new instance; returns once the old one's requests finished. */
        r = proxy_sync_routes_apply(d->state_dir, &t, address, true, reason);
        if (r < 0) {
                set_reason(reason, "Cannot switch the proxy to the new instance: %s.", strempty(*reason));
                goto fail;
        }
        deploy_log_append(db, t.release_id, "proxy switched to %s", addr);

        /* Commit: the new release is live, the old ones superseded; their instances drain. */
        supervisor_lock(d->supervisor);
        r = sqlite_begin(db);
        if (r >= 0) {
                _cleanup_stmt_ sqlite3_stmt *st = NULL;
                if (sqlite_prepare(
                            db,
                            "SELECT i.id, i.dir FROM instances i JOIN releases r ON r.id = i.release_id "
                            "WHERE r.component_id = ? AND r.environment_id = ? AND r.id != ? "
                            "AND i.state IN ('starting', 'ready', 'draining')",
                            &st) >= 0) {
                        sqlite3_bind_int64(st, 1, t.component_id);
                        sqlite3_bind_int64(st, 2, t.environment_id);
                        sqlite3_bind_int64(st, 3, t.release_id);
                        while (sqlite3_step(st) == SQLITE_ROW && n_old < ELEMENTSOF(old)) {
                                old[n_old].id = sqlite3_column_int64(st, 0);
                                old[n_old].dir = strdup((const char *)sqlite3_column_text(st, 1) ?: "");
                                if (old[n_old].dir)
                                        n_old++;
                        }
                }
                for (size_t k = 0; k < n_old && r >= 0; k++)
                        r = instance_set_state(db, old[k].id, "draining");
                if (r >= 0)
                        r = exec_sql(db,
                                     "UPDATE releases SET status = 'superseded' WHERE component_id = ? AND "
                                     "environment_id = ? AND status = 'live'",
                                     t.component_id, t.environment_id, NULL);
                if (r >= 0)
                        r = instance_set_state(db, instance_id, "ready");
                if (r >= 0)
                        r = release_set_status(db, t.release_id, "live", NULL);
                if (r >= 0)
                        r = sqlite_commit(db);
                else
                        sqlite_rollback(db);
        }
        if (r >= 0)
                supervisor_adopt_handle(d->supervisor, instance_id, TAKE_PTR(inst));
        supervisor_unlock(d->supervisor);
        if (r < 0) {
                set_reason(reason, "Cannot record the new release: %s.", strerror(-r));
                goto fail;
        }
        deploy_log_append(db, t.release_id, "release %lld is live", (long long)t.release_id);

        for (size_t k = 0; k < n_old; k++) {
                instance_retire(d, old[k].id, old[k].dir, NULL, true);
                instance_set_state(db, old[k].id, "stopped");
                deploy_log_append(db, t.release_id, "previous instance %lld stopped", (long long)old[k].id);
                free(old[k].dir);
        }
        return 1;

fail:
        for (size_t k = 0; k < n_old; k++)
                free(old[k].dir);
        if (instance_id > 0) {
                _cleanup_free_ char *dir = NULL;
                if (asprintf(&dir, "%s/%lld", d->instances_dir, (long long)instance_id) >= 0)
                        instance_retire(d, instance_id, dir, TAKE_PTR(inst), false);
                instance_set_state(db, instance_id, "failed");
                deploy_log_append(db, t.release_id, "instance %lld stopped (its logs stay in %s)",
                                  (long long)instance_id, plan.dir ?: "");
        }
        return r < 0 ? r : -EIO;
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
                                (long long)w->release_id);
                goto done;
        }
        r = deploy_run(w, db, &reason);
        if (r < 0) {
                if (!reason)
                        set_reason(&reason, "The deploy failed: %s.", strerror(-r));
                log_info("Release %lld failed: %s", (long long)w->release_id, strempty(reason));
                deploy_log_append(db, w->release_id, "failed: %s", strempty(reason));
                release_set_status(db, w->release_id, "failed", reason);
        } else
                log_info("Release %lld is live.", (long long)w->release_id);
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
                (void)instance_setup_userns_enabled(d->shim_dir, NULL); /* decided and logged at start */
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
        _cleanup_stmt_ sqlite3_stmt *st = NULL;

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
        if (stopping(d))
                return;

        /* Oldest pending release first; one deploy per (component, environment) at a time. */
        if (sqlite_prepare(d->db,
                           "SELECT id, component_id, environment_id FROM releases WHERE status = 'pending' "
                           "ORDER BY id",
                           &st) < 0)
                return;
        while (sqlite3_step(st) == SQLITE_ROW) {
                int64_t id = sqlite3_column_int64(st, 0), c = sqlite3_column_int64(st, 1),
                        e = sqlite3_column_int64(st, 2);
                Worker *w;

                if (target_busy(d, c, e))
                        continue;
                w = calloc(1, sizeof *w);
                if (!w)
                        return;
                *w = (Worker){.d = d, .release_id = id, .component_id = c, .environment_id = e};
                if (release_set_status(d->db, id, "deploying", NULL) < 0) {
                        free(w);
                        continue;
                }
                if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
                        release_set_status(d->db, id, "failed", "Cannot start a deploy thread.");
                        free(w);
                        continue;
                }
                w->next = d->workers;
                d->workers = w;
        }
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
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r, result = 0;

        r = sqlite_prepare(db,
                           "SELECT r.id, i.address FROM releases r JOIN instances i ON i.release_id = r.id "
                           "WHERE r.status = 'live' AND i.state = 'ready' AND (?1 = 0 OR r.environment_id = ?1)",
                           &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, environment_id);
        while (sqlite3_step(st) == SQLITE_ROW) {
                _cleanup_(deploy_target_done) DeployTarget t = {};
                _cleanup_free_ char *e = NULL;
                struct in_addr a;

                if (net_address_parse((const char *)sqlite3_column_text(st, 1) ?: "", &a) < 0)
                        continue;
                if (deploy_target_load(db, sqlite3_column_int64(st, 0), &t, &e) < 0 ||
                    deploy_target_load_image(&t, d->store, &e) < 0 ||
                    proxy_sync_routes_apply(d->state_dir, &t, a, false, &e) < 0) {
                        log_warning("Cannot apply the routes of release %lld: %s",
                                    (long long)sqlite3_column_int64(st, 0), strempty(e));
                        if (result == 0 && ret_error)
                                *ret_error = TAKE_PTR(e);
                        result = -EIO;
                }
        }
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

/* Retires every instance the query (id, dir) names and marks it `state`. */
static int retire_where(Deployer *d, const char *sql, const char *state) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = sqlite_prepare(d->db, sql, &st);
        if (r < 0)
                return r;
        while (sqlite3_step(st) == SQLITE_ROW) {
                int64_t id = sqlite3_column_int64(st, 0);
                const char *dir = (const char *)sqlite3_column_text(st, 1);
                if (!isempty(dir))
                        instance_retire(d, id, dir, NULL, false);
                instance_set_state(d->db, id, state);
        }
        return 0;
}

int deployer_recover(Deployer *d) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_free_ char *err = NULL;
        int r;

        /* Deploys a killed daemon left half-way fail cleanly: their new instances go, the old stay. */
        r = retire_where(d,
                         "SELECT i.id, i.dir FROM instances i JOIN releases r ON r.id = i.release_id "
                         "WHERE r.status = 'deploying' AND i.state IN ('starting', 'ready', 'draining')",
                         "failed");
        if (r < 0)
                return r;
        r = sqlite_exec(d->db,
                        "UPDATE releases SET status = 'failed', reason = 'slipwayd stopped during the "
                        "deploy; deploy again.' WHERE status = 'deploying'");
        if (r < 0)
                return r;
        /* Instances of superseded releases that were still draining: stop them now. */
        r = retire_where(d, "SELECT i.id, i.dir FROM instances i WHERE i.state = 'draining'", "stopped");
        if (r < 0)
                return r;
        /* Cgroups of instances that ended while no daemon watched (a crash between marking one stopped and
         * its teardown): gone with their processes.  No-op for those already removed. */
        r = sqlite_prepare(d->db, "SELECT netns FROM instances WHERE state IN ('stopped', 'failed')", &st);
        if (r < 0)
                return r;
        while (sqlite3_step(st) == SQLITE_ROW) {
                const char *netns = (const char *)sqlite3_column_text(st, 0);
                if (!isempty(netns) && cgroup_limits_remove(netns) == -EBUSY &&
                    cgroup_limits_kill(netns) > 0)
                        (void)cgroup_limits_remove(netns);
        }
        sqlite3_finalize(TAKE_PTR(st));

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
        };
        r = supervisor_start(&sc, &d->supervisor);
        if (r < 0)
                return r;
        /* Releases that were pending when the daemon stopped start now. */
        if (d->wake)
                d->wake(d->wake_userdata);
        return 0;
}

int deployer_teardown_project(void *userdata, int64_t project_id, const char *project) {
        Deployer *d = userdata;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_json_ json_t *req = NULL, *reply = NULL;
        OldInstance *v = NULL;
        char **bridges = NULL;
        int64_t *envs = NULL;
        size_t n = 0, n_env = 0;
        int r;

        r = sqlite_open(d->db_path, &db);
        if (r < 0)
                return r;
        /* No host check runs meanwhile: one that read the database before would re-create what goes. */
        host_reconcile_exclude_begin();
        /* Marked stopped first (under the supervisor lock) so nothing restarts them. */
        supervisor_lock(d->supervisor);
        r = sqlite_prepare(db,
                           "SELECT i.id, i.dir FROM instances i JOIN releases r ON r.id = i.release_id "
                           "JOIN components c ON c.id = r.component_id WHERE c.project_id = ? "
                           "AND i.state IN ('starting', 'ready', 'draining')",
                           &st);
        if (r >= 0) {
                sqlite3_bind_int64(st, 1, project_id);
                while (sqlite3_step(st) == SQLITE_ROW) {
                        OldInstance *nv = realloc(v, (n + 1) * sizeof *v);
                        if (!nv)
                                break;
                        v = nv;
                        v[n].id = sqlite3_column_int64(st, 0);
                        v[n].dir = strdup((const char *)sqlite3_column_text(st, 1) ?: "");
                        if (!v[n].dir)
                                break;
                        n++;
                }
                sqlite3_finalize(TAKE_PTR(st));
        }
        for (size_t i = 0; i < n; i++)
                (void)instance_set_state(db, v[i].id, "stopped");
        supervisor_unlock(d->supervisor);
        /* All get their stop signal at once, then each is waited for (and killed after the grace period). */
        Instance **h = calloc(n ?: 1, sizeof *h);
        for (size_t i = 0; h && i < n; i++) {
                h[i] = supervisor_release(d->supervisor, v[i].id);
                if (!h[i])
                        (void)instance_adopt(v[i].dir, &h[i]);
                if (h[i])
                        (void)instance_stop_begin(h[i], 0);
        }
        for (size_t i = 0; i < n; i++) {
                instance_retire(d, v[i].id, v[i].dir, h ? h[i] : NULL, true);
                free(v[i].dir);
        }
        free(h);
        free(v);

        /* Its environments: routes (named after the environment id) and bridges. */
        if (sqlite_prepare(db, "SELECT id, bridge FROM environments WHERE project_id = ?", &st) >= 0) {
                sqlite3_bind_int64(st, 1, project_id);
                while (sqlite3_step(st) == SQLITE_ROW) {
                        int64_t *ne = realloc(envs, (n_env + 1) * sizeof *envs);
                        char **nb = realloc(bridges, (n_env + 1) * sizeof *bridges);
                        if (ne)
                                envs = ne;
                        if (nb)
                                bridges = nb;
                        if (!ne || !nb)
                                break;
                        envs[n_env] = sqlite3_column_int64(st, 0);
                        bridges[n_env] = strdup((const char *)sqlite3_column_text(st, 1) ?: "");
                        if (!bridges[n_env])
                                break;
                        n_env++;
                }
                sqlite3_finalize(TAKE_PTR(st));
        }
        req = json_pack("{s:s}", "cmd", "route-list");
        if (req && proxy_control_call(d->state_dir, req, &reply) >= 0) {
                json_t *routes = json_object_get(reply, "routes"), *rt;
                size_t i;
                json_array_foreach(routes, i, rt) {
                        const char *name = json_string_value(json_object_get(rt, "name"));
                        long long e;
                        if (!name ||
                            (sscanf(name, "svc-%lld-", &e) != 1 && sscanf(name, "ing-%lld-", &e) != 1 &&
                             sscanf(name, "host-%lld-", &e) != 1))
                                continue;
                        for (size_t k = 0; k < n_env; k++)
                                if (envs[k] == e)
                                        (void)proxy_sync_route_remove(d->state_dir, name, false);
                }
        }
        /* The isolation rules without the project's bridges, then the bridges themselves. */
        {
                _cleanup_free_ char *err = NULL;
                if (env_network_apply(d->host, db, project_id, &err) < 0)
                        log_warning("Cannot update the isolation rules without project %s: %s", project,
                                    strempty(err));
        }
        /* Only bridges named ours: a database copied from another state dir must not delete its bridges. */
        for (size_t k = 0; k < n_env; k++) {
                if (startswith(bridges[k], d->host->bridge_prefix) ||
                    startswith(bridges[k], NET_BRIDGE_PREFIX_LEGACY))
                        (void)net_bridge_delete(bridges[k]);
                free(bridges[k]);
        }
        free(bridges);
        free(envs);
        host_reconcile_exclude_end();
        log_info("Stopped %zu instance(s) of project %s.", n, project);
        return 0;
}
