/* The build pipeline: the queue is the builds table; worker threads claim the oldest queued build whose
 * component has none running and run its steps (pipeline.h).  Each build's output goes through a pipe to a
 * tee thread that appends every line to the step's log and to build.log as it comes, so a follower sees the
 * build live. */
#include "pipeline.h"

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

#define PIPELINE_THREADS_MAX 8U
#define PIPELINE_STACK_SIZE (8U * 1024U * 1024U) /* the builder's stages recurse */
#define PIPELINE_DEPLOY_WAIT_USEC (15ULL * 60ULL * 1000000ULL)

const char *const pipeline_steps[] = {
        PIPELINE_STEP_FETCH,  PIPELINE_STEP_CHECKOUT, PIPELINE_STEP_DESCRIPTOR,
        PIPELINE_STEP_IMAGE,  PIPELINE_STEP_SCAN,     PIPELINE_STEP_STORE,
        PIPELINE_STEP_UPDATE, PIPELINE_STEP_DEPLOY,   NULL,
};

enum {
        STEP_FETCH,
        STEP_CHECKOUT,
        STEP_DESCRIPTOR,
        STEP_IMAGE,
        STEP_SCAN,
        STEP_STORE,
        STEP_UPDATE,
        STEP_DEPLOY
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

void pipeline_source_done(PipelineSource *s) {
        if (!s)
                return;
        free(s->url);
        free(s->branch);
        free(s->dir);
        free(s->dockerfile);
        *s = (PipelineSource) {};
}

int pipeline_source_parse(const char *json, PipelineSource *ret) {
        _cleanup_json_ json_t *j = json ? json_loads(json, 0, NULL) : NULL;
        const char *url = NULL, *branch = NULL, *dir = NULL, *dockerfile = NULL;
        int64_t poll = 0;

        if (!json_is_object(j) || json_get_string(j, "url", &url) < 0 || isempty(url) ||
            json_get_string_opt(j, "branch", &branch) < 0 || json_get_string_opt(j, "dir", &dir) < 0 ||
            json_get_string_opt(j, "dockerfile", &dockerfile) < 0)
                return -EINVAL;
        if (json_object_get(j, "poll_sec") && (json_get_int(j, "poll_sec", &poll) < 0 || poll < 0))
                return -EINVAL;
        *ret = (PipelineSource) {
                .url = strdup(url),
                .branch = strdup(isempty(branch) ? "main" : branch),
                .dir = strdup(dir ?: ""),
                .dockerfile = strdup(isempty(dockerfile) ? "Dockerfile" : dockerfile),
                .poll_sec = (uint64_t) poll,
        };
        if (!ret->url || !ret->branch || !ret->dir || !ret->dockerfile) {
                pipeline_source_done(ret);
                return -ENOMEM;
        }
        return 0;
}

static bool relative_path_ok(const char *p, size_t max) {
        return strlen(p) < max && p[0] != '/' && !path_has_dotdot(p) && !strpbrk(p, "\n\r\t");
}

int pipeline_source_check(const PipelineSource *s, char **ret_error) {
        const char *e = NULL;
        int kind = source_url_classify(s->url);
        struct stat st;

        if (kind < 0)
                e = "The git URL is not an absolute path, file://, git://, http(s):// or ssh:// URL.";
        else if (kind == SOURCE_URL_SSH)
                e = "ssh:// repositories are not supported yet: use http(s):// with a token, git:// or a path.";
        else if ((kind == SOURCE_URL_PATH || kind == SOURCE_URL_FILE) &&
                 (stat(kind == SOURCE_URL_FILE ? s->url + strlen("file://") : s->url, &st) < 0 ||
                  !S_ISDIR(st.st_mode)))
                e = "There is no git repository at that path on this machine.";
        else if (isempty(s->branch) || strlen(s->branch) > SOURCE_BRANCH_MAX || s->branch[0] == '-' ||
                 strstr(s->branch, "..") || strpbrk(s->branch, " ~^:?*[\\\n\t") ||
                 endswith(s->branch, ".lock") || endswith(s->branch, "/") || s->branch[0] == '/')
                e = "The branch is not a name git allows.";
        else if (!relative_path_ok(s->dir, 1024))
                e = "--dir must be a path inside the repository (relative, without '..').";
        else if (isempty(s->dockerfile) || !relative_path_ok(s->dockerfile, 1024))
                e = "--dockerfile must be a path inside --dir (relative, without '..').";
        else if (s->poll_sec != 0 &&
                 (s->poll_sec < PIPELINE_POLL_MIN_SEC || s->poll_sec > PIPELINE_POLL_MAX_SEC))
                e = "--poll must be between 10s and 7 days (or 0 for none).";
        if (!e)
                return 0;
        *ret_error = strdup(e);
        return -EINVAL;
}

int pipeline_source_format(const PipelineSource *s, char **ret_json) {
        _cleanup_json_ json_t *j =
                json_pack("{s:s,s:s,s:s,s:s,s:I}", "url", s->url, "branch", s->branch, "dir", s->dir,
                          "dockerfile", s->dockerfile, "poll_sec", (json_int_t) s->poll_sec);

        if (!j || !(*ret_json = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT)))
                return -ENOMEM;
        return 0;
}

