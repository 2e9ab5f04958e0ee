/* Builds of git components (the pipeline, appliance/build/pipeline.h):
 *   POST   projects/P/components/C/builds {"commit"?, "branch"?, "deploy"?}  build once per commit: 202 with a
 *          queued build, or 200 with the existing build of that commit ("existing": true)
 *   GET    projects/P/components/C/builds                                  history, newest first
 *   GET    builds/ID                                                       one build with its steps
 *   GET    builds/ID/logs?step=S&offset=N[&follow=1]                       its log bytes from offset
 *   DELETE builds/ID                                                       cancel (202; 409 once ended)
 *   GET    builds/ID/schemas/ENDPOINT                                      an endpoint's schema file
 * A build is (component, commit, settings): asking again for a commit already built, queued or running
 * returns that build, answered from the database alone when the request names the commit. */
#include "api.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build-db.h"
#include "component-db.h"
#include "disk-space.h"
#include "environment-db.h"
#include "fs-util.h"
#include "git-mirror.h"
#include "http-json-body.h"
#include "http-response.h"
#include "json-util.h"
#include "release-create.h"
#include "sqlite-util.h"
#include "string-util.h"

#define BUILD_BODY_MAX (16U * 1024U)
#define BUILD_LOG_CHUNK (64U * 1024U)
#define BUILD_LOG_TICK_USEC 50000U
/* Each follower holds one of the server's handler threads: leave most of them to the rest of the API. */
#define BUILD_LOG_FOLLOWERS_MAX 3U
#define BUILD_SCHEMA_MAX (4U * 1024U * 1024U)
#define BUILD_COMMIT_HEX_MIN 4U
#define BUILD_COMMIT_HEX_MAX 64U

static const HttpJsonBody build_body = {
        .what = "build request",
        .max = BUILD_BODY_MAX,
        .fields = (const char *const[]) { "commit", "branch", "deploy", NULL },
        .example =
                "Send {} (the branch's head), {\"commit\": SHA} or {\"branch\": B}, with \"deploy\": true "
                "to deploy it to the first environment.",
};

static unsigned followers;

static json_t *time_or_null(int64_t t) {
        return t > 0 ? json_integer(t) : json_null();
}

static json_t *steps_json(sqlite3 *db, int64_t build_id) {
        ModelBuildStep *st = NULL;
        size_t n = 0;
        json_t *arr = json_array();

        if (!arr || model_build_steps_list(db, build_id, &st, &n) < 0)
                return arr;
        for (size_t i = 0; i < n; i++)
                json_array_append_new(arr, json_pack("{s:I,s:s,s:s,s:s?,s:o,s:o}", "position",
                                                     (json_int_t) st[i].position, "name", st[i].name,
                                                     "status", st[i].status, "message", st[i].message,
                                                     "started_at", time_or_null(st[i].started_at),
                                                     "finished_at", time_or_null(st[i].finished_at)));
        model_build_steps_free(st, n);
        return arr;
}

json_t *api_build_json(sqlite3 *db, const ModelBuild *b) {
        char short_commit[8] = "";
        json_t *j;
        int64_t end = b->finished_at ?: (b->started_at ? sqlite_now_sec() : 0);

        if (b->commit_sha)
                snprintf(short_commit, sizeof short_commit, "%.7s", b->commit_sha);
        j = json_pack(
                "{s:I,s:s,s:s,s:s?,s:s?,s:s?,s:s,s:s,s:s?,s:b,s:s?,s:s?,s:o,s:s?,s:s?,s:o,s:s?,s:o,s:o,"
                "s:o,s:o,s:b}",
                "id", (json_int_t) b->id, "project", b->project_name, "component", b->component_name,
                "commit", b->commit_sha, "short_commit", b->commit_sha ? short_commit : NULL, "branch",
                b->branch, "status", b->status, "trigger", b->trigger, "requested_by", b->requested_by,
                "deploy", b->deploy, "commit_subject", b->commit_subject, "commit_author", b->commit_author,
                "commit_time", time_or_null(b->commit_time), "image_digest", b->image_digest, "image_ref",
                b->image_ref, "release_id", b->release_id > 0 ? json_integer(b->release_id) : json_null(),
                "reason", b->reason, "created_at", time_or_null(b->created_at), "started_at",
                time_or_null(b->started_at), "finished_at", time_or_null(b->finished_at), "duration_sec",
                b->started_at ? json_integer(end - b->started_at) : json_null(), "cancel_requested",
                b->cancel_requested);
        if (j)
                json_object_set_new(j, "pushed_ref",
                                    b->pushed_ref ? json_string(b->pushed_ref) : json_null());
        if (j && db)
                json_object_set_new(j, "steps", steps_json(db, b->id));
        return j;
}

