/* POST /api/v1/images/build?file=F&tag=REF&target=STAGE&no_cache=1&build_arg=K%3DV (repeatable)&secrets=N:
 * builds an image from the build context sent as the request body (a tar, plain or compressed, streamed into
 * DIR/builds/tmp-<id>/context; never held in memory) and streams the build log while it runs.  With
 * secrets=N the body starts with N bytes of build secrets (build-secrets.h), read into memory only, for
 * RUN --mount=type=secret; the context follows them.
 * DELETE /api/v1/images/builds/{id}: cancels a running build.
 *
 * Response framing (text/plain, chunked; one record per '\n'-terminated line, told apart by its first byte):
 *   "| …"   a line of the build log, as it happens ("STEP 2/5: RUN make", the step's output, "--> cached")
 *   "."     keep-alive, sent after BUILD_KEEPALIVE_USEC of silence; clients ignore it.  Writing it is how
 *           the server notices a client that went away, which cancels the build
 *   "{…}"   the last line, always: {"id","digest","ref","steps","cached_steps"} on success, or
 *           {"id","error","hint","file","line","column"} when the build failed (file/line/column: where in
 *           the Dockerfile, when known)
 * The header X-Slipway-Build carries the build's id (for DELETE).  Bad requests, an unreadable context or a
 * missing Dockerfile are answered before the stream starts, as usual JSON errors with a 4xx status.
 *
 * The build runs on a thread of its own with a full-size stack (builder_run); this handler thread copies the
 * builder's log pipe to the client.  Invariant: DIR/builds/tmp-<id> is removed on every way out, and a build whose client is gone is
 * cancelled. */
#include "api.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "build-context.h"
#include "build-secrets.h"
#include "builder.h"
#include "disk-space.h"
#include "fs-util.h"
#include "http-response.h"
#include "json-util.h"
#include "log.h"
#include "path-util.h"
#include "string-util.h"
#include "strv.h"
#include "temp-claim.h"

#define BUILD_ID_BYTES 8U
#define BUILD_KEEPALIVE_USEC (1000ULL * 1000ULL)
#define BUILD_STREAM_BUFFER (64U * 1024U)
#define BUILD_STREAM_LINE_MAX (16U * 1024U) /* a longer log line is sent in pieces */
#define BUILD_THREAD_STACK (8U * 1024U * 1024U)

/* The running builds, so that DELETE can find them. */
typedef struct BuildEntry BuildEntry;
struct BuildEntry {
        char id[BUILD_ID_BYTES * 2 + 1];
        BuildJob *job; /* ours (build_job_new): cancellable at any time until we free it */
        BuildEntry *next;
};

static pthread_mutex_t builds_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t builds_gone = PTHREAD_COND_INITIALIZER;
static BuildEntry *builds;

static void build_register(BuildEntry *e) {
        pthread_mutex_lock(&builds_lock);
        e->next = builds;
        builds = e;
        pthread_mutex_unlock(&builds_lock);
}

static void build_unregister(BuildEntry *e) {
        pthread_mutex_lock(&builds_lock);
        for (BuildEntry **p = &builds; *p; p = &(*p)->next)
                if (*p == e) {
                        *p = e->next;
                        break;
                }
        pthread_cond_broadcast(&builds_gone);
        pthread_mutex_unlock(&builds_lock);
}

static void build_cancel_locked(BuildEntry *e) {
        (void) build_job_cancel(e->job);
}

static void build_cancel(BuildEntry *e) {
        pthread_mutex_lock(&builds_lock);
        build_cancel_locked(e);
        pthread_mutex_unlock(&builds_lock);
}

void api_builds_stop(uint64_t timeout_usec) {
        struct timespec deadline;

        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += (time_t) (timeout_usec / 1000000U);
        deadline.tv_nsec += (long) (timeout_usec % 1000000U) * 1000;
        if (deadline.tv_nsec >= 1000000000L) {
                deadline.tv_sec++;
                deadline.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&builds_lock);
        for (BuildEntry *e = builds; e; e = e->next)
                build_cancel_locked(e);
        /* Entries leave after their client got the final line: wait for that, while writes still work. */
        while (builds)
                if (pthread_cond_timedwait(&builds_gone, &builds_lock, &deadline) == ETIMEDOUT)
                        break;
        pthread_mutex_unlock(&builds_lock);
}

