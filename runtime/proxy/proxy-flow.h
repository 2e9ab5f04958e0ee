/* One direction of a proxied exchange (client → upstream or back): raw bytes from the source, a
 * rewritten head to send first, then the body as far as its framing allows.  Invariant: only bytes
 * the framing validated (fwd) are ever sent, so both ends agree where a message ends. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>

#include "chunked.h"
#include "http-parser.h"
#include "proxy-buffer.h"

typedef enum FlowMode {
        FLOW_NONE, /* no body being forwarded */
        FLOW_LENGTH,
        FLOW_CHUNKED,
        FLOW_DECHUNK, /* chunked from the upstream, plain to an HTTP/1.0 client */
        FLOW_EOF,     /* until the source closes */
        FLOW_TUNNEL,
} FlowMode;

typedef struct Flow {
        Buf raw;
        char *head;
        uint32_t head_len, head_sent;
        FlowMode mode;
        bool done; /* end of body seen; fwd may still hold bytes to send */
        uint64_t remaining;
        ChunkedDecoder chunked;
        uint32_t fwd; /* validated body bytes at raw.start, ready to send */
        size_t scan;
        uint64_t sent;
} Flow;

static inline void flow_reset_body(Flow *f) {
        f->mode = FLOW_NONE;
        f->done = false;
        f->remaining = 0;
        f->fwd = 0;
        f->scan = 0;
        f->sent = 0;
}

static inline void flow_free_head(Flow *f) {
        free(f->head);
        f->head = NULL;
        f->head_len = f->head_sent = 0;
}

static inline bool flow_head_pending(const Flow *f) {
        return f->head_sent < f->head_len;
}

/* True when the head and every body byte have been sent. */
static inline bool flow_complete(const Flow *f) {
        return !flow_head_pending(f) && f->done && f->fwd == 0;
}

void flow_start_body(Flow *f, HttpBody body, uint64_t length);

int flow_scan_framed(Flow *f);
/* Marks as many buffered bytes as the framing allows as ready to forward. Returns -EBADMSG on a
 * malformed chunked body.  Called every round of a connection: the common nothing-to-do case stays
 * inline. */
static inline int flow_scan(Flow *f) {
        if (buf_len(&f->raw) == f->fwd || f->done)
                return 0;
        return flow_scan_framed(f);
}

/* Sends the pending head and forwardable body bytes to fd.  Returns bytes sent (>= 0), -EAGAIN when
 * the socket is full, or another -errno. */
ssize_t flow_send(Flow *f, int fd);
