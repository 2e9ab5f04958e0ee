/* slipway build, builds, build show|logs|cancel, autobuild, autodeploy and webhook show: the client of the
 * git build pipeline.  Invariant: a followed build log reaches stdout exactly once, in order — across
 * dropped connections the client asks again from the byte count it has printed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cmd-build.h"
#include "cmd-model-args.h"
#include "http-client.h"
#include "json-util.h"
#include "macro.h"
#include "scan-print.h"
#include "string-util.h"

/* How long to wait before asking again when a follow connection ended without new bytes. */
#define BUILD_FOLLOW_RETRY_MS 500U
/* Reconnects in a row that brought no new bytes before the client gives up on a build that never ends. */
#define BUILD_FOLLOW_IDLE_RECONNECTS_MAX 7200U
/* The commit subject in the builds table. */
#define BUILD_MESSAGE_COLUMN_MAX 48U

static const char build_help[] =
        "Usage: slipway build PROJECT/COMPONENT [--commit SHA | --branch B] [--deploy] [--follow] [--json]\n"
        "       slipway build show ID [--json]\n"
        "       slipway build sbom ID\n"
        "       slipway build logs ID [--step S] [--follow] [--json]\n"
        "       slipway build cancel ID [--json]\n\n"
        "Builds a git component (see 'slipway component create --git'): fetches the commit, builds its\n"
        "Dockerfile, scans and stores the image as PROJECT/COMPONENT:<short commit>.  A commit is built once:\n"
        "asking again answers with the build there is.  Without --commit or --branch the component's\n"
        "branch is built at its newest commit.\n\n"
        "  --commit SHA   build this commit (a full id or an unambiguous prefix)\n"
        "  --branch B     build the newest commit of branch B\n"
        "  --deploy       deploy the image to the project's first environment when the build succeeds\n"
        "  --follow       print the build log as it is written and wait for the outcome; exit status 0\n"
        "                 when the build succeeded, 1 when it failed or was cancelled\n\n"
        "'slipway builds PROJECT/COMPONENT' lists the builds of a component.\n";

static const char show_help[] = "Usage: slipway build show ID [--json]\n\n"
                                "Shows a build: its commit, status, image and release, each step\n"
                                "(STEP STATUS DURATION MESSAGE), and its scan step's findings (every one,\n"
                                "waived or not) with the policy's verdict.\n";

static const char sbom_help[] =
        "Usage: slipway build sbom ID\n\n"
        "Prints the SBOM the build's scan step made of its image (CycloneDX 1.5 JSON).\n";

static const char logs_help[] =
        "Usage: slipway build logs ID [--step S] [--follow] [--json]\n\n"
        "Prints a build's log (all steps, or one with --step).\n\n"
        "  --step S    the log of step S only (fetch, checkout, descriptor, image, scan, store, push, update,\n"
        "              deploy)\n"
        "  --follow    keep printing until the build ended; with --json one JSON object per line\n"
        "              {\"text\"}, last {\"end\",\"status\"}\n";

static const char cancel_help[] = "Usage: slipway build cancel ID [--json]\n\n"
                                  "Cancels a queued or running build.\n";

static const char builds_help[] =
        "Usage: slipway builds PROJECT/COMPONENT [--json]\n\n"
        "A component's builds, newest first: ID, COMMIT, MESSAGE (the commit subject), TRIGGER (manual,\n"
        "webhook, poll), STATUS (queued, running, succeeded, failed, cancelled), DURATION, IMAGE.\n";

static const char autobuild_help[] =
        "Usage: slipway autobuild PROJECT/COMPONENT on|off [--json]\n\n"
        "With autobuild on, each push the git server reports to the component's webhook (see 'slipway\n"
        "webhook show') is built.  A component created with --poll DUR builds the new commits it finds\n"
        "either way.\n";

static const char autodeploy_help[] =
        "Usage: slipway autodeploy PROJECT/COMPONENT on|off [--json]\n\n"
        "With autodeploy on, each build that succeeds is deployed to the project's first environment, as\n"
        "'slipway build --deploy' does.\n";

