/* The builder tests' fixture: a temp state dir with a real sqlite db, OCI store, image catalog and Builder,
 * a busybox image (busybox:test), build contexts, builds that keep their log, and what to look at in the
 * images they make. Everything lives below top and goes with it. */
#include "test-builder-fixture.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs-util.h"
#include "json-util.h"
#include "state.h"

#include "tests.h"

ImageCatalog *catalog;
OciStore *store;
Builder *builder;
sqlite3 *db;
BuildJob *cancel_job;

char top[] = "/tmp/test-builder-XXXXXX";

char *at(const char *name) {
        char *p = path_join(top, name);
        CHECK(p);
        return p;
}

void tar_add(struct archive *a, const char *name, mode_t type, mode_t perm, const char *data, size_t size,
             const char *link) {
        struct archive_entry *e = archive_entry_new();

        CHECK(e);
        archive_entry_set_pathname(e, name);
        archive_entry_set_filetype(e, type);
        archive_entry_set_perm(e, perm);
        archive_entry_set_mtime(e, 1700000000, 0);
        if (link)
                archive_entry_set_symlink(e, link);
        archive_entry_set_size(e, type == AE_IFREG ? (la_int64_t) size : 0);
        CHECK(archive_write_header(a, e) == ARCHIVE_OK);
        if (type == AE_IFREG && size > 0)
                CHECK(archive_write_data(a, data, size) == (la_ssize_t) size);
        archive_entry_free(e);
}

/* busybox-static with its applets, /etc/passwd with root and app (1000), /etc/group, /tmp. */
static void import_busybox(void) {
        static const char *applets[] = { "sh",   "echo",  "cat", "rm", "mkdir", "touch",  "sleep",
                                         "true", "false", "id",  "ls", "test",  "printf", NULL };
        static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n";
        static const char group[] = "root:x:0:\napp:x:1000:\n";
        _cleanup_free_ char *tar = at("busybox.tar"), *bb = NULL;
        struct archive *a = archive_write_new();
        CatalogImported *imp = NULL;
        OciError err = {};
        size_t size, n;

        CHECK(read_full_file("/bin/busybox", &bb, &size) == 0);
        CHECK(a);
        CHECK(archive_write_set_format_pax_restricted(a) == ARCHIVE_OK);
        CHECK(archive_write_open_filename(a, tar) == ARCHIVE_OK);
        tar_add(a, "bin", AE_IFDIR, 0755, NULL, 0, NULL);
        tar_add(a, "bin/busybox", AE_IFREG, 0755, bb, size, NULL);
        for (size_t i = 0; applets[i]; i++) {
                char name[64];
                snprintf(name, sizeof name, "bin/%s", applets[i]);
                tar_add(a, name, AE_IFLNK, 0777, NULL, 0, "busybox");
        }
        tar_add(a, "etc", AE_IFDIR, 0755, NULL, 0, NULL);
        tar_add(a, "etc/passwd", AE_IFREG, 0644, passwd, strlen(passwd), NULL);
        tar_add(a, "etc/group", AE_IFREG, 0644, group, strlen(group), NULL);
        tar_add(a, "tmp", AE_IFDIR, 01777, NULL, 0, NULL);
        CHECK(archive_write_close(a) == ARCHIVE_OK);
        archive_write_free(a);
        CHECK(image_catalog_import(catalog, tar, OCI_IMPORT_ROOTFS, "busybox:test", &imp, &n, &err) == 0);
        catalog_imported_free(imp, n);
}

void write_file(const char *dir, const char *name, const char *content) {
        _cleanup_free_ char *p = path_join(dir, name);
        CHECK(p);
        CHECK(write_file_atomic(p, content, strlen(content), 0644) == 0);
}

char *make_context(const char *name, const char *dockerfile) {
        char *dir = at(name);
        (void) rm_rf(dir);
        CHECK(mkdir(dir, 0755) == 0);
        write_file(dir, "Dockerfile", dockerfile);
        return dir;
}

