/* Internals shared by the importers: where blobs come from (a layout directory or blobs already
 * streamed into the store from an archive), and the common index → manifest → blobs validation. */
#pragma once

#include <jansson.h>

#include "manifest.h"
#include "oci-store.h"

/* libarchive read block size for streamed input. */
#define OCI_ARCHIVE_BLOCK_SIZE (1024U * 1024U)

typedef struct ImportSource ImportSource;
struct ImportSource {
        OciStore *store;
        const char *name; /* the input, for messages */
        int dir_fd;       /* layout directory (or -EBADF when the blobs are in the store already) */
        /* Reads a small blob verified against d (digest and size) and makes sure it is in the store; the
         * caller has refused a d->size over max already. */
        int (*read_small)(ImportSource *src, const OciDescriptor *d, size_t max, const char *what,
                          char **ret_data, size_t *ret_size, OciError *err);
        /* Makes sure a blob matching d (digest and size) is in the store. */
        int (*ensure_blob)(ImportSource *src, const OciDescriptor *d, const char *what, OciError *err);
};

/* A source whose blobs were streamed into the store already. */
void import_source_store(ImportSource *src, OciStore *s, const char *name);

void imported_image_init(OciImportedImage *img, const char *digest, const char *config_digest,
                         const char *media_type, uint64_t size, uint64_t manifest_size);
/* Appends a copy of img (its ref ignored) named ref. */
int import_result_add(OciImportResult *res, const OciImportedImage *img, const char *ref);

/* Imports every image an index.json document names (linux/amd64 from nested indexes). */
int import_from_index(ImportSource *src, const char *data, size_t size, const char *what,
                      OciImportResult *res, OciError *err);

/* Tar input, streamed in one pass: oci-archive or docker-archive (format AUTO detects). */
int import_archive_fd(OciStore *s, int fd, const char *name, OciImportFormat format, OciImportResult *res,
                      OciError *err);
/* A plain rootfs tar (optionally gzip/zstd/xz compressed) → a one-layer linux/amd64 image. */
int import_rootfs_fd(OciStore *s, int fd, const char *name, OciImportResult *res, OciError *err);

/* Maps a libarchive failure to an OciError. */
struct archive;
int import_archive_error(struct archive *a, const char *name, const char *entry, OciError *err);
/* A libarchive reader on fd that accepts any compression filter and either tar or (raw) one
 * undecoded stream. */
/* Stores a JSON document (a manifest or config we built) as a compact blob; "what" names it in the
 * error.  Returns its text, whose length is the blob's size. */
int import_store_json(OciStore *s, json_t *j, const char *what, char **ret_text,
                      char ret_digest[static DIGEST_STRING_MAX], OciError *err);
int import_archive_open_fd(int fd, const char *name, bool raw, struct archive **ret, OciError *err);