static const char webhook_help[] =
        "Usage: slipway webhook show PROJECT/COMPONENT [--rotate] [--json]\n\n"
        "Prints the URL and secret to enter as the push webhook of the component's repository (GitHub,\n"
        "GitLab, Gitea/Forgejo or a plain POST signed with the secret).\n\n"
        "  --rotate    replace the URL and secret with new ones (the old ones stop working)\n";

typedef struct BuildArgs {
        const char *commit;
        const char *branch;
        const char *step;
        bool deploy;
        bool follow;
        bool rotate;
} BuildArgs;

static const CliOption build_options[] = {
        CLI_STRING_OPTION("commit", BuildArgs, commit), CLI_STRING_OPTION("branch", BuildArgs, branch),
        CLI_STRING_OPTION("step", BuildArgs, step),     CLI_FLAG_OPTION("deploy", BuildArgs, deploy),
        CLI_FLAG_OPTION("follow", BuildArgs, follow),   CLI_FLAG_OPTION("rotate", BuildArgs, rotate),
};

static void sleep_ms(unsigned ms) {
        struct timespec ts = { .tv_sec = ms / 1000U, .tv_nsec = (long) (ms % 1000U) * 1000000L };
        nanosleep(&ts, NULL);
}

/* Options, then exactly n_args positional arguments: 1 to go on (from optind), 0 after --help, -EINVAL. */
static int build_args_parse(CliContext *c, const char *full, const char *help, int argc, char *argv[],
                            BuildArgs *a, int n_args, const char *what) {
        int r;

        r = cli_parse_options(c, full, help, build_options, ELEMENTSOF(build_options), a, argc, argv);
        if (r <= 0)
                return r;
        if (argc - optind < n_args)
                return cli_usage_errno(full, "'slipway %s' needs %s", full, what);
        if (argc - optind > n_args)
                return cli_usage_errno(full, "Unexpected argument '%s'", argv[optind + n_args]);
        return 1;
}

int build_id_parse(const char *full, const char *arg, int64_t *ret) {
        char *end = NULL;
        long long v;

        errno = 0;
        v = strtoll(arg, &end, 10);
        if (errno || !end || *end || end == arg || arg[0] == '-' || arg[0] == '+' || v <= 0)
                return cli_usage_errno(
                        full, "'%s' is not a build id (see 'slipway builds PROJECT/COMPONENT')", arg);
        *ret = (int64_t) v;
        return 0;
}

int build_request_body(const char *full, const char *commit, const char *branch, bool deploy, json_t **ret) {
        _cleanup_json_ json_t *body = NULL;

        if (commit && branch)
                return cli_usage_errno(full,
                                       "--commit and --branch exclude each other: a build is of one commit");
        if (commit && isempty(commit))
                return cli_usage_errno(full, "--commit takes a commit id");
        if (branch && isempty(branch))
                return cli_usage_errno(full, "--branch takes a branch name");
        body = json_object();
        if (!body || (commit && json_object_set_new(body, "commit", json_string(commit)) < 0) ||
            (branch && json_object_set_new(body, "branch", json_string(branch)) < 0) ||
            (deploy && json_object_set_new(body, "deploy", json_true()) < 0))
                return cli_oom_errno();
        *ret = TAKE_PTR(body);
        return 0;
}

void build_format_duration(int64_t sec, char buf[static 32]) {
        if (sec < 0)
                snprintf(buf, 32, "-");
        else if (sec < 60)
                snprintf(buf, 32, "%llds", (long long) sec);
        else if (sec < 3600)
                snprintf(buf, 32, "%lldm%02llds", (long long) (sec / 60), (long long) (sec % 60));
        else
                snprintf(buf, 32, "%lldh%02lldm", (long long) (sec / 3600), (long long) (sec % 3600 / 60));
}

bool build_status_ended(const char *status) {
        return streq_ptr(status, "succeeded") || streq_ptr(status, "failed") ||
               streq_ptr(status, "cancelled");
}

static const char *jstr(json_t *o, const char *key) {
        return json_string_value(json_object_get(o, key));
}

static long long jint(json_t *o, const char *key) {
        return (long long) json_integer_value(json_object_get(o, key));
}

/* The build's duration in seconds: its own field, else from its times (still running: until now); -1. */
static int64_t build_duration(json_t *b) {
        json_t *d = json_object_get(b, "duration_sec");
        int64_t started = jint(b, "started_at"), finished = jint(b, "finished_at");

        if (json_is_integer(d))
                return json_integer_value(d);
        if (started <= 0)
                return -1;
        if (finished <= 0)
                finished = (int64_t) time(NULL);
        return MAX(finished - started, (int64_t) 0);
}

