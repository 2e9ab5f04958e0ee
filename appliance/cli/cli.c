/* slipway's connection to slipwayd and its error/output conventions. */
#include "cli.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "first-line.h"
#include "fs-util.h"
#include "json-util.h"
#include "macro.h"
#include "string-util.h"

void cli_context_done(CliContext *c) {
        free(c->url);
        free(c->token);
        http_url_done(&c->u);
}

static void print_sentence(const char *prefix, const char *s) {
        size_t n = strlen(s);
        /* One sentence per line, always ending in a full stop. */
        fprintf(stderr, "%s%s%s\n", prefix, s, n > 0 && strchr(".!?", s[n - 1]) ? "" : ".");
}

static void print_error(const char *fmt, va_list ap) {
        char msg[1024];

        vsnprintf(msg, sizeof msg, fmt, ap);
        print_sentence("Error: ", msg);
}

int cli_error(const char *hint, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        print_error(fmt, ap);
        va_end(ap);
        if (!isempty(hint))
                print_sentence("Hint: ", hint);
        return 1;
}

int cli_usage_error(const char *command, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        print_error(fmt, ap);
        va_end(ap);
        fprintf(stderr, "Hint: see 'slipway %s%s--help'.\n", strempty(command), isempty(command) ? "" : " ");
        return EXIT_USAGE;
}

bool cli_common_option(CliContext *c, int opt, const char *arg) {
        switch (opt) {
        case ARG_JSON:
                c->json = true;
                return true;
        case ARG_STATE_DIR:
                c->state_dir = arg;
                c->state_dir_explicit = true;
                return true;
        case ARG_URL:
                c->url_arg = arg;
                return true;
        case ARG_TOKEN:
                c->token_arg = arg;
                return true;
        default:
                return false;
        }
}

int cli_bad_option(const char *command, int argc, char *argv[]) {
        const char *bad = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
        return cli_usage_error(command, "Unknown option or missing value: '%s'", bad);
}

/* The option of options that getopt_long() answered with opt, or NULL. */
static const CliOption *find_option(const CliOption *options, size_t n_options, int opt) {
        if (opt >= ARG_FIRST_COMMAND_OPTION && opt < ARG_FIRST_COMMAND_OPTION + (int) n_options)
                return &options[opt - ARG_FIRST_COMMAND_OPTION];
        for (size_t k = 0; k < n_options; k++)
                if (options[k].short_name != 0 && options[k].short_name == opt)
                        return &options[k];
        return NULL;
}

int cli_parse_options(CliContext *c, const char *full, const char *help, const CliOption *options,
                      size_t n_options, void *args, int argc, char *argv[]) {
        static const struct option common[] = { CLI_COMMON_OPTIONS };
        struct option longopts[ELEMENTSOF(common) + CLI_OPTIONS_MAX + 1] = {};
        char shortopts[1 + 2 * CLI_OPTIONS_MAX + 1] = "h";
        size_t n_short = 1;
        int opt, r;

        assert(n_options <= CLI_OPTIONS_MAX);
        for (size_t k = 0; k < ELEMENTSOF(common); k++)
                longopts[k] = common[k];
        for (size_t k = 0; k < n_options; k++) {
                longopts[ELEMENTSOF(common) + k] = (struct option) {
                        options[k].name,
                        options[k].flag ? no_argument : required_argument,
                        NULL,
                        options[k].short_name ?: ARG_FIRST_COMMAND_OPTION + (int) k,
                };
                if (options[k].short_name != 0) {
                        shortopts[n_short++] = options[k].short_name;
                        if (!options[k].flag)
                                shortopts[n_short++] = ':';
                }
        }

        optind = 0;
        opterr = 0;
        while ((opt = getopt_long(argc, argv, shortopts, longopts, NULL)) >= 0) {
                if (opt == 'h') {
                        fputs(help, stdout);
                        return 0;
                }
                if (cli_common_option(c, opt, optarg))
                        continue;
                const CliOption *o = find_option(options, n_options, opt);
                if (!o) {
                        cli_bad_option(full, argc, argv);
                        return -EINVAL;
                }
                char optname[64];
                snprintf(optname, sizeof optname, "--%s", o->name);
                if (!o->unlisted && !strstr(help, optname))
                        return cli_usage_errno(full, "'slipway %s' has no option %s", full, optname);
                if (o->store) {
                        r = o->store(full, optarg, args);
                        if (r < 0)
                                return r;
                } else if (o->flag)
                        *(bool *) ((char *) args + o->offset) = true;
                else
                        *(const char **) ((char *) args + o->offset) = optarg;
        }
        return 1;
}