Built build_ex(const char *ctx, char **args, const char *tag, bool no_cache, BuildJob **job_out) {
        Built b = {};
        _cleanup_free_ char *logp = at("build.log");
        int fd = open(logp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        BuildOptions o = { .context_dir = ctx,
                           .build_args = args,
                           .tag = tag,
                           .no_cache = no_cache,
                           .log_fd = fd,
                           .job = cancel_job };

        CHECK(fd >= 0);
        b.r = builder_run(builder, &o, job_out, &b.res, &b.err);
        close(fd);
        CHECK(read_full_file(logp, &b.log, NULL) == 0);
        if (b.r < 0)
                fprintf(stderr, "build of %s: %d %s:%u:%u: %s (%s)\n--- log:\n%s---\n", ctx, b.r, b.err.file,
                        b.err.line, b.err.column, b.err.message, b.err.hint, b.log);
        return b;
}

Built build(const char *ctx, char **args, const char *tag) {
        return build_ex(ctx, args, tag, false, NULL);
}

void built_done(Built *b) {
        build_result_done(&b->res);
        free(b->log);
}

/* Builds a context (named name below top) holding only a Dockerfile. */
Built build_dockerfile(const char *name, const char *dockerfile) {
        _cleanup_free_ char *ctx = make_context(name, dockerfile);
        return build(ctx, NULL, NULL);
}

json_t *read_json_blob(const char *digest) {
        _cleanup_free_ char *data = NULL;
        size_t size;
        json_t *j = NULL;

        CHECK(oci_store_read_blob(store, digest, 1 << 22, &data, &size) == 0);
        CHECK(json_parse_buffer(data, size, &j, NULL) == 0);
        return j;
}

json_t *image_config(const char *manifest_digest) {
        _cleanup_json_ json_t *m = read_json_blob(manifest_digest);
        return read_json_blob(json_string_value(json_object_get(json_object_get(m, "config"), "digest")));
}

/* Entry names of the image's last layer, '\n'-joined. */
char *last_layer_entries(const char *manifest_digest) {
        _cleanup_json_ json_t *m = read_json_blob(manifest_digest);
        json_t *layers = json_object_get(m, "layers");
        const char *d = json_string_value(
                json_object_get(json_array_get(layers, json_array_size(layers) - 1), "digest"));
        _cleanup_close_ int fd = -EBADF;
        struct archive *a = archive_read_new();
        struct archive_entry *e;
        char *out = calloc(1, 65536);

        CHECK(d && out && a);
        CHECK(oci_store_open_blob(store, d, &fd, NULL) == 0);
        archive_read_support_filter_all(a);
        archive_read_support_format_tar(a);
        CHECK(archive_read_open_fd(a, fd, 65536) == ARCHIVE_OK);
        while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
                strncat(out, archive_entry_pathname(e), 65536 - strlen(out) - 2);
                strcat(out, "\n");
        }
        archive_read_free(a);
        return out;
}

char *unpack(const char *digest, const char *name) {
        char *dir = at(name);
        OciError err = {};

        (void) rm_rf(dir);
        CHECK(image_catalog_unpack(catalog, digest, dir, LAYER_UNPACK_KEEP_SPECIAL, NULL, &err) == 0);
        return dir;
}

/* stat() of dir/name, which must exist. */
struct stat stat_in(const char *dir, const char *name) {
        _cleanup_free_ char *p = path_join(dir, name);
        struct stat st;

        CHECK(p && stat(p, &st) == 0);
        return st;
}

bool file_is(const char *dir, const char *name, const char *content) {
        _cleanup_free_ char *p = path_join(dir, name), *data = NULL;
        return read_full_file(p, &data, NULL) == 0 && streq(data, content);
}

/* Nothing of ours is mounted, and builds/ holds only the shim. */
void check_clean(void) {
        _cleanup_free_ char *mi = NULL, *builds = at("builds");
        _cleanup_(closedirp) DIR *d = opendir(builds);
        struct dirent *de;

        CHECK(read_full_file("/proc/self/mountinfo", &mi, NULL) == 0);
        CHECK(!strstr(mi, top));
        CHECK(d);
        while ((de = readdir(d)))
                CHECK(streq(de->d_name, ".") || streq(de->d_name, "..") || streq(de->d_name, "shim"));
}

/* A tar at path of (name, type, data-or-link-target) triples; NULL name ends them. */
void write_tar(const char *path, const char *const *e) {
        struct archive *a = archive_write_new();

        CHECK(a && archive_write_set_format_pax_restricted(a) == ARCHIVE_OK);
        CHECK(archive_write_open_filename(a, path) == ARCHIVE_OK);
        for (; e[0]; e += 3)
                tar_add(a, e[0], e[1][0] == 'l' ? AE_IFLNK : AE_IFREG, e[1][0] == 'l' ? 0777 : 0644,
                        e[1][0] == 'l' ? NULL : e[2], strlen(e[2]), e[1][0] == 'l' ? e[2] : NULL);
        CHECK(archive_write_close(a) == ARCHIVE_OK);
        archive_write_free(a);
}

void builder_fixture_setup(void) {
        _cleanup_free_ char *dbp = NULL, *oci = NULL, *layers = NULL;

        if (geteuid() != 0)
                TEST_SKIP("test-builder needs root");
        if (access("/usr/bin/systemd-nspawn", X_OK) < 0 || access("/bin/busybox", X_OK) < 0)
                TEST_SKIP("test-builder needs systemd-nspawn and /bin/busybox");
        CHECK(mkdtemp(top));
        dbp = at("slipway.db");
        oci = at("oci");
        layers = at("layers");
        CHECK(state_open(dbp, &db) == 0);
        CHECK(oci_store_open(oci, &store) == 0);
        CHECK(image_catalog_new(db, store, layers, &catalog) == 0);
        CHECK(builder_new(top, catalog, &builder) == 0);
        import_busybox();
}

void builder_fixture_teardown(void) {
        builder_free(builder);
        image_catalog_free(catalog);
        oci_store_free(store);
        if (!getenv("KEEP"))
                (void) rm_rf(top);
}
