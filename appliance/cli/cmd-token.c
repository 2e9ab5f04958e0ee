/* slipway token create|list|revoke: the calling user's API tokens over /api/v1/tokens (web/api/api-tokens.c).
 * A token is printed once, by create; the daemon keeps only its hash, so list never shows it. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd-model-args.h"
#include "http-client.h"
#include "json-util.h"
#include "macro.h"

/* The longest --expires the daemon takes (API_TOKEN_EXPIRES_MAX_SEC): about ten years. */
#define CLI_TOKEN_EXPIRES_MAX_SEC (10ULL * 366U * 24U * 3600U)

static const char token_help[] =
        "Usage: slipway token create NAME [--expires DUR] [--read-only] [--user USER] [--json]\n"
        "       slipway token list [--json]\n"
        "       slipway token revoke NAME\n\n"
        "API tokens of the calling user (the one whose token this command runs with; the state\n"
        "directory's admin.token is user admin's).  A token works for the API (slipway --url URL --token\n"
        "TOKEN) and as the registry password of its user (skopeo --creds USER:TOKEN, podman login).\n"
        "create prints the new token once: only its hash is kept.  Names: 1-63 of a-z, 0-9, '.', '_', '-'.\n";

static const char token_create_help[] =
        "Usage: slipway token create NAME [--expires DUR] [--read-only] [--user USER] [--json]\n\n"
        "Makes an API token for the calling user (or, for an admin, another user) and prints it, once.\n\n"
        "  --expires DUR   refused after DUR: 30d, 12h, 90m, 1d12h, or seconds (default: never)\n"
        "  --read-only     may read (GET, registry pulls) but not change anything\n"
        "  --user USER     a token of user USER (admins only); it acts with that user's role\n"
        "  --json          the token's JSON document, the token in \"token\"\n";

typedef struct TokenArgs {
        const char *expires;
        const char *user;
        bool read_only;
} TokenArgs;

static const CliOption token_create_options[] = {
        CLI_STRING_OPTION("expires", TokenArgs, expires),
        CLI_FLAG_OPTION("read-only", TokenArgs, read_only),
        CLI_STRING_OPTION("user", TokenArgs, user),
};

static int token_path(const char *name, char **ret) {
        _cleanup_free_ char *enc = http_url_encode(name);

        if (!enc || asprintf(ret, "/api/v1/tokens/%s", enc) < 0)
                return -ENOMEM;
        return 0;
}

static int token_create(CliContext *c, int argc, char *argv[]) {
        _cleanup_json_ json_t *body = NULL, *reply = NULL;
        TokenArgs a = {};
        uint64_t expires = 0;
        const char *user, *token;
        char when[32];
        int r;

        r = cli_parse_options(c, "token create", token_create_help, token_create_options,
                              ELEMENTSOF(token_create_options), &a, argc, argv);
        if (r <= 0)
                return cli_exit_status(r);
        if (argc - optind != 1)
                return cli_usage_error("token create", "'slipway token create' needs the token's NAME");
        if (a.expires && model_parse_duration_sec(a.expires, CLI_TOKEN_EXPIRES_MAX_SEC, &expires) < 0)
                return cli_usage_error(
                        "token create",
                        "--expires '%s' is not a duration from 1s to 10 years (e.g. 30d, 12h, 90m)",
                        a.expires);
        body = json_pack("{s:s,s:b}", "name", argv[optind], "read_only", a.read_only);
        if (!body ||
            (expires > 0 &&
             json_object_set_new(body, "expires_in_sec", json_integer((json_int_t) expires)) < 0) ||
            (a.user && json_object_set_new(body, "user", json_string(a.user)) < 0))
                return log_oom_cli();
        r = model_call(c, "POST", "/api/v1/tokens", body, &reply);
        if (r <= 0)
                return cli_exit_status(r);
        user = json_string_value(json_object_get(reply, "user"));
        token = json_string_value(json_object_get(reply, "token"));
        if (!token)
                return cli_error(NULL,
                                 "slipwayd made the token but sent none back; revoke it and try again");
        printf("%s\n", token);
        fprintf(stderr, "Made API token %s of user %s%s", argv[optind], strempty(user),
                a.read_only ? ", read-only" : "");
        if (json_is_integer(json_object_get(reply, "expires_at")))
                fprintf(stderr, ", expiring %s UTC",
                        model_format_time(json_object_get(reply, "expires_at"), when));
        fprintf(stderr,
                ".  It is shown only this once: store it now.  Use it as 'slipway --url URL --token TOKEN' or as "
                "the registry password of user %s.\n",
                strempty(user));
        return 0;
}

