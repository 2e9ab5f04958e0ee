/* slipway approvals list|approve|reject: promotion requests into protected environments over
 * /api/v1/approvals (web/api/api-approvals.c).  approve follows the release it made as promote does
 * (cli_release_follow): exit status 0 when it went live. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd-model-args.h"
#include "json-util.h"
#include "macro.h"

#define APPROVE_WAIT_DEFAULT_SEC 900U

static const char approvals_help[] =
        "Usage: slipway approvals list [--all] [--json]\n"
        "       slipway approvals approve ID [--no-wait] [--no-wait-bake] [--timeout SEC] [--json]\n"
        "       slipway approvals reject ID [--reason TEXT] [--json]\n\n"
        "Promotion requests into protected environments (slipway env set PROJECT ENV --protected on):\n"
        "a developer's promotion there deploys nothing until an admin approves it.  Anyone may list;\n"
        "only an admin approves or rejects, and each request is decided once.\n";

static const char list_help[] =
        "Usage: slipway approvals list [--all] [--json]\n\n"
        "The pending promotion requests, oldest first: ID, COMPONENT, FROM, TO, IMAGE, REQUESTED BY, AT.\n\n"
        "  --all   also the decided ones (newest first), with who decided, the release an approval made\n"
        "          and its status, or why a request was rejected or failed\n";

static const char approve_help[] =
        "Usage: slipway approvals approve ID [--no-wait] [--no-wait-bake] [--timeout SEC] [--json]\n\n"
        "Runs the promotion exactly as requested: the image digest recorded then (even if the source\n"
        "environment moved on since), with the target environment's values now and the component's\n"
        "current settings.  Refused, and the request marked failed, when a required configurable has no\n"
        "value there.  Waits like promote; exit status 0 when live.  Admin only.\n\n"
        "  --no-wait       return once the release is made\n"
        "  --no-wait-bake  return once it is live, before its bake window ends\n"
        "  --timeout SEC   give up waiting after SEC seconds (default 900)\n";

static const char reject_help[] =
        "Usage: slipway approvals reject ID [--reason TEXT] [--json]\n\n"
        "Declines a pending promotion request; nothing is deployed.  Admin only.\n\n"
        "  --reason TEXT   why, kept with the request and shown by 'approvals list --all'\n";

typedef struct ApprovalsArgs {
        bool all;
        const char *reason;
        bool no_wait;
        bool no_wait_bake;
        unsigned long timeout;
} ApprovalsArgs;

static int store_timeout(const char *full, const char *arg, void *args) {
        return cli_follow_timeout_parse(full, arg, &((ApprovalsArgs *) args)->timeout);
}

static const CliOption list_options[] = {
        CLI_FLAG_OPTION("all", ApprovalsArgs, all),
};

static const CliOption approve_options[] = {
        CLI_FLAG_OPTION("no-wait", ApprovalsArgs, no_wait),
        CLI_FLAG_OPTION("no-wait-bake", ApprovalsArgs, no_wait_bake),
        { .name = "timeout", .store = store_timeout },
};

static const CliOption reject_options[] = {
        CLI_STRING_OPTION("reason", ApprovalsArgs, reason),
};

/* "ID" (or "#ID") of a request → "/api/v1/approvals/ID<suffix>"; a usage error (said) otherwise. */
static int approval_path(const char *full, const char *arg, const char *suffix, long long *ret_id,
                         char **ret) {
        const char *p = arg[0] == '#' ? arg + 1 : arg;
        char *end = NULL;
        long long id;

        errno = 0;
        id = strtoll(p, &end, 10);
        if (errno || !end || *end || end == p || id <= 0)
                return cli_usage_errno(
                        full, "A request id is a number like 3 (see 'slipway approvals list'), not '%s'",
                        arg);
        if (asprintf(ret, "/api/v1/approvals/%lld%s", id, suffix) < 0)
                return cli_oom_errno();
        *ret_id = id;
        return 0;
}

static const char *short_image(json_t *a, char buf[static 13]) {
        return model_short_digest(json_string_value(json_object_get(a, "image_digest")), buf);
}

/* What became of a decided request, in a few words. */
static void outcome(json_t *a, char *buf, size_t size) {
        const char *status = json_string_value(json_object_get(a, "status"));
        const char *by = strempty(json_string_value(json_object_get(a, "decided_by")));
        const char *reason = json_string_value(json_object_get(a, "reason"));
        const char *rel_status = json_string_value(json_object_get(a, "release_status"));
        json_t *rel = json_object_get(a, "release_id");

        if (streq_ptr(status, "pending"))
                snprintf(buf, size, "-");
        else if (json_is_integer(rel))
                snprintf(buf, size, "by %s: release %lld (%s)", by, (long long) json_integer_value(rel),
                         rel_status ?: "pruned");
        else
                snprintf(buf, size, "by %s%s%s", by, reason ? ": " : "", strempty(reason));
}