static const char *build_commit(json_t *b) {
        return jstr(b, "short_commit") ?: jstr(b, "commit") ?: "-";
}

static char *build_path(int64_t id, const char *suffix) {
        char *p;

        if (asprintf(&p, "/api/v1/builds/%lld%s", (long long) id, strempty(suffix)) < 0)
                return NULL;
        return p;
}

static int build_get(CliContext *c, int64_t id, json_t **ret) {
        _cleanup_free_ char *path = build_path(id, NULL);

        if (!path)
                return cli_oom_errno();
        return cli_api_json(c, "GET", path, NULL, ret);
}

/* "logs?offset=N[&step=S][&follow=1]" of build id. */
static char *logs_path(int64_t id, const char *step, uint64_t offset, bool follow) {
        _cleanup_free_ char *enc = step ? http_url_encode(step) : NULL, *suffix = NULL;

        if ((step && !enc) || asprintf(&suffix, "/logs?offset=%llu%s%s%s", (unsigned long long) offset,
                                       step ? "&step=" : "", strempty(enc), follow ? "&follow=1" : "") < 0)
                return NULL;
        return build_path(id, suffix);
}

/* Log bytes as one JSON string: jansson takes only UTF-8, so other bytes become '?'. */
static json_t *log_text_json(const char *buf, size_t n) {
        json_t *s = json_stringn(buf, n);
        _cleanup_free_ char *copy = NULL;

        if (s)
                return s;
        copy = malloc(n);
        if (!copy)
                return NULL;
        for (size_t i = 0; i < n; i++)
                copy[i] = (unsigned char) buf[i] < 0x80 ? buf[i] : '?';
        return json_stringn(copy, n);
}

typedef enum LogSink {
        LOG_SINK_STDOUT,     /* the bytes as they are */
        LOG_SINK_STDERR,     /* the same on stderr (build --follow --json keeps stdout for the document) */
        LOG_SINK_JSON_LINES, /* {"text": …} per piece */
} LogSink;

static void log_write(LogSink sink, const char *buf, size_t n) {
        if (sink == LOG_SINK_JSON_LINES) {
                _cleanup_json_ json_t *line = json_object();
                json_t *text = log_text_json(buf, n);
                _cleanup_free_ char *s = NULL;

                if (!line || !text || json_object_set_new(line, "text", text) < 0)
                        return;
                s = json_dumps(line, JSON_COMPACT);
                if (s)
                        printf("%s\n", s);
                fflush(stdout);
                return;
        }
        FILE *f = sink == LOG_SINK_STDERR ? stderr : stdout;
        fwrite(buf, 1, n, f);
        fflush(f);
}

/* One GET of the log from *offset, written to sink as it arrives; *offset advances by what was written.
 * 1 when the response ended where the daemon framed it, 0 when the connection broke off (ask again), <0
 * when the daemon refused (said). */
static int log_fetch(CliContext *c, int64_t id, const char *step, bool follow, LogSink sink,
                     uint64_t *offset) {
        _cleanup_(http_conn_freep) HttpConn *conn = NULL;
        _cleanup_free_ char *path = logs_path(id, step, *offset, follow);
        char buf[16384];
        int r;

        if (!path)
                return cli_oom_errno();
        r = cli_request_open(c, "GET", path, NULL, HTTP_BODY_NONE, &conn);
        if (r < 0)
                return r;
        r = cli_response_check(c, conn);
        if (r < 0)
                return r;
        /* Where the daemon starts (it answers an offset past the log's end from the end). */
        const char *start = http_conn_header(conn, "X-Slipway-Log-Start");
        if (start && strspn(start, "0123456789") == strlen(start) && *start)
                *offset = strtoull(start, NULL, 10);
        for (;;) {
                ssize_t n = http_conn_read_body(conn, buf, sizeof buf);
                if (n == 0)
                        return 1;
                if (n < 0)
                        return 0;
                log_write(sink, buf, (size_t) n);
                *offset += (uint64_t) n;
        }
}

