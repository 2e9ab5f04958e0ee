/* Option parsing and API calls shared by the project, env, component, releases, url
 * and logs commands.  Options are checked against the command's help text, so a command never silently
 * ignores one. */
#include "cmd-model-args.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "duration.h"
#include "http-client.h"
#include "json-util.h"
#include "string-util.h"

#define NSEC_PER_SEC (UINT64_C(1000) * NSEC_PER_MSEC)

static int store_endpoint(const char *full, const char *arg, void *args) {
        ModelArgs *a = args;

        if (a->n_endpoints >= MODEL_ARGS_ENDPOINTS_MAX)
                return cli_usage_errno(full, "At most %u --endpoint options", MODEL_ARGS_ENDPOINTS_MAX);
        a->endpoints[a->n_endpoints++] = arg;
        return 0;
}

static int store_config(const char *full, const char *arg, void *args) {
        ModelArgs *a = args;

        if (a->n_configs >= MODEL_ARGS_CONFIGS_MAX)
                return cli_usage_errno(full, "At most %u --config options", MODEL_ARGS_CONFIGS_MAX);
        a->configs[a->n_configs++] = arg;
        return 0;
}

static int store_no_config(const char *full, const char *arg, void *args) {
        ModelArgs *a = args;

        if (a->n_no_configs >= MODEL_ARGS_CONFIGS_MAX)
                return cli_usage_errno(full, "At most %u --no-config options", MODEL_ARGS_CONFIGS_MAX);
        a->no_configs[a->n_no_configs++] = arg;
        return 0;
}

static int store_egress(const char *full, const char *arg, void *args) {
        if (!streq(arg, "on") && !streq(arg, "off"))
                return cli_usage_errno(full, "--egress takes 'on' or 'off', not '%s'", arg);
        ((ModelArgs *) args)->egress = arg;
        return 0;
}

static int store_protected(const char *full, const char *arg, void *args) {
        if (!streq(arg, "on") && !streq(arg, "off"))
                return cli_usage_errno(full, "--protected takes 'on' or 'off', not '%s'", arg);
        ((ModelArgs *) args)->is_protected = arg;
        return 0;
}

static int store_scan_fail_on(const char *full, const char *arg, void *args) {
        if (!streq(arg, "critical") && !streq(arg, "high") && !streq(arg, "none"))
                return cli_usage_errno(full, "--scan-fail-on takes 'critical', 'high' or 'none', not '%s'",
                                       arg);
        ((ModelArgs *) args)->scan_fail_on = arg;
        return 0;
}

#define S(name, field) CLI_STRING_OPTION(name, ModelArgs, field)
#define F(name, field) CLI_FLAG_OPTION(name, ModelArgs, field)

/* The options of every model command; which of them a command takes is what its help text names. */
static const CliOption model_options[] = {
        S("envs", envs),
        S("after", after),
        S("image", image),
        S("health", health),
        S("memory", memory),
        S("cpus", cpus),
        S("lines", lines),
        F("force", force),
        { "endpoint", false, 0, store_endpoint },
        F("follow", follow),
        S("domain", domain),
        F("no-domain", no_domain),
        { "egress", false, 0, store_egress },
        { "protected", false, 0, store_protected },
        S("ingress-port", ingress_port),
        S("liveness", liveness),
        S("health-interval", health_interval),
        S("health-timeout", health_timeout),
        S("health-failures", health_failures),
        S("deploy-timeout", deploy_timeout),
        S("pids", pids),
        { "config", false, 0, store_config },
        { "no-config", false, 0, store_no_config },
        S("bake", bake),
        S("bake-max-5xx", bake_max_5xx),
        S("keep-releases", keep_releases),
        S("git", git),
        S("branch", branch),
        S("dir", dir),
        S("dockerfile", dockerfile),
        S("poll", poll),
        S("builds-keep", builds_keep),
        F("git-token-stdin", git_token_stdin),
        S("ssh-key-file", ssh_key_file),
        F("ssh-host-key-reset", ssh_host_key_reset),
        S("push-to", push_to),
        F("no-push", no_push),
        { "scan-fail-on", false, 0, store_scan_fail_on },
};

int model_args_parse(CliContext *c, const char *full, const char *help, int argc, char *argv[], ModelArgs *a,
                     int min_args, int max_args) {
        int r;

        r = cli_parse_options(c, full, help, model_options, ELEMENTSOF(model_options), a, argc, argv);
        if (r <= 0)
                return r;
        int n = argc - optind;
        if (n < min_args)
                return cli_usage_errno(full, "'slipway %s' needs %d argument%s", full, min_args,
                                       min_args == 1 ? "" : "s");
        if (n > max_args)
                return cli_usage_errno(full, "Unexpected argument '%s'", argv[optind + max_args]);
        return 1;
}

