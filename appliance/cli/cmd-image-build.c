/* slipway image build: sends the context directory as a tar made on the fly (.dockerignore applied here,
 * like Docker's client) and prints the build log as slipwayd streams it.  Ctrl-C cancels the build on the
 * daemon (DELETE /api/v1/images/builds/ID) and waits for it to stop; a second Ctrl-C quits at once.
 * See web/api/api-image-build.c for the response framing. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "context-stream.h"
#include "fs-util.h"
#include "json-util.h"
#include "string-util.h"

#define BUILD_ARGS_CLI_MAX 1024U
#define BUILD_LINE_MAX (64U * 1024U) /* a longer log line is printed in pieces */
#define BUILD_RESULT_MAX (64U * 1024U)
/* The daemon's limits (BUILD_SECRETS_MAX, BUILD_SECRET_SIZE_MAX in appliance/build/builder.h), checked here
 * too so that a user hears of them before the context is sent. */
#define BUILD_SECRETS_CLI_MAX 64U
#define BUILD_SECRET_CLI_SIZE_MAX (500U << 10)

/* The options of one `slipway image build`. */
typedef struct BuildArgs {
        const char *file;
        const char *tag;
        const char *target;
        bool no_cache;
        const char *build_args[BUILD_ARGS_CLI_MAX];
        size_t n_args;
        const char *secrets[BUILD_SECRETS_CLI_MAX];
        size_t n_secrets;
} BuildArgs;

static const char build_help[] =
        "Usage: slipway image build CONTEXT [-f FILE] [-t REF] [--build-arg K=V]…\n"
        "                           [--secret id=ID,src=FILE|env=VAR]… [--target STAGE] [--no-cache] [--json]\n\n"
        "Builds an image from a Dockerfile on slipwayd, without network access.  The directory CONTEXT is\n"
        "sent as the build context, leaving out what its .dockerignore excludes.  The build log is shown\n"
        "as it happens; Ctrl-C cancels the build.\n\n"
        "  -f, --file FILE        the Dockerfile (default CONTEXT/Dockerfile), relative to CONTEXT or to the\n"
        "                         current directory; it must lie inside CONTEXT\n"
        "  -t, --tag REF          name the image REF (\"myapp\" means \"myapp:latest\")\n"
        "      --build-arg K=V    set the build argument K (repeatable; K alone takes $K from here);\n"
        "                         SOURCE_DATE_EPOCH=N makes the image reproducible\n"
        "      --secret id=ID,src=FILE|env=VAR\n"
        "                         a build secret for RUN --mount=type=secret,id=ID: the content of FILE or\n"
        "                         of the variable VAR (id=ID alone: $ID); it reaches only the RUN steps that\n"
        "                         mount it, never a layer or the log (repeatable; at most 64 of 500 KiB)\n"
        "      --target STAGE     build up to this stage of a multi-stage Dockerfile\n"
        "      --no-cache         do not use the build cache\n"
        "      --json             print only {\"digest\",\"ref\",\"steps\",\"cached_steps\"} on stdout (the\n"
        "                         log goes to stderr)\n";

/* What the Ctrl-C thread needs. */
static pthread_mutex_t cancel_lock = PTHREAD_MUTEX_INITIALIZER;
static char cancel_id[64];
static bool cancel_sent;
static CliContext *cancel_ctx;

static void send_cancel(void) {
        _cleanup_(http_conn_freep) HttpConn *conn = NULL;
        char path[128];
        int r;

        snprintf(path, sizeof path, "/api/v1/images/builds/%s", cancel_id);
        r = http_conn_open(&cancel_ctx->u, cancel_ctx->token, "DELETE", path, NULL, HTTP_BODY_NONE, &conn);
        if (r >= 0)
                r = http_conn_read_head(conn);
        if (r < 0 || r >= 400)
                fprintf(stderr, "Could not cancel build %s (%s); it may have finished.\n", cancel_id,
                        r < 0 ? strerror(-r) : "refused");
}

