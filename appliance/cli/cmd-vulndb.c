/* slipway vulndb import FILE.zip|DIR, slipway vulndb status: the offline OSV database.  A file (OSV's
 * all.zip of an ecosystem, or a tar) is uploaded as it is; a directory is sent as a tar of its *.json. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archive-stream.h"
#include "cli.h"
#include "cmd-model-args.h"
#include "json-util.h"
#include "scan-print.h"
#include "string-util.h"

#define VULNDB_UPLOAD_BUFFER (256U * 1024U)

static const char vulndb_help[] =
        "Usage: slipway vulndb import FILE.zip|DIR [--json]\n"
        "       slipway vulndb status [--json]\n\n"
        "The offline vulnerability database the pipeline's scan step matches images against.  import\n"
        "loads OSV advisories: an ecosystem's all.zip as osv.dev publishes it (Debian, Alpine, PyPI, npm,\n"
        "Go), a tar of them, or a directory of OSV *.json files; an advisory imported again replaces the\n"
        "old one.  status shows how many advisories there are and when they were imported.\n";

static int json_filter(struct archive *disk, struct archive_entry *e, const char *rel, void *userdata) {
        (void) rel;
        (void) userdata;
        if (archive_entry_filetype(e) == AE_IFDIR) {
                (void) archive_read_disk_descend(disk);
                return 0;
        }
        return archive_entry_filetype(e) == AE_IFREG && endswith(archive_entry_pathname(e), ".json");
}

static int vulndb_import(CliContext *c, int argc, char *argv[]) {
        ModelArgs a = {};
        _cleanup_(http_conn_freep) HttpConn *conn = NULL;
        _cleanup_free_ char *path_q = NULL, *source = NULL, *body = NULL, *err = NULL;
        _cleanup_json_ json_t *j = NULL;
        _cleanup_close_ int fd = -EBADF;
        const char *path;
        struct stat st;
        int r;

        r = model_args_parse(c, "vulndb import", vulndb_help, argc, argv, &a, 1, 1);
        if (r <= 0)
                return cli_exit_status(r);
        path = argv[optind];
        if (stat(path, &st) < 0)
                return cli_error("Check the path.", "Cannot read %s: %s", path, strerror(errno));
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
                return cli_error("Give an OSV all.zip or a directory of OSV *.json files.",
                                 "%s is neither a file nor a directory", path);
        source = http_url_encode(path);
        if (!source || asprintf(&path_q, "/api/v1/vulndb/import?source=%s", source) < 0)
                return log_oom_cli();
        if (S_ISREG(st.st_mode)) {
                fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (fd < 0)
                        return cli_error(NULL, "Cannot open %s: %s", path, strerror(errno));
        }
        r = cli_request_open(c, "POST", path_q, "application/octet-stream",
                             fd >= 0 ? (int64_t) st.st_size : HTTP_BODY_CHUNKED, &conn);
        if (r < 0)
                return 1;
        if (fd >= 0) {
                _cleanup_free_ char *buf = malloc(VULNDB_UPLOAD_BUFFER);
                if (!buf)
                        return log_oom_cli();
                for (;;) {
                        ssize_t n = read(fd, buf, VULNDB_UPLOAD_BUFFER);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0)
                                return cli_error(NULL, "Cannot read %s: %s", path, strerror(errno));
                        if (n == 0 || http_conn_write(conn, buf, (size_t) n) < 0)
                                break; /* at the end, or the daemon stopped reading: its answer says why */
                }
        } else {
                const ArchiveStreamSend how = {
                        .disk_behavior = ARCHIVE_READDISK_NO_XATTR | ARCHIVE_READDISK_NO_ACL |
                                         ARCHIVE_READDISK_NO_FFLAGS,
                        .what = path,
                        .archive = "the advisories",
                        .filter = json_filter,
                };
                r = archive_stream_send_dir(path, conn, &how, &err);
                if (r >= 0)
                        r = http_conn_finish(conn);
                else if (r != -EPIPE && r != -ECONNRESET)
                        return cli_error(NULL, "%s", err ?: strerror(-r));
        }
        if (cli_response_check(c, conn) < 0)
                return 1;
        r = http_conn_read_body_full(conn, HTTP_CLIENT_JSON_MAX, &body, NULL);
        if (r < 0 || json_parse_buffer(body, strlen(body), &j, NULL) < 0)
                return cli_error(NULL, "slipwayd sent an unreadable answer to the import");
        if (c->json) {
                cli_print_json(j);
                return 0;
        }
        printf("Imported %lld advisories from %s",
               (long long) json_integer_value(json_object_get(j, "imported")), path);
        if (json_integer_value(json_object_get(j, "skipped")) > 0)
                printf(" (%lld documents skipped: not OSV, or no ecosystem Slipway orders)",
                       (long long) json_integer_value(json_object_get(j, "skipped")));
        printf(".\n");
        return 0;
}

static int vulndb_status(CliContext *c, int argc, char *argv[]) {
        ModelArgs a = {};
        _cleanup_json_ json_t *j = NULL;
        json_t *imp, *last;
        size_t i;
        int r;

        r = model_args_parse(c, "vulndb status", vulndb_help, argc, argv, &a, 0, 0);
        if (r <= 0)
                return cli_exit_status(r);
        r = model_call(c, "GET", "/api/v1/vulndb", NULL, &j);
        if (r <= 0)
                return cli_exit_status(r);
        printf("Advisories: %lld\n", (long long) json_integer_value(json_object_get(j, "advisories")));
        json_array_foreach(json_object_get(j, "imports"), i, imp) {
                char when[32];
                model_format_time(json_object_get(imp, "imported_at"), when);
                printf("  %s  %lld advisories from %s\n", when,
                       (long long) json_integer_value(json_object_get(imp, "imported")),
                       json_string_value(json_object_get(imp, "source")));
        }
        last = json_object_get(j, "last_import_at");
        if (!json_is_integer(last))
                printf("Nothing imported yet: builds are scanned for their SBOM only.  Import OSV's all.zip of "
                       "each ecosystem with 'slipway vulndb import FILE.zip'.\n");
        else if (time(NULL) - (time_t) json_integer_value(last) > VULNDB_OLD_DAYS * 24 * 3600)
                printf("Warning: the newest import is more than %d days old; import fresh archives.\n",
                       VULNDB_OLD_DAYS);
        return 0;
}

int cmd_vulndb(CliContext *c, int argc, char *argv[]) {
        static const CliVerb verbs[] = {
                { "import", vulndb_import },
                { "status", vulndb_status },
        };

        return cli_dispatch(c, "vulndb", vulndb_help, "import, status", verbs, ELEMENTSOF(verbs), argc,
                            argv);
}
