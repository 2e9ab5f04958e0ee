/* The layer applier: tar entries (files, dirs, symlinks, hardlinks, nodes, whiteouts) onto a directory
 * fd, in the calling process. Invariant: names reach the file system only through path-confine
 * (openat2 RESOLVE_IN_ROOT plus single-component *at() calls, never following the last component). */
#include "layer-apply.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs-util.h"
#include "layer-reader.h"
#include "macro.h"
#include "path-confine.h"
#include "path-util.h"
#include "string-util.h"
#include "whiteout.h"

#define LAYER_HINT_MALFORMED \
        "The layer is malformed or malicious; rebuild it or import the image from a trusted source."

typedef struct DirTime {
        char *path;
        struct timespec ts[2];
} DirTime;

typedef struct Unpacker {
        int root_fd;
        LayerUnpackMode mode;
        const LayerOwner *owner; /* forced on every entry, or NULL */
        bool drop_special;
        struct archive *tar;
        LayerPaths created; /* flat mode: what this layer made, spared by its own whiteouts */
        DirTime *dir_times; /* directory times, applied after the last entry */
        size_t n_dir_times, n_dir_times_alloc;
        uint64_t n_entries;
        int error; /* first error of a callback (on_created) */
        OciError *err;
} Unpacker;

static void unpacker_done(Unpacker *u) {
        layer_paths_clear(&u->created);
        for (size_t i = 0; i < u->n_dir_times; i++)
                free(u->dir_times[i].path);
        free(u->dir_times);
        u->dir_times = NULL;
        u->n_dir_times = u->n_dir_times_alloc = 0;
}

static void unpacker_on_created(const char *prefix, void *userdata) {
        Unpacker *u = userdata;

        if (u->mode != LAYER_UNPACK_FLAT)
                return;
        int r = layer_paths_add(&u->created, prefix);
        if (r < 0 && u->error >= 0)
                u->error = r;
}

static int entry_fail(Unpacker *u, int r, const char *path, const char *what) {
        return oci_error_set(u->err, r, NULL, "Failed to %s '%.200s' from the layer: %s.", what, path,
                             strerror(ERRNO_VALUE(r)));
}

static int entry_times(struct archive_entry *e, struct timespec ts[2]) {
        if (!archive_entry_mtime_is_set(e))
                return 0;
        ts[1] = (struct timespec) { archive_entry_mtime(e), archive_entry_mtime_nsec(e) };
        if (archive_entry_atime_is_set(e))
                ts[0] = (struct timespec) { archive_entry_atime(e), archive_entry_atime_nsec(e) };
        else
                ts[0] = ts[1];
        if (ts[0].tv_nsec < 0 || ts[0].tv_nsec >= 1000000000L || ts[1].tv_nsec < 0 ||
            ts[1].tv_nsec >= 1000000000L)
                return 0;
        return 1;
}

static int entry_owner(Unpacker *u, struct archive_entry *e, const char *path, uid_t *ret_uid,
                       gid_t *ret_gid) {
        la_int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);

        if (u->owner) {
                *ret_uid = u->owner->uid;
                *ret_gid = u->owner->gid;
                return 0;
        }
        /* (uid_t) -1 means "unchanged" to chown(): not a valid owner. */
        if (uid < 0 || uid >= UINT32_MAX || gid < 0 || gid >= UINT32_MAX)
                return oci_error_set(u->err, -EBADMSG, LAYER_HINT_MALFORMED,
                                     "Layer entry '%.200s' has an invalid owner %lld:%lld.", path,
                                     (long long) uid, (long long) gid);
        *ret_uid = (uid_t) uid;
        *ret_gid = (gid_t) gid;
        return 0;
}

