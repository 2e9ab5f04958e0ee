/* slipway project create|list|set|delete and slipway env list|create: projects and their environments in
 * promotion order.  The daemon validates and allocates; this file only builds requests and prints. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd-model-args.h"
#include "http-client.h"
#include "json-util.h"
#include "string-util.h"

static const char project_help[] =
        "Usage: slipway project create NAME [--envs development,production]\n"
        "       slipway project list\n"
        "       slipway project set NAME [--push-to REGISTRY | --no-push] [--scan-fail-on critical|high|none]\n"
        "       slipway project delete NAME [--force]\n\n"
        "Projects group components; each has environments in promotion order (default: development,\n"
        "production), each with its own network, subnet and ingress port.\n";

static const char create_help[] =
        "Usage: slipway project create NAME [--envs a,b,c] [--json]\n\n"
        "Creates a project.  Its environments are created in the given (promotion) order; without --envs\n"
        "they are development,production.  Names are DNS labels: a-z, 0-9 and '-', at most 63.\n\n"
        "  --envs LIST   comma-separated environment names, first = first to deploy to\n"
        "  --json        print the project as JSON\n";

static const char list_help[] =
        "Usage: slipway project list [--json]\n\n"
        "Lists projects: NAME, ENVIRONMENTS (in promotion order), COMPONENTS, INSTANCES, PUSH-TO (the registry\n"
        "builds are pushed to) and SCAN-FAIL-ON (the findings that fail a build).\n";

static const char set_help[] =
        "Usage: slipway project set NAME [--push-to REGISTRY | --no-push] [--scan-fail-on critical|high|none]\n"
        "                           [--json]\n\n"
        "Changes a project's build settings.\n\n"
        "  --push-to REGISTRY      the pipeline's push step copies each built image to REGISTRY (see\n"
        "                          'slipway registry add') as PROJECT/COMPONENT:<short commit>\n"
        "  --no-push               builds are not pushed anywhere (the default)\n"
        "  --scan-fail-on LEVEL    the scan step fails a build on findings of LEVEL or worse: critical (the\n"
        "                          default), high, or none (findings are kept but fail nothing)\n";

static const char delete_help[] =
        "Usage: slipway project delete NAME [--force] [--json]\n\n"
        "Deletes a project with its environments, components and releases.  Refused while instances of\n"
        "the project run, unless --force, which stops them and tears down their networks first.\n\n"
        "  --force   stop running instances and delete everything\n";

static void print_env_line(json_t *e) {
        const char *domain = json_string_value(json_object_get(e, "domain"));
        printf("  %-16s %-16s ingress port %lld, bridge %s%s%s%s%s\n",
               json_string_value(json_object_get(e, "name")),
               json_string_value(json_object_get(e, "subnet")),
               (long long) json_integer_value(json_object_get(e, "ingress_port")),
               json_string_value(json_object_get(e, "bridge")), domain ? ", domain " : "", domain ?: "",
               json_is_true(json_object_get(e, "egress")) ? ", egress on" : "",
               json_is_true(json_object_get(e, "protected")) ? ", protected" : "");
}

static int project_create(CliContext *c, int argc, char *argv[]) {
        ModelArgs a = {};
        _cleanup_json_ json_t *body = NULL, *j = NULL;
        json_t *e;
        size_t i;
        int r;

        r = model_args_parse(c, "project create", create_help, argc, argv, &a, 1, 1);
        if (r <= 0)
                return cli_exit_status(r);
        body = json_pack("{s:s}", "name", argv[optind]);
        if (!body)
                return log_oom_cli();
        if (a.envs) {
                _cleanup_free_ char *copy = strdup(a.envs);
                json_t *arr = json_array();
                char *save = NULL;

                if (!copy || !arr || json_object_set_new(body, "envs", arr) < 0)
                        return log_oom_cli();
                if (a.envs[0] == ',' || strstr(a.envs, ",,") ||
                    (*a.envs && a.envs[strlen(a.envs) - 1] == ','))
                        return cli_usage_error("project create",
                                               "--envs '%s' has an empty name; give names "
                                               "separated by commas, like development,production",
                                               a.envs);
                for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
                        json_array_append_new(arr, json_string(tok));
                if (json_array_size(arr) == 0)
                        return cli_usage_error("project create",
                                               "--envs needs at least one environment name");
        }
        r = model_call(c, "POST", "/api/v1/projects", body, &j);
        if (r <= 0)
                return cli_exit_status(r);
        printf("Created project %s with environments:\n", json_string_value(json_object_get(j, "name")));
        json_array_foreach(json_object_get(j, "environments"), i, e)
                print_env_line(e);
        return 0;
}

static int project_list(CliContext *c, int argc, char *argv[]) {
        ModelArgs a = {};
        _cleanup_json_ json_t *j = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        json_t *p;
        size_t i;
        int r;

        r = model_args_parse(c, "project list", list_help, argc, argv, &a, 0, 0);
        if (r <= 0)
                return cli_exit_status(r);
        r = model_call(c, "GET", "/api/v1/projects", NULL, &j);
        if (r <= 0)
                return cli_exit_status(r);
        t = table_new(6, "NAME", "ENVIRONMENTS", "COMPONENTS", "INSTANCES", "PUSH-TO", "SCAN-FAIL-ON");
        if (!t)
                return log_oom_cli();
        json_array_foreach(json_object_get(j, "projects"), i, p) {
                char envs[1024] = "", comps[16], insts[16];
                size_t k, len = 0;
                json_t *e;

                json_array_foreach(json_object_get(p, "environments"), k, e)
                        if (len < sizeof envs)
                                len += (size_t) snprintf(envs + len, sizeof envs - len, "%s%s", k ? "," : "",
                                                         json_string_value(json_object_get(e, "name")));
                snprintf(comps, sizeof comps, "%lld",
                         (long long) json_integer_value(json_object_get(p, "components")));
                snprintf(insts, sizeof insts, "%lld",
                         (long long) json_integer_value(json_object_get(p, "instances")));
                if (table_add_row(t, json_string_value(json_object_get(p, "name")), envs, comps, insts,
                                  json_string_value(json_object_get(p, "push_to")) ?: "-",
                                  json_string_value(json_object_get(p, "scan_fail_on")) ?: "-") < 0)
                        return log_oom_cli();
        }
        table_print(t);
        return 0;
}

static int project_set(CliContext *c, int argc, char *argv[]) {
        ModelArgs a = {};
        _cleanup_json_ json_t *j = NULL, *body = json_object();
        _cleanup_free_ char *path = NULL;
        const char *push_to;
        int r;

        r = model_args_parse(c, "project set", set_help, argc, argv, &a, 1, 1);
        if (r <= 0)
                return cli_exit_status(r);
        if (!body)
                return log_oom_cli();
        if (a.push_to && a.no_push)
                return cli_usage_error("project set", "Give --push-to or --no-push, not both");
        if (!a.push_to && !a.no_push && !a.scan_fail_on)
                return cli_usage_error("project set",
                                       "Nothing to change: give --push-to, --no-push or --scan-fail-on");
        if ((a.push_to && json_object_set_new(body, "push_to", json_string(a.push_to)) < 0) ||
            (a.no_push && json_object_set_new(body, "push_to", json_null()) < 0) ||
            (a.scan_fail_on && json_object_set_new(body, "scan_fail_on", json_string(a.scan_fail_on)) < 0))
                return log_oom_cli();
        path = model_api_path(argv[optind], NULL, NULL);
        if (!path)
                return log_oom_cli();
        r = model_call(c, "PATCH", path, body, &j);
        if (r <= 0)
                return cli_exit_status(r);
        push_to = json_string_value(json_object_get(j, "push_to"));
        printf("Project %s: builds are %s%s; the scan step fails on %s findings.\n",
               json_string_value(json_object_get(j, "name")), push_to ? "pushed to registry " : "not pushed",
               strempty(push_to), json_string_value(json_object_get(j, "scan_fail_on")) ?: "critical");
        return 0;
}

static int project_delete(CliContext *c, int argc, char *argv[]) {
        ModelArgs a = {};
        _cleanup_json_ json_t *j = NULL;
        _cleanup_free_ char *path = NULL, *full = NULL;
        int r;

        r = model_args_parse(c, "project delete", delete_help, argc, argv, &a, 1, 1);
        if (r <= 0)
                return cli_exit_status(r);
        path = model_api_path(argv[optind], NULL, NULL);
        if (!path || asprintf(&full, "%s%s", path, a.force ? "?force=1" : "") < 0)
                return log_oom_cli();
        r = model_call(c, "DELETE", full, NULL, &j);
        if (r <= 0)
                return cli_exit_status(r);
        long long stopped = (long long) json_integer_value(json_object_get(j, "instances_stopped"));
        if (stopped > 0)
                printf("Deleted project %s (stopped %lld instance%s).\n",
                       json_string_value(json_object_get(j, "deleted")), stopped, stopped == 1 ? "" : "s");
        else
                printf("Deleted project %s.\n", json_string_value(json_object_get(j, "deleted")));
        return 0;
}

int cmd_project(CliContext *c, int argc, char *argv[]) {
        static const CliVerb verbs[] = {
                { "create", project_create }, { "list", project_list },     { "ls", project_list },
                { "set", project_set },       { "delete", project_delete }, { "rm", project_delete },
        };

        return cli_dispatch(c, "project", project_help, "create, list, set, delete", verbs,
                            ELEMENTSOF(verbs), argc, argv);
}

static const char env_help[] =
        "Usage: slipway env list PROJECT\n"
        "       slipway env create PROJECT ENV [--after ENV] [--domain DOMAIN] [--egress on|off]\n"
        "                          [--ingress-port PORT]\n"
        "       slipway env set PROJECT ENV [--domain DOMAIN | --no-domain] [--egress on|off]\n"
        "                       [--ingress-port PORT] [--protected on|off]\n\n"
        "Environments of a project, in promotion order.\n";

static const char env_list_help[] =
        "Usage: slipway env list PROJECT [--json]\n\n"
        "Lists a project's environments in promotion order: NAME, SUBNET, INGRESS, BRIDGE, DOMAIN, EGRESS,\n"
        "PROTECTED (a developer's promotion into it waits for an admin's approval).\n";

static const char env_create_help[] =
        "Usage: slipway env create PROJECT ENV [--after ENV] [--domain DOMAIN] [--egress on|off]\n"
        "                          [--ingress-port PORT] [--json]\n\n"
        "Adds an environment with its own subnet, bridge and ingress port.  Without --after it becomes\n"
        "the last one in the promotion order.\n\n"
        "  --after ENV          insert right after ENV in the promotion order\n"
        "  --domain DOMAIN      public endpoints also answer at COMPONENT.DOMAIN on the ingress port\n"
        "  --egress on|off      may its containers reach addresses beyond this host (default off)\n"
        "  --ingress-port PORT  its ingress listener (default: the next free one from the base port)\n";

static const char env_set_help[] =
        "Usage: slipway env set PROJECT ENV [--domain DOMAIN | --no-domain] [--egress on|off]\n"
        "                       [--ingress-port PORT] [--protected on|off] [--json]\n\n"
        "Changes an environment's settings; running components get the new routes and isolation rules\n"
        "at once (no redeploy).  A change that cannot be applied is undone.\n\n"
        "  --domain DOMAIN      public endpoints also answer at COMPONENT.DOMAIN on the ingress port\n"
        "  --no-domain          remove the domain (path-based URLs keep working)\n"
        "  --egress on|off      may its containers reach addresses beyond this host\n"
        "  --ingress-port PORT  move its ingress listener to PORT\n"
        "  --protected on|off   a developer's promotion into it becomes a request an admin approves or\n"
        "                       rejects ('slipway approvals'); an admin's goes ahead (admin only)\n";

/* The settings options into body: 0, or -EINVAL for a usage error (said), -ENOMEM. */
static int env_settings_to_json(const char *full, const ModelArgs *a, json_t *body) {
        if (a->domain && a->no_domain)
                return cli_usage_errno(full, "Give --domain or --no-domain, not both");
        if (a->domain && json_object_set_new(body, "domain", json_string(a->domain)) < 0)
                return cli_oom_errno();
        if (a->no_domain && json_object_set_new(body, "domain", json_null()) < 0)
                return cli_oom_errno();
        if (a->egress && json_object_set_new(body, "egress", json_boolean(streq(a->egress, "on"))) < 0)
                return cli_oom_errno();
        if (a->ingress_port) {
                char *end = NULL;
                unsigned long port = strtoul(a->ingress_port, &end, 10);
                if (!*a->ingress_port || *end || port < 1 || port > 65535)
                        return cli_usage_errno(full,
                                               "--ingress-port takes a port between 1 and 65535, not '%s'",
                                               a->ingress_port);
                if (json_object_set_new(body, "ingress_port", json_integer((json_int_t) port)) < 0)
                        return cli_oom_errno();
        }
        return 0;
}

