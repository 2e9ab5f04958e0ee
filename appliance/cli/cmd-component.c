/* slipway component create|list|show, releases, url and logs.  Specs (endpoints, health checks,
 * resources) are parsed and validated by the daemon, so the CLI and the API refuse the same input. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cmd-model-args.h"
#include "fs-util.h"
#include "json-util.h"
#include "string-util.h"

/* The longest --bake a spec takes (SPEC_BAKE_MS_MAX); the daemon checks every value again. */
#define CLI_BAKE_MS_MAX (24u * 3600u * 1000u)

static const char component_help[] =
        "Usage: slipway component create PROJECT/NAME (--image REF | --git URL|PATH [--branch B] …)\n"
        "                                [--endpoint …]… [--health …] [--memory SIZE] [--cpus N]\n"
        "                                [--config NAME[:secret][:optional][:file=PATH]]…\n"
        "       slipway component update PROJECT/NAME [any option of create] [--no-config NAME]…\n"
        "       slipway component list PROJECT\n"
        "       slipway component show PROJECT/NAME\n\n"
        "Components are what runs: an image (or a git repository slipway builds), its endpoints, health checks and resources, the values it\n"
        "needs (configurables) and its bake window.\n";

#define SOURCE_OPTIONS_HELP                                                                                \
        "  --git URL|PATH     build the component from this git repository (https://, http://, git://,\n"  \
        "                     ssh://, user@host:path, file://, or a local directory, sent as its\n"        \
        "                     absolute path); not with\n"                                                  \
        "                     --image.  'slipway build' builds a commit\n"                                 \
        "  --git-token-stdin  read the password of an http(s) repository from stdin (kept in the vault;\n" \
        "                     the user name is the URL's, e.g. https://ci@host/repo.git)\n"                \
        "  --ssh-key-file F   the deploy key of an ssh:// (or user@host:path) repository: the private\n"   \
        "                     key file ssh-keygen wrote (kept in the vault); the server's host key is\n"   \
        "                     pinned at the first fetch and checked at every later one\n"                  \
        "  --ssh-host-key-reset  forget the pinned host key (the server's key changed on purpose)\n"       \
        "  --branch B         the branch builds follow (default: main)\n"                                  \
        "  --dir SUB          the build context inside the repository (default: its top)\n"                \
        "  --dockerfile PATH  the Dockerfile, relative to the context (default: Dockerfile)\n"             \
        "  --poll DUR         also look for new commits this often, e.g. 30s, 5m, 1h; 0 or off: never\n"

#define SPEC_OPTIONS_HELP                                                                                   \
        "  --image REF        image to deploy by default (see 'slipway image list'); not with --git\n"      \
        "  --endpoint SPEC    NAME:PORT, optionally :public (on the ingress) or :project (only inside\n"    \
        "                     the environment) and :/BASEPATH; repeat for several\n"                        \
        "  --health CHECK     readiness and liveness: http:PATH (GET, 200-399 is healthy), tcp, or none\n"  \
        "  --liveness CHECK   a different liveness check (failing it restarts the instance)\n"              \
        "  --health-interval DUR   time between probes, e.g. 500ms, 2s (default 2s)\n"                      \
        "  --health-timeout DUR    one probe's time limit (default 1s)\n"                                   \
        "  --health-failures N     failed probes in a row that count as unhealthy (default 3)\n"            \
        "  --deploy-timeout DUR    a deploy not ready by then fails (default 2m)\n"                         \
        "  --memory SIZE      memory limit, e.g. 256M or 1G\n"                                              \
        "  --cpus N           CPU limit, e.g. 0.5 or 2\n"                                                   \
        "  --pids N           process limit (default 1024)\n"                                               \
        "  --config NAME[:secret][:optional][:file=PATH]\n"                                                 \
        "                     a value the component needs in each environment (an environment variable,\n"  \
        "                     or with file=PATH a file mounted there); deploy and promote refuse while a\n" \
        "                     required one has no value ('slipway config set'); repeat for several\n"       \
        "  --bake DUR         after a swap keep the old instance warm this long and roll back by itself\n"  \
        "                     on failures, e.g. 30s; 0 for none; default: slipwayd's --bake-default\n"      \
        "  --bake-max-5xx PCT roll back above this share of 5xx answers during the bake (default 5)\n"      \
        "  --keep-releases N  releases kept per environment, with their images and values (default 10)\n"

static const char create_help[] =
        "Usage: slipway component create PROJECT/NAME (--image REF | --git URL|PATH [--branch B] [--dir SUB]\n"
        "                                [--dockerfile PATH] [--poll DUR])\n"
        "                                [--endpoint NAME:PORT[:public|project][:/BASEPATH]]…\n"
        "                                [--health http:PATH|tcp|none] [--liveness CHECK]\n"
        "                                [--health-interval DUR] [--health-timeout DUR] [--health-failures N]\n"
        "                                [--deploy-timeout DUR] [--memory SIZE] [--cpus N] [--pids N]\n"
        "                                [--config NAME[:secret][:optional][:file=PATH]]… [--bake DUR]\n"
        "                                [--bake-max-5xx PCT] [--keep-releases N] [--json]\n\n"
        "Creates a component that runs image REF, or that slipway builds from a git repository (with\n"
        "--git; 'slipway build PROJECT/NAME' builds it, 'slipway autobuild' builds on every push).\n"
        "Without --endpoint the descriptor's endpoints, else each TCP port the image exposes, is a public\n"
        "endpoint.  Without --health readiness and liveness are a TCP connect to the first endpoint (no\n"
        "endpoint: the process still runs after a grace period).\n\n" SOURCE_OPTIONS_HELP SPEC_OPTIONS_HELP;

