/* slipway image import|export|list|inspect|rm|gc|unpack.  Uploads and exports are streamed
 * (files in fixed-size blocks, directories as tar made on the fly); nothing is read whole. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive-stream.h"
#include "cli.h"
#include "cmd-model-args.h"
#include "disk-space.h"
#include "fs-util.h"
#include "json-util.h"
#include "scan-print.h"
#include "string-util.h"

#define IMPORT_BUFFER (256U * 1024U)

static char *path_make_absolute(const char *p) {
        _cleanup_free_ char *cwd = NULL;

        if (p[0] == '/')
                return strdup(p);
        cwd = getcwd(NULL, 0);
        return cwd ? path_join(cwd, p) : NULL;
}

typedef struct ImageArgs {
        const char *name;
        bool rootfs;
        const char *oci_dir;
        const char *oci_archive;
        bool dry_run;
        bool build_cache;
        bool keep_special;
} ImageArgs;

static const CliOption image_options[] = {
        CLI_STRING_OPTION("name", ImageArgs, name),
        CLI_FLAG_OPTION("rootfs", ImageArgs, rootfs),
        CLI_STRING_OPTION("oci", ImageArgs, oci_dir),
        CLI_STRING_OPTION("oci-archive", ImageArgs, oci_archive),
        CLI_FLAG_OPTION("dry-run", ImageArgs, dry_run),
        CLI_FLAG_OPTION("build-cache", ImageArgs, build_cache),
        CLI_FLAG_OPTION("keep-special", ImageArgs, keep_special),
};

/* Parses the options of an image sub-command: 1 to go on with the positional arguments from optind,
 * 0 after --help, -EINVAL for a usage error (said). */
static int parse_image_args(CliContext *c, const char *command, const char *help, int argc, char *argv[],
                            ImageArgs *a, int min_args, int max_args) {
        char full[64];
        int r;

        snprintf(full, sizeof full, "image %s", command);
        r = cli_parse_options(c, full, help, image_options, ELEMENTSOF(image_options), a, argc, argv);
        if (r <= 0)
                return r;
        int n = argc - optind;
        if (n < min_args)
                return cli_usage_errno(full, "'slipway %s' needs %s", full,
                                       min_args == 1 ? "one argument" : "two arguments");
        if (n > max_args)
                return cli_usage_errno(full, "Unexpected argument '%s'", argv[optind + max_args]);
        return 1;
}

static const char import_help[] =
        "Usage: slipway image import PATH [--name REF] [--rootfs] [--json]\n\n"
        "Imports an image into slipwayd's store.  PATH is an OCI layout directory, an oci-archive\n"
        "tar, a docker-archive tar (docker save), or with --rootfs a plain rootfs tar (.tar, .tar.gz,\n"
        ".tar.zst) that becomes a one-layer image.  The file is streamed, never read whole.\n\n"
        "  --name REF   name the image REF (\"busybox\" means \"busybox:latest\"); without it the\n"
        "               names recorded in the archive are used.  Required with --rootfs.\n"
        "  --rootfs     PATH is a plain root file system tar\n"
        "  --json       print {\"images\":[{\"digest\",\"refs\",\"size\"}]}\n";

static int print_import_result(CliContext *c, json_t *j) {
        json_t *images = json_object_get(j, "images"), *img;
        size_t i;

        if (c->json) {
                cli_print_json(j);
                return 0;
        }
        json_array_foreach(images, i, img) {
                char size[32];
                json_t *refs = json_object_get(img, "refs");
                format_bytes(size, sizeof size,
                             (unsigned long long) json_integer_value(json_object_get(img, "size")));
                printf("Imported %s (%s, %s).\n",
                       json_array_size(refs) > 0 ? json_string_value(json_array_get(refs, 0))
                                                 : "an unnamed image",
                       json_string_value(json_object_get(img, "digest")), size);
        }
        return 0;
}

