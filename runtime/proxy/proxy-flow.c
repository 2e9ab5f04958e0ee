/* Body framing and sending for one direction (proxy-flow.h): content-length counting, chunked
 * validation (passed through, or decoded in place for HTTP/1.0 clients), until-EOF and tunnels.
 * Invariant: decoding in place never lets output overtake input within raw. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "proxy-flow.h"

typedef struct Dechunk {
        char *dst;
        size_t n;
} Dechunk;

static void dechunk_cb(const uint8_t *data, size_t size, void *userdata) {
        Dechunk *d = userdata;
        /* output never overtakes input, so compacting in place is safe */
        memmove(d->dst + d->n, data, size);
        d->n += size;
}

int flow_scan_framed(Flow *f) {
        uint32_t avail = buf_len(&f->raw) - f->fwd;
        ssize_t r;

        if (avail == 0 || f->done)
                return 0;
        switch (f->mode) {
        case FLOW_NONE:
                return 0;
        case FLOW_LENGTH: {
                uint32_t n = (uint64_t) avail < f->remaining ? avail : (uint32_t) f->remaining;
                f->fwd += n;
                f->remaining -= n;
                if (f->remaining == 0)
                        f->done = true;
                return 0;
        }
        case FLOW_CHUNKED:
                r = chunked_decoder_feed(&f->chunked, (const uint8_t *) f->raw.data + f->raw.start + f->fwd,
                                         avail, NULL, NULL);
                if (r < 0)
                        return (int) r;
                f->fwd += (uint32_t) r;
                if (chunked_decoder_done(&f->chunked))
                        f->done = true;
                return 0;
        case FLOW_DECHUNK: {
                char *src = f->raw.data + f->raw.start + f->fwd;
                Dechunk d = { .dst = src };
                r = chunked_decoder_feed(&f->chunked, (const uint8_t *) src, avail, dechunk_cb, &d);
                if (r < 0)
                        return (int) r;
                /* drop the framing bytes between the decoded data and the unread rest */
                memmove(src + d.n, src + r, avail - (size_t) r);
                f->raw.end -= (uint32_t) ((size_t) r - d.n);
                f->fwd += (uint32_t) d.n;
                if (chunked_decoder_done(&f->chunked))
                        f->done = true;
                return 0;
        }
        case FLOW_EOF:
        case FLOW_TUNNEL:
                f->fwd += avail;
                return 0;
        }
        return 0;
}

void flow_start_body(Flow *f, HttpBody body, uint64_t length) {
        flow_reset_body(f);
        switch (body) {
        case HTTP_BODY_LENGTH:
                f->mode = FLOW_LENGTH;
                f->remaining = length;
                break;
        case HTTP_BODY_CHUNKED:
                f->mode = FLOW_CHUNKED;
                chunked_decoder_init(&f->chunked);
                break;
        case HTTP_BODY_EOF:
                f->mode = FLOW_EOF;
                break;
        default:
                f->mode = FLOW_NONE;
                f->done = true;
        }
}

ssize_t flow_send(Flow *f, int fd) {
        struct iovec iov[2];
        int n = 0;
        ssize_t k;
        uint32_t hp = f->head_len - f->head_sent;

        if (hp > 0)
                iov[n++] = (struct iovec) { f->head + f->head_sent, hp };
        if (f->fwd > 0)
                iov[n++] = (struct iovec) { f->raw.data + f->raw.start, f->fwd };
        if (n == 0)
                return 0;
        k = n == 1 ? send(fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL) : writev(fd, iov, n);
        if (k < 0)
                return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
        if ((uint32_t) k <= hp) {
                f->head_sent += (uint32_t) k;
                return k;
        }
        f->head_sent = f->head_len;
        buf_consume(&f->raw, (uint32_t) k - hp);
        f->fwd -= (uint32_t) k - hp;
        f->sent += (uint64_t) k - hp;
        return k;
}