static bool build_ended(const ModelBuild *b) {
        return streq(b->status, MODEL_BUILD_SUCCEEDED) || streq(b->status, MODEL_BUILD_FAILED) ||
               streq(b->status, MODEL_BUILD_CANCELLED);
}

/* The component's source, or 400 for a component that is not built from git. */
static int scope_source(HttpRequest *req, ApiScope *s, PipelineSource *ret) {
        char msg[256];

        if (!s->component.source) {
                snprintf(msg, sizeof msg, "%s/%s is not built from git: it deploys the image %s.",
                         s->project.name, s->component.name, s->component.image_ref ?: "it is given");
                http_reply_error(req->conn, 400, msg,
                                 "Give it a repository with 'slipway component update P/C --git URL'.");
                return api_replied(req, 400, -EINVAL);
        }
        if (pipeline_source_parse(s->component.source, ret) < 0) {
                http_reply_error(req->conn, 500, "The component's git source cannot be read.",
                                 "Set it again with 'slipway component update P/C --git URL'.");
                return api_replied(req, 500, -EBADMSG);
        }
        return 0;
}

static bool commit_valid(const char *c) {
        size_t n = strlen(c);

        if (n < BUILD_COMMIT_HEX_MIN || n > BUILD_COMMIT_HEX_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!strchr("0123456789abcdefABCDEF", c[i]))
                        return false;
        return true;
}

/* A succeeded build asked for again with deploy: its image goes to the first environment now. */
static int deploy_existing(HttpRequest *req, ApiScope *s, ModelBuild *b, int64_t *ret_release) {
        _cleanup_(release_refusal_done) ReleaseRefusal refusal = {};
        ModelEnvironment *envs = NULL;
        size_t n = 0;
        int64_t id = 0;
        int r;

        r = model_environment_list(s->db, s->project.id, &envs, &n);
        if (r < 0)
                return api_replied(req, api_reply_error(req, r, NULL, "Cannot list environments"), r);
        if (n == 0) {
                model_environments_free(envs, n);
                return api_replied(req,
                                   http_reply_error(req->conn, 409, "The project has no environment.",
                                                    "Add one with 'slipway env create P ENV'."),
                                   -ENOENT);
        }
        r = release_create(s->db, &s->component, &envs[0], b->image_digest, s->component.spec,
                           MODEL_RELEASE_ORIGIN_DEPLOY, 0, NULL, 0, &id, &refusal);
        if (r >= 0)
                model_deploy_log_appendf(s->db, id, "deploy of build %" PRId64 " (%s) to %s requested",
                                         b->id, b->image_ref ?: b->image_digest, envs[0].name);
        model_environments_free(envs, n);
        if (r < 0)
                return api_replied(
                        req, api_reply_release_refusal(req, r, &refusal, "Cannot deploy the build"), r);
        (void) model_build_set_release(s->db, b->id, id);
        *ret_release = id;
        return 0;
}

static int reply_existing(HttpRequest *req, ApiScope *s, ModelBuild *b, bool deploy) {
        ApiContext *ctx = req->userdata;
        _cleanup_json_ json_t *j = NULL;
        int64_t release = 0;
        int r;

        if (deploy && streq(b->status, MODEL_BUILD_SUCCEEDED) && b->image_digest) {
                r = deploy_existing(req, s, b, &release);
                if (r < 0)
                        return req->status;
                if (ctx->wake_engine)
                        ctx->wake_engine(ctx->wake_userdata);
                b->release_id = release;
        } else if (deploy && !build_ended(b))
                (void) model_build_request_deploy(s->db, b->id);
        j = api_build_json(s->db, b);
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot describe the build");
        json_object_set_new(j, "existing", json_true());
        if (release > 0)
                json_object_set_new(j, "deployed_release_id", json_integer(release));
        return http_reply_json(req->conn, 200, j);
}