/* Prints the build's log from *offset until the build ended and its log was read to the end; *ret (may be
 * NULL) gets the ended build.  0, or <0 after saying what went wrong. */
static int log_follow(CliContext *c, int64_t id, const char *step, LogSink sink, uint64_t *offset,
                      json_t **ret) {
        unsigned idle = 0;
        int r;

        for (;;) {
                _cleanup_json_ json_t *b = NULL;
                uint64_t before = *offset;

                r = log_fetch(c, id, step, true, sink, offset);
                if (r < 0)
                        return r;
                r = build_get(c, id, &b);
                if (r < 0)
                        return r;
                if (build_status_ended(jstr(b, "status"))) {
                        /* The build ended: what it wrote after the stream closed is still to read. */
                        for (unsigned k = 0; k < 3; k++) {
                                r = log_fetch(c, id, step, false, sink, offset);
                                if (r < 0)
                                        return r;
                                if (r > 0)
                                        break;
                        }
                        if (ret)
                                *ret = TAKE_PTR(b);
                        return 0;
                }
                if (*offset > before)
                        idle = 0;
                else if (++idle >= BUILD_FOLLOW_IDLE_RECONNECTS_MAX)
                        return cli_error("See 'slipway build show' for where it stands.",
                                         "Build %lld has not ended, and its log stopped growing",
                                         (long long) id);
                else
                        sleep_ms(BUILD_FOLLOW_RETRY_MS);
        }
}

/* "Build 7 of shop/web succeeded in 1m12s: image shop/web:abc1234." or the failure on stderr.  Returns the
 * exit status: 0 when it succeeded. */
static int print_outcome(json_t *b) {
        const char *status = jstr(b, "status") ?: "?", *image = jstr(b, "image_ref");
        const char *reason = jstr(b, "reason");
        long long id = jint(b, "id");
        char dur[32];

        build_format_duration(build_duration(b), dur);
        if (streq(status, "succeeded")) {
                printf("Build %lld of %s/%s succeeded in %s: image %s.\n", id, jstr(b, "project"),
                       jstr(b, "component"), dur, image ?: "-");
                if (json_integer_value(json_object_get(b, "release_id")) > 0)
                        printf("Deployed to the first environment as release %lld (see 'slipway releases %s/%s').\n",
                               jint(b, "release_id"), jstr(b, "project"), jstr(b, "component"));
                return 0;
        }
        fprintf(stderr, "Error: build %lld of %s/%s %s after %s: %s\n", id, jstr(b, "project"),
                jstr(b, "component"), status, dur, reason ?: "no reason recorded.");
        fprintf(stderr, "Hint: see 'slipway build show %lld' and 'slipway build logs %lld'.\n", id, id);
        return 1;
}

static int build_start(CliContext *c, int argc, char *argv[]) {
        BuildArgs a = {};
        _cleanup_free_ char *project = NULL, *name = NULL, *path = NULL;
        _cleanup_json_ json_t *body = NULL, *b = NULL, *ended = NULL;
        int r;

        r = build_args_parse(c, "build", build_help, argc, argv, &a, 1, "PROJECT/COMPONENT");
        if (r <= 0)
                return cli_exit_status(r);
        /* The help text names --step for 'build logs'. */
        if (a.step)
                return cli_usage_error("build", "--step goes with 'slipway build logs ID'");
        r = model_split_component("build", argv[optind], &project, &name);
        if (r < 0)
                return cli_exit_status(r);
        r = build_request_body("build", a.commit, a.branch, a.deploy, &body);
        if (r < 0)
                return cli_exit_status(r);
        path = model_api_path(project, name, "/builds");
        if (!path)
                return log_oom_cli();
        if (cli_api_json(c, "POST", path, body, &b) < 0)
                return 1;

        long long id = jint(b, "id");
        const char *status = jstr(b, "status") ?: "?";
        bool existing = json_is_true(json_object_get(b, "existing"));
        if (!a.follow || (existing && build_status_ended(status))) {
                if (c->json) {
                        cli_print_json(b);
                        return 0;
                }
                if (existing && streq(status, "succeeded"))
                        printf("Commit %s is already built: build %lld (succeeded), image %s.\n",
                               build_commit(b), id, jstr(b, "image_ref") ?: "-");
                else if (existing && build_status_ended(status))
                        printf("Commit %s was built: build %lld (%s).\n", build_commit(b), id, status);
                else if (existing)
                        printf("Commit %s is already being built: build %lld (%s).\n", build_commit(b), id,
                               status);
                else if (json_is_string(json_object_get(b, "commit")))
                        printf("Build %lld of %s/%s queued (commit %s).\n", id, project, name,
                               build_commit(b));
                else
                        printf("Build %lld of %s/%s queued (commit of branch %s, resolved when it starts).\n",
                               id, project, name, jstr(b, "branch") ?: "default");
                if (!build_status_ended(status))
                        printf("Follow it with 'slipway build logs %lld --follow'.\n", id);
                return 0;
        }

        if (!c->json) {
                if (existing)
                        printf("Commit %s is already being built: build %lld (%s); following it.\n",
                               build_commit(b), id, status);
                else
                        printf("Build %lld of %s/%s queued (commit %s).\n", id, project, name,
                               json_is_string(json_object_get(b, "commit")) ? build_commit(b)
                                                                            : "resolved when it starts");
                fflush(stdout);
        }
        uint64_t offset = 0;
        r = log_follow(c, (int64_t) id, NULL, c->json ? LOG_SINK_STDERR : LOG_SINK_STDOUT, &offset, &ended);
        if (r < 0)
                return 1;
        if (c->json) {
                cli_print_json(ended);
                return streq_ptr(jstr(ended, "status"), "succeeded") ? 0 : 1;
        }
        return print_outcome(ended);
}