static const char update_help[] =
        "Usage: slipway component update PROJECT/NAME [--image REF | --git URL|PATH] [--branch B] [--dir SUB]\n"
        "                                [--dockerfile PATH] [--poll DUR] [--builds-keep N]\n"
        "                                [--endpoint SPEC]… [--health CHECK]\n"
        "                                [--liveness CHECK] [--health-interval DUR] [--health-timeout DUR]\n"
        "                                [--health-failures N] [--deploy-timeout DUR] [--memory SIZE]\n"
        "                                [--cpus N] [--pids N] [--config NAME[:secret][:optional][:file=PATH]]…\n"
        "                                [--no-config NAME]… [--bake DUR] [--bake-max-5xx PCT]\n"
        "                                [--keep-releases N] [--json]\n\n"
        "Changes a component's settings; what is not given keeps its value (--endpoint replaces every\n"
        "endpoint; --config adds a configurable or replaces the one of that name).  Running releases keep\n"
        "the settings they were deployed with: the next deploy, promote or rollback uses the new ones;\n"
        "changed source settings apply to the next build.\n\n" SOURCE_OPTIONS_HELP
        "  --builds-keep N    builds kept with their logs (default 20; images of live releases stay)\n" SPEC_OPTIONS_HELP
        "  --no-config NAME   the component no longer needs NAME (its values stay in the environments)\n";

static const char list_help[] = "Usage: slipway component list PROJECT [--json]\n\n"
                                "Lists a project's components: NAME, IMAGE, ENDPOINTS, HEALTH.\n";

static const char show_help[] =
        "Usage: slipway component show PROJECT/NAME [--json]\n\n"
        "Shows a component's image, endpoints, health checks, resources and its releases per environment.\n";

static const char releases_help[] =
        "Usage: slipway releases PROJECT/NAME [ENV] [--json]\n\n"
        "Release history, newest first: ID, ENV, STATUS (pending, deploying, live, superseded, failed,\n"
        "rolled-back), DIGEST, ORIGIN (deploy, promote from ENV#ID, rollback to #ID), VALUES (the value\n"
        "versions it runs with, KEY@vN; secrets by name and version only), CREATED, FINISHED, REASON.\n";

static const char url_help[] = "Usage: slipway url PROJECT/NAME ENV [--json]\n\n"
                               "Prints the public URL of each public endpoint of the component in ENV\n"
                               "(http://HOST:INGRESS_PORT/PROJECT/NAME/).\n";

static const char logs_help[] =
        "Usage: slipway logs PROJECT/NAME ENV [--lines N] [--follow] [--json]\n\n"
        "Prints the last lines of the live instance's stdout (to stdout) and stderr (to stderr); without a\n"
        "live release, those of the newest instance (e.g. a failed deploy).\n\n"
        "  --lines N   lines per stream (default 100, at most 10000)\n"
        "  --follow    keep printing what the instance writes until it stops (Ctrl-C to leave);\n"
        "              with --json: one JSON object per line {\"stream\",\"text\"}, last "
        "{\"end\",\"state\"}\n";

#define LOGS_LINE_MAX (1024u * 1024u)

/* One line of a follow stream; returns 1 at the end marker. */
static int follow_line(CliContext *c, const char *line, size_t n) {
        _cleanup_json_ json_t *j = NULL;
        json_t *stream;

        if (n == 0)
                return 0; /* heartbeat */
        if (c->json) {
                fwrite(line, 1, n, stdout);
                fputc('\n', stdout);
                fflush(stdout);
        }
        if (json_parse_buffer(line, n, &j, NULL) < 0)
                return 0;
        stream = json_object_get(j, "stream");
        if (!c->json && json_is_string(stream)) {
                FILE *f = streq(json_string_value(stream), "stderr") ? stderr : stdout;
                fputs(json_string_value(json_object_get(j, "text")) ?: "", f);
                fflush(f);
        }
        if (json_is_true(json_object_get(j, "end"))) {
                if (!c->json)
                        fprintf(stderr, "Note: the stream ended (%s).\n",
                                json_string_value(json_object_get(j, "state")) ?: "gone");
                return 1;
        }
        return 0;
}