static int env_list(CliContext *c, int argc, char *argv[]) {
        ModelArgs a = {};
        _cleanup_json_ json_t *j = NULL;
        _cleanup_free_ char *path = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        json_t *e;
        size_t i;
        int r;

        r = model_args_parse(c, "env list", env_list_help, argc, argv, &a, 1, 1);
        if (r <= 0)
                return cli_exit_status(r);
        path = model_api_path(argv[optind], NULL, "/environments");
        if (!path)
                return log_oom_cli();
        r = model_call(c, "GET", path, NULL, &j);
        if (r <= 0)
                return cli_exit_status(r);
        t = table_new(7, "NAME", "SUBNET", "INGRESS", "BRIDGE", "DOMAIN", "EGRESS", "PROTECTED");
        if (!t)
                return log_oom_cli();
        json_array_foreach(json_object_get(j, "environments"), i, e) {
                char port[16];
                const char *domain = json_string_value(json_object_get(e, "domain"));
                snprintf(port, sizeof port, "%lld",
                         (long long) json_integer_value(json_object_get(e, "ingress_port")));
                if (table_add_row(t, json_string_value(json_object_get(e, "name")),
                                  json_string_value(json_object_get(e, "subnet")), port,
                                  json_string_value(json_object_get(e, "bridge")), domain ?: "-",
                                  json_is_true(json_object_get(e, "egress")) ? "on" : "off",
                                  json_is_true(json_object_get(e, "protected")) ? "yes" : "no") < 0)
                        return log_oom_cli();
        }
        table_print(t);
        return 0;
}

