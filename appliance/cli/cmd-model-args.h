/* Option parsing and small formatting helpers shared by the project, env, component, releases, url and
 * logs commands.  Each command accepts only the options its help text names. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"

#define MODEL_ARGS_ENDPOINTS_MAX 16u
/* As many as a spec may declare (SPEC_CONFIGS_MAX); the daemon checks the spec. */
#define MODEL_ARGS_CONFIGS_MAX 64u

typedef struct ModelArgs {
        const char *envs;
        const char *after;
        const char *image;
        const char *health;
        const char *liveness;
        const char *health_interval;
        const char *health_timeout;
        const char *health_failures;
        const char *deploy_timeout;
        const char *pids;
        const char *memory;
        const char *cpus;
        const char *lines;
        const char *domain;
        const char *egress;       /* "on" | "off" */
        const char *is_protected; /* env set --protected "on" | "off" */
        const char *ingress_port;
        bool no_domain;
        bool force;
        bool follow;
        const char *endpoints[MODEL_ARGS_ENDPOINTS_MAX];
        size_t n_endpoints;
        const char *configs[MODEL_ARGS_CONFIGS_MAX]; /* --config NAME[:secret][:optional][:file=PATH] */
        size_t n_configs;
        const char *no_configs[MODEL_ARGS_CONFIGS_MAX]; /* --no-config NAME */
        size_t n_no_configs;
        const char *bake;
        const char *bake_max_5xx;
        const char *keep_releases;
        /* the git source of a component built by the pipeline */
        const char *git;
        const char *branch;
        const char *dir;
        const char *dockerfile;
        const char *poll;
        const char *builds_keep;
        bool git_token_stdin;     /* the http(s) token (password) of --git, one line on stdin */
        const char *ssh_key_file; /* the ssh deploy key (private key file) of an ssh --git URL */
        bool ssh_host_key_reset;  /* forget the pinned ssh host key */
        /* project set */
        const char *push_to;
        bool no_push;
        const char *scan_fail_on;
} ModelArgs;

/* The helpers below print what is wrong themselves and return -EINVAL for a usage error, another -errno
 * otherwise; a command hands that to cli_exit_status(). */

/* Parses argv (argv[0] = the sub-command word): 1 to go on with the positional arguments from optind,
 * 0 when --help was printed, -EINVAL for a usage error. */
int model_args_parse(CliContext *c, const char *full, const char *help, int argc, char *argv[], ModelArgs *a,
                     int min_args, int max_args);

/* "PROJECT/NAME" → its two parts: 0, or -EINVAL when malformed, -ENOMEM. */
int model_split_component(const char *full, const char *arg, char **ret_project, char **ret_component);

/* model_args_parse(), then argv[optind] split as PROJECT/NAME: 1 to go on, 0 after --help, -errno. */
int model_args_parse_component(CliContext *c, const char *full, const char *help, int argc, char *argv[],
                               ModelArgs *a, int min_args, int max_args, char **ret_project,
                               char **ret_component);

/* One API call.  With --json the answer is printed here and 0 returned; else 1, with the answer in *ret
 * for the caller to print for people.  -EIO when the call failed (the reason has been printed). */
int model_call(CliContext *c, const char *method, const char *path, json_t *body, json_t **ret);

/* "/api/v1/projects/<enc p>[/components/<enc c>][suffix]" */
char *model_api_path(const char *project, const char *component, const char *suffix);

/* "250ms", "2s", "1.5s", "2m" or plain seconds → milliseconds (1 ms … 1 h); -EINVAL otherwise. */
int model_parse_duration_ms(const char *s, uint32_t *ret);
/* The same up to max_ms. */
int model_parse_duration_ms_max(const char *s, uint32_t max_ms, uint32_t *ret);

/* A long duration such as a token's expiry: days, hours, minutes and seconds ("30d", "1d12h", "12h", "90m",
 * "45s", or plain seconds) of 1 s up to max_sec → seconds; -EINVAL otherwise. */
int model_parse_duration_sec(const char *s, uint64_t max_sec, uint64_t *ret);

/* --poll of a git component: a duration ("30s", "5m", "1h", or plain seconds) of 1 s up to
 * MODEL_POLL_SEC_MAX, or "0"/"off" for no polling → seconds; -EINVAL otherwise. */
#define MODEL_POLL_SEC_MAX (7U * 24U * 3600U)
int model_parse_poll_sec(const char *s, uint32_t *ret);

/* --git URL|PATH: a URL (scheme://…, or scp-like user@host:path) as given, else a local directory made
 * absolute with realpath(3).  -EINVAL (said) when the path does not exist, -ENOMEM. */
int model_git_source(const char *full, const char *arg, char **ret);

/* Seconds since the epoch → "YYYY-MM-DD HH:MM" (UTC), or "-" for null/0. */
const char *model_format_time(json_t *t, char buf[static 32]);
/* "sha256:abcdef…" → the first 12 hex digits. */
const char *model_short_digest(const char *d, char buf[static 13]);

int cmd_project(CliContext *c, int argc, char *argv[]);
int cmd_env(CliContext *c, int argc, char *argv[]);
int cmd_component(CliContext *c, int argc, char *argv[]);
int cmd_releases(CliContext *c, int argc, char *argv[]);
int cmd_url(CliContext *c, int argc, char *argv[]);
int cmd_logs(CliContext *c, int argc, char *argv[]);