int model_split_component(const char *full, const char *arg, char **ret_project, char **ret_component) {
        const char *slash = strchr(arg, '/');
        _cleanup_free_ char *p = NULL, *n = NULL;

        if (!slash || slash == arg || !slash[1] || strchr(slash + 1, '/'))
                return cli_usage_errno(full, "Give the component as PROJECT/NAME (e.g. shop/web), not '%s'",
                                       arg);
        p = strndup(arg, (size_t) (slash - arg));
        n = strdup(slash + 1);
        if (!p || !n)
                return cli_oom_errno();
        *ret_project = TAKE_PTR(p);
        *ret_component = TAKE_PTR(n);
        return 0;
}

int model_args_parse_component(CliContext *c, const char *full, const char *help, int argc, char *argv[],
                               ModelArgs *a, int min_args, int max_args, char **ret_project,
                               char **ret_component) {
        int r;

        r = model_args_parse(c, full, help, argc, argv, a, min_args, max_args);
        if (r <= 0)
                return r;
        r = model_split_component(full, argv[optind], ret_project, ret_component);
        if (r < 0)
                return r;
        return 1;
}

int model_call(CliContext *c, const char *method, const char *path, json_t *body, json_t **ret) {
        _cleanup_json_ json_t *j = NULL;

        if (cli_api_json(c, method, path, body, &j) < 0)
                return -EIO;
        if (c->json) {
                cli_print_json(j);
                return 0;
        }
        *ret = TAKE_PTR(j);
        return 1;
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
        time_t v = (time_t) json_integer_value(t);
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
        return model_parse_duration_ms_max(s, 3600u * 1000u, ret);
}

int model_parse_duration_ms_max(const char *s, uint32_t max_ms, uint32_t *ret) {
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
        if (ns < NSEC_PER_MSEC || ns > (uint64_t) max_ms * NSEC_PER_MSEC)
                return -EINVAL;
        *ret = (uint32_t) ((ns + NSEC_PER_MSEC / 2) / NSEC_PER_MSEC);
        return 0;
}

int model_parse_duration_sec(const char *s, uint64_t max_sec, uint64_t *ret) {
        char buf[64];
        const char *rest = s;
        uint64_t days = 0, ns = 0, sec;
        size_t n = s ? strlen(s) : 0;

        /* Go's syntax (duration.h) has no days: a leading "Nd" is taken here, the rest by duration_parse();
         * a bare number means seconds, as in model_parse_duration_ms(). */
        if (n == 0 || n >= sizeof buf - 1)
                return -EINVAL;
        if (isdigit((unsigned char) s[0])) {
                char *end;
                unsigned long long v;

                errno = 0;
                v = strtoull(s, &end, 10);
                if (errno == 0 && *end == 'd') {
                        if (v > max_sec / (24U * 3600U))
                                return -EINVAL;
                        days = v;
                        rest = end + 1;
                }
        }
        if (*rest) {
                n = strlen(rest);
                snprintf(buf, sizeof buf, "%s%s", rest, isdigit((unsigned char) rest[n - 1]) ? "s" : "");
                if (duration_parse(buf, &ns) < 0)
                        return -EINVAL;
        } else if (rest == s)
                return -EINVAL;
        sec = days * 24U * 3600U + (ns + NSEC_PER_SEC / 2) / NSEC_PER_SEC;
        if (sec < 1 || sec > max_sec)
                return -EINVAL;
        *ret = sec;
        return 0;
}

int model_parse_poll_sec(const char *s, uint32_t *ret) {
        char buf[64];
        uint64_t ns;
        size_t n = s ? strlen(s) : 0;

        if (streq_ptr(s, "off") || streq_ptr(s, "0")) {
                *ret = 0;
                return 0;
        }
        /* As model_parse_duration_ms(): a bare number means seconds. */
        if (n == 0 || n >= sizeof buf - 1)
                return -EINVAL;
        snprintf(buf, sizeof buf, "%s%s", s, isdigit((unsigned char) s[n - 1]) ? "s" : "");
        if (duration_parse(buf, &ns) < 0)
                return -EINVAL;
        if (ns < NSEC_PER_SEC || ns > (uint64_t) MODEL_POLL_SEC_MAX * NSEC_PER_SEC)
                return -EINVAL;
        *ret = (uint32_t) ((ns + NSEC_PER_SEC / 2) / NSEC_PER_SEC);
        return 0;
}

/* "scheme://…" or scp-like "[user@]host:path" (a colon before any slash). */
static bool git_is_url(const char *s) {
        const char *colon = strchr(s, ':'), *slash = strchr(s, '/');

        if (strstr(s, "://"))
                return true;
        return colon && colon != s && (!slash || colon < slash);
}

int model_git_source(const char *full, const char *arg, char **ret) {
        char *s;

        if (isempty(arg))
                return cli_usage_errno(full, "--git takes a git URL or the path of a local repository");
        if (git_is_url(arg))
                s = strdup(arg);
        else {
                s = realpath(arg, NULL);
                if (!s && errno != ENOMEM)
                        return cli_usage_errno(full,
                                               "--git '%s' is neither a URL nor an existing directory (%s)",
                                               arg, strerror(errno));
        }
        if (!s)
                return cli_oom_errno();
        *ret = s;
        return 0;
}
