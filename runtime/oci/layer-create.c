/* Reproducible layer tars.  Determinism comes from: a walk sorted by name, numeric owners with no
 * names, mtimes clamped and without sub-second parts, no atime/ctime, PAX headers only where
 * needed, and a gzip stream with a fixed header (no name, mtime 0, OS "unknown").
 * The uncompressed tar is hashed (diff_id) and compressed in one pass; nothing is buffered whole. */
#include "layer-create.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>

#include "fs-util.h"
#include "layer-apply.h"
#include "macro.h"
#include "string-util.h"

#define LAYER_IO_BUFFER (256U * 1024U)
#define LAYER_XATTR_LIST_MAX (64U * 1024U)
#define LAYER_XATTR_VALUE_MAX (64U * 1024U)
#define LAYER_DEPTH_MAX 256U

typedef struct HardlinkSeen {
        dev_t dev;
        ino_t ino;
        char *path;
} HardlinkSeen;

typedef struct LayerWriter {
        const LayerCreateOptions *opts;
        int out_fd;
        struct archive *ar;
        Sha256 tar_hash;
        Sha256 out_hash;
        z_stream z;
        bool z_active;
        uint64_t out_size;
        uint64_t n_entries;
        unsigned char *zbuf;
        char *iobuf;
        HardlinkSeen *links;
        size_t n_links, cap_links;
        int error;
} LayerWriter;

static int cmp_names(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static int emit(LayerWriter *w, const void *data, size_t size) {
        int r;

        sha256_update(&w->out_hash, data, size);
        r = loop_write(w->out_fd, data, size);
        if (r < 0)
                return r;
        w->out_size += size;
        return 0;
}

static int deflate_some(LayerWriter *w, const void *data, size_t size, int flush) {
        w->z.next_in = (Bytef *) data;
        w->z.avail_in = (uInt) size;
        do {
                int zr, r;

                w->z.next_out = w->zbuf;
                w->z.avail_out = LAYER_IO_BUFFER;
                zr = deflate(&w->z, flush);
                if (zr == Z_STREAM_ERROR)
                        return -EIO;
                r = emit(w, w->zbuf, LAYER_IO_BUFFER - w->z.avail_out);
                if (r < 0)
                        return r;
        } while (w->z.avail_out == 0 || w->z.avail_in > 0);
        return 0;
}

/* libarchive hands us the uncompressed tar stream here. */
static la_ssize_t tar_write_cb(struct archive *a, void *userdata, const void *buf, size_t size) {
        LayerWriter *w = userdata;
        int r;

        sha256_update(&w->tar_hash, buf, size);
        r = w->z_active ? deflate_some(w, buf, size, Z_NO_FLUSH) : emit(w, buf, size);
        if (r < 0) {
                w->error = r;
                archive_set_error(a, -r, "write failed");
                return -1;
        }
        return (la_ssize_t) size;
}

static time_t clamp_time(const LayerWriter *w, time_t t) {
        if (w->opts->source_date_epoch >= 0 && t > w->opts->source_date_epoch)
                return (time_t) w->opts->source_date_epoch;
        return t;
}

static int add_xattrs(LayerWriter *w, int dir_fd, const char *name, struct archive_entry *e) {
        _cleanup_free_ char *path = NULL, *list = NULL;
        ssize_t n;

        if (asprintf(&path, "/proc/self/fd/%d/%s", dir_fd, name) < 0)
                return -ENOMEM;
        n = llistxattr(path, NULL, 0);
        if (n <= 0)
                return 0;
        if ((size_t) n > LAYER_XATTR_LIST_MAX)
                return -E2BIG;
        list = malloc((size_t) n);
        if (!list)
                return -ENOMEM;
        n = llistxattr(path, list, (size_t) n);
        if (n < 0)
                return -errno;

        /* Sort the names so the PAX header is the same whatever order the fs lists them in. */
        size_t k = 0, count = 0;
        for (char *p = list; p < list + n; p += strlen(p) + 1)
                count++;
        _cleanup_free_ char **names = calloc(MAX(count, (size_t) 1), sizeof(char *));
        if (!names)
                return -ENOMEM;
        for (char *p = list; p < list + n; p += strlen(p) + 1)
                if (!startswith(p, "trusted.overlay.") && !startswith(p, "user.overlay."))
                        names[k++] = p;
        /* Never silently dropped: a layer with more than the unpacker accepts would not unpack. */
        if (k > LAYER_XATTRS_MAX)
                return -E2BIG;
        qsort(names, k, sizeof(char *), cmp_names);
        for (size_t i = 0; i < k; i++) {
                _cleanup_free_ char *value = NULL;
                ssize_t vn = lgetxattr(path, names[i], NULL, 0);

                if (vn < 0 && (errno == ENODATA || errno == EOPNOTSUPP))
                        continue; /* removed meanwhile */
                if (vn < 0)
                        return -errno;
                if ((size_t) vn > LAYER_XATTR_VALUE_MAX)
                        return -E2BIG;
                value = malloc(MAX((size_t) vn, (size_t) 1));
                if (!value)
                        return -ENOMEM;
                vn = lgetxattr(path, names[i], value, (size_t) vn);
                if (vn < 0)
                        return errno == ERANGE ? -EAGAIN : -errno;
                archive_entry_xattr_add_entry(e, names[i], value, (size_t) vn);
        }
        return 0;
}

static bool is_opaque(int dir_fd, const char *name) {
        _cleanup_free_ char *path = NULL;
        char v[2];

        if (asprintf(&path, "/proc/self/fd/%d/%s", dir_fd, name) < 0)
                return false;
        return lgetxattr(path, "trusted.overlay.opaque", v, sizeof v) == 1 && v[0] == 'y';
}

static int write_header(LayerWriter *w, struct archive_entry *e) {
        if (archive_write_header(w->ar, e) != ARCHIVE_OK)
                return w->error < 0 ? w->error : -EIO;
        w->n_entries++;
        return 0;
}

static int write_marker(LayerWriter *w, const char *path, time_t mtime) {
        struct archive_entry *e = archive_entry_new();
        int r;

        if (!e)
                return -ENOMEM;
        archive_entry_set_pathname(e, path);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, 0);
        archive_entry_set_mtime(e, mtime, 0);
        r = write_header(w, e);
        archive_entry_free(e);
        return r;
}