static int logs_follow(CliContext *c, const char *path) {
        _cleanup_(http_conn_freep) HttpConn *conn = NULL;
        _cleanup_free_ char *line = malloc(LOGS_LINE_MAX);
        char buf[16384];
        size_t n_line = 0;

        if (!line)
                return log_oom_cli();
        if (cli_request_open(c, "GET", path, NULL, HTTP_BODY_NONE, &conn) < 0)
                return 1;
        if (cli_response_check(c, conn) < 0)
                return 1;
        for (;;) {
                ssize_t n = http_conn_read_body(conn, buf, sizeof buf);
                if (n <= 0)
                        return n < 0 ? cli_error(NULL, "The log stream from slipwayd broke off") : 0;
                for (ssize_t i = 0; i < n; i++) {
                        if (buf[i] == '\n' || n_line == LOGS_LINE_MAX) {
                                if (follow_line(c, line, n_line) > 0)
                                        return 0;
                                n_line = 0;
                                if (buf[i] == '\n')
                                        continue;
                        }
                        line[n_line++] = buf[i];
                }
        }
}

static void format_endpoint(json_t *e, char *buf, size_t size) {
        const char *bp = json_string_value(json_object_get(e, "base_path"));
        snprintf(buf, size, "%s:%lld:%s%s%s", json_string_value(json_object_get(e, "name")),
                 (long long) json_integer_value(json_object_get(e, "port")),
                 json_string_value(json_object_get(e, "visibility")), bp && !streq(bp, "/") ? ":" : "",
                 bp && !streq(bp, "/") ? bp : "");
}

static void format_health(json_t *h, char *buf, size_t size) {
        const char *kind = json_string_value(json_object_get(h, "kind"));
        char what[1100];

        if (streq_ptr(kind, "http"))
                snprintf(what, sizeof what, "http GET :%lld%s",
                         (long long) json_integer_value(json_object_get(h, "port")),
                         json_string_value(json_object_get(h, "path")));
        else if (streq_ptr(kind, "tcp"))
                snprintf(what, sizeof what, "tcp connect :%lld",
                         (long long) json_integer_value(json_object_get(h, "port")));
        else if (streq_ptr(kind, "process"))
                snprintf(what, sizeof what, "process running after %lld ms",
                         (long long) json_integer_value(json_object_get(h, "initial_delay_ms")));
        else
                snprintf(what, sizeof what, "%s", strempty(kind));
        if (streq_ptr(kind, "http") || streq_ptr(kind, "tcp"))
                snprintf(buf, size,
                         "%s, every %lld ms, timeout %lld ms, delay %lld ms, %lld ok / %lld failed", what,
                         (long long) json_integer_value(json_object_get(h, "interval_ms")),
                         (long long) json_integer_value(json_object_get(h, "timeout_ms")),
                         (long long) json_integer_value(json_object_get(h, "initial_delay_ms")),
                         (long long) json_integer_value(json_object_get(h, "success_threshold")),
                         (long long) json_integer_value(json_object_get(h, "failure_threshold")));
        else
                snprintf(buf, size, "%s", what);
}

/* "NAME (secret, optional, file PATH)" of one configurable. */
static void format_config(json_t *e, char *buf, size_t size) {
        const char *file = json_string_value(json_object_get(e, "file"));
        bool secret = json_is_true(json_object_get(e, "secret")),
             opt = json_is_true(json_object_get(e, "optional"));

        snprintf(buf, size, "%s (%s%s%s%s%s)", json_string_value(json_object_get(e, "name")),
                 secret ? "secret" : "plain", opt ? ", optional" : ", required", file ? ", file " : ", env",
                 strempty(file), "");
}

/* "30s" etc. of a bake window in ms; null: the daemon's default. */
static void format_bake(json_t *ms, char *buf, size_t size) {
        long long v = (long long) json_integer_value(ms);

        if (!json_is_integer(ms))
                snprintf(buf, size, "slipwayd's default (--bake-default)");
        else if (v == 0)
                snprintf(buf, size, "off");
        else if (v % 1000 == 0)
                snprintf(buf, size, "%llds", v / 1000);
        else
                snprintf(buf, size, "%lldms", v);
}

/* "30s", "0"/"off" (no bake) or "default" (slipwayd's --bake-default) → the request's "bake_ms". */
static int bake_json(const char *full, const char *s, json_t **ret) {
        uint32_t ms;

        if (streq(s, "0") || streq(s, "off"))
                ms = 0;
        else if (streq(s, "default")) {
                *ret = json_null();
                return 0;
        } else if (model_parse_duration_ms_max(s, CLI_BAKE_MS_MAX, &ms) < 0)
                return cli_usage_errno(full,
                                       "--bake takes a duration like 30s or 5m (at most 24h), 0 for none or "
                                       "'default', not '%s'",
                                       s);
        *ret = json_integer(ms);
        return *ret ? 0 : cli_oom_errno();
}

