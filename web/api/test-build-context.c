/* Unit tests for web/api/build-context: a context tar is unpacked with owners reset and setuid/setgid
 * stripped, hostile names (absolute, "..", hardlinks out, writes through a symlink) are refused without
 * touching anything outside the target, and .dockerignore filtering keeps the Dockerfile. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build-context.h"
#include "fs-util.h"
#include "macro.h"
#include "path-util.h"

#include "tests.h"

typedef struct Entry {
        const char *name;
        mode_t type; /* AE_IFREG, AE_IFDIR, AE_IFLNK; 0 = hardlink */
        mode_t perm;
        const char *data; /* file content, or link target */
} Entry;

typedef struct Mem {
        char *buf;
        size_t size, pos;
} Mem;

static void make_tar(const Entry *entries, size_t n, Mem *ret) {
        struct archive *a = archive_write_new();
        size_t cap = 1 << 20, used = 0;
        char *buf = malloc(cap);

        CHECK(a && buf);
        CHECK(archive_write_set_format_pax_restricted(a) == ARCHIVE_OK);
        CHECK(archive_write_open_memory(a, buf, cap, &used) == ARCHIVE_OK);
        for (size_t i = 0; i < n; i++) {
                struct archive_entry *e = archive_entry_new();
                archive_entry_set_pathname(e, entries[i].name);
                archive_entry_set_perm(e, entries[i].perm);
                archive_entry_set_uid(e, 1234);
                archive_entry_set_gid(e, 1234);
                if (entries[i].type == 0) {
                        archive_entry_set_filetype(e, AE_IFREG);
                        archive_entry_set_hardlink(e, entries[i].data);
                        archive_entry_set_size(e, 0);
                } else {
                        archive_entry_set_filetype(e, entries[i].type);
                        if (entries[i].type == AE_IFLNK)
                                archive_entry_set_symlink(e, entries[i].data);
                        archive_entry_set_size(
                                e, entries[i].type == AE_IFREG ? (la_int64_t) strlen(entries[i].data) : 0);
                }
                CHECK(archive_write_header(a, e) == ARCHIVE_OK);
                if (entries[i].type == AE_IFREG)
                        CHECK(archive_write_data(a, entries[i].data, strlen(entries[i].data)) ==
                              (la_ssize_t) strlen(entries[i].data));
                archive_entry_free(e);
        }
        CHECK(archive_write_close(a) == ARCHIVE_OK);
        archive_write_free(a);
        *ret = (Mem) { .buf = buf, .size = used };
}

static ssize_t mem_read(void *userdata, void *buf, size_t size) {
        Mem *m = userdata;
        size_t n = MIN(size, m->size - m->pos);

        memcpy(buf, m->buf + m->pos, n);
        m->pos += n;
        return (ssize_t) n;
}

static int extract(const char *dir, const Entry *entries, size_t n) {
        _cleanup_free_ char *err = NULL;
        Mem m;
        int r;

        make_tar(entries, n, &m);
        r = build_context_extract(mem_read, &m, dir, &err);
        if (r < 0)
                CHECK(err && strlen(err) > 10); /* always a sentence */
        free(m.buf);
        return r;
}

static char *mkdtemp_dir(void) {
        char *d = strdup("/tmp/test-build-context-XXXXXX");
        CHECK(d && mkdtemp(d));
        return d;
}

static void test_extract_ok(void) {
        _cleanup_free_ char *top = mkdtemp_dir(), *dir = path_join(top, "ctx"), *p = NULL, *data = NULL;
        struct stat st;
        size_t size;
        const Entry entries[] = {
                { "./", AE_IFDIR, 0755, NULL },
                { "./Dockerfile", AE_IFREG, 0644, "FROM scratch\n" },
                { "sub/", AE_IFDIR, 0750, NULL },
                { "sub/tool", AE_IFREG, 06755, "#!/bin/sh\n" },
                { "sub/sticky", AE_IFDIR, 01777, NULL },
                { "sub/link", AE_IFLNK, 0777, "/etc/passwd" },
                { "sub/hard", 0, 0644, "sub/tool" },
                { "deep/er/file", AE_IFREG, 0600, "x" },
        };

        CHECK(mkdir(dir, 0755) == 0);
        CHECK(extract(dir, entries, ELEMENTSOF(entries)) == 0);

        p = path_join(dir, "Dockerfile");
        CHECK(read_full_file(p, &data, &size) == 0 && streq(data, "FROM scratch\n"));
        free(p);
        p = path_join(dir, "sub/tool");
        CHECK(lstat(p, &st) == 0 && st.st_uid == 0 && st.st_gid == 0);
        CHECK((st.st_mode & 07777) == 0755); /* setuid and setgid gone, like docker build */
        ino_t ino = st.st_ino;
        free(p);
        p = path_join(dir, "sub/hard");
        CHECK(lstat(p, &st) == 0 && st.st_ino == ino);
        free(p);
        p = path_join(dir, "sub/sticky");
        CHECK(lstat(p, &st) == 0 && (st.st_mode & 07777) == 01777);
        free(p);
        p = path_join(dir, "sub");
        CHECK(lstat(p, &st) == 0 && (st.st_mode & 07777) == 0750);
        free(p);
        p = path_join(dir, "sub/link");
        char target[64] = "";
        CHECK(readlink(p, target, sizeof target - 1) > 0 && streq(target, "/etc/passwd"));
        free(p);
        p = path_join(dir, "deep/er/file");
        CHECK(lstat(p, &st) == 0 && S_ISREG(st.st_mode));
        CHECK(rm_rf(top) >= 0);
}

