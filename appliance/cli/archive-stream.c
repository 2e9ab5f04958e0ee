/* libarchive glue for `slipway image import DIR` and `slipway image export --oci DIR`, and the directory
 * walk that sends both an image layout and a build context (context-stream.c). */
#include "archive-stream.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive-util.h"
#include "fs-util.h"
#include "macro.h"
#include "path-util.h"
#include "string-util.h"

/* libarchive write callback sending tar blocks into a request body; the first failure is kept in .error. */
typedef struct ConnWriter {
        HttpConn *conn;
        int error;
} ConnWriter;

static la_ssize_t conn_write_cb(struct archive *a, void *userdata, const void *buf, size_t size) {
        ConnWriter *st = userdata;
        int r = http_conn_write(st->conn, buf, size);

        if (r < 0) {
                st->error = r;
                archive_set_error(a, -r, "Sending to slipwayd failed: %s", strerror(-r));
                return -1;
        }
        return (la_ssize_t) size;
}

/* Opens out as a restricted pax tar written in ARCHIVE_STREAM_BLOCK-sized blocks to st->conn. */
static int conn_writer_open(struct archive *out, ConnWriter *st, char **ret_error) {
        if (archive_write_set_format_pax_restricted(out) != ARCHIVE_OK ||
            archive_write_set_bytes_per_block(out, (int) ARCHIVE_STREAM_BLOCK) != ARCHIVE_OK ||
            archive_write_set_bytes_in_last_block(out, 1) != ARCHIVE_OK ||
            archive_write_open(out, st, NULL, conn_write_cb, NULL) != ARCHIVE_OK)
                return errmsg_set(ret_error, -EIO, "Cannot start the archive: %s",
                                  archive_error_string(out));
        return 0;
}

/* name, as archive_read_disk returned it walking dir (dir_len long without trailing slashes), relative to
 * dir: NULL when it is not below dir, "" for dir itself. */
static const char *disk_name_below(const char *name, const char *dir, size_t dir_len) {
        if (!name || strncmp(name, dir, dir_len) != 0)
                return NULL;
        name += dir_len;
        while (*name == '/')
                name++;
        return name;
}

/* Why writing to disk failed, as -errno: the caller tells a full disk (-ENOSPC) apart; else -EIO. */
static int disk_write_errno(struct archive *disk) {
        int e = archive_errno(disk);
        return e == ENOSPC || e == EDQUOT ? -e : -EIO;
}

/* Copies the data of in's current entry to out through buf: -EIO when reading fails, -EPIPE when
 * writing does (out holds the reason). */
static int copy_entry_data(struct archive *in, struct archive *out, void *buf, size_t size) {
        for (;;) {
                la_ssize_t n = archive_read_data(in, buf, size);
                if (n < 0)
                        return -EIO;
                if (n == 0)
                        return 0;
                if (archive_write_data(out, buf, (size_t) n) != n)
                        return -EPIPE;
        }
}

