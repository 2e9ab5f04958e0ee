/* The build pipeline: the queue is the builds table; worker threads claim the oldest queued build whose
 * component has none running and run its steps (pipeline.h).  Each build's output goes through a pipe to a
 * tee thread that appends every line to the step's log and to build.log as it comes, so a follower sees the
 * build live. */
#include "pipeline-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "build-db.h"
#include "component-db.h"
#include "component-spec.h"
#include "deploy-log-db.h"
#include "descriptor.h"
#include "digest.h"
#include "environment-db.h"
#include "fs-util.h"
#include "git-checkout.h"
#include "git-mirror.h"
#include "json-util.h"
#include "log.h"
#include "oci-store.h"
#include "path-util.h"
#include "release-create.h"
#include "release-db.h"
#include "source-url.h"
#include "sqlite-util.h"
#include "string-util.h"

#define PIPELINE_STACK_SIZE (8U * 1024U * 1024U) /* the builder's stages recurse */

bool path_below(const char *path, const char *root) {
        size_t n = strlen(root);

        while (n > 1 && root[n - 1] == '/')
                n--;
        if (path_has_dotdot(path) || strncmp(path, root, n) != 0)
                return false;
        return path[n] == '\0' || path[n] == '/' || (n == 1 && root[0] == '/');
}

int build_dir_path(const Pipeline *p, int64_t id, const char *sub, char **ret) {
        if ((sub ? asprintf(ret, "%s/builds/%" PRId64 "/%s", p->state_dir, id, sub)
                 : asprintf(ret, "%s/builds/%" PRId64, p->state_dir, id)) < 0)
                return -ENOMEM;
        return 0;
}

uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

static void tee_write(Run *run, const char *buf, size_t n) {
        (void) loop_write(run->build_log_fd, buf, n);
        if (run->step_fd >= 0)
                (void) loop_write(run->step_fd, buf, n);
}

/* Copies the build's output to build.log and the current step's log.  A byte on the control pipe asks for
 * the step's log to be closed off: every byte written before it is already in the pipe (its writers have
 * returned), so the pipe is drained into the old step's log before the switch is acknowledged. */
