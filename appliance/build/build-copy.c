/* COPY/ADD execution (and WORKDIR's directory): planned sources (build-copy-plan.c) are copied into a staging
 * dir together with the destination's parents as the lower layers have them, and the staging dir becomes the
 * layer; ADD's archives are extracted by the sandboxed layer unpacker.
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
#include "copy-chmod.h"
#include "fs-util.h"
#include "json-util.h"
#include "layer-unpack.h"
#include "overlay.h"
#include "strbuf.h"
#include "string-util.h"
#include "user-db.h"

typedef struct HardLink {
        dev_t dev;
        ino_t ino;
        int dir_fd; /* borrowed: only valid while copying (we keep it open below) */
        char *path; /* staging-relative path of the first copy */
} HardLink;

typedef struct CopyRun {
        BuildContext *ctx;
        const DockerfileInstruction *i;
        int staging_fd; /* the step's Staging fd, borrowed (hard links are made relative to it) */
        bool keep_owners;
        bool chown;
        uid_t uid;
        gid_t gid;
        bool chmod;
        CopyChmod mode;
        const CopyPlan *plan; /* --exclude */
        size_t skip;          /* copy_prefix_skip() of the current source's staging path */
        HardLink *links;
        size_t n_links;
} CopyRun;

static void owner_mode(CopyRun *c, const struct stat *st, uid_t *uid, gid_t *gid, mode_t *mode) {
        *uid = c->chown ? c->uid : c->keep_owners ? st->st_uid : 0;
        *gid = c->chown ? c->gid : c->keep_owners ? st->st_gid : 0;
        *mode = c->chmod ? copy_chmod_apply(&c->mode, st->st_mode, S_ISDIR(st->st_mode))
                         : (st->st_mode & 07777);
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

typedef struct CopyWalk {
        CopyRun *c;
        int dst_dir;
        unsigned depth;
} CopyWalk;

static int copy_child(int fd, const struct stat *st, const char *name, const char *rel, void *userdata);

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
                _cleanup_close_ int sdir = copy_reopen(src, O_RDONLY | O_DIRECTORY), ddir = -EBADF;

                if (sdir < 0)
                        return sdir;
                if (mkdirat(dst_dir, name, 0700) < 0 && errno != EEXIST)
                        return -errno;
                ddir = openat(dst_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (ddir < 0)
                        return -errno;
                r = copy_for_each_child(sdir, rel_path, copy_child,
                                        &(CopyWalk) { .c = c, .dst_dir = ddir, .depth = depth + 1 });
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
                        nl[c->n_links] = (HardLink) { .dev = st->st_dev,
                                                      .ino = st->st_ino,
                                                      .path = strdup(rel_path) };
                        if (!nl[c->n_links].path)
                                return -ENOMEM;
                        c->n_links++;
                }
                in = copy_reopen(src, O_RDONLY);
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
                _cleanup_free_ char *target = NULL;

                r = copy_read_link(src, &target);
                if (r < 0)
                        return r;
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
                    fchmodat(dst_dir, name, mode, 0) < 0 ||
                    utimensat(dst_dir, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
                        return -errno;
                return 0;
        }
        return 0; /* sockets are not copied */
}

static int copy_child(int fd, const struct stat *st, const char *name, const char *rel, void *userdata) {
        CopyWalk *w = userdata;

        if (copy_plan_excluded(w->c->plan, rel + w->c->skip, S_ISDIR(st->st_mode)))
                return 0;
        return copy_entry(w->c, fd, st, w->dst_dir, name, rel, w->depth);
}

/* Is fd (a regular file) a tar archive, possibly compressed? */
static bool is_archive(int fd) {
        _cleanup_close_ int rfd = copy_reopen(fd, O_RDONLY);
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
        yes = archive_read_open_fd(a, rfd, 65536) == ARCHIVE_OK &&
              archive_read_next_header(a, &e) == ARCHIVE_OK;
        archive_read_free(a);
        return yes;
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
                        fd = copy_open_in_root(lower_fd, cand, O_PATH, 0);
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
        _cleanup_close_ int fd =
                root_fd >= 0 ? copy_open_in_root(root_fd, path, O_PATH | O_DIRECTORY, 0) : -EBADF;
        return fd >= 0;
}

typedef struct ParentDir {
        int fd;
        struct timespec ts[2];
} ParentDir;

/* A COPY/ADD/WORKDIR step's scratch space, all below its temp dir: stage/ becomes the layer; lower/ is where
 * the stage's layers are mounted read-only (when it has any) to read the destination's parents from. */
