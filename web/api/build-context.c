/* Extracting and filtering a build context.  Names are checked by us (relative, no "..") before they are
 * joined to the target, and libarchive's SECURE_NODOTDOT/SECURE_SYMLINKS checks stay on as a second line;
 * since the joined names are absolute, NOABSOLUTEPATHS cannot be used and our own check replaces it. */
#include "build-context.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive-util.h"
#include "dockerignore.h"
#include "fs-util.h"
#include "macro.h"
#include "path-util.h"
#include "string-util.h"

#define BUILD_CONTEXT_BLOCK (64U * 1024U)


/* "./a/b/" → "a/b"; "." and "./" → "" (the context root). */
/* Why the disk writer failed: a full disk stays -ENOSPC/-EDQUOT (the caller answers 507), else fallback. */
static int disk_error(struct archive *disk, int fallback) {
        int e = archive_errno(disk);
        return e == ENOSPC || e == EDQUOT ? -e : fallback;
}

static const char *skip_dot_slash(const char *name) {
        while (name[0] == '.' && name[1] == '/')
                name += 2;
        while (*name == '/')
                name++;
        return streq(name, ".") ? "" : name;
}

typedef struct ReadState {
        BuildContextReadFn read_fn;
        void *userdata;
        char *buf;
        uint64_t total;
        int error;
} ReadState;

static la_ssize_t read_cb(struct archive *a, void *userdata, const void **ret_buf) {
        ReadState *st = userdata;
        ssize_t n = st->read_fn(st->userdata, st->buf, BUILD_CONTEXT_BLOCK);

        if (n < 0) {
                st->error = (int) n;
                archive_set_error(a, (int) -n, "The upload broke off");
                return -1;
        }
        st->total += (uint64_t) n;
        if (st->total > BUILD_CONTEXT_MAX) {
                st->error = -EFBIG;
                archive_set_error(a, EFBIG, "The build context is too large");
                return -1;
        }
        *ret_buf = st->buf;
        return n;
}