static int image_import(CliContext *c, int argc, char *argv[]) {
        ImageArgs a = {};
        _cleanup_(http_conn_freep) HttpConn *conn = NULL;
        _cleanup_free_ char *path_q = NULL, *name_enc = NULL, *body = NULL, *err = NULL, *layout = NULL;
        _cleanup_json_ json_t *j = NULL;
        _cleanup_close_ int fd = -EBADF;
        const char *path, *format;
        struct stat st;
        int r;

        r = parse_image_args(c, "import", import_help, argc, argv, &a, 1, 1);
        if (r <= 0)
                return cli_exit_status(r);
        path = argv[optind];
        if (a.rootfs && !a.name)
                return cli_usage_error("image import",
                                       "--rootfs needs --name: a rootfs tar carries no image name");

        if (stat(path, &st) < 0) {
                if (errno == ENOENT)
                        return cli_error("Check the path.", "%s does not exist", path);
                return cli_error(NULL, "Cannot access %s: %s", path, strerror(errno));
        }
        if (S_ISDIR(st.st_mode)) {
                if (a.rootfs)
                        return cli_error(
                                "Pack the root file system as a tar first, e.g. tar -C DIR -cf rootfs.tar .",
                                "--rootfs takes a tar file, but %s is a directory", path);
                layout = path_join(path, "oci-layout");
                if (!layout)
                        return log_oom_cli();
                if (access(layout, F_OK) < 0)
                        return cli_error(
                                "Give an OCI image layout directory (with oci-layout and index.json), or an "
                                "archive file.",
                                "%s is a directory but not an OCI image layout (it has no oci-layout file)",
                                path);
                format = "oci-archive";
        } else if (S_ISREG(st.st_mode)) {
                format = a.rootfs ? "rootfs" : "auto";
                fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (fd < 0)
                        return cli_error(NULL, "Cannot open %s: %s", path, strerror(errno));
        } else
                return cli_error("Give a directory or a tar file.", "%s is neither a file nor a directory",
                                 path);

        if (a.name) {
                name_enc = http_url_encode(a.name);
                if (!name_enc)
                        return log_oom_cli();
        }
        if (asprintf(&path_q, "/api/v1/images/import?format=%s%s%s", format, name_enc ? "&name=" : "",
                     strempty(name_enc)) < 0)
                return log_oom_cli();

        r = cli_request_open(c, "POST", path_q, "application/x-tar",
                             fd >= 0 ? (int64_t) st.st_size : HTTP_BODY_CHUNKED, &conn);
        if (r < 0)
                return 1;

        if (fd >= 0) {
                _cleanup_free_ char *buf = malloc(IMPORT_BUFFER);
                if (!buf)
                        return log_oom_cli();
                for (;;) {
                        ssize_t n = read(fd, buf, IMPORT_BUFFER);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0)
                                return cli_error(NULL, "Cannot read %s: %s", path, strerror(errno));
                        if (n == 0)
                                break;
                        r = http_conn_write(conn, buf, (size_t) n);
                        if (r < 0)
                                break; /* the daemon stopped reading: its answer says why */
                }
        } else {
                r = archive_stream_dir_to_conn(path, conn, &err);
                if (r >= 0)
                        r = http_conn_finish(conn);
                else if (r != -EPIPE && r != -ECONNRESET)
                        return cli_error(NULL, "%s", err ?: strerror(-r));
        }

        r = cli_response_check(c, conn);
        if (r < 0)
                return 1;
        r = http_conn_read_body_full(conn, HTTP_CLIENT_JSON_MAX, &body, NULL);
        if (r < 0 || json_parse_buffer(body, strlen(body), &j, NULL) < 0)
                return cli_error(NULL, "slipwayd sent an unreadable answer to the import");
        return print_import_result(c, j);
}

static const char export_help[] =
        "Usage: slipway image export REF (--oci DIR | --oci-archive FILE) [--json]\n\n"
        "Exports an image as standard OCI that other tools read (skopeo, umoci, buildah).\n\n"
        "  --oci DIR            unpack the OCI layout into DIR (new or empty)\n"
        "  --oci-archive FILE   write an oci-archive tar to FILE (atomically)\n"
        "  --json               print {\"ref\",\"digest\",\"path\"}\n";

/* A failed write of the export (the temp file already removed): a full disk says which and how full. */
static int export_write_error(const char *file, int r) {
        char msg[768];

        if (!disk_errno_is_full(r))
                return cli_error(NULL, "Cannot write %s: %s", file, strerror(-r));
        disk_full_message(file, msg, sizeof msg);
        return cli_error("Free space there, or export to another disk; nothing was written.", "%s", msg);
}