typedef struct Staging {
        char *dir;
        char *path; /* stage/ */
        int fd;     /* of stage/ */
        char *lower;
        bool mounted;
        int lower_fd;       /* O_PATH of lower/, -EBADF when the stage has no layers */
        ParentDir *parents; /* the destination's directories in stage/, outermost first */
        size_t n_parents;
} Staging;

#define STAGING_INIT \
        { .fd = -EBADF, .lower_fd = -EBADF }

static void staging_done(Staging *s) {
        for (size_t k = 0; k < s->n_parents; k++)
                safe_close(s->parents[k].fd);
        free(s->parents);
        safe_close(s->fd);
        safe_close(s->lower_fd);
        if (s->mounted)
                (void) overlay_umount(s->lower);
        if (s->dir)
                (void) rm_rf(s->dir);
        free(s->lower);
        free(s->path);
        free(s->dir);
}

/* Creates path's directories in the staging dir: those that exist below with their mode, owner and mtime,
 * missing ones 0755 root (or the --chown user). Returns an fd of the last one; the parents (to restore
 * mtimes later) go to s->parents. */
static int make_parents(const CopyRun *c, Staging *s, const char *path) {
        _cleanup_free_ char *copy = strdup(path);
        ParentDir *pd = NULL;
        size_t n = 0;
        int cur, r;
        char *save = NULL;
        StrBuf sofar = {};

        if (!copy)
                return -ENOMEM;
        cur = fcntl(s->fd, F_DUPFD_CLOEXEC, 3);
        if (cur < 0)
                return -errno;
        for (char *comp = strtok_r(copy, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
                struct stat st;
                bool exists = false;
                int nfd;

                strbuf_append_char(&sofar, '/');
                strbuf_append_str(&sofar, comp);
                if (s->lower_fd >= 0 &&
                    fstatat(s->lower_fd, sofar.data + 1, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
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
                        if (fchown(nfd, c->chown ? c->uid : 0, c->chown ? c->gid : 0) < 0 ||
                            fchmod(nfd, 0755) < 0) {
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
        s->parents = pd;
        s->n_parents = n;
        return cur;
fail:
        strbuf_done(&sofar);
        safe_close(cur);
        for (size_t k = 0; k < n; k++)
                safe_close(pd[k].fd);
        free(pd);
        return r;
}

/* Mounts the stage's layers read-only at lower (when it has any) for the destination's parents and owners;
 * *mounted and *ret_fd (O_PATH) are set only when it did. */
static int mount_lower(BuildContext *ctx, json_t *state, const DockerfileInstruction *i, const char *lower,
                       bool *mounted, int *ret_fd) {
        int r, fd;

        if (json_array_size(json_object_get(state, "layers")) == 0)
                return 0;
        r = build_state_mount(ctx, state, NULL, NULL, lower);
        if (r < 0)
                return build_error(ctx, r, i, NULL, "Cannot mount the stage's layers: %s.", strerror(-r));
        *mounted = true;
        fd = open(lower, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        *ret_fd = fd;
        return 0;
}

/* Makes the step's temp dir (named for what) with an empty stage/ and mounts the stage's layers at lower/.
 * s is the caller's (STAGING_INIT) and goes to staging_done() whatever this returns. */
static int staging_open(BuildContext *ctx, json_t *state, const DockerfileInstruction *i, const char *what,
                        Staging *s) {
        int r;

        r = build_tmp_dir(ctx, what, &s->dir);
        if (r < 0)
                return r;
        s->path = path_join(s->dir, "stage");
        s->lower = path_join(s->dir, "lower");
        if (!s->path || !s->lower)
                return -ENOMEM;
        if (mkdir(s->path, 0755) < 0)
                return -errno;
        s->fd = open(s->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s->fd < 0)
                return -errno;
        return mount_lower(ctx, state, i, s->lower, &s->mounted, &s->lower_fd);
}

/* path (absolute in the image) with the symlinks of the lower layers resolved (see canonical_dest()). */
static int staging_canonical(const Staging *s, const char *path, char **ret) {
        _cleanup_free_ char *lower_real = s->mounted ? realpath(s->lower, NULL) : NULL;

        return canonical_dest(lower_real ?: s->lower, s->lower_fd, path, ret);
}

/* Gives the parents back the mtimes they have below (new ones keep the clamp or the copy time), unmounts the
 * lower layers and commits stage/ as the step's layer. */
static int staging_commit(BuildContext *ctx, json_t *state, Staging *s, const DockerfileInstruction *i,
                          char ret_layer[static DIGEST_STRING_MAX]) {
        int r;

        for (size_t k = s->n_parents; k > 0; k--)
                if (futimens(s->parents[k - 1].fd, s->parents[k - 1].ts) < 0)
                        return -errno;
        if (s->mounted) {
                (void) overlay_umount(s->lower);
                s->mounted = false;
        }
        r = build_state_commit_layer(ctx, state, s->path, false, ret_layer);
        if (r < 0)
                return build_error(ctx, r, i, NULL, "Cannot store the %s layer: %s.",
                                   dockerfile_instruction_to_string(i->kind), strerror(-r));
        return 0;
}

/* --link: the layer is made as on an empty stage (BuildKit: "not allowed to read any files from the previous
 * state"): the destination's parents are new 0755 directories and no symlink below is followed. The lower
 * layers stay mounted only until --chown's names are resolved. */
static void staging_forget_lower(Staging *s) {
        s->lower_fd = safe_close(s->lower_fd);
        if (s->mounted) {
                (void) overlay_umount(s->lower);
                s->mounted = false;
        }
}

/* --parents: makes the directories of src->keep's dirname below dest_fd (dest_rel: its staging path), each
 * with the mode, owner and mtime of the source directory it stands for (through --chown and --chmod like any
 * copied directory; mtimes restored at commit); one an earlier source made is kept as it is. Returns an fd of
 * the last one, its staging path in *ret_rel and the entry's name (the last component of keep). */
static int make_kept_parents(CopyRun *c, Staging *s, const CopyPlan *p, const CopySource *src, int dest_fd,
                             const char *dest_rel, char **ret_rel, const char **ret_name) {
        size_t base = strlen(src->rel) - strlen(src->keep);
        const char *keep = src->keep, *slash = strrchr(keep, '/');
        _cleanup_(strbuf_done) StrBuf rel = {};
        int cur, r;

        cur = fcntl(dest_fd, F_DUPFD_CLOEXEC, 3);
        if (cur < 0)
                return -errno;
        r = strbuf_append_str(&rel, dest_rel);
        for (size_t start = 0; r >= 0 && slash && start < (size_t) (slash - keep);) {
                size_t end = start + strcspn(keep + start, "/");
                _cleanup_free_ char *comp = strndup(keep + start, end - start),
                                    *root_rel = strndup(src->rel, base + end);
                _cleanup_close_ int sfd = -EBADF;
                struct stat st;
                bool made;
                int nfd;

                if (!comp || !root_rel) {
                        r = -ENOMEM;
                        break;
                }
                sfd = copy_open_in_root(p->root_fd, root_rel, O_PATH, 0);
                if (sfd < 0 || fstat(sfd, &st) < 0) {
                        r = sfd < 0 ? sfd : -errno;
                        break;
                }
                made = mkdirat(cur, comp, 0700) >= 0;
                if (!made && errno != EEXIST) {
                        r = -errno;
                        break;
                }
                nfd = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (nfd < 0) {
                        r = -errno;
                        break;
                }
                safe_close(cur);
                cur = nfd;
                if (made) {
                        ParentDir *np = realloc(s->parents, (s->n_parents + 1) * sizeof *np);
                        uid_t uid;
                        gid_t gid;
                        mode_t mode;

                        if (!np) {
                                r = -ENOMEM;
                                break;
                        }
                        s->parents = np;
                        owner_mode(c, &st, &uid, &gid, &mode);
                        if (fchown(cur, uid, gid) < 0 || fchmod(cur, mode) < 0) {
                                r = -errno;
                                break;
                        }
                        np[s->n_parents] = (ParentDir) { .fd = fcntl(cur, F_DUPFD_CLOEXEC, 3),
                                                         .ts = { st.st_mtim, st.st_mtim } };
                        if (np[s->n_parents].fd < 0) {
                                r = -errno;
                                break;
                        }
                        s->n_parents++;
                }
                if (rel.len > 0)
                        r = strbuf_append_char(&rel, '/');
                if (r >= 0)
                        r = strbuf_append_str(&rel, comp);
                start = end + 1;
        }
        if (r >= 0 && !rel.data)
                r = strbuf_append_str(&rel, "");
        if (r < 0) {
                safe_close(cur);
                return r;
        }
        *ret_rel = strbuf_steal(&rel);
        *ret_name = slash ? slash + 1 : keep;
        return cur;
}

static void copy_run_done(CopyRun *c) {
        for (size_t k = 0; k < c->n_links; k++)
                free(c->links[k].path);
        free(c->links);
}

int build_copy_execute(BuildContext *ctx, json_t *state, CopyPlan *p, const DockerfileInstruction *i,
                       char ret_layer[static DIGEST_STRING_MAX]) {
        json_t *config = json_object_get(state, "config");
        const char *workdir = json_string_value(json_object_get(config, "WorkingDir"));
        const char *dest = i->argv[i->n_argv - 1], *chown_spec = NULL, *chmod_spec = NULL;
        _cleanup_free_ char *abs = NULL, *canon = NULL, *dest_dir = NULL;
        _cleanup_(staging_done) Staging s = STAGING_INIT;
        _cleanup_(copy_run_done) CopyRun c = {
                .ctx = ctx, .i = i, .staging_fd = -EBADF, .keep_owners = p->keep_owners, .plan = p
        };
        _cleanup_close_ int dest_fd = -EBADF;
        bool dest_is_dir, ends_slash;
        const char *file_name = NULL;
        int r;

        r = staging_open(ctx, state, i, "copy", &s);
        if (r < 0)
                return r;
        c.staging_fd = s.fd;

        if (dockerfile_instruction_get_flag(i, "chown", &chown_spec) >= 0 && !isempty(chown_spec)) {
                const char *missing = NULL;

                r = user_db_resolve(s.lower_fd, chown_spec, &c.uid, &c.gid, &missing);
                if (r == -ENOENT)
                        return build_error(ctx, -EINVAL, i,
                                           "Create it in an earlier step or use numeric ids.",
                                           "The %s in --chown=%s does not exist in the image's /etc/%s.",
                                           missing, chown_spec, streq(missing, "user") ? "passwd" : "group");
                if (r < 0)
                        return r;
                c.chown = true;
        }
        if (dockerfile_instruction_get_flag(i, "chmod", &chmod_spec) >= 0 && !isempty(chmod_spec)) {
                const char *why = NULL;

                r = copy_chmod_parse(chmod_spec, &c.mode, &why);
                if (r < 0)
                        return build_error(ctx, r, i, NULL, "%s: invalid --chmod=%s (%s); %s.",
                                           copy_kind_name(i), chmod_spec, why, COPY_CHMOD_EXPECTED);
                c.chmod = true;
        }
        if (p->link)
                staging_forget_lower(&s);

        ends_slash = endswith(dest, "/") || streq(dest, ".") || endswith(dest, "/.");
        if (asprintf(&abs, "%s/%s", dest[0] == '/' ? "" : (workdir ?: ""), dest) < 0)
                return -ENOMEM;
        r = staging_canonical(&s, abs, &canon);
        if (r < 0)
                return r;
        if (p->n_sources > 1 && !ends_slash && !p->parents && !dir_in_root(s.lower_fd, canon))
                return build_error(ctx, -EINVAL, i, "End the destination with a '/'.",
                                   "With more than one source the destination of %s must be a directory.",
                                   copy_kind_name(i));
        /* --parents always copies into the destination directory, below the kept parents. */
        dest_is_dir = ends_slash || p->n_sources > 1 || p->parents;
        if (!dest_is_dir) {
                _cleanup_close_ int sfd =
                        copy_open_in_root(copy_source_root(p, 0), p->sources[0].rel, O_PATH, 0);
                struct stat st;

                if (sfd < 0 || fstat(sfd, &st) < 0)
                        return -ENOENT;
                if (S_ISDIR(st.st_mode) || dir_in_root(s.lower_fd, canon) ||
                    (i->kind == DOCKERFILE_ADD && !p->sources[0].doc && S_ISREG(st.st_mode) &&
                     is_archive(sfd)))
                        dest_is_dir = true;
        }
        if (dest_is_dir)
                dest_dir = strdup(canon);
        else {
                char *slash = strrchr(canon, '/');
                file_name = slash + 1;
                dest_dir = slash == canon ? strdup("/") : strndup(canon, (size_t) (slash - canon));
        }
        if (!dest_dir)
                return -ENOMEM;
        dest_fd = make_parents(&c, &s, dest_dir);
        if (dest_fd < 0)
                return build_error(ctx, dest_fd, i, NULL, "Cannot prepare the destination %s: %s.", dest,
                                   strerror(-dest_fd));

        for (size_t k = 0; k < p->n_sources; k++) {
                _cleanup_close_ int sfd =
                        copy_open_in_root(copy_source_root(p, k), p->sources[k].rel, O_PATH, 0);
                _cleanup_free_ char *rel = NULL;
                const char *base;
                struct stat st;

                r = build_check_stop(ctx, i);
                if (r < 0)
                        return r;
                if (sfd < 0 || fstat(sfd, &st) < 0)
                        return build_error(ctx, -ENOENT, i, NULL, "%s source %s disappeared.",
                                           copy_kind_name(i), p->sources[k].shown);
                base = strrchr(p->sources[k].rel, '/');
                base = base ? base + 1 : p->sources[k].rel;
                if (i->kind == DOCKERFILE_ADD && !p->sources[k].doc && S_ISREG(st.st_mode) &&
                    is_archive(sfd)) {
                        /* Extracted by the layer unpacker in its sandbox: entries cannot leave dest_fd. */
                        _cleanup_close_ int afd = copy_reopen(sfd, O_RDONLY);
                        LayerOwner owner = { .uid = c.uid, .gid = c.gid };
                        OciError oerr = {};

                        r = afd < 0 ? afd
                                    : layer_unpack_archive(afd, dest_fd, c.chown ? &owner : NULL, &oerr);
                        if (r < 0)
                                return build_error(ctx, r, i, "Check the archive.",
                                                   "ADD cannot extract %s: %s", p->sources[k].shown,
                                                   oerr.message[0] ? oerr.message : strerror(-r));
                        continue;
                }
                if (!isempty(p->sources[k].keep)) {
                        _cleanup_close_ int pfd = -EBADF;
                        _cleanup_free_ char *prel = NULL;
                        const char *name = NULL;

                        pfd = make_kept_parents(&c, &s, p, &p->sources[k], dest_fd, dest_dir + 1, &prel,
                                                &name);
                        if (pfd < 0)
                                return build_error(ctx, pfd, i, NULL, "Cannot create the parents of %s: %s.",
                                                   p->sources[k].shown, strerror(-pfd));
                        if (asprintf(&rel, "%s%s%s", prel, prel[0] ? "/" : "", name) < 0)
                                return -ENOMEM;
                        c.skip = copy_prefix_skip(rel);
                        r = copy_entry(&c, sfd, &st, pfd, name, rel, 1);
                } else if (S_ISDIR(st.st_mode) && dest_is_dir) {
                        /* Docker: a directory's contents are copied, not the directory itself; a new dest dir
                         * is made like any missing parent (0755). */
                        _cleanup_close_ int sdir = copy_reopen(sfd, O_RDONLY | O_DIRECTORY);

                        if (sdir < 0)
                                return sdir;
                        c.skip = copy_prefix_skip(dest_dir + 1);
                        r = copy_for_each_child(sdir, dest_dir + 1, copy_child,
                                                &(CopyWalk) { .c = &c, .dst_dir = dest_fd, .depth = 1 });
                } else {
                        if (asprintf(&rel, "%s%s%s", dest_dir + 1, dest_dir[1] ? "/" : "",
                                     dest_is_dir ? base : file_name) < 0)
                                return -ENOMEM;
                        c.skip = copy_prefix_skip(rel);
                        r = copy_entry(&c, sfd, &st, dest_fd, dest_is_dir ? base : file_name, rel, 1);
                }
                if (r < 0)
                        return build_error(ctx, r, i, NULL, "%s failed: %s.", copy_kind_name(i),
                                           strerror(-r));
        }
        return staging_commit(ctx, state, &s, i, ret_layer);
}

int build_workdir_ensure(BuildContext *ctx, json_t *state, const DockerfileInstruction *i,
                         char ret_layer[static DIGEST_STRING_MAX]) {
        json_t *config = json_object_get(state, "config");
        const char *workdir = json_string_value(json_object_get(config, "WorkingDir")),
                   *user = json_string_value(json_object_get(config, "User"));
        _cleanup_free_ char *canon = NULL;
        _cleanup_(staging_done) Staging s = STAGING_INIT;
        _cleanup_close_ int dest_fd = -EBADF;
        CopyRun c = { .ctx = ctx, .i = i, .staging_fd = -EBADF };
        int r;

        if (isempty(workdir) || streq(workdir, "/"))
                return 0;
        r = staging_open(ctx, state, i, "workdir", &s);
        if (r < 0)
                return r;
        c.staging_fd = s.fd;
        r = staging_canonical(&s, workdir, &canon);
        if (r < 0)
                return r;
        if (dir_in_root(s.lower_fd, canon))
                return 0;
        /* New directories belong to the USER (buildah and BuildKit); one that does not resolve yet
         * (created by a later step, or a bare uid) leaves them to root. */
        if (!isempty(user) && user_db_resolve(s.lower_fd, user, &c.uid, &c.gid, NULL) >= 0)
                c.chown = true;
        dest_fd = make_parents(&c, &s, canon);
        if (dest_fd < 0)
                return build_error(ctx, dest_fd, i, NULL, "Cannot create the working directory %s: %s.",
                                   workdir, strerror(-dest_fd));
        r = staging_commit(ctx, state, &s, i, ret_layer);
        return r < 0 ? r : 1;
}