static int reply_resolve_error(HttpRequest *req, int r, const char *error, const char *hint) {
        int status = r == -ENOENT ? 404 : r == -EPERM ? 403 : r == -EINVAL ? 400 : 502;

        if (r == -ENOMEM || disk_errno_is_full(r))
                return api_reply_error(req, r, NULL, "Cannot fetch the repository");
        return http_reply_error(req->conn, status, error ?: "The repository cannot be fetched.",
                                hint ?: "Check the component's --git URL and --branch.");
}

int api_component_build(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_(api_scope_done) ApiScope s = {};
        _cleanup_(pipeline_source_done) PipelineSource src = {};
        _cleanup_(model_build_done) ModelBuild b = {};
        _cleanup_(source_commit_done) SourceCommit commit = {};
        _cleanup_free_ char *settings = NULL, *hash = NULL, *error = NULL, *hint = NULL, *author = NULL;
        _cleanup_json_ json_t *body = NULL, *j = NULL;
        const char *sha = NULL, *branch = NULL;
        bool deploy = false, existing = false;
        json_t *d;
        int r;

        if ((r = http_request_read_json(req, &build_body, &body)) < 0)
                return req->status;
        if (json_get_string_opt(body, "commit", &sha) < 0 || (sha && !commit_valid(sha)))
                return http_reply_error(req->conn, 400,
                                        "\"commit\" must be a commit id (4 to 64 hex digits).",
                                        "Give a commit from 'git log', e.g. --commit 1a2b3c4.");
        if (json_get_string_opt(body, "branch", &branch) < 0 || (branch && isempty(branch)))
                return http_reply_error(req->conn, 400, "\"branch\" must be a branch name.",
                                        "Give --branch NAME, or leave it out for the component's branch.");
        if (sha && branch)
                return http_reply_error(req->conn, 400, "A build names a commit or a branch, not both.",
                                        "Give --commit SHA or --branch B.");
        d = json_object_get(body, "deploy");
        if (d && !json_is_boolean(d) && !json_is_null(d))
                return http_reply_error(req->conn, 400, "\"deploy\" must be true or false.",
                                        build_body.example);
        deploy = json_is_true(d);
        if ((r = api_scope_component(req, NULL, &s)) < 0)
                return req->status;
        if ((r = scope_source(req, &s, &src)) < 0)
                return req->status;
        if (!ctx->pipeline)
                return http_reply_error(req->conn, 503, "This slipwayd runs no build pipeline.",
                                        "Start slipwayd with a builder (see its log for why it has none).");
        r = pipeline_settings(&src, &settings, &hash);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot describe the build settings");

        /* A commit already built, queued or running: answered from the database alone. */
        if (sha) {
                _cleanup_free_ char *lower = strdup(sha);
                if (!lower)
                        return api_reply_error(req, -ENOMEM, NULL, "Cannot look up the build");
                for (char *c = lower; *c; c++)
                        *c = (char) (*c >= 'A' && *c <= 'F' ? *c - 'A' + 'a' : *c);
                r = model_build_find(s.db, s.component.id, lower, hash, &b);
                if (r >= 0)
                        return reply_existing(req, &s, &b, deploy);
                if (r != -ENOENT)
                        return api_reply_error(req, r, NULL, "Cannot look up the build");
        }

        r = pipeline_resolve(ctx->pipeline, s.component.id, &src, sha, branch, &commit, &error, &hint);
        if (r < 0)
                return reply_resolve_error(req, r, error, hint);
        if (asprintf(&author, "%s <%s>", commit.author_name ?: "", commit.author_email ?: "") < 0)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot queue the build");
        ModelBuildNew nb = {
                .component_id = s.component.id,
                .commit_sha = commit.id,
                .branch = sha ? NULL : (branch ?: src.branch),
                .settings = settings,
                .settings_hash = hash,
                .trigger = MODEL_BUILD_TRIGGER_MANUAL,
                .requested_by = req->user,
                .deploy = deploy,
                .commit_subject = commit.subject,
                .commit_author = author,
                .commit_time = commit.author_time,
                .steps = pipeline_steps,
        };
        r = model_build_create(s.db, &nb, &b, &existing);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot queue the build");
        if (existing)
                return reply_existing(req, &s, &b, deploy);
        pipeline_wake(ctx->pipeline);
        j = api_build_json(s.db, &b);
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot describe the build");
        json_object_set_new(j, "existing", json_false());
        return http_reply_json(req->conn, 202, j);
}

