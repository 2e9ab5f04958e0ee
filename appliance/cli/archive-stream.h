/* Streaming tar between the CLI and slipwayd, never holding an image in memory: an OCI layout
 * directory is sent as an oci-archive made on the fly, and an oci-archive stream is extracted into
 * a directory.  Invariant: extraction writes only regular files and directories strictly below the
 * target (no absolute names, no "..", no links). */
#pragma once

#include <archive.h>

#include "http-client.h"

/* libarchive write callback sending tar blocks into a request body (userdata: ArchiveConnWriter);
 * the first failure is kept in .error. */
typedef struct ArchiveConnWriter {
        HttpConn *conn;
        int error;
} ArchiveConnWriter;

la_ssize_t archive_conn_write_cb(struct archive *a, void *userdata, const void *buf, size_t size);
/* Opens out as a restricted pax tar written in block-sized blocks to st->conn. */
int archive_conn_writer_open(struct archive *out, ArchiveConnWriter *st, size_t block, char **ret_error);
/* name, as archive_read_disk returned it walking dir (dir_len long without trailing slashes), relative to
 * dir: NULL when it is not below dir, "" for dir itself. */
const char *archive_disk_name_below(const char *name, const char *dir, size_t dir_len);
/* Copies the data of disk's current entry to out through buf: -EIO when reading fails, -EPIPE when
 * writing does (the writer holds the reason). */
int archive_copy_entry_data(struct archive *disk, struct archive *out, void *buf, size_t size);

#define ARCHIVE_STREAM_BLOCK (64U * 1024U)
#define ARCHIVE_STREAM_ENTRIES_MAX 1000000U

/* Writes dir as a tar (names relative to dir) to conn's request body. */
int archive_stream_dir_to_conn(const char *dir, HttpConn *conn, char **ret_error);

/* Extracts the tar read from conn's response body into dir (existing, empty). */
int archive_stream_conn_to_dir(HttpConn *conn, const char *dir, char **ret_error);