int archive_stream_send_dir(const char *dir, HttpConn *conn, const ArchiveStreamSend *how,
                            char **ret_error) {
        _cleanup_(archive_read_freep) struct archive *disk = NULL;
        _cleanup_(archive_write_freep) struct archive *out = NULL;
        _cleanup_(archive_entry_linkresolver_freep) struct archive_entry_linkresolver *links = NULL;
        _cleanup_free_ char *buf = NULL;
        ConnWriter st = { .conn = conn };
        size_t prefix_len = strlen(dir), n_entries = 0;
        int r;

        while (prefix_len > 1 && dir[prefix_len - 1] == '/')
                prefix_len--;
        buf = malloc(ARCHIVE_STREAM_BLOCK);
        disk = archive_read_disk_new();
        out = archive_write_new();
        if (how->hardlinks)
                links = archive_entry_linkresolver_new();
        if (!buf || !disk || !out || (how->hardlinks && !links))
                return -ENOMEM;

        if (how->follow_symlinks)
                archive_read_disk_set_symlink_logical(disk);
        else
                archive_read_disk_set_symlink_physical(disk);
        archive_read_disk_set_behavior(disk, how->disk_behavior);
        r = conn_writer_open(out, &st, ret_error);
        if (r < 0)
                return r;
        if (links)
                archive_entry_linkresolver_set_strategy(links, archive_format(out));
        if (archive_read_disk_open(disk, dir) != ARCHIVE_OK)
                return errmsg_set(ret_error, -EIO, "Cannot read %s: %s", dir, archive_error_string(disk));

        for (;;) {
                _cleanup_(archive_entry_freep) struct archive_entry *e = archive_entry_new();
                const char *name;

                if (!e)
                        return -ENOMEM;
                r = archive_read_next_header2(disk, e);
                if (r == ARCHIVE_EOF)
                        break;
                if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
                        return errmsg_set(ret_error, -EIO, "Cannot read %s: %s", dir,
                                          archive_error_string(disk));

                name = disk_name_below(archive_entry_pathname(e), dir, prefix_len);
                if (!name)
                        continue;
                if (!*name) {
                        (void) archive_read_disk_descend(disk); /* the directory itself */
                        continue;
                }
                _cleanup_free_ char *rel = strdup(name);
                if (!rel)
                        return -ENOMEM;
                r = how->filter(disk, e, rel, how->userdata);
                if (r < 0)
                        return r;
                if (r == 0)
                        continue;
                if (++n_entries > ARCHIVE_STREAM_ENTRIES_MAX)
                        return errmsg_set(ret_error, -E2BIG, "%s holds more than %u files", dir,
                                          ARCHIVE_STREAM_ENTRIES_MAX);

                archive_entry_set_pathname(e, rel);
                archive_entry_set_uid(e, 0);
                archive_entry_set_gid(e, 0);
                archive_entry_set_uname(e, NULL);
                archive_entry_set_gname(e, NULL);
                if (links && archive_entry_filetype(e) == AE_IFREG) {
                        struct archive_entry *le = e, *sparse = NULL;
                        archive_entry_linkify(links, &le, &sparse);
                        /* The tar strategy never defers: le is e, marked as a hardlink on a repeat. */
                }

                if (archive_write_header(out, e) != ARCHIVE_OK)
                        goto write_failed;
                if (archive_entry_filetype(e) != AE_IFREG || archive_entry_size(e) <= 0 ||
                    archive_entry_hardlink(e))
                        continue;
                r = copy_entry_data(disk, out, buf, ARCHIVE_STREAM_BLOCK);
                if (r == -EPIPE)
                        goto write_failed;
                if (r < 0)
                        return errmsg_set(ret_error, r, "Cannot read %s/%s: %s", dir, rel,
                                          archive_error_string(disk));
        }
        if (archive_write_close(out) != ARCHIVE_OK)
                goto write_failed;
        return 0;

write_failed:
        if (st.error < 0)
                return errmsg_set(ret_error, st.error, "Sending %s to slipwayd failed: %s", how->what,
                                  strerror(-st.error));
        return errmsg_set(ret_error, -EIO, "Cannot write %s: %s", how->archive, archive_error_string(out));
}

/* An image layout: every file and directory, what links point at sent as content. */
static int layout_filter(struct archive *disk, struct archive_entry *e, _unused_ const char *rel,
                         _unused_ void *userdata) {
        (void) archive_read_disk_descend(disk);
        /* sockets, devices: nothing an image layout holds */
        return archive_entry_filetype(e) == AE_IFREG || archive_entry_filetype(e) == AE_IFDIR;
}

int archive_stream_dir_to_conn(const char *dir, HttpConn *conn, char **ret_error) {
        const ArchiveStreamSend how = {
                .follow_symlinks = true, /* a layout may link blobs: send the content */
                .disk_behavior =
                        ARCHIVE_READDISK_NO_XATTR | ARCHIVE_READDISK_NO_ACL | ARCHIVE_READDISK_NO_FFLAGS,
                .what = dir,
                .archive = "the archive",
                .filter = layout_filter,
        };

        return archive_stream_send_dir(dir, conn, &how, ret_error);
}

typedef struct ReadState {
        HttpConn *conn;
        char *buf;
        int error;
} ReadState;