int api_component_builds(HttpRequest *req) {
        _cleanup_(api_scope_done) ApiScope s = {};
        _cleanup_json_ json_t *arr = json_array(), *j = NULL;
        ModelBuild *b = NULL;
        size_t n = 0;
        int r;

        if ((r = api_scope_component(req, NULL, &s)) < 0)
                return req->status;
        r = model_build_list(s.db, s.component.id, &b, &n);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot list the builds");
        for (size_t i = 0; arr && i < n; i++)
                json_array_append_new(arr, api_build_json(NULL, &b[i]));
        model_builds_free(b, n);
        j = json_pack("{s:s,s:s,s:O}", "project", s.project.name, "component", s.component.name, "builds",
                      arr);
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot list the builds");
        return http_reply_json(req->conn, 200, j);
}

/* builds/ID: the database and the build, or 400/404 sent. */
static int build_scope(HttpRequest *req, sqlite3 **ret_db, ModelBuild *ret) {
        char *end = NULL;
        long long id;
        int r;

        errno = 0;
        id = strtoll(req->segments[1], &end, 10);
        if (errno || !end || *end || id <= 0) {
                http_reply_error(req->conn, 400, "A build id is a positive number.",
                                 "See 'slipway builds PROJECT/COMPONENT'.");
                return api_replied(req, 400, -EINVAL);
        }
        r = api_model_open(req, ret_db);
        if (r < 0)
                return r;
        r = model_build_get(*ret_db, id, ret);
        if (r == -ENOENT) {
                char msg[96];
                snprintf(msg, sizeof msg, "No build %lld.", id);
                http_reply_error(req->conn, 404, msg, "See 'slipway builds PROJECT/COMPONENT'.");
                return api_replied(req, 404, r);
        }
        if (r < 0)
                return api_replied(req, api_reply_error(req, r, NULL, "Cannot read the build"), r);
        return 0;
}

int api_build_show(HttpRequest *req) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(model_build_done) ModelBuild b = {};
        _cleanup_json_ json_t *j = NULL, *desc = NULL;
        _cleanup_free_ char *dir = NULL, *path = NULL;
        ApiContext *ctx = req->userdata;

        if (build_scope(req, &db, &b) < 0)
                return req->status;
        j = api_build_json(db, &b);
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot describe the build");
        /* What the descriptor step read (endpoints, configurables, dependencies), kept with the build. */
        if (pipeline_log_path(ctx->state_dir, b.id, NULL, &path) >= 0 && (dir = strdup(path))) {
                char *slash = strrchr(dir, '/');
                if (slash)
                        *slash = 0;
                int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd >= 0) {
                        _cleanup_json_ json_t *scan = NULL;
                        if (json_parse_file_at(fd, PIPELINE_DESCRIPTOR_FILE, 1024U * 1024U, &desc, NULL) >=
                            0)
                                json_object_set(j, "descriptor", desc);
                        /* The scan step's findings (every one, waived or not) and their counts. */
                        if (json_parse_file_at(fd, PIPELINE_SCAN_FILE, 64U * 1024U * 1024U, &scan, NULL) >=
                            0)
                                json_object_set(j, "scan", scan);
                        close(fd);
                }
        }
        return http_reply_json(req->conn, 200, j);
}

int api_build_cancel(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(model_build_done) ModelBuild b = {}, now = {};
        _cleanup_json_ json_t *j = NULL;
        char msg[128];
        int r;

        if (build_scope(req, &db, &b) < 0)
                return req->status;
        if (build_ended(&b)) {
                snprintf(msg, sizeof msg, "Build %" PRId64 " has already %s.", b.id, b.status);
                return http_reply_error(req->conn, 409, msg,
                                        "Only a queued or running build can be cancelled.");
        }
        r = model_build_request_cancel(db, b.id);
        if (r >= 0 && streq(b.status, MODEL_BUILD_QUEUED))
                r = model_build_cancel_queued(db, b.id, "cancelled before it started");
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot cancel the build");
        if (ctx->pipeline)
                pipeline_cancel(ctx->pipeline, b.id);
        r = model_build_get(db, b.id, &now);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot read the build");
        j = api_build_json(db, &now);
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot describe the build");
        return http_reply_json(req->conn, 202, j);
}

