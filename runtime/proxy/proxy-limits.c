/* Descriptor budget, accept back-off and limit logging of slipway-proxy (proxy-limits.h).  Workers only
 * increment the counters; the control thread turns them into at most one log line per interval. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/resource.h>

#include "log.h"
#include "macro.h"
#include "proxy-limits.h"

ProxyFdBudget proxy_fd_budget(uint64_t nofile, unsigned n_workers) {
        uint64_t reserve, per;
        ProxyFdBudget b;

        n_workers = MAX(n_workers, 1U);
        reserve = PROXY_FD_RESERVE + (uint64_t) n_workers * PROXY_FD_RESERVE_PER_WORKER;
        per = nofile > reserve ? (nofile - reserve) / n_workers : 0;
        b.pool_idle_max = (unsigned) MIN(per / PROXY_POOL_FD_SHARE, (uint64_t) POOL_IDLE_MAX);
        b.max_conns = (unsigned) MIN((per - b.pool_idle_max) / 2, (uint64_t) PROXY_MAX_CONNS_MAX);
        b.max_conns = MAX(b.max_conns, 1U);
        return b;
}

int proxy_raise_nofile(uint64_t *ret_nofile) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return -errno;
        if (rl.rlim_cur < rl.rlim_max) {
                struct rlimit want = { .rlim_cur = rl.rlim_max, .rlim_max = rl.rlim_max };
                if (setrlimit(RLIMIT_NOFILE, &want) == 0)
                        rl.rlim_cur = rl.rlim_max;
        }
        *ret_nofile = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t) rl.rlim_cur;
        return 0;
}

unsigned proxy_accept_pause_next(unsigned cur_ms) {
        if (cur_ms < PROXY_ACCEPT_PAUSE_MIN_MS)
                return PROXY_ACCEPT_PAUSE_MIN_MS;
        return MIN(cur_ms * 2, PROXY_ACCEPT_PAUSE_MAX_MS);
}

void proxy_limits_report(ProxyLimitCounters *c, unsigned max_conns, uint64_t nofile, uint64_t now_ms) {
        uint64_t d[_PROXY_LIMIT_EVENT_MAX], any = 0;
        char when[64];

        if (c->last_log_ms != 0 && now_ms - c->last_log_ms < PROXY_LIMIT_LOG_INTERVAL_MS)
                return;
        for (unsigned i = 0; i < _PROXY_LIMIT_EVENT_MAX; i++) {
                uint64_t v = atomic_load_explicit(&c->count[i], memory_order_relaxed);
                d[i] = v - c->logged[i];
                c->logged[i] = v;
                any |= d[i];
        }
        if (!any)
                return;
        /* the first line comes at once; later ones cover the time since the one before */
        if (c->last_log_ms == 0)
                snprintf(when, sizeof(when), ".");
        else
                snprintf(when, sizeof(when), " in the last %" PRIu64 " s.",
                         (now_ms - c->last_log_ms + 500) / 1000);
        c->last_log_ms = now_ms;
        if (d[PROXY_LIMIT_REFUSED] || d[PROXY_LIMIT_EVICTED])
                log_warning("At the connection limit (%u per worker): refused %" PRIu64 " new connection(s) "
                            "with 503 and closed %" PRIu64 " waiting one(s) to make room%s",
                            max_conns, d[PROXY_LIMIT_REFUSED], d[PROXY_LIMIT_EVICTED], when);
        if (d[PROXY_LIMIT_FD_EXHAUSTED] || d[PROXY_LIMIT_FD_UPSTREAM])
                log_warning("Out of file descriptors (open-files limit %" PRIu64
                            "): accepting failed %" PRIu64 " time(s); closed %" PRIu64
                            " waiting connection(s), refused %" PRIu64 " with 503, paused accepting %" PRIu64
                            " time(s); answered 503 to %" PRIu64
                            " request(s) that needed an upstream connection%s Raise the hard open-files "
                            "limit (LimitNOFILE=) or serve fewer routes.",
                            nofile, d[PROXY_LIMIT_FD_EXHAUSTED], d[PROXY_LIMIT_FD_EVICTED],
                            d[PROXY_LIMIT_FD_REFUSED], d[PROXY_LIMIT_FD_PAUSES], d[PROXY_LIMIT_FD_UPSTREAM],
                            when);
}
