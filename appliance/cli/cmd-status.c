/* slipway status: what the daemon reports about itself and the counts of what it manages. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "json-util.h"

static const char status_help[] =
        "Usage: slipway status [--json]\n\n"
        "Shows the daemon (version, pid, state directory, API address), whether the proxy runs,\n"
        "how many projects, instances and images there are, and whether the host still matches\n"
        "what the database says (\"degraded: REASON\" while something cannot be repaired).\n";

int cmd_status(CliContext *c, int argc, char *argv[]) {
        _cleanup_json_ json_t *j = NULL;
        json_t *d;
        int r;

        r = cli_parse_options(c, "status", status_help, NULL, 0, NULL, argc, argv);
        if (r <= 0)
                return cli_exit_status(r);
        if (optind < argc)
                return cli_usage_error("status", "'slipway status' takes no arguments, but got '%s'",
                                       argv[optind]);

        if (cli_api_json(c, "GET", "/api/v1/status", NULL, &j) < 0)
                return 1;
        if (c->json) {
                cli_print_json(j);
                return 0;
        }
        d = json_object_get(j, "daemon");
        printf("Daemon:     slipwayd %s (pid %lld) on %s\n",
               json_string_value(json_object_get(d, "version")),
               (long long) json_integer_value(json_object_get(d, "pid")),
               json_string_value(json_object_get(d, "api")));
        printf("State:      %s\n", json_string_value(json_object_get(d, "state_dir")));
        printf("Proxy:      %s\n", json_is_true(json_object_get(json_object_get(j, "proxy"), "running"))
                                           ? "running"
                                           : "not running");
        printf("Projects:   %lld\n", (long long) json_integer_value(json_object_get(j, "projects")));
        printf("Instances:  %lld\n", (long long) json_integer_value(json_object_get(j, "instances")));
        printf("Images:     %lld\n", (long long) json_integer_value(json_object_get(j, "images")));
        json_t *h = json_object_get(j, "health");
        const char *hs = json_string_value(json_object_get(h, "status"));
        if (hs && streq(hs, "degraded"))
                printf("Health:     degraded: %s\n",
                       json_string_value(json_object_get(h, "reason")) ?: "unknown");
        else if (hs)
                printf("Health:     %s\n", hs);
        json_t *u = json_object_get(j, "user_namespaces");
        if (json_is_true(json_object_get(u, "enabled")))
                printf("Containers: in their own user namespace\n");
        else if (u)
                printf("Containers: without a user namespace (%s)\n",
                       json_string_value(json_object_get(u, "reason")) ?: "not supported here");
        return 0;
}