/* The request fields of every flag create and update share. */
static int component_body(const char *full, const ModelArgs *a, json_t *body) {
        const struct {
                const char *value, *option, *key;
                bool duration;
                unsigned long min, max;
        } nums[] = {
                { a->health_interval, "--health-interval", "health_interval_ms", true, 1, 0 },
                { a->health_timeout, "--health-timeout", "health_timeout_ms", true, 1, 0 },
                { a->deploy_timeout, "--deploy-timeout", "deploy_timeout_ms", true, 1, 0 },
                { a->health_failures, "--health-failures", "health_failures", false, 1, UINT32_MAX },
                { a->pids, "--pids", "pids", false, 1, UINT32_MAX },
                { a->keep_releases, "--keep-releases", "keep_releases", false, 1, UINT32_MAX },
                { a->bake_max_5xx, "--bake-max-5xx", "bake_max_5xx_percent", false, 0, 100 },
                { a->builds_keep, "--builds-keep", "builds_keep", false, 1, UINT32_MAX },
        };

        if ((a->health && json_object_set_new(body, "health", json_string(a->health)) < 0) ||
            (a->liveness && json_object_set_new(body, "liveness", json_string(a->liveness)) < 0) ||
            (a->memory && json_object_set_new(body, "memory", json_string(a->memory)) < 0) ||
            (a->cpus && json_object_set_new(body, "cpus", json_string(a->cpus)) < 0))
                return cli_oom_errno();
        for (size_t k = 0; k < ELEMENTSOF(nums); k++) {
                uint32_t v = 0;
                char *end = NULL;
                if (!nums[k].value)
                        continue;
                if (nums[k].duration) {
                        if (model_parse_duration_ms(nums[k].value, &v) < 0)
                                return cli_usage_errno(full,
                                                       "%s takes a duration like 500ms, 2s or 1m, not '%s'",
                                                       nums[k].option, nums[k].value);
                } else {
                        char buf[32];
                        /* "5%" for a percentage reads as 5. */
                        snprintf(buf, sizeof buf, "%s", nums[k].value);
                        if (endswith(buf, "%") && streq(nums[k].option, "--bake-max-5xx"))
                                buf[strlen(buf) - 1] = 0;
                        unsigned long n = strtoul(buf, &end, 10);
                        if (!*buf || *end || buf[0] == '-' || n < nums[k].min || n > nums[k].max)
                                return cli_usage_errno(
                                        full, "%s takes a whole number from %lu to %lu, not '%s'",
                                        nums[k].option, nums[k].min, nums[k].max, nums[k].value);
                        v = (uint32_t) n;
                }
                if (json_object_set_new(body, nums[k].key, json_integer(v)) < 0)
                        return cli_oom_errno();
        }
        if (a->bake) {
                json_t *b = NULL;
                int r = bake_json(full, a->bake, &b);
                if (r < 0)
                        return r;
                if (json_object_set_new(body, "bake_ms", b) < 0)
                        return cli_oom_errno();
        }
        const struct {
                const char *const *values;
                size_t n;
                const char *key;
        } lists[] = {
                { a->endpoints, a->n_endpoints, "endpoints" },
                { a->configs, a->n_configs, "configs" },
                { a->no_configs, a->n_no_configs, "no_configs" },
        };
        for (size_t k = 0; k < ELEMENTSOF(lists); k++) {
                json_t *arr;
                if (lists[k].n == 0)
                        continue;
                arr = json_array();
                if (!arr || json_object_set_new(body, lists[k].key, arr) < 0)
                        return cli_oom_errno();
                for (size_t i = 0; i < lists[k].n; i++)
                        if (json_array_append_new(arr, json_string(lists[k].values[i])) < 0)
                                return cli_oom_errno();
        }
        return 0;
}

/* The request fields of the git source: "git" (a local path made absolute), "branch", "dir",
 * "dockerfile", "poll_sec".  --git and --image exclude each other. */
static int source_body(const char *full, const ModelArgs *a, json_t *body) {
        _cleanup_free_ char *git = NULL;
        int r;

        if (a->git && a->image)
                return cli_usage_errno(full,
                                       "--git and --image exclude each other: a component runs an image or "
                                       "is built from git");
        if (a->git) {
                r = model_git_source(full, a->git, &git);
                if (r < 0)
                        return r;
                if (json_object_set_new(body, "git", json_string(git)) < 0)
                        return cli_oom_errno();
        }
        if (a->git_token_stdin) {
                char token[4096];
                size_t n;

                if (!fgets(token, sizeof token, stdin) || !(n = strcspn(token, "\r\n")) ||
                    n >= sizeof token - 1) {
                        sodium_memzero(token, sizeof token);
                        return cli_usage_errno(full,
                                               "--git-token-stdin needs the token on one line of stdin");
                }
                token[n] = 0;
                r = json_object_set_new(body, "git_token", json_string(token));
                sodium_memzero(token, sizeof token);
                if (r < 0)
                        return cli_oom_errno();
        }
        if (a->ssh_key_file) {
                _cleanup_free_ char *key = NULL;
                size_t size = 0;
                r = read_full_file_at(AT_FDCWD, a->ssh_key_file, 64U * 1024U, &key, &size);
                if (r < 0) {
                        cli_error("Give the private key file ssh-keygen wrote.", "Cannot read %s: %s",
                                  a->ssh_key_file, strerror(-r));
                        return r;
                }
                r = json_object_set_new(body, "ssh_key", json_stringn(key, size));
                sodium_memzero(key, size);
                if (r < 0)
                        return cli_oom_errno();
        }
        if (a->ssh_host_key_reset && json_object_set_new(body, "ssh_host_key_reset", json_true()) < 0)
                return cli_oom_errno();
        if ((a->branch && json_object_set_new(body, "branch", json_string(a->branch)) < 0) ||
            (a->dir && json_object_set_new(body, "dir", json_string(a->dir)) < 0) ||
            (a->dockerfile && json_object_set_new(body, "dockerfile", json_string(a->dockerfile)) < 0))
                return cli_oom_errno();
        if (a->poll) {
                uint32_t sec;
                if (model_parse_poll_sec(a->poll, &sec) < 0)
                        return cli_usage_errno(
                                full,
                                "--poll takes a duration like 30s, 5m or 1h (at most 7 days), or "
                                "0 for never, not '%s'",
                                a->poll);
                if (json_object_set_new(body, "poll_sec", json_integer(sec)) < 0)
                        return cli_oom_errno();
        }
        return 0;
}