static void test_extract_hostile(void) {
        _cleanup_free_ char *top = mkdtemp_dir(), *outside = path_join(top, "outside");
        const Entry dotdot[] = { { "../outside/x", AE_IFREG, 0644, "evil" } };
        const Entry dotdot_inner[] = { { "a/../../outside/x", AE_IFREG, 0644, "evil" } };
        const Entry absolute[] = { { "/tmp/evil-absolute", AE_IFREG, 0644, "evil" } };
        const Entry hard_out[] = { { "h", 0, 0644, "../outside/victim" } };
        char through_target[512];
        struct stat st;

        snprintf(through_target, sizeof through_target, "%s", outside);
        const Entry through[] = {
                { "link", AE_IFLNK, 0777, through_target },
                { "link/x", AE_IFREG, 0644, "evil" },
        };
        const struct {
                const Entry *e;
                size_t n;
        } cases[] = {
                { dotdot, ELEMENTSOF(dotdot) },     { dotdot_inner, ELEMENTSOF(dotdot_inner) },
                { absolute, ELEMENTSOF(absolute) }, { hard_out, ELEMENTSOF(hard_out) },
                { through, ELEMENTSOF(through) },
        };

        CHECK(mkdir(outside, 0755) == 0);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *dir = NULL;
                CHECK(asprintf(&dir, "%s/ctx%zu", top, i) > 0);
                CHECK(mkdir(dir, 0755) == 0);
                if (extract(dir, cases[i].e, cases[i].n) >= 0) {
                        fprintf(stderr, "case %zu was extracted\n", i);
                        exit(1);
                }
        }
        _cleanup_free_ char *x = path_join(outside, "x");
        CHECK(lstat(x, &st) < 0 && errno == ENOENT);
        CHECK(lstat("/tmp/evil-absolute", &st) < 0);
        CHECK(rm_rf(top) >= 0);
}

static void test_not_a_tar(void) {
        _cleanup_free_ char *top = mkdtemp_dir(), *err = NULL;
        Mem m = { .buf = (char *) "this is not a tar archive, not even close to one", .size = 49 };

        CHECK(build_context_extract(mem_read, &m, top, &err) == -EBADMSG);
        CHECK(err && strstr(err, "tar"));
        CHECK(rm_rf(top) >= 0);
}

static bool exists(const char *dir, const char *rel) {
        _cleanup_free_ char *p = path_join(dir, rel);
        struct stat st;
        return lstat(p, &st) == 0;
}

static void test_dockerignore(void) {
        _cleanup_free_ char *top = mkdtemp_dir(), *err = NULL;
        const Entry entries[] = {
                { ".dockerignore", AE_IFREG, 0644,
                  "# excluded\n*.log\n!keep.log\nsecret\ndocker\n**/*.bak\n" },
                { "docker/Dockerfile", AE_IFREG, 0644, "FROM scratch\n" },
                { "docker/other", AE_IFREG, 0644, "x" },
                { "a.log", AE_IFREG, 0644, "x" },
                { "keep.log", AE_IFREG, 0644, "x" },
                { "secret/key", AE_IFREG, 0600, "x" },
                { "src/main.c", AE_IFREG, 0644, "x" },
                { "src/old.bak", AE_IFREG, 0644, "x" },
        };

        CHECK(extract(top, entries, ELEMENTSOF(entries)) == 0);
        CHECK(build_context_apply_dockerignore(top, "docker/Dockerfile", &err) == 0);
        CHECK(exists(top, "docker/Dockerfile")); /* the Dockerfile is always kept */
        CHECK(exists(top, ".dockerignore"));     /* and so is .dockerignore */
        CHECK(!exists(top, "docker/other"));
        CHECK(!exists(top, "a.log"));
        CHECK(exists(top, "keep.log"));
        CHECK(!exists(top, "secret"));
        CHECK(exists(top, "src/main.c"));
        CHECK(!exists(top, "src/old.bak"));
        CHECK(rm_rf(top) >= 0);
}

static void test_name_is_safe(void) {
        CHECK(path_is_safe_relative("Dockerfile"));
        CHECK(path_is_safe_relative("docker/Dockerfile.dev"));
        CHECK(path_is_safe_relative("a..b/c"));
        CHECK(!path_is_safe_relative(""));
        CHECK(!path_is_safe_relative("/Dockerfile"));
        CHECK(!path_is_safe_relative("../Dockerfile"));
        CHECK(!path_is_safe_relative("a/../../b"));
        CHECK(!path_is_safe_relative("a/.."));
}

int main(void) {
        if (geteuid() != 0) {
                fprintf(stderr,
                        "test-build-context: needs root (owners are reset to 0 on extraction); skipping.\n");
                return 77;
        }
        test_name_is_safe();
        test_extract_ok();
        test_extract_hostile();
        test_not_a_tar();
        test_dockerignore();
        printf("test-build-context: ok\n");
        return 0;
}
