/* slipway config set|unset|list and slipway vault rotate: values per (project or component, environment)
 * over /api/v1/…/configs (web/api/api-config.c).  Values travel base64-encoded in the request body, so any
 * bytes (a key file) arrive as they were; a secret's value is never printed, and never read back. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cmd-config-build.h"
#include "cmd-model-args.h"
#include "fs-util.h"
#include "http-client.h"
#include "json-util.h"
#include "macro.h"

/* What --from-file reads at most; the daemon refuses anything over its own per-value limit (64 KiB) with
 * its sentence, so this only keeps a wrong file (a disk image) from being read whole. */
#define CLI_CONFIG_FILE_MAX (128U * 1024U)
/* Characters of a non-secret value `config list` shows before cutting it. */
#define CLI_CONFIG_SHOW_MAX 60U

static const char config_help[] =
        "Usage: slipway config set PROJECT[/COMPONENT] ENV KEY=VALUE [--secret] [--file PATH]\n"
        "       slipway config set PROJECT[/COMPONENT] ENV KEY --from-file LOCAL [--secret] [--file PATH]\n"
        "       slipway config unset PROJECT[/COMPONENT] ENV KEY\n"
        "       slipway config list PROJECT[/COMPONENT] ENV\n"
        "       slipway config set|unset|list PROJECT/COMPONENT --build [KEY[=VALUE]] [--secret]\n\n"
        "Config values and secrets of an environment.  Without /COMPONENT a value is shared by every\n"
        "component of the environment; a component's own value of the same key wins.  Values are\n"
        "encrypted at rest and reach instances at their next deploy.  With --build: the component's\n"
        "build secrets, which RUN --mount=type=secret,id=KEY gets when it is built (no ENV: a commit\n"
        "is built once, for every environment).\n";

static const char config_set_help[] =
        "Usage: slipway config set PROJECT[/COMPONENT] ENV KEY=VALUE [--secret] [--file PATH] [--deploy] [--json]\n"
        "       slipway config set PROJECT[/COMPONENT] ENV KEY --from-file LOCAL [--secret] [--file PATH]\n"
        "       slipway config set PROJECT/COMPONENT --build KEY=VALUE --secret\n"
        "       slipway config set PROJECT/COMPONENT --build KEY --from-file LOCAL --secret\n\n"
        "Sets a value (a new version of KEY; releases keep the versions they were deployed with).\n\n"
        "  --secret           write-only: list and show give its name, version and when it was set, never\n"
        "                     its value\n"
        "  --file PATH        mount the value as a file at the absolute PATH inside the container instead\n"
        "                     of an environment variable KEY\n"
        "  --from-file LOCAL  the value is the content of the local file LOCAL ('-': standard input);\n"
        "                     give KEY alone then\n"
        "  --deploy           with PROJECT/COMPONENT: then deploy the component to ENV with its current\n"
        "                     values (its live image; waits like 'slipway deploy')\n"
        "  --build            a build secret of the component (needs --secret): the content of\n"
        "                     RUN --mount=type=secret,id=KEY in its pipeline builds, in no image or log\n\n"
        "A value holds at most 64 KiB, an environment's values together 1 MiB.\n";

static const char config_unset_help[] =
        "Usage: slipway config unset PROJECT[/COMPONENT] ENV KEY [--json]\n"
        "       slipway config unset PROJECT/COMPONENT --build KEY [--json]\n\n"
        "Removes KEY from the project-wide or the component's values of ENV (releases keep the versions\n"
        "they were deployed with).  A component's unset lets the project-wide value of KEY apply again.\n"
        "With --build: removes the component's build secret KEY.\n";

static const char config_list_help[] =
        "Usage: slipway config list PROJECT[/COMPONENT] ENV [--effective] [--json]\n"
        "       slipway config list PROJECT/COMPONENT --build [--json]\n\n"
        "The current values of the project-wide or the component's slot of ENV: KEY, VERSION, KIND, VALUE,\n"
        "SET (and FROM with --effective).  A secret's value is never shown.\n\n"
        "  --effective  with /COMPONENT: what the component gets at its next deploy, its own values and the\n"
        "               project-wide ones it does not override\n"
        "  --build      the component's build secrets: KEY, VERSION, SET (never a value)\n";

