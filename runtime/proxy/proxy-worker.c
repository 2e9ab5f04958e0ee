/* Worker thread: one edge-triggered epoll loop that accepts client connections, dispatches socket
 * events to their connection state machines (proxy-conn.c), runs control commands and the 100 ms
 * timer tick.  Invariant: objects closed during an event batch are freed only after it (worker_bury),
 * and a connection that yields with work left is run again before the loop waits. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "proxy-conn.h"
#include "proxy-worker.h"

#define TICK_MS 100U
#define EVENTS_MAX 256
#define ACCEPT_BATCH 64

/* What an epoll event tells about a client or upstream socket.  Edge-triggered: the flags are only set
 * here, and the connection clears them when a read or write finds nothing more to do.  A hang-up or an
 * error counts as readable and writable, so that the next read or write reports it. */
static inline void worker_mark_ready(uint32_t events, bool *readable, bool *rdhup, bool *writable) {
        if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                *readable = true;
        if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                *rdhup = true;
        if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
                *writable = true;
}

static void worker_refuse(int fd) {
        static const char refuse[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                                     "Content-Length: 42\r\nConnection: close\r\n\r\n"
                                     "503: the proxy is at its connection limit\n";
        /* static and unparsed: refusing must stay cheap when many arrive */
        (void) send(fd, refuse, sizeof(refuse) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void) shutdown(fd, SHUT_WR);
        close(fd);
}

/* Whether a new connection already holds a whole request head (peeked, not consumed; a head longer
 * than the peek counts as not whole). */
static bool worker_peek_whole_head(int fd) {
        char b[PROXY_PEEK_MAX];
        ssize_t k = recv(fd, b, sizeof(b), MSG_PEEK | MSG_DONTWAIT);
        return k >= 4 && memmem(b, (size_t) k, "\r\n\r\n", 4);
}

static void worker_admit(WorkerState *ws, WListener *l, int fd, const struct sockaddr_storage *peer,
                         socklen_t pl) {
        int one = 1;
        Conn *c;

        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (conn_new(ws, fd, (const struct sockaddr *) peer, pl, l->id, &c) < 0) {
                close(fd);
                return;
        }
        conn_process(ws, c);
}

/* accept4 ran out of descriptors.  Make room by closing a connection that only waits; else answer the
 * waiting clients 503 through the spare descriptor, so the backlog drains and the level-triggered
 * listener stops waking the loop; when even that fails (another thread took the descriptor), stop
 * polling the listener for a while instead of spinning.  Returns whether accepting may go on. */
static bool worker_out_of_fds(WorkerState *ws, WListener *l) {
        ProxyLimitCounters *lc = &ws->s->limits;
        int err = EMFILE;

        proxy_limit_count(lc, PROXY_LIMIT_FD_EXHAUSTED);
        if (conn_evict_waiting(ws, PROXY_EVICT_AGE_MIN_MS)) {
                proxy_limit_count(lc, PROXY_LIMIT_FD_EVICTED);
                return true;
        }
        if (ws->spare_fd >= 0) {
                ws->spare_fd = safe_close(ws->spare_fd);
                for (int i = 0; i < ACCEPT_BATCH; i++) {
                        struct sockaddr_storage peer;
                        socklen_t pl = sizeof(peer);
                        int fd =
                                accept4(l->fd, (struct sockaddr *) &peer, &pl, SOCK_NONBLOCK | SOCK_CLOEXEC);
                        if (fd < 0) {
                                err = errno;
                                break;
                        }
                        /* as at the connection limit: a whole request head displaces a waiting one */
                        if (!ws->shutting_down && worker_peek_whole_head(fd) && conn_evict_waiting(ws, 0)) {
                                proxy_limit_count(lc, PROXY_LIMIT_FD_EVICTED);
                                ws->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                                worker_admit(ws, l, fd, &peer, pl);
                                return true;
                        }
                        worker_refuse(fd);
                        proxy_limit_count(lc, PROXY_LIMIT_FD_REFUSED);
                        err = 0;
                }
                ws->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                /* drained, or a full batch answered (the listener fires again) */
                if (ws->spare_fd >= 0 && (err == 0 || err == EAGAIN || err == EWOULDBLOCK))
                        return false;
        }
        l->pause_ms = proxy_accept_pause_next(l->pause_ms);
        l->paused_until_ms = ws->now_ms + l->pause_ms;
        l->paused = true;
        (void) epoll_ctl(ws->w->epoll_fd, EPOLL_CTL_DEL, l->fd, NULL);
        proxy_limit_count(lc, PROXY_LIMIT_FD_PAUSES);
        return false;
}

static void worker_resume_listeners(WorkerState *ws) {
        /* the spare descriptor is lost when another thread took the one it gave up */
        if (ws->spare_fd < 0)
                ws->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        for (WListener *l = ws->listeners; l; l = l->next) {
                struct epoll_event ev = { .events = EPOLLIN, .data.ptr = l };
                if (!l->paused || ws->now_ms < l->paused_until_ms)
                        continue;
                l->paused = false;
                if (epoll_ctl(ws->w->epoll_fd, EPOLL_CTL_ADD, l->fd, &ev) < 0) {
                        /* no memory for the registration: try again later */
                        l->paused = true;
                        l->paused_until_ms = ws->now_ms + PROXY_ACCEPT_PAUSE_MAX_MS;
                }
        }
}

static void worker_accept(WorkerState *ws, WListener *l) {
        Server *s = ws->s;

        for (int i = 0; i < ACCEPT_BATCH && !l->paused; i++) {
                struct sockaddr_storage peer;
                socklen_t pl = sizeof(peer);
                int fd;

                fd = accept4(l->fd, (struct sockaddr *) &peer, &pl, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) {
                        if ((errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) &&
                            worker_out_of_fds(ws, l))
                                continue;
                        return;
                }
                l->pause_ms = 0;
                if (ws->shutting_down) {
                        worker_refuse(fd);
                        continue;
                }
                if (ws->n_conns >= proxy_conn_soft_limit(s->cfg.max_conns)) {
                        /* A client that came with a whole request head displaces the connection that
                         * waited longest for one.  Any other is let in above the soft limit
                         * (worker_trim makes room later), and at the limit displaces only one that
                         * waited a while: half-sent heads cannot push each other out in a loop. */
                        bool whole = worker_peek_whole_head(fd);
                        bool full = ws->n_conns >= s->cfg.max_conns;
                        if (whole || full) {
                                if (conn_evict_waiting(ws, whole ? 0 : PROXY_EVICT_AGE_MIN_MS))
                                        proxy_limit_count(&s->limits, PROXY_LIMIT_EVICTED);
                                else if (full) {
                                        worker_refuse(fd);
                                        proxy_limit_count(&s->limits, PROXY_LIMIT_REFUSED);
                                        continue;
                                }
                        }
                }
                worker_admit(ws, l, fd, &peer, pl);
        }
}

static void worker_refresh_table(WorkerState *ws) {
        Server *s = ws->s;
        RouteTable *t;

        if (atomic_load_explicit(&s->generation, memory_order_acquire) == ws->gen)
                return;
        pthread_mutex_lock(&s->table_lock);
        t = s->table;
        route_table_ref(t);
        pthread_mutex_unlock(&s->table_lock);
        if (ws->table)
                route_table_unref(ws->table);
        ws->table = t;
        ws->gen = t->generation;
        /* idle connections to targets no route uses any more are closed at once */
        upstream_pool_prune(&ws->pool, t);
        atomic_store_explicit(&ws->w->seen_generation, ws->gen, memory_order_release);
}

static void worker_begin_shutdown(WorkerState *ws) {
        ws->shutting_down = true;
        ws->shutdown_deadline_ms = ws->now_ms + ws->s->cfg.shutdown_timeout_ms;
        for (WListener *l = ws->listeners, *n; l; l = n) {
                n = l->next;
                (void) epoll_ctl(ws->w->epoll_fd, EPOLL_CTL_DEL, l->fd, NULL);
                safe_close(l->fd);
                free(l);
        }
        ws->listeners = NULL;
        for (Conn *c = ws->conns, *n; c; c = n) {
                n = c->next;
                if (c->phase == PHASE_IDLE && buf_len(&c->req.raw) == 0)
                        conn_close(ws, c);
                else
                        c->close_after = true;
        }
        upstream_pool_close_all(&ws->pool);
}

static void worker_commands(WorkerState *ws) {
        Worker *w = ws->w;
        WorkerCmd *cmds;
        size_t n;
        uint64_t v;

        if (read(w->event_fd, &v, sizeof(v)) < 0)
                v = 0;
        pthread_mutex_lock(&w->cmd_lock);
        cmds = w->cmds;
        n = w->n_cmds;
        w->cmds = NULL;
        w->n_cmds = w->cmd_cap = 0;
        pthread_mutex_unlock(&w->cmd_lock);

        for (size_t i = 0; i < n; i++) {
                WorkerCmd *cmd = &cmds[i];
                switch (cmd->type) {
                case WORKER_CMD_ADD_LISTENER: {
                        WListener *l = calloc(1, sizeof(WListener));
                        struct epoll_event ev;
                        if (!l || ws->shutting_down) {
                                free(l);
                                safe_close(cmd->fd);
                                break;
                        }
                        l->ev.type = EV_LISTENER;
                        l->id = cmd->listener_id;
                        l->fd = cmd->fd;
                        ev = (struct epoll_event) { .events = EPOLLIN, .data.ptr = l };
                        if (epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, l->fd, &ev) < 0) {
                                safe_close(l->fd);
                                free(l);
                                break;
                        }
                        l->next = ws->listeners;
                        ws->listeners = l;
                        break;
                }
                case WORKER_CMD_DEL_LISTENER:
                        for (WListener **p = &ws->listeners; *p; p = &(*p)->next)
                                if ((*p)->id == cmd->listener_id) {
                                        WListener *l = *p;
                                        *p = l->next;
                                        (void) epoll_ctl(w->epoll_fd, EPOLL_CTL_DEL, l->fd, NULL);
                                        safe_close(l->fd);
                                        free(l);
                                        break;
                                }
                        break;
                case WORKER_CMD_SHUTDOWN:
                        if (!ws->shutting_down)
                                worker_begin_shutdown(ws);
                        break;
                }
        }
        free(cmds);
}

