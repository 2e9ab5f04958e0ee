/* Option parsing and formatting shared by the issue-5 commands (project, env, component, releases, url,
 * logs).  Options are checked against the command's help text, so a command never silently ignores one. */
#include "cmd-model-args.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "duration.h"
#include "http-client.h"
#include "string-util.h"

enum {
        ARG_ENVS = ARG_FIRST_COMMAND_OPTION,
        ARG_AFTER,
        ARG_IMAGE,
        ARG_HEALTH,
        ARG_MEMORY,
        ARG_CPUS,
        ARG_LINES,
        ARG_FORCE,
        ARG_ENDPOINT,
        ARG_DOMAIN,
        ARG_NO_DOMAIN,
        ARG_EGRESS,
        ARG_INGRESS_PORT,
        ARG_LIVENESS,
        ARG_HEALTH_INTERVAL,
        ARG_HEALTH_TIMEOUT,
        ARG_HEALTH_FAILURES,
        ARG_DEPLOY_TIMEOUT,
        ARG_PIDS,
        ARG_FOLLOW, /* last: the range check below */
};

int model_args_parse(CliContext *c, const char *full, const char *help, int argc, char *argv[], ModelArgs *a,
                     int min_args, int max_args) {
        static const struct option options[] = {
                CLI_COMMON_OPTIONS,
                {"envs", required_argument, NULL, ARG_ENVS},
                {"after", required_argument, NULL, ARG_AFTER},
                {"image", required_argument, NULL, ARG_IMAGE},
                {"health", required_argument, NULL, ARG_HEALTH},
                {"memory", required_argument, NULL, ARG_MEMORY},
                {"cpus", required_argument, NULL, ARG_CPUS},
                {"lines", required_argument, NULL, ARG_LINES},
                {"force", no_argument, NULL, ARG_FORCE},
                {"endpoint", required_argument, NULL, ARG_ENDPOINT},
                {"follow", no_argument, NULL, ARG_FOLLOW},
                {"domain", required_argument, NULL, ARG_DOMAIN},
                {"no-domain", no_argument, NULL, ARG_NO_DOMAIN},
                {"egress", required_argument, NULL, ARG_EGRESS},
                {"ingress-port", required_argument, NULL, ARG_INGRESS_PORT},
                {"liveness", required_argument, NULL, ARG_LIVENESS},
                {"health-interval", required_argument, NULL, ARG_HEALTH_INTERVAL},
                {"health-timeout", required_argument, NULL, ARG_HEALTH_TIMEOUT},
                {"health-failures", required_argument, NULL, ARG_HEALTH_FAILURES},
                {"deploy-timeout", required_argument, NULL, ARG_DEPLOY_TIMEOUT},
                {"pids", required_argument, NULL, ARG_PIDS},
                {},
        };
        static const char *const names[] = {
                [ARG_ENVS - ARG_FIRST_COMMAND_OPTION] = "--envs",
                [ARG_AFTER - ARG_FIRST_COMMAND_OPTION] = "--after",
                [ARG_IMAGE - ARG_FIRST_COMMAND_OPTION] = "--image",
                [ARG_HEALTH - ARG_FIRST_COMMAND_OPTION] = "--health",
                [ARG_MEMORY - ARG_FIRST_COMMAND_OPTION] = "--memory",
                [ARG_CPUS - ARG_FIRST_COMMAND_OPTION] = "--cpus",
                [ARG_LINES - ARG_FIRST_COMMAND_OPTION] = "--lines",
                [ARG_FORCE - ARG_FIRST_COMMAND_OPTION] = "--force",
                [ARG_ENDPOINT - ARG_FIRST_COMMAND_OPTION] = "--endpoint",
                [ARG_FOLLOW - ARG_FIRST_COMMAND_OPTION] = "--follow",
                [ARG_DOMAIN - ARG_FIRST_COMMAND_OPTION] = "--domain",
                [ARG_NO_DOMAIN - ARG_FIRST_COMMAND_OPTION] = "--no-domain",
                [ARG_EGRESS - ARG_FIRST_COMMAND_OPTION] = "--egress",
                [ARG_INGRESS_PORT - ARG_FIRST_COMMAND_OPTION] = "--ingress-port",
                [ARG_LIVENESS - ARG_FIRST_COMMAND_OPTION] = "--liveness",
                [ARG_HEALTH_INTERVAL - ARG_FIRST_COMMAND_OPTION] = "--health-interval",
                [ARG_HEALTH_TIMEOUT - ARG_FIRST_COMMAND_OPTION] = "--health-timeout",
                [ARG_HEALTH_FAILURES - ARG_FIRST_COMMAND_OPTION] = "--health-failures",
                [ARG_DEPLOY_TIMEOUT - ARG_FIRST_COMMAND_OPTION] = "--deploy-timeout",
                [ARG_PIDS - ARG_FIRST_COMMAND_OPTION] = "--pids",
        };
        int opt;

        optind = 0;
        opterr = 0;
        while ((opt = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                if (opt == 'h') {
                        fputs(help, stdout);
                        return 0;
                }
                if (cli_common_option(c, opt, optarg))
                        continue;
                if (opt < ARG_FIRST_COMMAND_OPTION || opt > ARG_FOLLOW)
                        return cli_bad_option(full, argc, argv);
                const char *optname = names[opt - ARG_FIRST_COMMAND_OPTION];
                if (!strstr(help, optname))
                        return cli_usage_error(full, "'slipway %s' has no option %s", full, optname);
                switch (opt) {
                case ARG_ENVS:
                        a->envs = optarg;
                        break;
                case ARG_AFTER:
                        a->after = optarg;
                        break;
                case ARG_IMAGE:
                        a->image = optarg;
                        break;
                case ARG_HEALTH:
                        a->health = optarg;
                        break;
                case ARG_MEMORY:
                        a->memory = optarg;
                        break;
                case ARG_CPUS:
                        a->cpus = optarg;
                        break;
                case ARG_LINES:
                        a->lines = optarg;
                        break;
                case ARG_FORCE:
                        a->force = true;
                        break;
                case ARG_FOLLOW:
                        a->follow = true;
                        break;
                case ARG_DOMAIN:
                        a->domain = optarg;
                        break;
                case ARG_NO_DOMAIN:
                        a->no_domain = true;
                        break;
                case ARG_EGRESS:
                        if (!streq(optarg, "on") && !streq(optarg, "off"))
                                return cli_usage_error(full, "--egress takes 'on' or 'off', not '%s'", optarg);
                        a->egress = optarg;
                        break;
                case ARG_INGRESS_PORT:
                        a->ingress_port = optarg;
                        break;
                case ARG_LIVENESS:
                        a->liveness = optarg;
                        break;
                case ARG_HEALTH_INTERVAL:
                        a->health_interval = optarg;
                        break;
                case ARG_HEALTH_TIMEOUT:
                        a->health_timeout = optarg;
                        break;
                case ARG_HEALTH_FAILURES:
                        a->health_failures = optarg;
                        break;
                case ARG_DEPLOY_TIMEOUT:
                        a->deploy_timeout = optarg;
                        break;
                case ARG_PIDS:
                        a->pids = optarg;
                        break;
                case ARG_ENDPOINT:
                        if (a->n_endpoints >= MODEL_ARGS_ENDPOINTS_MAX)
                                return cli_usage_error(full, "At most %u --endpoint options",
                                                       MODEL_ARGS_ENDPOINTS_MAX);
                        a->endpoints[a->n_endpoints++] = optarg;
                        break;
                }
        }
        int n = argc - optind;
        if (n < min_args)
                return cli_usage_error(full, "'slipway %s' needs %d argument%s", full, min_args,
                                       min_args == 1 ? "" : "s");
        if (n > max_args)
                return cli_usage_error(full, "Unexpected argument '%s'", argv[optind + max_args]);
        return -1;
}

int model_split_component(const char *full, const char *arg, char **ret_project, char **ret_component) {
        const char *slash = strchr(arg, '/');
        _cleanup_free_ char *p = NULL;

        if (!slash || slash == arg || !slash[1] || strchr(slash + 1, '/'))
                return cli_usage_error(full, "Give the component as PROJECT/NAME (e.g. shop/web), not '%s'",
                                       arg);
        p = strndup(arg, (size_t)(slash - arg));
        if (!p)
                return log_oom_cli();
        *ret_project = TAKE_PTR(p);
        *ret_component = strdup(slash + 1);
        if (!*ret_component)
                return log_oom_cli();
        return -1;
}

char *model_api_path(const char *project, const char *component, const char *suffix) {
        _cleanup_free_ char *pe = http_url_encode(project),
                            *ce = component ? http_url_encode(component) : NULL;
        char *s;

        if (!pe || (component && !ce))
                return NULL;
        if (asprintf(&s, "/api/v1/projects/%s%s%s%s", pe, component ? "/components/" : "", strempty(ce),
                     strempty(suffix)) < 0)
                return NULL;
        return s;
}

const char *model_format_time(json_t *t, char buf[static 32]) {
        time_t v = (time_t)json_integer_value(t);
        struct tm tm;

        if (!json_is_integer(t) || v <= 0 || !gmtime_r(&v, &tm) ||
            strftime(buf, 32, "%Y-%m-%d %H:%M", &tm) == 0)
                return strcpy(buf, "-");
        return buf;
}

const char *model_short_digest(const char *d, char buf[static 13]) {
        const char *hex = d && startswith(d, "sha256:") ? d + 7 : strempty(d);
        snprintf(buf, 13, "%s", hex);
        return buf;
}

int model_parse_duration_ms(const char *s, uint32_t *ret) {
        char buf[64];
        uint64_t ns;
        size_t n = s ? strlen(s) : 0;

        /* Go's duration syntax (duration.h), plus what people type at a prompt: a bare number means
         * seconds and "min" means minutes. */
        if (n == 0 || n >= sizeof buf - 1)
                return -EINVAL;
        if (endswith(s, "min"))
                snprintf(buf, sizeof buf, "%.*sm", (int) (n - 3), s);
        else if (isdigit((unsigned char) s[n - 1]))
                snprintf(buf, sizeof buf, "%ss", s);
        else
                snprintf(buf, sizeof buf, "%s", s);
        if (duration_parse(buf, &ns) < 0)
                return -EINVAL;
        if (ns < NSEC_PER_MSEC || ns > UINT64_C(3600000) * NSEC_PER_MSEC)
                return -EINVAL;
        *ret = (uint32_t) ((ns + NSEC_PER_MSEC / 2) / NSEC_PER_MSEC);
        return 0;
}