/* The git source of a component the daemon answered with: "source": {"url"|"git", "branch", …}, or the
 * same fields at the top. */
static const char *source_field(json_t *comp, const char *key) {
        json_t *src = json_object_get(comp, "source");
        return json_string_value(json_object_get(src, key)) ?: json_string_value(json_object_get(comp, key));
}

/* "git URL, branch B" (or "image REF"). */
static void format_source(json_t *comp, char *buf, size_t size) {
        const char *git = source_field(comp, "url") ?: source_field(comp, "git");
        const char *branch = source_field(comp, "branch");

        if (git)
                snprintf(buf, size, "git %s%s%s", git, branch ? ", branch " : "", strempty(branch));
        else
                snprintf(buf, size, "image %s", json_string_value(json_object_get(comp, "image")) ?: "-");
}

/* The "Source:" lines of component show, for a git component. */
static void print_source(json_t *comp) {
        const char *git = source_field(comp, "url") ?: source_field(comp, "git");
        json_t *src = json_object_get(comp, "source");
        json_t *poll = json_object_get(src, "poll_sec") ?: json_object_get(comp, "poll_sec");
        char buf[1200];

        if (!git)
                return;
        format_source(comp, buf, sizeof buf);
        printf("Source:     %s\n", buf);
        const char *dir = source_field(comp, "dir"), *dockerfile = source_field(comp, "dockerfile");
        printf("Builds:     context %s, %s\n", isempty(dir) ? "the repository's top" : dir,
               isempty(dockerfile) ? "Dockerfile" : dockerfile);
        if (json_integer_value(poll) > 0)
                printf("Poll:       every %lld s\n", (long long) json_integer_value(poll));
        printf("Autobuild:  %s; autodeploy %s\n",
               json_is_true(json_object_get(comp, "autobuild")) ? "on" : "off",
               json_is_true(json_object_get(comp, "autodeploy")) ? "on" : "off");
}

static void print_spec_summary(json_t *spec) {
        json_t *e;
        size_t i;
        char h[1400];

        json_array_foreach(json_object_get(spec, "endpoints"), i, e) {
                char buf[512];
                format_endpoint(e, buf, sizeof buf);
                printf("  endpoint   %s\n", buf);
        }
        format_health(json_object_get(json_object_get(spec, "health"), "readiness"), h, sizeof h);
        printf("  readiness  %s\n", h);
        json_array_foreach(json_object_get(spec, "configs"), i, e) {
                format_config(e, h, sizeof h);
                printf("  config     %s\n", h);
        }
}

static int component_create(CliContext *c, int argc, char *argv[]) {
        ModelArgs a = {};
        _cleanup_json_ json_t *body = NULL, *j = NULL;
        _cleanup_free_ char *project = NULL, *name = NULL, *path = NULL;
        int r;

        r = model_args_parse_component(c, "component create", create_help, argc, argv, &a, 1, 1, &project,
                                       &name);
        if (r <= 0)
                return cli_exit_status(r);
        if (!a.image && !a.git)
                return cli_usage_error("component create",
                                       "Give the image to run with --image REF, or the repository to build "
                                       "with --git URL|PATH");
        if (!a.git && (a.branch || a.dir || a.dockerfile || a.poll))
                return cli_usage_error("component create",
                                       "--branch, --dir, --dockerfile and --poll go with --git URL|PATH");
        body = json_pack("{s:s}", "name", name);
        if (!body || (a.image && json_object_set_new(body, "image", json_string(a.image)) < 0))
                return log_oom_cli();
        r = source_body("component create", &a, body);
        if (r < 0)
                return cli_exit_status(r);
        r = component_body("component create", &a, body);
        if (r < 0)
                return cli_exit_status(r);
        path = model_api_path(project, NULL, "/components");
        if (!path)
                return log_oom_cli();
        r = model_call(c, "POST", path, body, &j);
        if (r <= 0)
                return cli_exit_status(r);
        char src[1200];
        format_source(j, src, sizeof src);
        printf("Created component %s/%s (%s).\n", project, name, src);
        print_spec_summary(json_object_get(j, "spec"));
        if (a.git)
                printf("Build it with 'slipway build %s/%s', or build on every push with 'slipway autobuild "
                       "%s/%s on'.\n",
                       project, name, project, name);
        return 0;
}

