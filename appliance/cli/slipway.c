/* slipway: the command-line client.  Parses the global options, finds the command and hands it the
 * rest; each command prints its own errors.  Exit: 0 success, 1 failure, 2 usage error. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd-build.h"
#include "cmd-model-args.h"
#include "log.h"

static const char main_help[] =
        "Usage: slipway [--state-dir DIR | --url URL --token TOKEN] [--json] COMMAND …\n\n"
        "Drives slipwayd.  Locally the daemon's address and admin token are read from the state\n"
        "directory (--state-dir, $SLIPWAY_STATE_DIR, default " CLI_DEFAULT_STATE_DIR ").\n\n"
        "Commands:\n"
        "  status                      the daemon, the proxy and what they manage\n"
        "  image build|import|export|list|inspect|sbom|scan|rm|gc|unpack …\n"
        "  project create|list|set|delete …     projects, their environments and build settings\n"
        "  env list|create …                environments of a project, in promotion order\n"
        "  component create|update|list|show …  what runs: image or git source, endpoints, health checks\n"
        "  build PROJECT/NAME [--commit SHA | --branch B] [--deploy] [--follow]   build a git component\n"
        "  builds PROJECT/NAME              build history: commit, trigger, status, duration, image\n"
        "  build show|sbom|logs|cancel ID   one build: its steps, SBOM, log; stop it\n"
        "  autobuild|autodeploy PROJECT/NAME on|off   build on push; deploy what built\n"
        "  webhook show PROJECT/NAME [--rotate]   the push webhook's URL and secret\n"
        "  releases PROJECT/NAME [ENV]      release history: digest, values, origin, status\n"
        "  deploy PROJECT/NAME ENV [--image REF | --build ID]   blue/green deploy; waits until live or failed\n"
        "  promote PROJECT/NAME FROM [TO]   the image live in FROM to the next environment, with its values\n"
        "  rollback PROJECT/NAME ENV [--to RELEASE]   an earlier release's image and values again\n"
        "  url PROJECT/NAME ENV             public URLs\n"
        "  logs PROJECT/NAME ENV            the live instance's stdout/stderr\n"
        "  config set|unset|list PROJECT[/NAME] ENV …   config values and secrets of an environment\n"
        "  vault rotate                     new data key, every value re-encrypted, old key retired\n"
        "  vulndb import FILE.zip|DIR, vulndb status   the offline OSV database builds are scanned against\n"
        "  token create NAME [--expires DUR] [--read-only] [--user USER], token list|revoke   API tokens (also the\n"
        "                                   registry password of your user name)\n"
        "  user add|list|rm|passwd …         users, their roles (admin, developer, viewer), console passwords\n\n"
        "  registry add|list|rm …           registries you own that builds are pushed to\n\n"
        "Options:\n"
        "  --state-dir DIR   state directory of the local slipwayd\n"
        "  --url URL         API address of a remote slipwayd (with --token)\n"
        "  --token TOKEN     API token (admin.token, or one from 'slipway token create')\n"
        "  --json            machine output: one JSON document on stdout\n"
        "  -h --help         this help; 'slipway COMMAND --help' for a command\n"
        "     --version      the version\n";

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                CLI_COMMON_OPTIONS,
                { "version", no_argument, NULL, 'V' },
                {},
        };
        static const struct {
                const char *name;
                int (*fn)(CliContext *c, int argc, char *argv[]);
        } commands[] = {
                { "status", cmd_status },
                { "image", cmd_image },
                { "deploy", cmd_deploy },
                { "project", cmd_project },
                { "env", cmd_env },
                { "component", cmd_component },
                { "releases", cmd_releases },
                { "url", cmd_url },
                { "logs", cmd_logs },
                { "promote", cmd_promote },
                { "rollback", cmd_rollback },
                { "config", cmd_config },
                { "vault", cmd_vault },
                { "build", cmd_build },
                { "builds", cmd_builds },
                { "autobuild", cmd_autobuild },
                { "autodeploy", cmd_autodeploy },
                { "webhook", cmd_webhook },
                { "vulndb", cmd_vulndb },
                { "token", cmd_token },
                { "user", cmd_user },
                { "registry", cmd_registry },
        };
        CliContext c = { .state_dir = CLI_DEFAULT_STATE_DIR };
        const char *env;
        int opt, r = -1;

        log_set_ident("slipway");
        env = getenv("SLIPWAY_STATE_DIR");
        if (!isempty(env))
                c.state_dir = env;

        opterr = 0;
        /* '+': stop at the command word; what follows belongs to the command. */
        while ((opt = getopt_long(argc, argv, "+h", options, NULL)) >= 0) {
                if (opt == 'h') {
                        fputs(main_help, stdout);
                        return 0;
                }
                if (opt == 'V') {
                        printf("slipway %s\n", SLIPWAY_VERSION);
                        return 0;
                }
                if (!cli_common_option(&c, opt, optarg))
                        return cli_bad_option(NULL, argc, argv);
        }
        if (optind >= argc)
                return cli_usage_error(
                        NULL,
                        "Missing command (status, image, project, env, component, releases, deploy, "
                        "promote, rollback, url, logs, config, vault, build, builds, autobuild, autodeploy, "
                        "webhook, vulndb, token, user, registry)");
        if (c.url_arg && !c.token_arg && !c.state_dir_explicit && !getenv("SLIPWAY_STATE_DIR")) {
                /* A remote daemon has no local token file to fall back on. */
                return cli_usage_error(NULL, "--url needs --token");
        }

        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (streq(argv[optind], commands[i].name)) {
                        r = commands[i].fn(&c, argc - optind, argv + optind);
                        break;
                }
        if (r < 0)
                r = cli_usage_error(NULL, "Unknown command '%s'", argv[optind]);
        cli_context_done(&c);
        return r;
}
