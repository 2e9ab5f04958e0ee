/* slipway promote PROJECT/COMP FROM [TO] and slipway rollback PROJECT/COMP ENV [--to RELEASE]: ask the daemon
 * for a release made from another one, then follow it as deploy does (cli_release_follow), so both wait
 * through the health-gated swap and the bake window and exit 1 when it failed or rolled back.  A promotion
 * the daemon held for an admin's approval is reported and is not a failure. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd-model-args.h"
#include "json-util.h"
#include "macro.h"

#define RELEASE_WAIT_DEFAULT_SEC 900U

static const char promote_help[] =
        "Usage: slipway promote PROJECT/COMPONENT FROM_ENV [TO_ENV] [--no-wait] [--no-wait-bake]\n"
        "                       [--timeout SEC] [--json]\n\n"
        "Deploys the exact image that is live in FROM_ENV to TO_ENV (default: the next environment in\n"
        "the project's promotion order; only forward), with TO_ENV's own values and the component's\n"
        "current settings.  Refused, with nothing changed, when nothing is live in FROM_ENV or a required\n"
        "configurable has no value in TO_ENV.  Waits like deploy; exit status 0 when live.\n\n"
        "Into a protected environment (env set --protected on) a developer's promotion deploys nothing:\n"
        "it becomes a request an admin approves or rejects (slipway approvals list|approve|reject), and\n"
        "the command exits 0 after saying so.  An admin's promotion goes ahead at once.\n";

static const char rollback_help[] =
        "Usage: slipway rollback PROJECT/COMPONENT ENV [--to RELEASE] [--no-wait] [--no-wait-bake]\n"
        "                        [--timeout SEC] [--json]\n\n"
        "Makes a new release in ENV from an earlier one: its image digest, its settings and exactly the\n"
        "value versions it ran with (not the current values), through the same health-gated swap.\n"
        "Default: the release that was live before the live one.  Waits like deploy; exit status 0 when\n"
        "live.\n\n"
        "  --to RELEASE   the release id to go back to (see 'slipway releases PROJECT/COMPONENT ENV')\n";

typedef struct ReleaseActionArgs {
        const char *to;
        bool no_wait;
        bool no_wait_bake;
        unsigned long timeout;
} ReleaseActionArgs;

static int store_timeout(const char *full, const char *arg, void *args) {
        return cli_follow_timeout_parse(full, arg, &((ReleaseActionArgs *) args)->timeout);
}

static const CliOption action_options[] = {
        CLI_STRING_OPTION("to", ReleaseActionArgs, to),
        CLI_FLAG_OPTION("no-wait", ReleaseActionArgs, no_wait),
        CLI_FLAG_OPTION("no-wait-bake", ReleaseActionArgs, no_wait_bake),
        { .name = "timeout", .store = store_timeout },
};

/* A promotion into a protected environment by a developer: the daemon recorded a request for an admin
 * (or found the identical one pending) and deployed nothing.  Not a failure: exit status 0. */
static int print_held(CliContext *c, json_t *reply) {
        json_t *a = json_object_get(reply, "approval");
        long long id = (long long) json_integer_value(json_object_get(a, "id"));

        if (c->json) {
                cli_print_json(reply);
                return 0;
        }
        printf("Promotion of %s/%s to %s %swaits for an admin's approval: request %lld (slipway approvals "
               "approve %lld).\n",
               strempty(json_string_value(json_object_get(a, "project"))),
               strempty(json_string_value(json_object_get(a, "component"))),
               strempty(json_string_value(json_object_get(a, "to"))),
               json_is_true(json_object_get(reply, "existing")) ? "already " : "", id, id);
        return 0;
}

/* Posts body to …/components/C/<verb> ("promote", "rollback") and follows the release it made, in the
 * environment the reply names (a promotion's default target is the daemon's choice). */