static int component_update(CliContext *c, int argc, char *argv[]) {
        ModelArgs a = {};
        _cleanup_json_ json_t *body = NULL, *j = NULL;
        _cleanup_free_ char *project = NULL, *name = NULL, *path = NULL;
        int r;

        r = model_args_parse_component(c, "component update", update_help, argc, argv, &a, 1, 1, &project,
                                       &name);
        if (r <= 0)
                return cli_exit_status(r);
        body = json_object();
        if (!body || (a.image && json_object_set_new(body, "image", json_string(a.image)) < 0))
                return log_oom_cli();
        r = source_body("component update", &a, body);
        if (r < 0)
                return cli_exit_status(r);
        r = component_body("component update", &a, body);
        if (r < 0)
                return cli_exit_status(r);
        if (json_object_size(body) == 0)
                return cli_usage_error("component update",
                                       "Give at least one setting to change (see 'slipway component update "
                                       "--help')");
        path = model_api_path(project, name, NULL);
        if (!path)
                return log_oom_cli();
        r = model_call(c, "PATCH", path, body, &j);
        if (r <= 0)
                return cli_exit_status(r);
        char src[1200];
        format_source(j, src, sizeof src);
        printf("Updated component %s/%s (%s); the next %s uses the new settings.\n", project, name, src,
               strstr(src, "git ") == src ? "build or deploy" : "deploy");
        print_spec_summary(json_object_get(j, "spec"));
        return 0;
}

static int component_list(CliContext *c, int argc, char *argv[]) {
        ModelArgs a = {};
        _cleanup_json_ json_t *j = NULL;
        _cleanup_free_ char *path = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        json_t *comp;
        size_t i;
        int r;

        r = model_args_parse(c, "component list", list_help, argc, argv, &a, 1, 1);
        if (r <= 0)
                return cli_exit_status(r);
        path = model_api_path(argv[optind], NULL, "/components");
        if (!path)
                return log_oom_cli();
        r = model_call(c, "GET", path, NULL, &j);
        if (r <= 0)
                return cli_exit_status(r);
        t = table_new(4, "NAME", "IMAGE", "ENDPOINTS", "HEALTH");
        if (!t)
                return log_oom_cli();
        json_array_foreach(json_object_get(j, "components"), i, comp) {
                json_t *spec = json_object_get(comp, "spec"), *e;
                json_t *ready = json_object_get(json_object_get(spec, "health"), "readiness");
                char eps[1024] = "", health[1100];
                size_t k, len = 0;

                json_array_foreach(json_object_get(spec, "endpoints"), k, e) {
                        char buf[512];
                        format_endpoint(e, buf, sizeof buf);
                        if (len < sizeof eps)
                                len += (size_t) snprintf(eps + len, sizeof eps - len, "%s%s", k ? " " : "",
                                                         buf);
                }
                const char *kind = json_string_value(json_object_get(ready, "kind"));
                if (streq_ptr(kind, "http"))
                        snprintf(health, sizeof health, "http:%s",
                                 json_string_value(json_object_get(ready, "path")));
                else
                        snprintf(health, sizeof health, "%s", strempty(kind));
                const char *image = json_string_value(json_object_get(comp, "image"));
                if (table_add_row(t, json_string_value(json_object_get(comp, "name")), image ?: "-",
                                  eps[0] ? eps : "-", health) < 0)
                        return log_oom_cli();
        }
        table_print(t);
        return 0;
}

/* "promote from development #3", "rollback to #2", "deploy". */
static void format_origin(json_t *rel, char *buf, size_t size) {
        const char *origin = json_string_value(json_object_get(rel, "origin")) ?: "deploy";
        json_t *src = json_object_get(rel, "source_release_id");
        const char *src_env = json_string_value(json_object_get(rel, "source_environment"));

        if (!json_is_integer(src))
                snprintf(buf, size, "%s", origin);
        else if (streq(origin, "promote"))
                snprintf(buf, size, "promote from %s#%lld", src_env ? src_env : "",
                         (long long) json_integer_value(src));
        else if (streq(origin, "rollback"))
                snprintf(buf, size, "rollback to #%lld", (long long) json_integer_value(src));
        else
                snprintf(buf, size, "%s #%lld", origin, (long long) json_integer_value(src));
}

/* "DB_URL@v2 TOKEN@v1(secret)": names and versions only. */
static void format_values(json_t *rel, char *buf, size_t size) {
        json_t *v;
        size_t i, len = 0;

        buf[0] = 0;
        json_array_foreach(json_object_get(rel, "values"), i, v) {
                if (len >= size)
                        break;
                len += (size_t) snprintf(buf + len, size - len, "%s%s@v%lld%s%s", i ? " " : "",
                                         json_string_value(json_object_get(v, "key")),
                                         (long long) json_integer_value(json_object_get(v, "version")),
                                         json_is_true(json_object_get(v, "secret")) ? "(secret)" : "",
                                         json_is_true(json_object_get(v, "project_wide")) ? "(shared)" : "");
        }
        if (!buf[0])
                snprintf(buf, size, "-");
}