int api_image_build_cancel(HttpRequest *req) {
        _cleanup_json_ json_t *j = NULL;
        const char *id = req->segments[2];
        bool found = false;

        pthread_mutex_lock(&builds_lock);
        for (BuildEntry *e = builds; e; e = e->next)
                if (streq(e->id, id)) {
                        build_cancel_locked(e);
                        found = true;
                        break;
                }
        pthread_mutex_unlock(&builds_lock);
        if (!found)
                return http_reply_error(req->conn, 404, "No running build has this id.",
                                        "The build may have finished already.");
        log_info("Build %s: cancel requested.", id);
        j = json_pack("{s:s,s:b}", "id", id, "cancelled", true);
        return http_reply_json(req->conn, 200, j);
}

/* Copies the builder's log pipe to the client, one "| " line per log line. */
typedef struct LogStream {
        struct mg_connection *conn;
        BuildEntry *entry;
        int fd;
        bool client_gone;
        char *pending; /* an incomplete line */
        size_t n_pending;
        char *out;
        size_t n_out;
} LogStream;

static void stream_send(LogStream *s) {
        if (s->n_out == 0)
                return;
        if (!s->client_gone && http_stream_write(s->conn, s->out, s->n_out) < 0) {
                s->client_gone = true;
                log_info("Build %s: the client went away; cancelling.", s->entry->id);
                build_cancel(s->entry);
        }
        s->n_out = 0;
}

static void stream_add_line(LogStream *s, const char *line, size_t n) {
        /* out holds BUILD_STREAM_BUFFER + room for one line with its prefix. */
        if (s->n_out + n + 3 > BUILD_STREAM_BUFFER + BUILD_STREAM_LINE_MAX + 3)
                stream_send(s);
        memcpy(s->out + s->n_out, "| ", 2);
        memcpy(s->out + s->n_out + 2, line, n);
        s->out[s->n_out + 2 + n] = '\n';
        s->n_out += n + 3;
}

static void stream_flush_pending(LogStream *s) {
        if (s->n_pending > 0)
                stream_add_line(s, s->pending, s->n_pending);
        s->n_pending = 0;
}

/* Runs in the handler thread until the builder closes its end of the pipe. */
static void log_stream_run(LogStream *s) {
        _cleanup_free_ char *buf = malloc(BUILD_STREAM_BUFFER);

        s->pending = malloc(BUILD_STREAM_LINE_MAX);
        s->out = malloc(BUILD_STREAM_BUFFER + BUILD_STREAM_LINE_MAX + 3);
        if (!buf || !s->pending || !s->out) {
                /* Without buffers we can still keep the builder from blocking on a full pipe. */
                char drain[512];
                while (read(s->fd, drain, sizeof drain) > 0)
                        ;
                return;
        }

        for (;;) {
                struct pollfd p = { .fd = s->fd, .events = POLLIN };
                ssize_t n;
                int k;

                k = poll(&p, 1, (int) (BUILD_KEEPALIVE_USEC / 1000));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k == 0) {
                        /* Silence: show a partial line (a prompt, a progress bar) or prove the client is there. */
                        if (s->n_pending > 0)
                                stream_flush_pending(s);
                        else {
                                memcpy(s->out + s->n_out, ".\n", 2);
                                s->n_out += 2;
                        }
                        stream_send(s);
                        continue;
                }
                n = read(s->fd, buf, BUILD_STREAM_BUFFER);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n <= 0)
                        break;
                for (ssize_t i = 0; i < n; i++) {
                        if (buf[i] == '\n') {
                                stream_add_line(s, s->pending, s->n_pending);
                                s->n_pending = 0;
                                continue;
                        }
                        if (s->n_pending == BUILD_STREAM_LINE_MAX)
                                stream_flush_pending(s);
                        s->pending[s->n_pending++] = buf[i];
                }
                stream_send(s);
        }
        stream_flush_pending(s);
        stream_send(s);
}

/* The build itself runs on a thread of its own: civetweb's workers have small stacks (~100 KiB on Debian),
 * far too little for the builder and the libraries below it. */
typedef struct BuildThread {
        Builder *builder;
        BuildOptions opts;
        BuildEntry *entry;
        int wfd;
        int r;
        BuildResult result;
        BuildError err;
} BuildThread;

static void *build_thread(void *userdata) {
        BuildThread *t = userdata;

        t->r = builder_run(t->builder, &t->opts, NULL, &t->result, &t->err);
        /* End of the log: the streamer sees EOF once every writer (the containers of RUN steps) is gone. */
        t->wfd = safe_close(t->wfd);
        return NULL;
}