/* ?step= (a step name; NULL: the whole build's log) and ?offset=; 400 sent on a bad one. */
static int logs_query(HttpRequest *req, const char **ret_step, uint64_t *ret_offset) {
        static char step[32]; /* only compared against pipeline_steps[] and replaced by the match */
        char off[24];
        int r;

        *ret_step = NULL;
        *ret_offset = 0;
        r = http_request_query(req, "step", step, sizeof step);
        if (r >= 0 || r == -E2BIG) {
                for (size_t i = 0; r >= 0 && pipeline_steps[i]; i++)
                        if (streq(pipeline_steps[i], step))
                                *ret_step = pipeline_steps[i];
                if (!*ret_step) {
                        http_reply_error(req->conn, 400, "?step must name a step of the build.",
                                         "Steps: fetch, checkout, descriptor, image, scan, store, update, "
                                         "deploy.");
                        return api_replied(req, 400, -EINVAL);
                }
        }
        r = http_request_query(req, "offset", off, sizeof off);
        if (r >= 0 || r == -E2BIG) {
                char *end = NULL;
                errno = 0;
                unsigned long long v = r >= 0 ? strtoull(off, &end, 10) : 0;
                if (r < 0 || errno || !off[0] || *end || off[0] == '-') {
                        http_reply_error(req->conn, 400, "?offset must be a byte offset (a whole number).",
                                         "Give the offset the last reply's X-Slipway-Log-Offset named.");
                        return api_replied(req, 400, -EINVAL);
                }
                *ret_offset = v;
        }
        return 0;
}

/* Up to BUILD_LOG_CHUNK bytes of fd from *offset, sent; *ret_n what was. */
static int send_from(struct mg_connection *conn, int fd, uint64_t *offset, size_t *ret_n) {
        char buf[16384];
        size_t total = 0;

        *ret_n = 0;
        while (total < BUILD_LOG_CHUNK) {
                ssize_t k = pread(fd, buf, sizeof buf, (off_t) *offset);
                if (k < 0)
                        return -errno;
                if (k == 0)
                        break;
                if (http_stream_write(conn, buf, (size_t) k) < 0)
                        return -EPIPE;
                *offset += (uint64_t) k;
                total += (size_t) k;
        }
        *ret_n = total;
        return 0;
}

static int follow_log(HttpRequest *req, sqlite3 *db, int64_t build_id, const char *path, uint64_t offset) {
        _cleanup_close_ int fd = -EBADF;
        bool ended = false;

        for (;;) {
                size_t n = 0;

                if (fd < 0)
                        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                if (fd >= 0 && send_from(req->conn, fd, &offset, &n) < 0)
                        return 0;
                if (n > 0)
                        continue;
                if (ended || api_logs_stopping())
                        break;
                ModelBuild b = {};
                if (model_build_get(db, build_id, &b) < 0 || build_ended(&b))
                        ended = true; /* one more read: what the build wrote last */
                model_build_done(&b);
                if (!ended)
                        (void) usleep(BUILD_LOG_TICK_USEC);
        }
        (void) http_stream_end(req->conn);
        return 0;
}

