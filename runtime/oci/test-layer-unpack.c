/* Unit tests for layer unpacking: real tars built with libarchive, unpacked by the real sandboxed
 * code into temp dirs; escape attempts must leave a canary directory outside the target untouched.
 * Needs root (devices, ownership, trusted.* xattrs, overlayfs): exits 77 otherwise. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "digest.h"
#include "fs-util.h"
#include "layer-unpack.h"
#include "path-confine.h"
#include "path-util.h"
#include "unpack-sandbox.h"
#include "whiteout.h"

#include "tests.h"

typedef enum Compression { PLAIN, GZIP, ZSTD } Compression;

typedef struct Ent {
        const char *path;
        mode_t type; /* AE_IFREG (default), AE_IFDIR, AE_IFLNK, AE_IFCHR, AE_IFBLK, AE_IFIFO */
        mode_t perm; /* 0 → 0644 / 0755 */
        const char *data;
        const char *symlink;
        const char *hardlink;
        unsigned uid, gid;
        dev_t rdev;
        const char *xattr, *xattr_value;
        time_t mtime;
} Ent;

static char base[] = "/tmp/test-layer-unpack-XXXXXX";

/* Builds a tar (pax) of the entries into a new memfd at offset 0; returns the uncompressed
 * stream's digest in diff_id when given. */
static int make_tar(const Ent *ents, size_t n, Compression c, char diff_id[DIGEST_STRING_MAX]) {
        struct archive *a = archive_write_new();
        int plain = memfd_create("tar", MFD_CLOEXEC), fd;

        CHECK(a && plain >= 0);
        CHECK(archive_write_set_format_pax_restricted(a) == ARCHIVE_OK);
        CHECK(archive_write_open_fd(a, plain) == ARCHIVE_OK);
        for (size_t i = 0; i < n; i++) {
                const Ent *e = &ents[i];
                struct archive_entry *ae = archive_entry_new();
                mode_t type = e->type ?: AE_IFREG;

                archive_entry_set_pathname(ae, e->path);
                archive_entry_set_filetype(ae, type);
                archive_entry_set_perm(ae, e->perm ?: (type == AE_IFDIR ? 0755 : 0644));
                archive_entry_set_uid(ae, e->uid);
                archive_entry_set_gid(ae, e->gid);
                archive_entry_set_mtime(ae, e->mtime ?: 1600000000, 0);
                if (e->symlink)
                        archive_entry_set_symlink(ae, e->symlink);
                if (e->hardlink) {
                        archive_entry_set_hardlink(ae, e->hardlink);
                        archive_entry_set_size(ae, 0);
                } else if (type == AE_IFREG)
                        archive_entry_set_size(ae, e->data ? strlen(e->data) : 0);
                if (e->rdev)
                        archive_entry_set_rdev(ae, e->rdev);
                if (e->xattr)
                        archive_entry_xattr_add_entry(ae, e->xattr, e->xattr_value, strlen(e->xattr_value));
                CHECK(archive_write_header(a, ae) == ARCHIVE_OK);
                if (type == AE_IFREG && !e->hardlink && e->data)
                        CHECK(archive_write_data(a, e->data, strlen(e->data)) ==
                              (la_ssize_t) strlen(e->data));
                archive_entry_free(ae);
        }
        CHECK(archive_write_close(a) == ARCHIVE_OK);
        archive_write_free(a);

        CHECK(lseek(plain, 0, SEEK_SET) == 0);
        if (diff_id)
                CHECK(sha256_fd(plain, diff_id, NULL) >= 0);
        CHECK(lseek(plain, 0, SEEK_SET) == 0);
        if (c == PLAIN)
                return plain;

        /* Compress the plain stream with libarchive's raw writer. */
        char buf[65536];
        ssize_t k;
        fd = memfd_create("tar-compressed", MFD_CLOEXEC);
        a = archive_write_new();
        CHECK(fd >= 0 && a);
        CHECK(archive_write_set_format_raw(a) == ARCHIVE_OK);
        CHECK((c == GZIP ? archive_write_add_filter_gzip(a) : archive_write_add_filter_zstd(a)) ==
              ARCHIVE_OK);
        CHECK(archive_write_open_fd(a, fd) == ARCHIVE_OK);
        struct archive_entry *ae = archive_entry_new();
        archive_entry_set_filetype(ae, AE_IFREG);
        archive_entry_set_pathname(ae, "data");
        CHECK(archive_write_header(a, ae) == ARCHIVE_OK);
        while ((k = read(plain, buf, sizeof(buf))) > 0)
                CHECK(archive_write_data(a, buf, (size_t) k) == k);
        archive_entry_free(ae);
        CHECK(archive_write_close(a) == ARCHIVE_OK);
        archive_write_free(a);
        close(plain);
        CHECK(lseek(fd, 0, SEEK_SET) == 0);
        return fd;
}

