/* Upstream connections and the idle pool (upstream-pool.h).  Invariant: n_idle counts exactly the
 * connections on the idle list, and only those have pooled set. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "macro.h"
#include "upstream-pool.h"

static void pool_unlink(UpstreamPool *p, Upstream *u) {
        if (u->prev)
                u->prev->next = u->next;
        else
                p->idle = u->next;
        if (u->next)
                u->next->prev = u->prev;
        p->n_idle--;
}

void upstream_close(UpstreamPool *p, Upstream *u) {
        if (!u || u->dead)
                return;
        u->dead = true;
        if (u->pooled)
                pool_unlink(p, u);
        u->conn = NULL;
        (void) epoll_ctl(p->epoll_fd, EPOLL_CTL_DEL, u->fd, NULL);
        safe_close(u->fd);
        u->fd = -EBADF;
        u->next = p->graveyard;
        p->graveyard = u;
}

void upstream_pool_put(UpstreamPool *p, Upstream *u, bool closing, uint64_t now_ms) {
        if (p->n_idle >= p->idle_max || closing || u->eof || u->connecting) {
                upstream_close(p, u);
                return;
        }
        u->conn = NULL;
        u->pooled = true;
        u->idle_since_ms = now_ms;
        u->prev = NULL;
        u->next = p->idle;
        if (p->idle)
                p->idle->prev = u;
        p->idle = u;
        p->n_idle++;
}

Upstream *upstream_pool_get(UpstreamPool *p, const ProxyAddr *addr) {
        for (Upstream *u = p->idle; u; u = u->next)
                if (proxy_addr_equal(&u->addr, addr)) {
                        pool_unlink(p, u);
                        u->next = u->prev = NULL;
                        u->pooled = false;
                        return u;
                }
        return NULL;
}

int upstream_connect(UpstreamPool *p, const ProxyAddr *addr, Upstream **ret) {
        _cleanup_close_ int fd = -EBADF;
        struct epoll_event ev;
        Upstream *u;
        int one = 1;

        fd = socket(addr->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        u = calloc(1, sizeof(Upstream));
        if (!u)
                return -ENOMEM;
        u->ev.type = EV_UPSTREAM;
        u->addr = *addr;
        if (connect(fd, (const struct sockaddr *) &addr->sa, addr->len) < 0) {
                if (errno != EINPROGRESS) {
                        int r = -errno;
                        free(u);
                        return r;
                }
                u->connecting = true;
        } else
                u->writable = true;
        ev = (struct epoll_event) { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = u };
        if (epoll_ctl(p->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                int r = -errno;
                free(u);
                return r;
        }
        u->fd = TAKE_FD(fd);
        *ret = u;
        return 0;
}

void upstream_pool_expire(UpstreamPool *p, uint64_t now_ms) {
        for (Upstream *u = p->idle, *n; u; u = n) {
                n = u->next;
                if (now_ms - u->idle_since_ms >= POOL_IDLE_TIMEOUT_MS)
                        upstream_close(p, u);
        }
}

static bool table_uses_addr(const RouteTable *t, const ProxyAddr *a) {
        for (size_t i = 0; i < t->n_routes; i++)
                for (size_t k = 0; k < t->routes[i].n_targets; k++)
                        if (proxy_addr_equal(&t->routes[i].targets[k].addr, a))
                                return true;
        return false;
}

void upstream_pool_prune(UpstreamPool *p, const RouteTable *t) {
        for (Upstream *u = p->idle, *next; u; u = next) {
                next = u->next;
                if (!table_uses_addr(t, &u->addr))
                        upstream_close(p, u);
        }
}

void upstream_pool_close_all(UpstreamPool *p) {
        while (p->idle)
                upstream_close(p, p->idle);
}

void upstream_pool_bury(UpstreamPool *p) {
        while (p->graveyard) {
                Upstream *u = p->graveyard;
                p->graveyard = u->next;
                free(u);
        }
}