static int add_release_row(Table *t, json_t *rel, bool with_env) {
        char id[24], dig[13], created[32], finished[32], origin[160], values[1024];
        const char *reason = json_string_value(json_object_get(rel, "reason"));

        snprintf(id, sizeof id, "%lld", (long long) json_integer_value(json_object_get(rel, "id")));
        model_short_digest(json_string_value(json_object_get(rel, "image_digest")), dig);
        model_format_time(json_object_get(rel, "created_at"), created);
        model_format_time(json_object_get(rel, "finished_at"), finished);
        format_origin(rel, origin, sizeof origin);
        format_values(rel, values, sizeof values);
        if (with_env)
                return table_add_row(t, id, json_string_value(json_object_get(rel, "environment")),
                                     json_string_value(json_object_get(rel, "status")), dig, origin, values,
                                     created, finished, reason ?: "");
        return table_add_row(t, id, json_string_value(json_object_get(rel, "status")), dig, origin, values,
                             created, finished, reason ?: "");
}

static int component_show(CliContext *c, int argc, char *argv[]) {
        ModelArgs a = {};
        _cleanup_json_ json_t *j = NULL;
        _cleanup_free_ char *project = NULL, *name = NULL, *path = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        json_t *spec, *health, *res, *e, *env;
        char buf[1400];
        size_t i;
        int r;

        r = model_args_parse_component(c, "component show", show_help, argc, argv, &a, 1, 1, &project,
                                       &name);
        if (r <= 0)
                return cli_exit_status(r);
        path = model_api_path(project, name, NULL);
        if (!path)
                return log_oom_cli();
        r = model_call(c, "GET", path, NULL, &j);
        if (r <= 0)
                return cli_exit_status(r);
        spec = json_object_get(j, "spec");
        health = json_object_get(spec, "health");
        res = json_object_get(spec, "resources");
        printf("Component:  %s/%s\n", project, name);
        const char *image = json_string_value(json_object_get(j, "image"));
        printf("Image:      %s\n", image ?: "-");
        print_source(j);
        if (json_array_size(json_object_get(spec, "endpoints")) == 0)
                printf("Endpoints:  none\n");
        json_array_foreach(json_object_get(spec, "endpoints"), i, e) {
                format_endpoint(e, buf, sizeof buf);
                printf("%s %s\n", i == 0 ? "Endpoints: " : "           ", buf);
        }
        format_health(json_object_get(health, "readiness"), buf, sizeof buf);
        printf("Readiness:  %s\n", buf);
        format_health(json_object_get(health, "liveness"), buf, sizeof buf);
        printf("Liveness:   %s\n", buf);
        printf("Deploy timeout: %lld ms\n",
               (long long) json_integer_value(json_object_get(health, "deploy_timeout_ms")));
        long long mem = (long long) json_integer_value(json_object_get(res, "memory_bytes"));
        long long cpus = (long long) json_integer_value(json_object_get(res, "cpus_milli"));
        char membuf[32] = "unlimited", cpubuf[32] = "unlimited";
        if (mem > 0)
                format_bytes(membuf, sizeof membuf, (unsigned long long) mem);
        if (cpus > 0)
                snprintf(cpubuf, sizeof cpubuf, "%lld.%03lld", cpus / 1000, cpus % 1000);
        printf("Resources:  memory %s, cpus %s, pids %lld\n", membuf, cpubuf,
               (long long) json_integer_value(json_object_get(res, "pids")));
        if (json_array_size(json_object_get(spec, "configs")) == 0)
                printf("Configurables: none\n");
        json_array_foreach(json_object_get(spec, "configs"), i, e) {
                format_config(e, buf, sizeof buf);
                printf("%s %s\n", i == 0 ? "Configurables:" : "              ", buf);
        }
        format_bake(json_object_get(spec, "bake_ms"), buf, sizeof buf);
        printf("Bake:       %s; rolls back above %lld%% 5xx answers\n", buf,
               (long long) json_integer_value(json_object_get(spec, "bake_max_5xx_percent")));
        printf("Keeps:      the last %lld releases per environment\n",
               (long long) json_integer_value(json_object_get(spec, "keep_releases")));
        printf("\n");

        t = table_new(6, "ENV", "SERVICE ADDRESS", "LIVE", "DIGEST", "INSTANCE", "LATEST");
        if (!t)
                return log_oom_cli();
        json_array_foreach(json_object_get(j, "environments"), i, env) {
                json_t *live = json_object_get(env, "live");
                json_t *latest = json_array_get(json_object_get(env, "releases"), 0);
                const char *addr = json_string_value(json_object_get(env, "service_address"));
                json_t *inst = json_object_get(env, "instance");
                char live_s[24] = "-", dig[13] = "-", latest_s[128] = "-", inst_s[96] = "-";

                if (json_is_object(live)) {
                        snprintf(live_s, sizeof live_s, "#%lld",
                                 (long long) json_integer_value(json_object_get(live, "id")));
                        model_short_digest(json_string_value(json_object_get(live, "image_digest")), dig);
                }
                if (json_is_object(inst))
                        snprintf(inst_s, sizeof inst_s, "%s %s, %lld restarts",
                                 json_string_value(json_object_get(inst, "address")),
                                 json_string_value(json_object_get(inst, "state")),
                                 (long long) json_integer_value(json_object_get(inst, "restarts")));
                if (latest)
                        snprintf(latest_s, sizeof latest_s, "#%lld %s",
                                 (long long) json_integer_value(json_object_get(latest, "id")),
                                 json_string_value(json_object_get(latest, "status")));
                if (table_add_row(t, json_string_value(json_object_get(env, "name")), addr ?: "-", live_s,
                                  dig, inst_s, latest_s) < 0)
                        return log_oom_cli();
        }
        table_print(t);
        return 0;
}

