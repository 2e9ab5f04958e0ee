/* COPY/ADD: sources are resolved with openat2(RESOLVE_IN_ROOT) inside the context, a stage's or an image's
 * read-only overlay; their checksum (paths, types, modes, content, link targets — never mtimes) keys the
 * cache; they are copied into a staging dir together with the destination's parents as the lower layers
 * have them, and the staging dir becomes the layer.
 * Invariant: no symlink is followed out of a source root, nothing is written outside the staging dir. */
#include "build-copy.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "build-image.h"
#include "fs-util.h"
#include "json-util.h"
#include "overlay.h"
#include "strbuf.h"
#include "string-util.h"
#include "user-db.h"

#define COPY_DEPTH_MAX 256U

typedef struct CopySource {
        char *rel;   /* cleaned path inside the source root ("." for the root) */
        char *shown; /* as the user wrote it / the glob matched, for messages */
} CopySource;

struct CopyPlan {
        char *root;           /* the source root path */
        int root_fd;
        char *mount;          /* our read-only overlay of a stage or image, or NULL (the context) */
        bool keep_owners;     /* --from: owners are kept; from the context they become root */
        CopySource *sources;
        size_t n_sources;
};

CopyPlan *copy_plan_free(CopyPlan *p) {
        if (!p)
                return NULL;
        safe_close(p->root_fd);
        if (p->mount)
                (void) overlay_umount(p->mount);
        free(p->mount);
        free(p->root);
        for (size_t i = 0; i < p->n_sources; i++) {
                free(p->sources[i].rel);
                free(p->sources[i].shown);
        }
        free(p->sources);
        free(p);
        return NULL;
}

static int open_in_root(int root_fd, const char *rel, int flags, uint64_t extra_resolve) {
        struct open_how how = { .flags = (uint64_t) flags | O_CLOEXEC,
                                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | extra_resolve };
        int fd = (int) syscall(SYS_openat2, root_fd, rel, &how, sizeof how);
        return fd < 0 ? -errno : fd;
}

static int reopen(int fd, int flags) {
        char proc[64];
        int r;

        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        r = open(proc, flags | O_CLOEXEC);
        return r < 0 ? -errno : r;
}

/* Lexically cleans a source path relative to the root; false when it climbs out. */
static bool clean_rel(const char *p, char **ret) {
        _cleanup_free_ char *copy = strdup(p);
        StrBuf out = {};
        char *save = NULL, *parts[512];
        size_t n = 0;

        if (!copy)
                return false;
        for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                if (streq(c, "."))
                        continue;
                if (streq(c, "..")) {
                        if (n == 0)
                                return false;
                        n--;
                        continue;
                }
                if (n >= ELEMENTSOF(parts))
                        return false;
                parts[n++] = c;
        }
        for (size_t k = 0; k < n; k++) {
                if (k > 0)
                        strbuf_append_char(&out, '/');
                strbuf_append_str(&out, parts[k]);
        }
        if (n == 0)
                strbuf_append_str(&out, ".");
        *ret = strbuf_steal(&out);
        return *ret != NULL;
}

static bool has_glob(const char *s) {
        return strpbrk(s, "*?[") != NULL;
}

static int add_source(CopyPlan *p, const char *rel, const char *shown) {
        CopySource *n;

        if (p->n_sources >= COPY_SOURCES_MAX)
                return -E2BIG;
        n = realloc(p->sources, (p->n_sources + 1) * sizeof *n);
        if (!n)
                return -ENOMEM;
        p->sources = n;
        n[p->n_sources] = (CopySource) { .rel = strdup(rel), .shown = strdup(shown) };
        if (!n[p->n_sources].rel || !n[p->n_sources].shown) {
                free(n[p->n_sources].rel);
                free(n[p->n_sources].shown);
                return -ENOMEM;
        }
        p->n_sources++;
        return 0;
}

static const char *kind_name(const DockerfileInstruction *i) {
        return i->kind == DOCKERFILE_ADD ? "ADD" : "COPY";
}