static int build_show(CliContext *c, int argc, char *argv[]) {
        BuildArgs a = {};
        _cleanup_json_ json_t *b = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        char created[32], started[32], finished[32], dur[32];
        json_t *step;
        int64_t id;
        size_t i;
        int r;

        r = build_args_parse(c, "build show", show_help, argc, argv, &a, 1, "a build ID");
        if (r <= 0)
                return cli_exit_status(r);
        r = build_id_parse("build show", argv[optind], &id);
        if (r < 0)
                return cli_exit_status(r);
        if (build_get(c, id, &b) < 0)
                return 1;
        if (c->json) {
                cli_print_json(b);
                return 0;
        }
        const char *reason = jstr(b, "reason"), *branch = jstr(b, "branch"),
                   *subject = jstr(b, "commit_subject");
        printf("Build:      %lld of %s/%s\n", jint(b, "id"), jstr(b, "project"), jstr(b, "component"));
        printf("Status:     %s%s%s\n", jstr(b, "status"), reason ? ": " : "", strempty(reason));
        printf("Commit:     %s%s%s%s%s\n", jstr(b, "commit") ?: "not resolved yet",
               branch ? " (branch " : "", strempty(branch), branch ? ")" : "", "");
        if (subject)
                printf("Message:    %s\n", subject);
        if (jstr(b, "commit_author"))
                printf("Author:     %s\n", jstr(b, "commit_author"));
        printf("Trigger:    %s%s%s%s\n", jstr(b, "trigger") ?: "-", jstr(b, "requested_by") ? " by " : "",
               strempty(jstr(b, "requested_by")),
               json_is_true(json_object_get(b, "deploy")) ? "; deploys to the first environment" : "");
        if (jstr(b, "image_ref") || jstr(b, "image_digest"))
                printf("Image:      %s (%s)\n", jstr(b, "image_ref") ?: "-", jstr(b, "image_digest") ?: "-");
        if (jstr(b, "pushed_ref"))
                printf("Pushed:     %s\n", jstr(b, "pushed_ref"));
        if (json_integer_value(json_object_get(b, "release_id")) > 0)
                printf("Release:    %lld\n", jint(b, "release_id"));
        model_format_time(json_object_get(b, "created_at"), created);
        model_format_time(json_object_get(b, "started_at"), started);
        model_format_time(json_object_get(b, "finished_at"), finished);
        build_format_duration(build_duration(b), dur);
        printf("Created:    %s, started %s, finished %s (%s)\n\n", created, started, finished, dur);

        t = table_new(4, "STEP", "STATUS", "DURATION", "MESSAGE");
        if (!t)
                return log_oom_cli();
        json_array_foreach(json_object_get(b, "steps"), i, step) {
                long long s0 = jint(step, "started_at"), s1 = jint(step, "finished_at");
                char sdur[32] = "-";

                if (s0 > 0 && s1 >= s0) {
                        long long ms = (s1 - s0) / 1000;
                        if (ms < 10000)
                                snprintf(sdur, sizeof sdur, "%lld.%01llds", ms / 1000, ms % 1000 / 100);
                        else
                                build_format_duration(ms / 1000, sdur);
                } else if (s0 > 0)
                        snprintf(sdur, sizeof sdur, "running");
                if (table_add_row(t, jstr(step, "name"), jstr(step, "status"), sdur,
                                  jstr(step, "message") ?: "") < 0)
                        return log_oom_cli();
        }
        table_print(t);
        /* The scan step's findings, every one, waived or not (build sbom ID prints the SBOM itself). */
        if (json_is_object(json_object_get(b, "scan"))) {
                printf("\n");
                scan_print(json_object_get(b, "scan"), SCAN_PRINT_BUILD);
        }
        return 0;
}