static void *tee_main(void *userdata) {
        Run *run = userdata;
        char buf[16384];

        for (;;) {
                struct pollfd pfd[2] = { { run->pipe_r, POLLIN, 0 }, { run->ctl_r, POLLIN, 0 } };
                ssize_t n;

                if (poll(pfd, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (pfd[1].revents & POLLIN) {
                        char c;
                        if (read(run->ctl_r, &c, 1) < 0 && errno != EAGAIN && errno != EINTR)
                                break;
                        while ((n = read(run->pipe_r, buf, sizeof buf)) > 0)
                                tee_write(run, buf, (size_t) n);
                        pthread_mutex_lock(&run->tee_lock);
                        run->step_fd = run->next_step_fd;
                        run->tee_done = run->tee_req;
                        pthread_cond_broadcast(&run->tee_cond);
                        pthread_mutex_unlock(&run->tee_lock);
                        continue;
                }
                if (!(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
                        continue;
                n = read(run->pipe_r, buf, sizeof buf);
                if (n == 0)
                        break;
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        break;
                }
                tee_write(run, buf, (size_t) n);
        }
        pthread_mutex_lock(&run->tee_lock);
        run->tee_exited = true;
        pthread_cond_broadcast(&run->tee_cond);
        pthread_mutex_unlock(&run->tee_lock);
        return NULL;
}

/* Everything written so far is in the logs, and the step log is fd from now on. */
static void tee_switch(Run *run, int fd) {
        pthread_mutex_lock(&run->tee_lock);
        if (!run->tee_started || run->tee_exited) {
                run->step_fd = fd;
                pthread_mutex_unlock(&run->tee_lock);
                return;
        }
        run->next_step_fd = fd;
        unsigned want = ++run->tee_req;
        pthread_mutex_unlock(&run->tee_lock);
        (void) loop_write(run->ctl_w, "s", 1);
        pthread_mutex_lock(&run->tee_lock);
        while (run->tee_done != want && !run->tee_exited)
                pthread_cond_wait(&run->tee_cond, &run->tee_lock);
        pthread_mutex_unlock(&run->tee_lock);
}

_printf_(2, 3) void say(Run *run, const char *fmt, ...) {
        char line[BUILD_LOG_LINE_MAX];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(line, sizeof line - 1, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        if ((size_t) n > sizeof line - 2)
                n = (int) sizeof line - 2;
        line[n++] = '\n';
        (void) loop_write(run->pipe_w, line, (size_t) n);
}

/* Fails the build with a sentence (the first one counts). */
static int fail_v(Run *run, int r, bool tell, const char *fmt, va_list ap) {
        /* The first failure is the build's reason, said once; later ones are consequences. */
        if (!run->reason) {
                if (vasprintf(&run->reason, fmt, ap) < 0)
                        run->reason = NULL;
                else if (tell)
                        say(run, "error: %s", run->reason);
        }
        return r < 0 ? r : -EIO;
}

_printf_(3, 4) int fail(Run *run, int r, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        r = fail_v(run, r, true, fmt, ap);
        va_end(ap);
        return r;
}

_printf_(3, 4) int fail_logged(Run *run, int r, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        r = fail_v(run, r, false, fmt, ap);
        va_end(ap);
        return r;
}

bool stop_requested(Run *run) {
        ModelBuild b = {};
        bool c;

        pthread_mutex_lock(&run->p->lock);
        c = run->running.cancelled || run->p->stopping;
        if (run->p->stopping)
                run->stopped = true;
        pthread_mutex_unlock(&run->p->lock);
        if (!c && model_build_get(run->db, run->build.id, &b) >= 0) {
                c = b.cancel_requested;
                model_build_done(&b);
        }
        if (c)
                run->cancelled = true;
        if (!c && now_usec() > run->deadline)
                run->timed_out = true;
        return c || run->timed_out;
}

static int open_step_log(Run *run, int pos) {
        _cleanup_free_ char *path = NULL;
        int fd;

        if (pipeline_log_path(run->p->state_dir, run->build.id, pipeline_steps[pos], &path) < 0)
                return -ENOMEM;
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        return fd < 0 ? -errno : fd;
}

/* Older builds past the component's builds_keep go, with their logs (this one counts: it is the newest). */
static void prune(Run *run) {
        int64_t *ids = NULL;
        size_t n = 0;

        if (model_build_prune(run->db, run->comp.id,
                              run->comp.builds_keep > 0 ? run->comp.builds_keep
                                                        : PIPELINE_BUILDS_KEEP_DEFAULT,
                              &ids, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *d = NULL;
                if (build_dir_path(run->p, ids[i], NULL, &d) >= 0)
                        (void) rm_rf(d);
        }
        free(ids);
}

static void run_steps(Run *run) {
        _cleanup_(git_mirror_freep) GitMirror *m = NULL;
        int pos = 0, r = 0;

        for (pos = 0; pipeline_steps[pos]; pos++) {
                const char *message = NULL;
                bool skip = false;
                uint64_t t0 = now_usec();
                int fd;

                if (stop_requested(run)) {
                        r = -ECANCELED;
                        break;
                }
                fd = open_step_log(run, pos);
                tee_switch(run, fd);
                (void) model_build_step_set(run->db, run->build.id, pos, MODEL_STEP_RUNNING, NULL);
                say(run, "=== step %d/%d: %s", pos + 1, (int) _STEP_MAX, pipeline_steps[pos]);
                switch (pos) {
                case STEP_FETCH:
                        r = step_fetch(run, &m);
                        break;
                case STEP_CHECKOUT:
                        r = step_checkout(run, m);
                        break;
                case STEP_DESCRIPTOR:
                        r = step_descriptor(run, &message);
                        break;
                case STEP_IMAGE:
                        r = step_image(run);
                        break;
                case STEP_SCAN:
                        r = step_scan(run, &message);
                        break;
                case STEP_STORE:
                        r = step_store(run, &message);
                        break;
                case STEP_PUSH:
                        r = step_push(run, &message, &skip);
                        break;
                case STEP_UPDATE:
                        r = step_update(run, &message);
                        break;
                case STEP_DEPLOY:
                        if (!want_deploy(run)) {
                                message = "not asked to deploy (build --deploy, or autodeploy on)";
                                say(run, "%s", message);
                                skip = true;
                                break;
                        }
                        r = step_deploy(run);
                        break;
                }
                if (r >= 0)
                        say(run, "--> %s in %.1f s", skip ? "skipped" : "done",
                            (double) (now_usec() - t0) / 1e6);
                /* The step's lines are all in its log before it is closed. */
                tee_switch(run, -1);
                if (fd >= 0)
                        close(fd);
                (void) model_build_step_set(run->db, run->build.id, pos,
                                            r >= 0 ? (skip ? MODEL_STEP_SKIPPED : MODEL_STEP_SUCCEEDED)
                                            : run->cancelled ? MODEL_STEP_CANCELLED
                                                             : MODEL_STEP_FAILED,
                                            r >= 0 ? message : run->reason);
                if (r < 0)
                        break;
        }
        uint64_t limit =
                (run->p->cfg.timeout_usec ?: PIPELINE_TIMEOUT_DEFAULT_SEC * 1000000ULL) / 1000000ULL;
        if (r < 0 && run->timed_out && (!run->reason || r == -ETIME)) {
                free(run->reason);
                run->reason = NULL;
                (void) fail(run, -ETIME, "The build took longer than its timeout of %llu %s (step %s).",
                            (unsigned long long) (limit % 60 ? limit : limit / 60), limit % 60 ? "s" : "min",
                            pipeline_steps[pos] ?: "deploy");
        }
        if (r < 0 && run->stopped) {
                /* Not the user's cancel: slipwayd stopped under it. */
                free(run->reason);
                run->reason = NULL;
                run->cancelled = false;
                (void) fail(run, -ECANCELED, "slipwayd stopped while step %s ran; build it again.",
                            pipeline_steps[pos] ?: "deploy");
        }
        if (r < 0 && run->cancelled && !run->reason)
                (void) fail(run, -ECANCELED, "The build was cancelled.");
        for (int i = pipeline_steps[pos] ? pos + 1 : pos; r < 0 && pipeline_steps[i]; i++)
                (void) model_build_step_set(run->db, run->build.id, i, MODEL_STEP_SKIPPED, NULL);
        prune(run); /* before the end is visible: whoever sees it finished sees the history as kept */
        if (run->work)
                (void) rm_rf(run->work); /* and no workspace: the build's end is its workspace's */
        /* A failed deploy leaves a usable image: the build failed, its image and tag stay. */
        if (r >= 0)
                (void) model_build_set_status(run->db, run->build.id, MODEL_BUILD_SUCCEEDED, NULL);
        else
                (void) model_build_set_status(run->db, run->build.id,
                                              run->cancelled ? MODEL_BUILD_CANCELLED : MODEL_BUILD_FAILED,
                                              run->reason ?: "the build failed");
        say(run, "=== build %" PRId64 " %s", run->build.id,
            r >= 0           ? "succeeded"
            : run->cancelled ? "cancelled"
                             : "failed");
}


static void running_add(Pipeline *p, Running *r) {
        pthread_mutex_lock(&p->lock);
        r->next = p->running;
        p->running = r;
        pthread_mutex_unlock(&p->lock);
}

static void running_remove(Pipeline *p, Running *r) {
        pthread_mutex_lock(&p->lock);
        for (Running **q = &p->running; *q; q = &(*q)->next)
                if (*q == r) {
                        *q = r->next;
                        break;
                }
        pthread_mutex_unlock(&p->lock);
}

static void run_build(Pipeline *p, sqlite3 *db, ModelBuild *b) {
        Run run = {
                .p = p,
                .db = db,
                .build = *b,
                .pipe_w = -1,
                .pipe_r = -1,
                .build_log_fd = -1,
                .step_fd = -1,
                .ctl_r = -1,
                .ctl_w = -1,
                .next_step_fd = -1,
        };
        _cleanup_free_ char *log_path = NULL;
        int fds[2], r;

        *b = (ModelBuild) {};
        run.running.build_id = run.build.id;
        run.deadline = now_usec() + (p->cfg.timeout_usec ?: PIPELINE_TIMEOUT_DEFAULT_SEC * 1000000ULL);
        r = model_component_get_by_id(db, run.build.component_id, &run.comp);
        if (r >= 0)
                r = pipeline_source_parse(run.comp.source, &run.src);
        if (r >= 0)
                r = build_dir_path(p, run.build.id, NULL, &run.dir);
        if (r >= 0)
                r = build_dir_path(p, run.build.id, "work", &run.work);
        if (r >= 0)
                r = mkdir_p(run.dir, 0750);
        if (r >= 0)
                r = pipeline_log_path(p->state_dir, run.build.id, NULL, &log_path);
        if (r >= 0 &&
            (run.build_log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640)) < 0)
                r = -errno;
        pthread_mutex_init(&run.tee_lock, NULL);
        pthread_cond_init(&run.tee_cond, NULL);
        if (r >= 0 && pipe2(fds, O_CLOEXEC) < 0)
                r = -errno;
        if (r >= 0) {
                run.pipe_r = fds[0];
                run.pipe_w = fds[1];
                /* Non-blocking reads: the tee drains the pipe at a switch without waiting for more. */
                if (fcntl(run.pipe_r, F_SETFL, O_NONBLOCK) < 0 || pipe2(fds, O_CLOEXEC) < 0)
                        r = -errno;
        }
        if (r >= 0) {
                run.ctl_r = fds[0];
                run.ctl_w = fds[1];
                r = build_job_new(&run.running.job);
        }
        if (r >= 0) {
                r = -pthread_create(&run.tee, NULL, tee_main, &run);
                run.tee_started = r >= 0;
        }
        if (r < 0) {
                log_warning_errno(r, "Build %" PRId64 ": cannot start: %m", run.build.id);
                (void) model_build_set_status(db, run.build.id, MODEL_BUILD_FAILED,
                                              "the build could not start (see the daemon log)");
        } else {
                running_add(p, &run.running);
                log_info("Build %" PRId64 " of %s/%s started.", run.build.id, run.comp.project_name,
                         run.comp.name);
                run_steps(&run);
                running_remove(p, &run.running);
                log_info("Build %" PRId64 " of %s/%s ended%s%s.", run.build.id, run.comp.project_name,
                         run.comp.name, run.reason ? ": " : "", run.reason ?: "");
        }
        if (run.pipe_w >= 0)
                close(run.pipe_w);
        if (run.tee_started)
                pthread_join(run.tee, NULL);
        if (run.pipe_r >= 0)
                close(run.pipe_r);
        if (run.ctl_r >= 0)
                close(run.ctl_r);
        if (run.ctl_w >= 0)
                close(run.ctl_w);
        pthread_mutex_destroy(&run.tee_lock);
        pthread_cond_destroy(&run.tee_cond);
        if (run.build_log_fd >= 0)
                close(run.build_log_fd);
        if (run.work)
                (void) rm_rf(run.work);
        if (run.comp.id > 0)
                prune(&run);
        build_job_free(run.running.job);
        descriptor_free(run.descriptor);
        source_commit_done(&run.commit);
        pipeline_source_done(&run.src);
        model_component_done(&run.comp);
        model_build_done(&run.build);
        free(run.dir);
        free(run.work);
        free(run.ref);
        free(run.reason);
        free(run.scan_fail_on);
}

static void *worker_main(void *userdata) {
        Pipeline *p = userdata;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        int r;

        r = sqlite_open(p->db_path, &db);
        if (r < 0) {
                log_error_errno(r, "The build pipeline cannot open %s: %m", p->db_path);
                return NULL;
        }
        for (;;) {
                ModelBuild b = {};

                pthread_mutex_lock(&p->lock);
                while (!p->stopping && !p->kicked) {
                        struct timespec ts;
                        clock_gettime(CLOCK_REALTIME, &ts);
                        ts.tv_sec += 5; /* a row written by someone who did not wake us */
                        if (pthread_cond_timedwait(&p->wake, &p->lock, &ts) == ETIMEDOUT)
                                break;
                }
                p->kicked = false;
                if (p->stopping) {
                        pthread_mutex_unlock(&p->lock);
                        break;
                }
                pthread_mutex_unlock(&p->lock);
                while (!p->stopping && model_build_claim_next(db, &b) >= 0) {
                        /* Another may be waiting for a different component. */
                        pipeline_wake(p);
                        run_build(p, db, &b);
                }
        }
        return NULL;
}

void pipeline_wake(Pipeline *p) {
        if (!p)
                return;
        pthread_mutex_lock(&p->lock);
        p->kicked = true;
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->lock);
}

void pipeline_cancel(Pipeline *p, int64_t build_id) {
        if (!p)
                return;
        pthread_mutex_lock(&p->lock);
        for (Running *r = p->running; r; r = r->next)
                if (r->build_id == build_id) {
                        r->cancelled = true;
                        (void) build_job_cancel(r->job);
                }
        pthread_mutex_unlock(&p->lock);
}

/* What a killed daemon left: builds marked running are failed, their workspaces removed, and a tag an
 * unfinished build made is removed unless a succeeded build has it. */
static int recover(Pipeline *p, sqlite3 *db) {
        ModelBuild *b = NULL;
        size_t n = 0;
        int r;

        r = model_build_list_by_status(db, MODEL_BUILD_RUNNING, &b, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *work = NULL, *reason = NULL;
                ModelBuildStep *steps = NULL;
                size_t n_steps = 0;
                const char *at = "its first step";

                if (model_build_steps_list(db, b[i].id, &steps, &n_steps) >= 0)
                        for (size_t k = 0; k < n_steps; k++) {
                                if (streq(steps[k].status, MODEL_STEP_RUNNING)) {
                                        at = steps[k].name ?: pipeline_steps[k] ?: "a step";
                                        (void) model_build_step_set(db, b[i].id, (int64_t) k,
                                                                    MODEL_STEP_FAILED,
                                                                    "slipwayd stopped during this step");
                                } else if (streq(steps[k].status, MODEL_STEP_PENDING))
                                        (void) model_build_step_set(db, b[i].id, (int64_t) k,
                                                                    MODEL_STEP_SKIPPED, NULL);
                        }
                if (asprintf(&reason, "slipwayd stopped while step %s ran; build it again", at) < 0)
                        reason = NULL;
                (void) model_build_set_status(db, b[i].id, MODEL_BUILD_FAILED, reason ?: "slipwayd stopped");
                if (build_dir_path(p, b[i].id, "work", &work) >= 0)
                        (void) rm_rf(work);
                if (b[i].image_ref) {
                        ModelBuild other = {};
                        /* The store step records the tag after the image step made it: a build that got that
                         * far built everything; keep the image only when a finished build owns it. */
                        if (model_build_find(db, b[i].component_id, b[i].commit_sha ?: "",
                                             b[i].settings_hash, &other) < 0) {
                                char digest[DIGEST_STRING_MAX];
                                (void) image_catalog_remove(p->cfg.catalog, b[i].image_ref, NULL, digest,
                                                            NULL);
                        }
                        model_build_done(&other);
                }
                log_warning("Build %" PRId64 " was interrupted (%s).", b[i].id,
                            reason ?: "slipwayd stopped");
                model_build_steps_free(steps, n_steps);
        }
        model_builds_free(b, n);
        return 0;
}

int pipeline_new(const PipelineConfig *cfg, Pipeline **ret) {
        _cleanup_(pipeline_freep) Pipeline *p = NULL;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        unsigned n;
        int r;

        p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        p->cfg = *cfg;
        pthread_mutex_init(&p->lock, NULL);
        pthread_mutex_init(&p->mirror_lock, NULL);
        pthread_cond_init(&p->wake, NULL);
        p->state_dir = strdup(cfg->state_dir);
        p->db_path = strdup(cfg->db_path);
        p->git_dir = path_join(cfg->state_dir, "git");
        p->local_root = cfg->local_root ? strdup(cfg->local_root) : NULL;
        if (!p->state_dir || !p->db_path || !p->git_dir || (cfg->local_root && !p->local_root))
                return -ENOMEM;
        r = sqlite_open(p->db_path, &db);
        if (r < 0)
                return r;
        r = recover(p, db);
        if (r < 0)
                return r;
        n = cfg->concurrency ?: PIPELINE_CONCURRENCY_DEFAULT;
        if (n > PIPELINE_THREADS_MAX)
                n = PIPELINE_THREADS_MAX;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, PIPELINE_STACK_SIZE);
        for (; p->n_threads < n; p->n_threads++) {
                r = -pthread_create(&p->threads[p->n_threads], &attr, worker_main, p);
                if (r < 0)
                        break;
        }
        pthread_attr_destroy(&attr);
        if (r < 0)
                return r;
        pipeline_wake(p);
        *ret = TAKE_PTR(p);
        return 0;
}

Pipeline *pipeline_free(Pipeline *p) {
        if (!p)
                return NULL;
        pthread_mutex_lock(&p->lock);
        p->stopping = true;
        for (Running *r = p->running; r; r = r->next)
                (void) build_job_cancel(r->job);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->lock);
        for (unsigned i = 0; i < p->n_threads; i++)
                pthread_join(p->threads[i], NULL);
        pthread_mutex_destroy(&p->lock);
        pthread_mutex_destroy(&p->mirror_lock);
        pthread_cond_destroy(&p->wake);
        free(p->state_dir);
        free(p->db_path);
        free(p->git_dir);
        free(p->local_root);
        free(p);
        return NULL;
}

/* What pipeline_resolve() and pipeline_history() do with the mirror, under the mirror lock. */
typedef struct MirrorOp {
        const char *commit, *branch;
        bool fetch;
        size_t max;                 /* history: how many; 0: resolve one commit */
        SourceCommit *commit_ret;   /* resolve */
        SourceCommit **history_ret; /* history */
        size_t *history_n;
} MirrorOp;

static int mirror_run_here(Pipeline *p, int64_t component_id, const PipelineSource *src, MirrorOp *op,
                           char **ret_error, char **ret_hint) {
        _cleanup_(git_mirror_freep) GitMirror *m = NULL;
        SourceError err = {};
        int kind = source_url_classify(src->url);
        int r;

        if (kind < 0) {
                *ret_error = strdup("The component's git URL is not one Slipway can fetch.");
                return -EINVAL;
        }
        if ((kind == SOURCE_URL_PATH || kind == SOURCE_URL_FILE) && p->local_root) {
                const char *path = kind == SOURCE_URL_FILE ? src->url + strlen("file://") : src->url;
                if (!path_below(path, p->local_root)) {
                        if (asprintf(ret_error,
                                     "The repository %s is outside %s, the only place local "
                                     "repositories are read from.",
                                     path, p->local_root) < 0)
                                *ret_error = NULL;
                        return -EPERM;
                }
        }
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        SourceCreds creds = {};
        SourceAuth auth;
        r = sqlite_open(p->db_path, &db);
        if (r >= 0)
                r = source_creds_load(p, db, component_id, src->url, &creds, &auth);
        if (r < 0) {
                *ret_error = strdup("The component's git credentials cannot be opened.");
                return r;
        }
        const char *branch = op->branch ?: src->branch;
        pthread_mutex_lock(&p->mirror_lock);
        r = git_mirror_open(p->git_dir, src->url, &auth, &m, &err);
        if (r >= 0 && op->max > 0) {
                /* The history: the mirror as it is, fetched first when asked or when it lacks the branch. */
                if (op->fetch)
                        r = git_mirror_fetch(m, branch, &err);
                if (r >= 0)
                        r = git_mirror_log(m, branch, op->max, op->history_ret, op->history_n, &err);
                if (r == -ENOENT && !op->fetch) {
                        err = (SourceError) {};
                        r = git_mirror_fetch(m, branch, &err);
                        if (r >= 0)
                                r = git_mirror_log(m, branch, op->max, op->history_ret, op->history_n, &err);
                }
        } else if (r >= 0 && op->commit)
                r = git_mirror_resolve_commit(m, op->commit, op->commit_ret, &err);
        else if (r >= 0) {
                r = git_mirror_fetch(m, branch, &err);
                if (r >= 0)
                        r = git_mirror_resolve_branch(m, branch, op->commit_ret, &err);
        }
        pthread_mutex_unlock(&p->mirror_lock);
        if (r >= 0)
                (void) source_creds_pin(db, &creds, m);
        source_creds_done(&creds);
        if (r < 0) {
                *ret_error = strdup(err.message[0] ? err.message : "The git fetch failed.");
                *ret_hint = err.hint[0] ? strdup(err.hint) : NULL;
        }
        return r;
}

/* libgit2's fetch (updating refs) needs more stack than an HTTP handler thread has (civetweb's are 100 KiB
 * and the handler's frames are below it): the mirror work of an API request runs on a thread of its own
 * with PIPELINE_MIRROR_STACK bytes, which the caller waits for. */
#define PIPELINE_MIRROR_STACK (1024U * 1024U)

typedef struct MirrorJob {
        Pipeline *p;
        int64_t component_id;
        const PipelineSource *src;
        MirrorOp *op;
        char **ret_error, **ret_hint;
        int r;
} MirrorJob;

static void *mirror_job(void *userdata) {
        MirrorJob *j = userdata;

        j->r = mirror_run_here(j->p, j->component_id, j->src, j->op, j->ret_error, j->ret_hint);
        return NULL;
}

static int mirror_run(Pipeline *p, int64_t component_id, const PipelineSource *src, MirrorOp *op,
                      char **ret_error, char **ret_hint) {
        MirrorJob j = { .p = p,
                        .component_id = component_id,
                        .src = src,
                        .op = op,
                        .ret_error = ret_error,
                        .ret_hint = ret_hint };
        pthread_attr_t attr;
        pthread_t t;
        int e;

        e = pthread_attr_init(&attr);
        if (e != 0)
                return -e;
        e = pthread_attr_setstacksize(&attr, PIPELINE_MIRROR_STACK);
        if (e == 0)
                e = pthread_create(&t, &attr, mirror_job, &j);
        pthread_attr_destroy(&attr);
        if (e != 0)
                return -e;
        pthread_join(t, NULL);
        return j.r;
}

int pipeline_resolve(Pipeline *p, int64_t component_id, const PipelineSource *src, const char *commit,
                     const char *branch, SourceCommit *ret, char **ret_error, char **ret_hint) {
        MirrorOp op = { .commit = commit, .branch = branch, .commit_ret = ret };

        return mirror_run(p, component_id, src, &op, ret_error, ret_hint);
}

int pipeline_history(Pipeline *p, int64_t component_id, const PipelineSource *src, const char *branch,
                     bool fetch, size_t max, SourceCommit **ret, size_t *ret_n, char **ret_error,
                     char **ret_hint) {
        MirrorOp op = {
                .branch = branch, .fetch = fetch, .max = max, .history_ret = ret, .history_n = ret_n
        };

        if (max == 0) {
                *ret_error = strdup("Ask for at least one commit.");
                return -EINVAL;
        }
        return mirror_run(p, component_id, src, &op, ret_error, ret_hint);
}