static const char vault_help[] =
        "Usage: slipway vault rotate [--json]\n\n"
        "Makes a new data key version, re-encrypts every config value and secret under it in one\n"
        "transaction, and retires the old version (its wrapped key is erased).  Safe to interrupt: after\n"
        "a crash every value still opens.\n";

typedef struct ConfigArgs {
        bool secret;
        bool deploy;
        bool effective;
        bool build;
        const char *file;
        const char *from_file;
} ConfigArgs;

static const CliOption config_list_options[] = {
        CLI_FLAG_OPTION("effective", ConfigArgs, effective),
        CLI_FLAG_OPTION("build", ConfigArgs, build),
};

static const CliOption config_unset_options[] = {
        CLI_FLAG_OPTION("build", ConfigArgs, build),
};

static const CliOption config_set_options[] = {
        CLI_FLAG_OPTION("secret", ConfigArgs, secret),         CLI_STRING_OPTION("file", ConfigArgs, file),
        CLI_STRING_OPTION("from-file", ConfigArgs, from_file), CLI_FLAG_OPTION("deploy", ConfigArgs, deploy),
        CLI_FLAG_OPTION("build", ConfigArgs, build),
};

/* "PROJECT[/COMPONENT]" and ENV (and KEY) → the API path of the slot's configs. */
static int config_path(const char *full, const char *target, const char *env, const char *key, char **ret) {
        _cleanup_free_ char *project = NULL, *enc_e = NULL, *enc_k = NULL, *suffix = NULL;
        const char *slash = strchr(target, '/'), *component = NULL;

        if (slash) {
                if (slash == target || !slash[1] || strchr(slash + 1, '/'))
                        return cli_usage_errno(full, "'%s' is not PROJECT or PROJECT/COMPONENT", target);
                project = strndup(target, (size_t) (slash - target));
                component = slash + 1;
        } else
                project = strdup(target);
        enc_e = http_url_encode(env);
        enc_k = key ? http_url_encode(key) : NULL;
        if (!project || !enc_e || (key && !enc_k))
                return cli_oom_errno();
        if (asprintf(&suffix, "/environments/%s/configs%s%s", enc_e, key ? "/" : "", strempty(enc_k)) < 0)
                return cli_oom_errno();
        *ret = model_api_path(project, component, suffix);
        return *ret ? 0 : cli_oom_errno();
}

/* Reads LOCAL ('-': stdin), at most CLI_CONFIG_FILE_MAX bytes. */
static int read_local(const char *local, uint8_t **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ uint8_t *buf = NULL;
        ssize_t n;

        if (streq(local, "-"))
                fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
        else
                fd = open(local, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                int e = errno;
                cli_error(NULL, "Cannot open %s: %s.", local, strerror(e));
                return -e;
        }
        buf = malloc(CLI_CONFIG_FILE_MAX + 1);
        if (!buf)
                return cli_oom_errno();
        n = loop_read(fd, buf, CLI_CONFIG_FILE_MAX + 1);
        if (n < 0) {
                cli_error(NULL, "Cannot read %s: %s.", local, strerror((int) -n));
                return (int) n;
        }
        if ((size_t) n > CLI_CONFIG_FILE_MAX) {
                sodium_memzero(buf, CLI_CONFIG_FILE_MAX + 1);
                cli_error("A value holds at most 64 KiB.",
                          "%s is larger than %u KiB, too large for a config value", local,
                          CLI_CONFIG_FILE_MAX / 1024U);
                return -EFBIG;
        }
        *ret = TAKE_PTR(buf);
        *ret_size = (size_t) n;
        return 0;
}

/* Sets one value: 0 when stored (printed, or its JSON printed with --json), -errno after saying why.  The
 * answer goes to *ret_reply (may be NULL) for a caller that goes on (e.g. to deploy). */