static int build_logs(CliContext *c, int argc, char *argv[]) {
        BuildArgs a = {};
        _cleanup_json_ json_t *ended = NULL;
        int64_t id;
        uint64_t offset = 0;
        int r;

        r = build_args_parse(c, "build logs", logs_help, argc, argv, &a, 1, "a build ID");
        if (r <= 0)
                return cli_exit_status(r);
        r = build_id_parse("build logs", argv[optind], &id);
        if (r < 0)
                return cli_exit_status(r);
        if (a.follow) {
                r = log_follow(c, id, a.step, c->json ? LOG_SINK_JSON_LINES : LOG_SINK_STDOUT, &offset,
                               &ended);
                if (r < 0)
                        return 1;
                if (c->json) {
                        _cleanup_json_ json_t *end =
                                json_pack("{s:b,s:s?}", "end", 1, "status", jstr(ended, "status"));
                        _cleanup_free_ char *s = end ? json_dumps(end, JSON_COMPACT) : NULL;
                        if (s)
                                printf("%s\n", s);
                } else
                        fprintf(stderr, "Note: build %lld %s.\n", (long long) id,
                                jstr(ended, "status") ?: "ended");
                return 0;
        }

        /* The log there is now, in one answer. */
        _cleanup_(http_conn_freep) HttpConn *conn = NULL;
        _cleanup_free_ char *path = logs_path(id, a.step, 0, false), *body = NULL;
        size_t size = 0;

        if (!path)
                return log_oom_cli();
        if (!c->json) {
                r = log_fetch(c, id, a.step, false, LOG_SINK_STDOUT, &offset);
                if (r == 0)
                        return cli_error("Run the command again.", "The log of build %lld broke off",
                                         (long long) id);
                return r < 0 ? 1 : 0;
        }
        if (cli_request_open(c, "GET", path, NULL, HTTP_BODY_NONE, &conn) < 0 ||
            cli_response_check(c, conn) < 0)
                return 1;
        r = http_conn_read_body_full(conn, HTTP_CLIENT_JSON_MAX, &body, &size);
        if (r < 0)
                return cli_error(NULL, "Reading the log of build %lld failed: %s", (long long) id,
                                 strerror(-r));
        const char *end = http_conn_header(conn, "X-Slipway-Log-Offset");
        _cleanup_json_ json_t *j =
                json_pack("{s:I,s:s?,s:I,s:o?}", "build", (json_int_t) id, "step", a.step, "offset",
                          (json_int_t) (end ? strtoll(end, NULL, 10) : (long long) size), "log",
                          log_text_json(body, size));
        if (!j)
                return log_oom_cli();
        cli_print_json(j);
        return 0;
}

static int build_cancel(CliContext *c, int argc, char *argv[]) {
        BuildArgs a = {};
        _cleanup_free_ char *path = NULL;
        _cleanup_json_ json_t *b = NULL;
        int64_t id;
        int r;

        r = build_args_parse(c, "build cancel", cancel_help, argc, argv, &a, 1, "a build ID");
        if (r <= 0)
                return cli_exit_status(r);
        r = build_id_parse("build cancel", argv[optind], &id);
        if (r < 0)
                return cli_exit_status(r);
        path = build_path(id, NULL);
        if (!path)
                return log_oom_cli();
        r = model_call(c, "DELETE", path, NULL, &b);
        if (r <= 0)
                return cli_exit_status(r);
        if (build_status_ended(jstr(b, "status")))
                printf("Build %lld of %s/%s is %s.\n", (long long) id, jstr(b, "project"),
                       jstr(b, "component"), jstr(b, "status"));
        else
                printf("Cancelling build %lld of %s/%s (%s); it stops at its current step.\n",
                       (long long) id, jstr(b, "project"), jstr(b, "component"), jstr(b, "status") ?: "?");
        return 0;
}

