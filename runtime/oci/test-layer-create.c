/* Layer creation: whiteouts and opaque dirs become OCI markers, hardlinks/symlinks/modes/owners
 * survive, the gzip stream is valid, diff_id is the hash of the uncompressed tar, and the same
 * tree gives the same bytes (mtimes clamped by SOURCE_DATE_EPOCH). */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "digest.h"
#include "fs-util.h"
#include "layer-create.h"
#include "layer-unpack.h"
#include "macro.h"
#include "process.h"

#include "tests.h"

static char top[] = "/tmp/test-layer-create-XXXXXX";
static bool root_user;

static char *p(const char *rel) {
        char *r = path_join(top, rel);
        CHECK(r);
        return r;
}

static void put(const char *rel, const char *content, mode_t mode) {
        _cleanup_free_ char *f = p(rel);
        CHECK(write_file_atomic(f, content, strlen(content), mode) == 0);
}

static void make_tree(void) {
        _cleanup_free_ char *d = p("tree/etc/app"), *e = p("tree/empty"), *o = p("tree/opaque"),
                            *hard = p("tree/etc/app/hard"), *sym = p("tree/etc/app/sym"),
                            *wh = p("tree/etc/gone");
        CHECK(mkdir_p(d, 0755) == 0 && mkdir_p(e, 0700) == 0 && mkdir_p(o, 0755) == 0);
        put("tree/etc/app/conf", "key=value\n", 0640);
        put("tree/etc/app/suid", "#!/bin/sh\n", 04755);
        put("tree/opaque/new", "fresh\n", 0644);
        _cleanup_free_ char *conf = p("tree/etc/app/conf");
        CHECK(link(conf, hard) == 0);
        CHECK(symlink("../app/conf", sym) == 0);
        if (root_user) {
                CHECK(mknod(wh, S_IFCHR | 0000, makedev(0, 0)) == 0);
                CHECK(setxattr(o, "trusted.overlay.opaque", "y", 1, 0) == 0);
                CHECK(chown(conf, 1000, 1001) == 0);
        }
}

static int create(const char *out_rel, int64_t epoch, LayerCreateResult *res) {
        _cleanup_free_ char *tree = p("tree"), *out = p(out_rel);
        LayerCreateOptions o = { .source_date_epoch = epoch, .gzip_level = 5, .overlay_whiteouts = true };
        _cleanup_close_ int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        CHECK(fd >= 0);
        return layer_create(tree, fd, &o, res);
}

/* Extended attributes are kept up to LAYER_XATTRS_MAX per entry, and one more fails with -E2BIG instead of
 * being dropped. Needs trusted.* xattrs in numbers ext4 cannot hold: on a tmpfs we mount (root only). */