static char *sub(const char *name) {
        char *p = path_join(base, name);
        CHECK(p);
        return p;
}

static char *fresh_dir(const char *name) {
        char *p = sub(name);
        CHECK(rm_rf(p) >= 0);
        CHECK(mkdir(p, 0755) == 0);
        return p;
}

static size_t count_entries(const char *dir) {
        DIR *d = opendir(dir);
        size_t n = 0;

        if (!d)
                return 0;
        for (struct dirent *de; (de = readdir(d));)
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        n++;
        closedir(d);
        return n;
}

static bool exists_at(const char *dir, const char *rel) {
        struct stat st;
        char *p = path_join(dir, rel);
        bool r = lstat(p, &st) == 0;
        free(p);
        return r;
}

static struct stat stat_at(const char *dir, const char *rel) {
        struct stat st;
        char *p = path_join(dir, rel);
        if (lstat(p, &st) < 0) {
                fprintf(stderr, "missing: %s\n", p);
                exit(1);
        }
        free(p);
        return st;
}

static char *read_at(const char *dir, const char *rel) {
        char *p = path_join(dir, rel), *data = NULL;
        size_t size;
        CHECK(read_full_file(p, &data, &size) >= 0);
        free(p);
        return data;
}

static void test_normalize(void) {
        char *p;

        CHECK(path_normalize_relative("./a//b/./c/", 4096, &p) == 0 && streq(p, "a/b/c"));
        free(p);
        CHECK(path_normalize_relative("./", 4096, &p) == 0 && streq(p, ""));
        free(p);
        CHECK(path_normalize_relative("a/../b", 4096, &p) == -EXDEV);
        CHECK(path_normalize_relative("..", 4096, &p) == -EXDEV);
        CHECK(path_normalize_relative("/etc/passwd", 4096, &p) == -EXDEV);
        CHECK(path_normalize_relative("aaaa", 3, &p) == -ENAMETOOLONG);
        CHECK(path_normalize_relative("", 4096, &p) == -EINVAL);
        CHECK(path_normalize_relative("a..b/..c", 4096, &p) == 0 && streq(p, "a..b/..c"));
        free(p);

        WhiteoutKind k;
        const char *t;
        CHECK(whiteout_classify("x", &k, &t) == 0 && k == WHITEOUT_NONE);
        CHECK(whiteout_classify(".wh.x", &k, &t) == 0 && k == WHITEOUT_FILE && streq(t, "x"));
        CHECK(whiteout_classify(".wh..wh..opq", &k, &t) == 0 && k == WHITEOUT_OPAQUE);
        CHECK(whiteout_classify(".wh..wh.plnk", &k, &t) == 0 && k == WHITEOUT_META);
        CHECK(whiteout_classify(".wh.", &k, &t) == -EBADMSG);
        CHECK(whiteout_classify(".wh...", &k, &t) == -EBADMSG);
}

