/* slipway registry add|list|rm: registries you own, which the pipeline's push step copies a project's images
 * to.  The password is read from stdin (never a command-line argument) and the CA file is read here and sent
 * as PEM text; the daemon validates and keeps the password in its vault. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd-model-args.h"
#include "fs-util.h"
#include "json-util.h"
#include "string-util.h"

#define CLI_REGISTRY_PASSWORD_MAX 4096U    /* = the daemon's VAULT_REGISTRY_PASSWORD_MAX */
#define CLI_REGISTRY_CA_MAX (256U * 1024U) /* = the daemon's REGISTRY_CA_PEM_MAX */

static const char registry_help[] =
        "Usage: slipway registry add NAME URL [--username USER --password-stdin] [--ca-file FILE] [--insecure]\n"
        "       slipway registry list\n"
        "       slipway registry rm NAME\n\n"
        "Registries you own (Harbor, GitLab, distribution, …) that the pipeline pushes a project's images to\n"
        "(slipway project set PROJECT --push-to NAME).  The password is kept encrypted and never shown.\n";

static const char add_help[] =
        "Usage: slipway registry add NAME URL [--username USER --password-stdin] [--ca-file FILE] [--insecure]\n"
        "                            [--json]\n\n"
        "Adds a registry.  NAME is [a-z0-9][a-z0-9._-]*, at most 63 characters; URL is https://HOST[:PORT].\n\n"
        "  --username USER     the user (or robot account) images are pushed as\n"
        "  --password-stdin    read its password or token from the first line of stdin\n"
        "  --ca-file FILE      the CA certificate (PEM) the registry's certificate is checked against,\n"
        "                      instead of the system's CAs\n"
        "  --insecure          allow plain http:// and do not verify the registry's TLS certificate\n";

static const char list_help[] =
        "Usage: slipway registry list [--json]\n\n"
        "Lists registries: NAME, URL, USERNAME, PASSWORD (set or not; never the password), CA (custom or\n"
        "system), PROJECTS that push to it.\n";

static const char rm_help[] =
        "Usage: slipway registry rm NAME [--json]\n\n"
        "Removes a registry and its password.  Refused while a project pushes to it.\n";

typedef struct RegistryArgs {
        const char *username;
        bool password_stdin;
        const char *ca_file;
        bool insecure;
} RegistryArgs;

static const CliOption add_options[] = {
        CLI_STRING_OPTION("username", RegistryArgs, username),
        CLI_FLAG_OPTION("password-stdin", RegistryArgs, password_stdin),
        CLI_STRING_OPTION("ca-file", RegistryArgs, ca_file),
        CLI_FLAG_OPTION("insecure", RegistryArgs, insecure),
};

/* The password's line of stdin into body's "password"; wiped. */
static int password_from_stdin(json_t *body) {
        char line[CLI_REGISTRY_PASSWORD_MAX + 2];
        size_t n;
        int r;

        if (!fgets(line, sizeof line, stdin) || !(n = strcspn(line, "\r\n")) ||
            n > CLI_REGISTRY_PASSWORD_MAX) {
                sodium_memzero(line, sizeof line);
                return cli_usage_errno(
                        "registry add",
                        "--password-stdin needs the password on one line of stdin (at most %u "
                        "bytes)",
                        CLI_REGISTRY_PASSWORD_MAX);
        }
        line[n] = 0;
        r = json_object_set_new(body, "password", json_string(line));
        sodium_memzero(line, sizeof line);
        return r < 0 ? cli_oom_errno() : 0;
}