static int token_list(CliContext *c, int argc, char *argv[]) {
        _cleanup_json_ json_t *reply = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        TokenArgs a = {};
        json_t *tok;
        size_t i;
        int r;

        r = cli_parse_options(c, "token list", token_help, NULL, 0, &a, argc, argv);
        if (r <= 0)
                return cli_exit_status(r);
        if (argc - optind != 0)
                return cli_usage_error("token list", "'slipway token list' takes no arguments");
        r = model_call(c, "GET", "/api/v1/tokens", NULL, &reply);
        if (r <= 0)
                return cli_exit_status(r);
        if (json_array_size(json_object_get(reply, "tokens")) == 0) {
                printf("User %s has no API tokens (admin.token aside); make one with 'slipway token create NAME'.\n",
                       strempty(json_string_value(json_object_get(reply, "user"))));
                return 0;
        }
        t = table_new(5, "NAME", "ACCESS", "CREATED", "EXPIRES", "LAST USED");
        if (!t)
                return log_oom_cli();
        json_array_foreach(json_object_get(reply, "tokens"), i, tok) {
                char created[32], expires[32], used[32], exp_col[48];

                model_format_time(json_object_get(tok, "created_at"), created);
                model_format_time(json_object_get(tok, "expires_at"), expires);
                model_format_time(json_object_get(tok, "last_used_at"), used);
                snprintf(exp_col, sizeof exp_col, "%s%s",
                         json_is_integer(json_object_get(tok, "expires_at")) ? expires : "never",
                         json_is_true(json_object_get(tok, "expired")) ? " (expired)" : "");
                if (table_add_row(
                            t, json_string_value(json_object_get(tok, "name")),
                            json_is_true(json_object_get(tok, "read_only")) ? "read-only" : "read-write",
                            created, exp_col,
                            json_is_integer(json_object_get(tok, "last_used_at")) ? used : "never") < 0)
                        return log_oom_cli();
        }
        table_print(t);
        return 0;
}

static int token_revoke(CliContext *c, int argc, char *argv[]) {
        _cleanup_json_ json_t *reply = NULL;
        _cleanup_free_ char *path = NULL;
        TokenArgs a = {};
        int r;

        r = cli_parse_options(c, "token revoke", token_help, NULL, 0, &a, argc, argv);
        if (r <= 0)
                return cli_exit_status(r);
        if (argc - optind != 1)
                return cli_usage_error("token revoke", "'slipway token revoke' needs the token's NAME");
        if (token_path(argv[optind], &path) < 0)
                return log_oom_cli();
        r = model_call(c, "DELETE", path, NULL, &reply);
        if (r <= 0)
                return cli_exit_status(r);
        printf("Revoked API token %s: it is refused from now on.\n", argv[optind]);
        return 0;
}

int cmd_token(CliContext *c, int argc, char *argv[]) {
        static const CliVerb verbs[] = {
                { "create", token_create },
                { "list", token_list },
                { "ls", token_list },
                { "revoke", token_revoke },
        };

        return cli_dispatch(c, "token", token_help, "create, list, revoke", verbs, ELEMENTSOF(verbs), argc,
                            argv);
}
