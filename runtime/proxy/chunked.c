/* Chunked transfer-coding decoder: a byte-at-a-time state machine except for chunk data, which is
 * skipped in one step.  Sizes are bounded before they can overflow; bare LF and BWS are rejected. */
#include "chunked.h"

#include <errno.h>

static int hexval(uint8_t c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* The states that expect one byte of a line end and then go on to a fixed state. */
static const struct {
        uint8_t byte;
        ChunkedState next;
} line_end_table[_CHUNKED_STATE_MAX] = {
        [CHUNKED_DATA_CR] = { '\r', CHUNKED_DATA_LF },
        [CHUNKED_DATA_LF] = { '\n', CHUNKED_SIZE },
        [CHUNKED_TRAILER_LF] = { '\n', CHUNKED_TRAILER_START },
        [CHUNKED_FINAL_LF] = { '\n', CHUNKED_DONE },
};

void chunked_decoder_init(ChunkedDecoder *d) {
        *d = (ChunkedDecoder) { .state = CHUNKED_SIZE };
}

ssize_t chunked_decoder_feed(ChunkedDecoder *d, const uint8_t *data, size_t size, chunked_data_cb cb,
                             void *userdata) {
        size_t i = 0;

        while (i < size && d->state != CHUNKED_DONE) {
                uint8_t c = data[i];
                int v;

                switch (d->state) {
                case CHUNKED_SIZE:
                        v = hexval(c);
                        if (v >= 0) {
                                if (++d->digits > CHUNK_SIZE_DIGITS_MAX)
                                        return -EBADMSG;
                                d->remaining = d->remaining * 16 + (uint64_t) v;
                        } else if (d->digits == 0)
                                return -EBADMSG;
                        else if (c == ';')
                                d->state = CHUNKED_EXT;
                        else if (c == '\r')
                                d->state = CHUNKED_SIZE_LF;
                        else
                                return -EBADMSG;
                        d->line_len++;
                        i++;
                        break;
                case CHUNKED_EXT:
                        /* chunk extensions are ignored but must be printable */
                        if (c == '\r')
                                d->state = CHUNKED_SIZE_LF;
                        else if ((c < 0x20 && c != '\t') || c == 0x7f)
                                return -EBADMSG;
                        if (++d->line_len > CHUNK_LINE_MAX)
                                return -EBADMSG;
                        i++;
                        break;
                case CHUNKED_SIZE_LF:
                        if (c != '\n')
                                return -EBADMSG;
                        i++;
                        d->line_len = 0;
                        d->digits = 0;
                        d->state = d->remaining > 0 ? CHUNKED_DATA : CHUNKED_TRAILER_START;
                        break;
                case CHUNKED_DATA: {
                        size_t n = size - i;
                        if ((uint64_t) n > d->remaining)
                                n = (size_t) d->remaining;
                        if (cb)
                                cb(data + i, n, userdata);
                        d->remaining -= n;
                        i += n;
                        if (d->remaining == 0)
                                d->state = CHUNKED_DATA_CR;
                        break;
                }
                case CHUNKED_DATA_CR:
                case CHUNKED_DATA_LF:
                case CHUNKED_TRAILER_LF:
                case CHUNKED_FINAL_LF:
                        if (c != line_end_table[d->state].byte)
                                return -EBADMSG;
                        d->state = line_end_table[d->state].next;
                        i++;
                        break;
                case CHUNKED_TRAILER_START:
                        if (c == '\r')
                                d->state = CHUNKED_FINAL_LF;
                        else if (c == ' ' || c == '\t' || c == ':' || c < 0x20 || c == 0x7f)
                                return -EBADMSG; /* folding, empty name, CTL */
                        else {
                                d->trailer_has_colon = false;
                                d->state = CHUNKED_TRAILER;
                        }
                        if (++d->trailer_len > CHUNK_TRAILER_MAX)
                                return -EBADMSG;
                        i++;
                        break;
                case CHUNKED_TRAILER:
                        if (c == '\r') {
                                if (!d->trailer_has_colon)
                                        return -EBADMSG;
                                d->state = CHUNKED_TRAILER_LF;
                        } else if (c == ':')
                                d->trailer_has_colon = true;
                        else if ((c < 0x20 && c != '\t') || c == 0x7f)
                                return -EBADMSG;
                        if (++d->trailer_len > CHUNK_TRAILER_MAX)
                                return -EBADMSG;
                        i++;
                        break;
                default:
                        return -EBADMSG;
                }
        }
        return (ssize_t) i;
}
