/* slipway-proxy at its limits: how many connections fit in the open-files limit, the back-off of a
 * listener that hit EMFILE, and the counters behind the once-per-interval log lines.  Invariant: the
 * derived per-worker limit leaves every client connection a descriptor for its upstream. */
#pragma once

#include <stdatomic.h>
#include <stdint.h>

#include "upstream-pool.h"

/* descriptors the process needs besides connections: stdio, control socket and its clients, signalfd,
 * epoll, access log, routes.json writes, and the listeners of a few routes */
#define PROXY_FD_RESERVE 64U
/* per worker: epoll, eventfd, the spare descriptor for accept-and-refuse, one being accepted, and the
 * worker's copies of a few listeners */
#define PROXY_FD_RESERVE_PER_WORKER 8U
/* idle pooled upstream connections get at most this share (1/N) of a worker's descriptors */
#define PROXY_POOL_FD_SHARE 8U

/* A listener whose accept4 failed with EMFILE/ENFILE is not polled for this long, doubling up to the
 * maximum while it keeps failing. */
#define PROXY_ACCEPT_PAUSE_MIN_MS 100U
#define PROXY_ACCEPT_PAUSE_MAX_MS 1000U

/* At the connection limit a new connection that arrived with a whole request head (in its first
 * PROXY_PEEK_MAX bytes) closes the connection that waited longest for a head (half-sent or idle
 * keep-alive); any other one does so only when that one waited at least PROXY_EVICT_AGE_MIN_MS, and is
 * refused otherwise.  The last 1/PROXY_CONN_SPARE_SHARE of the limit admits newcomers whose request may
 * still be on the way; the timer tick closes connections that waited that long until the count is
 * below again. */
#define PROXY_PEEK_MAX 2048
#define PROXY_EVICT_AGE_MIN_MS 1000U
#define PROXY_CONN_SPARE_SHARE 16U
#define PROXY_EVICT_SCAN_MAX 1024U

#define PROXY_MAX_CONNS_MAX 10000000U

/* An upstream connect that fails with EMFILE/ENFILE closes a waiting client connection and tries
 * again, this many times, before the request is answered 503. */
#define PROXY_UPSTREAM_EVICT_TRIES 3

/* Limit events are logged at most once per interval, with counts. */
#define PROXY_LIMIT_LOG_INTERVAL_MS 10000U

typedef struct ProxyFdBudget {
        unsigned max_conns;     /* client connections per worker */
        unsigned pool_idle_max; /* idle upstream connections per worker */
} ProxyFdBudget;

/* Splits an open-files limit between n_workers.  Each client connection counts twice (its upstream);
 * the rest goes to the idle pool.  Always at least one connection per worker.  Pure. */
ProxyFdBudget proxy_fd_budget(uint64_t nofile, unsigned n_workers);

/* Where a worker starts to make room for newcomers: below max_conns by its spare share.  Pure. */
static inline unsigned proxy_conn_soft_limit(unsigned max_conns) {
        return max_conns - max_conns / PROXY_CONN_SPARE_SHARE;
}

/* Raises the soft RLIMIT_NOFILE to the hard one; returns the soft limit now in force (>= 0) or -errno. */
int proxy_raise_nofile(uint64_t *ret_nofile);

/* The next pause of a listener after one more EMFILE (0: none yet). Pure. */
unsigned proxy_accept_pause_next(unsigned cur_ms);

/* Shared by the workers (they count) and the control thread (it logs, proxy_limits_report). */
typedef enum ProxyLimitEvent {
        PROXY_LIMIT_REFUSED,      /* at the connection limit: a new connection answered 503 */
        PROXY_LIMIT_EVICTED,      /* at the connection limit: a waiting connection closed to make room */
        PROXY_LIMIT_FD_EXHAUSTED, /* accept4 failed with EMFILE/ENFILE */
        PROXY_LIMIT_FD_EVICTED,   /* ... (or an upstream connect did) and a waiting connection was closed */
        PROXY_LIMIT_FD_REFUSED,   /* ... or a new connection answered 503 through the spare descriptor */
        PROXY_LIMIT_FD_PAUSES,    /* ... or the listener was paused */
        PROXY_LIMIT_FD_UPSTREAM,  /* an upstream connect failed with EMFILE/ENFILE: 503 */
        _PROXY_LIMIT_EVENT_MAX,
} ProxyLimitEvent;

typedef struct ProxyLimitCounters {
        _Atomic uint64_t count[_PROXY_LIMIT_EVENT_MAX];
        uint64_t logged[_PROXY_LIMIT_EVENT_MAX]; /* control thread only */
        uint64_t last_log_ms;                    /* control thread only */
} ProxyLimitCounters;

static inline void proxy_limit_count(ProxyLimitCounters *c, ProxyLimitEvent e) {
        atomic_fetch_add_explicit(&c->count[e], 1, memory_order_relaxed);
}

/* Logs what happened since the last line, if anything did and the interval has passed. */
void proxy_limits_report(ProxyLimitCounters *c, unsigned max_conns, uint64_t nofile, uint64_t now_ms);