static int env_create(CliContext *c, int argc, char *argv[]) {
        ModelArgs a = {};
        _cleanup_json_ json_t *j = NULL, *body = NULL;
        _cleanup_free_ char *path = NULL;
        int r;

        r = model_args_parse(c, "env create", env_create_help, argc, argv, &a, 2, 2);
        if (r <= 0)
                return cli_exit_status(r);
        if (a.no_domain)
                return cli_usage_error("env create", "A new environment has no domain to remove");
        path = model_api_path(argv[optind], NULL, "/environments");
        body = json_pack("{s:s,s:s?}", "name", argv[optind + 1], "after", a.after);
        if (!path || !body)
                return log_oom_cli();
        r = env_settings_to_json("env create", &a, body);
        if (r < 0)
                return cli_exit_status(r);
        r = model_call(c, "POST", path, body, &j);
        if (r <= 0)
                return cli_exit_status(r);
        printf("Created environment %s in project %s:\n", json_string_value(json_object_get(j, "name")),
               json_string_value(json_object_get(j, "project")));
        print_env_line(j);
        return 0;
}

static int env_set(CliContext *c, int argc, char *argv[]) {
        ModelArgs a = {};
        _cleanup_json_ json_t *j = NULL, *body = json_object();
        _cleanup_free_ char *path = NULL, *env = NULL, *suffix = NULL;
        int r;

        r = model_args_parse(c, "env set", env_set_help, argc, argv, &a, 2, 2);
        if (r <= 0)
                return cli_exit_status(r);
        if (!body)
                return log_oom_cli();
        r = env_settings_to_json("env set", &a, body);
        if (r < 0)
                return cli_exit_status(r);
        if (a.is_protected &&
            json_object_set_new(body, "protected", json_boolean(streq(a.is_protected, "on"))) < 0)
                return log_oom_cli();
        if (json_object_size(body) == 0)
                return cli_usage_error("env set", "Nothing to change: give --domain, --no-domain, --egress, "
                                                  "--ingress-port or --protected");
        env = http_url_encode(argv[optind + 1]);
        if (!env || asprintf(&suffix, "/environments/%s", env) < 0)
                return log_oom_cli();
        path = model_api_path(argv[optind], NULL, suffix);
        if (!path)
                return log_oom_cli();
        r = model_call(c, "PATCH", path, body, &j);
        if (r <= 0)
                return cli_exit_status(r);
        printf("Changed environment %s in project %s:\n", json_string_value(json_object_get(j, "name")),
               json_string_value(json_object_get(j, "project")));
        print_env_line(j);
        return 0;
}

int cmd_env(CliContext *c, int argc, char *argv[]) {
        static const CliVerb verbs[] = {
                { "list", env_list },
                { "ls", env_list },
                { "create", env_create },
                { "set", env_set },
        };

        return cli_dispatch(c, "env", env_help, "list, create, set", verbs, ELEMENTSOF(verbs), argc, argv);
}