static int random_id(char out[static BUILD_ID_BYTES * 2 + 1]) {
        uint8_t raw[BUILD_ID_BYTES];

        if (getrandom(raw, sizeof raw, 0) != (ssize_t) sizeof raw)
                return -errno;
        for (size_t i = 0; i < sizeof raw; i++)
                sprintf(out + 2 * i, "%02x", raw[i]);
        return 0;
}

static ssize_t body_read(void *userdata, void *buf, size_t size) {
        int n = mg_read(userdata, buf, size);
        return n < 0 ? -EPIPE : n;
}

static bool query_flag(HttpRequest *req, const char *name) {
        char v[16];

        if (http_request_query(req, name, v, sizeof v) < 0)
                return false;
        return streq(v, "1") || streq(v, "true") || streq(v, "yes") || streq(v, "");
}

/* All build_arg=K=V occurrences; -EINVAL (with a message in buf) for a malformed one. */
static int parse_build_args(HttpRequest *req, char ***ret, char *msg, size_t msg_size) {
        const struct mg_request_info *ri = mg_get_request_info(req->conn);
        _cleanup_strv_free_ char **args = NULL;
        _cleanup_free_ char *v = malloc(HTTP_QUERY_VALUE_MAX);
        size_t n = 0;

        if (!v)
                return -ENOMEM;
        args = calloc(1, sizeof *args);
        if (!args)
                return -ENOMEM;
        for (size_t i = 0; ri->query_string; i++) {
                const char *eq;
                int k;

                k = mg_get_var2(ri->query_string, strlen(ri->query_string), "build_arg", v,
                                HTTP_QUERY_VALUE_MAX, i);
                if (k == -1)
                        break;
                if (k < 0) {
                        snprintf(msg, msg_size, "A build argument is longer than %u bytes.",
                                 HTTP_QUERY_VALUE_MAX);
                        return -EINVAL;
                }
                if (n >= BUILD_ARGS_MAX) {
                        snprintf(msg, msg_size, "More than %u build arguments.", BUILD_ARGS_MAX);
                        return -EINVAL;
                }
                eq = strchr(v, '=');
                if (!eq || eq == v) {
                        snprintf(msg, msg_size, "The build argument '%.64s' is not NAME=VALUE.", v);
                        return -EINVAL;
                }
                k = strv_extend(&args, v);
                if (k < 0)
                        return k;
                n++;
        }
        *ret = TAKE_PTR(args);
        return 0;
}

/* ?secrets=N: the first N bytes of the body are the build secrets.  On failure the reply is sent and
 * req->status set (api_replied). */
static int read_secrets(HttpRequest *req, BuildSecretSet *ret) {
        char v[32], msg[256];
        unsigned long long n;
        char *end;
        int r;

        if (http_request_query(req, "secrets", v, sizeof v) < 0 || isempty(v))
                return 0;
        errno = 0;
        n = strtoull(v, &end, 10);
        if (errno || *end || v[0] == '-')
                return api_replied(
                        req,
                        http_reply_error(req->conn, 400, "The secrets parameter is not a byte count.",
                                         "slipway image build --secret sends it; check the client."),
                        -EINVAL);
        r = n > BUILD_SECRETS_BODY_MAX
                    ? -EFBIG
                    : build_secrets_read(body_read, req->conn, (size_t) n, ret, msg, sizeof msg);
        if (n > BUILD_SECRETS_BODY_MAX)
                snprintf(msg, sizeof msg, "The build secrets take more than %u bytes.",
                         BUILD_SECRETS_BODY_MAX);
        if (r == -ENOMEM)
                return api_replied(req, api_reply_error(req, r, NULL, "Cannot read the build secrets"), r);
        if (r < 0)
                return api_replied(
                        req,
                        http_reply_error(req->conn, r == -EFBIG ? 413 : 400, msg,
                                         "Pass at most 64 build secrets of at most 500 KiB each, as "
                                         "--secret id=ID,src=FILE or --secret id=ID,env=VAR."),
                        r);
        return 0;
}

static void tmp_dir_removep(char **p) {
        if (*p) {
                int r = rm_rf(*p);
                if (r < 0)
                        log_warning_errno(r, "Cannot remove the build directory %s: %m", *p);
                free(*p);
        }
}

static int send_final_line(struct mg_connection *conn, json_t *j) {
        _cleanup_free_ char *text = json_dumps(j, JSON_COMPACT);
        _cleanup_free_ char *line = NULL;

        if (!text || asprintf(&line, "%s\n", text) < 0)
                return -ENOMEM;
        return http_stream_write(conn, line, strlen(line));
}