static int config_set_value(CliContext *c, const char *target, const char *env, const char *key,
                            const uint8_t *data, size_t size, const ConfigArgs *a, json_t **ret_reply) {
        _cleanup_json_ json_t *body = NULL, *reply = NULL;
        _cleanup_free_ char *path = NULL, *b64 = NULL;
        size_t n = sodium_base64_encoded_len(size, sodium_base64_VARIANT_ORIGINAL);
        json_t *cfg;
        int r;

        r = config_path("config set", target, env, key, &path);
        if (r < 0)
                return r;
        b64 = malloc(n);
        if (!b64)
                return cli_oom_errno();
        sodium_bin2base64(b64, n, data, size, sodium_base64_VARIANT_ORIGINAL);
        body = json_pack("{s:s,s:b,s:s?}", "value_base64", b64, "secret", a->secret, "file", a->file);
        sodium_memzero(b64, n);
        if (!body)
                return cli_oom_errno();
        r = cli_api_json(c, "PUT", path, body, &reply);
        if (r < 0)
                return -EIO;
        if (c->json) {
                /* One JSON document: with --deploy it is the release's. */
                if (!a->deploy)
                        cli_print_json(reply);
        } else {
                cfg = json_object_get(reply, "config");
                printf("Set %s%s of %s in %s, version %lld%s.\n", a->secret ? "secret " : "", key, target,
                       env, (long long) json_integer_value(json_object_get(cfg, "version")),
                       a->file ? " (a file)" : "");
                if (a->deploy)
                        ; /* the deploy follows */
                else if (strchr(target, '/'))
                        printf("It applies at the next deploy: slipway deploy %s %s\n", target, env);
                else
                        printf("It applies to each component of %s at its next deploy.\n", env);
        }
        if (ret_reply)
                *ret_reply = TAKE_PTR(reply);
        return 0;
}

static int config_set(CliContext *c, int argc, char *argv[]) {
        _cleanup_free_ char *key = NULL;
        _cleanup_free_ uint8_t *local = NULL;
        ConfigArgs a = {};
        const uint8_t *data;
        const char *eq;
        size_t size = 0;
        int kv, r;

        r = cli_parse_options(c, "config set", config_set_help, config_set_options,
                              ELEMENTSOF(config_set_options), &a, argc, argv);
        if (r <= 0)
                return cli_exit_status(r);
        kv = optind + 2;
        if (a.build) {
                /* A build secret: no ENV (a commit is built once), always a secret, mounted where the
                 * Dockerfile says. */
                if (argc - optind != 2 || !strchr(argv[optind], '/'))
                        return cli_usage_error("config set",
                                               "'slipway config set --build' needs PROJECT/COMPONENT and "
                                               "KEY=VALUE (or KEY with --from-file), no environment");
                if (!a.secret)
                        return cli_usage_error(
                                "config set",
                                "--build sets a build secret, so add --secret; build args are not set "
                                "here, they come from the Dockerfile's ARG defaults");
                if (a.file || a.deploy)
                        return cli_usage_error("config set",
                                               "--build takes neither --file (the Dockerfile's RUN "
                                               "--mount says where the secret goes) nor --deploy");
                kv = optind + 1;
        } else if (argc - optind != 3)
                return cli_usage_error("config set",
                                       "'slipway config set' needs PROJECT[/COMPONENT], ENV and "
                                       "KEY=VALUE (or KEY with --from-file)");
        if (a.deploy && !a.build && !strchr(argv[optind], '/'))
                return cli_usage_error("config set",
                                       "--deploy needs PROJECT/COMPONENT: a project-wide value reaches each "
                                       "component at its own next deploy");
        eq = strchr(argv[kv], '=');
        if (a.from_file) {
                if (eq)
                        return cli_usage_error("config set",
                                               "With --from-file give KEY alone, not KEY=VALUE");
                key = strdup(argv[kv]);
                if (!key)
                        return log_oom_cli();
                r = read_local(a.from_file, &local, &size);
                if (r < 0)
                        return 1;
                data = local;
        } else {
                if (!eq || eq == argv[kv])
                        return cli_usage_error(
                                "config set", "'%s' is not KEY=VALUE (or give --from-file LOCAL)", argv[kv]);
                key = strndup(argv[kv], (size_t) (eq - argv[kv]));
                if (!key)
                        return log_oom_cli();
                data = (const uint8_t *) eq + 1;
                size = strlen(eq + 1);
        }
        if (a.build) {
                r = config_build_set(c, argv[optind], key, data, size);
                if (local)
                        sodium_memzero(local, size);
                return r;
        }
        r = config_set_value(c, argv[optind], argv[optind + 1], key, data, size, &a, NULL);
        if (local)
                sodium_memzero(local, size);
        if (r < 0)
                return 1;
        if (!a.deploy)
                return 0;
        /* "Save and deploy": the live image (or the component's own) with the values as they are now. */
        return cli_deploy_and_follow(c, argv[optind], argv[optind + 1], NULL);
}