static int request_and_follow(CliContext *c, const ReleaseActionArgs *a, const char *project,
                              const char *name, const char *verb, json_t *body) {
        _cleanup_json_ json_t *reply = NULL;
        _cleanup_free_ char *path = NULL, *suffix = NULL, *env = NULL;
        json_int_t id;

        if (asprintf(&suffix, "/%s", verb) < 0 || !(path = model_api_path(project, name, suffix)))
                return log_oom_cli();
        if (cli_api_json(c, "POST", path, body, &reply) < 0)
                return 1;
        if (json_is_object(json_object_get(reply, "approval")))
                return print_held(c, reply);
        id = json_integer_value(json_object_get(reply, "id"));
        env = strdup(json_string_value(json_object_get(reply, "environment")) ?: "?");
        if (!env)
                return log_oom_cli();
        if (a->no_wait) {
                if (c->json)
                        cli_print_json(reply);
                else
                        printf("Release %lld of %s/%s to %s is pending.\n", (long long) id, project, name,
                               env);
                return 0;
        }
        if (!c->json) {
                json_t *src = json_object_get(reply, "source_release_id");
                if (streq(verb, "promote"))
                        printf("Promoting release %lld (%s) as release %lld to %s…\n",
                               (long long) json_integer_value(src),
                               json_string_value(json_object_get(reply, "source_environment")) ?: "?",
                               (long long) id, env);
                else
                        printf("Rolling %s back to release %lld as release %lld…\n", env,
                               (long long) json_integer_value(src), (long long) id);
                fflush(stdout);
        }
        return cli_release_follow(c, project, name, env, id, a->timeout, !a->no_wait_bake);
}

int cmd_promote(CliContext *c, int argc, char *argv[]) {
        _cleanup_json_ json_t *body = NULL;
        _cleanup_free_ char *project = NULL, *name = NULL;
        ReleaseActionArgs a = { .timeout = RELEASE_WAIT_DEFAULT_SEC };
        const char *to;
        int r;

        r = cli_parse_options(c, "promote", promote_help, action_options, ELEMENTSOF(action_options), &a,
                              argc, argv);
        if (r <= 0)
                return cli_exit_status(r);
        if (a.to)
                return cli_usage_error("promote",
                                       "Give the target environment as the last argument, not --to");
        if (argc - optind < 2 || argc - optind > 3)
                return cli_usage_error("promote", "'slipway promote' needs PROJECT/COMPONENT, FROM_ENV and "
                                                  "optionally TO_ENV");
        r = model_split_component("promote", argv[optind], &project, &name);
        if (r < 0)
                return cli_exit_status(r);
        to = argc - optind == 3 ? argv[optind + 2] : NULL;
        body = json_pack("{s:s,s:s?}", "from", argv[optind + 1], "to", to);
        if (!body)
                return log_oom_cli();
        return request_and_follow(c, &a, project, name, "promote", body);
}

int cmd_rollback(CliContext *c, int argc, char *argv[]) {
        _cleanup_json_ json_t *body = NULL;
        _cleanup_free_ char *project = NULL, *name = NULL;
        ReleaseActionArgs a = { .timeout = RELEASE_WAIT_DEFAULT_SEC };
        int r;

        r = cli_parse_options(c, "rollback", rollback_help, action_options, ELEMENTSOF(action_options), &a,
                              argc, argv);
        if (r <= 0)
                return cli_exit_status(r);
        if (argc - optind != 2)
                return cli_usage_error("rollback", "'slipway rollback' needs PROJECT/COMPONENT and ENV");
        r = model_split_component("rollback", argv[optind], &project, &name);
        if (r < 0)
                return cli_exit_status(r);
        body = json_pack("{s:s}", "env", argv[optind + 1]);
        if (!body)
                return log_oom_cli();
        if (a.to) {
                char *end = NULL;
                errno = 0;
                long long id = strtoll(a.to, &end, 10);
                if (a.to[0] == '#')
                        id = strtoll(a.to + 1, &end, 10);
                if (errno || !end || *end || id <= 0)
                        return cli_usage_error("rollback", "--to takes a release id like 12, not '%s'",
                                               a.to);
                if (json_object_set_new(body, "to", json_integer(id)) < 0)
                        return log_oom_cli();
        }
        return request_and_follow(c, &a, project, name, "rollback", body);
}