/* Above the soft limit: close connections that waited longest for a head, down to the soft limit. */
static void worker_trim(WorkerState *ws) {
        unsigned soft = proxy_conn_soft_limit(ws->s->cfg.max_conns);
        while (ws->n_conns > soft && conn_evict_waiting(ws, PROXY_EVICT_AGE_MIN_MS))
                proxy_limit_count(&ws->s->limits, PROXY_LIMIT_EVICTED);
}

static void worker_tick(WorkerState *ws) {
        const ProxyConfig *cfg = &ws->s->cfg;
        uint64_t now = ws->now_ms;

        for (Conn *c = ws->conns, *n; c; c = n) {
                n = c->next;
                if (c->target && atomic_load_explicit(&c->target->cut, memory_order_relaxed)) {
                        conn_abort(ws, c);
                        continue;
                }
                switch (c->phase) {
                case PHASE_IDLE:
                        if (buf_len(&c->req.raw) > 0 || c->requests == 0) {
                                if (now - c->phase_since_ms >= cfg->header_timeout_ms) {
                                        c->req_head_method = false;
                                        conn_error(ws, c, 408, "the request head did not arrive in time");
                                        conn_process(ws, c);
                                }
                        } else if (now - c->phase_since_ms >= cfg->idle_timeout_ms)
                                conn_close(ws, c);
                        break;
                case PHASE_ACTIVE:
                        if (!c->up && now - c->phase_since_ms >= cfg->upstream_timeout_ms) {
                                /* an error answer the client does not read */
                                conn_close(ws, c);
                                break;
                        }
                        if (c->up && now - c->up_activity_ms >= cfg->upstream_timeout_ms) {
                                if (!c->resp_final && !flow_head_pending(&c->resp)) {
                                        conn_error(ws, c, 504, "the upstream did not answer in time");
                                        conn_process(ws, c);
                                } else
                                        conn_abort(ws, c);
                        }
                        break;
                case PHASE_LINGER:
                        if (now - c->phase_since_ms >= LINGER_TIMEOUT_MS)
                                conn_close(ws, c);
                        break;
                case PHASE_TUNNEL:
                        break;
                }
        }
        upstream_pool_expire(&ws->pool, now);
        worker_trim(ws);
        worker_resume_listeners(ws);
}