static int build_sbom(CliContext *c, int argc, char *argv[]) {
        BuildArgs a = {};
        _cleanup_json_ json_t *j = NULL;
        _cleanup_free_ char *path = NULL;
        int64_t id;
        int r;

        r = build_args_parse(c, "build sbom", sbom_help, argc, argv, &a, 1, "a build ID");
        if (r <= 0)
                return cli_exit_status(r);
        r = build_id_parse("build sbom", argv[optind], &id);
        if (r < 0)
                return cli_exit_status(r);
        path = build_path(id, "/sbom");
        if (!path)
                return cli_exit_status(cli_oom_errno());
        if (cli_api_json(c, "GET", path, NULL, &j) < 0)
                return 1;
        /* The SBOM is a JSON document either way. */
        cli_print_json(j);
        return 0;
}

int cmd_build(CliContext *c, int argc, char *argv[]) {
        static const CliVerb verbs[] = {
                { "show", build_show },
                { "sbom", build_sbom },
                { "logs", build_logs },
                { "cancel", build_cancel },
        };
        int i = 1;

        /* "build show ID" etc., else "build PROJECT/COMPONENT": a component is always PROJECT/NAME. */
        while (i < argc && streq(argv[i], "--json"))
                i++;
        if (i < argc)
                for (size_t k = 0; k < ELEMENTSOF(verbs); k++)
                        if (streq(argv[i], verbs[k].name))
                                return cli_dispatch(c, "build", build_help, "show, sbom, logs, cancel",
                                                    verbs, ELEMENTSOF(verbs), argc, argv);
        return build_start(c, argc, argv);
}

int cmd_builds(CliContext *c, int argc, char *argv[]) {
        BuildArgs a = {};
        _cleanup_free_ char *project = NULL, *name = NULL, *path = NULL;
        _cleanup_json_ json_t *j = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        json_t *b;
        size_t i;
        int r;

        r = build_args_parse(c, "builds", builds_help, argc, argv, &a, 1, "PROJECT/COMPONENT");
        if (r <= 0)
                return cli_exit_status(r);
        r = model_split_component("builds", argv[optind], &project, &name);
        if (r < 0)
                return cli_exit_status(r);
        path = model_api_path(project, name, "/builds");
        if (!path)
                return log_oom_cli();
        r = model_call(c, "GET", path, NULL, &j);
        if (r <= 0)
                return cli_exit_status(r);
        if (json_array_size(json_object_get(j, "builds")) == 0) {
                printf("No builds of %s/%s yet; start one with 'slipway build %s/%s'.\n", project, name,
                       project, name);
                return 0;
        }
        t = table_new(7, "ID", "COMMIT", "MESSAGE", "TRIGGER", "STATUS", "DURATION", "IMAGE");
        if (!t)
                return log_oom_cli();
        json_array_foreach(json_object_get(j, "builds"), i, b) {
                char id[24], dur[32], msg[BUILD_MESSAGE_COLUMN_MAX + 4];
                const char *subject = jstr(b, "commit_subject") ?: "";

                snprintf(id, sizeof id, "%lld", jint(b, "id"));
                build_format_duration(build_duration(b), dur);
                if (strlen(subject) > BUILD_MESSAGE_COLUMN_MAX)
                        snprintf(msg, sizeof msg, "%.*s…", (int) BUILD_MESSAGE_COLUMN_MAX - 1, subject);
                else
                        snprintf(msg, sizeof msg, "%s", subject);
                if (table_add_row(t, id, build_commit(b), msg[0] ? msg : "-", jstr(b, "trigger") ?: "-",
                                  jstr(b, "status") ?: "-", dur, jstr(b, "image_ref") ?: "-") < 0)
                        return log_oom_cli();
        }
        table_print(t);
        return 0;
}