static const char *hardlink_target(LayerWriter *w, const struct stat *st, const char *path) {
        for (size_t i = 0; i < w->n_links; i++)
                if (w->links[i].dev == st->st_dev && w->links[i].ino == st->st_ino)
                        return w->links[i].path;
        if (w->n_links == w->cap_links) {
                size_t ncap = w->cap_links ? w->cap_links * 2 : 16;
                HardlinkSeen *n = realloc(w->links, ncap * sizeof *n);
                if (!n)
                        return NULL;
                w->links = n;
                w->cap_links = ncap;
        }
        w->links[w->n_links++] = (HardlinkSeen) { st->st_dev, st->st_ino, strdup(path) };
        return NULL;
}

static int write_file_data(LayerWriter *w, int dir_fd, const char *name) {
        _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);

        if (fd < 0)
                return -errno;
        for (;;) {
                ssize_t n = read_retry(fd, w->iobuf, LAYER_IO_BUFFER);
                if (n < 0)
                        return (int) n;
                if (n == 0)
                        return 0;
                if (archive_write_data(w->ar, w->iobuf, (size_t) n) != n)
                        return w->error < 0 ? w->error : -EIO;
        }
}

static int walk(LayerWriter *w, int dir_fd, const char *prefix, unsigned depth);

static int add_entry(LayerWriter *w, int dir_fd, const char *name, const char *path, unsigned depth) {
        struct archive_entry *e;
        struct stat st;
        int r = 0;

        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;

        time_t mtime = clamp_time(w, st.st_mtime);

        /* An overlay whiteout hides the lower file: it becomes .wh.NAME in the same directory. */
        if (w->opts->overlay_whiteouts && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
                _cleanup_free_ char *wh = NULL;
                const char *slash = strrchr(path, '/');

                if (asprintf(&wh, "%.*s.wh.%s", slash ? (int) (slash - path + 1) : 0, path, name) < 0)
                        return -ENOMEM;
                return write_marker(w, wh, mtime);
        }

        e = archive_entry_new();
        if (!e)
                return -ENOMEM;
        archive_entry_set_pathname(e, path);
        archive_entry_set_mode(e, st.st_mode);
        archive_entry_set_uid(e, st.st_uid);
        archive_entry_set_gid(e, st.st_gid);
        archive_entry_set_mtime(e, mtime, 0);
        r = add_xattrs(w, dir_fd, name, e);
        if (r < 0)
                goto finish;

        if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
                const char *target = hardlink_target(w, &st, path);
                if (target) {
                        archive_entry_set_hardlink(e, target);
                        archive_entry_set_size(e, 0);
                        r = write_header(w, e);
                        goto finish;
                }
        }

        if (S_ISREG(st.st_mode)) {
                archive_entry_set_size(e, st.st_size);
                r = write_header(w, e);
                if (r >= 0 && st.st_size > 0)
                        r = write_file_data(w, dir_fd, name);
        } else if (S_ISLNK(st.st_mode)) {
                char target[PATH_MAX];
                ssize_t n = readlinkat(dir_fd, name, target, sizeof target - 1);
                if (n < 0) {
                        r = -errno;
                        goto finish;
                }
                target[n] = 0;
                archive_entry_set_symlink(e, target);
                archive_entry_set_size(e, 0);
                r = write_header(w, e);
        } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
                archive_entry_set_rdevmajor(e, major(st.st_rdev));
                archive_entry_set_rdevminor(e, minor(st.st_rdev));
                r = write_header(w, e);
        } else if (S_ISFIFO(st.st_mode)) {
                r = write_header(w, e);
        } else if (S_ISDIR(st.st_mode)) {
                _cleanup_close_ int sub = -EBADF;

                r = write_header(w, e);
                if (r < 0)
                        goto finish;
                if (w->opts->overlay_whiteouts && is_opaque(dir_fd, name)) {
                        _cleanup_free_ char *opq = NULL;
                        if (asprintf(&opq, "%s/.wh..wh..opq", path) < 0) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        r = write_marker(w, opq, mtime);
                        if (r < 0)
                                goto finish;
                }
                sub = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub < 0) {
                        r = -errno;
                        goto finish;
                }
                r = walk(w, TAKE_FD(sub), path, depth + 1);
        }
        /* Sockets are not representable in a layer and are skipped, as other builders do. */