/* Hashes one entry (and, for a directory, its tree in name order). fd is O_PATH, not following. */
static int hash_entry(Sha256 *h, int fd, const struct stat *st, const char *path, bool owners, unsigned depth) {
        char hdr[128];
        int r;

        if (depth > COPY_DEPTH_MAX)
                return -ELOOP;
        sha256_update(h, path, strlen(path) + 1);
        snprintf(hdr, sizeof hdr, "%o %u %u %lld", (unsigned) st->st_mode, owners ? (unsigned) st->st_uid : 0,
                 owners ? (unsigned) st->st_gid : 0, S_ISREG(st->st_mode) ? (long long) st->st_size : 0LL);
        sha256_update(h, hdr, strlen(hdr) + 1);
        if (S_ISREG(st->st_mode)) {
                _cleanup_close_ int rfd = reopen(fd, O_RDONLY);
                char d[DIGEST_STRING_MAX];

                if (rfd < 0)
                        return rfd;
                r = sha256_fd(rfd, d, NULL);
                if (r < 0)
                        return r;
                sha256_update(h, d, strlen(d));
        } else if (S_ISLNK(st->st_mode)) {
                /* On the heap: this function recurses per directory level and runs on server threads. */
                _cleanup_free_ char *target = malloc(PATH_MAX);
                ssize_t n;

                if (!target)
                        return -ENOMEM;
                n = readlinkat(fd, "", target, PATH_MAX - 1);
                if (n < 0)
                        return -errno;
                sha256_update(h, target, (size_t) n);
        } else if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
                snprintf(hdr, sizeof hdr, "%u:%u", major(st->st_rdev), minor(st->st_rdev));
                sha256_update(h, hdr, strlen(hdr));
        } else if (S_ISDIR(st->st_mode)) {
                _cleanup_close_ int dfd = reopen(fd, O_RDONLY | O_DIRECTORY);
                struct dirent **names = NULL;
                int n;

                if (dfd < 0)
                        return dfd;
                /* scandirat sorts the names: the hash must not depend on directory order. */
                n = scandirat(dfd, ".", &names, NULL, alphasort);
                if (n < 0)
                        return -errno;
                r = 0;
                for (int k = 0; k < n; k++) {
                        const char *nm = names[k]->d_name;
                        _cleanup_close_ int cfd = -EBADF;
                        _cleanup_free_ char *cpath = NULL;
                        struct stat cst;

                        if (r < 0 || streq(nm, ".") || streq(nm, ".."))
                                continue;
                        cfd = openat(dfd, nm, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                        if (cfd < 0 || fstat(cfd, &cst) < 0) {
                                r = -errno;
                                continue;
                        }
                        cpath = path_join(path, nm);
                        if (!cpath) {
                                r = -ENOMEM;
                                continue;
                        }
                        r = hash_entry(h, cfd, &cst, cpath, owners, depth + 1);
                }
                for (int k = 0; k < n; k++)
                        free(names[k]);
                free(names);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int mount_state_ro(BuildContext *ctx, json_t *state, char **ret) {
        _cleanup_free_ char *dir = NULL, *root = NULL;
        int r;

        r = build_tmp_dir(ctx, "from", &dir);
        if (r < 0)
                return r;
        root = path_join(dir, "root");
        if (!root)
                return -ENOMEM;
        r = build_state_mount(ctx, state, NULL, NULL, root);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(root);
        return 0;
}

int build_copy_prepare(BuildContext *ctx, json_t *from_state, const DockerfileInstruction *i, CopyPlan **ret,
                       char **ret_checksum) {
        _cleanup_(copy_plan_freep) CopyPlan *p = calloc(1, sizeof *p);
        const char *from = NULL;
        char sum[DIGEST_STRING_MAX];
        Sha256 h;
        int r;

        if (!p)
                return -ENOMEM;
        p->root_fd = -EBADF;
        if (i->n_argv < 2)
                return build_error(ctx, -EBADMSG, i, NULL, "%s needs at least one source and a destination.",
                                   kind_name(i));
        (void) dockerfile_instruction_get_flag(i, "from", &from);
        if (from_state) {
                r = mount_state_ro(ctx, from_state, &p->mount);
                if (r < 0)
                        return build_error(ctx, r, i, NULL, "Cannot mount stage %s: %s.", from, strerror(-r));
                p->keep_owners = true;
        } else if (from) {
                _cleanup_json_ json_t *st = NULL;
                ImageRecord rec = {};
                OciError oe = {};

                r = image_catalog_lookup(ctx->builder->catalog, from, &rec, &oe);
                if (r < 0)
                        return build_error(ctx, -ENOENT, i, "Import it first with 'slipway image import', or name an "
                                           "earlier stage.", "--from=%s names neither a stage nor an image in "
                                           "the store.", from);
                r = build_state_from_image(ctx, rec.digest, &st);
                image_record_done(&rec);
                if (r >= 0)
                        r = mount_state_ro(ctx, st, &p->mount);
                if (r < 0)
                        return build_error(ctx, r, i, NULL, "Cannot mount image %s: %s.", from, strerror(-r));
                p->keep_owners = true;
        }
        p->root = strdup(p->mount ?: ctx->opts->context_dir);
        if (!p->root)
                return -ENOMEM;
        p->root_fd = open(p->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (p->root_fd < 0)
                return build_error(ctx, -errno, i, NULL, "Cannot open the source root: %m.");

        for (size_t k = 0; k + 1 < i->n_argv; k++) {
                const char *src = i->argv[k];
                _cleanup_free_ char *rel = NULL;

                if (!clean_rel(src, &rel))
                        return build_error(ctx, -EINVAL, i, "Put the file into the build context.",
                                           "%s source %s is outside the build context.", kind_name(i), src);
                if (has_glob(rel)) {
                        _cleanup_free_ char *pattern = path_join(p->root, rel);
                        glob_t g = {};
                        size_t before = p->n_sources;

                        if (!pattern)
                                return -ENOMEM;
                        r = glob(pattern, GLOB_NOESCAPE, NULL, &g);
                        if (r == 0)
                                for (size_t m = 0; m < g.gl_pathc; m++) {
                                        const char *match = g.gl_pathv[m] + strlen(p->root);
                                        _cleanup_free_ char *mrel = NULL;

                                        while (*match == '/')
                                                match++;
                                        if (!clean_rel(match, &mrel))
                                                continue;
                                        r = add_source(p, mrel, mrel);
                                        if (r < 0)
                                                break;
                                }
                        globfree(&g);
                        if (r < 0 && r != GLOB_NOMATCH)
                                return r == -E2BIG ? build_error(ctx, r, i, NULL, "%s matches more than %u files.",
                                                                 kind_name(i), COPY_SOURCES_MAX)
                                                   : r;
                        if (p->n_sources == before)
                                return build_error(ctx, -ENOENT, i, "Check the pattern and .dockerignore.",
                                                   "%s source %s matches no file in the %s.", kind_name(i), src,
                                                   p->mount ? "source stage" : "build context");
                        continue;
                }
                r = add_source(p, rel, src);
                if (r < 0)
                        return r;
        }

        sha256_init(&h);
        for (size_t k = 0; k < p->n_sources; k++) {
                _cleanup_close_ int fd = open_in_root(p->root_fd, p->sources[k].rel, O_PATH, 0);
                struct stat st;

                if (fd < 0)
                        return build_error(ctx, fd == -ENOENT ? -ENOENT : fd, i,
                                           "Check the path and .dockerignore.", "%s source %s does not exist in the %s.",
                                           kind_name(i), p->sources[k].shown,
                                           p->mount ? "source stage" : "build context");
                if (fstat(fd, &st) < 0)
                        return -errno;
                r = hash_entry(&h, fd, &st, p->sources[k].rel, p->keep_owners, 0);
                if (r < 0)
                        return build_error(ctx, r, i, NULL, "Cannot read %s source %s: %s.", kind_name(i),
                                           p->sources[k].shown, strerror(-r));
        }
        sha256_final(&h, sum);
        *ret_checksum = strdup(sum);
        if (!*ret_checksum)
                return -ENOMEM;
        *ret = TAKE_PTR(p);
        return 0;
}

/* ---- execution ---- */

typedef struct HardLink {
        dev_t dev;
        ino_t ino;
        int dir_fd;   /* borrowed: only valid while copying (we keep it open below) */
        char *path;   /* staging-relative path of the first copy */
} HardLink;

typedef struct CopyRun {
        BuildContext *ctx;
        const DockerfileInstruction *i;
        int staging_fd;
        bool keep_owners;
        bool chown;
        uid_t uid;
        gid_t gid;
        bool chmod;
        mode_t mode;
        HardLink *links;
        size_t n_links;
} CopyRun;

static void owner_mode(CopyRun *c, const struct stat *st, uid_t *uid, gid_t *gid, mode_t *mode) {
        *uid = c->chown ? c->uid : c->keep_owners ? st->st_uid : 0;
        *gid = c->chown ? c->gid : c->keep_owners ? st->st_gid : 0;
        *mode = c->chmod ? c->mode : (st->st_mode & 07777);
}

static int copy_data(int src, int dst) {
        char buf[65536];

        for (;;) {
                ssize_t n = copy_file_range(src, NULL, dst, NULL, SIZE_MAX >> 2, 0);
                if (n == 0)
                        return 0;
                if (n > 0)
                        continue;
                if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
                        return -errno;
                break;
        }
        for (;;) {
                ssize_t n = read(src, buf, sizeof buf);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return 0;
                int r = loop_write(dst, buf, (size_t) n);
                if (r < 0)
                        return r;
        }
}

/* Copies the entry (O_PATH fd src, stat st) to dst_dir/name; rel_path is its staging-relative path. */
static int copy_entry(CopyRun *c, int src, const struct stat *st, int dst_dir, const char *name,
                      const char *rel_path, unsigned depth) {
        struct timespec ts[2] = { st->st_mtim, st->st_mtim };
        uid_t uid;
        gid_t gid;
        mode_t mode;
        int r;

        if (depth > COPY_DEPTH_MAX)
                return -ELOOP;
        owner_mode(c, st, &uid, &gid, &mode);

        if (S_ISDIR(st->st_mode)) {
                _cleanup_close_ int sdir = reopen(src, O_RDONLY | O_DIRECTORY), ddir = -EBADF;
                struct dirent **names = NULL;
                int n;

                if (sdir < 0)
                        return sdir;
                if (mkdirat(dst_dir, name, 0700) < 0 && errno != EEXIST)
                        return -errno;
                ddir = openat(dst_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (ddir < 0)
                        return -errno;
                n = scandirat(sdir, ".", &names, NULL, alphasort);
                if (n < 0)
                        return -errno;
                r = 0;
                for (int k = 0; k < n; k++) {
                        const char *nm = names[k]->d_name;
                        _cleanup_close_ int cfd = -EBADF;
                        _cleanup_free_ char *cpath = NULL;
                        struct stat cst;

                        if (r < 0 || streq(nm, ".") || streq(nm, ".."))
                                continue;
                        cfd = openat(sdir, nm, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                        if (cfd < 0 || fstat(cfd, &cst) < 0) {
                                r = -errno;
                                continue;
                        }
                        cpath = path_join(rel_path, nm);
                        r = cpath ? copy_entry(c, cfd, &cst, ddir, nm, cpath, depth + 1) : -ENOMEM;
                }
                for (int k = 0; k < n; k++)
                        free(names[k]);
                free(names);
                if (r < 0)
                        return r;
                if (fchown(ddir, uid, gid) < 0 || fchmod(ddir, mode) < 0 || futimens(ddir, ts) < 0)
                        return -errno;
                return 0;
        }

        /* A file replaces whatever an earlier source put at the same place. */
        if (unlinkat(dst_dir, name, 0) < 0 && errno != ENOENT && errno != EISDIR)
                return -errno;

        if (S_ISREG(st->st_mode)) {
                _cleanup_close_ int in = -EBADF, out = -EBADF;

                if (st->st_nlink > 1) {
                        for (size_t k = 0; k < c->n_links; k++)
                                if (c->links[k].dev == st->st_dev && c->links[k].ino == st->st_ino) {
                                        if (linkat(c->staging_fd, c->links[k].path, dst_dir, name, 0) < 0)
                                                return -errno;
                                        return 0;
                                }
                        HardLink *nl = realloc(c->links, (c->n_links + 1) * sizeof *nl);
                        if (!nl)
                                return -ENOMEM;
                        c->links = nl;
                        nl[c->n_links] = (HardLink) { .dev = st->st_dev, .ino = st->st_ino, .path = strdup(rel_path) };
                        if (!nl[c->n_links].path)
                                return -ENOMEM;
                        c->n_links++;
                }
                in = reopen(src, O_RDONLY);
                if (in < 0)
                        return in;
                out = openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (out < 0)
                        return -errno;
                r = copy_data(in, out);
                if (r < 0)
                        return r;
                if (fchown(out, uid, gid) < 0 || fchmod(out, mode) < 0 || futimens(out, ts) < 0)
                        return -errno;
                return 0;
        }
        if (S_ISLNK(st->st_mode)) {
                _cleanup_free_ char *target = malloc(PATH_MAX); /* heap: copy_entry recurses */
                ssize_t n;

                if (!target)
                        return -ENOMEM;
                n = readlinkat(src, "", target, PATH_MAX - 1);
                if (n < 0)
                        return -errno;
                target[n] = '\0';
                if (symlinkat(target, dst_dir, name) < 0)
                        return -errno;
                if (fchownat(dst_dir, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
                    utimensat(dst_dir, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
                        return -errno;
                return 0;
        }
        if (S_ISFIFO(st->st_mode) || S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
                if (mknodat(dst_dir, name, st->st_mode & S_IFMT, st->st_rdev) < 0)
                        return -errno;
                if (fchownat(dst_dir, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
                    fchmodat(dst_dir, name, mode, 0) < 0 || utimensat(dst_dir, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
                        return -errno;
                return 0;
        }
        return 0; /* sockets are not copied */
}

/* Is fd (a regular file) a tar archive, possibly compressed? */
static bool is_archive(int fd) {
        _cleanup_close_ int rfd = reopen(fd, O_RDONLY);
        struct archive *a;
        struct archive_entry *e;
        bool yes;

        if (rfd < 0)
                return false;
        a = archive_read_new();
        if (!a)
                return false;
        archive_read_support_filter_all(a);
        archive_read_support_format_tar(a);
        yes = archive_read_open_fd(a, rfd, 65536) == ARCHIVE_OK && archive_read_next_header(a, &e) == ARCHIVE_OK;
        archive_read_free(a);
        return yes;
}

/* Entry names of an archive must stay below the destination: no absolute paths (a leading '/' is
 * dropped, as Docker does), no "..". */
static bool archive_name_ok(const char *name, char **ret_clean) {
        while (*name == '/')
                name++;
        if (isempty(name))
                return false;
        return clean_rel(name, ret_clean) && !streq(*ret_clean, ".");
}

static int extract_archive(CopyRun *c, int src, const char *dest_abs_host) {
        _cleanup_close_ int rfd = reopen(src, O_RDONLY);
        struct archive *a = NULL, *w = NULL;
        struct archive_entry *e;
        int r = 0, ar;

        if (rfd < 0)
                return rfd;
        a = archive_read_new();
        w = archive_write_disk_new();
        if (!a || !w) {
                r = -ENOMEM;
                goto out;
        }
        archive_read_support_filter_all(a);
        archive_read_support_format_tar(a);
        archive_write_disk_set_options(w, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_OWNER |
                                                  ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                                  ARCHIVE_EXTRACT_UNLINK);
        if (archive_read_open_fd(a, rfd, 65536) != ARCHIVE_OK) {
                r = -EBADMSG;
                goto out;
        }
        while ((ar = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
                _cleanup_free_ char *clean = NULL, *full = NULL, *lclean = NULL, *lfull = NULL;
                const char *hl = archive_entry_hardlink(e);

                if (!archive_name_ok(archive_entry_pathname(e), &clean)) {
                        if (isempty(archive_entry_pathname(e)) || streq(archive_entry_pathname(e), "./") ||
                            streq(archive_entry_pathname(e), "/"))
                                continue;
                        r = -EBADMSG;
                        goto out;
                }
                full = path_join(dest_abs_host, clean);
                if (!full) {
                        r = -ENOMEM;
                        goto out;
                }
                archive_entry_set_pathname(e, full);
                if (hl) {
                        if (!archive_name_ok(hl, &lclean)) {
                                r = -EBADMSG;
                                goto out;
                        }
                        lfull = path_join(dest_abs_host, lclean);
                        if (!lfull) {
                                r = -ENOMEM;
                                goto out;
                        }
                        archive_entry_set_hardlink(e, lfull);
                }
                if (c->chown) {
                        archive_entry_set_uid(e, c->uid);
                        archive_entry_set_gid(e, c->gid);
                }
                if (archive_write_header(w, e) != ARCHIVE_OK) {
                        r = -EBADMSG;
                        goto out;
                }
                if (archive_entry_size(e) > 0) {
                        const void *buf;
                        size_t size;
                        la_int64_t off;

                        while ((ar = archive_read_data_block(a, &buf, &size, &off)) == ARCHIVE_OK)
                                if (archive_write_data_block(w, buf, size, off) != ARCHIVE_OK) {
                                        r = -EIO;
                                        goto out;
                                }
                        if (ar != ARCHIVE_EOF) {
                                r = -EBADMSG;
                                goto out;
                        }
                }
                if (archive_write_finish_entry(w) != ARCHIVE_OK) {
                        r = -EIO;
                        goto out;
                }
        }
        if (ar != ARCHIVE_EOF)
                r = -EBADMSG;
out:
        if (w) {
                archive_write_close(w);
                archive_write_free(w);
        }
        if (a)
                archive_read_free(a);
        return r;
}

/* The destination's canonical path in the image: symlinks of the lower layers in its existing parents are
 * followed inside the image root (so "/bin/x" lands in "/usr/bin/x" when /bin → usr/bin). */
static int canonical_dest(const char *lower_root, int lower_fd, const char *abs, char **ret) {
        _cleanup_free_ char *copy = strdup(abs);
        StrBuf out = {};
        char *save = NULL;
        bool missing = false;
        size_t rootlen = lower_root ? strlen(lower_root) : 0;

        if (!copy)
                return -ENOMEM;
        for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                if (!missing && lower_fd >= 0) {
                        _cleanup_free_ char *cand = NULL;
                        char proc[64], real[PATH_MAX];
                        _cleanup_close_ int fd = -EBADF;
                        ssize_t n;

                        if (asprintf(&cand, "%s/%s", out.data ?: "", c) < 0)
                                return -ENOMEM;
                        fd = open_in_root(lower_fd, cand, O_PATH, 0);
                        if (fd >= 0) {
                                snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
                                n = readlink(proc, real, sizeof real - 1);
                                if (n > 0) {
                                        real[n] = '\0';
                                        if (strncmp(real, lower_root, rootlen) == 0 &&
                                            (real[rootlen] == '/' || real[rootlen] == '\0')) {
                                                strbuf_done(&out);
                                                strbuf_append_str(&out, real + rootlen);
                                                continue;
                                        }
                                }
                        }
                        missing = true;
                }
                strbuf_append_char(&out, '/');
                strbuf_append_str(&out, c);
        }
        if (!out.data)
                strbuf_append_str(&out, "/");
        *ret = strbuf_steal(&out);
        return *ret ? 0 : -ENOMEM;
}

static bool dir_in_root(int root_fd, const char *path) {
        _cleanup_close_ int fd = root_fd >= 0 ? open_in_root(root_fd, path, O_PATH | O_DIRECTORY, 0) : -EBADF;
        return fd >= 0;
}

typedef struct ParentDir {
        int fd;
        struct timespec ts[2];
} ParentDir;

/* Creates path's directories in the staging dir: those that exist below with their mode, owner and mtime,
 * missing ones 0755 root. Returns an fd of the last one; parents (to restore mtimes later) in *ret_parents. */
static int make_parents(CopyRun *c, int lower_fd, const char *path, ParentDir **ret_parents, size_t *ret_n) {
        _cleanup_free_ char *copy = strdup(path);
        ParentDir *pd = NULL;
        size_t n = 0;
        int cur, r;
        char *save = NULL;
        StrBuf sofar = {};

        if (!copy)
                return -ENOMEM;
        cur = fcntl(c->staging_fd, F_DUPFD_CLOEXEC, 3);
        if (cur < 0)
                return -errno;
        for (char *comp = strtok_r(copy, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
                struct stat st;
                bool exists = false;
                int nfd;

                strbuf_append_char(&sofar, '/');
                strbuf_append_str(&sofar, comp);
                if (lower_fd >= 0 && fstatat(lower_fd, sofar.data + 1, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                    S_ISDIR(st.st_mode))
                        exists = true;
                if (mkdirat(cur, comp, exists ? (st.st_mode & 07777) : 0755) < 0 && errno != EEXIST) {
                        r = -errno;
                        goto fail;
                }
                nfd = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (nfd < 0) {
                        r = -errno;
                        goto fail;
                }
                ParentDir *np = realloc(pd, (n + 1) * sizeof *np);
                if (!np) {
                        safe_close(nfd);
                        r = -ENOMEM;
                        goto fail;
                }
                pd = np;
                pd[n] = (ParentDir) { .fd = nfd };
                if (exists) {
                        if (fchown(nfd, st.st_uid, st.st_gid) < 0 || fchmod(nfd, st.st_mode & 07777) < 0) {
                                n++;
                                r = -errno;
                                goto fail;
                        }
                        pd[n].ts[0] = pd[n].ts[1] = st.st_mtim;
                } else {
                        /* New directories: 0755, owned by the --chown user if any (buildah and BuildKit). */
                        if (fchown(nfd, c->chown ? c->uid : 0, c->chown ? c->gid : 0) < 0 || fchmod(nfd, 0755) < 0) {
                                n++;
                                r = -errno;
                                goto fail;
                        }
                        pd[n].ts[0].tv_nsec = pd[n].ts[1].tv_nsec = UTIME_OMIT;
                }
                n++;
                safe_close(cur);
                cur = fcntl(nfd, F_DUPFD_CLOEXEC, 3);
                if (cur < 0) {
                        r = -errno;
                        goto fail;
                }
        }
        strbuf_done(&sofar);
        *ret_parents = pd;
        *ret_n = n;
        return cur;
fail:
        strbuf_done(&sofar);
        safe_close(cur);
        for (size_t k = 0; k < n; k++)
                safe_close(pd[k].fd);
        free(pd);
        return r;
}

int build_copy_execute(BuildContext *ctx, json_t *state, CopyPlan *p, const DockerfileInstruction *i,
                       char ret_layer[static DIGEST_STRING_MAX]) {
        json_t *config = json_object_get(state, "config");
        const char *workdir = json_string_value(json_object_get(config, "WorkingDir"));
        const char *dest = i->argv[i->n_argv - 1], *chown_spec = NULL, *chmod_spec = NULL;
        _cleanup_free_ char *dir = NULL, *staging = NULL, *lower = NULL, *abs = NULL, *canon = NULL,
                            *dest_dir = NULL, *staging_real = NULL;
        _cleanup_close_ int lower_fd = -EBADF, dest_fd = -EBADF;
        CopyRun c = { .ctx = ctx, .i = i, .staging_fd = -EBADF, .keep_owners = p->keep_owners };
        ParentDir *parents = NULL;
        size_t n_parents = 0;
        bool mounted = false, dest_is_dir, ends_slash;
        const char *file_name = NULL;
        int r;

        r = build_tmp_dir(ctx, "copy", &dir);
        if (r < 0)
                return r;
        staging = path_join(dir, "stage");
        lower = path_join(dir, "lower");
        if (!staging || !lower) {
                r = -ENOMEM;
                goto out;
        }
        if (mkdir(staging, 0755) < 0) {
                r = -errno;
                goto out;
        }
        c.staging_fd = open(staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (c.staging_fd < 0) {
                r = -errno;
                goto out;
        }
        if (json_array_size(json_object_get(state, "layers")) > 0) {
                r = build_state_mount(ctx, state, NULL, NULL, lower);
                if (r < 0) {
                        r = build_error(ctx, r, i, NULL, "Cannot mount the stage's layers: %s.", strerror(-r));
                        goto out;
                }
                mounted = true;
                lower_fd = open(lower, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (lower_fd < 0) {
                        r = -errno;
                        goto out;
                }
        }

        if (dockerfile_instruction_get_flag(i, "chown", &chown_spec) >= 0 && !isempty(chown_spec)) {
                const char *missing = NULL;

                r = user_db_resolve(lower_fd, chown_spec, &c.uid, &c.gid, &missing);
                if (r == -ENOENT) {
                        r = build_error(ctx, -EINVAL, i, "Create it in an earlier step or use numeric ids.",
                                        "The %s in --chown=%s does not exist in the image's /etc/%s.", missing,
                                        chown_spec, streq(missing, "user") ? "passwd" : "group");
                        goto out;
                }
                if (r < 0)
                        goto out;
                c.chown = true;
        }
        if (dockerfile_instruction_get_flag(i, "chmod", &chmod_spec) >= 0 && !isempty(chmod_spec)) {
                c.mode = (mode_t) strtoul(chmod_spec, NULL, 8) & 07777;
                c.chmod = true;
        }

        ends_slash = endswith(dest, "/") || streq(dest, ".") || endswith(dest, "/.");
        if (asprintf(&abs, "%s/%s", dest[0] == '/' ? "" : (workdir ?: ""), dest) < 0) {
                r = -ENOMEM;
                goto out;
        }
        {
                _cleanup_free_ char *lower_real = mounted ? realpath(lower, NULL) : NULL;
                r = canonical_dest(lower_real ?: lower, lower_fd, abs, &canon);
        }
        if (r < 0)
                goto out;
        if (p->n_sources > 1 && !ends_slash && !dir_in_root(lower_fd, canon)) {
                r = build_error(ctx, -EINVAL, i, "End the destination with a '/'.",
                                "With more than one source the destination of %s must be a directory.",
                                kind_name(i));
                goto out;
        }
        dest_is_dir = ends_slash || p->n_sources > 1;
        if (!dest_is_dir) {
                _cleanup_close_ int sfd = open_in_root(p->root_fd, p->sources[0].rel, O_PATH, 0);
                struct stat st;

                if (sfd < 0 || fstat(sfd, &st) < 0) {
                        r = -ENOENT;
                        goto out;
                }
                if (S_ISDIR(st.st_mode) || dir_in_root(lower_fd, canon) ||
                    (i->kind == DOCKERFILE_ADD && S_ISREG(st.st_mode) && is_archive(sfd)))
                        dest_is_dir = true;
        }
        if (dest_is_dir)
                dest_dir = strdup(canon);
        else {
                char *slash = strrchr(canon, '/');
                file_name = slash + 1;
                dest_dir = slash == canon ? strdup("/") : strndup(canon, (size_t) (slash - canon));
        }
        if (!dest_dir) {
                r = -ENOMEM;
                goto out;
        }
        dest_fd = make_parents(&c, lower_fd, dest_dir, &parents, &n_parents);
        if (dest_fd < 0) {
                r = build_error(ctx, dest_fd, i, NULL, "Cannot prepare the destination %s: %s.", dest, strerror(-dest_fd));
                goto out;
        }
        staging_real = realpath(staging, NULL);
        if (!staging_real) {
                r = -errno;
                goto out;
        }

        for (size_t k = 0; k < p->n_sources; k++) {
                _cleanup_close_ int sfd = open_in_root(p->root_fd, p->sources[k].rel, O_PATH, 0);
                _cleanup_free_ char *rel = NULL;
                const char *base;
                struct stat st;

                r = build_check_stop(ctx, i);
                if (r < 0)
                        goto out;
                if (sfd < 0 || fstat(sfd, &st) < 0) {
                        r = build_error(ctx, -ENOENT, i, NULL, "%s source %s disappeared.", kind_name(i),
                                        p->sources[k].shown);
                        goto out;
                }
                base = strrchr(p->sources[k].rel, '/');
                base = base ? base + 1 : p->sources[k].rel;
                if (i->kind == DOCKERFILE_ADD && S_ISREG(st.st_mode) && is_archive(sfd)) {
                        _cleanup_free_ char *host = NULL;

                        if (asprintf(&host, "%s%s", staging_real, dest_dir) < 0) {
                                r = -ENOMEM;
                                goto out;
                        }
                        r = extract_archive(&c, sfd, host);
                        if (r < 0) {
                                r = build_error(ctx, r, i, "Check the archive.", "ADD cannot extract %s: %s.",
                                                p->sources[k].shown,
                                                r == -EBADMSG ? "it is damaged or has entries leaving its destination"
                                                              : strerror(-r));
                                goto out;
                        }
                        continue;
                }
                if (S_ISDIR(st.st_mode) && dest_is_dir) {
                        /* Docker: a directory's contents are copied, not the directory itself; a new dest dir
                         * is made like any missing parent (0755). */
                        _cleanup_close_ int sdir = reopen(sfd, O_RDONLY | O_DIRECTORY);
                        struct dirent **names = NULL;
                        int n;

                        if (sdir < 0) {
                                r = sdir;
                                goto out;
                        }
                        n = scandirat(sdir, ".", &names, NULL, alphasort);
                        if (n < 0) {
                                r = -errno;
                                goto out;
                        }
                        r = 0;
                        for (int m = 0; m < n; m++) {
                                const char *nm = names[m]->d_name;
                                _cleanup_close_ int cfd = -EBADF;
                                _cleanup_free_ char *cpath = NULL;
                                struct stat cst;

                                if (r < 0 || streq(nm, ".") || streq(nm, ".."))
                                        continue;
                                cfd = openat(sdir, nm, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                                if (cfd < 0 || fstat(cfd, &cst) < 0) {
                                        r = -errno;
                                        continue;
                                }
                                if (asprintf(&cpath, "%s%s%s", dest_dir + 1, dest_dir[1] ? "/" : "", nm) < 0) {
                                        r = -ENOMEM;
                                        continue;
                                }
                                r = copy_entry(&c, cfd, &cst, dest_fd, nm, cpath, 1);
                        }
                        for (int m = 0; m < n; m++)
                                free(names[m]);
                        free(names);
                        if (r < 0)
                                goto copy_failed;
                        continue;
                }
                if (asprintf(&rel, "%s%s%s", dest_dir + 1, dest_dir[1] ? "/" : "", dest_is_dir ? base : file_name) < 0) {
                        r = -ENOMEM;
                        goto out;
                }
                r = copy_entry(&c, sfd, &st, dest_fd, dest_is_dir ? base : file_name, rel, 1);
                if (r < 0)
                        goto copy_failed;
        }
        /* Parents keep the mtimes they have below (new ones get the clamp or the copy time). */
        for (size_t k = n_parents; k > 0; k--)
                if (futimens(parents[k - 1].fd, parents[k - 1].ts) < 0) {
                        r = -errno;
                        goto out;
                }
        if (mounted) {
                (void) overlay_umount(lower);
                mounted = false;
        }
        r = build_state_commit_layer(ctx, state, staging, false, ret_layer);
        if (r < 0)
                r = build_error(ctx, r, i, NULL, "Cannot store the %s layer: %s.", kind_name(i), strerror(-r));
        goto out;

copy_failed:
        r = build_error(ctx, r, i, NULL, "%s failed: %s.", kind_name(i), strerror(-r));
out:
        for (size_t k = 0; k < n_parents; k++)
                safe_close(parents[k].fd);
        free(parents);
        for (size_t k = 0; k < c.n_links; k++)
                free(c.links[k].path);
        free(c.links);
        safe_close(c.staging_fd);
        if (mounted)
                (void) overlay_umount(lower);
        (void) rm_rf(dir);
        return r;
}
