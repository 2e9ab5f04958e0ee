/* The layer reader: a size-bounded, hashing decompressor feeding a tar parser (internal to the layer
 * unpacker). */
#pragma once

#include <archive.h>
#include <stdbool.h>
#include <stdint.h>

#include "digest.h"
#include "macro.h"
#include "oci-error.h"

#define LAYER_READ_BUFFER (128U * 1024U)

/* Two archive readers: "decompress" auto-detects the compression and yields the raw tar stream;
 * "tar" parses that stream, pulling it through layer_reader_read(), which hashes it on the way. */
typedef struct LayerReader {
        struct archive *decompress;
        struct archive *tar;
        Sha256 hash;
        uint64_t size, max_size;
        bool eof, too_big;
        char decompress_error[256];
        char buf[LAYER_READ_BUFFER];
} LayerReader;

/* Opens fd (gzip, zstd or plain tar; with_more_filters: bzip2 and xz too, for ADD) for reading at most
 * max_size uncompressed bytes (0: LAYER_UNCOMPRESSED_MAX). */
int layer_reader_new(int fd, uint64_t max_size, bool with_more_filters, OciError *err, LayerReader **ret);
void layer_reader_free(LayerReader *rd);
DEFINE_TRIVIAL_CLEANUP_FUNC(LayerReader *, layer_reader_free);
/* The reason the stream failed (too big, not decompressible, not tar) as an OciError; returns its errno. */
int layer_reader_error(LayerReader *rd, OciError *err);
/* Reads whatever the tar parser left (end-of-archive padding) so the hash covers the whole stream. */
int layer_reader_drain(LayerReader *rd, OciError *err);
