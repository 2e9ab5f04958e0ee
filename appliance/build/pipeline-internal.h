/* What pipeline.c (the queue, its threads and a build's run) and pipeline-steps.c (each step) share: the
 * pipeline's state, a running build and the helpers both use.  Not for anyone else. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "build-db.h"
#include "component-db.h"
#include "descriptor.h"
#include "digest.h"
#include "git-mirror.h"
#include "macro.h"
#include "pipeline.h"
#include "sqlite-util.h"
#include "vault.h"

#define PIPELINE_THREADS_MAX 8U
#define PIPELINE_DEPLOY_WAIT_USEC (15ULL * 60ULL * 1000000ULL)

enum {
        STEP_FETCH,
        STEP_CHECKOUT,
        STEP_DESCRIPTOR,
        STEP_IMAGE,
        STEP_SCAN,
        STEP_STORE,
        STEP_PUSH,
        STEP_UPDATE,
        STEP_DEPLOY,
        _STEP_MAX /* = the entries of pipeline_steps[] */
};

typedef struct Running Running;
struct Running {
        int64_t build_id;
        BuildJob *job;
        bool cancelled;
        Running *next;
};

struct Pipeline {
        PipelineConfig cfg;
        char *state_dir, *db_path, *local_root, *git_dir;
        pthread_t threads[PIPELINE_THREADS_MAX];
        unsigned n_threads;
        pthread_mutex_t lock;
        pthread_cond_t wake;
        bool stopping, kicked;
        Running *running;
        pthread_mutex_t mirror_lock; /* one fetch into DIR/git at a time */
};

typedef struct Run {
        Pipeline *p;
        sqlite3 *db;
        ModelBuild build;
        ModelComponent comp;
        PipelineSource src;
        Running running;
        char *dir, *work, *context;
        int pipe_w, pipe_r;
        int build_log_fd;
        int step_fd;      /* the current step's log (the tee thread's; changed through tee_switch()) */
        int ctl_r, ctl_w; /* tee_switch() → tee thread */
        pthread_mutex_t tee_lock;
        pthread_cond_t tee_cond;
        int next_step_fd;
        unsigned tee_req, tee_done;
        bool tee_exited;
        pthread_t tee;
        bool tee_started;
        uint64_t deadline;
        SourceCommit commit;
        Descriptor *descriptor;
        char digest[DIGEST_STRING_MAX];
        char *ref;
        char *reason;       /* why the build failed (first failure) */
        char *scan_fail_on; /* the project's scan threshold ("critical", "high", "none"); NULL: critical */
        bool cancelled, timed_out;
        bool stopped; /* slipwayd is stopping: the build fails (it is not the user's cancel) */
        int step;     /* the step running, for messages */
        /* A message a step formats for build_steps.message (the push step's reference); not thread-local
         * storage, which every thread of slipwayd pays for out of its stack, civetweb's small ones too. */
        char step_message[700];
} Run;

/* path is root or below it (both absolute; no ".." is followed). */
bool path_below(const char *path, const char *root);
/* DIR/builds/<id>[/sub] */
int build_dir_path(const Pipeline *p, int64_t id, const char *sub, char **ret);
uint64_t now_usec(void);
/* A line into the build's log (build.log and the step's). */
_printf_(2, 3) void say(Run *run, const char *fmt, ...);
/* Fails the build with a sentence (the first one counts) and says it; returns r (or -EIO). */
_printf_(3, 4) int fail(Run *run, int r, const char *fmt, ...);
/* The same for a failure the build's log already shows (the builder's own error line): not said again. */
_printf_(3, 4) int fail_logged(Run *run, int r, const char *fmt, ...);
/* Cancel, slipwayd stopping or the timeout: the build should stop now (sets cancelled/stopped/timed_out). */
bool stop_requested(Run *run);
/* The credentials of a fetch (pipeline-creds.c): the component's token or deploy key from the vault and
 * the pinned ssh host key of url's server, as *ret_auth (pointing into c). */
typedef struct SourceCreds {
        uint8_t *token, *key;
        size_t token_size, key_size;
        char *pinned;
        char host[300]; /* "host:port" of an ssh URL, else "" */
} SourceCreds;
int source_creds_load(Pipeline *p, sqlite3 *db, int64_t component_id, const char *url, SourceCreds *c,
                      SourceAuth *ret_auth);
/* After a fetch that worked: pins the host key the server showed when none was pinned. */
int source_creds_pin(sqlite3 *db, SourceCreds *c, const GitMirror *m);
void source_creds_done(SourceCreds *c);

/* The steps (pipeline-steps.c): 0, or a -errno after fail() said why. */
int step_fetch(Run *run, GitMirror **ret_mirror);
int step_checkout(Run *run, GitMirror *m);
int step_descriptor(Run *run, const char **ret_message);
int step_image(Run *run);
int step_scan(Run *run, const char **ret_message);
/* pipeline-store.c */
int step_store(Run *run, const char **ret_message);
int step_update(Run *run, const char **ret_message);
/* pipeline-push.c: the image to the project's registry; *ret_skipped when the project pushes nowhere. */
int step_push(Run *run, const char **ret_message, bool *ret_skipped);
int step_deploy(Run *run);
/* Asked when the build began, or since (build --deploy of a commit being built), or auto-deploy is on now. */
bool want_deploy(Run *run);