static void test_xattr_limit(void) {
        _cleanup_free_ char *mnt = p("xattr-fs"), *tree = p("xattr-fs/tree"), *f = p("xattr-fs/tree/f"),
                            *out = p("xattr.tar");
        LayerCreateOptions o = { .source_date_epoch = 0, .gzip_level = 0 };
        LayerCreateResult res;
        char name[64];

        CHECK(mkdir(mnt, 0755) == 0);
        if (!root_user || run_process((char *[]) { (char *) "mount", (char *) "-t", (char *) "tmpfs",
                                                   (char *) "tmpfs", mnt, NULL },
                                      NULL) != 0) {
                printf("xattr limit: skipped (needs root and tmpfs)\n");
                return;
        }
        CHECK(mkdir(tree, 0755) == 0);
        put("xattr-fs/tree/f", "x", 0644);
        for (unsigned k = 0; k < LAYER_XATTRS_MAX; k++) {
                snprintf(name, sizeof name, "trusted.slipway.%03u", k);
                CHECK(setxattr(f, name, "v", 1, 0) == 0);
        }
        {
                _cleanup_close_ int fd = open(out, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                struct archive *a = archive_read_new();
                struct archive_entry *e;
                bool seen[LAYER_XATTRS_MAX] = {};
                unsigned n = 0;

                CHECK(fd >= 0 && layer_create(tree, fd, &o, &res) == 0);
                CHECK(a && lseek(fd, 0, SEEK_SET) == 0);
                archive_read_support_format_tar(a);
                CHECK(archive_read_open_fd(a, fd, 65536) == ARCHIVE_OK);
                /* libarchive reports each xattr once per pax spelling (SCHILY and LIBARCHIVE): count names. */
                while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
                        const char *key;
                        const void *v;
                        size_t size;
                        unsigned k;

                        if (strcmp(archive_entry_pathname(e), "f") != 0 || archive_entry_xattr_reset(e) == 0)
                                continue;
                        while (archive_entry_xattr_next(e, &key, &v, &size) == ARCHIVE_OK)
                                if (sscanf(key, "trusted.slipway.%u", &k) == 1 && k < LAYER_XATTRS_MAX &&
                                    !seen[k]) {
                                        seen[k] = true;
                                        n++;
                                }
                }
                archive_read_free(a);
                CHECK(n == LAYER_XATTRS_MAX);
        }
        CHECK(setxattr(f, "trusted.slipway.one-more", "v", 1, 0) == 0);
        {
                _cleanup_close_ int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                CHECK(fd >= 0 && layer_create(tree, fd, &o, &res) == -E2BIG);
        }
        CHECK(run_process((char *[]) { (char *) "umount", mnt, NULL }, NULL) == 0);
}