static void *sigint_thread(void *userdata) {
        sigset_t *set = userdata;
        int sig;

        for (;;) {
                if (sigwait(set, &sig) != 0)
                        continue;
                pthread_mutex_lock(&cancel_lock);
                if (cancel_sent || isempty(cancel_id)) {
                        /* Second Ctrl-C, or nothing started on the daemon yet (an aborted upload starts nothing). */
                        pthread_mutex_unlock(&cancel_lock);
                        fprintf(stderr, "Error: Interrupted.\n");
                        _exit(130);
                }
                cancel_sent = true;
                fprintf(stderr, "Cancelling build %s… (Ctrl-C again to quit at once)\n", cancel_id);
                send_cancel();
                pthread_mutex_unlock(&cancel_lock);
        }
        return NULL;
}

static bool path_is_below(const char *path, const char *dir) {
        size_t n = strlen(dir);
        if (streq(dir, "/"))
                return path[0] == '/';
        return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == 0);
}

/* The Dockerfile's name relative to the context: FILE relative to CONTEXT when it exists there, else FILE as
 * given (relative to the current directory, as docker reads -f); either way it must lie inside CONTEXT. */
static int resolve_dockerfile(const char *context, const char *file, char **ret) {
        char ctx_real[PATH_MAX], df_real[PATH_MAX];
        _cleanup_free_ char *in_ctx = NULL;
        const char *candidate = NULL;
        struct stat st;

        if (!realpath(context, ctx_real))
                return cli_error("Check the path.", "Cannot resolve the context %s: %s", context,
                                 strerror(errno));
        if (!file) {
                in_ctx = path_join(context, "Dockerfile");
                if (!in_ctx)
                        return log_oom_cli();
                if (stat(in_ctx, &st) < 0 || !S_ISREG(st.st_mode))
                        return cli_error("Add a Dockerfile to the context, or name one with -f FILE.",
                                         "The build context %s has no Dockerfile", context);
                *ret = strdup("Dockerfile");
                return *ret ? 0 : log_oom_cli();
        }
        if (file[0] != '/') {
                in_ctx = path_join(context, file);
                if (!in_ctx)
                        return log_oom_cli();
                if (stat(in_ctx, &st) >= 0)
                        candidate = in_ctx;
        }
        if (!candidate && stat(file, &st) >= 0)
                candidate = file;
        if (!candidate)
                return cli_error("Check the path given with -f.", "The Dockerfile %s does not exist", file);
        if (!S_ISREG(st.st_mode))
                return cli_error("Give a Dockerfile with -f.", "%s is not a file", file);
        if (!realpath(candidate, df_real))
                return cli_error(NULL, "Cannot resolve %s: %s", file, strerror(errno));
        if (!path_is_below(df_real, ctx_real) || streq(df_real, ctx_real))
                return cli_error(
                        "Move the Dockerfile into the context directory, or choose a context that holds it.",
                        "The Dockerfile %s is outside the build context %s", file, context);
        *ret = strdup(df_real + strlen(ctx_real) + (streq(ctx_real, "/") ? 0 : 1));
        return *ret ? 0 : log_oom_cli();
}

static int append_query(char **q, const char *name, const char *value) {
        _cleanup_free_ char *enc = http_url_encode(value);
        char *n;

        if (!enc || asprintf(&n, "%s%s%s=%s", *q, strchr(*q, '?') ? "&" : "?", name, enc) < 0)
                return -ENOMEM;
        free(*q);
        *q = n;
        return 0;
}

/* Prints the build's failure the way every slipway error looks: "Error: Dockerfile:7:1: …". */
static int print_build_error(json_t *j) {
        const char *msg = NULL, *hint = NULL, *file = NULL;
        int64_t line = 0, column = 0;

        (void) json_get_string(j, "error", &msg);
        (void) json_get_string_opt(j, "hint", &hint);
        (void) json_get_string_opt(j, "file", &file);
        (void) json_get_int(j, "line", &line);
        (void) json_get_int(j, "column", &column);
        if (!isempty(file) && line > 0 && !startswith(strempty(msg), file)) {
                if (column > 0)
                        return cli_error(hint, "%s:%lld:%lld: %s", file, (long long) line,
                                         (long long) column, strempty(msg));
                return cli_error(hint, "%s:%lld: %s", file, (long long) line, strempty(msg));
        }
        return cli_error(hint, "%s", isempty(msg) ? "The build failed" : msg);
}

