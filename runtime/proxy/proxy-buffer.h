/* Bounded byte buffers of a worker: per-direction socket buffers (Buf, recycled through a small
 * per-worker cache so idle connections hold none) and a fixed-capacity writer (Out) for heads and log
 * lines.  Invariant: a Buf never holds more than CONN_BUF_SIZE bytes; an Out never writes past cap. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define CONN_BUF_SIZE (32U * 1024U)
#define BUF_CACHE_MAX 32U /* per worker: 1 MiB of warm buffers */

typedef struct Buf {
        char *data;
        uint32_t start, end;
} Buf;

typedef struct BufCache {
        char *slots[BUF_CACHE_MAX];
        unsigned n;
} BufCache;

/* Gives b storage (from the cache when it has some) and room at its end when it is full at the back. */
static inline int buf_prepare(BufCache *cache, Buf *b) {
        if (!b->data) {
                b->data = cache->n > 0 ? cache->slots[--cache->n] : malloc(CONN_BUF_SIZE);
                if (!b->data)
                        return -ENOMEM;
                b->start = b->end = 0;
        }
        if (b->end == CONN_BUF_SIZE && b->start > 0) {
                memmove(b->data, b->data + b->start, b->end - b->start);
                b->end -= b->start;
                b->start = 0;
        }
        return 0;
}

static inline uint32_t buf_len(const Buf *b) {
        return b->end - b->start;
}

static inline void buf_consume(Buf *b, uint32_t n) {
        b->start += n;
        if (b->start == b->end)
                b->start = b->end = 0;
}

void buf_release(BufCache *cache, Buf *b);

/* Release the buffer only when it holds nothing: idle connections then cost no buffer memory. */
static inline void buf_trim(BufCache *cache, Buf *b) {
        if (b->data && b->start == b->end)
                buf_release(cache, b);
}

void buf_cache_clear(BufCache *cache);

/* Reads what fits into b from a non-blocking socket.  Returns bytes read (> 0), 1 at end of stream
 * or on a socket error (*eof set, and *error for an error), 0 when nothing was read; clears
 * *readable once the socket is drained (edge-triggered epoll: no event until new data). */
ssize_t buf_recv(int fd, Buf *b, bool *readable, bool rdhup, bool *eof, bool *error);

typedef struct Out {
        char *p;
        size_t len, cap;
        bool overflow;
} Out;

static inline void out_put(Out *o, const char *s, size_t n) {
        if (o->len + n > o->cap) {
                o->overflow = true;
                return;
        }
        memcpy(o->p + o->len, s, n);
        o->len += n;
}

static inline void out_str(Out *o, const char *s) {
        out_put(o, s, strlen(s));
}