int main(void) {
        LayerCreateResult a, b, c;
        char d[DIGEST_STRING_MAX];
        uint64_t size;

        root_user = geteuid() == 0;
        CHECK(mkdtemp(top));
        make_tree();

        CHECK(create("a.tar.gz", 1700000000, &a) == 0);
        /* Touch every file: with SOURCE_DATE_EPOCH in the past, mtimes are clamped and the layer
         * is byte-for-byte the same. */
        sleep(1);
        {
                _cleanup_free_ char *conf = p("tree/etc/app/conf");
                CHECK(utimensat(AT_FDCWD, conf, NULL, 0) == 0);
        }
        CHECK(create("b.tar.gz", 1700000000, &b) == 0);
        CHECK(streq(a.digest, b.digest) && streq(a.diff_id, b.diff_id) && a.size == b.size);
        /* Without clamping the touched mtime shows. */
        CHECK(create("c.tar.gz", -1, &c) == 0);
        CHECK(!streq(a.digest, c.digest));

        /* The digest is the hash of the written file. */
        {
                _cleanup_free_ char *f = p("a.tar.gz");
                _cleanup_close_ int fd = open(f, O_RDONLY | O_CLOEXEC);
                CHECK(sha256_fd(fd, d, &size) == 0);
                CHECK(streq(d, a.digest) && size == a.size);
        }
        /* gzip -dc | sha256sum == diff_id, so other tools agree on the uncompressed content. */
        {
                _cleanup_free_ char *f = p("a.tar.gz"), *t = p("a.tar");
                char cmd[512];
                snprintf(cmd, sizeof cmd, "gzip -dc %s > %s", f, t);
                CHECK(system(cmd) == 0);
                _cleanup_close_ int fd = open(t, O_RDONLY | O_CLOEXEC);
                CHECK(sha256_fd(fd, d, NULL) == 0);
                CHECK(streq(d, a.diff_id));
        }
        /* Entries as other tools read them. */
        {
                _cleanup_free_ char *f = p("a.tar.gz");
                struct archive *ar = archive_read_new();
                struct archive_entry *e;
                bool saw_wh = false, saw_opq = false, saw_hard = false, saw_sym = false, saw_suid = false,
                     saw_empty = false, saw_owner = false;
                CHECK(ar);
                archive_read_support_filter_all(ar);
                archive_read_support_format_tar(ar);
                CHECK(archive_read_open_filename(ar, f, 65536) == ARCHIVE_OK);
                while (archive_read_next_header(ar, &e) == ARCHIVE_OK) {
                        const char *n = archive_entry_pathname(e);
                        CHECK(archive_entry_mtime(e) <= 1700000000);
                        CHECK(!archive_entry_uname(e) || !*archive_entry_uname(e));
                        if (streq(n, "etc/.wh.gone"))
                                saw_wh = true;
                        if (streq(n, "opaque/.wh..wh..opq"))
                                saw_opq = true;
                        if (archive_entry_hardlink(e))
                                saw_hard = true;
                        if (streq(n, "etc/app/sym") && streq(archive_entry_symlink(e), "../app/conf"))
                                saw_sym = true;
                        if (streq(n, "etc/app/suid") && (archive_entry_perm(e) & 07777) == 04755)
                                saw_suid = true;
                        if ((streq(n, "empty") || streq(n, "empty/")) &&
                            archive_entry_filetype(e) == AE_IFDIR && (archive_entry_perm(e) & 0777) == 0700)
                                saw_empty = true;
                        if ((streq(n, "etc/app/conf") || streq(n, "etc/app/hard")) &&
                            !archive_entry_hardlink(e))
                                saw_owner = archive_entry_uid(e) == (root_user ? 1000 : getuid());
                        CHECK(!strstr(n, "trusted.overlay"));
                }
                archive_read_free(ar);
                CHECK(saw_hard);
                CHECK(saw_sym);
                CHECK(saw_suid);
                CHECK(saw_empty);
                CHECK(saw_owner);
                if (root_user)
                        CHECK(saw_wh && saw_opq);
        }

        /* Round trip through the unpacker (overlay form): what the builder writes is what instances
         * see — the whiteout is a 0:0 char device again, the opaque dir carries the overlay xattr,
         * the hardlink shares an inode, modes and owners survive. */
        if (root_user) {
                _cleanup_free_ char *f = p("a.tar.gz"), *u = p("unpacked"), *gone = p("unpacked/etc/gone"),
                                    *opq = p("unpacked/opaque"), *conf = p("unpacked/etc/app/conf"),
                                    *hard = p("unpacked/etc/app/hard"), *suid = p("unpacked/etc/app/suid");
                _cleanup_close_ int fd = open(f, O_RDONLY | O_CLOEXEC);
                struct stat st1, st2;
                OciError err = {};
                char v[4];

                CHECK(mkdir_p(u, 0755) == 0);
                CHECK(layer_unpack_fd(fd, u, a.diff_id, &err) == 0);
                CHECK(lstat(gone, &st1) == 0 && S_ISCHR(st1.st_mode) && st1.st_rdev == makedev(0, 0));
                CHECK(lgetxattr(opq, "trusted.overlay.opaque", v, sizeof v) == 1 && v[0] == 'y');
                CHECK(stat(conf, &st1) == 0 && stat(hard, &st2) == 0 && st1.st_ino == st2.st_ino);
                CHECK(st1.st_uid == 1000 && st1.st_gid == 1001 && (st1.st_mode & 07777) == 0640);
                CHECK(stat(suid, &st1) == 0 && (st1.st_mode & 07777) == 04755);
        }

        /* Uncompressed mode: digest == diff_id. */
        {
                _cleanup_free_ char *tree = p("tree"), *out = p("u.tar");
                LayerCreateOptions o = { .source_date_epoch = 0,
                                         .gzip_level = 0,
                                         .overlay_whiteouts = true };
                LayerCreateResult u;
                _cleanup_close_ int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                CHECK(layer_create(tree, fd, &o, &u) == 0);
                CHECK(streq(u.digest, u.diff_id));
        }

        /* Bad input: a missing directory is an error, not an empty layer. */
        {
                _cleanup_free_ char *out = p("x.tar");
                LayerCreateOptions o = { .source_date_epoch = -1, .gzip_level = 1 };
                LayerCreateResult x;
                _cleanup_close_ int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                CHECK(layer_create("/nonexistent/dir", fd, &o, &x) == -ENOENT);
        }

        test_xattr_limit();
        CHECK(rm_rf(top) == 0);
        printf("test-layer-create: ok\n");
        return 0;
}