int build_context_extract(BuildContextReadFn read_fn, void *userdata, const char *dir, char **ret_error) {
        _cleanup_(archive_read_freep) struct archive *in = NULL;
        _cleanup_(archive_write_freep) struct archive *disk = NULL;
        _cleanup_free_ char *buf = malloc(BUILD_CONTEXT_BLOCK);
        ReadState st = { .read_fn = read_fn, .userdata = userdata, .buf = buf };
        uint64_t n_entries = 0, unpacked = 0;
        int r;

        in = archive_read_new();
        disk = archive_write_disk_new();
        if (!buf || !in || !disk)
                return -ENOMEM;
        archive_read_support_format_tar(in);
        /* Only in-process decompressors: no filter that runs an external program. */
        archive_read_support_filter_gzip(in);
        archive_read_support_filter_bzip2(in);
        archive_read_support_filter_xz(in);
        archive_read_support_filter_zstd(in);
        archive_write_disk_set_options(disk, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                                                     ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                                     ARCHIVE_EXTRACT_SECURE_SYMLINKS);
        if (archive_read_open(in, &st, NULL, read_cb, NULL) != ARCHIVE_OK)
                goto read_failed;

        for (;;) {
                struct archive_entry *e;
                _cleanup_free_ char *target = NULL, *link_target = NULL, *name = NULL;
                const char *raw, *hardlink;
                mode_t type;

                r = archive_read_next_header(in, &e);
                if (r == ARCHIVE_EOF)
                        break;
                if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
                        goto read_failed;
                if (++n_entries > BUILD_CONTEXT_ENTRIES_MAX)
                        return errmsg_set(ret_error, -EFBIG, "The build context holds more than %u entries",
                                          BUILD_CONTEXT_ENTRIES_MAX);
                raw = archive_entry_pathname(e);
                if (!raw)
                        return errmsg_set(ret_error, -EBADMSG,
                                          "The build context has an entry without a name");
                /* A copy: the entry's own string goes away when its pathname is rewritten below. */
                name = strdup(skip_dot_slash(raw));
                if (!name)
                        return -ENOMEM;
                if (isempty(name))
                        continue; /* the context root itself */
                if (!path_is_safe_relative(name) || raw[0] == '/')
                        return errmsg_set(
                                ret_error, -EBADMSG,
                                "The build context contains the unsafe name '%s' (absolute or with '..')",
                                raw);
                type = archive_entry_filetype(e);
                hardlink = archive_entry_hardlink(e);
                if (!hardlink && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
                        continue; /* devices, fifos, sockets: nothing a build copies */

                unpacked += (uint64_t) MAX(archive_entry_size(e), 0);
                if (unpacked > BUILD_CONTEXT_MAX)
                        return errmsg_set(ret_error, -EFBIG,
                                          "The build context unpacks to more than %llu bytes",
                                          (unsigned long long) BUILD_CONTEXT_MAX);

                target = path_join(dir, name);
                if (!target)
                        return -ENOMEM;
                archive_entry_set_pathname(e, target);
                if (hardlink) {
                        const char *h = skip_dot_slash(hardlink);
                        if (!path_is_safe_relative(h) || hardlink[0] == '/')
                                return errmsg_set(
                                        ret_error, -EBADMSG,
                                        "The build context contains a hard link to the unsafe name '%s'",
                                        hardlink);
                        link_target = path_join(dir, h);
                        if (!link_target)
                                return -ENOMEM;
                        archive_entry_set_hardlink(e, link_target);
                }
                /* Like docker build (and buildah): setuid and setgid bits do not survive the trip through the
                 * build context; the sticky bit does.  (COPY --from and ADD of an archive keep theirs.) */
                archive_entry_set_perm(e, archive_entry_perm(e) & ~(mode_t) (S_ISUID | S_ISGID));
                /* The sender's owners mean nothing here: COPY sets its own (root or --chown). */
                archive_entry_set_uid(e, 0);
                archive_entry_set_gid(e, 0);
                archive_entry_set_uname(e, NULL);
                archive_entry_set_gname(e, NULL);
                archive_entry_acl_clear(e);
                archive_entry_xattr_clear(e);
                archive_entry_set_fflags(e, 0, 0);

                if (archive_write_header(disk, e) != ARCHIVE_OK)
                        return errmsg_set(ret_error, disk_error(disk, -EBADMSG),
                                          "Cannot unpack '%s' of the build context: %s", name,
                                          archive_error_string(disk));
                if (type != AE_IFREG || archive_entry_size(e) <= 0)
                        goto finish;
                for (;;) {
                        const void *block;
                        size_t size;
                        la_int64_t offset;

                        r = archive_read_data_block(in, &block, &size, &offset);
                        if (r == ARCHIVE_EOF)
                                break;
                        if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
                                goto read_failed;
                        if (archive_write_data_block(disk, block, size, offset) != ARCHIVE_OK)
                                return errmsg_set(ret_error, disk_error(disk, -EIO),
                                                  "Cannot write '%s' of the build context: %s", name,
                                                  archive_error_string(disk));
                }
        finish:
                if (archive_write_finish_entry(disk) != ARCHIVE_OK)
                        return errmsg_set(ret_error, disk_error(disk, -EIO),
                                          "Cannot write '%s' of the build context: %s", name,
                                          archive_error_string(disk));
        }
        if (archive_write_close(disk) != ARCHIVE_OK)
                return errmsg_set(ret_error, disk_error(disk, -EIO),
                                  "Cannot finish unpacking the build context: %s",
                                  archive_error_string(disk));
        return 0;

read_failed:
        if (st.error == -EFBIG)
                return errmsg_set(ret_error, -EFBIG, "The build context is larger than %llu bytes",
                                  (unsigned long long) BUILD_CONTEXT_MAX);
        if (st.error < 0)
                return errmsg_set(ret_error, st.error, "The upload of the build context broke off");
        return errmsg_set(ret_error, -EBADMSG, "The build context is not a valid tar archive: %s",
                          archive_error_string(in));
}

/* keep lies at or below rel: the directory must stay (in part). */
static bool keep_below(const char *keep, const char *rel) {
        size_t n = strlen(rel);
        return keep && strncmp(keep, rel, n) == 0 && (keep[n] == '/' || keep[n] == 0);
}

static int filter_dir(const DockerIgnore *di, const char *path, const char *rel, const char *keep) {
        _cleanup_(closedirp) DIR *d = opendir(path);
        struct dirent *de;
        int r;

        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                _cleanup_free_ char *child = NULL, *crel = NULL;
                struct stat st;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                child = path_join(path, de->d_name);
                crel = isempty(rel) ? strdup(de->d_name) : path_join(rel, de->d_name);
                if (!child || !crel)
                        return -ENOMEM;
                if (lstat(child, &st) < 0)
                        return -errno;
                if (streq(crel, ".dockerignore") || streq_ptr(crel, keep))
                        continue;
                if (S_ISDIR(st.st_mode)) {
                        if (dockerignore_should_descend(di, crel) || keep_below(keep, crel)) {
                                r = filter_dir(di, child, crel, keep);
                                if (r < 0)
                                        return r;
                        } else {
                                r = rm_rf(child);
                                if (r < 0)
                                        return r;
                        }
                } else if (dockerignore_match(di, crel, false) && unlink(child) < 0)
                        return -errno;
        }
        return 0;
}

int build_context_apply_dockerignore(const char *dir, const char *keep, char **ret_error) {
        _cleanup_free_ char *keep_clean = NULL;
        _cleanup_dockerignore_free_ DockerIgnore *di = NULL;
        int r;

        r = dockerignore_load(dir, ".dockerignore", &di, ret_error);
        if (r < 0)
                return r;
        if (!di)
                return 0;
        if (keep) {
                keep_clean = dockerignore_clean_path(keep);
                if (!keep_clean)
                        return -ENOMEM;
        }
        r = filter_dir(di, dir, "", keep_clean);
        if (r < 0)
                return errmsg_set(ret_error, r, "Cannot apply .dockerignore to the build context: %s",
                                  strerror(-r));
        return 0;
}
