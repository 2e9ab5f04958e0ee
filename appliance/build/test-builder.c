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

#include "build-cache-db.h"
#include "fs-util.h"
#include "json-util.h"
#include "sqlite-util.h"
#include "test-builder-fixture.h"

#include "tests.h"

static void test_scratch_copy(void) {
        _cleanup_free_ char *ctx = make_context("ctx-scratch", "FROM scratch\nCOPY hello.txt /hello.txt\n"
                                                               "COPY dir /d/\nCOPY *.md /docs/\n"),
                            *sub = path_join(ctx, "dir"), *root = NULL;
        struct stat st;

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
        st = stat_in(root, "d");
        CHECK((st.st_mode & 07777) == 0755 && st.st_uid == 0); /* made, not copied */
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
        struct stat st;

        write_file(ctx, "f", "f\n");
        Built b = build(ctx, NULL, NULL);
        CHECK(b.r == 0);
        CHECK(strstr(b.log, "produced-output\n"));
        CHECK(strstr(b.log, "uid=1000\n"));
        root = unpack(b.res.digest, "u-run");
        CHECK(file_is(root, "a", "data\n"));
        CHECK(file_is(root, "tmp/uid", "1000\n"));
        {
                _cleanup_free_ char *g = path_join(root, "bin/ls");
                CHECK(faccessat(AT_FDCWD, g, F_OK, AT_SYMLINK_NOFOLLOW) < 0);
        }
        st = stat_in(root, "home/app/f");
        CHECK(st.st_uid == 1000 && st.st_gid == 1000);
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
        struct stat st;
        json_t *c;

        CHECK(b.r == 0);
        CHECK(!strstr(b.log, "RUN false")); /* the stage the target does not need is skipped */
        root = unpack(b.res.digest, "u-multi");
        CHECK(file_is(root, "app/out", "built\n"));
        st = stat_in(root, "app/sub");
        CHECK(S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0755 && st.st_uid == 0);
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

/* COPY --parents (plain, with the "/./" pivot, with "**"), --exclude (relative to each source; a glob's
 * matches checked themselves), symbolic --chmod on files and directories; an excluded file's change keeps the
 * cache. */
static void test_copy_flags(void) {
        _cleanup_free_ char *ctx = make_context("ctx-flags",
                                                "FROM scratch\n"
                                                "COPY --parents x/a.txt y/a.txt /parents/\n"
                                                "COPY --parents ./x/./y/*.txt /pivot/\n"
                                                "COPY --parents src/**/*.c /globs/\n"
                                                "COPY --exclude=*.md --exclude=tmp docs /docs/\n"
                                                "COPY --exclude=*.txt hom* /home/\n"
                                                "COPY --chmod=u=rwX,go=rX tree /tree/\n"),
                            *root = NULL;
        const char *dirs[] = { "x",    "x/y",      "y",        "src",  "src/lib", "src/lib/deep",
                               "docs", "docs/tmp", "docs/sub", "tree", "tree/dir" };
        char first[DIGEST_STRING_MAX];

        for (size_t k = 0; k < ELEMENTSOF(dirs); k++) {
                _cleanup_free_ char *d = path_join(ctx, dirs[k]);
                CHECK(mkdir(d, 0755) == 0);
        }
        {
                _cleanup_free_ char *x = path_join(ctx, "x"), *d = path_join(ctx, "tree/dir");
                CHECK(chmod(x, 0750) == 0 && chmod(d, 0700) == 0);
        }
        write_file(ctx, "x/a.txt", "xa\n");
        write_file(ctx, "y/a.txt", "ya\n");
        write_file(ctx, "x/y/b.txt", "b\n");
        write_file(ctx, "x/y/c.txt", "c\n");
        write_file(ctx, "src/main.c", "main\n");
        write_file(ctx, "src/lib/deep/u.c", "u\n");
        write_file(ctx, "src/lib/readme.md", "r\n");
        write_file(ctx, "docs/guide.md", "g1\n");
        write_file(ctx, "docs/guide.html", "h\n");
        write_file(ctx, "docs/tmp/t", "t\n");
        write_file(ctx, "docs/sub/n.md", "n\n");
        write_file(ctx, "home.txt", "ht\n");
        write_file(ctx, "homepage.html", "hp\n");
        write_file(ctx, "tree/run.sh", "#!/bin/sh\n");
        write_file(ctx, "tree/data", "d\n");
        {
                _cleanup_free_ char *sh = path_join(ctx, "tree/run.sh"), *data = path_join(ctx, "tree/data");
                CHECK(chmod(sh, 0700) == 0 && chmod(data, 0600) == 0);
        }
        Built b = build(ctx, NULL, NULL);
        if (b.r < 0)
                TEST_FAIL("build failed: %s (%s)", b.err.message, b.log);
        strcpy(first, b.res.digest);
        root = unpack(b.res.digest, "u-flags");
        CHECK(file_is(root, "parents/x/a.txt", "xa\n") && file_is(root, "parents/y/a.txt", "ya\n"));
        CHECK((stat_in(root, "parents/x").st_mode & 07777) == 0750); /* a kept parent is the source's dir */
        CHECK((stat_in(root, "parents").st_mode & 07777) == 0755);
        CHECK(file_is(root, "pivot/y/b.txt", "b\n") && file_is(root, "pivot/y/c.txt", "c\n"));
        {
                _cleanup_free_ char *px = path_join(root, "pivot/x"),
                                    *md = path_join(root, "globs/src/lib/readme.md"),
                                    *gmd = path_join(root, "docs/guide.md"),
                                    *tmp = path_join(root, "docs/tmp"),
                                    *ht = path_join(root, "home/home.txt");
                CHECK(access(px, F_OK) < 0 && access(md, F_OK) < 0 && access(gmd, F_OK) < 0);
                CHECK(access(tmp, F_OK) < 0 && access(ht, F_OK) < 0);
        }
        CHECK(file_is(root, "globs/src/main.c", "main\n") && file_is(root, "globs/src/lib/deep/u.c", "u\n"));
        CHECK(file_is(root, "docs/guide.html", "h\n"));
        CHECK(file_is(root, "docs/sub/n.md", "n\n")); /* "*.md" does not cross '/', as in .dockerignore */
        CHECK(file_is(root, "home/homepage.html", "hp\n"));
        CHECK((stat_in(root, "tree/run.sh").st_mode & 07777) == 0755);
        CHECK((stat_in(root, "tree/data").st_mode & 07777) == 0644);
        CHECK((stat_in(root, "tree/dir").st_mode & 07777) == 0755);
        built_done(&b);

        /* What --exclude leaves out is not part of the step's checksum. */
        write_file(ctx, "docs/guide.md", "g2\n");
        b = build(ctx, NULL, NULL);
        CHECK(b.r == 0 && b.res.cached_steps == b.res.steps && streq(b.res.digest, first));
        built_done(&b);
        check_clean();
}

/* COPY --link: a change above it rebuilds the steps above and after it, but reuses its layer. */
static void test_copy_link(void) {
        _cleanup_free_ char *ctx = make_context("ctx-link", "FROM busybox:test\n"
                                                            "COPY base /base\n"
                                                            "COPY --link f /app/f\n"
                                                            "RUN cat /base /app/f > /both\n"),
                            *root = NULL;
        _cleanup_json_ json_t *m1 = NULL, *m2 = NULL;
        size_t n;

        write_file(ctx, "base", "base1\n");
        write_file(ctx, "f", "f\n");
        Built b = build(ctx, NULL, NULL);
        CHECK(b.r == 0);
        m1 = read_json_blob(b.res.digest);
        built_done(&b);

        write_file(ctx, "base", "base2\n");
        b = build(ctx, NULL, NULL);
        CHECK(b.r == 0 && b.res.cached_steps == 1); /* only the --link COPY */
        CHECK(strstr(b.log, "--> cached (--link)"));
        m2 = read_json_blob(b.res.digest);
        n = json_array_size(json_object_get(m2, "layers"));
        CHECK(n == json_array_size(json_object_get(m1, "layers")) && n >= 3);
        /* The same layer blob, now on top of the new COPY base layer. */
        CHECK(json_equal(json_array_get(json_object_get(m1, "layers"), n - 2),
                         json_array_get(json_object_get(m2, "layers"), n - 2)));
        CHECK(!json_equal(json_array_get(json_object_get(m1, "layers"), n - 3),
                          json_array_get(json_object_get(m2, "layers"), n - 3)));
        root = unpack(b.res.digest, "u-link");
        CHECK(file_is(root, "both", "base2\nf\n")); /* the RUN after it saw the new base */
        CHECK((stat_in(root, "app").st_mode & 07777) == 0755);
        built_done(&b);

        /* A change of the --link step's own source rebuilds it. */
        write_file(ctx, "f", "f2\n");
        b = build(ctx, NULL, NULL);
        CHECK(b.r == 0 && b.res.cached_steps == 1); /* COPY base */
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
        st1 = stat_in(root, "tree/file");
        CHECK((st1.st_mode & 07777) == 04755 && st1.st_uid == 0);
        st2 = stat_in(root, "tree/hard");
        CHECK(st1.st_ino == st2.st_ino);
        n = readlinkat(root_fd, "tree/out", lnk, sizeof lnk - 1);
        CHECK(n > 0);
        lnk[n] = 0;
        CHECK(streq(lnk, "/etc/shadow"));
        st1 = stat_in(root, "tree/empty");
        CHECK(S_ISDIR(st1.st_mode) && (st1.st_mode & 0777) == 0700);
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
                st = stat_in(root, dirs[k]);
                CHECK(S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0755 && st.st_uid == 1000);
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
        unsigned n = 0;
        CHECK(build_cache_db_count(db, &n) == 0);
        return (long) n;
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
        builder_fixture_setup();
        if (getenv("SLIPWAY_BENCH")) {
                bench_run_step();
                bench_run_step();
                bench_cached_rebuild();
                builder_fixture_teardown();
                return 0;
        }

        test_scratch_copy();
        test_run_whiteout_user();
        test_multistage_config();
        test_cache();
        test_copy_flags();
        test_copy_link();
        test_reproducible();
        test_failures();
        test_add_links_timeout();
        test_add_hostile_workdir();
        test_onbuild_args_concurrent_gc();
        test_cancel();

        builder_fixture_teardown();
        fprintf(stderr, "test-builder: OK\n");
        return 0;
}
