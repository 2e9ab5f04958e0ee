/* Buffer recycling and socket reads for proxy-buffer.h.  Invariant: a released buffer goes back to
 * the cache while it has room, else to free(); the cache holds at most BUF_CACHE_MAX buffers. */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "proxy-buffer.h"

void buf_release(BufCache *cache, Buf *b) {
        if (!b->data)
                return;
        if (cache->n < BUF_CACHE_MAX)
                cache->slots[cache->n++] = b->data;
        else
                free(b->data);
        b->data = NULL;
        b->start = b->end = 0;
}

void buf_cache_clear(BufCache *cache) {
        while (cache->n > 0)
                free(cache->slots[--cache->n]);
}

ssize_t buf_recv(int fd, Buf *b, bool *readable, bool rdhup, bool *eof, bool *error) {
        uint32_t space = CONN_BUF_SIZE - b->end;
        ssize_t n;

        if (space == 0)
                return 0;
        n = recv(fd, b->data + b->end, space, 0);
        if (n > 0) {
                b->end += (uint32_t) n;
                if ((uint32_t) n < space && !rdhup)
                        *readable = false;
                return n;
        }
        if (n == 0) {
                *eof = true;
                return 1;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
                *readable = false;
                return 0;
        }
        if (errno == EINTR)
                return 0;
        *eof = true;
        *error = true;
        return 1;
}