int cli_dispatch(CliContext *c, const char *command, const char *help, const char *verb_names,
                 const CliVerb *verbs, size_t n_verbs, int argc, char *argv[]) {
        int i = 1;

        while (i < argc && argv[i][0] == '-') {
                if (streq(argv[i], "--help") || streq(argv[i], "-h")) {
                        fputs(help, stdout);
                        return 0;
                }
                if (!streq(argv[i], "--json"))
                        return cli_usage_error(command, "Unknown option '%s' before the %s command", argv[i],
                                               command);
                c->json = true;
                i++;
        }
        if (i >= argc)
                return cli_usage_error(command, "Missing %s command (%s)", command, verb_names);
        for (size_t k = 0; k < n_verbs; k++)
                if (streq(argv[i], verbs[k].name))
                        return verbs[k].run(c, argc - i, argv + i);
        return cli_usage_error(command, "Unknown %s command '%s'", command, argv[i]);
}

/* The option's value when it was given, else the first line of the state directory's file. */
static int option_or_state_file(const char *option, const char *state_dir, const char *file, char **ret) {
        char *s;

        if (!option)
                return read_first_line(state_dir, file, CLI_URL_MAX, ret);
        s = strdup(option);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int cli_connect_prepare(CliContext *c) {
        char hint[512];
        int r;

        snprintf(hint, sizeof hint, "Start it with 'slipwayd --state-dir %s', or give --url and --token.",
                 c->state_dir);
        r = option_or_state_file(c->url_arg, c->state_dir, "api.url", &c->url);
        if (r < 0 && c->url_arg)
                return r;
        if (r == -ENOENT) {
                cli_error(hint, "No slipwayd has run with state directory %s (%s/api.url is missing)",
                          c->state_dir, c->state_dir);
                return r;
        }
        if (r < 0) {
                cli_error("Run slipway as root, or give --url and --token.", "Cannot read %s/api.url: %s",
                          c->state_dir, strerror(-r));
                return r;
        }
        if (http_url_parse(c->url, &c->u) < 0) {
                cli_error("Give an address like http://127.0.0.1:7070.", "'%s' is not an http:// URL",
                          c->url);
                return -EINVAL;
        }

        r = option_or_state_file(c->token_arg, c->state_dir, "admin.token", &c->token);
        if (r < 0 && c->token_arg)
                return r;
        if (r < 0) {
                if (c->url_arg)
                        cli_error("Give the API token with --token.",
                                  "--url needs a token, and %s/admin.token cannot be read (%s)",
                                  c->state_dir, strerror(-r));
                else
                        cli_error("Run slipway as root, or give --url and --token.",
                                  "Cannot read the API token %s/admin.token: %s", c->state_dir,
                                  strerror(-r));
                return r;
        }
        return 0;
}

int cli_request_open(CliContext *c, const char *method, const char *path, const char *content_type,
                     int64_t body_length, HttpConn **ret) {
        char hint[512];
        int r;

        if (!c->url) {
                r = cli_connect_prepare(c);
                if (r < 0)
                        return r;
        }
        r = http_conn_open(&c->u, c->token, method, path, content_type, body_length, ret);
        if (r == -ECONNREFUSED || r == -EHOSTUNREACH || r == -ENETUNREACH || r == -ETIMEDOUT) {
                if (c->url_arg)
                        snprintf(hint, sizeof hint, "Check the address, or start slipwayd there.");
                else
                        snprintf(hint, sizeof hint, "Start it with 'slipwayd --state-dir %s'.",
                                 c->state_dir);
                cli_error(hint, "slipwayd is not running at %s", c->url);
                return r;
        }
        if (r < 0) {
                cli_error(NULL, "Cannot talk to slipwayd at %s: %s", c->url, strerror(-r));
                return r;
        }
        return 0;
}

int cli_response_check(CliContext *c, HttpConn *conn) {
        _cleanup_free_ char *body = NULL;
        _cleanup_json_ json_t *j = NULL;
        const char *msg = NULL, *hint = NULL;
        int status;

        status = http_conn_read_head(conn);
        if (status < 0) {
                cli_error("Check that the URL points at slipwayd.", "No valid HTTP answer from %s: %s",
                          c->url, strerror(-status));
                return status;
        }
        if (status < 400)
                return status;

        if (status == 401) {
                /* The daemon says whether the token is wrong or expired; where it came from is ours to say. */
                if (http_conn_read_body_full(conn, HTTP_CLIENT_JSON_MAX, &body, NULL) >= 0 &&
                    json_parse_buffer(body, strlen(body), &j, NULL) >= 0)
                        (void) json_get_string(j, "error", &msg);
                if (c->token_arg)
                        cli_error(
                                "Pass admin.token or a token made with 'slipway token create' with --token.",
                                "slipwayd refused the API token given with --token: %s",
                                msg ?: "it is wrong, revoked or expired.");
                else
                        cli_error("Check that the state directory belongs to the daemon at this URL.",
                                  "slipwayd refused the API token from %s/admin.token: %s", c->state_dir,
                                  msg ?: "it is wrong.");
        } else if (http_conn_read_body_full(conn, HTTP_CLIENT_JSON_MAX, &body, NULL) >= 0 &&
                   json_parse_buffer(body, strlen(body), &j, NULL) >= 0 &&
                   json_get_string(j, "error", &msg) >= 0) {
                (void) json_get_string_opt(j, "hint", &hint);
                cli_error(hint, "%s", msg);
        } else
                cli_error(NULL, "slipwayd answered HTTP %d", status);
        return -EPROTO;
}

int cli_api_json(CliContext *c, const char *method, const char *path, json_t *body, json_t **ret) {
        _cleanup_(http_conn_freep) HttpConn *conn = NULL;
        _cleanup_free_ char *text = NULL, *resp = NULL;
        json_error_t jerr;
        int r;

        if (body) {
                text = json_dumps(body, JSON_COMPACT);
                if (!text)
                        return -ENOMEM;
        }
        r = cli_request_open(c, method, path, text ? "application/json" : NULL,
                             text ? (int64_t) strlen(text) : (streq(method, "GET") ? HTTP_BODY_NONE : 0),
                             &conn);
        if (r < 0)
                return r;
        if (text) {
                r = http_conn_write(conn, text, strlen(text));
                if (r < 0) {
                        cli_error(NULL, "Sending the request to %s failed: %s", c->url, strerror(-r));
                        return r;
                }
        }
        r = cli_response_check(c, conn);
        if (r < 0)
                return r;
        r = http_conn_read_body_full(conn, HTTP_CLIENT_JSON_MAX, &resp, NULL);
        if (r < 0) {
                cli_error(NULL, "Reading the answer from %s failed: %s", c->url, strerror(-r));
                return r;
        }
        /* A reply may embed a document the daemon parsed under JSON_DEPTH_MAX (image inspect). */
        if (json_parse_buffer_depth(resp, strlen(resp), JSON_REPLY_DEPTH_MAX, ret, &jerr) < 0) {
                cli_error(NULL, "slipwayd sent invalid JSON: %s", jerr.text);
                return -EBADMSG;
        }
        return 0;
}

char *cli_image_path(const char *ref, const char *suffix) {
        _cleanup_free_ char *enc = http_url_encode(ref);
        char *p;

        if (!enc || asprintf(&p, "/api/v1/images/%s%s", enc, strempty(suffix)) < 0)
                return NULL;
        return p;
}

void cli_print_json(json_t *j) {
        _cleanup_free_ char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s)
                printf("%s\n", s);
}