/* Sets the entry's xattrs, on fd when >= 0, else on parent_fd/name without following it. */
static int entry_xattrs(Unpacker *u, struct archive_entry *e, int fd, int parent_fd, const char *name,
                        const char *path) {
        char proc[64 + LAYER_PATH_MAX];
        const char *key;
        const void *value;
        size_t size;
        unsigned n = 0;

        if (archive_entry_xattr_reset(e) == 0)
                return 0;
        if (fd < 0)
                snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", parent_fd, name);
        while (archive_entry_xattr_next(e, &key, &value, &size) == ARCHIVE_OK) {
                int r;

                if (isempty(key))
                        continue;
                if (++n > LAYER_XATTRS_MAX)
                        return oci_error_set(u->err, -E2BIG, LAYER_HINT_MALFORMED,
                                             "Layer entry '%.200s' has more than %u extended attributes.",
                                             path, LAYER_XATTRS_MAX);
                /* overlayfs metadata is ours to write (whiteouts); a layer must not forge it. */
                if (startswith(key, "trusted.overlay.") || startswith(key, "user.overlay."))
                        continue;
                r = fd >= 0 ? fsetxattr(fd, key, value, size, 0) : lsetxattr(proc, key, value, size, 0);
                if (r < 0) {
                        /* Not every file system (or file type) takes every namespace; that is not the
                         * layer's fault and the rest of the entry is still right. */
                        if (errno == EOPNOTSUPP || (fd < 0 && errno == EPERM))
                                continue;
                        return oci_error_set(u->err, -errno, NULL,
                                             "Failed to set extended attribute '%.100s' on '%.200s': %m.",
                                             key, path);
                }
        }
        return 0;
}

