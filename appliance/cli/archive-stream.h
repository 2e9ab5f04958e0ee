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

#define ARCHIVE_STREAM_BLOCK (64U * 1024U)
#define ARCHIVE_STREAM_ENTRIES_MAX 1000000U

/* Writes dir as a tar (names relative to dir) to conn's request body. */
int archive_stream_dir_to_conn(const char *dir, HttpConn *conn, char **ret_error);

/* Extracts the tar read from conn's response body into dir (existing, empty). */
int archive_stream_conn_to_dir(HttpConn *conn, const char *dir, char **ret_error);