int pipeline_settings(const PipelineSource *s, char **ret_json, char **ret_hash) {
        _cleanup_json_ json_t *j =
                json_pack("{s:s,s:s,s:s}", "url", s->url, "dir", s->dir, "dockerfile", s->dockerfile);
        char digest[DIGEST_STRING_MAX];
        char *text;

        if (!j || !(text = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT)))
                return -ENOMEM;
        sha256_digest_string(text, strlen(text), digest);
        *ret_hash = strdup(digest_hex(digest));
        if (!*ret_hash) {
                free(text);
                return -ENOMEM;
        }
        *ret_json = text;
        return 0;
}

int pipeline_log_path(const char *state_dir, int64_t build_id, const char *step, char **ret) {
        int pos = -1;

        if (step) {
                for (int i = 0; pipeline_steps[i]; i++)
                        if (streq(pipeline_steps[i], step))
                                pos = i;
                if (pos < 0)
                        return -ENOENT;
        }
        if ((step ? asprintf(ret, "%s/builds/%" PRId64 "/%d-%s.log", state_dir, build_id, pos, step)
                  : asprintf(ret, "%s/builds/%" PRId64 "/build.log", state_dir, build_id)) < 0)
                return -ENOMEM;
        return 0;
}

/* path is root or below it (both absolute; no ".." is followed). */
static bool path_below(const char *path, const char *root) {
        size_t n = strlen(root);

        while (n > 1 && root[n - 1] == '/')
                n--;
        if (path_has_dotdot(path) || strncmp(path, root, n) != 0)
                return false;
        return path[n] == '\0' || path[n] == '/' || (n == 1 && root[0] == '/');
}

static int build_dir_path(const Pipeline *p, int64_t id, const char *sub, char **ret) {
        if ((sub ? asprintf(ret, "%s/builds/%" PRId64 "/%s", p->state_dir, id, sub)
                 : asprintf(ret, "%s/builds/%" PRId64, p->state_dir, id)) < 0)
                return -ENOMEM;
        return 0;
}

/* --- a running build: its log pipe and tee thread */

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
        char *reason; /* why the build failed (first failure) */
        bool cancelled, timed_out;
        bool stopped; /* slipwayd is stopping: the build fails (it is not the user's cancel) */
        int step;     /* the step running, for messages */
} Run;