finish:
        archive_entry_free(e);
        return r;
}

/* Takes ownership of dir_fd. */
static int walk(LayerWriter *w, int dir_fd, const char *prefix, unsigned depth) {
        _cleanup_(closedirp) DIR *d = NULL;
        char **names = NULL;
        size_t n = 0, cap = 0;
        int r = 0;

        if (depth > LAYER_DEPTH_MAX) {
                safe_close(dir_fd);
                return -ELOOP;
        }
        r = fdopendir_consume(dir_fd, &d);
        if (r < 0)
                return r;
        for (struct dirent *de; (de = readdir_no_dot(d));) {
                if (n == cap) {
                        size_t ncap = cap ? cap * 2 : 32;
                        char **nn = realloc(names, ncap * sizeof(char *));
                        if (!nn) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        names = nn;
                        cap = ncap;
                }
                names[n] = strdup(de->d_name);
                if (!names[n]) {
                        r = -ENOMEM;
                        goto finish;
                }
                n++;
        }
        if (n > 0)
                qsort(names, n, sizeof(char *), cmp_names);
        for (size_t i = 0; i < n && r >= 0; i++) {
                _cleanup_free_ char *path = NULL;

                if (asprintf(&path, "%s%s%s", prefix, *prefix ? "/" : "", names[i]) < 0) {
                        r = -ENOMEM;
                        break;
                }
                r = add_entry(w, dirfd(d), names[i], path, depth);
        }
finish:
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
        return r;
}