static int config_unset(CliContext *c, int argc, char *argv[]) {
        _cleanup_json_ json_t *reply = NULL;
        _cleanup_free_ char *path = NULL;
        ConfigArgs a = {};
        int r;

        r = cli_parse_options(c, "config unset", config_unset_help, config_unset_options,
                              ELEMENTSOF(config_unset_options), &a, argc, argv);
        if (r <= 0)
                return cli_exit_status(r);
        if (a.build) {
                if (argc - optind != 2)
                        return cli_usage_error("config unset",
                                               "'slipway config unset --build' needs PROJECT/COMPONENT and "
                                               "KEY, no environment");
                return config_build_unset(c, argv[optind], argv[optind + 1]);
        }
        if (argc - optind != 3)
                return cli_usage_error("config unset",
                                       "'slipway config unset' needs PROJECT[/COMPONENT], ENV "
                                       "and KEY");
        r = config_path("config unset", argv[optind], argv[optind + 1], argv[optind + 2], &path);
        if (r < 0)
                return cli_exit_status(r);
        r = model_call(c, "DELETE", path, NULL, &reply);
        if (r <= 0)
                return cli_exit_status(r);
        printf("Unset %s of %s in %s (version %lld).\n", argv[optind + 2], argv[optind], argv[optind + 1],
               (long long) json_integer_value(json_object_get(reply, "version")));
        return 0;
}

/* A value for the VALUE column: cut at CLI_CONFIG_SHOW_MAX, control characters as '?'. */
static void show_value(json_t *cfg, char *buf, size_t size) {
        const char *v = json_string_value(json_object_get(cfg, "value"));
        size_t k = 0;

        if (json_is_true(json_object_get(cfg, "secret"))) {
                snprintf(buf, size, "(secret, %lld bytes)",
                         (long long) json_integer_value(json_object_get(cfg, "size")));
                return;
        }
        if (!v) {
                snprintf(buf, size, "(%lld bytes of binary)",
                         (long long) json_integer_value(json_object_get(cfg, "size")));
                return;
        }
        for (; *v && k + 4 < size && k < CLI_CONFIG_SHOW_MAX; v++)
                buf[k++] = (unsigned char) *v < 0x20 || *v == 0x7f ? '?' : *v;
        if (*v && k + 4 < size) {
                memcpy(buf + k, "...", 3);
                k += 3;
        }
        buf[k] = 0;
}

