/* End-to-end tests of the builder against a temp state dir (real sqlite, OCI store, catalog, systemd-nspawn):
 * FROM scratch + COPY, RUN with whiteouts, multi-stage COPY --from, config instructions, USER/--chown by name,
 * the cache (hit, mtime-only change, content change), reproducible digests, failing RUN and cancel leaving
 * no mounts or temp dirs. Needs root (exit 77 otherwise). */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "builder.h"
#include "fs-util.h"
#include "json-util.h"
#include "sqlite-util.h"
#include "state.h"

#include "tests.h"

static char top[] = "/tmp/test-builder-XXXXXX";
static ImageCatalog *catalog;
static OciStore *store;
static Builder *builder;
static sqlite3 *db;

static char *at(const char *name) {
        char *p = path_join(top, name);
        CHECK(p);
        return p;
}

static void tar_add(struct archive *a, const char *name, mode_t type, mode_t perm, const char *data,
                    size_t size, const char *link) {
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

static void write_file(const char *dir, const char *name, const char *content) {
        _cleanup_free_ char *p = path_join(dir, name);
        CHECK(p);
        CHECK(write_file_atomic(p, content, strlen(content), 0644) == 0);
}

static char *make_context(const char *name, const char *dockerfile) {
        char *dir = at(name);
        (void) rm_rf(dir);
        CHECK(mkdir(dir, 0755) == 0);
        write_file(dir, "Dockerfile", dockerfile);
        return dir;
}

typedef struct Built {
        int r;
        BuildResult res;
        BuildError err;
        char *log;
} Built;

static BuildJob *cancel_job;

static Built build_ex(const char *ctx, char **args, const char *tag, bool no_cache, BuildJob **job_out) {
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

static Built build(const char *ctx, char **args, const char *tag) {
        return build_ex(ctx, args, tag, false, NULL);
}

static void built_done(Built *b) {
        build_result_done(&b->res);
        free(b->log);
}

/* Builds a context (named name below top) holding only a Dockerfile. */
static Built build_dockerfile(const char *name, const char *dockerfile) {
        _cleanup_free_ char *ctx = make_context(name, dockerfile);
        return build(ctx, NULL, NULL);
}

static json_t *read_json_blob(const char *digest) {
        _cleanup_free_ char *data = NULL;
        size_t size;
        json_t *j = NULL;

        CHECK(oci_store_read_blob(store, digest, 1 << 22, &data, &size) == 0);
        CHECK(json_parse_buffer(data, size, &j, NULL) == 0);
        return j;
}

static json_t *image_config(const char *manifest_digest) {
        _cleanup_json_ json_t *m = read_json_blob(manifest_digest);
        return read_json_blob(json_string_value(json_object_get(json_object_get(m, "config"), "digest")));
}

/* Entry names of the image's last layer, '\n'-joined. */
static char *last_layer_entries(const char *manifest_digest) {
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

static char *unpack(const char *digest, const char *name) {
        char *dir = at(name);
        OciError err = {};

        (void) rm_rf(dir);
        CHECK(image_catalog_unpack(catalog, digest, dir, &err) == 0);
        return dir;
}

static bool file_is(const char *dir, const char *name, const char *content) {
        _cleanup_free_ char *p = path_join(dir, name), *data = NULL;
        return read_full_file(p, &data, NULL) == 0 && streq(data, content);
}

/* Nothing of ours is mounted, and builds/ holds only the shim. */
static void check_clean(void) {
        _cleanup_free_ char *mi = NULL, *builds = at("builds");
        _cleanup_(closedirp) DIR *d = opendir(builds);
        struct dirent *de;

        CHECK(read_full_file("/proc/self/mountinfo", &mi, NULL) == 0);
        CHECK(!strstr(mi, top));
        CHECK(d);
        while ((de = readdir(d)))
                CHECK(streq(de->d_name, ".") || streq(de->d_name, "..") || streq(de->d_name, "shim"));
}

static void test_scratch_copy(void) {
        _cleanup_free_ char *ctx = make_context("ctx-scratch", "FROM scratch\nCOPY hello.txt /hello.txt\n"
                                                               "COPY dir /d/\nCOPY *.md /docs/\n"),
                            *sub = path_join(ctx, "dir"), *root = NULL;
        write_file(ctx, "hello.txt", "hello\n");
        write_file(ctx, "a.md", "A\n");
        write_file(ctx, "b.md", "B\n");
        CHECK(mkdir(sub, 0750) == 0);
        write_file(sub, "inner", "inner\n");
        Built b = build(ctx, NULL, "scratch-copy:1");
        CHECK(b.r == 0);
        CHECK(streq(b.res.ref, "scratch-copy:1"));
        CHECK(b.res.steps == 3);
        CHECK(strstr(b.log, "STEP 2/4: COPY hello.txt /hello.txt"));
        root = unpack(b.res.digest, "u-scratch");
        CHECK(file_is(root, "hello.txt", "hello\n"));
        CHECK(file_is(root, "d/inner", "inner\n"));
        CHECK(file_is(root, "docs/a.md", "A\n") && file_is(root, "docs/b.md", "B\n"));
        {
                _cleanup_free_ char *p = path_join(root, "d");
                struct stat st;
                CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0755 &&
                      st.st_uid == 0); /* made, not copied */
        }
        built_done(&b);
        check_clean();
}

static void test_run_whiteout_user(void) {
        _cleanup_free_ char
                *ctx = make_context(
                        "ctx-run",
                        "FROM busybox:test\n"
                        "RUN echo produced-output && echo data > /a && rm /bin/ls && mkdir -p /home/app\n"
                        "USER app\n"
                        "RUN id -u > /tmp/uid && echo \"uid=$(id -u)\"\n"
                        "USER root\n"
                        "COPY --chown=app:app f /home/app/f\n"),
                *root = NULL, *entries = NULL;
        write_file(ctx, "f", "f\n");
        Built b = build(ctx, NULL, NULL);
        CHECK(b.r == 0);
        CHECK(strstr(b.log, "produced-output\n"));
        CHECK(strstr(b.log, "uid=1000\n"));
        root = unpack(b.res.digest, "u-run");
        CHECK(file_is(root, "a", "data\n"));
        CHECK(file_is(root, "tmp/uid", "1000\n"));
        {
                _cleanup_free_ char *g = path_join(root, "bin/ls"), *f = path_join(root, "home/app/f");
                struct stat st;
                CHECK(faccessat(AT_FDCWD, g, F_OK, AT_SYMLINK_NOFOLLOW) < 0);
                CHECK(stat(f, &st) == 0 && st.st_uid == 1000 && st.st_gid == 1000);
        }
        /* The RUN layer that deleted /etc/group carries the OCI whiteout. */
        {
                _cleanup_json_ json_t *m = read_json_blob(b.res.digest);
                CHECK(json_array_size(json_object_get(m, "layers")) == 4);
        }
        entries = last_layer_entries(b.res.digest);
        CHECK(strstr(entries, "home/app/f"));
        built_done(&b);

        b = build_dockerfile("ctx-wh", "FROM busybox:test\nRUN rm /etc/group\n");
        CHECK(b.r == 0);
        free(entries);
        entries = last_layer_entries(b.res.digest);
        CHECK(streq(entries, "etc/\netc/.wh.group\n")); /* nothing of nspawn's mount points */
        built_done(&b);
        check_clean();
}

static void test_multistage_config(void) {
        _cleanup_free_ char *ctx = make_context("ctx-multi",
                                                "ARG BASE=busybox:test\n"
                                                "FROM $BASE AS builder\n"
                                                "RUN echo built > /out\n"
                                                "FROM busybox:test AS unused\n"
                                                "RUN false\n"
                                                "FROM scratch\n"
                                                "COPY --from=builder /out /app/out\n"
                                                "ENV A=1 B=\"two words\"\n"
                                                "WORKDIR /app\n"
                                                "WORKDIR sub\n"
                                                "USER 1000:1000\n"
                                                "CMD [\"run\"]\n"
                                                "ENTRYPOINT [\"/bin/app\"]\n"
                                                "EXPOSE 80 53/udp\n"
                                                "LABEL org.example=yes\n"
                                                "VOLUME /data\n"
                                                "STOPSIGNAL SIGINT\n"
                                                "HEALTHCHECK --interval=5s --retries=3 CMD check\n"),
                            *root = NULL;
        Built b = build(ctx, NULL, NULL);
        _cleanup_json_ json_t *cfg = NULL;
        json_t *c;

        CHECK(b.r == 0);
        CHECK(!strstr(b.log, "RUN false")); /* the stage the target does not need is skipped */
        root = unpack(b.res.digest, "u-multi");
        CHECK(file_is(root, "app/out", "built\n"));
        {
                _cleanup_free_ char *sub = path_join(root, "app/sub");
                struct stat st;
                CHECK(stat(sub, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0755 &&
                      st.st_uid == 0);
        }
        cfg = image_config(b.res.digest);
        c = json_object_get(cfg, "config");
        CHECK(json_array_size(json_object_get(c, "Env")) == 2);
        CHECK(streq(json_string_value(json_array_get(json_object_get(c, "Env"), 1)), "B=two words"));
        CHECK(streq(json_string_value(json_object_get(c, "WorkingDir")), "/app/sub"));
        CHECK(streq(json_string_value(json_object_get(c, "User")), "1000:1000"));
        CHECK(streq(json_string_value(json_array_get(json_object_get(c, "Cmd"), 0)), "run"));
        CHECK(streq(json_string_value(json_array_get(json_object_get(c, "Entrypoint"), 0)), "/bin/app"));
        CHECK(json_object_get(json_object_get(c, "ExposedPorts"), "80/tcp"));
        CHECK(json_object_get(json_object_get(c, "ExposedPorts"), "53/udp"));
        CHECK(streq(json_string_value(json_object_get(json_object_get(c, "Labels"), "org.example")), "yes"));
        CHECK(json_object_get(json_object_get(c, "Volumes"), "/data"));
        CHECK(streq(json_string_value(json_object_get(c, "StopSignal")), "SIGINT"));
        CHECK(json_integer_value(json_object_get(json_object_get(c, "Healthcheck"), "Interval")) ==
              5000000000LL);
        CHECK(json_integer_value(json_object_get(json_object_get(c, "Healthcheck"), "Retries")) == 3);
        CHECK(streq(json_string_value(
                            json_array_get(json_object_get(json_object_get(c, "Healthcheck"), "Test"), 0)),
                    "CMD-SHELL"));
        /* COPY's layer and WORKDIR sub's (it creates /app/sub; /app came with the COPY) */
        CHECK(json_array_size(json_object_get(json_object_get(cfg, "rootfs"), "diff_ids")) == 2);
        CHECK(json_array_size(json_object_get(cfg, "history")) == 12);
        built_done(&b);
        check_clean();
}

static void test_cache(void) {
        _cleanup_free_ char *ctx = make_context("ctx-cache", "FROM busybox:test\nRUN echo one > /one\n"
                                                             "COPY f /f\nRUN cat /f > /g\nENV X=1\n"),
                            *f = NULL;
        char first[DIGEST_STRING_MAX];
        struct timespec ts[2] = { { .tv_sec = 1600000000 }, { .tv_sec = 1600000000 } };

        write_file(ctx, "f", "v1\n");
        Built b = build(ctx, NULL, NULL);
        CHECK(b.r == 0 && b.res.steps == 4);
        strcpy(first, b.res.digest);
        built_done(&b);

        b = build(ctx, NULL, NULL);
        CHECK(b.r == 0 && b.res.cached_steps == 4 && streq(b.res.digest, first));
        CHECK(strstr(b.log, "--> cached"));
        built_done(&b);

        f = path_join(ctx, "f");
        CHECK(utimensat(AT_FDCWD, f, ts, 0) == 0);
        b = build(ctx, NULL, NULL);
        CHECK(b.r == 0 && b.res.cached_steps == 4);
        built_done(&b);

        write_file(ctx, "f", "v2\n");
        b = build(ctx, NULL, NULL);
        CHECK(b.r == 0 && b.res.cached_steps == 1); /* RUN echo one hits; COPY and all after miss */
        CHECK(!streq(b.res.digest, first));
        built_done(&b);

        b = build_ex(ctx, NULL, NULL, true, NULL);
        CHECK(b.r == 0 && b.res.cached_steps == 0);
        built_done(&b);
        check_clean();
}

static void test_reproducible(void) {
        _cleanup_free_ char *ctx =
                make_context("ctx-repro", "FROM busybox:test\nRUN echo x > /x\nCOPY f /f\n");
        char *args[] = { (char *) "SOURCE_DATE_EPOCH=1700000000", NULL };
        char first[DIGEST_STRING_MAX];
        _cleanup_json_ json_t *cfg = NULL;

        write_file(ctx, "f", "f\n");
        Built b = build_ex(ctx, args, NULL, true, NULL);
        CHECK(b.r == 0);
        strcpy(first, b.res.digest);
        cfg = image_config(first);
        CHECK(streq(json_string_value(json_object_get(cfg, "created")), "2023-11-14T22:13:20Z"));
        built_done(&b);
        sleep(1);
        b = build_ex(ctx, args, NULL, true, NULL);
        CHECK(b.r == 0 && streq(b.res.digest, first));
        built_done(&b);
}

static void test_failures(void) {
        _cleanup_free_ char *ctx = make_context("ctx-fail", "FROM busybox:test\nRUN echo before\n"
                                                            "RUN echo last words; exit 3\n");
        Built b = build(ctx, NULL, "never:1");
        ImageRecord rec = {};
        OciError oe = {};

        CHECK(b.r == -EPROTO);
        CHECK(strstr(b.err.message, "RUN exited with status 3"));
        CHECK(b.err.line == 3 && streq(b.err.file, "Dockerfile"));
        CHECK(strstr(b.err.hint, "last words"));
        CHECK(image_catalog_lookup(catalog, "never:1", &rec, &oe) == -ENOENT);
        built_done(&b);
        check_clean();

        b = build_dockerfile("ctx-nobase", "FROM nosuch:1\nRUN true\n");
        CHECK(b.r == -ENOENT && strstr(b.err.message, "nosuch:1") &&
              strstr(b.err.hint, "slipway image import"));
        built_done(&b);

        b = build_dockerfile("ctx-missing", "FROM scratch\nCOPY nothere /x\n");
        CHECK(b.r == -ENOENT && strstr(b.err.message, "nothere") && b.err.line == 2);
        built_done(&b);

        b = build_dockerfile("ctx-nouser", "FROM busybox:test\nUSER nosuch\nRUN true\n");
        CHECK(b.r == -EINVAL && strstr(b.err.message, "nosuch") && strstr(b.err.message, "/etc/passwd") &&
              b.err.line == 3);
        built_done(&b);

        b = build_dockerfile("ctx-fromimg", "FROM scratch\nCOPY --from=busybox:test /etc/passwd /p\n");
        CHECK(b.r == 0);
        {
                _cleanup_free_ char *root = unpack(b.res.digest, "u-fromimg");
                CHECK(file_is(root, "p",
                              "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"));
        }
        built_done(&b);

        b = build_dockerfile("ctx-arm", "FROM --platform=linux/arm64 busybox:test\nRUN true\n");
        CHECK(b.r == -EINVAL && strstr(b.err.message, "linux/arm64") && b.err.line == 1);
        built_done(&b);

        b = build_dockerfile("ctx-outside", "FROM scratch\nCOPY ../etc/passwd /x\n");
        CHECK(b.r == -EINVAL && strstr(b.err.message, "outside the build context"));
        built_done(&b);
        check_clean();
}

static void *cancel_later(void *userdata) {
        BuildJob *job = userdata;

        usleep(1500 * 1000);
        CHECK(build_job_cancel(job) == 0);
        return NULL;
}

/* ADD extracts a local tar.gz; hardlinks, symlinks (a link pointing out of the context is copied as the
 * link), empty dirs and setuid bits survive COPY; a timeout stops a RUN. */
static void test_add_links_timeout(void) {
        _cleanup_free_ char *ctx = make_context("ctx-add", "FROM busybox:test\nADD stuff.tar.gz /opt/\n"
                                                           "COPY tree /tree\nADD plain.txt /plain.txt\n"),
                            *tree = NULL, *root = NULL, *tgz = NULL;
        _cleanup_close_ int tree_fd = -EBADF, root_fd = -EBADF;
        struct archive *a = archive_write_new();
        struct stat st1, st2;
        char lnk[256];
        ssize_t n;

        tgz = path_join(ctx, "stuff.tar.gz");
        CHECK(a && archive_write_set_format_pax_restricted(a) == ARCHIVE_OK &&
              archive_write_add_filter_gzip(a) == ARCHIVE_OK);
        CHECK(archive_write_open_filename(a, tgz) == ARCHIVE_OK);
        tar_add(a, "pkg", AE_IFDIR, 0755, NULL, 0, NULL);
        tar_add(a, "pkg/readme", AE_IFREG, 0644, "read me\n", 8, NULL);
        CHECK(archive_write_close(a) == ARCHIVE_OK);
        archive_write_free(a);
        write_file(ctx, "plain.txt", "plain\n");
        tree = path_join(ctx, "tree");
        CHECK(mkdir(tree, 0755) == 0);
        write_file(tree, "file", "content\n");
        tree_fd = open(tree, O_PATH | O_DIRECTORY | O_CLOEXEC);
        CHECK(tree_fd >= 0);
        CHECK(fchmodat(tree_fd, "file", 04755, 0) == 0);
        CHECK(linkat(tree_fd, "file", tree_fd, "hard", 0) == 0);
        CHECK(symlinkat("/etc/shadow", tree_fd, "out") == 0);
        CHECK(mkdirat(tree_fd, "empty", 0700) == 0);

        Built b = build(ctx, NULL, NULL);
        CHECK(b.r == 0);
        root = unpack(b.res.digest, "u-add");
        CHECK(file_is(root, "opt/pkg/readme", "read me\n"));
        CHECK(file_is(root, "plain.txt", "plain\n"));
        root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        CHECK(root_fd >= 0);
        CHECK(fstatat(root_fd, "tree/file", &st1, 0) == 0 && (st1.st_mode & 07777) == 04755 &&
              st1.st_uid == 0);
        CHECK(fstatat(root_fd, "tree/hard", &st2, 0) == 0 && st1.st_ino == st2.st_ino);
        n = readlinkat(root_fd, "tree/out", lnk, sizeof lnk - 1);
        CHECK(n > 0);
        lnk[n] = 0;
        CHECK(streq(lnk, "/etc/shadow"));
        CHECK(fstatat(root_fd, "tree/empty", &st1, 0) == 0 && S_ISDIR(st1.st_mode) &&
              (st1.st_mode & 0777) == 0700);
        built_done(&b);

        _cleanup_free_ char *ctx2 = make_context("ctx-timeout", "FROM busybox:test\nRUN sleep 30\n");
        /* (memory_max: applied where the host allows it, else the step runs without and the log says so) */
        BuildOptions o = { .context_dir = ctx2,
                           .no_cache = true,
                           .log_fd = -1,
                           .timeout_usec = 1500000,
                           .memory_max = 256ULL << 20 };
        BuildResult res = {};
        BuildError err = {};
        CHECK(builder_run(builder, &o, NULL, &res, &err) == -ETIME);
        CHECK(strstr(err.message, "time limit"));

        _cleanup_free_ char *ctx3 = make_context("ctx-mem", "FROM busybox:test\nRUN echo capped > /m\n");
        o = (BuildOptions) {
                .context_dir = ctx3, .no_cache = true, .log_fd = -1, .memory_max = 256ULL << 20
        };
        CHECK(builder_run(builder, &o, NULL, &res, &err) == 0);
        build_result_done(&res);
        check_clean();
}

/* A tar at path of (name, type, data-or-link-target) triples; NULL name ends them. */
static void write_tar(const char *path, const char *const *e) {
        struct archive *a = archive_write_new();

        CHECK(a && archive_write_set_format_pax_restricted(a) == ARCHIVE_OK);
        CHECK(archive_write_open_filename(a, path) == ARCHIVE_OK);
        for (; e[0]; e += 3)
                tar_add(a, e[0], e[1][0] == 'l' ? AE_IFLNK : AE_IFREG, e[1][0] == 'l' ? 0777 : 0644,
                        e[1][0] == 'l' ? NULL : e[2], strlen(e[2]), e[1][0] == 'l' ? e[2] : NULL);
        CHECK(archive_write_close(a) == ARCHIVE_OK);
        archive_write_free(a);
}

/* ADD of a hostile tar: ".." is refused, absolute names and writes through links stay inside the destination.
 * WORKDIR makes its directories (relative ones below the previous, owned by USER) though no step uses them. */
static void test_add_hostile_workdir(void) {
        _cleanup_free_ char *outside = at("outside"), *pwned = path_join(outside, "pwned"),
                            *escaped = at("escaped"),
                            *ctx = make_context("ctx-evil", "FROM busybox:test\nADD evil.tar /dest/\n"),
                            *evil = path_join(ctx, "evil.tar"), *root = NULL;
        struct stat st;

        CHECK(mkdir(outside, 0755) == 0);
        write_tar(evil,
                  (const char *const[]) { "/abs.txt", "f", "abs\n", "up", "l", "../../../../../../../..",
                                          "up/climbed.txt", "f", "climbed\n", NULL });
        Built b = build(ctx, NULL, NULL);
        CHECK(b.r == 0);
        root = unpack(b.res.digest, "u-evil");
        CHECK(file_is(root, "dest/abs.txt", "abs\n") && file_is(root, "dest/climbed.txt", "climbed\n"));
        CHECK(!file_is(root, "climbed.txt", "climbed\n"));
        built_done(&b);
        write_tar(evil, (const char *const[]) { "../../../../escaped", "f", "escaped\n", NULL });
        b = build(ctx, NULL, NULL);
        CHECK(b.r < 0 && strstr(b.err.message, "ADD cannot extract") && strstr(b.err.message, "outside"));
        CHECK(access(escaped, F_OK) < 0 && access("/escaped", F_OK) < 0);
        built_done(&b);
        /* The write through a link to a host directory either fails or lands below /dest, never outside. */
        write_tar(evil, (const char *const[]) { "out", "l", outside, "out/pwned", "f", "pwned\n", NULL });
        b = build(ctx, NULL, NULL);
        CHECK(access(pwned, F_OK) < 0 && errno == ENOENT);
        CHECK(b.r == 0 || strstr(b.err.message, "ADD cannot extract"));
        built_done(&b);
        write_file(ctx, "Dockerfile",
                   "FROM busybox:test\nUSER app\nWORKDIR /srv\nWORKDIR a\nWORKDIR ../b/c\n");
        b = build(ctx, NULL, NULL);
        CHECK(b.r == 0);
        free(root);
        root = unpack(b.res.digest, "u-workdir");
        const char *dirs[] = { "srv", "srv/a", "srv/b", "srv/b/c" };
        for (size_t k = 0; k < ELEMENTSOF(dirs); k++) {
                _cleanup_free_ char *d = path_join(root, dirs[k]);
                CHECK(stat(d, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0755 &&
                      st.st_uid == 1000);
        }
        built_done(&b);
        check_clean();
}

static void *concurrent_build(void *userdata) {
        struct {
                const char *ctx;
                Built *out;
        } *job = userdata;
        Built b = {};
        BuildOptions o = { .context_dir = job->ctx, .no_cache = true, .log_fd = -1 };
        b.r = builder_run(builder, &o, NULL, &b.res, &b.err);
        *job->out = b;
        return NULL;
}

static long cache_rows(void) {
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        CHECK(sqlite_prepare(db, "SELECT COUNT(*) FROM build_cache", &st) == 0);
        CHECK(sqlite3_step(st) == SQLITE_ROW);
        return (long) sqlite3_column_int64(st, 0);
}

/* ONBUILD triggers run in the child; build args reach RUN and the cache key; two builds at once; gc prunes the
 * cache rows of layers no tagged image uses. */
static void test_onbuild_args_concurrent_gc(void) {
        _cleanup_free_ char *parent = make_context(
                                    "ctx-onb", "FROM busybox:test\nONBUILD RUN echo triggered > /trig\n"),
                            *child = make_context("ctx-child",
                                                  "FROM onb:1\nARG V=default\nRUN echo $V > /v\n"),
                            *root = NULL;
        char *args1[] = { (char *) "V=one", NULL }, *args2[] = { (char *) "V=two", NULL };
        _cleanup_json_ json_t *cfg = NULL;
        CatalogGcResult gc = {};
        OciError oe = {};

        Built b = build(parent, NULL, "onb:1");
        CHECK(b.r == 0);
        cfg = image_config(b.res.digest);
        CHECK(json_array_size(json_object_get(json_object_get(cfg, "config"), "OnBuild")) == 1);
        built_done(&b);
        json_decref(TAKE_PTR(cfg));

        b = build(child, args1, "child:1");
        CHECK(b.r == 0);
        root = unpack(b.res.digest, "u-child");
        CHECK(file_is(root, "trig", "triggered\n") && file_is(root, "v", "one\n"));
        cfg = image_config(b.res.digest);
        CHECK(!json_object_get(json_object_get(cfg, "config"), "OnBuild"));
        built_done(&b);

        b = build(child, args2, NULL);
        CHECK(b.r == 0 && b.res.cached_steps == 1); /* the trigger hits; ARG (its value) and RUN miss */
        built_done(&b);

        /* Two builds at the same time on one Builder. */
        {
                pthread_t t;
                Built other = {};
                struct {
                        const char *ctx;
                        Built *out;
                } job = { parent, &other };
                CHECK(pthread_create(&t, NULL, concurrent_build, &job) == 0);
                b = build_ex(child, args1, NULL, true, NULL);
                CHECK(pthread_join(t, NULL) == 0);
                CHECK(b.r == 0 && other.r == 0);
                built_done(&b);
                built_done(&other);
        }

        CHECK(cache_rows() > 0);
        long before = cache_rows();
        CHECK(image_catalog_gc(catalog, false, &gc, &oe) == 0);
        CHECK(gc.blobs_removed > 0);
        catalog_gc_result_done(&gc);
        CHECK(cache_rows() < before);
        b = build(child, args2, NULL); /* its RUN layer was swept with its row: a miss, rebuilt */
        CHECK(b.r == 0 && b.res.cached_steps < b.res.steps);
        built_done(&b);
        check_clean();
}

static void test_cancel(void) {
        _cleanup_free_ char *ctx = make_context("ctx-cancel", "FROM busybox:test\nRUN sleep 30\n");
        _cleanup_(build_job_freep) BuildJob *job = NULL;
        BuildJob *seen = NULL;
        pthread_t t;
        struct timespec a, z;

        CHECK(build_job_new(&job) == 0);
        CHECK(pthread_create(&t, NULL, cancel_later, job) == 0);
        clock_gettime(CLOCK_MONOTONIC, &a);
        cancel_job = job;
        Built b = build_ex(ctx, NULL, NULL, true, &seen);
        cancel_job = NULL;
        CHECK(seen == job);
        clock_gettime(CLOCK_MONOTONIC, &z);
        CHECK(pthread_join(t, NULL) == 0);
        CHECK(b.r == -ECANCELED);
        CHECK(z.tv_sec - a.tv_sec < 10);
        built_done(&b);
        /* A job cancelled before the build starts stops it at once. */
        cancel_job = job;
        b = build_ex(ctx, NULL, NULL, true, NULL);
        cancel_job = NULL;
        CHECK(b.r == -ECANCELED);
        built_done(&b);
        check_clean();
}

/* SLIPWAY_BENCH=1: the cost of one `RUN true` step (median of 10), from the times the STEP lines arrive. */
typedef struct Stamps {
        int fd;
        double t[64];
        unsigned n;
} Stamps;

static double now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void *stamp_lines(void *userdata) {
        Stamps *s = userdata;
        char buf[4096];
        ssize_t n;

        while ((n = read(s->fd, buf, sizeof buf)) > 0)
                for (ssize_t k = 0; k + 5 < n; k++)
                        if (memcmp(buf + k, "STEP ", 5) == 0 && (k == 0 || buf[k - 1] == '\n') && s->n < 64)
                                s->t[s->n++] = now_ms();
        return NULL;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static void bench_run_step(void) {
        _cleanup_free_ char *ctx =
                make_context("ctx-bench", "FROM busybox:test\nRUN true 1\nRUN true 2\nRUN true 3\n"
                                          "RUN true 4\nRUN true 5\nRUN true 6\nRUN true 7\n"
                                          "RUN true 8\nRUN true 9\nRUN true 10\nENV DONE=1\n");
        Stamps s = {};
        BuildResult res = {};
        BuildError err = {};
        double d[10];
        int p[2];
        pthread_t t;

        CHECK(pipe2(p, O_CLOEXEC) == 0);
        s.fd = p[0];
        CHECK(pthread_create(&t, NULL, stamp_lines, &s) == 0);
        BuildOptions o = { .context_dir = ctx, .no_cache = true, .log_fd = p[1] };
        int r = builder_run(builder, &o, NULL, &res, &err);
        if (r < 0)
                fprintf(stderr, "bench build: %s\n", err.message);
        CHECK(r == 0);
        close(p[1]);
        CHECK(pthread_join(t, NULL) == 0);
        close(p[0]);
        CHECK(s.n == 12);
        for (unsigned k = 0; k < 10; k++)
                d[k] = s.t[k + 2] - s.t[k + 1];
        qsort(d, 10, sizeof d[0], cmp_double);
        fprintf(stderr, "RUN true step: median %.1f ms (min %.1f, max %.1f)\n", (d[4] + d[5]) / 2, d[0],
                d[9]);
        build_result_done(&res);
}

/* A fully cached rebuild of a 5-step Dockerfile, tagged (goal: under 200 ms). */
static void bench_cached_rebuild(void) {
        _cleanup_free_ char *ctx =
                make_context("ctx-bench5", "FROM busybox:test\nRUN echo a > /a\nCOPY f /f\n"
                                           "RUN cat /f > /g\nENV X=1\nCMD [\"sh\"]\n");
        double t[5];

        write_file(ctx, "f", "f\n");
        Built b = build(ctx, NULL, "bench5:1");
        CHECK(b.r == 0);
        built_done(&b);
        for (int k = 0; k < 5; k++) {
                double a = now_ms();
                b = build(ctx, NULL, "bench5:1");
                t[k] = now_ms() - a;
                CHECK(b.r == 0 && b.res.cached_steps == 5);
                built_done(&b);
        }
        qsort(t, 5, sizeof t[0], cmp_double);
        fprintf(stderr, "fully cached 5-step rebuild: median %.1f ms (min %.1f)\n", t[2], t[0]);
}

int main(void) {
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
        if (getenv("SLIPWAY_BENCH")) {
                bench_run_step();
                bench_run_step();
                bench_cached_rebuild();
                builder_free(builder);
                (void) rm_rf(top);
                return 0;
        }

        test_scratch_copy();
        test_run_whiteout_user();
        test_multistage_config();
        test_cache();
        test_reproducible();
        test_failures();
        test_add_links_timeout();
        test_add_hostile_workdir();
        test_onbuild_args_concurrent_gc();
        test_cancel();

        builder_free(builder);
        image_catalog_free(catalog);
        oci_store_free(store);
        if (!getenv("KEEP"))
                (void) rm_rf(top);
        fprintf(stderr, "test-builder: OK\n");
        return 0;
}