int api_image_build(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_close_ int claim_fd = -EBADF; /* declared first: released only after tmp is removed */
        _cleanup_(tmp_dir_removep) char *tmp = NULL;
        _cleanup_free_ char *context = NULL, *builds_dir = NULL, *norm = NULL, *errtext = NULL,
                            *df_path = NULL;
        _cleanup_strv_free_ char **build_args = NULL;
        _cleanup_(build_secret_set_done) BuildSecretSet secrets = {};
        _cleanup_json_ json_t *final = NULL;
        _cleanup_close_ int rfd = -EBADF, wfd = -EBADF;
        char file[HTTP_QUERY_VALUE_MAX] = "Dockerfile", tag[HTTP_QUERY_VALUE_MAX] = "",
             target[HTTP_QUERY_VALUE_MAX] = "", msg[256], headers[128];
        BuildEntry entry = {};
        LogStream stream = {};
        BuildThread bt;
        OciError oerr = {};
        pthread_attr_t attr;
        pthread_t thread;
        bool have_tag, have_target;
        struct stat st;
        int pipefd[2], r;

        if (!ctx->builder)
                return http_reply_error(req->conn, 503,
                                        "The image builder is not available in this slipwayd.",
                                        "See the slipwayd log for why it did not start.");

        r = http_request_query(req, "file", file, sizeof file);
        if (r == -E2BIG || (r >= 0 && !path_is_safe_relative(file)))
                return http_reply_error(req->conn, 400,
                                        "The Dockerfile must be a relative path inside the build "
                                        "context, without '..'.",
                                        "Name it relative to the context, e.g. -f "
                                        "docker/Dockerfile.");
        r = http_request_query(req, "tag", tag, sizeof tag);
        if (r == -E2BIG)
                return http_reply_error(req->conn, 400, "The tag is too long.",
                                        "Use a reference of at most 255 characters.");
        have_tag = r >= 0 && !isempty(tag);
        if (have_tag) {
                r = image_catalog_normalize_name(tag, &norm, &oerr);
                if (r < 0)
                        return api_reply_error(req, r, &oerr, "Bad tag");
        }
        r = http_request_query(req, "target", target, sizeof target);
        if (r == -E2BIG)
                return http_reply_error(req->conn, 400, "The target stage name is too long.",
                                        "Check --target.");
        have_target = r >= 0 && !isempty(target);
        r = parse_build_args(req, &build_args, msg, sizeof msg);
        if (r == -EINVAL)
                return http_reply_error(req->conn, 400, msg,
                                        "Give build arguments as --build-arg NAME=VALUE.");
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot read the build arguments");

        r = random_id(entry.id);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot start the build");
        if (api_disk_writable(req) < 0)
                return req->status;
        builds_dir = path_join(ctx->state_dir, "builds");
        if (!builds_dir || asprintf(&tmp, "%s/tmp-%s", builds_dir, entry.id) < 0)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot start the build");
        context = path_join(tmp, "context");
        if (!context)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot start the build");
        r = mkdir_p(builds_dir, 0700);
        if (r >= 0) {
                /* Claimed while the build runs: gc and the next start remove only a killed one's dir. */
                claim_fd = temp_mkdir_claimed(tmp, 0700);
                if (claim_fd < 0)
                        r = claim_fd;
        }
        if (r >= 0 && mkdir(context, 0755) < 0)
                r = -errno;
        if (r < 0) {
                if (r == -EEXIST)
                        free(TAKE_PTR(tmp)); /* not ours: leave it */
                return api_reply_error(req, r, NULL, "Cannot create the build directory");
        }

        r = read_secrets(req, &secrets);
        if (r < 0)
                return req->status;
        r = build_context_extract(body_read, req->conn, context, &errtext);
        if (disk_errno_is_full(r))
                return api_reply_disk_full(req);
        if (r == -EFBIG)
                return http_reply_error(req->conn, 413, errtext ?: "The build context is too large.",
                                        "Leave large files out of the context with .dockerignore.");
        if (r == -ENOMEM)
                return api_reply_error(req, r, NULL, "Cannot unpack the build context");
        if (r < 0)
                return http_reply_error(
                        req->conn, r == -EIO ? 500 : 400, errtext ?: "Cannot unpack the build context.",
                        "Send the build context as a tar archive (slipway image build does).");

        df_path = path_join(context, file);
        if (!df_path)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot start the build");
        if (lstat(df_path, &st) < 0 || !S_ISREG(st.st_mode)) {
                snprintf(msg, sizeof msg, "The build context has no Dockerfile named '%.128s'.", file);
                return http_reply_error(
                        req->conn, 400, msg,
                        "Put a Dockerfile at the top of the context, or name it with -f FILE.");
        }
        r = build_context_apply_dockerignore(context, file, &errtext);
        if (r == -EBADMSG)
                return http_reply_error(req->conn, 400, errtext ?: "The .dockerignore file is invalid.",
                                        "Fix the .dockerignore of the build context.");
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot apply .dockerignore to the build context");

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return api_reply_error(req, -errno, NULL, "Cannot start the build");
        rfd = pipefd[0];
        wfd = pipefd[1];

        snprintf(headers, sizeof headers, "X-Slipway-Build: %s\r\n", entry.id);
        r = http_stream_begin(req->conn, 200, "text/plain; charset=utf-8", headers);
        if (r < 0)
                return 200; /* the client is gone before anything started */

        r = build_job_new(&entry.job);
        if (r < 0)
                return 200; /* the stream ends without its final line: the client sees a broken build */
        stream = (LogStream) { .conn = req->conn, .entry = &entry, .fd = rfd };
        bt = (BuildThread) {
                .builder = ctx->builder,
                .opts = {
                        .context_dir = context,
                        .dockerfile = file,
                        .build_args = build_args,
                        .target = have_target ? target : NULL,
                        .no_cache = query_flag(req, "no_cache"),
                        .tag = have_tag ? norm : NULL,
                        .log_fd = wfd,
                        .secrets = secrets.secrets,
                        .n_secrets = secrets.n,
                        .job = entry.job,
                },
                .entry = &entry,
                .wfd = wfd,
        };
        build_register(&entry);
        r = pthread_attr_init(&attr);
        if (r == 0) {
                (void) pthread_attr_setstacksize(&attr, BUILD_THREAD_STACK);
                r = pthread_create(&thread, &attr, build_thread, &bt);
                pthread_attr_destroy(&attr);
        }
        if (r != 0) {
                build_unregister(&entry);
                entry.job = build_job_free(entry.job);
                final = json_pack("{s:s,s:s,s:s}", "id", entry.id, "error", "Cannot start the build thread.",
                                  "hint", "See the slipwayd log.");
                if (final && send_final_line(req->conn, final) >= 0)
                        (void) http_stream_end(req->conn);
                return 200;
        }
        TAKE_FD(wfd); /* the build thread closes it */
        log_info("Build %s started%s%s.", entry.id, have_tag ? " for " : "", have_tag ? norm : "");

        log_stream_run(&stream);
        pthread_join(thread, NULL);
        free(stream.pending);
        free(stream.out);

        r = bt.r;
        if (r >= 0) {
                final = json_pack("{s:s,s:s,s:s?,s:i,s:i}", "id", entry.id, "digest", bt.result.digest,
                                  "ref", bt.result.ref, "steps", (int) bt.result.steps, "cached_steps",
                                  (int) bt.result.cached_steps);
                log_info("Build %s: %s (%s), %u steps, %u cached.", entry.id, bt.result.digest,
                         strempty(bt.result.ref), bt.result.steps, bt.result.cached_steps);
        } else {
                BuildError *berr = &bt.err;
                if (disk_errno_is_full(r)) {
                        log_info("Build %s: %s", entry.id, berr->message);
                        disk_full_describe(ctx->state_dir, berr->message, sizeof berr->message, berr->hint,
                                           sizeof berr->hint);
                } else if (isempty(berr->message))
                        snprintf(berr->message, sizeof berr->message, "The build failed: %s.",
                                 r == -ECANCELED ? "it was cancelled" : strerror(-r));
                final = json_pack("{s:s,s:s,s:s,s:s?,s:i,s:i}", "id", entry.id, "error", berr->message,
                                  "hint", berr->hint, "file", isempty(berr->file) ? NULL : berr->file,
                                  "line", (int) berr->line, "column", (int) berr->column);
                log_info("Build %s failed: %s", entry.id, berr->message);
        }
        build_result_done(&bt.result);

        if (!stream.client_gone && final && send_final_line(req->conn, final) >= 0)
                (void) http_stream_end(req->conn);
        /* Only now: a stopping slipwayd waits for this, so that the client hears how its build ended. */
        build_unregister(&entry);
        entry.job = build_job_free(entry.job);
        return 200;
}