static int export_to_file(CliContext *c, HttpConn *conn, const char *file) {
        _cleanup_free_ char *tmp = NULL, *buf = malloc(IMPORT_BUFFER);
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (!buf)
                return log_oom_cli();
        fd = open_tmpfile_at(AT_FDCWD, file, &tmp);
        if (fd < 0)
                return cli_error("Check that the directory exists and is writable.", "Cannot create %s: %s",
                                 file, strerror(-fd));
        for (;;) {
                ssize_t n = http_conn_read_body(conn, buf, IMPORT_BUFFER);
                if (n < 0) {
                        (void) unlink(tmp);
                        return cli_error("Retry the export; see the slipwayd log.",
                                         "The export stream from slipwayd broke off; %s was not written",
                                         file);
                }
                if (n == 0)
                        break;
                r = loop_write(fd, buf, (size_t) n);
                if (r < 0) {
                        (void) unlink(tmp);
                        return export_write_error(file, r);
                }
        }
        if (fchmod(fd, 0644) < 0)
                r = -errno;
        else
                r = link_tmpfile_atomic_at(fd, AT_FDCWD, tmp, file);
        if (r < 0) {
                (void) unlink(tmp);
                return export_write_error(file, r);
        }
        return 0;
}

static int dir_state(const char *dir) {
        _cleanup_(closedirp) DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
                return -errno;
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        return 0; /* not empty */
        return 1;
}

static int export_to_dir(CliContext *c, HttpConn *conn, const char *dir) {
        _cleanup_free_ char *tmpl = NULL, *err = NULL, *parent = NULL;
        char *slash;
        int r;

        parent = strdup(dir);
        if (!parent)
                return log_oom_cli();
        while (strlen(parent) > 1 && parent[strlen(parent) - 1] == '/')
                parent[strlen(parent) - 1] = 0;
        slash = strrchr(parent, '/');
        if (slash == parent)
                parent[1] = 0;
        else if (slash)
                *slash = 0;
        else
                strcpy(parent, ".");
        r = mkdir_p(parent, 0755);
        if (r < 0)
                return cli_error(NULL, "Cannot create %s: %s", parent, strerror(-r));
        if (asprintf(&tmpl, "%s/.slipway-export-XXXXXX", parent) < 0)
                return log_oom_cli();
        if (!mkdtemp(tmpl))
                return cli_error("Check that the directory is writable.",
                                 "Cannot create a directory next to %s: %s", dir, strerror(errno));

        r = archive_stream_conn_to_dir(conn, tmpl, &err);
        if (r < 0) {
                (void) rm_rf(tmpl);
                if (disk_errno_is_full(r))
                        return export_write_error(dir, r);
                return cli_error("Retry the export; see the slipwayd log.", "%s; %s was not written",
                                 err ?: strerror(-r), dir);
        }
        /* The finished layout replaces the (missing or empty) target in one step. */
        (void) chmod(tmpl, 0755);
        (void) rmdir(dir);
        if (rename(tmpl, dir) < 0) {
                r = -errno;
                (void) rm_rf(tmpl);
                return cli_error(NULL, "Cannot move the export into %s: %s", dir, strerror(-r));
        }
        return 0;
}

static int image_export(CliContext *c, int argc, char *argv[]) {
        ImageArgs a = {};
        _cleanup_(http_conn_freep) HttpConn *conn = NULL;
        _cleanup_free_ char *path = NULL, *target = NULL;
        _cleanup_json_ json_t *j = NULL;
        const char *ref, *digest, *name;
        int r;

        r = parse_image_args(c, "export", export_help, argc, argv, &a, 1, 1);
        if (r <= 0)
                return cli_exit_status(r);
        ref = argv[optind];
        if (!!a.oci_dir == !!a.oci_archive)
                return cli_usage_error("image export",
                                       "Give exactly one of --oci DIR and --oci-archive FILE");
        target = path_make_absolute(a.oci_dir ?: a.oci_archive);
        if (!target)
                return log_oom_cli();

        if (a.oci_dir) {
                r = dir_state(target);
                if (r == 0)
                        return cli_error("Give a new or empty directory.", "%s is not empty", a.oci_dir);
                if (r == -ENOTDIR)
                        return cli_error("Give a new or empty directory.", "%s is not a directory",
                                         a.oci_dir);
                if (r < 0 && r != -ENOENT)
                        return cli_error(NULL, "Cannot read %s: %s", a.oci_dir, strerror(-r));
        } else {
                struct stat st;
                if (stat(target, &st) >= 0 && S_ISDIR(st.st_mode))
                        return cli_error("Give a file name for the archive.", "%s is a directory",
                                         a.oci_archive);
        }

        path = cli_image_path(ref, "/export");
        if (!path)
                return log_oom_cli();
        r = cli_request_open(c, "GET", path, NULL, HTTP_BODY_NONE, &conn);
        if (r < 0)
                return 1;
        r = cli_response_check(c, conn);
        if (r < 0)
                return 1;
        digest = http_conn_header(conn, "X-Slipway-Digest");
        name = http_conn_header(conn, "X-Slipway-Ref");
        j = json_pack("{s:s,s:s,s:s}", "ref", isempty(name) ? ref : name, "digest", strempty(digest), "path",
                      target);
        if (!j)
                return log_oom_cli();

        r = a.oci_dir ? export_to_dir(c, conn, target) : export_to_file(c, conn, target);
        if (r != 0)
                return r;

        if (c->json)
                cli_print_json(j);
        else
                printf("Exported %s (%s) to %s.\n", json_string_value(json_object_get(j, "ref")),
                       strempty(digest), target);
        return 0;
}

