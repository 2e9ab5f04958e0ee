/* slipway deploy PROJECT/COMPONENT ENV [--image REF | --build ID] [--no-wait] [--no-wait-bake] [--timeout SEC]: asks for
 * a release and, unless --no-wait, follows it (cli_release_follow) until it is live and baked, or failed or
 * rolled back, printing the outcome and, on failure, the reason and the last lines of its deploy log. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd-build.h"
#include "http-client.h"
#include "json-util.h"
#include "macro.h"

#define DEPLOY_WAIT_DEFAULT_SEC 900U

static const char deploy_help[] =
        "Usage: slipway deploy PROJECT/COMPONENT ENV [--image REF | --build ID] [--no-wait] [--no-wait-bake]\n"
        "                      [--timeout SEC] [--json]\n\n"
        "Deploys an image to an environment with its current values (default: the image live there, so\n"
        "a deploy without --image applies changed values; with nothing live, the component's own image or\n"
        "its latest build) or, with --build, the image of build ID ('slipway builds'), blue/green: the new\n"
        "instance starts next to the old one, must pass its readiness check, then the proxy switches to\n"
        "it.  With a bake window (component --bake) the old instance stays running, routed out, while the\n"
        "new one is watched; too many 5xx answers or a crash swap the traffic back to it and roll the release back.\n"
        "Otherwise the old one is stopped after its requests finished.  Waits until the release is live\n"
        "and its bake passed, or it failed, unless --no-wait (returns at once) or --no-wait-bake (returns\n"
        "at the swap).  Exit status 0 when live, 1 when it failed or was rolled back.\n";

typedef struct DeployArgs {
        const char *image;
        int64_t build;
        bool no_wait;
        bool no_wait_bake;
        unsigned long timeout;
} DeployArgs;

static int store_timeout(const char *full, const char *arg, void *args) {
        return cli_follow_timeout_parse(full, arg, &((DeployArgs *) args)->timeout);
}

static int store_build(const char *full, const char *arg, void *args) {
        return build_id_parse(full, arg, &((DeployArgs *) args)->build);
}

static const CliOption deploy_options[] = {
        CLI_STRING_OPTION("image", DeployArgs, image),
        CLI_FLAG_OPTION("no-wait", DeployArgs, no_wait),
        CLI_FLAG_OPTION("no-wait-bake", DeployArgs, no_wait_bake),
        { .name = "timeout", .store = store_timeout },
        { .name = "build", .store = store_build },
};

/* POST …/deploy for target ("PROJECT/COMPONENT", checked) and, unless a->no_wait, follows the release.
 * Returns the exit status. */
static int deploy_request(CliContext *c, const char *target, const char *env, const DeployArgs *a) {
        _cleanup_json_ json_t *body = NULL, *reply = NULL;
        _cleanup_free_ char *proj = NULL, *enc_p = NULL, *enc_c = NULL, *path = NULL;
        const char *slash = strchr(target, '/');

        proj = strndup(target, (size_t) (slash - target));
        if (!proj)
                return log_oom_cli();
        enc_p = http_url_encode(proj);
        enc_c = http_url_encode(slash + 1);
        if (!enc_p || !enc_c ||
            asprintf(&path, "/api/v1/projects/%s/components/%s/deploy", enc_p, enc_c) < 0)
                return log_oom_cli();
        body = json_pack("{s:s}", "env", env);
        if (!body || (a->image && json_object_set_new(body, "image", json_string(a->image)) < 0) ||
            (a->build > 0 && json_object_set_new(body, "build", json_integer(a->build)) < 0))
                return log_oom_cli();
        if (cli_api_json(c, "POST", path, body, &reply) < 0)
                return 1;

        json_int_t id = json_integer_value(json_object_get(reply, "id"));
        if (a->no_wait) {
                if (c->json)
                        cli_print_json(reply);
                else
                        printf("Release %lld of %s to %s is pending.\n", (long long) id, target, env);
                return 0;
        }

        return cli_release_follow(c, proj, slash + 1, env, id, a->timeout, !a->no_wait_bake);
}

int cmd_deploy(CliContext *c, int argc, char *argv[]) {
        DeployArgs a = { .timeout = DEPLOY_WAIT_DEFAULT_SEC };
        const char *target, *env, *slash;
        int r;

        r = cli_parse_options(c, "deploy", deploy_help, deploy_options, ELEMENTSOF(deploy_options), &a, argc,
                              argv);
        if (r <= 0)
                return cli_exit_status(r);
        if (argc - optind != 2)
                return cli_usage_error("deploy", "'slipway deploy' needs PROJECT/COMPONENT and ENV");
        target = argv[optind];
        env = argv[optind + 1];
        slash = strchr(target, '/');
        if (!slash || slash == target || !slash[1] || strchr(slash + 1, '/'))
                return cli_usage_error("deploy", "'%s' is not PROJECT/COMPONENT", target);
        if (a.image && a.build > 0)
                return cli_usage_error("deploy",
                                       "--image and --build exclude each other: a deploy runs one image");
        return deploy_request(c, target, env, &a);
}

int cli_deploy_and_follow(CliContext *c, const char *target, const char *env, const char *image) {
        DeployArgs a = { .image = image, .timeout = DEPLOY_WAIT_DEFAULT_SEC };
        return deploy_request(c, target, env, &a);
}
