/* The poller of git components with --poll: for git servers that cannot reach Slipway's webhook.  A thread
 * looks every PIPELINE_POLL_TICK_SEC at the components whose source has poll_sec, fetches the branch of each
 * one that is due and queues a build (trigger "poll") when its head has none.  Only the public pipeline API
 * is used: a fetch takes the same mirror lock as the builds. */
#include "pipeline-poll.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "build-db.h"
#include "component-db.h"
#include "git-mirror.h"
#include "log.h"
#include "sqlite-util.h"
#include "string-util.h"

#define PIPELINE_POLL_TICK_SEC 5
#define PIPELINE_POLL_TRACKED_MAX 1024U

typedef struct Due {
        int64_t component_id;
        time_t next;
        bool failing; /* the last fetch failed: warned once until it works again */
} Due;

struct PipelinePoller {
        Pipeline *pipeline;
        char *db_path;
        pthread_t thread;
        bool started, stopping;
        pthread_mutex_t lock;
        pthread_cond_t wake;
        Due due[PIPELINE_POLL_TRACKED_MAX];
        size_t n_due;
};

static Due *due_of(PipelinePoller *pp, int64_t id) {
        for (size_t i = 0; i < pp->n_due; i++)
                if (pp->due[i].component_id == id)
                        return &pp->due[i];
        if (pp->n_due == PIPELINE_POLL_TRACKED_MAX)
                return NULL;
        pp->due[pp->n_due] = (Due) { .component_id = id };
        return &pp->due[pp->n_due++];
}

/* One component that is due: fetch, and queue its head unless built. */
static void poll_component(PipelinePoller *pp, sqlite3 *db, const ModelComponent *c,
                           const PipelineSource *src, Due *due) {
        _cleanup_(source_commit_done) SourceCommit head = {};
        _cleanup_free_ char *error = NULL, *hint = NULL, *settings = NULL, *hash = NULL, *author = NULL;
        _cleanup_(model_build_done) ModelBuild b = {};
        bool existing = false;
        int r;

        r = pipeline_resolve(pp->pipeline, c->id, src, NULL, NULL, &head, &error, &hint);
        if (r < 0) {
                if (!due->failing)
                        log_warning("Polling %s/%s: %s%s%s", c->project_name, c->name,
                                    error ?: "the fetch failed", hint ? " " : "", hint ?: "");
                due->failing = true;
                return;
        }
        if (due->failing)
                log_info("Polling %s/%s works again.", c->project_name, c->name);
        due->failing = false;
        if (pipeline_settings(src, &settings, &hash) < 0 ||
            asprintf(&author, "%s <%s>", head.author_name ?: "", head.author_email ?: "") < 0)
                return;
        ModelBuildNew nb = {
                .component_id = c->id,
                .commit_sha = head.id,
                .branch = src->branch,
                .settings = settings,
                .settings_hash = hash,
                .trigger = MODEL_BUILD_TRIGGER_POLL,
                .requested_by = "poll",
                .commit_subject = head.subject,
                .commit_author = author,
                .commit_time = head.author_time,
                .steps = pipeline_steps,
        };
        r = model_build_create(db, &nb, &b, &existing);
        if (r < 0) {
                log_warning_errno(r, "Polling %s/%s: cannot queue a build of %s: %m", c->project_name,
                                  c->name, head.short_id);
                return;
        }
        if (existing)
                return;
        log_info("Polling %s/%s: new commit %s on %s, build %lld queued.", c->project_name, c->name,
                 head.short_id, src->branch, (long long) b.id);
        pipeline_wake(pp->pipeline);
}

static void poll_all(PipelinePoller *pp, sqlite3 *db) {
        ModelComponent *c = NULL;
        size_t n = 0;
        time_t now = time(NULL);

        if (model_component_list_with_source(db, &c, &n) < 0)
                return;
        for (size_t i = 0; i < n && !__atomic_load_n(&pp->stopping, __ATOMIC_ACQUIRE); i++) {
                _cleanup_(pipeline_source_done) PipelineSource src = {};
                Due *due;

                if (pipeline_source_parse(c[i].source, &src) < 0 || src.poll_sec == 0)
                        continue;
                due = due_of(pp, c[i].id);
                if (!due || now < due->next)
                        continue;
                due->next = now + (time_t) src.poll_sec;
                poll_component(pp, db, &c[i], &src, due);
        }
        model_components_free(c, n);
}

static void *poller_main(void *userdata) {
        PipelinePoller *pp = userdata;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;

        if (sqlite_open(pp->db_path, &db) < 0) {
                log_error("The git poller cannot open %s; --poll is not served.", pp->db_path);
                return NULL;
        }
        for (;;) {
                struct timespec ts;

                poll_all(pp, db);
                pthread_mutex_lock(&pp->lock);
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_sec += PIPELINE_POLL_TICK_SEC;
                while (!pp->stopping && pthread_cond_timedwait(&pp->wake, &pp->lock, &ts) != ETIMEDOUT)
                        ;
                bool stop = pp->stopping;
                pthread_mutex_unlock(&pp->lock);
                if (stop)
                        break;
        }
        return NULL;
}

int pipeline_poller_new(Pipeline *p, const char *db_path, PipelinePoller **ret) {
        PipelinePoller *pp = calloc(1, sizeof *pp);
        int r;

        if (!pp)
                return -ENOMEM;
        pp->pipeline = p;
        pp->db_path = strdup(db_path);
        pthread_mutex_init(&pp->lock, NULL);
        pthread_cond_init(&pp->wake, NULL);
        if (!pp->db_path) {
                pipeline_poller_free(pp);
                return -ENOMEM;
        }
        r = -pthread_create(&pp->thread, NULL, poller_main, pp);
        if (r < 0) {
                pipeline_poller_free(pp);
                return r;
        }
        pp->started = true;
        *ret = pp;
        return 0;
}

PipelinePoller *pipeline_poller_free(PipelinePoller *pp) {
        if (!pp)
                return NULL;
        pthread_mutex_lock(&pp->lock);
        __atomic_store_n(&pp->stopping, true, __ATOMIC_RELEASE);
        pthread_cond_broadcast(&pp->wake);
        pthread_mutex_unlock(&pp->lock);
        if (pp->started)
                pthread_join(pp->thread, NULL);
        pthread_mutex_destroy(&pp->lock);
        pthread_cond_destroy(&pp->wake);
        free(pp->db_path);
        free(pp);
        return NULL;
}
