/* What every slipway command shares: where the daemon is, how to call it, how to print.
 * Invariant: an error reaches the user once, as "Error: <sentence>" (+ "Hint: <sentence>") on
 * stderr, printed where it is detected; callers then only return the exit status. */
#pragma once

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http-client.h"

#define CLI_DEFAULT_STATE_DIR "/var/lib/slipway"
#define CLI_URL_MAX 1024U

/* Exit statuses. */
#define EXIT_USAGE 2

/* Options every command accepts, wherever they appear. */
enum {
        ARG_JSON = 0x100,
        ARG_STATE_DIR,
        ARG_URL,
        ARG_TOKEN,
        ARG_FIRST_COMMAND_OPTION,
};
#define CLI_COMMON_OPTIONS                                                           \
        { "help", no_argument, NULL, 'h' }, { "json", no_argument, NULL, ARG_JSON }, \
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },             \
                { "url", required_argument, NULL, ARG_URL }, {                       \
                "token", required_argument, NULL, ARG_TOKEN                          \
        }

typedef struct CliContext {
        const char *state_dir; /* --state-dir, $SLIPWAY_STATE_DIR or the default */
        bool state_dir_explicit;
        const char *url_arg;   /* --url */
        const char *token_arg; /* --token */
        bool json;
        /* resolved */
        char *url;
        char *token;
        HttpUrl u;
} CliContext;

void cli_context_done(CliContext *c);

/* Prints "Error: …" and optionally "Hint: …" (printf-style message). Returns 1 (exit status). */
int cli_error(const char *hint, const char *fmt, ...) _printf_(2, 3);
static inline int log_oom_cli(void) {
        return cli_error(NULL, "Out of memory");
}

/* Usage error: prints the sentence and a pointer to --help; returns EXIT_USAGE. */
int cli_usage_error(const char *command, const char *fmt, ...) _printf_(2, 3);

/* For helpers that return -errno: print as above, and return -EINVAL (usage) or -ENOMEM. */
#define cli_usage_errno(command, ...) (cli_usage_error(command, __VA_ARGS__), -EINVAL)
#define cli_oom_errno() (log_oom_cli(), -ENOMEM)
/* The exit status for such a helper's result, after it told the user what is wrong: 0 for r >= 0,
 * EXIT_USAGE for a usage error (-EINVAL), 1 for any other failure. */
static inline int cli_exit_status(int r) {
        return r >= 0 ? 0 : r == -EINVAL ? EXIT_USAGE : 1;
}

/* Handles one of CLI_COMMON_OPTIONS (not 'h'); returns true when it was one. */
bool cli_common_option(CliContext *c, int opt, const char *arg);

/* For getopt's '?': names the bad option; returns EXIT_USAGE. */
int cli_bad_option(const char *command, int argc, char *argv[]);

/* A command option: a string option stores its argument at offset in the command's argument struct,
 * a flag stores true there; with store set, store() checks and keeps it instead (0, or -errno after
 * saying what is wrong: -EINVAL for a usage error). */
typedef struct CliOption {
        const char *name; /* without the leading "--" */
        bool flag;
        size_t offset;
        int (*store)(const char *full, const char *arg, void *args);
        char short_name; /* also taken as -X (0: none) */
        bool unlisted;   /* taken although the help text does not name it (store() says why not) */
} CliOption;
#define CLI_STRING_OPTION(name, type, field) \
        { name, false, offsetof(type, field), NULL }
#define CLI_FLAG_OPTION(name, type, field) \
        { name, true, offsetof(type, field), NULL }
#define CLI_OPTIONS_MAX 40U

/* Parses the options of 'slipway FULL …' (argv[0] = the sub-command word) into args.  A command takes
 * only the options its help text names.  1 to go on with the positional arguments from optind, 0 when
 * --help was printed, -EINVAL for a usage error (said), or what a store() returned. */
int cli_parse_options(CliContext *c, const char *full, const char *help, const CliOption *options,
                      size_t n_options, void *args, int argc, char *argv[]);

/* A command's sub-commands ("slipway project create …"), found by name. */
typedef struct CliVerb {
        const char *name;
        int (*run)(CliContext *c, int argc, char *argv[]);
} CliVerb;

/* Runs the sub-command argv names after leading --json/--help (help prints the command's help);
 * verb_names lists them for the "missing" error.  Returns the exit status. */
int cli_dispatch(CliContext *c, const char *command, const char *help, const char *verb_names,
                 const CliVerb *verbs, size_t n_verbs, int argc, char *argv[]);

/* Finds the daemon's URL and token (printing what is wrong on failure). */
int cli_connect_prepare(CliContext *c);
/* Opens a request (printing connection errors). */
int cli_request_open(CliContext *c, const char *method, const char *path, const char *content_type,
                     int64_t body_length, HttpConn **ret);
/* Reads the head of the response; for status >= 400 prints the API's error and returns -EPROTO. */
int cli_response_check(CliContext *c, HttpConn *conn);
/* A JSON call: body may be NULL.  On success *ret is the response document. */
int cli_api_json(CliContext *c, const char *method, const char *path, json_t *body, json_t **ret);

/* Path of an image resource: "/api/v1/images/<encoded ref><suffix>". */
char *cli_image_path(const char *ref, const char *suffix);

/* Output. */
void cli_print_json(json_t *j);

typedef struct Table Table;
Table *table_new(size_t n_columns, ...); /* column headers */
int table_add_row(Table *t, ...);        /* n_columns strings */
void table_print(Table *t);
Table *table_free(Table *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Table *, table_free);

/* Follows a release that deploy, promote or rollback asked for: polls it until it is live (with wait_bake
 * also until its bake window passed or rolled it back), failed or rolled back, or timeout_sec passed (a
 * bake in progress extends the wait by its window), and prints the outcome — on failure the reason and
 * the last lines of its deploy log; with --json the release document.  Returns the exit status: 0 when
 * the release is live, 1 otherwise. */
int cli_release_follow(CliContext *c, const char *project, const char *component, const char *env,
                       int64_t release_id, unsigned long timeout_sec, bool wait_bake);
/* --timeout SEC of the commands that follow a release: 1..86400 s, else a usage error (-EINVAL, said). */
int cli_follow_timeout_parse(const char *full, const char *arg, unsigned long *ret);
/* `slipway deploy TARGET ENV [--image IMAGE]` (image NULL: the live image) as another command's last step
 * (cmd-deploy.c); returns the exit status. */
int cli_deploy_and_follow(CliContext *c, const char *target, const char *env, const char *image);

/* Commands: argc/argv start at the command word. */
int cmd_status(CliContext *c, int argc, char *argv[]);
int cmd_image(CliContext *c, int argc, char *argv[]);
int cmd_vulndb(CliContext *c, int argc, char *argv[]);
int cmd_token(CliContext *c, int argc, char *argv[]);    /* cmd-token.c */
int cmd_user(CliContext *c, int argc, char *argv[]);     /* cmd-user.c */
int cmd_registry(CliContext *c, int argc, char *argv[]); /* cmd-registry.c */
int cmd_image_build(CliContext *c, int argc, char *argv[]);
int cmd_deploy(CliContext *c, int argc, char *argv[]);
int cmd_promote(CliContext *c, int argc, char *argv[]);  /* cmd-promote.c */
int cmd_rollback(CliContext *c, int argc, char *argv[]); /* cmd-promote.c */
int cmd_config(CliContext *c, int argc, char *argv[]);   /* cmd-config.c */
int cmd_vault(CliContext *c, int argc, char *argv[]);    /* cmd-config.c */