int api_build_logs(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(model_build_done) ModelBuild b = {};
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        const char *step = NULL;
        uint64_t offset = 0, size = 0;
        bool follow = api_query_flag(req, "follow");
        char headers[128];
        struct stat st;
        int r;

        if (logs_query(req, &step, &offset) < 0)
                return req->status;
        if (build_scope(req, &db, &b) < 0)
                return req->status;
        r = pipeline_log_path(ctx->state_dir, b.id, step, &path);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot find the build's log");
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 && errno != ENOENT)
                return api_reply_error(req, -errno, NULL, "Cannot open the build's log");
        if (fd >= 0 && fstat(fd, &st) >= 0)
                size = (uint64_t) st.st_size;
        if (offset > size && (build_ended(&b) || !follow))
                offset = size; /* past the end: nothing more, never an error */
        if (follow && !build_ended(&b)) {
                if (__atomic_add_fetch(&followers, 1, __ATOMIC_ACQ_REL) > BUILD_LOG_FOLLOWERS_MAX) {
                        __atomic_sub_fetch(&followers, 1, __ATOMIC_ACQ_REL);
                        return http_reply_error(
                                req->conn, 503, "Too many 'build logs --follow' streams are open.",
                                "Close one, or run 'slipway build logs ID' without --follow.");
                }
                snprintf(headers, sizeof headers,
                         "X-Slipway-Log-Start: %" PRIu64 "\r\nCache-Control: no-store\r\n", offset);
                r = http_stream_begin(req->conn, 200, "text/plain; charset=utf-8", headers);
                if (r >= 0)
                        (void) follow_log(req, db, b.id, path, offset);
                __atomic_sub_fetch(&followers, 1, __ATOMIC_ACQ_REL);
                return 200;
        }
        /* The bytes there are now, and where they end: a client that reads on asks from there. */
        snprintf(headers, sizeof headers,
                 "X-Slipway-Log-Start: %" PRIu64 "\r\nX-Slipway-Log-Offset: %" PRIu64 "\r\n", offset, size);
        r = http_stream_begin(req->conn, 200, "text/plain; charset=utf-8", headers);
        if (r < 0)
                return 200;
        while (fd >= 0 && offset < size) {
                size_t n = 0;
                if (send_from(req->conn, fd, &offset, &n) < 0 || n == 0)
                        return 200;
        }
        (void) http_stream_end(req->conn);
        return 200;
}

int api_build_schema(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(model_build_done) ModelBuild b = {};
        _cleanup_free_ char *path = NULL, *data = NULL;
        size_t size = 0;
        char msg[192];
        int r;

        if (build_scope(req, &db, &b) < 0)
                return req->status;
        if (api_check_name(req, "endpoint", req->segments[3]) < 0)
                return req->status;
        r = pipeline_schema_path(ctx->state_dir, b.id, req->segments[3], &path);
        if (r >= 0)
                r = read_full_file_at(AT_FDCWD, path, BUILD_SCHEMA_MAX, &data, &size);
        if (r == -ENOENT) {
                snprintf(msg, sizeof msg, "Build %" PRId64 " kept no schema for an endpoint named '%.64s'.",
                         b.id, req->segments[3]);
                return http_reply_error(req->conn, 404, msg,
                                        "'slipway build show ID' lists the endpoints its descriptor named.");
        }
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot read the schema");
        r = http_stream_begin(req->conn, 200, "application/octet-stream", NULL);
        if (r >= 0 && http_stream_write(req->conn, data, size) >= 0)
                (void) http_stream_end(req->conn);
        return 200;
}

/* GET builds/ID/sbom: the SBOM its scan step made (CycloneDX 1.5 JSON). */
int api_build_sbom(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(model_build_done) ModelBuild b = {};
        _cleanup_free_ char *path = NULL, *dir = NULL, *data = NULL;
        size_t size = 0;
        char msg[160];
        int r;

        if (build_scope(req, &db, &b) < 0)
                return req->status;
        if (asprintf(&path, "%s/builds/%" PRId64 "/%s", ctx->state_dir, b.id, PIPELINE_SBOM_FILE) < 0)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot find the SBOM");
        r = read_full_file_at(AT_FDCWD, path, BUILD_SCHEMA_MAX * 16U, &data, &size);
        if (r == -ENOENT) {
                snprintf(msg, sizeof msg, "Build %" PRId64 " has no SBOM: its scan step did not run.", b.id);
                return http_reply_error(req->conn, 404, msg,
                                        "'slipway build show ID' shows how far it got.");
        }
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot read the SBOM");
        r = http_stream_begin(req->conn, 200, "application/vnd.cyclonedx+json", NULL);
        if (r >= 0 && http_stream_write(req->conn, data, size) >= 0)
                (void) http_stream_end(req->conn);
        return 200;
}