static const char list_help[] =
        "Usage: slipway image list [--json]\n\n"
        "Lists the images in the store: one line per name (REF, DIGEST, SIZE, CREATED).\n";

static int image_list(CliContext *c, int argc, char *argv[]) {
        ImageArgs a = {};
        _cleanup_json_ json_t *j = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        json_t *img;
        size_t i;
        int r;

        r = parse_image_args(c, "list", list_help, argc, argv, &a, 0, 0);
        if (r <= 0)
                return cli_exit_status(r);
        if (cli_api_json(c, "GET", "/api/v1/images", NULL, &j) < 0)
                return 1;
        if (c->json) {
                cli_print_json(j);
                return 0;
        }
        t = table_new(4, "REF", "DIGEST", "SIZE", "CREATED");
        if (!t)
                return log_oom_cli();
        json_array_foreach(json_object_get(j, "images"), i, img) {
                char dig[13], size[32], created[32] = "-";
                json_t *refs = json_object_get(img, "refs"), *ref;
                const char *cr = json_string_value(json_object_get(img, "created"));
                size_t k;

                model_short_digest(json_string_value(json_object_get(img, "digest")), dig);
                format_bytes(size, sizeof size,
                             (unsigned long long) json_integer_value(json_object_get(img, "size")));
                if (cr && strlen(cr) >= 16) {
                        snprintf(created, sizeof created, "%.16s", cr);
                        created[10] = ' ';
                }
                if (json_array_size(refs) == 0 && table_add_row(t, "<none>", dig, size, created) < 0)
                        return log_oom_cli();
                json_array_foreach(refs, k, ref)
                        if (table_add_row(t, json_string_value(ref), dig, size, created) < 0)
                                return log_oom_cli();
        }
        table_print(t);
        return 0;
}

static const char inspect_help[] =
        "Usage: slipway image inspect REF [--json]\n\n"
        "Shows an image's digest, names, size, manifest and config.  REF is a name or a full\n"
        "sha256 digest.\n";

static int image_inspect(CliContext *c, int argc, char *argv[]) {
        ImageArgs a = {};
        _cleanup_json_ json_t *j = NULL;
        _cleanup_free_ char *path = NULL;
        int r;

        r = parse_image_args(c, "inspect", inspect_help, argc, argv, &a, 1, 1);
        if (r <= 0)
                return cli_exit_status(r);
        path = cli_image_path(argv[optind], NULL);
        if (!path)
                return log_oom_cli();
        if (cli_api_json(c, "GET", path, NULL, &j) < 0)
                return 1;
        /* The manifest and config are documents: both outputs show them as JSON. */
        cli_print_json(j);
        return 0;
}

static const char sbom_help[] =
        "Usage: slipway image sbom REF\n\n"
        "Prints the software bill of materials of a stored image (imported or built) as CycloneDX 1.5\n"
        "JSON: the packages its dpkg, apk, Python, npm and Go metadata list.\n";

static int image_sbom(CliContext *c, int argc, char *argv[]) {
        ImageArgs a = {};
        _cleanup_json_ json_t *j = NULL;
        _cleanup_free_ char *path = NULL;
        int r;

        r = parse_image_args(c, "sbom", sbom_help, argc, argv, &a, 1, 1);
        if (r <= 0)
                return cli_exit_status(r);
        path = cli_image_path(argv[optind], "/sbom");
        if (!path)
                return log_oom_cli();
        if (cli_api_json(c, "GET", path, NULL, &j) < 0)
                return 1;
        cli_print_json(j);
        return 0;
}

