/* Unit tests for slipway-proxy's descriptor budget and accept back-off: every client connection keeps a
 * descriptor for its upstream, the whole never exceeds the open-files limit, tiny limits still allow a
 * connection, and a paused listener backs off 100 ms doubling to 1 s. */
#include <stdio.h>

#include "proxy-limits.h"

#include "tests.h"

/* the most descriptors the budget lets the process hold */
static uint64_t worst_case(ProxyFdBudget b, unsigned n_workers) {
        return PROXY_FD_RESERVE +
               (uint64_t) n_workers * (PROXY_FD_RESERVE_PER_WORKER + 2ULL * b.max_conns + b.pool_idle_max);
}

static void test_budget_fits(void) {
        static const uint64_t limits[] = { 256, 1024, 4096, 20000, 65536, 524288, 1048576 };
        for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
                for (unsigned w = 1; w <= 16; w *= 2) {
                        ProxyFdBudget b = proxy_fd_budget(limits[i], w);
                        CHECK(b.max_conns >= 1);
                        CHECK(worst_case(b, w) <= limits[i]);
                        /* and it uses most of what there is */
                        CHECK(worst_case(b, w) + 2ULL * w + PROXY_FD_RESERVE_PER_WORKER * w >=
                              limits[i] / 2);
                        CHECK(b.pool_idle_max <= POOL_IDLE_MAX);
                }
}

static void test_budget_issue_case(void) {
        /* the case that spun: 2 workers × 20 000 allowed against an open-files limit of 20 000 */
        ProxyFdBudget b = proxy_fd_budget(20000, 2);
        CHECK(2ULL * 2 * b.max_conns < 20000);
        CHECK(b.max_conns > 4000);
        CHECK(b.pool_idle_max == POOL_IDLE_MAX);
        /* the systemd default hard limit leaves plenty */
        CHECK(proxy_fd_budget(524288, 2).max_conns > 100000);
}

static void test_budget_tiny(void) {
        CHECK(proxy_fd_budget(0, 2).max_conns == 1);
        CHECK(proxy_fd_budget(PROXY_FD_RESERVE, 1).max_conns == 1);
        CHECK(proxy_fd_budget(256, 0).max_conns >= 1); /* 0 workers counts as one */
        CHECK(proxy_fd_budget(UINT64_MAX, 1).max_conns == PROXY_MAX_CONNS_MAX);
}

static void test_pause(void) {
        unsigned p = 0;
        CHECK(proxy_accept_pause_next(p) == PROXY_ACCEPT_PAUSE_MIN_MS);
        p = proxy_accept_pause_next(p);
        CHECK(proxy_accept_pause_next(p) == 2 * PROXY_ACCEPT_PAUSE_MIN_MS);
        for (int i = 0; i < 20; i++)
                p = proxy_accept_pause_next(p);
        CHECK(p == PROXY_ACCEPT_PAUSE_MAX_MS);
}

int main(void) {
        test_budget_fits();
        test_budget_issue_case();
        test_budget_tiny();
        test_pause();
        printf("test-proxy-limits: ok\n");
        return 0;
}