static int registry_add(CliContext *c, int argc, char *argv[]) {
        RegistryArgs a = {};
        _cleanup_json_ json_t *body = NULL, *j = NULL;
        int r;

        r = cli_parse_options(c, "registry add", add_help, add_options, ELEMENTSOF(add_options), &a, argc,
                              argv);
        if (r <= 0)
                return cli_exit_status(r);
        if (argc - optind != 2)
                return cli_usage_error("registry add", "'slipway registry add' needs NAME and URL");
        if (a.username && !a.password_stdin)
                return cli_usage_error("registry add",
                                       "--username needs --password-stdin (the password on stdin, never in "
                                       "an argument)");
        if (a.password_stdin && !a.username)
                return cli_usage_error("registry add", "--password-stdin needs --username");
        if (a.ca_file && a.insecure)
                return cli_usage_error("registry add",
                                       "Give --ca-file or --insecure, not both: --insecure does not verify "
                                       "the certificate");
        body = json_pack("{s:s,s:s,s:b}", "name", argv[optind], "url", argv[optind + 1], "insecure",
                         a.insecure);
        if (!body)
                return log_oom_cli();
        if (a.username && json_object_set_new(body, "username", json_string(a.username)) < 0)
                return log_oom_cli();
        if (a.ca_file) {
                _cleanup_free_ char *pem = NULL;
                size_t size = 0;

                r = read_full_file_at(AT_FDCWD, a.ca_file, CLI_REGISTRY_CA_MAX, &pem, &size);
                if (r == -EFBIG)
                        return cli_error(
                                "Give only the CA certificate(s) the registry's certificate is signed by.",
                                "%s is larger than 256 KiB", a.ca_file);
                if (r < 0)
                        return cli_error("Give the CA certificate's PEM file.", "Cannot read %s: %s",
                                         a.ca_file, strerror(-r));
                if (json_object_set_new(body, "ca_pem", json_stringn(pem, size)) < 0)
                        return cli_error("Give the CA certificate in PEM form.", "%s is not a text file",
                                         a.ca_file);
        }
        if (a.password_stdin) {
                r = password_from_stdin(body);
                if (r < 0)
                        return cli_exit_status(r);
        }
        r = model_call(c, "POST", "/api/v1/registries", body, &j);
        if (r <= 0)
                return cli_exit_status(r);
        printf("Added registry %s at %s%s%s%s.\n", json_string_value(json_object_get(j, "name")),
               json_string_value(json_object_get(j, "url")),
               json_string_value(json_object_get(j, "username")) ? " as " : "",
               strempty(json_string_value(json_object_get(j, "username"))),
               json_is_true(json_object_get(j, "insecure")) ? " (insecure: TLS not verified)"
               : json_is_true(json_object_get(j, "custom_ca"))
                       ? " (its certificate checked against the CA file)"
                       : "");
        return 0;
}

static int registry_list(CliContext *c, int argc, char *argv[]) {
        _cleanup_json_ json_t *j = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        RegistryArgs a = {};
        json_t *reg;
        size_t i;
        int r;

        r = cli_parse_options(c, "registry list", list_help, NULL, 0, &a, argc, argv);
        if (r <= 0)
                return cli_exit_status(r);
        if (argc - optind > 0)
                return cli_usage_error("registry list", "Unexpected argument '%s'", argv[optind]);
        r = model_call(c, "GET", "/api/v1/registries", NULL, &j);
        if (r <= 0)
                return cli_exit_status(r);
        t = table_new(6, "NAME", "URL", "USERNAME", "PASSWORD", "CA", "PROJECTS");
        if (!t)
                return log_oom_cli();
        json_array_foreach(json_object_get(j, "registries"), i, reg) {
                char projects[512] = "";
                size_t k, len = 0;
                json_t *p;

                json_array_foreach(json_object_get(reg, "projects"), k, p)
                        if (len < sizeof projects)
                                len += (size_t) snprintf(projects + len, sizeof projects - len, "%s%s",
                                                         k ? "," : "", json_string_value(p));
                if (table_add_row(t, json_string_value(json_object_get(reg, "name")),
                                  json_string_value(json_object_get(reg, "url")),
                                  json_string_value(json_object_get(reg, "username")) ?: "-",
                                  json_is_true(json_object_get(reg, "password_set")) ? "set" : "-",
                                  json_is_true(json_object_get(reg, "insecure"))    ? "not verified"
                                  : json_is_true(json_object_get(reg, "custom_ca")) ? "custom"
                                                                                    : "system",
                                  projects[0] ? projects : "-") < 0)
                        return log_oom_cli();
        }
        table_print(t);
        return 0;
}

static int registry_rm(CliContext *c, int argc, char *argv[]) {
        _cleanup_json_ json_t *j = NULL;
        _cleanup_free_ char *name = NULL, *path = NULL;
        RegistryArgs a = {};
        int r;

        r = cli_parse_options(c, "registry rm", rm_help, NULL, 0, &a, argc, argv);
        if (r <= 0)
                return cli_exit_status(r);
        if (argc - optind != 1)
                return cli_usage_error("registry rm", "'slipway registry rm' needs NAME");
        name = http_url_encode(argv[optind]);
        if (!name || asprintf(&path, "/api/v1/registries/%s", name) < 0)
                return log_oom_cli();
        r = model_call(c, "DELETE", path, NULL, &j);
        if (r <= 0)
                return cli_exit_status(r);
        printf("Removed registry %s.\n", json_string_value(json_object_get(j, "deleted")));
        return 0;
}

int cmd_registry(CliContext *c, int argc, char *argv[]) {
        static const CliVerb verbs[] = {
                { "add", registry_add }, { "list", registry_list }, { "ls", registry_list },
                { "rm", registry_rm },   { "remove", registry_rm },
        };

        return cli_dispatch(c, "registry", registry_help, "add, list, rm", verbs, ELEMENTSOF(verbs), argc,
                            argv);
}