static uint64_t now_usec(void) {
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

_printf_(2, 3) static void say(Run *run, const char *fmt, ...) {
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
_printf_(3, 4) static int fail(Run *run, int r, const char *fmt, ...) {
        va_list ap;

        if (!run->reason) {
                va_start(ap, fmt);
                if (vasprintf(&run->reason, fmt, ap) < 0)
                        run->reason = NULL;
                va_end(ap);
        }
        if (run->reason)
                say(run, "error: %s", run->reason);
        return r < 0 ? r : -EIO;
}

static bool stop_requested(Run *run) {
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

/* --- steps */

static int open_step_log(Run *run, int pos) {
        _cleanup_free_ char *path = NULL;
        int fd;

        if (pipeline_log_path(run->p->state_dir, run->build.id, pipeline_steps[pos], &path) < 0)
                return -ENOMEM;
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        return fd < 0 ? -errno : fd;
}

/* The component's http(s) token from the vault (NULL *ret when it has none). */
static int source_token(Pipeline *p, sqlite3 *db, int64_t component_id, uint8_t **ret, size_t *ret_size) {
        int r;

        *ret = NULL;
        *ret_size = 0;
        if (!p->cfg.vault || component_id <= 0)
                return 0;
        r = vault_component_secret_get(p->cfg.vault, db, component_id, VAULT_SECRET_GIT_TOKEN, ret,
                                       ret_size);
        return r == -ENOENT ? 0 : r;
}

int pipeline_schema_path(const char *state_dir, int64_t build_id, const char *endpoint, char **ret) {
        if (!endpoint || !endpoint[0] || strchr(endpoint, '/') || endpoint[0] == '.')
                return -EINVAL;
        if (asprintf(ret, "%s/builds/%" PRId64 "/schemas/%s", state_dir, build_id, endpoint) < 0)
                return -ENOMEM;
        return 0;
}

/* Keeps what the descriptor said with the build (DIR/builds/<id>/descriptor.json) and each endpoint's
 * schema file (schemas/<endpoint>), read from the workspace without following a link out of it. */
static int keep_descriptor(Run *run) {
        const Descriptor *d = run->descriptor;
        _cleanup_json_ json_t *j = json_object(), *eps = json_array(), *cfgs = json_array();
        _cleanup_free_ char *schemas = NULL, *text = NULL, *path = NULL;
        _cleanup_close_ int work_fd = -EBADF;
        int r;

        if (!j || !eps || !cfgs)
                return -ENOMEM;
        r = build_dir_path(run->p, run->build.id, "schemas", &schemas);
        if (r < 0)
                return r;
        work_fd = open(run->work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (work_fd < 0)
                return -errno;
        _cleanup_free_ char *work_real = realpath(run->work, NULL);
        if (!work_real)
                return -errno;
        for (size_t i = 0; i < d->n_endpoints; i++) {
                const DescriptorEndpoint *e = &d->endpoints[i];
                json_t *o = json_pack("{s:s,s:s,s:i,s:s,s:s,s:s?}", "name", e->name, "display_name",
                                      e->display_name, "port", (int) e->port, "base_path", e->base_path,
                                      "type", descriptor_endpoint_type_to_string(e->type), "schema_file",
                                      e->schema_file_path[0] ? e->schema_file_path : NULL);
                json_array_append_new(eps, o);
                if (!e->schema_file_path[0])
                        continue;
                _cleanup_free_ char *data = NULL, *target = NULL, *full = NULL, *real = NULL;
                const char *rel = e->schema_file_path;
                size_t size = 0;
                full = path_join(run->work, rel);
                if (!full)
                        return -ENOMEM;
                real = realpath(full, NULL);
                if (path_has_dotdot(rel) || rel[0] == '/' || !real || !path_below(real, work_real)) {
                        say(run, "endpoint %s: schema %s is not a file of the component; not kept", e->name,
                            rel);
                        continue;
                }
                r = read_full_file_at(work_fd, rel, PIPELINE_SCHEMA_MAX, &data, &size);
                if (r < 0) {
                        say(run, "endpoint %s: schema %s cannot be read (%s); not kept", e->name, rel,
                            strerror(-r));
                        continue;
                }
                if ((r = mkdir_p(schemas, 0750)) < 0 ||
                    (r = pipeline_schema_path(run->p->state_dir, run->build.id, e->name, &target)) < 0 ||
                    (r = write_file_atomic(target, data, size, 0640)) < 0)
                        return r;
                json_object_set_new(o, "schema_kept", json_true());
                say(run, "endpoint %s: schema %s kept (%zu bytes)", e->name, rel, size);
        }
        for (size_t i = 0; i < d->n_configs; i++) {
                const DescriptorConfig *c = &d->configs[i];
                json_array_append_new(cfgs, json_pack("{s:s,s:s,s:b,s:s?,s:b,s:s}", "name", c->name,
                                                      "display_name", c->display_name, "file", c->file,
                                                      "mount_path", c->file ? c->mount_path : NULL,
                                                      "required", c->required, "type",
                                                      descriptor_config_type_to_string(c->type)));
        }
        json_object_set_new(j, "file", json_string(descriptor_format_to_string(d->format)));
        json_object_set_new(j, "schema_version", json_string(d->schema_version));
        json_object_set(j, "endpoints", eps);
        json_object_set(j, "configurations", cfgs);
        json_object_set(j, "dependencies", d->dependencies ?: json_null());
        text = json_dumps(j, JSON_INDENT(2));
        if (!text || build_dir_path(run->p, run->build.id, PIPELINE_DESCRIPTOR_FILE, &path) < 0)
                return -ENOMEM;
        return write_file_atomic(path, text, strlen(text), 0640);
}

static int step_fetch(Run *run, GitMirror **ret_mirror) {
        Pipeline *p = run->p;
        _cleanup_(git_mirror_freep) GitMirror *m = NULL;
        SourceError err = {};
        int kind = source_url_classify(run->src.url);
        int r;

        if (kind < 0)
                return fail(run, -EINVAL, "The component's git URL is not one Slipway can fetch.");
        if ((kind == SOURCE_URL_PATH || kind == SOURCE_URL_FILE) && p->local_root) {
                const char *path = kind == SOURCE_URL_FILE ? run->src.url + strlen("file://") : run->src.url;
                if (!path_below(path, p->local_root))
                        return fail(run, -EPERM,
                                    "The repository %s is outside %s, the only place local "
                                    "repositories are read from.",
                                    path, p->local_root);
        }
        uint8_t *token = NULL;
        size_t token_size = 0;
        r = source_token(p, run->db, run->comp.id, &token, &token_size);
        if (r < 0)
                return fail(run, r, "The component's git token cannot be opened: %s.", strerror(-r));
        SourceAuth auth = { .http_token = (const char *) token };
        pthread_mutex_lock(&p->mirror_lock);
        r = git_mirror_open(p->git_dir, run->src.url, token ? &auth : NULL, &m, &err);
        if (r >= 0) {
                say(run, "fetching %s from %s",
                    run->build.commit_sha ? run->build.commit_sha : run->src.branch,
                    git_mirror_url_shown(m));
                if (run->build.commit_sha)
                        r = git_mirror_resolve_commit(m, run->build.commit_sha, &run->commit, &err);
                else {
                        r = git_mirror_fetch(m, run->src.branch, &err);
                        if (r >= 0)
                                r = git_mirror_resolve_branch(m, run->src.branch, &run->commit, &err);
                }
        }
        pthread_mutex_unlock(&p->mirror_lock);
        vault_secret_free(token, token_size);
        if (r < 0)
                return fail(run, r, "%s%s%s", err.message[0] ? err.message : "The fetch failed.",
                            err.hint[0] ? " " : "", err.hint);
        say(run, "commit %s: %s (%s)", run->commit.id, run->commit.subject ?: "",
            run->commit.author_name ?: "unknown author");
        if (!run->build.commit_sha || strlen(run->build.commit_sha) != strlen(run->commit.id) ||
            !run->build.commit_subject) {
                _cleanup_free_ char *author = NULL;
                if (asprintf(&author, "%s <%s>", run->commit.author_name ?: "",
                             run->commit.author_email ?: "") < 0)
                        return -ENOMEM;
                r = model_build_set_commit(run->db, run->build.id, run->commit.id, run->commit.subject,
                                           author, run->commit.author_time);
                if (r == -EEXIST || r == -EBUSY)
                        return fail(run, r, "Commit %s of this component is already built or being built.",
                                    run->commit.short_id);
                if (r < 0)
                        return fail(run, r, "Cannot record the commit: %s.", strerror(-r));
        }
        *ret_mirror = TAKE_PTR(m);
        return 0;
}

static int step_checkout(Run *run, GitMirror *m) {
        SourceCheckoutLimits limits = { SOURCE_CHECKOUT_FILES_MAX, SOURCE_CHECKOUT_BYTES_MAX };
        SourceCheckoutResult res = {};
        SourceError err = {};
        int r;

        r = mkdir_p(run->work, 0700);
        if (r < 0)
                return fail(run, r, "Cannot create the workspace %s: %s.", run->work, strerror(-r));
        r = git_checkout_commit(m, run->commit.id, run->src.dir[0] ? run->src.dir : NULL, run->work, &limits,
                                &res, &err);
        if (r < 0)
                return fail(run, r, "%s%s%s", err.message[0] ? err.message : "The checkout failed.",
                            err.hint[0] ? " " : "", err.hint);
        say(run, "checked out %" PRIu64 " files in %" PRIu64 " directories (%" PRIu64 " bytes)%s%s",
            res.n_files, res.n_dirs, res.n_bytes, res.n_submodules_skipped ? "; submodules skipped: " : "",
            res.first_submodule);
        return 0;
}

static int step_descriptor(Run *run, const char **ret_message) {
        _cleanup_close_ int fd = open(run->work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DescriptorError err = {};
        int r;

        if (fd < 0)
                return fail(run, -errno, "Cannot open the workspace: %m.");
        r = descriptor_load(fd, NULL, &run->descriptor, &err);
        if (r == -ENOENT) {
                *ret_message = "no .choreo descriptor: the component's own settings are used";
                say(run, "%s", *ret_message);
                return 0;
        }
        if (r < 0)
                return fail(run, r, "%s", err.text[0] ? err.text : "The descriptor cannot be read.");
        say(run, "%s: %zu endpoint(s), %zu configurable(s)",
            descriptor_format_to_string(run->descriptor->format), run->descriptor->n_endpoints,
            run->descriptor->n_configs);
        r = keep_descriptor(run);
        if (r < 0)
                return fail(run, r, "Cannot keep the descriptor with the build: %s.", strerror(-r));
        *ret_message = descriptor_format_to_string(run->descriptor->format);
        return 0;
}

static int step_image(Run *run) {
        _cleanup_free_ char *df = path_join(run->work, run->src.dockerfile);
        BuildResult res = {};
        BuildError err = {};
        struct stat st;
        int r;

        if (!df)
                return -ENOMEM;
        if (stat(df, &st) < 0 || !S_ISREG(st.st_mode))
                return fail(run, -ENOENT, "There is no Dockerfile at %s%s%s in commit %s.", run->src.dir,
                            run->src.dir[0] ? "/" : "", run->src.dockerfile, run->commit.short_id);
        if (asprintf(&run->ref, "%s/%s:%s", run->comp.project_name, run->comp.name, run->commit.short_id) <
            0)
                return -ENOMEM;
        /* The commit and repository (without credentials) it was built from, as OCI annotations say. */
        _cleanup_free_ char *l_rev = NULL, *l_src = NULL, *l_comp = NULL, *shown = NULL;
        if (source_url_redact(run->src.url, &shown) < 0 ||
            asprintf(&l_rev, "org.opencontainers.image.revision=%s", run->commit.id) < 0 ||
            asprintf(&l_src, "org.opencontainers.image.source=%s", shown) < 0 ||
            asprintf(&l_comp, "dev.slipway.component=%s/%s", run->comp.project_name, run->comp.name) < 0)
                return -ENOMEM;
        char *labels[] = { l_rev, l_src, l_comp, NULL };
        BuildOptions opts = {
                .context_dir = run->work,
                .labels = labels,
                .dockerfile = run->src.dockerfile,
                .tag = run->ref,
                .log_fd = run->pipe_w,
                .timeout_usec = run->deadline > now_usec() ? run->deadline - now_usec() : 1,
                .job = run->running.job,
        };
        r = builder_run(run->p->cfg.builder, &opts, NULL, &res, &err);
        if (r == -ECANCELED) {
                run->cancelled = true;
                return fail(run, r, "The build was cancelled.");
        }
        if (r == -ETIME) {
                run->timed_out = true;
                return r;
        }
        if (r < 0) {
                if (err.line > 0)
                        return fail(run, r, "%s:%u: %s%s%s", err.file[0] ? err.file : run->src.dockerfile,
                                    err.line, err.message, err.hint[0] ? " " : "", err.hint);
                return fail(run, r, "%s%s%s", err.message[0] ? err.message : "The image build failed.",
                            err.hint[0] ? " " : "", err.hint);
        }
        memcpy(run->digest, res.digest, sizeof run->digest);
        free(run->ref);
        run->ref = res.ref ? strdup(res.ref) : NULL;
        build_result_done(&res);
        return 0;
}

/* A component with no endpoint (none given, none in a descriptor): each TCP port the built image exposes is
 * a public endpoint "port-N", and a readiness check left at the process default checks the first one. */
static int endpoints_from_image(Run *run, ComponentSpec *spec) {
        ImageCatalog *cat = run->p->cfg.catalog;
        _cleanup_json_ json_t *img = NULL, *j = NULL, *eps = NULL;
        _cleanup_free_ char *text = NULL, *error = NULL;
        json_t *exposed, *v;
        const char *key;
        OciError err = {};
        int r;

        if (!cat || !cat->store)
                return 0;
        image_catalog_read_lock(cat);
        r = oci_store_image_inspect(cat->store, run->digest, &img, &err);
        image_catalog_read_unlock(cat);
        if (r < 0)
                return 0; /* no config to read: the spec stays as it is */
        exposed = json_object_get(json_object_get(json_object_get(img, "config"), "config"), "ExposedPorts");
        eps = json_array();
        if (!eps)
                return -ENOMEM;
        json_object_foreach(exposed, key, v) {
                char *end, name[16];
                unsigned long port = strtoul(key, &end, 10);
                if (end == key || port == 0 || port > 65535 || (*end && !streq(end, "/tcp")) ||
                    json_array_size(eps) >= SPEC_ENDPOINTS_MAX)
                        continue;
                snprintf(name, sizeof name, "port-%lu", port);
                json_array_append_new(eps, json_pack("{s:s,s:i}", "name", name, "port", (int) port));
        }
        if (json_array_size(eps) == 0)
                return 0;
        text = component_spec_format(spec);
        if (!text || json_parse_buffer(text, strlen(text), &j, NULL) < 0)
                return -ENOMEM;
        json_object_set(j, "endpoints", eps);
        if (spec->readiness.kind == HEALTH_PROCESS)
                json_object_del(j, "health");
        r = component_spec_from_json(j, spec, &error);
        if (r < 0)
                return fail(run, r, "The image's exposed ports do not make endpoints: %s",
                            error ?: "invalid");
        say(run, "endpoints from the ports the image exposes: %zu", spec->n_endpoints);
        return 0;
}

static int step_update(Run *run, const char **ret_message) {
        _cleanup_free_ char *cur_err = NULL, *json = NULL;
        DescriptorError derr = {};
        ComponentSpec cur, desc;
        int r;

        r = component_spec_parse(run->comp.spec, &cur, &cur_err);
        if (r < 0)
                return fail(run, r, "The component's spec cannot be read: %s", cur_err ?: "invalid");
        if (!run->descriptor) {
                if (cur.n_endpoints > 0) {
                        *ret_message = "no descriptor: the spec is unchanged";
                        return 0;
                }
                r = endpoints_from_image(run, &cur);
                if (r < 0)
                        return r;
                if (cur.n_endpoints == 0) {
                        *ret_message = "no descriptor and no exposed port: the spec is unchanged";
                        return 0;
                }
                *ret_message = "endpoints from the ports the image exposes";
                goto save;
        }
        r = descriptor_to_spec(run->descriptor, &desc, &derr);
        if (r < 0)
                return fail(run, r, "%s",
                            derr.text[0] ? derr.text : "The descriptor does not map to a spec.");
        if (desc.n_endpoints > 0) {
                memcpy(cur.endpoints, desc.endpoints, sizeof cur.endpoints);
                cur.n_endpoints = desc.n_endpoints;
        }
        memcpy(cur.configs, desc.configs, sizeof cur.configs);
        cur.n_configs = desc.n_configs;
        if (run->descriptor->has_extension) {
                cur.readiness = desc.readiness;
                cur.liveness = desc.liveness;
                cur.deploy_timeout_ms = desc.deploy_timeout_ms;
                cur.memory_bytes = desc.memory_bytes;
                cur.cpus_milli = desc.cpus_milli;
                cur.pids = desc.pids;
                cur.bake_ms = desc.bake_ms;
                cur.bake_max_5xx_percent = desc.bake_max_5xx_percent;
        }
        if (cur.n_endpoints == 0 && (r = endpoints_from_image(run, &cur)) < 0)
                return r;
save:
        json = component_spec_format(&cur);
        if (!json)
                return -ENOMEM;
        r = model_component_update(run->db, run->comp.id, run->comp.image_ref, json);
        if (r < 0)
                return fail(run, r, "Cannot save the component's spec: %s.", strerror(-r));
        free(run->comp.spec);
        run->comp.spec = TAKE_PTR(json);
        if (run->descriptor) {
                say(run,
                    "endpoints and configurables taken from the descriptor (%zu endpoint(s), %zu "
                    "configurable(s))",
                    cur.n_endpoints, cur.n_configs);
                *ret_message = "endpoints and configurables from the descriptor";
        }
        return 0;
}

static int step_deploy(Run *run) {
        _cleanup_(release_refusal_done) ReleaseRefusal refusal = {};
        ModelEnvironment *envs = NULL;
        size_t n_envs = 0;
        int64_t release_id = 0;
        uint64_t until;
        int r;

        r = model_environment_list(run->db, run->comp.project_id, &envs, &n_envs);
        if (r < 0 || n_envs == 0) {
                model_environments_free(envs, n_envs);
                return fail(run, r < 0 ? r : -ENOENT, "Project %s has no environment to deploy to.",
                            run->comp.project_name);
        }
        say(run, "deploying %s to %s", run->ref ?: run->digest, envs[0].name);
        r = release_create(run->db, &run->comp, &envs[0], run->digest, run->comp.spec,
                           MODEL_RELEASE_ORIGIN_DEPLOY, 0, NULL, 0, &release_id, &refusal);
        model_environments_free(envs, n_envs);
        if (r < 0)
                return fail(run, r, "%s%s%s", refusal.message ?: "The release cannot be created.",
                            refusal.hint ? " " : "", refusal.hint ?: "");
        (void) model_build_set_release(run->db, run->build.id, release_id);
        model_deploy_log_appendf(run->db, release_id, "deploy of build %" PRId64 " (%s) requested",
                                 run->build.id, run->ref ?: run->digest);
        if (run->p->cfg.wake_engine)
                run->p->cfg.wake_engine(run->p->cfg.wake_userdata);
        until = now_usec() + PIPELINE_DEPLOY_WAIT_USEC;
        for (;;) {
                ModelRelease rel = {};
                struct timespec ts = { 0, 20 * 1000 * 1000 };

                r = model_release_get(run->db, release_id, &rel);
                if (r < 0)
                        return fail(run, r, "The release %" PRId64 " is gone.", release_id);
                if (streq(rel.status, MODEL_RELEASE_LIVE)) {
                        say(run, "release %" PRId64 " is live", release_id);
                        model_release_done(&rel);
                        return 0;
                }
                if (!streq(rel.status, MODEL_RELEASE_PENDING) &&
                    !streq(rel.status, MODEL_RELEASE_DEPLOYING)) {
                        r = fail(run, -EIO, "Release %" PRId64 " ended %s: %s", release_id, rel.status,
                                 rel.reason ?: "see slipway releases");
                        model_release_done(&rel);
                        return r;
                }
                model_release_done(&rel);
                if (now_usec() > until)
                        return fail(run, -ETIME, "Release %" PRId64 " did not go live in time.", release_id);
                if (stop_requested(run) && !run->timed_out)
                        return fail(run, -ECANCELED, "The build was cancelled while its release deployed.");
                nanosleep(&ts, NULL);
        }
}

/* Asked when the build began, or since (build --deploy of a commit being built), or auto-deploy is on now. */
static bool want_deploy(Run *run) {
        ModelBuild b = {};
        ModelComponent c = {};
        bool want = run->build.deploy || run->comp.autodeploy;

        if (!want && model_build_get(run->db, run->build.id, &b) >= 0)
                want = b.deploy;
        model_build_done(&b);
        if (!want && model_component_get_by_id(run->db, run->comp.id, &c) >= 0)
                want = c.autodeploy;
        model_component_done(&c);
        return want;
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
                say(run, "=== step %d/8: %s", pos + 1, pipeline_steps[pos]);
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
                        message = "no scanner configured";
                        say(run, "%s", message);
                        skip = true;
                        break;
                case STEP_STORE:
                        r = model_build_set_image(run->db, run->build.id, run->digest, run->ref);
                        if (r < 0)
                                r = fail(run, r, "Cannot record the image: %s.", strerror(-r));
                        else
                                say(run, "stored %s as %s", run->digest, run->ref ?: "(untagged)");
                        message = run->ref;
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
                                        at = pipeline_steps[k] ? pipeline_steps[k] : steps[k].name;
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

int pipeline_resolve(Pipeline *p, int64_t component_id, const PipelineSource *src, const char *commit,
                     const char *branch, SourceCommit *ret, char **ret_error, char **ret_hint) {
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
        uint8_t *token = NULL;
        size_t token_size = 0;
        r = sqlite_open(p->db_path, &db);
        if (r >= 0)
                r = source_token(p, db, component_id, &token, &token_size);
        if (r < 0) {
                *ret_error = strdup("The component's git token cannot be opened.");
                return r;
        }
        SourceAuth auth = { .http_token = (const char *) token };
        pthread_mutex_lock(&p->mirror_lock);
        r = git_mirror_open(p->git_dir, src->url, token ? &auth : NULL, &m, &err);
        if (r >= 0 && commit)
                r = git_mirror_resolve_commit(m, commit, ret, &err);
        else if (r >= 0) {
                r = git_mirror_fetch(m, branch ?: src->branch, &err);
                if (r >= 0)
                        r = git_mirror_resolve_branch(m, branch ?: src->branch, ret, &err);
        }
        pthread_mutex_unlock(&p->mirror_lock);
        vault_secret_free(token, token_size);
        if (r < 0) {
                *ret_error = strdup(err.message[0] ? err.message : "The git fetch failed.");
                *ret_hint = err.hint[0] ? strdup(err.hint) : NULL;
        }
        return r;
}
