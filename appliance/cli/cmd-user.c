/* slipway user add|list|rm|passwd: who may use this Slipway, with which role (admin, developer, viewer),
 * and their console passwords, over /api/v1/users (web/api/api-users.c).  A password is read from stdin
 * (never a command-line argument); without --password-stdin the daemon makes one and it is printed once,
 * alone on stdout, so `PW=$(slipway user add NAME --role viewer)` works. */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd-model-args.h"
#include "http-client.h"
#include "json-util.h"
#include "macro.h"

/* The longest password the daemon takes (HTTP_PASSWORD_MAX). */
#define CLI_USER_PASSWORD_MAX 256U

static const char user_help[] =
        "Usage: slipway user add NAME --role admin|developer|viewer [--password-stdin] [--json]\n"
        "       slipway user list [--json]\n"
        "       slipway user rm NAME\n"
        "       slipway user passwd NAME [--password-stdin]\n\n"
        "Users of this Slipway and their roles: a viewer reads everything (never a secret's value); a\n"
        "developer also builds, deploys, promotes, rolls back and sets config values; an admin does\n"
        "everything.  The password logs in to the console at the daemon's address; API tokens (slipway\n"
        "token create) serve the CLI and the registry.  Only an admin adds, lists and removes users; anyone\n"
        "may change their own password.  The last admin cannot be removed.  Names: 1-63 of a-z, 0-9, '.',\n"
        "'_', '-'.\n";

static const char user_add_help[] =
        "Usage: slipway user add NAME --role admin|developer|viewer [--password-stdin] [--json]\n\n"
        "Adds a user.  Without --password-stdin a random password is made and printed, once.\n\n"
        "  --role ROLE        admin, developer or viewer\n"
        "  --password-stdin   read the password (8-256 bytes) from the first line of stdin\n"
        "  --json             the user's JSON document (a made password in \"password\")\n";

static const char user_passwd_help[] =
        "Usage: slipway user passwd NAME [--password-stdin]\n\n"
        "Sets a user's console password (yours, or as an admin anyone's) and ends that user's other console\n"
        "sessions.  Without --password-stdin a random password is made and printed, once.\n\n"
        "  --password-stdin   read the password (8-256 bytes) from the first line of stdin\n";

typedef struct UserArgs {
        const char *role;
        bool password_stdin;
} UserArgs;

static const CliOption user_add_options[] = {
        CLI_STRING_OPTION("role", UserArgs, role),
        CLI_FLAG_OPTION("password-stdin", UserArgs, password_stdin),
};

static const CliOption user_passwd_options[] = {
        CLI_FLAG_OPTION("password-stdin", UserArgs, password_stdin),
};

static int user_path(const char *name, const char *suffix, char **ret) {
        _cleanup_free_ char *enc = http_url_encode(name);

        if (!enc || asprintf(ret, "/api/v1/users/%s%s", enc, suffix) < 0)
                return -ENOMEM;
        return 0;
}

/* The password's line of stdin into body's "password"; wiped. */
static int password_from_stdin(const char *full, json_t *body) {
        char line[CLI_USER_PASSWORD_MAX + 2];
        size_t n;
        int r;

        if (!fgets(line, sizeof line, stdin) || !(n = strcspn(line, "\r\n")) || n > CLI_USER_PASSWORD_MAX) {
                sodium_memzero(line, sizeof line);
                return cli_usage_errno(
                        full, "--password-stdin needs the password on one line of stdin (8-%u bytes)",
                        CLI_USER_PASSWORD_MAX);
        }
        line[n] = 0;
        r = json_object_set_new(body, "password", json_string(line));
        sodium_memzero(line, sizeof line);
        return r < 0 ? cli_oom_errno() : 0;
}

/* A password the daemon made: alone on stdout, what it is on stderr. */
static void print_made_password(json_t *reply, const char *name) {
        const char *pw = json_string_value(json_object_get(reply, "password"));

        if (!pw)
                return;
        printf("%s\n", pw);
        fprintf(stderr,
                "This is the console password of user %s.  It is shown only this once: store it now, or set "
                "another with 'slipway user passwd %s --password-stdin'.\n",
                name, name);
}