#define TABLE_COLUMNS_MAX 16U

struct Table {
        size_t n_columns, n_cells, n_allocated;
        char **cells; /* row-major, headers first */
};

/* Appends one row of n_columns strings (NULL prints as ""). */
static int table_add_cells(Table *t, va_list ap) {
        if (GREEDY_REALLOC(t->cells, t->n_allocated, t->n_cells + t->n_columns) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < t->n_columns; i++) {
                char *s = strdup(strempty(va_arg(ap, const char *)));
                if (!s)
                        return -ENOMEM;
                t->cells[t->n_cells++] = s;
        }
        return 0;
}

Table *table_new(size_t n_columns, ...) {
        Table *t;
        va_list ap;
        int r;

        assert(n_columns > 0 && n_columns <= TABLE_COLUMNS_MAX);
        t = calloc(1, sizeof *t);
        if (!t)
                return NULL;
        t->n_columns = n_columns;
        va_start(ap, n_columns);
        r = table_add_cells(t, ap);
        va_end(ap);
        return r < 0 ? table_free(t) : t;
}

int table_add_row(Table *t, ...) {
        va_list ap;
        int r;

        va_start(ap, t);
        r = table_add_cells(t, ap);
        va_end(ap);
        return r;
}

void table_print(Table *t) {
        size_t width[TABLE_COLUMNS_MAX] = {};

        for (size_t i = 0; i < t->n_cells; i++) {
                size_t col = i % t->n_columns;
                width[col] = MAX(width[col], strlen(t->cells[i]));
        }
        for (size_t i = 0; i < t->n_cells; i++) {
                size_t col = i % t->n_columns;
                bool last = col == t->n_columns - 1;
                printf("%-*s%s", last ? 0 : (int) width[col], t->cells[i], last ? "\n" : "  ");
        }
}

Table *table_free(Table *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t);
        return NULL;
}
