/* libarchive glue for `slipway image import DIR` and `slipway image export --oci DIR`. */
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


la_ssize_t archive_conn_write_cb(struct archive *a, void *userdata, const void *buf, size_t size) {
        ArchiveConnWriter *st = userdata;
        int r = http_conn_write(st->conn, buf, size);

        if (r < 0) {
                st->error = r;
                archive_set_error(a, -r, "Sending to slipwayd failed: %s", strerror(-r));
                return -1;
        }
        return (la_ssize_t) size;
}

int archive_stream_dir_to_conn(const char *dir, HttpConn *conn, char **ret_error) {
        _cleanup_(archive_read_freep) struct archive *disk = NULL;
        _cleanup_(archive_write_freep) struct archive *out = NULL;
        _cleanup_free_ char *buf = NULL;
        ArchiveConnWriter st = { .conn = conn };
        size_t prefix_len = strlen(dir), n_entries = 0;
        int r;

        while (prefix_len > 1 && dir[prefix_len - 1] == '/')
                prefix_len--;
        buf = malloc(ARCHIVE_STREAM_BLOCK);
        disk = archive_read_disk_new();
        out = archive_write_new();
        if (!buf || !disk || !out)
                return -ENOMEM;

        archive_read_disk_set_symlink_logical(disk); /* a layout may link blobs: send the content */
        archive_read_disk_set_behavior(disk, ARCHIVE_READDISK_NO_XATTR | ARCHIVE_READDISK_NO_ACL |
                                                     ARCHIVE_READDISK_NO_FFLAGS);
        if (archive_write_set_format_pax_restricted(out) != ARCHIVE_OK ||
            archive_write_set_bytes_per_block(out, ARCHIVE_STREAM_BLOCK) != ARCHIVE_OK ||
            archive_write_set_bytes_in_last_block(out, 1) != ARCHIVE_OK ||
            archive_write_open(out, &st, NULL, archive_conn_write_cb, NULL) != ARCHIVE_OK)
                return errmsg_set(ret_error, -EIO, "Cannot start the archive: %s", archive_error_string(out));
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
                        return errmsg_set(ret_error, -EIO, "Cannot read %s: %s", dir, archive_error_string(disk));
                (void) archive_read_disk_descend(disk);

                name = archive_entry_pathname(e);
                if (!name || strncmp(name, dir, prefix_len) != 0)
                        continue;
                name += prefix_len;
                while (*name == '/')
                        name++;
                if (!*name)
                        continue; /* the directory itself */
                if (archive_entry_filetype(e) != AE_IFREG && archive_entry_filetype(e) != AE_IFDIR)
                        continue; /* sockets, devices: nothing an image layout holds */
                if (++n_entries > ARCHIVE_STREAM_ENTRIES_MAX)
                        return errmsg_set(ret_error, -E2BIG, "%s holds more than %u files", dir,
                                         ARCHIVE_STREAM_ENTRIES_MAX);

                _cleanup_free_ char *rel = strdup(name);
                if (!rel)
                        return -ENOMEM;
                archive_entry_set_pathname(e, rel);
                archive_entry_set_uid(e, 0);
                archive_entry_set_gid(e, 0);
                archive_entry_set_uname(e, NULL);
                archive_entry_set_gname(e, NULL);

                if (archive_write_header(out, e) != ARCHIVE_OK)
                        goto write_failed;
                if (archive_entry_filetype(e) != AE_IFREG)
                        continue;
                for (;;) {
                        la_ssize_t n = archive_read_data(disk, buf, ARCHIVE_STREAM_BLOCK);
                        if (n < 0)
                                return errmsg_set(ret_error, -EIO, "Cannot read %s/%s: %s", dir, rel,
                                                 archive_error_string(disk));
                        if (n == 0)
                                break;
                        if (archive_write_data(out, buf, (size_t) n) != n)
                                goto write_failed;
                }
        }
        if (archive_write_close(out) != ARCHIVE_OK)
                goto write_failed;
        return 0;

write_failed:
        if (st.error < 0)
                return errmsg_set(ret_error, st.error, "Sending %s to slipwayd failed: %s", dir, strerror(-st.error));
        return errmsg_set(ret_error, -EIO, "Cannot write the archive: %s", archive_error_string(out));
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
        _cleanup_free_ char *buf = malloc(ARCHIVE_STREAM_BLOCK);
        ReadState st = { .conn = conn, .buf = buf };
        size_t n_entries = 0;
        int r;

        in = archive_read_new();
        disk = archive_write_disk_new();
        if (!buf || !in || !disk)
                return -ENOMEM;
        archive_read_support_format_tar(in);
        /* Entry names are checked to be relative (path_is_safe_relative) and then joined to dir,
         * so the name libarchive sees is absolute by construction: NOABSOLUTEPATHS cannot apply. */
        archive_write_disk_set_options(disk, ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS);
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
                        return errmsg_set(ret_error, -EBADMSG, "The archive entry '%s' is not a file or directory",
                                         name);
                if (archive_entry_hardlink(e) || archive_entry_symlink(e))
                        return errmsg_set(ret_error, -EBADMSG, "The archive entry '%s' is a link", name);

                target = path_join(dir, name);
                if (!target)
                        return -ENOMEM;
                archive_entry_set_pathname(e, target);
                if (archive_write_header(disk, e) != ARCHIVE_OK)
                        return errmsg_set(ret_error, -EIO, "Cannot write %s: %s", target, archive_error_string(disk));
                if (archive_entry_filetype(e) != AE_IFREG)
                        continue;
                for (;;) {
                        const void *block;
                        size_t size;
                        la_int64_t offset;

                        r = archive_read_data_block(in, &block, &size, &offset);
                        if (r == ARCHIVE_EOF)
                                break;
                        if (r != ARCHIVE_OK)
                                goto read_failed;
                        if (archive_write_data_block(disk, block, size, offset) != ARCHIVE_OK)
                                return errmsg_set(ret_error, -EIO, "Cannot write %s: %s", target,
                                                 archive_error_string(disk));
                }
                if (archive_write_finish_entry(disk) != ARCHIVE_OK)
                        return errmsg_set(ret_error, -EIO, "Cannot write %s: %s", target, archive_error_string(disk));
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
                return errmsg_set(ret_error, -EIO, "Cannot finish writing %s: %s", dir, archive_error_string(disk));
        return 0;

read_failed:
        if (st.error < 0)
                return errmsg_set(ret_error, st.error, "The export stream from slipwayd broke off");
        return errmsg_set(ret_error, -EBADMSG, "The export stream is not a valid tar: %s", archive_error_string(in));
}
