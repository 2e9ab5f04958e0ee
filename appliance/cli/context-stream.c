/* Streaming a build context: libarchive reads the directory physically (links as links) and writes
 * pax-restricted tar blocks straight into the chunked request body; a link resolver turns repeated inodes
 * into tar hardlinks.  Excluded directories are not descended unless a '!' pattern may re-include below. */
#include "context-stream.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive-stream.h"
#include "archive-util.h"
#include "dockerignore.h"
#include "fs-util.h"
#include "macro.h"
#include "string-util.h"


/* keep lies below the directory rel. */
static bool keep_below(const char *keep, const char *rel) {
        size_t n = strlen(rel);
        return keep && strncmp(keep, rel, n) == 0 && keep[n] == '/';
}

int context_stream_to_conn(const char *dir, const char *dockerfile, HttpConn *conn, char **ret_error) {
        _cleanup_(archive_read_freep) struct archive *disk = NULL;
        _cleanup_(archive_write_freep) struct archive *out = NULL;
        _cleanup_(archive_entry_linkresolver_freep) struct archive_entry_linkresolver *links = NULL;
        _cleanup_dockerignore_free_ DockerIgnore *di = NULL;
        _cleanup_free_ char *buf = NULL, *keep = NULL;
        ArchiveConnWriter st = { .conn = conn };
        size_t prefix_len = strlen(dir), n_entries = 0;
        int r;

        r = dockerignore_load(dir, NULL, &di, ret_error);
        if (r < 0)
                return r;
        keep = dockerignore_clean_path(dockerfile);
        while (prefix_len > 1 && dir[prefix_len - 1] == '/')
                prefix_len--;
        buf = malloc(CONTEXT_STREAM_BLOCK);
        disk = archive_read_disk_new();
        out = archive_write_new();
        links = archive_entry_linkresolver_new();
        if (!keep || !buf || !disk || !out || !links)
                return -ENOMEM;

        archive_read_disk_set_symlink_physical(disk);
        archive_read_disk_set_behavior(disk, ARCHIVE_READDISK_NO_XATTR | ARCHIVE_READDISK_NO_ACL |
                                                     ARCHIVE_READDISK_NO_FFLAGS |
                                                     ARCHIVE_READDISK_NO_SPARSE);
        r = archive_conn_writer_open(out, &st, CONTEXT_STREAM_BLOCK, ret_error);
        if (r < 0)
                return r;
        archive_entry_linkresolver_set_strategy(links, archive_format(out));
        if (archive_read_disk_open(disk, dir) != ARCHIVE_OK)
                return errmsg_set(ret_error, -EIO, "Cannot read %s: %s", dir, archive_error_string(disk));

        for (;;) {
                _cleanup_(archive_entry_freep) struct archive_entry *e = archive_entry_new();
                struct archive_entry *sparse = NULL;
                const char *name;
                mode_t type;
                bool excluded;

                if (!e)
                        return -ENOMEM;
                r = archive_read_next_header2(disk, e);
                if (r == ARCHIVE_EOF)
                        break;
                if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
                        return errmsg_set(ret_error, -EIO, "Cannot read %s: %s", dir,
                                          archive_error_string(disk));

                name = archive_disk_name_below(archive_entry_pathname(e), dir, prefix_len);
                if (!name)
                        continue;
                type = archive_entry_filetype(e);
                if (!*name) {
                        (void) archive_read_disk_descend(disk); /* the context directory itself */
                        continue;
                }

                _cleanup_free_ char *rel = strdup(name);
                if (!rel)
                        return -ENOMEM;
                excluded = dockerignore_match(di, rel, type == AE_IFDIR) && !streq(rel, keep) &&
                           !streq(rel, ".dockerignore");
                if (type == AE_IFDIR && (dockerignore_should_descend(di, rel) || keep_below(keep, rel)))
                        (void) archive_read_disk_descend(disk);
                if (excluded)
                        continue;
                if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
                        continue; /* sockets, fifos, devices: nothing a build copies */
                if (++n_entries > CONTEXT_STREAM_ENTRIES_MAX)
                        return errmsg_set(ret_error, -E2BIG, "%s holds more than %u files", dir,
                                          CONTEXT_STREAM_ENTRIES_MAX);

                archive_entry_set_pathname(e, rel);
                archive_entry_set_uid(e, 0);
                archive_entry_set_gid(e, 0);
                archive_entry_set_uname(e, NULL);
                archive_entry_set_gname(e, NULL);
                if (type == AE_IFREG) {
                        struct archive_entry *le = e;
                        archive_entry_linkify(links, &le, &sparse);
                        /* The tar strategy never defers: le is e, marked as a hardlink on a repeat. */
                }

                if (archive_write_header(out, e) != ARCHIVE_OK)
                        goto write_failed;
                if (type != AE_IFREG || archive_entry_size(e) <= 0 || archive_entry_hardlink(e))
                        continue;
                r = archive_copy_entry_data(disk, out, buf, CONTEXT_STREAM_BLOCK);
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
                return errmsg_set(ret_error, st.error, "Sending the build context to slipwayd failed: %s",
                                  strerror(-st.error));
        return errmsg_set(ret_error, -EIO, "Cannot write the build context archive: %s",
                          archive_error_string(out));
}