/* One record of the stream; *final gets the closing JSON object. */
static int handle_line(CliContext *c, const char *line, size_t n, json_t **final) {
        FILE *log = c->json ? stderr : stdout;

        if (n >= 2 && line[0] == '|' && line[1] == ' ') {
                fwrite(line + 2, 1, n - 2, log);
                fputc('\n', log);
                fflush(log);
        } else if (n == 1 && line[0] == '.')
                ; /* keep-alive */
        else if (n > 0 && line[0] == '{') {
                json_decref(*final);
                *final = NULL;
                if (json_parse_buffer(line, n, final, NULL) < 0)
                        return cli_error(NULL, "slipwayd sent an unreadable build result");
        } else if (n > 0) {
                fwrite(line, 1, n, log);
                fputc('\n', log);
        }
        return 0;
}

static int store_build_arg(const char *full, const char *arg, void *args) {
        BuildArgs *a = args;

        if (a->n_args >= BUILD_ARGS_CLI_MAX)
                return cli_usage_errno(full, "More than %u --build-arg options", BUILD_ARGS_CLI_MAX);
        if (arg[0] == '=' || !arg[0])
                return cli_usage_errno(full, "--build-arg '%s' has no name", arg);
        a->build_args[a->n_args++] = arg;
        return 0;
}

static int store_secret(const char *full, const char *arg, void *args) {
        BuildArgs *a = args;

        if (a->n_secrets >= BUILD_SECRETS_CLI_MAX)
                return cli_usage_errno(full, "More than %u --secret options", BUILD_SECRETS_CLI_MAX);
        a->secrets[a->n_secrets++] = arg;
        return 0;
}

/* One --secret id=ID,src=FILE|env=VAR (also source=, type=file|env as docker takes them) as
 * {"id","value_base64"}; usage errors exit 2. */
static int secret_to_json(const char *spec, json_t *list) {
        _cleanup_free_ char *copy = strdup(spec), *data = NULL, *b64 = NULL;
        const char *id = NULL, *src = NULL, *env = NULL, *type = NULL;
        char *save = NULL;
        size_t size = 0;
        int r;

        if (!copy)
                return log_oom_cli();
        for (char *f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
                char *eq = strchr(f, '=');

                if (!eq)
                        return cli_usage_error("image build", "--secret '%s': '%s' is not KEY=VALUE", spec,
                                               f);
                *eq = 0;
                if (streq(f, "id"))
                        id = eq + 1;
                else if (streq(f, "src") || streq(f, "source"))
                        src = eq + 1;
                else if (streq(f, "env"))
                        env = eq + 1;
                else if (streq(f, "type"))
                        type = eq + 1;
                else
                        return cli_usage_error("image build",
                                               "--secret '%s': unknown key '%s'; expected id, src or env",
                                               spec, f);
        }
        if (isempty(id))
                return cli_usage_error("image build", "--secret '%s' has no id=ID", spec);
        if (type && !streq(type, "file") && !streq(type, "env"))
                return cli_usage_error("image build", "--secret '%s': type must be file or env", spec);
        if (src && env)
                return cli_usage_error("image build", "--secret '%s': give src=FILE or env=VAR, not both",
                                       spec);
        if (!src && !env && type && streq(type, "file"))
                src = id;
        if (!src && !env)
                env = id;
        if (src) {
                r = read_full_file_at(AT_FDCWD, src, BUILD_SECRET_CLI_SIZE_MAX, &data, &size);
                if (r == -EFBIG)
                        return cli_error("Build secrets are small (a token, a key file).",
                                         "The secret file %s is larger than %u KiB", src,
                                         BUILD_SECRET_CLI_SIZE_MAX >> 10);
                if (r < 0)
                        return cli_error("Check the path given with --secret id=%s,src=FILE.",
                                         "Cannot read the secret file %s: %s", src, strerror(-r));
        } else {
                const char *v = getenv(env);

                if (!v)
                        return cli_error("Set the variable, or give the secret with src=FILE.",
                                         "The environment variable %s for --secret id=%s is not set", env,
                                         id);
                size = strlen(v);
                if (size > BUILD_SECRET_CLI_SIZE_MAX)
                        return cli_error("Build secrets are small (a token, a key file).",
                                         "The variable %s for secret %s is larger than %u KiB", env, id,
                                         BUILD_SECRET_CLI_SIZE_MAX >> 10);
                data = strdup(v);
                if (!data)
                        return log_oom_cli();
        }
        b64 = malloc(sodium_base64_encoded_len(size, sodium_base64_VARIANT_ORIGINAL));
        if (!b64)
                return log_oom_cli();
        sodium_bin2base64(b64, sodium_base64_encoded_len(size, sodium_base64_VARIANT_ORIGINAL),
                          (const unsigned char *) data, size, sodium_base64_VARIANT_ORIGINAL);
        sodium_memzero(data, size);
        r = json_array_append_new(list, json_pack("{s:s,s:s}", "id", id, "value_base64", b64));
        sodium_memzero(b64, strlen(b64));
        return r < 0 ? log_oom_cli() : 0;
}