/* autobuild / autodeploy PROJECT/COMPONENT on|off. */
static int switch_command(CliContext *c, const char *what, const char *help, int argc, char *argv[]) {
        BuildArgs a = {};
        _cleanup_free_ char *project = NULL, *name = NULL, *path = NULL, *suffix = NULL;
        _cleanup_json_ json_t *body = NULL, *j = NULL;
        bool on;
        int r;

        r = build_args_parse(c, what, help, argc, argv, &a, 2, "PROJECT/COMPONENT and on or off");
        if (r <= 0)
                return cli_exit_status(r);
        r = model_split_component(what, argv[optind], &project, &name);
        if (r < 0)
                return cli_exit_status(r);
        if (!streq(argv[optind + 1], "on") && !streq(argv[optind + 1], "off"))
                return cli_usage_error(what, "'slipway %s' takes 'on' or 'off', not '%s'", what,
                                       argv[optind + 1]);
        on = streq(argv[optind + 1], "on");
        body = json_pack("{s:b}", "on", on);
        if (!body || asprintf(&suffix, "/%s", what) < 0)
                return log_oom_cli();
        path = model_api_path(project, name, suffix);
        if (!path)
                return log_oom_cli();
        r = model_call(c, "PUT", path, body, &j);
        if (r <= 0)
                return cli_exit_status(r);
        on = json_is_true(json_object_get(j, what));
        if (streq(what, "autobuild") && on)
                printf("Autobuild of %s/%s is on: each push to its webhook is built (see 'slipway webhook show "
                       "%s/%s').\n",
                       project, name, project, name);
        else if (streq(what, "autobuild"))
                printf("Autobuild of %s/%s is off: only 'slipway build' builds it.\n", project, name);
        else if (on)
                printf("Autodeploy of %s/%s is on: each build that succeeds is deployed to the first "
                       "environment.\n",
                       project, name);
        else
                printf("Autodeploy of %s/%s is off: deploy builds with 'slipway deploy %s/%s ENV --build ID'.\n",
                       project, name, project, name);
        return 0;
}

int cmd_autobuild(CliContext *c, int argc, char *argv[]) {
        return switch_command(c, "autobuild", autobuild_help, argc, argv);
}

int cmd_autodeploy(CliContext *c, int argc, char *argv[]) {
        return switch_command(c, "autodeploy", autodeploy_help, argc, argv);
}

static int webhook_show(CliContext *c, int argc, char *argv[]) {
        BuildArgs a = {};
        _cleanup_free_ char *project = NULL, *name = NULL, *path = NULL;
        _cleanup_json_ json_t *j = NULL;
        int r;

        r = build_args_parse(c, "webhook show", webhook_help, argc, argv, &a, 1, "PROJECT/COMPONENT");
        if (r <= 0)
                return cli_exit_status(r);
        r = model_split_component("webhook show", argv[optind], &project, &name);
        if (r < 0)
                return cli_exit_status(r);
        path = model_api_path(project, name, a.rotate ? "/webhook/rotate" : "/webhook");
        if (!path)
                return log_oom_cli();
        r = model_call(c, a.rotate ? "POST" : "GET", path, NULL, &j);
        if (r <= 0)
                return cli_exit_status(r);
        const char *url = jstr(j, "url") ?: "-";
        /* A path the daemon answers with is on its own listener. */
        if (url[0] == '/' && c->url)
                printf("URL:     %s%s\n", c->url, url);
        else
                printf("URL:     %s\n", url);
        printf("Secret:  %s\n", jstr(j, "secret") ?: "-");
        if (a.rotate)
                printf("The previous URL and secret no longer work; update the repository's webhook.\n");
        if (!json_is_true(json_object_get(j, "autobuild")))
                printf("Note: autobuild is off, so pushes are not built until 'slipway autobuild %s/%s on'.\n",
                       project, name);
        else
                printf("Pushes reported to this URL are built (autobuild is on).\n");
        return 0;
}

int cmd_webhook(CliContext *c, int argc, char *argv[]) {
        static const CliVerb verbs[] = {
                { "show", webhook_show },
        };

        return cli_dispatch(c, "webhook", webhook_help, "show", verbs, ELEMENTSOF(verbs), argc, argv);
}