static void worker_bury(WorkerState *ws) {
        while (ws->graveyard_conns) {
                Conn *c = ws->graveyard_conns;
                ws->graveyard_conns = c->next;
                free(c);
        }
        upstream_pool_bury(&ws->pool);
}

static void *worker_main(void *userdata) {
        Worker *w = userdata;
        WorkerState *ws = w->state;
        struct epoll_event events[EVENTS_MAX];

        ws->now_ms = ws->last_tick_ms = proxy_now_ms_coarse();
        worker_refresh_table(ws);
        for (;;) {
                int n = epoll_wait(w->epoll_fd, events, EVENTS_MAX, ws->pending ? 0 : (int) TICK_MS);
                Conn *pending;

                ws->now_ms = proxy_now_ms_coarse();
                worker_refresh_table(ws);
                for (int i = 0; i < n; i++) {
                        EvSrc *src = events[i].data.ptr;
                        uint32_t e = events[i].events;

                        switch (src->type) {
                        case EV_WAKE:
                                worker_commands(ws);
                                worker_refresh_table(ws);
                                break;
                        case EV_LISTENER:
                                worker_accept(ws, (WListener *) src);
                                break;
                        case EV_CLIENT: {
                                Conn *c = (Conn *) src;
                                if (c->dead)
                                        break;
                                worker_mark_ready(e, &c->readable, &c->rdhup, &c->writable);
                                conn_process(ws, c);
                                break;
                        }
                        case EV_UPSTREAM: {
                                Upstream *u = (Upstream *) src;
                                if (u->dead)
                                        break;
                                if (u->pooled) {
                                        /* an idle upstream that closed or sent junk is useless */
                                        char b;
                                        ssize_t k = recv(u->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
                                        if (!(k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)))
                                                upstream_close(&ws->pool, u);
                                        break;
                                }
                                worker_mark_ready(e, &u->readable, &u->rdhup, &u->writable);
                                conn_process(ws, u->conn);
                                break;
                        }
                        }
                }
                /* connections that yielded with work left (they are not freed before worker_bury) */
                pending = ws->pending;
                ws->pending = NULL;
                for (Conn *c = pending, *next; c; c = next) {
                        next = c->pending_next;
                        c->pending = false;
                        if (!c->dead)
                                conn_process(ws, c);
                }
                if (ws->now_ms - ws->last_tick_ms >= TICK_MS) {
                        ws->last_tick_ms = ws->now_ms;
                        worker_tick(ws);
                }
                worker_bury(ws);
                if (ws->shutting_down) {
                        if (ws->n_conns == 0)
                                break;
                        if (ws->now_ms >= ws->shutdown_deadline_ms) {
                                while (ws->conns)
                                        conn_abort(ws, ws->conns);
                                worker_bury(ws);
                                break;
                        }
                }
        }
        upstream_pool_close_all(&ws->pool);
        worker_bury(ws);
        for (WListener *l = ws->listeners, *nl; l; l = nl) {
                nl = l->next;
                safe_close(l->fd);
                free(l);
        }
        if (ws->table)
                route_table_unref(ws->table);
        ws->spare_fd = safe_close(ws->spare_fd);
        buf_cache_clear(&ws->bufs);
        atomic_store(&w->finished, true);
        return NULL;
}