static void test_basic(void) {
        const Ent ents[] = {
                { "./", AE_IFDIR, 0755 },
                { "etc/", AE_IFDIR, 0755, .mtime = 1000000 },
                { "etc/hostname", .data = "hello\n", .uid = 1000, .gid = 1001, .xattr = "user.test",
                  .xattr_value = "value" },
                { "etc/hard", .hardlink = "etc/hostname" },
                { "etc/link", AE_IFLNK, 0777, .symlink = "/etc/hostname" },
                { "bin/su", .perm = 04755, .data = "#!su" },
                { "bin/sg", .perm = 02711, .data = "#!sg", .gid = 42 },
                { "tmp/", AE_IFDIR, 01777 },
                { "dev/null", AE_IFCHR, 0666, .rdev = makedev(1, 3) },
                { "dev/loop0", AE_IFBLK, 0660, .rdev = makedev(7, 0), .gid = 6 },
                { "dev/fifo", AE_IFIFO, 0600 },
                { "usr/lib/deep/file", .data = "deep" },
                { "forged/", AE_IFDIR, .xattr = "trusted.overlay.opaque", .xattr_value = "y" },
                { "opt/", AE_IFDIR, 0750, .uid = 7, .gid = 8, .xattr = "trusted.slipway",
                  .xattr_value = "t" },
                { "forged2", .xattr = "user.overlay.redirect", .xattr_value = "/etc" },
        };
        char diff_id[DIGEST_STRING_MAX], v[16];
        OciError err = {};
        _cleanup_free_ char *root = fresh_dir("basic");
        int fd;

        fd = make_tar(ents, ELEMENTSOF(ents), GZIP, diff_id);
        int r = layer_unpack_fd(fd, root, diff_id, &err);
        if (r < 0)
                fprintf(stderr, "basic: %s\n", err.message);
        CHECK(r == 0);
        close(fd);

        struct stat h = stat_at(root, "etc/hostname"), hl = stat_at(root, "etc/hard");
        CHECK(S_ISREG(h.st_mode) && (h.st_mode & 07777) == 0644 && h.st_uid == 1000 && h.st_gid == 1001);
        CHECK(h.st_ino == hl.st_ino && h.st_nlink == 2);
        CHECK(h.st_mtime == 1600000000);
        _cleanup_free_ char *data = read_at(root, "etc/hostname");
        CHECK(streq(data, "hello\n"));
        _cleanup_free_ char *hp = path_join(root, "etc/hostname");
        CHECK(getxattr(hp, "user.test", v, sizeof(v)) == 5 && memcmp(v, "value", 5) == 0);

        char target[64] = {};
        _cleanup_free_ char *lp = path_join(root, "etc/link");
        CHECK(readlink(lp, target, sizeof(target) - 1) > 0 && streq(target, "/etc/hostname"));

        CHECK((stat_at(root, "bin/su").st_mode & 07777) == 04755);
        struct stat sg = stat_at(root, "bin/sg");
        CHECK((sg.st_mode & 07777) == 02711 && sg.st_gid == 42);
        CHECK((stat_at(root, "tmp").st_mode & 07777) == 01777);

        struct stat dn = stat_at(root, "dev/null"), dl = stat_at(root, "dev/loop0"),
                    df = stat_at(root, "dev/fifo");
        CHECK(S_ISCHR(dn.st_mode) && dn.st_rdev == makedev(1, 3) && (dn.st_mode & 07777) == 0666);
        CHECK(S_ISBLK(dl.st_mode) && dl.st_rdev == makedev(7, 0) && dl.st_gid == 6);
        CHECK(S_ISFIFO(df.st_mode) && (df.st_mode & 07777) == 0600);

        /* Implicit parents: world-traversable; explicit directory times survive their children. */
        CHECK((stat_at(root, "usr/lib/deep").st_mode & 07777) == 0755);
        CHECK(stat_at(root, "etc").st_mtime == 1000000);
        struct stat opt = stat_at(root, "opt");
        CHECK((opt.st_mode & 07777) == 0750 && opt.st_uid == 7 && opt.st_gid == 8);
        _cleanup_free_ char *optp = path_join(root, "opt"), *forged = path_join(root, "forged");
        CHECK(getxattr(optp, "trusted.slipway", v, sizeof(v)) == 1);
        /* A layer cannot forge overlayfs metadata. */
        CHECK(getxattr(forged, OVERLAY_OPAQUE_XATTR, v, sizeof(v)) < 0 && errno == ENODATA);
        _cleanup_free_ char *forged2 = path_join(root, "forged2");
        CHECK(getxattr(forged2, "user.overlay.redirect", v, sizeof(v)) < 0 && errno == ENODATA);

        /* zstd, through the cache: named by the hex of the diff_id, second call is a no-op. */
        _cleanup_free_ char *layers = sub("layers");
        char *cached;
        fd = make_tar(ents, ELEMENTSOF(ents), ZSTD, diff_id);
        CHECK(layer_cache_ensure(layers, fd, diff_id, &err) == 1);
        CHECK(lseek(fd, 0, SEEK_SET) == 0);
        CHECK(layer_cache_ensure(layers, fd, diff_id, &err) == 0);
        close(fd);
        CHECK(layer_cache_path(layers, diff_id, &cached) == 0);
        CHECK((stat_at(base, "layers").st_mode & 07777) == 0700);
        CHECK(S_ISREG(stat_at(cached, "etc/hostname").st_mode));
        CHECK(count_entries(layers) == 1);
        free(cached);
}