/* The entry's permission bits, on fd when >= 0, else on parent_fd/name. */
static int entry_mode(Unpacker *u, struct archive_entry *e, int fd, int parent_fd, const char *name,
                      const char *path) {
        mode_t mode = archive_entry_mode(e) & 07777;
        _cleanup_close_ int path_fd = -EBADF;
        char proc[64];

        if (u->drop_special)
                mode &= ~(mode_t) (S_ISUID | S_ISGID);

        if (fd >= 0)
                return fchmod(fd, mode) < 0 ? entry_fail(u, -errno, path, "set the mode of") : 0;
        /* A node we just made with mknodat(): chmod through an O_PATH fd of it, so a name swapped in
         * meanwhile could never redirect the call. */
        path_fd = openat(parent_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (path_fd < 0)
                return entry_fail(u, -errno, path, "open");
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", path_fd);
        if (fchmodat(AT_FDCWD, proc, mode, 0) < 0)
                return entry_fail(u, -errno, path, "set the mode of");
        return 0;
}

typedef enum EntryMeta {
        ENTRY_META_MODE = 1 << 0, /* not for symlinks: their mode means nothing */
        ENTRY_META_TIMES =
                1 << 1, /* not for directories: defer_dir_times() sets theirs after the last entry */
} EntryMeta;

/* Owner, xattrs and (as what says) mode and times of an entry: on fd when >= 0, else on parent_fd/name
 * without following it. */
static int entry_meta(Unpacker *u, struct archive_entry *e, int fd, int parent_fd, const char *name,
                      const char *path, EntryMeta what) {
        struct timespec ts[2];
        uid_t uid = (uid_t) -1; /* "unchanged" to chown(), never used: entry_owner() fails or sets it */
        gid_t gid = (gid_t) -1;
        int r;

        r = entry_owner(u, e, path, &uid, &gid);
        if (r < 0)
                return r;
        /* chown first: it clears setuid/setgid bits and file capabilities. */
        r = fd >= 0 ? fchown(fd, uid, gid) : fchownat(parent_fd, name, uid, gid, AT_SYMLINK_NOFOLLOW);
        if (r < 0)
                return entry_fail(u, -errno, path, "set the owner of");
        if (what & ENTRY_META_MODE) {
                r = entry_mode(u, e, fd, parent_fd, name, path);
                if (r < 0)
                        return r;
        }
        r = entry_xattrs(u, e, fd, parent_fd, name, path);
        if (r < 0)
                return r;
        if ((what & ENTRY_META_TIMES) && entry_times(e, ts) > 0) {
                r = fd >= 0 ? futimens(fd, ts) : utimensat(parent_fd, name, ts, AT_SYMLINK_NOFOLLOW);
                if (r < 0)
                        return entry_fail(u, -errno, path, "set the times of");
        }
        return 0;
}

static int defer_dir_times(Unpacker *u, struct archive_entry *e, const char *path) {
        struct timespec ts[2];

        if (entry_times(e, ts) <= 0)
                return 0;
        if (u->n_dir_times == u->n_dir_times_alloc) {
                size_t n = MAX(u->n_dir_times_alloc * 2, (size_t) 64);
                DirTime *t = reallocarray(u->dir_times, n, sizeof(DirTime));
                if (!t)
                        return oci_error_set(u->err, -ENOMEM, NULL, "Out of memory.");
                u->dir_times = t;
                u->n_dir_times_alloc = n;
        }
        u->dir_times[u->n_dir_times].path = strdup(path);
        if (!u->dir_times[u->n_dir_times].path)
                return oci_error_set(u->err, -ENOMEM, NULL, "Out of memory.");
        memcpy(u->dir_times[u->n_dir_times].ts, ts, sizeof(ts));
        u->n_dir_times++;
        return 0;
}

static void apply_dir_times(Unpacker *u) {
        /* Last, because creating children changed them; a directory replaced later is skipped. */
        for (size_t i = u->n_dir_times; i > 0; i--) {
                DirTime *t = &u->dir_times[i - 1];
                _cleanup_close_ int fd =
                        confine_open(u->root_fd, t->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
                if (fd >= 0)
                        (void) futimens(fd, t->ts);
        }
}

/* Clears the way for a new entry at parent_fd/name: a non-directory is unlinked, a directory is
 * removed with its contents, unless keep_dir and it is a directory (returns 1 then). */
static int clear_slot(int parent_fd, const char *name, bool keep_dir) {
        struct stat st;

        if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (S_ISDIR(st.st_mode)) {
                if (keep_dir)
                        return 1;
                return rm_rf_at(parent_fd, name, 0);
        }
        if (unlinkat(parent_fd, name, 0) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

static int apply_file(Unpacker *u, struct archive_entry *e, int parent_fd, const char *name,
                      const char *path) {
        _cleanup_close_ int fd = -EBADF;
        off_t end = 0;
        int r;

        r = clear_slot(parent_fd, name, false);
        if (r < 0)
                return entry_fail(u, r, path, "replace");
        fd = openat(parent_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return entry_fail(u, -errno, path, "create");

        for (;;) {
                const void *buf;
                size_t size;
                la_int64_t offset;

                r = archive_read_data_block(u->tar, &buf, &size, &offset);
                if (r == ARCHIVE_EOF)
                        break;
                if (r < ARCHIVE_WARN)
                        return -ECANCELED; /* the caller reports the reader's error */
                if (offset < 0)
                        return -ECANCELED;
                r = loop_pwrite(fd, buf, size, (off_t) offset);
                if (r < 0)
                        return entry_fail(u, r, path, "write");
                end = MAX(end, (off_t) offset + (off_t) size);
        }
        /* A sparse file may end in a hole. */
        if (archive_entry_size_is_set(e) && archive_entry_size(e) > end &&
            ftruncate(fd, (off_t) archive_entry_size(e)) < 0)
                return entry_fail(u, -errno, path, "write");

        return entry_meta(u, e, fd, -EBADF, NULL, path, ENTRY_META_MODE | ENTRY_META_TIMES);
}

static int apply_dir(Unpacker *u, struct archive_entry *e, int parent_fd, const char *name,
                     const char *path) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        r = clear_slot(parent_fd, name, true);
        if (r < 0)
                return entry_fail(u, r, path, "replace");
        if (r == 0 && mkdirat(parent_fd, name, 0700) < 0)
                return entry_fail(u, -errno, path, "create directory");
        fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return entry_fail(u, -errno, path, "open directory");
        r = entry_meta(u, e, fd, -EBADF, NULL, path, ENTRY_META_MODE);
        if (r < 0)
                return r;
        return defer_dir_times(u, e, path);
}

static int apply_symlink(Unpacker *u, struct archive_entry *e, int parent_fd, const char *name,
                         const char *path) {
        const char *target = archive_entry_symlink(e);
        int r;

        /* The target is data: it is only ever resolved inside the root, by us and by the container. */
        if (isempty(target) || strlen(target) > LAYER_PATH_MAX)
                return oci_error_set(u->err, -EBADMSG, LAYER_HINT_MALFORMED,
                                     "Layer symlink '%.200s' has an empty or overlong target.", path);
        r = clear_slot(parent_fd, name, false);
        if (r < 0)
                return entry_fail(u, r, path, "replace");
        if (symlinkat(target, parent_fd, name) < 0)
                return entry_fail(u, -errno, path, "create symlink");
        return entry_meta(u, e, -EBADF, parent_fd, name, path, ENTRY_META_TIMES);
}

static int apply_node(Unpacker *u, struct archive_entry *e, int parent_fd, const char *name,
                      const char *path) {
        mode_t type = archive_entry_filetype(e);
        int r;

        r = clear_slot(parent_fd, name, false);
        if (r < 0)
                return entry_fail(u, r, path, "replace");
        /* What the layer put there replaces what lower layers had, but an untrusted tree gets no device. */
        if (u->drop_special && (type == AE_IFCHR || type == AE_IFBLK))
                return 0;
        if (mknodat(parent_fd, name, type | 0600, type == AE_IFIFO ? 0 : archive_entry_rdev(e)) < 0)
                return entry_fail(u, -errno, path, "create device node");
        return entry_meta(u, e, -EBADF, parent_fd, name, path, ENTRY_META_MODE | ENTRY_META_TIMES);
}

/* Docker's ADD drops a leading '/' of archive names: "/etc/x" lands in DEST/etc/x. */
static const char *skip_leading_slashes(const char *name) {
        while (*name == '/')
                name++;
        return name;
}

static int apply_hardlink(Unpacker *u, const char *link, int parent_fd, const char *name, const char *path) {
        _cleanup_free_ char *target = NULL;
        _cleanup_close_ int tfd = -EBADF;
        struct stat tst, st;
        char proc[64];
        int r;

        if (u->mode == LAYER_UNPACK_ARCHIVE)
                link = skip_leading_slashes(link);
        r = path_normalize_relative(link, LAYER_PATH_MAX, &target);
        if (r == -EXDEV)
                return oci_error_set(u->err, -EBADMSG, LAYER_HINT_MALFORMED,
                                     "Layer hardlink '%.200s' points outside the layer ('%.200s').", path,
                                     link);
        if (r < 0 || isempty(target))
                return oci_error_set(u->err, -EBADMSG, LAYER_HINT_MALFORMED,
                                     "Layer hardlink '%.200s' has an invalid target.", path);

        /* The target's parents resolve inside the root; its last component is not followed. */
        tfd = confine_open(u->root_fd, target, O_PATH | O_NOFOLLOW, 0);
        if (tfd < 0)
                return oci_error_set(
                        u->err, tfd == -ENOENT ? -EBADMSG : tfd, LAYER_HINT_MALFORMED,
                        "Layer hardlink '%.200s' points to '%.200s', which cannot be opened in the "
                        "layer: %s.",
                        path, target, strerror(-tfd));
        if (fstat(tfd, &tst) < 0)
                return entry_fail(u, -errno, path, "stat the hardlink target of");
        if (S_ISDIR(tst.st_mode))
                return oci_error_set(u->err, -EBADMSG, LAYER_HINT_MALFORMED,
                                     "Layer hardlink '%.200s' points to a directory.", path);
        if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) >= 0 && st.st_dev == tst.st_dev &&
            st.st_ino == tst.st_ino)
                return 0;

        r = clear_slot(parent_fd, name, false);
        if (r < 0)
                return entry_fail(u, r, path, "replace");
        if (linkat(tfd, "", parent_fd, name, AT_EMPTY_PATH) >= 0)
                return 0;
        /* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; the fd's /proc link does the same without it. */
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", tfd);
        if (linkat(AT_FDCWD, proc, parent_fd, name, AT_SYMLINK_FOLLOW) < 0)
                return entry_fail(u, -errno, path, "create hardlink");
        return 0;
}

static int apply_entry(Unpacker *u, struct archive_entry *e) {
        _cleanup_free_ char *path = NULL, *parent_path = NULL;
        _cleanup_close_ int parent_fd = -EBADF;
        const char *raw = archive_entry_pathname(e), *base, *name, *link, *target = NULL;
        WhiteoutKind kind;
        mode_t type;
        int r;

        if (++u->n_entries > LAYER_ENTRIES_MAX)
                return oci_error_set(u->err, -E2BIG, LAYER_HINT_MALFORMED,
                                     "The layer has more than %u entries.", LAYER_ENTRIES_MAX);
        if (!raw)
                return oci_error_set(u->err, -EBADMSG, LAYER_HINT_MALFORMED, "A layer entry has no name.");
        if (u->mode == LAYER_UNPACK_ARCHIVE) {
                raw = skip_leading_slashes(raw);
                if (isempty(raw))
                        return 0; /* "/": the destination itself, as ADD always left it */
        }
        r = path_normalize_relative(raw, LAYER_PATH_MAX, &path);
        if (r == -EXDEV)
                return oci_error_set(
                        u->err, -EBADMSG, LAYER_HINT_MALFORMED,
                        "Layer entry '%.200s' points outside the layer (absolute path or '..').", raw);
        if (r == -ENAMETOOLONG)
                return oci_error_set(u->err, -EBADMSG, LAYER_HINT_MALFORMED,
                                     "A layer entry name is longer than %u bytes.", LAYER_PATH_MAX);
        if (r < 0)
                return oci_error_set(u->err, r == -EINVAL ? -EBADMSG : r, LAYER_HINT_MALFORMED,
                                     "A layer entry has an invalid name.");

        type = archive_entry_filetype(e);
        link = archive_entry_hardlink(e);

        if (isempty(path) && u->mode == LAYER_UNPACK_ARCHIVE)
                return 0; /* "./": ADD keeps the destination directory as it made it */
        if (isempty(path)) {
                /* "./": the root itself.  Only its metadata can change. */
                if (type != AE_IFDIR || link)
                        return oci_error_set(u->err, -EBADMSG, LAYER_HINT_MALFORMED,
                                             "The layer's root entry is not a directory.");
                r = entry_meta(u, e, u->root_fd, -EBADF, NULL, "/", ENTRY_META_MODE);
                if (r < 0)
                        return r;
                return defer_dir_times(u, e, "");
        }

        base = strrchr(path, '/');
        base = base ? base + 1 : path;
        if (u->mode == LAYER_UNPACK_ARCHIVE) {
                kind = WHITEOUT_NONE; /* an archive's ".wh.x" is a file named ".wh.x" */
                r = 0;
        } else
                r = whiteout_classify(base, &kind, &target);
        if (r < 0)
                return oci_error_set(u->err, r, LAYER_HINT_MALFORMED,
                                     "Layer entry '%.200s' is an invalid whiteout.", path);
        /* aufs bookkeeping (".wh..wh.plnk/…", ".wh..wh.aufs") is not content. */
        if (kind == WHITEOUT_META || (u->mode != LAYER_UNPACK_ARCHIVE && kind != WHITEOUT_OPAQUE &&
                                      (startswith(path, WHITEOUT_PREFIX WHITEOUT_PREFIX) ||
                                       strstr(path, "/" WHITEOUT_PREFIX WHITEOUT_PREFIX))))
                return 0;

        r = confine_open_parent(u->root_fd, path, unpacker_on_created, u, &parent_fd, &name);
        if (r >= 0 && u->error < 0)
                r = u->error;
        if (r < 0)
                return oci_error_set(u->err, r == -ENOENT || r == -ENOTDIR || r == -ELOOP ? -EBADMSG : r,
                                     LAYER_HINT_MALFORMED,
                                     "Cannot open the parent directory of layer entry '%.200s': %s.", path,
                                     strerror(-r));

        if (kind != WHITEOUT_NONE) {
                if (u->mode == LAYER_UNPACK_OVERLAY)
                        r = whiteout_apply_overlay(parent_fd, kind, target);
                else {
                        parent_path = strndup(path, name > path ? (size_t) (name - path - 1) : 0);
                        if (!parent_path)
                                return oci_error_set(u->err, -ENOMEM, NULL, "Out of memory.");
                        r = whiteout_apply_flat(parent_fd, parent_path, kind, target, &u->created);
                }
                if (r < 0)
                        return entry_fail(u, r, path, "apply the whiteout");
                return 0;
        }

        if (u->mode == LAYER_UNPACK_FLAT) {
                r = layer_paths_add(&u->created, path);
                if (r < 0)
                        return oci_error_set(u->err, r, NULL, "Out of memory.");
        }

        if (link)
                return apply_hardlink(u, link, parent_fd, name, path);
        switch (type) {
        case AE_IFREG:
                return apply_file(u, e, parent_fd, name, path);
        case AE_IFDIR:
                return apply_dir(u, e, parent_fd, name, path);
        case AE_IFLNK:
                return apply_symlink(u, e, parent_fd, name, path);
        case AE_IFCHR:
        case AE_IFBLK:
        case AE_IFIFO:
                return apply_node(u, e, parent_fd, name, path);
        default:
                return oci_error_set(u->err, -EBADMSG, LAYER_HINT_MALFORMED,
                                     "Layer entry '%.200s' has an unsupported file type (0%o).", path,
                                     (unsigned) type);
        }
}

int layer_apply(int layer_fd, int target_fd, const LayerApplyOptions *opts, OciError *err) {
        _cleanup_(layer_reader_freep) LayerReader *rd = NULL;
        Unpacker u = { .root_fd = target_fd,
                       .mode = opts->mode,
                       .owner = opts->owner,
                       .drop_special = opts->drop_special,
                       .err = err };
        const char *diff_id = opts->diff_id;
        int r;

        if (diff_id && !digest_is_valid(diff_id))
                return oci_error_set(err, -EINVAL,
                                     "A diff_id is \"sha256:\" followed by 64 lowercase hex digits.",
                                     "'%.100s' is not a valid layer diff_id.", diff_id);

        r = layer_reader_new(layer_fd, opts->max_size, opts->mode == LAYER_UNPACK_ARCHIVE, err, &rd);
        if (r < 0)
                return r;
        u.tar = rd->tar;

        for (;;) {
                struct archive_entry *e;

                r = archive_read_next_header(rd->tar, &e);
                if (r == ARCHIVE_EOF)
                        break;
                if (r < ARCHIVE_WARN) {
                        r = layer_reader_error(rd, err);
                        goto finish;
                }
                r = apply_entry(&u, e);
                if (r == -ECANCELED) {
                        r = layer_reader_error(rd, err);
                        goto finish;
                }
                if (r < 0)
                        goto finish;
        }
        apply_dir_times(&u);

        r = layer_reader_drain(rd, err);
        if (r < 0)
                goto finish;
        if (diff_id) {
                char actual[DIGEST_STRING_MAX];

                sha256_final(&rd->hash, actual);
                if (!streq(actual, diff_id)) {
                        r = oci_error_set(err, -EBADMSG,
                                          "The blob is corrupt or the image config lists the wrong diff_id.",
                                          "Layer content does not match its diff_id (expected %s, got %s).",
                                          diff_id, actual);
                        goto finish;
                }
        }
        r = 0;
finish:
        unpacker_done(&u);
        return r;
}

int layer_unpack_in_process(int layer_fd, int target_fd, LayerUnpackMode mode, const char *diff_id,
                            uint64_t max_size, OciError *err) {
        return layer_apply(layer_fd, target_fd,
                           &(LayerApplyOptions) { .mode = mode, .diff_id = diff_id, .max_size = max_size },
                           err);
}
