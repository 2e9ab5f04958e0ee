/* Streaming tar between the CLI and slipwayd, never holding an image in memory: an OCI layout
 * directory is sent as an oci-archive made on the fly, and an oci-archive stream is extracted into
 * a directory.  Invariant: extraction writes only regular files and directories strictly below the
 * target (no absolute names, no "..", no links). */
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <stdbool.h>

#include "http-client.h"

#define ARCHIVE_STREAM_BLOCK (64U * 1024U)
#define ARCHIVE_STREAM_ENTRIES_MAX 1000000U

/* How archive_stream_send_dir() sends a directory: an image layout and a build context are walked the
 * same way and differ only in how links are read and which entries go. */
typedef struct ArchiveStreamSend {
        bool follow_symlinks; /* send what a link points at (a layout), not the link (a build context) */
        bool hardlinks;       /* a repeated inode is sent as a tar hard link */
        int disk_behavior;    /* ARCHIVE_READDISK_* flags */
        const char *what;     /* for messages: "Sending <what> to slipwayd failed" */
        const char *archive;  /* for messages: "Cannot write <archive>" */
        /* Sees each entry below the directory (rel: its name relative to it): > 0 sends it, 0 passes over
         * it, < 0 fails the walk.  Below the directory itself the walk descends only where filter calls
         * archive_read_disk_descend(disk). */
        int (*filter)(struct archive *disk, struct archive_entry *e, const char *rel, void *userdata);
        void *userdata;
} ArchiveStreamSend;

/* Writes dir as a tar (names relative to dir, owners 0:0) to conn's request body, in blocks of
 * ARCHIVE_STREAM_BLOCK.  Fills *ret_error with one sentence on failure. */
int archive_stream_send_dir(const char *dir, HttpConn *conn, const ArchiveStreamSend *how, char **ret_error);

/* Writes the image layout dir as a tar (names relative to dir) to conn's request body. */
int archive_stream_dir_to_conn(const char *dir, HttpConn *conn, char **ret_error);

/* Extracts the tar read from conn's response body into dir (existing, empty). */
int archive_stream_conn_to_dir(HttpConn *conn, const char *dir, char **ret_error);
