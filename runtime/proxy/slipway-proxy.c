/* slipway-proxy: thin command-line front end.  "serve" (or no verb) runs the proxy; "route …" and
 * "stats" talk to a running proxy through DIR/proxy.sock. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "proxy-client.h"
#include "proxy-server.h"

#define TIMEOUT_MAX_S 86400.0

static _noreturn_ void usage_error(const char *fmt, const char *arg) {
        fprintf(stderr, "slipway-proxy: ");
        fprintf(stderr, fmt, arg);
        fprintf(stderr, " See \"slipway-proxy --help\".\n");
        exit(2);
}

static void help(void) {
        printf("slipway-proxy — HTTP/1.1 reverse proxy with atomic swaps and draining\n\n"
               "  slipway-proxy [serve] --state-dir DIR [--workers N] [--access-log FILE|-]\n"
               "        [--header-timeout S] [--upstream-timeout S] [--idle-timeout S]\n"
               "        [--shutdown-timeout S] [--max-connections N]\n"
               "        (N: client connections per worker; default and most: what the open-files limit\n"
               "        allows, keeping a descriptor for each one's upstream)\n"
               "  slipway-proxy route set --state-dir DIR NAME --listen ADDR:PORT [--host H]\n"
               "        [--path P [--strip]] [--target ADDR:PORT[,...]] [--balance round-robin|least-conn]\n"
               "        [--drain-timeout S] [--wait-drained] [--json]\n"
               "  slipway-proxy route rm --state-dir DIR NAME [--wait-drained] [--json]\n"
               "  slipway-proxy route list --state-dir DIR [--json]\n"
               "  slipway-proxy route replace-all --state-dir DIR --file routes.json [--wait-drained] [--json]\n"
               "  slipway-proxy stats --state-dir DIR [--json]\n");
}

enum {
        OPT_STATE_DIR = 0x100,
        OPT_WORKERS,
        OPT_ACCESS_LOG,
        OPT_HEADER_TIMEOUT,
        OPT_UPSTREAM_TIMEOUT,
        OPT_IDLE_TIMEOUT,
        OPT_SHUTDOWN_TIMEOUT,
        OPT_MAX_CONN,
        OPT_LISTEN,
        OPT_HOST,
        OPT_PATH,
        OPT_STRIP,
        OPT_TARGET,
        OPT_BALANCE,
        OPT_DRAIN_TIMEOUT,
        OPT_WAIT_DRAINED,
        OPT_JSON,
        OPT_FILE,
        OPT_HELP,
};

static const struct option options[] = {
        { "state-dir", required_argument, NULL, OPT_STATE_DIR },
        { "workers", required_argument, NULL, OPT_WORKERS },
        { "access-log", required_argument, NULL, OPT_ACCESS_LOG },
        { "header-timeout", required_argument, NULL, OPT_HEADER_TIMEOUT },
        { "upstream-timeout", required_argument, NULL, OPT_UPSTREAM_TIMEOUT },
        { "idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT },
        { "shutdown-timeout", required_argument, NULL, OPT_SHUTDOWN_TIMEOUT },
        { "max-connections", required_argument, NULL, OPT_MAX_CONN },
        { "listen", required_argument, NULL, OPT_LISTEN },
        { "host", required_argument, NULL, OPT_HOST },
        { "path", required_argument, NULL, OPT_PATH },
        { "strip", no_argument, NULL, OPT_STRIP },
        { "target", required_argument, NULL, OPT_TARGET },
        { "balance", required_argument, NULL, OPT_BALANCE },
        { "drain-timeout", required_argument, NULL, OPT_DRAIN_TIMEOUT },
        { "wait-drained", no_argument, NULL, OPT_WAIT_DRAINED },
        { "json", no_argument, NULL, OPT_JSON },
        { "file", required_argument, NULL, OPT_FILE },
        { "help", no_argument, NULL, OPT_HELP },
        {}
};

static unsigned parse_ms(const char *s, const char *what) {
        char *end;
        double v = strtod(s, &end);
        if (!*s || *end || !isfinite(v) || v <= 0 || v > TIMEOUT_MAX_S)
                usage_error("%s must be a number of seconds greater than 0.", what);
        return (unsigned) (v * 1000.0 + 0.5);
}

static unsigned parse_uint(const char *s, const char *what, unsigned max) {
        char *end;
        unsigned long v = strtoul(s, &end, 10);
        if (!*s || *end || *s == '-' || v > max)
                usage_error("%s must be a whole number in range.", what);
        return (unsigned) v;
}

static int call(const char *state_dir, json_t *req, bool as_json, json_t **ret) {
        json_t *reply = NULL;
        int r = proxy_control_call(state_dir, req, &reply);
        if (r == -ENOENT || r == -ECONNREFUSED) {
                fprintf(stderr,
                        "slipway-proxy: no proxy is running for %s; start it with "
                        "\"slipway-proxy serve --state-dir %s\".\n",
                        state_dir, state_dir);
                return 1;
        }
        if (r < 0) {
                fprintf(stderr, "slipway-proxy: talking to the proxy failed: %s.\n", strerror(-r));
                return 1;
        }
        /* with --json the reply is printed as it came, refusals too */
        if (as_json) {
                _cleanup_free_ char *s = json_dumps(reply, JSON_INDENT(2));
                if (s)
                        printf("%s\n", s);
        }
        if (!json_is_true(json_object_get(reply, "ok"))) {
                const char *e = json_string_value(json_object_get(reply, "error"));
                fprintf(stderr, "slipway-proxy: %s\n", e ? e : "the proxy refused the command.");
                json_decref(reply);
                return 1;
        }
        *ret = reply;
        return 0;
}