static const char scan_help[] =
        "Usage: slipway image scan REF [--json]\n\n"
        "Scans a stored image (imported or built) as a build's scan step would: its SBOM (packages per\n"
        "ecosystem), its packages matched against the imported OSV advisories (id, severity, package,\n"
        "installed and fixed version), the secrets in each of its layers (rule, file and layer; never the\n"
        "secret) and whether it runs as root.  A report: the exit status is 0 whatever it finds, and\n"
        "non-zero only when the scan cannot be made.\n\n"
        "  --json   one document: components, ecosystems, advisories, findings, checks, counts and the\n"
        "           verdict a build would get at the default threshold (policy)\n";

static int image_scan(CliContext *c, int argc, char *argv[]) {
        ImageArgs a = {};
        _cleanup_json_ json_t *j = NULL;
        _cleanup_free_ char *path = NULL;
        int r;

        r = parse_image_args(c, "scan", scan_help, argc, argv, &a, 1, 1);
        if (r <= 0)
                return cli_exit_status(r);
        path = cli_image_path(argv[optind], "/scan");
        if (!path)
                return log_oom_cli();
        if (cli_api_json(c, "GET", path, NULL, &j) < 0)
                return 1;
        if (c->json) {
                cli_print_json(j);
                return 0;
        }
        printf("Image:       %s (%s)\n", json_string_value(json_object_get(j, "image")),
               json_string_value(json_object_get(j, "digest")));
        scan_print(j, SCAN_PRINT_IMAGE);
        return 0;
}

static const char rm_help[] =
        "Usage: slipway image rm REF [--json]\n\n"
        "Removes the name REF.  The image goes when its last name does; its blobs stay until\n"
        "'slipway image gc'.  A full sha256 digest removes every name of that image.\n";

static int image_rm(CliContext *c, int argc, char *argv[]) {
        ImageArgs a = {};
        _cleanup_json_ json_t *j = NULL;
        _cleanup_free_ char *path = NULL;
        int r;

        r = parse_image_args(c, "rm", rm_help, argc, argv, &a, 1, 1);
        if (r <= 0)
                return cli_exit_status(r);
        path = cli_image_path(argv[optind], NULL);
        if (!path)
                return log_oom_cli();
        if (cli_api_json(c, "DELETE", path, NULL, &j) < 0)
                return 1;
        if (c->json)
                cli_print_json(j);
        else
                printf("Removed %s (%s).\n", json_string_value(json_object_get(j, "removed")),
                       json_string_value(json_object_get(j, "digest")));
        return 0;
}

static const char gc_help[] = "Usage: slipway image gc [--dry-run] [--build-cache] [--json]\n\n"
                              "Removes blobs and unpacked layers that no named image references, and\n"
                              "the temp files that interrupted imports, unpacks and builds left.  Counts\n"
                              "the cache mounts of RUN --mount=type=cache, kept from build to build.\n\n"
                              "  --dry-run       only report what would be removed\n"
                              "  --build-cache   also remove the cache mounts no running build uses\n";

static int image_gc(CliContext *c, int argc, char *argv[]) {
        ImageArgs a = {};
        _cleanup_json_ json_t *j = NULL;
        char size[32], temp_size[32], cache_size[32], path[96];
        json_t *cache;
        int r;

        r = parse_image_args(c, "gc", gc_help, argc, argv, &a, 0, 0);
        if (r <= 0)
                return cli_exit_status(r);
        snprintf(path, sizeof path, "/api/v1/images/gc?dry_run=%d&build_cache=%d", a.dry_run, a.build_cache);
        if (cli_api_json(c, "POST", path, NULL, &j) < 0)
                return 1;
        if (c->json) {
                cli_print_json(j);
                return 0;
        }
        format_bytes(size, sizeof size,
                     (unsigned long long) json_integer_value(json_object_get(j, "bytes_freed")));
        format_bytes(temp_size, sizeof temp_size,
                     (unsigned long long) json_integer_value(json_object_get(j, "temp_bytes")));
        printf("%s %lld blobs (%s), %lld unpacked layers and %lld temp files of interrupted imports and "
               "builds (%s).\n",
               a.dry_run ? "Would remove" : "Removed",
               (long long) json_integer_value(json_object_get(j, "blobs_removed")), size,
               (long long) json_integer_value(json_object_get(j, "layers_removed")),
               (long long) json_integer_value(json_object_get(j, "temp_removed")), temp_size);
        cache = json_object_get(j, "build_cache");
        format_bytes(cache_size, sizeof cache_size,
                     (unsigned long long) json_integer_value(
                             json_object_get(cache, a.build_cache ? "bytes_removed" : "bytes")));
        if (a.build_cache)
                printf("%s %lld build cache mounts (%s)%s.\n", a.dry_run ? "Would remove" : "Removed",
                       (long long) json_integer_value(json_object_get(cache, "removed")), cache_size,
                       json_integer_value(json_object_get(cache, "busy")) > 0 ? "; those in use are kept"
                                                                              : "");
        else
                printf("Build cache mounts: %lld (%s), kept; 'slipway image gc --build-cache' removes them.\n",
                       (long long) json_integer_value(json_object_get(cache, "dirs")), cache_size);
        return 0;
}