/* The secrets as the body's leading JSON document (NULL when there are none). */
static int secrets_body(const BuildArgs *a, char **ret) {
        _cleanup_json_ json_t *doc = NULL;
        json_t *list = json_array();
        int r;

        *ret = NULL;
        if (!list)
                return log_oom_cli();
        doc = json_pack("{s:o}", "secrets", list);
        if (!doc)
                return log_oom_cli();
        if (a->n_secrets == 0)
                return 0;
        for (size_t k = 0; k < a->n_secrets; k++) {
                for (size_t j = 0; j < k; j++)
                        if (streq(a->secrets[j], a->secrets[k]))
                                return cli_usage_error("image build", "--secret '%s' is given twice",
                                                       a->secrets[k]);
                r = secret_to_json(a->secrets[k], list);
                if (r != 0)
                        return r;
        }
        *ret = json_dumps(doc, JSON_COMPACT);
        if (!*ret)
                return log_oom_cli();
        /* The values' base64 inside the document goes with it; wipe what jansson holds before freeing. */
        {
                json_t *e;
                size_t idx;

                json_array_foreach(list, idx, e) {
                        const char *v = json_string_value(json_object_get(e, "value_base64"));
                        if (v)
                                sodium_memzero((char *) v, strlen(v));
                }
        }
        return 0;
}

static const CliOption build_options[] = {
        { .name = "file", .offset = offsetof(BuildArgs, file), .short_name = 'f' },
        { .name = "tag", .offset = offsetof(BuildArgs, tag), .short_name = 't' },
        { .name = "build-arg", .store = store_build_arg },
        { .name = "secret", .store = store_secret },
        CLI_STRING_OPTION("target", BuildArgs, target),
        CLI_FLAG_OPTION("no-cache", BuildArgs, no_cache),
};