static int user_add(CliContext *c, int argc, char *argv[]) {
        _cleanup_json_ json_t *body = NULL, *reply = NULL;
        UserArgs a = {};
        const char *name;
        int r;

        r = cli_parse_options(c, "user add", user_add_help, user_add_options, ELEMENTSOF(user_add_options),
                              &a, argc, argv);
        if (r <= 0)
                return cli_exit_status(r);
        if (argc - optind != 1)
                return cli_usage_error("user add", "'slipway user add' needs the user's NAME");
        name = argv[optind];
        if (!a.role)
                return cli_usage_error("user add", "'slipway user add' needs --role admin|developer|viewer");
        if (!streq(a.role, "admin") && !streq(a.role, "developer") && !streq(a.role, "viewer"))
                return cli_usage_error("user add", "--role '%s' is not admin, developer or viewer", a.role);
        body = json_pack("{s:s,s:s}", "name", name, "role", a.role);
        if (!body)
                return log_oom_cli();
        if (a.password_stdin && (r = password_from_stdin("user add", body)) < 0)
                return cli_exit_status(r);
        r = model_call(c, "POST", "/api/v1/users", body, &reply);
        if (r <= 0)
                return cli_exit_status(r);
        if (json_object_get(reply, "password"))
                print_made_password(reply, name);
        else
                printf("Added user %s (%s).\n", name, a.role);
        if (json_object_get(reply, "password"))
                fprintf(stderr, "Added user %s (%s).\n", name, a.role);
        return 0;
}

static int user_list(CliContext *c, int argc, char *argv[]) {
        _cleanup_json_ json_t *reply = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        UserArgs a = {};
        json_t *u;
        size_t i;
        int r;

        r = cli_parse_options(c, "user list", user_help, NULL, 0, &a, argc, argv);
        if (r <= 0)
                return cli_exit_status(r);
        if (argc - optind != 0)
                return cli_usage_error("user list", "'slipway user list' takes no arguments");
        r = model_call(c, "GET", "/api/v1/users", NULL, &reply);
        if (r <= 0)
                return cli_exit_status(r);
        t = table_new(5, "NAME", "ROLE", "CREATED", "TOKENS", "PASSWORD");
        if (!t)
                return log_oom_cli();
        json_array_foreach(json_object_get(reply, "users"), i, u) {
                char created[32], tokens[24];

                model_format_time(json_object_get(u, "created_at"), created);
                snprintf(tokens, sizeof tokens, "%" JSON_INTEGER_FORMAT,
                         json_integer_value(json_object_get(u, "tokens")));
                if (table_add_row(t, json_string_value(json_object_get(u, "name")),
                                  json_string_value(json_object_get(u, "role")), created, tokens,
                                  json_is_true(json_object_get(u, "has_password")) ? "set" : "none") < 0)
                        return log_oom_cli();
        }
        table_print(t);
        return 0;
}

static int user_rm(CliContext *c, int argc, char *argv[]) {
        _cleanup_json_ json_t *reply = NULL;
        _cleanup_free_ char *path = NULL;
        UserArgs a = {};
        int r;

        r = cli_parse_options(c, "user rm", user_help, NULL, 0, &a, argc, argv);
        if (r <= 0)
                return cli_exit_status(r);
        if (argc - optind != 1)
                return cli_usage_error("user rm", "'slipway user rm' needs the user's NAME");
        if (user_path(argv[optind], "", &path) < 0)
                return log_oom_cli();
        r = model_call(c, "DELETE", path, NULL, &reply);
        if (r <= 0)
                return cli_exit_status(r);
        printf("Removed user %s with its API tokens and console sessions: they are refused from now on.\n",
               argv[optind]);
        return 0;
}

static int user_passwd(CliContext *c, int argc, char *argv[]) {
        _cleanup_json_ json_t *body = json_object(), *reply = NULL;
        _cleanup_free_ char *path = NULL;
        UserArgs a = {};
        int r;

        r = cli_parse_options(c, "user passwd", user_passwd_help, user_passwd_options,
                              ELEMENTSOF(user_passwd_options), &a, argc, argv);
        if (r <= 0)
                return cli_exit_status(r);
        if (argc - optind != 1)
                return cli_usage_error("user passwd", "'slipway user passwd' needs the user's NAME");
        if (!body || user_path(argv[optind], "/password", &path) < 0)
                return log_oom_cli();
        if (a.password_stdin && (r = password_from_stdin("user passwd", body)) < 0)
                return cli_exit_status(r);
        r = model_call(c, "PUT", path, body, &reply);
        if (r <= 0)
                return cli_exit_status(r);
        if (json_object_get(reply, "password"))
                print_made_password(reply, argv[optind]);
        else
                printf("Set the password of user %s; its other console sessions ended.\n", argv[optind]);
        return 0;
}

int cmd_user(CliContext *c, int argc, char *argv[]) {
        static const CliVerb verbs[] = {
                { "add", user_add }, { "list", user_list }, { "ls", user_list },
                { "rm", user_rm },   { "remove", user_rm }, { "passwd", user_passwd },
        };

        return cli_dispatch(c, "user", user_help, "add, list, rm, passwd", verbs, ELEMENTSOF(verbs), argc,
                            argv);
}