/* A command that only reads ("stats", "route-list"): the reply goes out as JSON with --json, else
 * through print. */
static int query(const char *state_dir, const char *cmd, bool as_json, void (*print)(json_t *reply)) {
        _cleanup_json_ json_t *req = json_pack("{s:s}", "cmd", cmd), *reply = NULL;

        if (call(state_dir, req, as_json, &reply))
                return 1;
        if (!as_json)
                print(reply);
        return 0;
}

int main(int argc, char *argv[]) {
        ProxyConfig cfg = PROXY_CONFIG_DEFAULTS;
        const char *verb = NULL, *sub = NULL, *listen = NULL, *host = NULL, *path = NULL, *targets = NULL,
                   *balance = NULL, *file = NULL, *name = NULL;
        bool strip = false, wait = false, as_json = false;
        long drain = -1;
        int c;

        log_set_ident("slipway-proxy");
        /* verbs come first; options may follow anywhere */
        if (argc > 1 && argv[1][0] != '-') {
                verb = argv[1];
                argc--;
                argv++;
                if (streq(verb, "route")) {
                        if (argc < 2 || argv[1][0] == '-')
                                usage_error("%s needs a subcommand: set, rm, list or replace-all.", "route");
                        sub = argv[1];
                        argc--;
                        argv++;
                }
        }
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case OPT_STATE_DIR:
                        cfg.state_dir = optarg;
                        break;
                case OPT_WORKERS:
                        cfg.n_workers = parse_uint(optarg, "--workers", PROXY_WORKERS_MAX);
                        break;
                case OPT_ACCESS_LOG:
                        cfg.access_log = optarg;
                        break;
                case OPT_HEADER_TIMEOUT:
                        cfg.header_timeout_ms = parse_ms(optarg, "--header-timeout");
                        break;
                case OPT_UPSTREAM_TIMEOUT:
                        cfg.upstream_timeout_ms = parse_ms(optarg, "--upstream-timeout");
                        break;
                case OPT_IDLE_TIMEOUT:
                        cfg.idle_timeout_ms = parse_ms(optarg, "--idle-timeout");
                        break;
                case OPT_SHUTDOWN_TIMEOUT:
                        cfg.shutdown_timeout_ms = parse_ms(optarg, "--shutdown-timeout");
                        break;
                case OPT_MAX_CONN:
                        cfg.max_conns = parse_uint(optarg, "--max-connections", PROXY_MAX_CONNS_MAX);
                        if (cfg.max_conns == 0)
                                usage_error("%s", "--max-connections must be at least 1.");
                        break;
                case OPT_LISTEN:
                        listen = optarg;
                        break;
                case OPT_HOST:
                        host = optarg;
                        break;
                case OPT_PATH:
                        path = optarg;
                        break;
                case OPT_STRIP:
                        strip = true;
                        break;
                case OPT_TARGET:
                        targets = optarg;
                        break;
                case OPT_BALANCE:
                        balance = optarg;
                        break;
                case OPT_DRAIN_TIMEOUT:
                        drain = parse_uint(optarg, "--drain-timeout", ROUTE_DRAIN_TIMEOUT_MAX_S);
                        break;
                case OPT_WAIT_DRAINED:
                        wait = true;
                        break;
                case OPT_JSON:
                        as_json = true;
                        break;
                case OPT_FILE:
                        file = optarg;
                        break;
                case 'h':
                case OPT_HELP:
                        help();
                        return 0;
                default:
                        exit(2);
                }
        }
        if (optind < argc)
                name = argv[optind++];
        if (optind < argc)
                usage_error("unexpected argument \"%s\".", argv[optind]);
        if (!cfg.state_dir)
                usage_error("%s", "--state-dir DIR is required.");

        if (!verb || streq(verb, "serve")) {
                if (name)
                        usage_error("serve takes no argument \"%s\".", name);
                return proxy_serve(&cfg) < 0 ? 1 : 0;
        }

        if (streq(verb, "stats"))
                return query(cfg.state_dir, "stats", as_json, proxy_print_stats);
        if (!streq(verb, "route"))
                usage_error("unknown command \"%s\".", verb);

        if (streq(sub, "list"))
                return query(cfg.state_dir, "route-list", as_json, proxy_print_routes);

        _cleanup_json_ json_t *req = NULL, *reply = NULL;
        if (streq(sub, "set")) {
                json_t *route, *tl;
                if (!name)
                        usage_error("%s", "route set needs a route NAME.");
                if (!listen)
                        usage_error("%s", "route set needs --listen ADDR:PORT.");
                route = json_pack("{s:s,s:s,s:b}", "name", name, "listen", listen, "strip", strip);
                tl = json_array();
                if (!route || !tl)
                        return log_oom(), 1;
                if (host)
                        json_object_set_new(route, "host", json_string(host));
                if (path)
                        json_object_set_new(route, "path", json_string(path));
                if (balance)
                        json_object_set_new(route, "balance", json_string(balance));
                if (drain >= 0)
                        json_object_set_new(route, "drain_timeout", json_integer(drain));
                if (targets && *targets) {
                        _cleanup_free_ char *copy = strdup(targets);
                        char *save = NULL;
                        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
                                json_array_append_new(tl, json_string(t));
                }
                json_object_set_new(route, "targets", tl);
                req = json_pack("{s:s,s:o,s:b}", "cmd", "route-set", "route", route, "wait_drained", wait);
        } else if (streq(sub, "rm")) {
                if (!name)
                        usage_error("%s", "route rm needs a route NAME.");
                req = json_pack("{s:s,s:s,s:b}", "cmd", "route-rm", "name", name, "wait_drained", wait);
        } else if (streq(sub, "replace-all")) {
                json_error_t jerr;
                json_t *routes;
                if (!file)
                        usage_error("%s", "route replace-all needs --file routes.json.");
                int k;
                routes = NULL;
                k = json_parse_file_at(AT_FDCWD, file, PROXY_CONTROL_REQUEST_MAX, &routes, &jerr);
                if (k == -EBADMSG || k == -ELOOP) {
                        fprintf(stderr, "slipway-proxy: cannot read %s: %s (line %d); fix the JSON.\n", file,
                                jerr.text, jerr.line);
                        return 1;
                }
                if (k < 0) {
                        fprintf(stderr, "slipway-proxy: cannot read %s: %s.\n", file, strerror(-k));
                        return 1;
                }
                req = json_pack("{s:s,s:O,s:b}", "cmd", "replace-all", "routes",
                                json_object_get(routes, "routes") ?: json_null(), "wait_drained", wait);
                json_decref(routes);
        } else
                usage_error("unknown route subcommand \"%s\": use set, rm, list or replace-all.", sub);
        if (!req)
                return log_oom(), 1;
        if (call(cfg.state_dir, req, as_json, &reply))
                return 1;
        if (!as_json) {
                json_t *d = json_object_get(reply, "drain");
                printf("Route table updated (generation %" JSON_INTEGER_FORMAT ").\n",
                       json_integer_value(json_object_get(reply, "generation")));
                if (d)
                        printf("Drained old targets: %" JSON_INTEGER_FORMAT
                               " finished, %" JSON_INTEGER_FORMAT " cut.\n",
                               json_integer_value(json_object_get(d, "finished")),
                               json_integer_value(json_object_get(d, "cut")));
        }
        return 0;
}