int cmd_image_build(CliContext *c, int argc, char *argv[]) {
        _cleanup_(http_conn_freep) HttpConn *conn = NULL;
        _cleanup_free_ char *query = NULL, *dockerfile = NULL, *err = NULL, *line = NULL, *secrets = NULL;
        _cleanup_json_ json_t *final = NULL;
        BuildArgs a = {};
        const char *context, *id;
        size_t n_line = 0;
        static sigset_t set;
        pthread_t thread;
        struct stat st;
        char buf[16384];
        int r;

        r = cli_parse_options(c, "image build", build_help, build_options, ELEMENTSOF(build_options), &a,
                              argc, argv);
        if (r <= 0)
                return cli_exit_status(r);
        if (argc - optind < 1)
                return cli_usage_error("image build", "'slipway image build' needs the context directory");
        if (argc - optind > 1)
                return cli_usage_error("image build", "Unexpected argument '%s'", argv[optind + 1]);
        context = argv[optind];
        if (stat(context, &st) < 0)
                return cli_error("Give the directory that holds the Dockerfile and the files it copies.",
                                 "The build context %s does not exist", context);
        if (!S_ISDIR(st.st_mode))
                return cli_error("Give the directory that holds the Dockerfile and the files it copies.",
                                 "The build context %s is not a directory", context);
        r = resolve_dockerfile(context, a.file, &dockerfile);
        if (r != 0)
                return r;

        query = strdup("/api/v1/images/build");
        if (!query)
                return log_oom_cli();
        r = append_query(&query, "file", dockerfile);
        if (r >= 0 && a.tag)
                r = append_query(&query, "tag", a.tag);
        if (r >= 0 && a.target)
                r = append_query(&query, "target", a.target);
        if (r >= 0 && a.no_cache)
                r = append_query(&query, "no_cache", "1");
        for (size_t i = 0; r >= 0 && i < a.n_args; i++) {
                _cleanup_free_ char *kv = NULL;
                const char *v;

                if (strchr(a.build_args[i], '='))
                        r = append_query(&query, "build_arg", a.build_args[i]);
                else if ((v = getenv(a.build_args[i]))) { /* like docker: "--build-arg K" takes $K */
                        if (asprintf(&kv, "%s=%s", a.build_args[i], v) < 0)
                                return log_oom_cli();
                        r = append_query(&query, "build_arg", kv);
                }
        }
        if (r < 0)
                return log_oom_cli();
        r = secrets_body(&a, &secrets);
        if (r != 0)
                return r;
        if (secrets) {
                char n[32];

                snprintf(n, sizeof n, "%zu", strlen(secrets));
                if (append_query(&query, "secrets", n) < 0)
                        return log_oom_cli();
        }

        /* Ctrl-C goes to a thread that cancels the build on the daemon; the main thread keeps reading the log
         * until slipwayd says the build ended. */
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        if (pthread_sigmask(SIG_BLOCK, &set, NULL) == 0 &&
            pthread_create(&thread, NULL, sigint_thread, &set) == 0)
                pthread_detach(thread);
        cancel_ctx = c;

        r = cli_request_open(c, "POST", query, "application/x-tar", HTTP_BODY_CHUNKED, &conn);
        if (r < 0)
                return 1;
        /* The secrets go first, in the body (never on a command line or in the URL), then the context. */
        r = secrets ? http_conn_write(conn, secrets, strlen(secrets)) : 0;
        if (secrets)
                sodium_memzero(secrets, strlen(secrets));
        if (r >= 0)
                r = context_stream_to_conn(context, dockerfile, conn, &err);
        if (r >= 0)
                r = http_conn_finish(conn);
        else if (r == -EBADMSG)
                return cli_error("Fix the .dockerignore of the build context.", "%s",
                                 err ?: "Bad .dockerignore");
        else if (r != -EPIPE && r != -ECONNRESET)
                return cli_error(NULL, "%s", err ?: strerror(-r));
        /* On EPIPE the daemon stopped reading early: its answer says why. */

        r = cli_response_check(c, conn);
        if (r < 0)
                return 1;
        id = http_conn_header(conn, "X-Slipway-Build");
        pthread_mutex_lock(&cancel_lock);
        snprintf(cancel_id, sizeof cancel_id, "%s", strempty(id));
        pthread_mutex_unlock(&cancel_lock);

        line = malloc(BUILD_LINE_MAX);
        if (!line)
                return log_oom_cli();
        for (;;) {
                ssize_t n = http_conn_read_body(conn, buf, sizeof buf);
                if (n <= 0)
                        break; /* a cut stream without the final line is reported below */
                for (ssize_t i = 0; i < n; i++) {
                        if (buf[i] == '\n' || n_line == BUILD_LINE_MAX) {
                                r = handle_line(c, line, n_line, &final);
                                if (r != 0)
                                        return r;
                                n_line = 0;
                                if (buf[i] == '\n')
                                        continue;
                        }
                        line[n_line++] = buf[i];
                }
        }

        if (n_line > 0) {
                r = handle_line(c, line, n_line, &final);
                if (r != 0)
                        return r;
        }

        pthread_mutex_lock(&cancel_lock); /* no cancel request in flight while we decide */
        if (!final) {
                pthread_mutex_unlock(&cancel_lock);
                return cli_error("See the slipwayd log; the build was cancelled on the daemon.",
                                 "The connection to slipwayd broke off before the build finished");
        }
        if (json_object_get(final, "error")) {
                bool cancelled = cancel_sent;
                pthread_mutex_unlock(&cancel_lock);
                if (cancelled) {
                        cli_error(NULL, "The build was cancelled");
                        return 130;
                }
                return print_build_error(final);
        }
        pthread_mutex_unlock(&cancel_lock);

        if (c->json) {
                cli_print_json(final);
                return 0;
        }
        const char *ref = json_string_value(json_object_get(final, "ref")),
                   *digest = json_string_value(json_object_get(final, "digest"));
        if (ref)
                printf("Built %s (%s)\n", ref, strempty(digest));
        else
                printf("Built %s\n", strempty(digest));
        return 0;
}