static la_ssize_t read_cb(struct archive *a, void *userdata, const void **ret_buf) {
        ReadState *st = userdata;
        ssize_t n = http_conn_read_body(st->conn, st->buf, ARCHIVE_STREAM_BLOCK);

        if (n < 0) {
                st->error = (int) n;
                archive_set_error(a, (int) -n, "The stream from slipwayd broke off");
                return -1;
        }
        *ret_buf = st->buf;
        return n;
}

int archive_stream_conn_to_dir(HttpConn *conn, const char *dir, char **ret_error) {
        _cleanup_(archive_read_freep) struct archive *in = NULL;
        _cleanup_(archive_write_freep) struct archive *disk = NULL;
        /* buf is what libarchive reads the stream from, data what entries are copied through. */
        _cleanup_free_ char *buf = malloc(ARCHIVE_STREAM_BLOCK), *data = malloc(ARCHIVE_STREAM_BLOCK);
        ReadState st = { .conn = conn, .buf = buf };
        size_t n_entries = 0;
        int r;

        in = archive_read_new();
        disk = archive_write_disk_new();
        if (!buf || !data || !in || !disk)
                return -ENOMEM;
        archive_read_support_format_tar(in);
        /* Entry names are checked to be relative (path_is_safe_relative) and then joined to dir,
         * so the name libarchive sees is absolute by construction: NOABSOLUTEPATHS cannot apply. */
        archive_write_disk_set_options(disk,
                                       ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS);
        if (archive_read_open(in, &st, NULL, read_cb, NULL) != ARCHIVE_OK)
                goto read_failed;

        for (;;) {
                struct archive_entry *e;
                const char *name;
                _cleanup_free_ char *target = NULL;

                r = archive_read_next_header(in, &e);
                if (r == ARCHIVE_EOF)
                        break;
                if (r != ARCHIVE_OK)
                        goto read_failed;
                if (++n_entries > ARCHIVE_STREAM_ENTRIES_MAX)
                        return errmsg_set(ret_error, -E2BIG, "The archive holds more than %u entries",
                                          ARCHIVE_STREAM_ENTRIES_MAX);
                name = archive_entry_pathname(e);
                if (!name || !path_is_safe_relative(name))
                        return errmsg_set(ret_error, -EBADMSG, "The archive contains an unsafe name '%s'",
                                          strempty(name));
                if (archive_entry_filetype(e) != AE_IFREG && archive_entry_filetype(e) != AE_IFDIR)
                        return errmsg_set(ret_error, -EBADMSG,
                                          "The archive entry '%s' is not a file or directory", name);
                if (archive_entry_hardlink(e) || archive_entry_symlink(e))
                        return errmsg_set(ret_error, -EBADMSG, "The archive entry '%s' is a link", name);

                target = path_join(dir, name);
                if (!target)
                        return -ENOMEM;
                archive_entry_set_pathname(e, target);
                if (archive_write_header(disk, e) != ARCHIVE_OK)
                        return errmsg_set(ret_error, disk_write_errno(disk), "Cannot write %s: %s", target,
                                          archive_error_string(disk));
                if (archive_entry_filetype(e) != AE_IFREG)
                        continue;
                r = copy_entry_data(in, disk, data, ARCHIVE_STREAM_BLOCK);
                if (r == -EIO)
                        goto read_failed;
                if (r < 0 || archive_write_finish_entry(disk) != ARCHIVE_OK)
                        return errmsg_set(ret_error, disk_write_errno(disk), "Cannot write %s: %s", target,
                                          archive_error_string(disk));
        }
        /* Drain to the framed end, so a stream cut after the tar trailer is still noticed. */
        for (;;) {
                ssize_t n = http_conn_read_body(conn, buf, ARCHIVE_STREAM_BLOCK);
                if (n < 0)
                        return errmsg_set(ret_error, (int) n, "The export stream from slipwayd broke off");
                if (n == 0)
                        break;
        }
        if (archive_write_close(disk) != ARCHIVE_OK)
                return errmsg_set(ret_error, -EIO, "Cannot finish writing %s: %s", dir,
                                  archive_error_string(disk));
        return 0;

read_failed:
        if (st.error < 0)
                return errmsg_set(ret_error, st.error, "The export stream from slipwayd broke off");
        return errmsg_set(ret_error, -EBADMSG, "The export stream is not a valid tar: %s",
                          archive_error_string(in));
}