static void test_overlay_whiteouts(void) {
        const Ent ents[] = {
                { "a/", AE_IFDIR },   { "a/.wh.gone" },         { "d/new", .data = "n" },
                { "d/.wh..wh..opq" }, { "d/", AE_IFDIR, 0700 }, { "e/.wh..wh.plnk/123" },
        };
        OciError err = {};
        _cleanup_free_ char *root = fresh_dir("overlay-wh");
        char v[4];
        int fd = make_tar(ents, ELEMENTSOF(ents), PLAIN, NULL);

        CHECK(layer_unpack_fd(fd, root, NULL, &err) == 0);
        close(fd);
        struct stat st = stat_at(root, "a/gone");
        CHECK(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
        CHECK(!exists_at(root, "a/.wh.gone") && !exists_at(root, "d/.wh..wh..opq"));
        _cleanup_free_ char *d = path_join(root, "d");
        CHECK(getxattr(d, OVERLAY_OPAQUE_XATTR, v, sizeof(v)) == 1 && v[0] == 'y');
        CHECK((stat_at(root, "d").st_mode & 07777) == 0700);
        CHECK(exists_at(root, "d/new"));
        CHECK(!exists_at(root, "e/.wh..wh.plnk"));
}

static void test_flat(void) {
        const Ent l1[] = {
                { "a/keep", .data = "k" }, { "a/gone", .data = "g" },
                { "d/old", .data = "o" },  { "d/sub/old2", .data = "o2" },
                { "x/y/z", .data = "z" },  { "f", .data = "file" },
                { "same/.wh.x" }, /* whiteout of nothing: harmless */
        };
        const Ent l2[] = {
                { "d/new", .data = "n" },       /* same layer, before the opaque marker: kept */
                { "d/sub/new2", .data = "n2" }, /* implicit d/sub, also kept */
                { "d/.wh..wh..opq" },
                { "d/later", .data = "l" },
                { "a/.wh.gone" },
                { ".wh.x" },        /* a whole tree */
                { "f/", AE_IFDIR }, /* a directory replaces a file */
                { "f/inner", .data = "i" },
                { "w/mine", .data = "m" },
                { "w/.wh.mine" }, /* spares the same layer's own entry */
        };
        int fds[2];
        OciError err = {};
        _cleanup_free_ char *root = fresh_dir("flat");

        fds[0] = make_tar(l1, ELEMENTSOF(l1), GZIP, NULL);
        fds[1] = make_tar(l2, ELEMENTSOF(l2), PLAIN, NULL);
        int r = layer_unpack_flat(fds, 2, root, 0, &err);
        if (r < 0)
                fprintf(stderr, "flat: %s\n", err.message);
        CHECK(r == 0);
        close(fds[0]);
        close(fds[1]);

        CHECK(exists_at(root, "a/keep") && !exists_at(root, "a/gone") && !exists_at(root, "a/.wh.gone"));
        CHECK(exists_at(root, "d/new") && exists_at(root, "d/later") && exists_at(root, "d/sub/new2"));
        CHECK(!exists_at(root, "d/old") && !exists_at(root, "d/sub/old2") &&
              !exists_at(root, "d/.wh..wh..opq"));
        CHECK(!exists_at(root, "x"));
        CHECK(S_ISDIR(stat_at(root, "f").st_mode) && exists_at(root, "f/inner"));
        CHECK(exists_at(root, "w/mine"));
        CHECK(!exists_at(root, "same/x") && !exists_at(root, "same/.wh.x"));
}

/* Unpacks ents into a fresh target next to a fresh canary; returns the result.  The canary (and
 * /etc/passwd's link count) must never change, whatever the result. */
static int escape_case(const char *name, const Ent *ents, size_t n, bool flat, OciError *err,
                       char **ret_root) {
        _cleanup_free_ char *root = fresh_dir(name), *canary = fresh_dir("canary"), *secret = NULL;
        struct stat before, after;
        int fd, r;

        secret = path_join(canary, "secret");
        CHECK(write_file_atomic(secret, "s", 1, 0600) >= 0);
        CHECK(stat("/etc/passwd", &before) == 0);

        fd = make_tar(ents, n, PLAIN, NULL);
        r = flat ? layer_unpack_flat(&fd, 1, root, LAYER_UNPACK_KEEP_SPECIAL, err)
                 : layer_unpack_fd(fd, root, NULL, err);
        close(fd);

        CHECK(count_entries(canary) == 1);
        CHECK(stat_at(canary, "secret").st_nlink == 1);
        CHECK(stat("/etc/passwd", &after) == 0 && after.st_nlink == before.st_nlink);
        CHECK(after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
              after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
        fprintf(stderr, "escape case %s: %s\n", name, r < 0 ? err->message : "confined");
        if (r < 0) {
                CHECK(err->message[0]);
                CHECK(count_entries(root) == 0); /* nothing half-written */
        }
        *ret_root = TAKE_PTR(root);
        return r;
}

/* A flat tree lands outside any container: an untrusted image's device nodes are left out and its
 * setuid/setgid bits cleared, unless the caller asks to keep them. */
static void test_flat_special(void) {
        const Ent lower[] = {
                { "dev/", AE_IFDIR, 0755 },
                { "dev/sda", .data = "a file a device replaces" },
        };
        const Ent upper[] = {
                { "bin/su", .perm = 04755, .data = "#!su" },
                { "bin/sg", .perm = 02711, .data = "#!sg" },
                { "tmp/", AE_IFDIR, 01777 },
                { "dev/null", AE_IFCHR, 0666, .rdev = makedev(1, 3) },
                { "dev/sda", AE_IFBLK, 0660, .rdev = makedev(8, 0) },
                { "dev/fifo", AE_IFIFO, 0600 },
        };

        for (int keep = 0; keep <= 1; keep++) {
                _cleanup_free_ char *root = fresh_dir(keep ? "flat-keep" : "flat-untrusted");
                OciError err = {};
                int fds[2];

                fds[0] = make_tar(lower, ELEMENTSOF(lower), PLAIN, NULL);
                fds[1] = make_tar(upper, ELEMENTSOF(upper), PLAIN, NULL);
                CHECK(layer_unpack_flat(fds, 2, root, keep ? LAYER_UNPACK_KEEP_SPECIAL : 0, &err) == 0);
                close(fds[0]);
                close(fds[1]);
                CHECK((stat_at(root, "bin/su").st_mode & 07777) == (keep ? 04755 : 0755));
                CHECK((stat_at(root, "bin/sg").st_mode & 07777) == (keep ? 02711 : 0711));
                CHECK((stat_at(root, "tmp").st_mode & 07777) == 01777);
                CHECK(S_ISFIFO(stat_at(root, "dev/fifo").st_mode));
                CHECK(exists_at(root, "dev/null") == keep);
                /* the lower layer's file is gone either way: the upper layer replaced it */
                CHECK(exists_at(root, "dev/sda") == keep);
                if (keep)
                        CHECK(S_ISCHR(stat_at(root, "dev/null").st_mode) &&
                              S_ISBLK(stat_at(root, "dev/sda").st_mode));
        }
}

static void test_escapes(void) {
        _cleanup_free_ char *canary = sub("canary"), *abs_evil = path_join(canary, "evil");
        _cleanup_free_ char *canary_in_root = strdup(canary + 1); /* "tmp/test-…/canary" */
        char *root;
        OciError err;

        /* Refused with an error: '..' and absolute names, hardlinks out of the layer. */
        const Ent dotdot[] = { { "ok", .data = "1" }, { "../canary/evil", .data = "x" } };
        CHECK(escape_case("t1", dotdot, 2, false, &err, &root) == -EBADMSG);
        CHECK(strstr(err.message, "outside the layer"));
        free(root);

        const Ent absolute[] = { { abs_evil, .data = "x" } };
        CHECK(escape_case("t2", absolute, 1, false, &err, &root) == -EBADMSG);
        free(root);

        const Ent hard_up[] = { { "h", .hardlink = "../../etc/passwd" } };
        CHECK(escape_case("t3", hard_up, 1, false, &err, &root) == -EBADMSG);
        free(root);

        const Ent hard_abs[] = { { "h", .hardlink = "/etc/passwd" } };
        CHECK(escape_case("t4", hard_abs, 1, false, &err, &root) == -EBADMSG);
        free(root);

        /* A hardlink through a symlink resolves inside the root, where nothing matches. */
        _cleanup_free_ char *hl_target = strdup("l/secret");
        const Ent hard_sym[] = { { "l", AE_IFLNK, .symlink = canary }, { "h", .hardlink = hl_target } };
        CHECK(escape_case("t5", hard_sym, 2, false, &err, &root) == -EBADMSG);
        free(root);

        /* Symlinked parents resolve inside the root.  When the target is missing there: error. */
        const Ent sym_parent[] = { { "link", AE_IFLNK, .symlink = canary }, { "link/evil", .data = "x" } };
        CHECK(escape_case("t6", sym_parent, 2, false, &err, &root) == -EBADMSG);
        free(root);

        /* ...and when it exists inside the root, the entry is confined there. */
        _cleanup_free_ char *inside = path_join(canary_in_root, "evil");
        const Ent sym_confined[] = {
                { "link", AE_IFLNK, .symlink = canary },
                { "up", AE_IFLNK, .symlink = "../../../../../../../../canary" },
                { "chain1", AE_IFLNK, .symlink = "chain2" },
                { "chain2", AE_IFLNK, .symlink = "/../../link" },
                { canary_in_root, AE_IFDIR },
                { "canary/", AE_IFDIR },
                { "link/evil", .data = "x" },
                { "up/evil", .data = "y" },
                { "chain1/evil2", .data = "z" },
        };
        CHECK(escape_case("t7", sym_confined, ELEMENTSOF(sym_confined), false, &err, &root) == 0);
        CHECK(exists_at(root, inside) && exists_at(root, "canary/evil"));
        _cleanup_free_ char *inside2 = path_join(canary_in_root, "evil2");
        CHECK(exists_at(root, inside2));
        free(root);

        /* A file entry replaces a symlink of the same name instead of writing through it. */
        _cleanup_free_ char *secret = path_join(canary, "secret");
        const Ent replace[] = { { "f", AE_IFLNK, .symlink = secret }, { "f", .data = "mine" } };
        CHECK(escape_case("t8", replace, 2, false, &err, &root) == 0);
        CHECK(S_ISREG(stat_at(root, "f").st_mode));
        free(root);

        /* Whiteouts through a symlink (flat mode) cannot delete outside either. */
        _cleanup_free_ char *wh = strdup("link/.wh.secret"), *opq = strdup("link/.wh..wh..opq");
        const Ent wh_sym[] = { { "link", AE_IFLNK, .symlink = canary }, { wh }, { opq } };
        CHECK(escape_case("t9", wh_sym, 3, true, &err, &root) == -EBADMSG);
        free(root);

        const Ent wh_dotdot[] = { { "../canary/.wh.secret" } };
        CHECK(escape_case("t10", wh_dotdot, 1, true, &err, &root) == -EBADMSG);
        free(root);
}

static void test_bad_streams(void) {
        const Ent ents[] = { { "a", .data = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" },
                             { "b/c", .data = "c" } };
        char diff_id[DIGEST_STRING_MAX];
        OciError err = {};
        _cleanup_free_ char *root = fresh_dir("bad");
        struct stat st;
        int fd, r;

        /* The diff_id is the digest of the uncompressed stream, checked while unpacking. */
        fd = make_tar(ents, ELEMENTSOF(ents), GZIP, diff_id);
        diff_id[10] = diff_id[10] == '0' ? '1' : '0';
        r = layer_unpack_fd(fd, root, diff_id, &err);
        CHECK(r == -EBADMSG);
        CHECK(strstr(err.message, "does not match its diff_id"));
        CHECK(count_entries(root) == 0);
        close(fd);

        /* Truncated gzip. */
        fd = make_tar(ents, ELEMENTSOF(ents), GZIP, NULL);
        CHECK(fstat(fd, &st) == 0);
        CHECK(ftruncate(fd, st.st_size / 2) == 0);
        r = layer_unpack_fd(fd, root, NULL, &err);
        fprintf(stderr, "truncated gzip: %s\n", err.message);
        CHECK(r == -EBADMSG);
        CHECK(count_entries(root) == 0);
        close(fd);

        /* Truncated plain tar. */
        fd = make_tar(ents, ELEMENTSOF(ents), PLAIN, NULL);
        CHECK(ftruncate(fd, 700) == 0);
        r = layer_unpack_fd(fd, root, NULL, &err);
        fprintf(stderr, "truncated tar: %s\n", err.message);
        CHECK(r == -EBADMSG);
        CHECK(count_entries(root) == 0);
        close(fd);

        /* Not a tar at all; and an empty file. */
        fd = memfd_create("junk", MFD_CLOEXEC);
        CHECK(write(fd, "this is not a tar archive, not even close\n", 42) == 42);
        CHECK(lseek(fd, 0, SEEK_SET) == 0);
        r = layer_unpack_fd(fd, root, NULL, &err);
        fprintf(stderr, "junk: %s\n", err.message);
        CHECK(r == -EBADMSG);
        close(fd);
        fd = memfd_create("empty", MFD_CLOEXEC);
        r = layer_unpack_fd(fd, root, NULL, &err);
        fprintf(stderr, "empty: %s\n", err.message);
        CHECK(r == -EBADMSG);
        close(fd);

        /* Limits: entry name length, uncompressed size (the in-process entry point takes a bound). */
        char longname[LAYER_PATH_MAX + 64];
        memset(longname, 'n', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = 0;
        for (size_t i = 200; i < sizeof(longname) - 1; i += 200)
                longname[i] = '/';
        const Ent long_ents[] = { { longname, .data = "x" } };
        fd = make_tar(long_ents, 1, PLAIN, NULL);
        r = layer_unpack_fd(fd, root, NULL, &err);
        CHECK(r == -EBADMSG && strstr(err.message, "longer than"));
        close(fd);

        int dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        CHECK(dfd >= 0);
        fd = make_tar(ents, ELEMENTSOF(ents), GZIP, NULL);
        r = layer_unpack_in_process(fd, dfd, LAYER_UNPACK_OVERLAY, NULL, 1024, &err);
        fprintf(stderr, "too big: %s\n", err.message);
        CHECK(r == -EFBIG);
        close(fd);
        close(dfd);

        /* Invalid diff_id strings never reach the file system. */
        _cleanup_free_ char *layers = sub("layers-bad");
        fd = make_tar(ents, ELEMENTSOF(ents), PLAIN, NULL);
        CHECK(layer_cache_ensure(layers, fd, "sha256:../../etc", &err) == -EINVAL);
        CHECK(layer_cache_ensure(layers, fd,
                                 "sha256:0000000000000000000000000000000000000000000000000000000000000000",
                                 &err) == -EBADMSG);
        CHECK(count_entries(layers) == 0); /* the temp dir is gone */
        close(fd);
}

static bool landlock_expected;

static int sandbox_probe(void *userdata, OciError *err) {
        char *const argv[] = { (char *) "/bin/true", NULL };
        int s, fd;

        s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s >= 0 || errno != EPERM)
                return oci_error_set(err, -EIO, NULL, "socket() was allowed");
        s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s >= 0 || errno != EPERM)
                return oci_error_set(err, -EIO, NULL, "socket(AF_UNIX) was allowed");
        execve("/bin/true", argv, NULL);
        if (errno != EPERM)
                return oci_error_set(err, -EIO, NULL, "execve() was not denied with EPERM: %m");
        if (unshare(CLONE_NEWNS) >= 0 || errno != EPERM)
                return oci_error_set(err, -EIO, NULL, "unshare() was allowed");
        if (mount("none", "/", NULL, MS_REMOUNT, NULL) >= 0 || errno != EPERM)
                return oci_error_set(err, -EIO, NULL, "mount() was allowed");
        /* Device nodes can be made (layers carry them) but not opened, here or anywhere. */
        if (mknodat(*(int *) userdata, "disk", S_IFBLK | 0600, makedev(7, 0)) < 0)
                return oci_error_set(err, -errno, NULL, "mknod of a block device failed: %m");
        fd = openat(*(int *) userdata, "disk", O_RDONLY | O_CLOEXEC);
        if (fd >= 0 || errno != EACCES)
                return oci_error_set(err, -EIO, NULL, "opening a device node worked");
        fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (fd >= 0 || errno != EACCES)
                return oci_error_set(err, -EIO, NULL, "opening /dev/null worked");
        if (kill(getppid(), 0) >= 0 || errno != EPERM)
                return oci_error_set(err, -EIO, NULL, "signalling the parent was allowed");
        if (kill(getpid(), 0) < 0)
                return oci_error_set(err, -EIO, NULL, "signalling itself was denied: %m");
        /* Files still work below the write root, and nowhere else (Landlock, when the kernel has it). */
        fd = openat(*(int *) userdata, "probe", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
                return oci_error_set(err, -errno, NULL, "open failed: %m");
        close(fd);
        if (mkdirat(*(int *) userdata, "sub", 0755) < 0 ||
            mknodat(*(int *) userdata, "sub/fifo", S_IFIFO | 0600, 0) < 0)
                return oci_error_set(err, -errno, NULL, "mkdir/mknod below the write root failed: %m");
        if (landlock_expected) {
                char outside[sizeof(base) + 32];
                snprintf(outside, sizeof(outside), "%s/outside-probe", base);
                fd = open(outside, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
                if (fd >= 0 || errno != EACCES)
                        return oci_error_set(err, -EIO, NULL,
                                             "creating a file outside the write root worked");
                fd = open("/etc/passwd", O_WRONLY | O_APPEND | O_CLOEXEC);
                if (fd >= 0 || errno != EACCES)
                        return oci_error_set(err, -EIO, NULL, "opening /etc/passwd for writing worked");
        }
        return oci_error_set(err, -ENOTRECOVERABLE, "the hint", "All denied as expected");
}

static int unkept_fd = -1;

static int sandbox_fds_probe(void *userdata, OciError *err) {
        if (fcntl(unkept_fd, F_GETFD) >= 0 || errno != EBADF)
                return oci_error_set(err, -EIO, NULL, "an fd the caller did not pass is still open");
        return 7;
}

static int sandbox_die(void *userdata, OciError *err) {
        raise(SIGKILL);
        return 0;
}

static void test_sandbox(void) {
        _cleanup_free_ char *dir = fresh_dir("sandbox");
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        OciError err = {};

        CHECK(dfd >= 0);
        /* The probe reports success through a distinct error, so the message transport is tested too. */
        landlock_expected =
                syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION) >= 0;
        if (!landlock_expected)
                fprintf(stderr, "no Landlock in this kernel: not checking write confinement\n");
        int r = unpack_sandbox_run(sandbox_probe, &dfd, &dfd, 1, dfd, &err);
        fprintf(stderr, "sandbox: %s\n", err.message);
        CHECK(r == -ENOTRECOVERABLE);
        CHECK(streq(err.message, "All denied as expected") && streq(err.hint, "the hint"));
        CHECK(exists_at(dir, "probe") && exists_at(dir, "sub/fifo"));
        CHECK(!exists_at(base, "outside-probe"));

        /* Only the fds named survive into the child; a positive result comes back as is. */
        unkept_fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        CHECK(unkept_fd >= 0);
        r = unpack_sandbox_run(sandbox_fds_probe, NULL, &dfd, 1, dfd, &err);
        CHECK(r == 7);
        close(unkept_fd);

        /* A child that dies without a report still gives a clear message. */
        r = unpack_sandbox_run(sandbox_die, NULL, NULL, 0, -1, &err);
        fprintf(stderr, "killed: %s\n", err.message);
        CHECK(r < 0 && strstr(err.message, "killed by signal KILL"));
        close(dfd);
}

static void test_cache_race(void) {
        const Ent ents[] = { { "a/b", .data = "b" }, { "c", .data = "c" } };
        char diff_id[DIGEST_STRING_MAX], fdpath[64];
        _cleanup_free_ char *layers = sub("layers-race");
        pid_t pids[3];
        int fd = make_tar(ents, ELEMENTSOF(ents), GZIP, diff_id);

        snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
        for (size_t i = 0; i < ELEMENTSOF(pids); i++) {
                pids[i] = fork();
                CHECK(pids[i] >= 0);
                if (pids[i] == 0) {
                        OciError err = {};
                        int own = open(fdpath, O_RDONLY | O_CLOEXEC); /* own file offset */
                        _exit(own >= 0 && layer_cache_ensure(layers, own, diff_id, &err) >= 0 ? 0 : 1);
                }
        }
        for (size_t i = 0; i < ELEMENTSOF(pids); i++) {
                int status;
                CHECK(waitpid(pids[i], &status, 0) == pids[i]);
                CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
        CHECK(count_entries(layers) == 1);
        _cleanup_free_ char *dir = path_join(layers, digest_hex(diff_id));

        /* What a killed unpack leaves behind is removed at start-up; cached layers stay. */
        _cleanup_free_ char *stale = path_join(layers, LAYER_CACHE_TEMP_PREFIX "0123456789abcdef");
        _cleanup_free_ char *stale_file = path_join(stale, "half");
        CHECK(mkdir(stale, 0700) == 0);
        CHECK(write_file_atomic(stale_file, "h", 1, 0644) >= 0);
        CHECK(count_entries(layers) == 2);
        {
                TempSweepStats st = {};

                CHECK(layer_cache_sweep_temp(layers, true, &st) == 0 && st.removed == 1 && st.bytes == 1);
                CHECK(count_entries(layers) == 2);
                CHECK(layer_cache_sweep_temp(layers, false, &st) == 0 && st.removed == 2);
        }
        CHECK(count_entries(layers) == 1);
        _cleanup_free_ char *c = read_at(dir, "c");
        CHECK(streq(c, "c"));
        close(fd);
}

static void test_overlay_mount(void) {
        const Ent lower[] = { { "a/file", .data = "f" },
                              { "a/other", .data = "o" },
                              { "d/old", .data = "o" } };
        const Ent upper[] = { { "a/.wh.file" }, { "d/.wh..wh..opq" }, { "d/new", .data = "n" } };
        char lower_id[DIGEST_STRING_MAX], upper_id[DIGEST_STRING_MAX], opts[1024];
        _cleanup_free_ char *layers = sub("layers-ovl"), *merged = fresh_dir("merged");
        OciError err = {};
        int fd;

        fd = make_tar(lower, ELEMENTSOF(lower), GZIP, lower_id);
        CHECK(layer_cache_ensure(layers, fd, lower_id, &err) == 1);
        close(fd);
        fd = make_tar(upper, ELEMENTSOF(upper), GZIP, upper_id);
        CHECK(layer_cache_ensure(layers, fd, upper_id, &err) == 1);
        close(fd);

        snprintf(opts, sizeof(opts), "lowerdir=%s/%s:%s/%s", layers, digest_hex(upper_id), layers,
                 digest_hex(lower_id));
        if (mount("overlay", merged, "overlay", MS_RDONLY, opts) < 0) {
                fprintf(stderr, "overlay mount failed (%m): skipping the merged-view check\n");
                return;
        }
        bool ok = !exists_at(merged, "a/file") && exists_at(merged, "a/other") &&
                  !exists_at(merged, "d/old") && exists_at(merged, "d/new");
        CHECK(umount2(merged, MNT_DETACH) == 0);
        CHECK(ok);
}

int main(void) {
        if (geteuid() != 0) {
                fprintf(stderr, "needs root: skipping\n");
                return 77;
        }
        CHECK(mkdtemp(base));

        test_normalize();
        test_basic();
        test_overlay_whiteouts();
        test_flat();
        test_flat_special();
        test_escapes();
        test_bad_streams();
        test_sandbox();
        test_cache_race();
        test_overlay_mount();

        CHECK(rm_rf(base) >= 0);
        return 0;
}