static int gzip_begin(LayerWriter *w) {
        /* Fixed header: no file name, mtime 0, OS 255 ("unknown"): the bytes depend on content only. */
        static const unsigned char header[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff };

        if (deflateInit2(&w->z, w->opts->gzip_level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
                return -ENOMEM;
        w->z_active = true;
        return emit(w, header, sizeof header);
}

static int gzip_end(LayerWriter *w, uLong crc, uint64_t isize) {
        unsigned char trailer[8];
        int r;

        r = deflate_some(w, NULL, 0, Z_FINISH);
        if (r < 0)
                return r;
        for (int i = 0; i < 4; i++) {
                trailer[i] = (unsigned char) (crc >> (8 * i));
                trailer[4 + i] = (unsigned char) (isize >> (8 * i));
        }
        return emit(w, trailer, sizeof trailer);
}

/* The gzip trailer needs the CRC-32 and size of the uncompressed data: wrap the tar callback. */
typedef struct CrcWriter {
        LayerWriter *w;
        uLong crc;
        uint64_t isize;
} CrcWriter;

static la_ssize_t crc_write_cb(struct archive *a, void *userdata, const void *buf, size_t size) {
        CrcWriter *c = userdata;

        c->crc = crc32(c->crc, buf, (uInt) size);
        c->isize += size;
        return tar_write_cb(a, c->w, buf, size);
}

int layer_create(const char *dir, int out_fd, const LayerCreateOptions *opts, LayerCreateResult *ret) {
        LayerWriter w = { .opts = opts, .out_fd = out_fd };
        CrcWriter c = { .w = &w };
        _cleanup_close_ int root = -EBADF;
        int r;

        if (!opts || opts->gzip_level < 0 || opts->gzip_level > 9)
                return -EINVAL;
        root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                return -errno;

        w.iobuf = malloc(LAYER_IO_BUFFER);
        w.zbuf = malloc(LAYER_IO_BUFFER);
        w.ar = archive_write_new();
        if (!w.iobuf || !w.zbuf || !w.ar) {
                r = -ENOMEM;
                goto finish;
        }
        sha256_init(&w.tar_hash);
        sha256_init(&w.out_hash);
        c.crc = crc32(0, NULL, 0);
        if (opts->gzip_level > 0) {
                r = gzip_begin(&w);
                if (r < 0)
                        goto finish;
        }
        if (archive_write_set_format_pax_restricted(w.ar) != ARCHIVE_OK ||
            archive_write_set_bytes_per_block(w.ar, 10240) != ARCHIVE_OK ||
            archive_write_open2(w.ar, &c, NULL, crc_write_cb, NULL, NULL) != ARCHIVE_OK) {
                r = -EIO;
                goto finish;
        }
        r = walk(&w, TAKE_FD(root), "", 0);
        if (r < 0)
                goto finish;
        if (archive_write_close(w.ar) != ARCHIVE_OK) {
                r = w.error < 0 ? w.error : -EIO;
                goto finish;
        }
        if (opts->gzip_level > 0) {
                r = gzip_end(&w, c.crc, c.isize);
                if (r < 0)
                        goto finish;
        }
        sha256_final(&w.tar_hash, ret->diff_id);
        sha256_final(&w.out_hash, ret->digest);
        ret->size = w.out_size;
        ret->n_entries = w.n_entries;
        r = 0;
finish:
        if (w.ar)
                archive_write_free(w.ar);
        if (w.z_active)
                deflateEnd(&w.z);
        for (size_t i = 0; i < w.n_links; i++)
                free(w.links[i].path);
        free(w.links);
        free(w.iobuf);
        free(w.zbuf);
        return r;
}