static int config_list(CliContext *c, int argc, char *argv[]) {
        _cleanup_json_ json_t *reply = NULL;
        _cleanup_free_ char *path = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        ConfigArgs a = {};
        json_t *cfg;
        size_t i;
        int r;

        r = cli_parse_options(c, "config list", config_list_help, config_list_options,
                              ELEMENTSOF(config_list_options), &a, argc, argv);
        if (r <= 0)
                return cli_exit_status(r);
        if (a.build) {
                if (argc - optind != 1 || a.effective)
                        return cli_usage_error(
                                "config list",
                                "'slipway config list --build' needs PROJECT/COMPONENT alone, "
                                "no environment");
                return config_build_list(c, argv[optind]);
        }
        if (argc - optind != 2)
                return cli_usage_error("config list",
                                       "'slipway config list' needs PROJECT[/COMPONENT] and ENV");
        if (a.effective && !strchr(argv[optind], '/'))
                return cli_usage_error("config list", "--effective needs PROJECT/COMPONENT");
        r = config_path("config list", argv[optind], argv[optind + 1], NULL, &path);
        if (r < 0)
                return cli_exit_status(r);
        if (a.effective) {
                char *q = NULL;
                if (asprintf(&q, "%s?effective=1", path) < 0)
                        return log_oom_cli();
                free(path);
                path = q;
        }
        r = model_call(c, "GET", path, NULL, &reply);
        if (r <= 0)
                return cli_exit_status(r);
        t = a.effective ? table_new(6, "KEY", "VERSION", "KIND", "VALUE", "SET", "FROM")
                        : table_new(5, "KEY", "VERSION", "KIND", "VALUE", "SET");
        if (!t)
                return log_oom_cli();
        json_array_foreach(json_object_get(reply, "configs"), i, cfg) {
                char version[24], kind[300], value[CLI_CONFIG_SHOW_MAX + 8], when[32];
                const char *file = json_string_value(json_object_get(cfg, "path"));

                snprintf(version, sizeof version, "%lld",
                         (long long) json_integer_value(json_object_get(cfg, "version")));
                snprintf(kind, sizeof kind, "%s%s", file ? "file " : "env", strempty(file));
                show_value(cfg, value, sizeof value);
                const char *key = json_string_value(json_object_get(cfg, "key"));
                const char *from = json_string_value(json_object_get(cfg, "component")) ?: "project";

                model_format_time(json_object_get(cfg, "set_at"), when);
                if ((a.effective ? table_add_row(t, key, version, kind, value, when, from)
                                 : table_add_row(t, key, version, kind, value, when)) < 0)
                        return log_oom_cli();
        }
        table_print(t);
        return 0;
}

int cmd_config(CliContext *c, int argc, char *argv[]) {
        static const CliVerb verbs[] = {
                { "set", config_set },
                { "unset", config_unset },
                { "list", config_list },
                { "ls", config_list },
        };

        return cli_dispatch(c, "config", config_help, "set, unset, list", verbs, ELEMENTSOF(verbs), argc,
                            argv);
}

static int vault_rotate(CliContext *c, int argc, char *argv[]) {
        _cleanup_json_ json_t *reply = NULL;
        ConfigArgs a = {};
        json_t *v;
        size_t i;
        int r;

        r = cli_parse_options(c, "vault rotate", vault_help, NULL, 0, &a, argc, argv);
        if (r <= 0)
                return cli_exit_status(r);
        if (argc - optind != 0)
                return cli_usage_error("vault rotate", "'slipway vault rotate' takes no arguments");
        r = model_call(c, "POST", "/api/v1/vault/rotate", NULL, &reply);
        if (r <= 0)
                return cli_exit_status(r);
        printf("Rotated the vault to key version %lld: %lld value(s) re-encrypted in %.1f ms",
               (long long) json_integer_value(json_object_get(reply, "key_version")),
               (long long) json_integer_value(json_object_get(reply, "rewrapped")),
               (double) json_integer_value(json_object_get(reply, "duration_us")) / 1000.0);
        json_array_foreach(json_object_get(reply, "retired"), i, v)
                printf("%s%lld", i == 0 ? "; retired version " : ", ", (long long) json_integer_value(v));
        printf(".\n");
        if (json_integer_value(json_object_get(reply, "unopenable")) > 0)
                printf("%lld value(s) did not open before the rotation either (copied or damaged); set them "
                       "again.\n",
                       (long long) json_integer_value(json_object_get(reply, "unopenable")));
        return 0;
}

int cmd_vault(CliContext *c, int argc, char *argv[]) {
        static const CliVerb verbs[] = {
                { "rotate", vault_rotate },
        };

        return cli_dispatch(c, "vault", vault_help, "rotate", verbs, ELEMENTSOF(verbs), argc, argv);
}