static const char unpack_help[] =
        "Usage: slipway image unpack REF DIR [--keep-special] [--json]\n\n"
        "Unpacks all layers of REF (whiteouts applied) into DIR on the daemon's host, as one plain\n"
        "root file system.  DIR is created, must be empty and must not be inside the state directory.\n"
        "A test hook for the unpacker.\n\n"
        "  --keep-special   keep the image's device nodes and setuid/setgid bits (left out by\n"
        "                   default: on the host they would work; only for images you trust)\n";

static int image_unpack(CliContext *c, int argc, char *argv[]) {
        ImageArgs a = {};
        _cleanup_json_ json_t *j = NULL, *body = NULL;
        _cleanup_free_ char *path = NULL, *dir = NULL;
        int r;

        r = parse_image_args(c, "unpack", unpack_help, argc, argv, &a, 2, 2);
        if (r <= 0)
                return cli_exit_status(r);
        dir = path_make_absolute(argv[optind + 1]);
        path = cli_image_path(argv[optind], "/unpack");
        body = json_pack("{s:s,s:b}", "path", dir ?: "", "keep_special", a.keep_special);
        if (!dir || !path || !body)
                return log_oom_cli();
        if (cli_api_json(c, "POST", path, body, &j) < 0)
                return 1;
        if (c->json)
                cli_print_json(j);
        else
                printf("Unpacked %s (%s) into %s.\n", json_string_value(json_object_get(j, "ref")),
                       json_string_value(json_object_get(j, "digest")),
                       json_string_value(json_object_get(j, "path")));
        return 0;
}

static const char image_help[] =
        "Usage: slipway image COMMAND …\n\n"
        "  build CONTEXT [-f FILE] [-t REF] [--build-arg K=V]… [--secret id=ID,src=FILE|env=VAR]…\n"
        "        [--target STAGE] [--no-cache]\n"
        "                                                build from a Dockerfile, log streamed\n"
        "  import PATH [--name REF] [--rootfs]          import an OCI layout, oci-archive, docker-archive\n"
        "                                                or rootfs tar\n"
        "  export REF (--oci DIR | --oci-archive FILE)   export as standard OCI\n"
        "  list                                          list images\n"
        "  inspect REF                                   show manifest and config\n"
        "  sbom REF                                      its packages, as CycloneDX 1.5 JSON\n"
        "  scan REF                                      its vulnerabilities, secrets and checks\n"
        "  rm REF                                        remove a name\n"
        "  gc [--dry-run] [--build-cache]                remove unreferenced blobs and layers (and cache mounts)\n"
        "  unpack REF DIR                                flat rootfs into DIR (test hook)\n\n"
        "Every command takes --json and --help.\n";

int cmd_image(CliContext *c, int argc, char *argv[]) {
        static const CliVerb verbs[] = {
                { "import", image_import },   { "export", image_export },   { "list", image_list },
                { "ls", image_list },         { "inspect", image_inspect }, { "rm", image_rm },
                { "sbom", image_sbom },       { "gc", image_gc },           { "unpack", image_unpack },
                { "build", cmd_image_build }, { "scan", image_scan },
        };

        /* Global options may sit between "image" and its command. */
        return cli_dispatch(c, "image", image_help,
                            "build, import, export, list, inspect, sbom, scan, rm, gc, unpack", verbs,
                            ELEMENTSOF(verbs), argc, argv);
}
