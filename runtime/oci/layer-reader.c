/* The layer reader: auto-detected decompression (built-in decoders only) under a size bound, then tar
 * parsing of the result. Invariant: every byte of the uncompressed stream passes through the SHA-256
 * before the tar parser sees it, so the diff_id check covers exactly what was applied. */
#include "layer-reader.h"

#include <stdio.h>
#include <stdlib.h>

#include "layer-apply.h"
#include "macro.h"

static la_ssize_t layer_reader_read(struct archive *a, void *userdata, const void **ret_buf) {
        LayerReader *rd = userdata;
        la_ssize_t n;

        if (rd->eof)
                return 0;
        n = archive_read_data(rd->decompress, rd->buf, sizeof(rd->buf));
        if (n < 0) {
                snprintf(rd->decompress_error, sizeof(rd->decompress_error), "%s",
                         archive_error_string(rd->decompress) ?: "read error");
                archive_set_error(a, EIO, "%s", rd->decompress_error);
                return -1;
        }
        if (n == 0) {
                rd->eof = true;
                return 0;
        }
        rd->size += (uint64_t) n;
        if (rd->size > rd->max_size) {
                rd->too_big = true;
                archive_set_error(a, EFBIG, "layer too large");
                return -1;
        }
        sha256_update(&rd->hash, rd->buf, (size_t) n);
        *ret_buf = rd->buf;
        return n;
}

void layer_reader_free(LayerReader *rd) {
        if (!rd)
                return;
        if (rd->tar)
                archive_read_free(rd->tar);
        if (rd->decompress)
                archive_read_free(rd->decompress);
        free(rd);
}

int layer_reader_error(LayerReader *rd, OciError *err) {
        if (rd->too_big)
                return oci_error_set(err, -EFBIG, "Split the content over more layers.",
                                     "The layer is larger than %llu bytes uncompressed.",
                                     (unsigned long long) rd->max_size);
        if (rd->decompress_error[0])
                return oci_error_set(err, -EBADMSG,
                                     "Check that the layer blob is complete; import the image again.",
                                     "The layer could not be decompressed (truncated or corrupt): %s.",
                                     rd->decompress_error);
        return oci_error_set(err, -EBADMSG, "Check that the layer blob is complete; import the image again.",
                             "The layer is not a valid tar archive: %s.",
                             archive_error_string(rd->tar) ?: "unknown error");
}

int layer_reader_new(int fd, uint64_t max_size, bool with_more_filters, OciError *err, LayerReader **ret) {
        _cleanup_(layer_reader_freep) LayerReader *rd = NULL;
        struct archive_entry *e;
        int r;

        rd = calloc(1, sizeof(*rd));
        if (!rd)
                return oci_error_set(err, -ENOMEM, NULL, "Out of memory.");
        sha256_init(&rd->hash);
        rd->max_size = max_size > 0 ? max_size : LAYER_UNCOMPRESSED_MAX;

        rd->decompress = archive_read_new();
        if (!rd->decompress)
                return oci_error_set(err, -ENOMEM, NULL, "Out of memory.");
        /* Built-in decoders only: an external helper program would need exec, which the sandbox denies. */
        if (archive_read_support_filter_gzip(rd->decompress) != ARCHIVE_OK ||
            archive_read_support_filter_zstd(rd->decompress) != ARCHIVE_OK ||
            archive_read_support_format_raw(rd->decompress) != ARCHIVE_OK)
                return oci_error_set(err, -EOPNOTSUPP, "Install a libarchive built with zlib and zstd.",
                                     "libarchive lacks built-in gzip or zstd support.");
        /* ADD also takes what `tar -j` and `tar -J` make. */
        if (with_more_filters && (archive_read_support_filter_bzip2(rd->decompress) != ARCHIVE_OK ||
                                  archive_read_support_filter_xz(rd->decompress) != ARCHIVE_OK))
                return oci_error_set(err, -EOPNOTSUPP, "Install a libarchive built with libbz2 and liblzma.",
                                     "libarchive lacks built-in bzip2 or xz support.");
        if (archive_read_open_fd(rd->decompress, fd, LAYER_READ_BUFFER) != ARCHIVE_OK) {
                if (archive_filter_bytes(rd->decompress, -1) == 0)
                        return oci_error_set(
                                err, -EBADMSG,
                                "A layer is a tar archive, possibly compressed; check the file.",
                                "The layer is empty.");
                snprintf(rd->decompress_error, sizeof(rd->decompress_error), "%s",
                         archive_error_string(rd->decompress) ?: "cannot read");
                return layer_reader_error(rd, err);
        }
        r = archive_read_next_header(rd->decompress, &e);
        if (r == ARCHIVE_EOF || (r < ARCHIVE_WARN && archive_filter_bytes(rd->decompress, -1) == 0))
                return oci_error_set(err, -EBADMSG,
                                     "A layer is a tar archive, possibly compressed; check the file.",
                                     "The layer is empty.");
        if (r < ARCHIVE_WARN) {
                snprintf(rd->decompress_error, sizeof(rd->decompress_error), "%s",
                         archive_error_string(rd->decompress) ?: "cannot read");
                return layer_reader_error(rd, err);
        }

        rd->tar = archive_read_new();
        if (!rd->tar)
                return oci_error_set(err, -ENOMEM, NULL, "Out of memory.");
        if (archive_read_support_format_tar(rd->tar) != ARCHIVE_OK)
                return oci_error_set(err, -EOPNOTSUPP, NULL, "libarchive lacks tar support.");
        if (archive_read_open(rd->tar, rd, NULL, layer_reader_read, NULL) != ARCHIVE_OK)
                return layer_reader_error(rd, err);

        *ret = TAKE_PTR(rd);
        return 0;
}

/* Reads whatever the tar parser left (end-of-archive padding) so the hash covers the whole stream. */
int layer_reader_drain(LayerReader *rd, OciError *err) {
        for (;;) {
                const void *buf;
                la_ssize_t n = layer_reader_read(rd->tar, rd, &buf);
                if (n < 0)
                        return layer_reader_error(rd, err);
                if (n == 0)
                        return 0;
        }
}
