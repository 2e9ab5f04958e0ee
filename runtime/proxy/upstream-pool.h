/* Connections from a worker to upstream targets: connecting, and a per-worker pool of idle keep-alive
 * connections reused by address.  Invariant: a connection is pooled (on the idle list, conn == NULL)
 * or owned by exactly one client connection; a closed one waits in the graveyard until the worker's
 * event batch is done, so stale epoll events never touch freed memory. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "proxy-addr.h"
#include "proxy-event.h"
#include "route-table.h"

/* idle connections a worker keeps at most; fewer when the open-files limit is low (proxy-limits.h) */
#define POOL_IDLE_MAX 1024U
/* below the keep-alive timeout of common servers (Node.js: 5 s), so we rarely reuse a connection the
 * upstream is closing at that moment */
#define POOL_IDLE_TIMEOUT_MS 4000U

typedef struct Conn Conn;

typedef struct Upstream {
        EvSrc ev;
        int fd;
        Conn *conn; /* NULL while pooled */
        ProxyAddr addr;
        bool connecting, readable, writable, rdhup, eof, reused, dead, shut_wr, pooled;
        struct Upstream *next, *prev;
        uint64_t idle_since_ms;
} Upstream;

typedef struct UpstreamPool {
        int epoll_fd; /* the worker's; not owned */
        Upstream *idle;
        unsigned n_idle, idle_max;
        Upstream *graveyard;
} UpstreamPool;

/* Starts a non-blocking connect and registers the socket (edge-triggered).  Returns 0 or -errno. */
int upstream_connect(UpstreamPool *p, const ProxyAddr *addr, Upstream **ret);
/* Closes u (pooled or not) and moves it to the graveyard; NULL and already closed are no-ops. */
void upstream_close(UpstreamPool *p, Upstream *u);
/* Keeps u for reuse, or closes it when it cannot be reused or the pool is full or closing. */
void upstream_pool_put(UpstreamPool *p, Upstream *u, bool closing, uint64_t now_ms);
/* Takes an idle connection to addr out of the pool, or returns NULL. */
Upstream *upstream_pool_get(UpstreamPool *p, const ProxyAddr *addr);
/* Closes idle connections older than POOL_IDLE_TIMEOUT_MS. */
void upstream_pool_expire(UpstreamPool *p, uint64_t now_ms);
/* Closes idle connections to addresses no route of t uses any more. */
void upstream_pool_prune(UpstreamPool *p, const RouteTable *t);
void upstream_pool_close_all(UpstreamPool *p);
/* Frees the graveyard. */
void upstream_pool_bury(UpstreamPool *p);
