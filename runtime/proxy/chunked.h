/* Incremental decoder for the chunked transfer coding (RFC 9112 7.1).  The proxy passes chunked
 * bodies through verbatim; the decoder only finds where the body ends and rejects anything malformed,
 * so both ends of the proxy agree on message boundaries. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CHUNK_SIZE_DIGITS_MAX 15U /* hex digits in a chunk size (< 2^60) */
#define CHUNK_LINE_MAX 4096U      /* chunk-size line incl. extensions */
#define CHUNK_TRAILER_MAX (16U * 1024U)

typedef enum ChunkedState {
        CHUNKED_SIZE,
        CHUNKED_EXT,
        CHUNKED_SIZE_LF,
        CHUNKED_DATA,
        CHUNKED_DATA_CR,
        CHUNKED_DATA_LF,
        CHUNKED_TRAILER_START, /* at the start of a trailer line (or the final empty line) */
        CHUNKED_TRAILER,
        CHUNKED_TRAILER_LF,
        CHUNKED_FINAL_LF,
        CHUNKED_DONE,
        _CHUNKED_STATE_MAX,
} ChunkedState;

typedef struct ChunkedDecoder {
        ChunkedState state;
        uint64_t remaining; /* data bytes left in the current chunk */
        unsigned digits;
        size_t line_len;
        size_t trailer_len;
        bool trailer_has_colon;
} ChunkedDecoder;

/* Called with each run of decoded payload bytes (may be NULL). */
typedef void (*chunked_data_cb)(const uint8_t *data, size_t size, void *userdata);

void chunked_decoder_init(ChunkedDecoder *d);
/* Consumes bytes until the end of the body or of the input.  Returns the number of bytes consumed
 * (which is < size only when the body ended), or -EBADMSG for malformed input. */
ssize_t chunked_decoder_feed(ChunkedDecoder *d, const uint8_t *data, size_t size, chunked_data_cb cb,
                             void *userdata);
static inline bool chunked_decoder_done(const ChunkedDecoder *d) {
        return d->state == CHUNKED_DONE;
}