void worker_post(Worker *w, WorkerCmd cmd) {
        pthread_mutex_lock(&w->cmd_lock);
        if (w->n_cmds == w->cmd_cap) {
                size_t cap = w->cmd_cap ? w->cmd_cap * 2 : 8;
                WorkerCmd *n = realloc(w->cmds, cap * sizeof(WorkerCmd));
                if (!n) {
                        pthread_mutex_unlock(&w->cmd_lock);
                        if (cmd.type == WORKER_CMD_ADD_LISTENER)
                                safe_close(cmd.fd);
                        return;
                }
                w->cmds = n;
                w->cmd_cap = cap;
        }
        w->cmds[w->n_cmds++] = cmd;
        pthread_mutex_unlock(&w->cmd_lock);
        worker_wake(w);
}

void worker_wake(Worker *w) {
        uint64_t one = 1;
        if (write(w->event_fd, &one, sizeof(one)) < 0)
                log_debug_errno(-errno, "eventfd write failed: %m");
}

int worker_start(Worker *w) {
        WorkerState *ws;
        struct epoll_event ev;
        int r;

        ws = calloc(1, sizeof(WorkerState));
        if (!ws)
                return -ENOMEM;
        ws->w = w;
        ws->s = w->server;
        ws->wake_ev.type = EV_WAKE;
        ws->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        w->state = ws;
        pthread_mutex_init(&w->cmd_lock, NULL);
        w->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        w->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (w->epoll_fd < 0 || w->event_fd < 0)
                return -errno;
        ws->pool.epoll_fd = w->epoll_fd;
        ws->pool.idle_max = w->server->pool_idle_max;
        ev = (struct epoll_event) { .events = EPOLLIN, .data.ptr = &ws->wake_ev };
        if (epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, w->event_fd, &ev) < 0)
                return -errno;
        r = pthread_create(&w->thread, NULL, worker_main, w);
        if (r != 0)
                return -r;
        return 0;
}