static int approvals_list(CliContext *c, int argc, char *argv[]) {
        _cleanup_json_ json_t *reply = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        ApprovalsArgs a = {};
        json_t *arr, *e;
        size_t i;
        int r;

        r = cli_parse_options(c, "approvals list", list_help, list_options, ELEMENTSOF(list_options), &a,
                              argc, argv);
        if (r <= 0)
                return cli_exit_status(r);
        if (argc - optind != 0)
                return cli_usage_error("approvals list", "'slipway approvals list' takes no arguments");
        r = model_call(c, "GET", a.all ? "/api/v1/approvals?all=1" : "/api/v1/approvals", NULL, &reply);
        if (r <= 0)
                return cli_exit_status(r);
        arr = json_object_get(reply, "approvals");
        if (json_array_size(arr) == 0) {
                printf(a.all ? "No promotion requests yet.\n"
                             : "No promotion request waits for approval ('--all' shows decided ones).\n");
                return 0;
        }
        t = a.all ? table_new(9, "ID", "COMPONENT", "FROM", "TO", "IMAGE", "REQUESTED BY", "AT", "STATUS",
                              "OUTCOME")
                  : table_new(7, "ID", "COMPONENT", "FROM", "TO", "IMAGE", "REQUESTED BY", "AT");
        if (!t)
                return log_oom_cli();
        json_array_foreach(arr, i, e) {
                char id[24], comp[160], img[13], at[32], out[1200];

                snprintf(id, sizeof id, "%lld", (long long) json_integer_value(json_object_get(e, "id")));
                snprintf(comp, sizeof comp, "%s/%s",
                         strempty(json_string_value(json_object_get(e, "project"))),
                         strempty(json_string_value(json_object_get(e, "component"))));
                model_format_time(json_object_get(e, "requested_at"), at);
                outcome(e, out, sizeof out);
                r = a.all ? table_add_row(t, id, comp, json_string_value(json_object_get(e, "from")),
                                          json_string_value(json_object_get(e, "to")), short_image(e, img),
                                          json_string_value(json_object_get(e, "requested_by")), at,
                                          json_string_value(json_object_get(e, "status")), out)
                          : table_add_row(t, id, comp, json_string_value(json_object_get(e, "from")),
                                          json_string_value(json_object_get(e, "to")), short_image(e, img),
                                          json_string_value(json_object_get(e, "requested_by")), at);
                if (r < 0)
                        return log_oom_cli();
        }
        table_print(t);
        return 0;
}

static int approvals_approve(CliContext *c, int argc, char *argv[]) {
        _cleanup_json_ json_t *reply = NULL, *body = json_object();
        _cleanup_free_ char *path = NULL, *project = NULL, *component = NULL, *env = NULL;
        ApprovalsArgs a = { .timeout = APPROVE_WAIT_DEFAULT_SEC };
        long long req_id;
        json_int_t id;
        int r;

        r = cli_parse_options(c, "approvals approve", approve_help, approve_options,
                              ELEMENTSOF(approve_options), &a, argc, argv);
        if (r <= 0)
                return cli_exit_status(r);
        if (argc - optind != 1)
                return cli_usage_error("approvals approve",
                                       "'slipway approvals approve' needs the request's ID");
        if ((r = approval_path("approvals approve", argv[optind], "/approve", &req_id, &path)) < 0)
                return cli_exit_status(r);
        if (!body)
                return log_oom_cli();
        if (cli_api_json(c, "POST", path, body, &reply) < 0)
                return 1;
        id = json_integer_value(json_object_get(reply, "id"));
        project = strdup(strempty(json_string_value(json_object_get(reply, "project"))));
        component = strdup(strempty(json_string_value(json_object_get(reply, "component"))));
        env = strdup(strempty(json_string_value(json_object_get(reply, "environment"))));
        if (!project || !component || !env)
                return log_oom_cli();
        if (a.no_wait) {
                if (c->json)
                        cli_print_json(reply);
                else
                        printf("Approved request %lld: release %lld of %s/%s to %s is pending.\n", req_id,
                               (long long) id, project, component, env);
                return 0;
        }
        if (!c->json) {
                printf("Approved request %lld: promoting %s/%s (image %s) to %s as release %lld…\n", req_id,
                       project, component,
                       strempty(json_string_value(json_object_get(reply, "image_digest"))), env,
                       (long long) id);
                fflush(stdout);
        }
        return cli_release_follow(c, project, component, env, id, a.timeout, !a.no_wait_bake);
}

static int approvals_reject(CliContext *c, int argc, char *argv[]) {
        _cleanup_json_ json_t *reply = NULL, *body = NULL;
        _cleanup_free_ char *path = NULL;
        ApprovalsArgs a = {};
        long long req_id;
        json_t *ap;
        int r;

        r = cli_parse_options(c, "approvals reject", reject_help, reject_options, ELEMENTSOF(reject_options),
                              &a, argc, argv);
        if (r <= 0)
                return cli_exit_status(r);
        if (argc - optind != 1)
                return cli_usage_error("approvals reject",
                                       "'slipway approvals reject' needs the request's ID");
        if ((r = approval_path("approvals reject", argv[optind], "/reject", &req_id, &path)) < 0)
                return cli_exit_status(r);
        body = json_pack("{s:s?}", "reason", a.reason);
        if (!body)
                return log_oom_cli();
        r = model_call(c, "POST", path, body, &reply);
        if (r <= 0)
                return cli_exit_status(r);
        ap = reply;
        printf("Rejected request %lld: %s/%s stays as it is in %s.\n", req_id,
               strempty(json_string_value(json_object_get(ap, "project"))),
               strempty(json_string_value(json_object_get(ap, "component"))),
               strempty(json_string_value(json_object_get(ap, "to"))));
        return 0;
}

int cmd_approvals(CliContext *c, int argc, char *argv[]) {
        static const CliVerb verbs[] = {
                { "list", approvals_list },
                { "ls", approvals_list },
                { "approve", approvals_approve },
                { "reject", approvals_reject },
        };

        return cli_dispatch(c, "approvals", approvals_help, "list, approve, reject", verbs,
                            ELEMENTSOF(verbs), argc, argv);
}
