/* Internals of the blob store shared by the import/export/layout code: the OciStore object and a
 * streaming blob writer that hashes while it writes, so a blob is verified without a second read. */
#pragma once

#include <stdint.h>

#include "digest.h"
#include "oci-error.h"
#include "oci-store.h"

/* Copy/hash buffer for streaming blobs. */
#define OCI_COPY_BUFFER_SIZE (1024U * 1024U)

struct OciStore {
        char *path;
        int dir_fd;   /* the layout root */
        int blobs_fd; /* blobs/sha256 */
};

typedef struct BlobWriter {
        OciStore *store;
        int fd;
        char *tmp_name; /* relative to blobs_fd */
        Sha256 hash;
        uint64_t size;
} BlobWriter;

#define BLOB_WRITER_INIT \
        { .fd = -EBADF }

/* Opens a uniquely named hidden temp file in blobs/sha256. */
int blob_writer_begin(OciStore *s, BlobWriter *w);
int blob_writer_write(BlobWriter *w, const void *data, size_t size);
/* Finishes the digest; when expected is given and differs returns -EBADMSG and stores nothing.
 * Otherwise fsyncs, renames into place (or drops the temp file if the blob already exists) and
 * fsyncs the directory. The writer is finished either way. */
int blob_writer_commit(BlobWriter *w, const char *expected, char ret_digest[static DIGEST_STRING_MAX],
                       uint64_t *ret_size);
/* Removes the temp file; safe to call on a finished or never-begun writer. */
void blob_writer_abort(BlobWriter *w);

/* Opens a blob WITHOUT verifying it, for callers that hash while they copy (export). */
int blob_store_open_unverified(OciStore *s, const char *digest, int *ret_fd, uint64_t *ret_size);
/* Size of a present blob (-ENOENT when absent). */
int blob_store_stat(OciStore *s, const char *digest, uint64_t *ret_size);
