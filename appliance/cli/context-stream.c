/* Streaming a build context: libarchive reads the directory physically (links as links) and writes
 * pax-restricted tar blocks straight into the chunked request body; a link resolver turns repeated inodes
 * into tar hardlinks.  Excluded directories are not descended unless a '!' pattern may re-include below. */
#include "context-stream.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "archive-stream.h"
#include "dockerignore.h"
#include "macro.h"
#include "string-util.h"

typedef struct ContextFilter {
        const DockerIgnore *di;
        const char *keep; /* the Dockerfile, relative to the context: always sent */
} ContextFilter;

/* keep lies below the directory rel. */
static bool keep_below(const char *keep, const char *rel) {
        size_t n = strlen(rel);
        return keep && strncmp(keep, rel, n) == 0 && keep[n] == '/';
}

/* What .dockerignore leaves in, except that the Dockerfile and .dockerignore always go. */
static int context_filter(struct archive *disk, struct archive_entry *e, const char *rel, void *userdata) {
        const ContextFilter *f = userdata;
        mode_t type = archive_entry_filetype(e);
        bool excluded = dockerignore_match(f->di, rel, type == AE_IFDIR) && !streq(rel, f->keep) &&
                        !streq(rel, ".dockerignore");

        if (type == AE_IFDIR && (dockerignore_should_descend(f->di, rel) || keep_below(f->keep, rel)))
                (void) archive_read_disk_descend(disk);
        if (excluded)
                return 0;
        /* sockets, fifos, devices: nothing a build copies */
        return type == AE_IFREG || type == AE_IFDIR || type == AE_IFLNK;
}

int context_stream_to_conn(const char *dir, const char *dockerfile, HttpConn *conn, char **ret_error) {
        _cleanup_dockerignore_free_ DockerIgnore *di = NULL;
        _cleanup_free_ char *keep = NULL;
        int r;

        r = dockerignore_load(dir, NULL, &di, ret_error);
        if (r < 0)
                return r;
        keep = dockerignore_clean_path(dockerfile);
        if (!keep)
                return -ENOMEM;

        ContextFilter filter = { .di = di, .keep = keep };
        const ArchiveStreamSend how = {
                .hardlinks = true,
                .disk_behavior = ARCHIVE_READDISK_NO_XATTR | ARCHIVE_READDISK_NO_ACL |
                                 ARCHIVE_READDISK_NO_FFLAGS | ARCHIVE_READDISK_NO_SPARSE,
                .what = "the build context",
                .archive = "the build context archive",
                .filter = context_filter,
                .userdata = &filter,
        };
        return archive_stream_send_dir(dir, conn, &how, ret_error);
}