int cmd_component(CliContext *c, int argc, char *argv[]) {
        static const CliVerb verbs[] = {
                { "create", component_create }, { "update", component_update }, { "list", component_list },
                { "ls", component_list },       { "show", component_show },
        };

        return cli_dispatch(c, "component", component_help, "create, update, list, show", verbs,
                            ELEMENTSOF(verbs), argc, argv);
}

int cmd_releases(CliContext *c, int argc, char *argv[]) {
        ModelArgs a = {};
        _cleanup_json_ json_t *j = NULL;
        _cleanup_free_ char *project = NULL, *name = NULL, *path = NULL, *env_q = NULL, *enc = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        json_t *rel;
        size_t i;
        int r;

        r = model_args_parse_component(c, "releases", releases_help, argc, argv, &a, 1, 2, &project, &name);
        if (r <= 0)
                return cli_exit_status(r);
        bool one_env = optind + 1 < argc;
        if (one_env) {
                enc = http_url_encode(argv[optind + 1]);
                if (!enc || asprintf(&env_q, "/releases?env=%s", enc) < 0)
                        return log_oom_cli();
        }
        path = model_api_path(project, name, one_env ? env_q : "/releases");
        if (!path)
                return log_oom_cli();
        r = model_call(c, "GET", path, NULL, &j);
        if (r <= 0)
                return cli_exit_status(r);
        if (one_env)
                t = table_new(8, "ID", "STATUS", "DIGEST", "ORIGIN", "VALUES", "CREATED", "FINISHED",
                              "REASON");
        else
                t = table_new(9, "ID", "ENV", "STATUS", "DIGEST", "ORIGIN", "VALUES", "CREATED", "FINISHED",
                              "REASON");
        if (!t)
                return log_oom_cli();
        json_array_foreach(json_object_get(j, "releases"), i, rel)
                if (add_release_row(t, rel, !one_env) < 0)
                        return log_oom_cli();
        table_print(t);
        return 0;
}

static char *env_path(const char *project, const char *name, const char *what, const char *env,
                      const char *extra) {
        _cleanup_free_ char *enc = http_url_encode(env), *suffix = NULL;

        if (!enc || asprintf(&suffix, "/%s?env=%s%s", what, enc, strempty(extra)) < 0)
                return NULL;
        return model_api_path(project, name, suffix);
}

int cmd_url(CliContext *c, int argc, char *argv[]) {
        ModelArgs a = {};
        _cleanup_json_ json_t *j = NULL;
        _cleanup_free_ char *project = NULL, *name = NULL, *path = NULL;
        json_t *u;
        size_t i;
        int r;

        r = model_args_parse_component(c, "url", url_help, argc, argv, &a, 2, 2, &project, &name);
        if (r <= 0)
                return cli_exit_status(r);
        path = env_path(project, name, "url", argv[optind + 1], NULL);
        if (!path)
                return log_oom_cli();
        r = model_call(c, "GET", path, NULL, &j);
        if (r <= 0)
                return cli_exit_status(r);
        json_t *urls = json_object_get(j, "urls");
        json_array_foreach(urls, i, u) {
                if (json_array_size(urls) > 1)
                        printf("%s  ", json_string_value(json_object_get(u, "endpoint")));
                printf("%s\n", json_string_value(json_object_get(u, "url")));
                const char *host_url = json_string_value(json_object_get(u, "host_url"));
                if (host_url) /* the same endpoint by host name, when the environment has a domain */
                        printf("%s%s\n", json_array_size(urls) > 1 ? "   " : "", host_url);
        }
        if (!json_is_true(json_object_get(j, "live")))
                fprintf(stderr,
                        "Note: nothing is deployed to %s yet; deploy with 'slipway deploy %s/%s %s --image "
                        "REF'.\n",
                        argv[optind + 1], project, name, argv[optind + 1]);
        return 0;
}

int cmd_logs(CliContext *c, int argc, char *argv[]) {
        ModelArgs a = {};
        _cleanup_json_ json_t *j = NULL;
        _cleanup_free_ char *project = NULL, *name = NULL, *path = NULL, *extra = NULL, *enc = NULL;
        int r;

        r = model_args_parse_component(c, "logs", logs_help, argc, argv, &a, 2, 2, &project, &name);
        if (r <= 0)
                return cli_exit_status(r);
        enc = http_url_encode(a.lines ?: "100");
        if (!enc || asprintf(&extra, "&lines=%s%s", enc, a.follow ? "&follow=1" : "") < 0)
                return log_oom_cli();
        path = env_path(project, name, "logs", argv[optind + 1], extra);
        if (!path)
                return log_oom_cli();
        if (a.follow)
                return logs_follow(c, path);
        r = model_call(c, "GET", path, NULL, &j);
        if (r <= 0)
                return cli_exit_status(r);
        fputs(json_string_value(json_object_get(j, "stdout")) ?: "", stdout);
        fflush(stdout);
        fputs(json_string_value(json_object_get(j, "stderr")) ?: "", stderr);
        return 0;
}
