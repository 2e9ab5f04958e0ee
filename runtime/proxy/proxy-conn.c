/* The client connection state machine (proxy-conn.h): each round reads, starts a request, feeds the
 * upstream, parses its response head, feeds the client, and settles ends of bodies and tunnels.
 * Invariant: a step that closes the connection says so (STEP_DONE) and nothing touches it after. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "access-log.h"
#include "head-rewrite.h"
#include "log.h"
#include "macro.h"
#include "proxy-conn.h"
#include "proxy-limits.h"
#include "proxy-stats.h"

/* What a step of a round tells the round. */
typedef enum Step {
        STEP_ON,    /* go on with the next step of this round */
        STEP_AGAIN, /* start another round at once */
        STEP_WAIT,  /* nothing more can happen without a new event */
        STEP_DONE,  /* the connection was closed */
} Step;

/* The request no longer occupies its target (what least-conn and the drain count). */
static void conn_target_idle(Conn *c) {
        atomic_fetch_sub_explicit(&c->target->in_flight, 1, memory_order_relaxed);
        if (c->target->stats)
                atomic_fetch_sub_explicit(&c->target->stats->in_flight, 1, memory_order_relaxed);
        c->target_idle = true;
}

static void conn_release_request(WorkerState *ws, Conn *c) {
        if (c->target) {
                if (!c->target_idle)
                        conn_target_idle(c);
                if (c->tunnel_counted && c->target->stats)
                        atomic_fetch_sub_explicit(&c->target->stats->tunnels, 1, memory_order_relaxed);
                c->target = NULL;
        }
        c->target_idle = false;
        if (c->route) {
                if (c->route->stats) {
                        atomic_fetch_sub_explicit(&c->route->stats->in_flight, 1, memory_order_relaxed);
                        if (c->tunnel_counted)
                                atomic_fetch_sub_explicit(&c->route->stats->tunnels, 1,
                                                          memory_order_relaxed);
                }
                c->route = NULL;
        }
        c->tunnel_counted = false;
        if (c->table) {
                route_table_unref(c->table);
                c->table = NULL;
        }
}

static void conn_access_log(WorkerState *ws, Conn *c, uint64_t latency_us) {
        AccessLogEntry e;
        int r;

        if (ws->s->access_log_fd < 0)
                return;
        e = (AccessLogEntry) {
                .peer = &c->peer.sa,
                .request = c->log_req,
                .route = c->route ? c->route->name : NULL,
                .upstream = c->target ? c->target->address : NULL,
                .status = c->status,
                .bytes_in = c->bytes_in,
                .bytes_out = c->bytes_out,
                .latency_us = latency_us,
        };
        clock_gettime(CLOCK_REALTIME, &e.time);
        r = access_log_write(ws->s->access_log_fd, &e);
        if (r < 0 && r != -ENOBUFS) /* a line too long for the log is dropped */
                log_debug_errno(r, "access log write failed: %m");
}

/* Called once per request that got a status (or was cut): stats, access log, reference release. */
static void conn_account(WorkerState *ws, Conn *c) {
        uint64_t lat;

        if (c->t_start_ns == 0)
                return;
        lat = (proxy_now_ns() - c->t_start_ns) / 1000;
        if (c->route)
                proxy_stats_record(c->route->stats, c->status, c->bytes_in, c->bytes_out, lat);
        if (c->target)
                proxy_stats_record(c->target->stats, c->status, c->bytes_in, c->bytes_out, lat);
        conn_access_log(ws, c, lat);
        c->t_start_ns = 0;
        free(c->log_req);
        c->log_req = NULL;
}

static void conn_link_first(WorkerState *ws, Conn *c) {
        c->prev = NULL;
        c->next = ws->conns;
        if (ws->conns)
                ws->conns->prev = c;
        else
                ws->conns_tail = c;
        ws->conns = c;
}

static void conn_unlink(WorkerState *ws, Conn *c) {
        if (c->prev)
                c->prev->next = c->next;
        else
                ws->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        else
                ws->conns_tail = c->prev;
}

/* A request started: the connection moves to the front, so the tail holds those that waited longest. */
static void conn_touch(WorkerState *ws, Conn *c) {
        if (ws->conns == c)
                return;
        conn_unlink(ws, c);
        conn_link_first(ws, c);
}

int conn_new(WorkerState *ws, int fd, const struct sockaddr *peer, socklen_t peer_len, unsigned listener_id,
             Conn **ret) {
        struct epoll_event ev;
        Conn *c;

        c = calloc(1, sizeof(Conn));
        if (!c)
                return -ENOMEM;
        c->ev.type = EV_CLIENT;
        c->fd = fd;
        memcpy(&c->peer, peer, MIN((size_t) peer_len, sizeof(c->peer)));
        c->listener_id = listener_id;
        c->phase = PHASE_IDLE;
        c->phase_since_ms = ws->now_ms;
        c->readable = true;
        c->writable = true;
        ev = (struct epoll_event) { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c };
        if (epoll_ctl(ws->w->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                int r = -errno;
                free(c);
                return r;
        }
        conn_link_first(ws, c);
        ws->n_conns++;
        *ret = c;
        return 0;
}

void conn_close(WorkerState *ws, Conn *c) {
        if (c->dead)
                return;
        c->dead = true;
        conn_account(ws, c);
        conn_release_request(ws, c);
        if (c->up) {
                upstream_close(&ws->pool, c->up);
                c->up = NULL;
        }
        (void) epoll_ctl(ws->w->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
        safe_close(c->fd);
        c->fd = -EBADF;
        buf_release(&ws->bufs, &c->req.raw);
        buf_release(&ws->bufs, &c->resp.raw);
        flow_free_head(&c->req);
        flow_free_head(&c->resp);
        free(c->peer_ip);
        c->peer_ip = NULL;
        conn_unlink(ws, c);
        ws->n_conns--;
        c->next = ws->graveyard_conns;
        ws->graveyard_conns = c;
}

static void conn_drop_upstream(WorkerState *ws, Conn *c) {
        Upstream *u = c->up;
        if (!u)
                return;
        c->up = NULL;
        upstream_close(&ws->pool, u);
}

void conn_error(WorkerState *ws, Conn *c, unsigned status, const char *detail) {
        Out o;

        conn_drop_upstream(ws, c);
        o = (Out) { .p = malloc(HEAD_ERROR_MAX), .cap = HEAD_ERROR_MAX };
        if (!o.p || head_error_response(status, detail, c->req_head_method, &o) < 0) {
                free(o.p);
                conn_close(ws, c);
                return;
        }
        flow_free_head(&c->resp);
        flow_reset_body(&c->resp);
        c->resp.done = true;
        buf_release(&ws->bufs, &c->resp.raw);
        c->resp.head = o.p;
        c->resp.head_len = (uint32_t) o.len;
        c->status = status;
        c->resp_final = true;
        c->close_after = true;
        c->resp_state = RESP_DONE;
        c->phase_since_ms = ws->now_ms;
        if (c->phase == PHASE_IDLE) {
                c->phase = PHASE_ACTIVE; /* so the completion path sends and closes */
                if (!c->t_start_ns)
                        c->t_start_ns = proxy_now_ns();
        }
        /* the request body is not forwarded any more */
        flow_free_head(&c->req);
        c->req.mode = FLOW_NONE;
        c->req.done = true;
        c->req.fwd = 0;
}

bool conn_evict_waiting(WorkerState *ws, uint64_t min_age_ms) {
        static const char timeout[] = "HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain\r\n"
                                      "Content-Length: 42\r\nConnection: close\r\n\r\n"
                                      "408: the proxy is at its connection limit\n";
        unsigned scanned = 0;

        for (Conn *c = ws->conns_tail; c && scanned < PROXY_EVICT_SCAN_MAX; c = c->prev, scanned++) {
                if (c->dead || c->phase != PHASE_IDLE || ws->now_ms - c->phase_since_ms < min_age_ms)
                        continue;
                /* an idle keep-alive connection is closed silently, as its client expects may happen */
                if (buf_len(&c->req.raw) > 0 || c->requests == 0)
                        (void) send(c->fd, timeout, sizeof(timeout) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                conn_close(ws, c);
                return true;
        }
        return false;
}

void conn_abort(WorkerState *ws, Conn *c) {
        if (c->status == 0)
                c->status = 502;
        conn_close(ws, c);
}

static int conn_acquire_upstream(WorkerState *ws, Conn *c, bool allow_pool) {
        Upstream *u = allow_pool ? upstream_pool_get(&ws->pool, &c->target->addr) : NULL;
        int r;

        if (u) {
                u->reused = true;
                u->readable = u->writable = true;
                u->rdhup = false;
        } else {
                r = upstream_connect(&ws->pool, &c->target->addr, &u);
                /* out of descriptors: a request that came whole displaces a client that only waits,
                 * as at accept (another worker may take the freed descriptor first: try a few) */
                for (int i = 0; (r == -EMFILE || r == -ENFILE) && i < PROXY_UPSTREAM_EVICT_TRIES; i++) {
                        if (!conn_evict_waiting(ws, 0))
                                break;
                        proxy_limit_count(&ws->s->limits, PROXY_LIMIT_FD_EVICTED);
                        r = upstream_connect(&ws->pool, &c->target->addr, &u);
                }
                if (r < 0)
                        return r;
        }
        u->conn = c;
        c->up = u;
        c->up_activity_ms = ws->now_ms;
        return 0;
}

static void conn_set_target(Conn *c, Target *t) {
        if (c->target && !c->target_idle)
                conn_target_idle(c);
        c->target = t;
        c->target_idle = false;
        if (t) {
                atomic_fetch_add_explicit(&t->in_flight, 1, memory_order_relaxed);
                if (t->stats)
                        atomic_fetch_add_explicit(&t->stats->in_flight, 1, memory_order_relaxed);
        }
}

/* The upstream failed before a response head arrived: retry a stale pooled connection once, try
 * another target after a refused connect, or answer 502. */
static void conn_upstream_failed(WorkerState *ws, Conn *c, int error) {
        bool reused = c->up && c->up->reused;
        bool retryable =
                c->req.mode == FLOW_NONE && c->req.head && buf_len(&c->resp.raw) == 0 && !c->resp_final;

        conn_drop_upstream(ws, c);
        if ((error == -EMFILE || error == -ENFILE) && !c->resp_final && buf_len(&c->resp.raw) == 0) {
                proxy_limit_count(&ws->s->limits, PROXY_LIMIT_FD_UPSTREAM);
                conn_error(ws, c, 503, "the proxy is out of file descriptors");
                return;
        }
        if (c->resp_final || buf_len(&c->resp.raw) > 0) {
                if (!c->resp_final) {
                        conn_error(ws, c, 502, "the upstream sent an incomplete response");
                        return;
                }
                conn_abort(ws, c);
                return;
        }
        if (reused && retryable) {
                c->req.head_sent = 0;
                if (conn_acquire_upstream(ws, c, false) >= 0)
                        return;
        }
        if (error == -ECONNREFUSED && retryable && c->route && ++c->attempts < c->route->n_targets) {
                Target *t = route_pick_target(c->route, c->target);
                if (t && t != c->target) {
                        conn_set_target(c, t);
                        c->req.head_sent = 0;
                        if (conn_acquire_upstream(ws, c, true) >= 0)
                                return;
                }
        }
        conn_error(ws, c, 502,
                   error == -ECONNREFUSED ? "the upstream refused the connection"
                                          : "the upstream closed the connection without a response");
}

/* ---- request head → upstream head ---- */

/* Parses a complete request head and routes it.  Returns 0 when the head is incomplete, 1 when the
 * request started (or was answered with an error), -ENOMEM. */
static int conn_start_request(WorkerState *ws, Conn *c) {
        HttpHead *h = &ws->head;
        const char *raw = c->req.raw.data + c->req.raw.start;
        char ip[PROXY_ADDR_STRING_MAX], rewritten[HTTP_HEAD_MAX];
        RequestRewrite rw;
        const char *path;
        size_t path_len;
        HttpError e;
        Route *route;
        Target *target;
        Out o;
        int n, r;

        n = http_find_head_end(raw, buf_len(&c->req.raw), &c->req.scan);
        if (n == 0)
                return 0;
        conn_touch(ws, c);
        c->t_start_ns = proxy_now_ns();
        c->status = 0;
        c->bytes_in = c->bytes_out = 0;
        if (n < 0) {
                conn_error(ws, c, 431, "the request head is too large");
                return 1;
        }
        r = http_request_parse(raw, (size_t) n, h, &e);
        if (ws->s->access_log_fd >= 0) {
                size_t l = MIN((size_t) n, LOG_TARGET_MAX);
                const char *nl = memchr(raw, '\r', l);
                l = nl ? (size_t) (nl - raw) : l;
                c->log_req = strndup(raw, l);
        }
        c->req_head_method = r >= 0 && h->is_head_method;
        if (r < 0) {
                unsigned st = e == HTTP_ERROR_TOO_LARGE ? 431
                              : e == HTTP_ERROR_VERSION ? 505
                              : e == HTTP_ERROR_METHOD  ? 405
                                                        : 400;
                conn_error(ws, c, st, h->error_detail ? h->error_detail : "malformed request");
                return 1;
        }
        c->bytes_in = (uint64_t) n;
        c->req_upgrade = h->conn_upgrade;
        c->req_expect = h->expect_continue;
        c->req_close = h->conn_close;
        c->req_http10 = h->version_minor == 0;
        c->requests++;

        rw = (RequestRewrite) {};
        head_request_authority(h, &rw.host, &rw.host_len, &path, &path_len);
        route = (Route *) route_table_match(ws->table, c->listener_id, rw.host, rw.host_len, path, path_len);
        if (!route) {
                buf_consume(&c->req.raw, (uint32_t) n);
                conn_error(ws, c, 404, "no route matches this request");
                return 1;
        }
        route_table_ref(ws->table);
        c->table = ws->table;
        c->route = route;
        if (route->stats)
                atomic_fetch_add_explicit(&route->stats->in_flight, 1, memory_order_relaxed);
        target = route_pick_target(route, NULL);
        if (!target) {
                buf_consume(&c->req.raw, (uint32_t) n);
                conn_error(ws, c, 503, "the route has no target");
                return 1;
        }
        conn_set_target(c, target);
        c->attempts = 0;

        /* rewrite the head for the upstream */
        rw.path = rewritten;
        rw.path_len = route_rewrite_path(route, path, path_len, rewritten, sizeof(rewritten));
        if (!c->peer_ip) {
                proxy_addr_ip_string(&c->peer.sa, ip);
                c->peer_ip = strdup(ip);
        }
        rw.client_ip = c->peer_ip;
        flow_free_head(&c->req);
        o = (Out) { .p = malloc(HEAD_OUT_MAX), .cap = HEAD_OUT_MAX };
        if (!o.p)
                return -ENOMEM;
        if (head_rewrite_request(h, &rw, &o) < 0) {
                free(o.p);
                buf_consume(&c->req.raw, (uint32_t) n);
                conn_error(ws, c, 431, "the request head is too large");
                return 1;
        }
        c->req.head = o.p;
        c->req.head_len = (uint32_t) o.len;
        c->req.head_sent = 0;
        buf_consume(&c->req.raw, (uint32_t) n);
        c->req.scan = 0;
        flow_start_body(&c->req, h->body, h->content_length);

        c->phase = PHASE_ACTIVE;
        c->phase_since_ms = ws->now_ms;
        c->resp_state = RESP_HEAD;
        c->resp_final = false;
        c->upstream_close = false;
        flow_reset_body(&c->resp);
        c->resp.done = false;

        r = conn_acquire_upstream(ws, c, true);
        if (r < 0)
                conn_upstream_failed(ws, c, r);
        return 1;
}

/* ---- response head → client head ---- */

static void conn_start_tunnel(Conn *c) {
        c->phase = PHASE_TUNNEL;
        flow_reset_body(&c->resp);
        c->resp.mode = FLOW_TUNNEL;
        /* whatever the client sent after its request head belongs to the new protocol */
        c->req.mode = FLOW_TUNNEL;
        c->req.done = false;
        c->tunnel_counted = true;
        if (c->target && c->target->stats)
                atomic_fetch_add_explicit(&c->target->stats->tunnels, 1, memory_order_relaxed);
        if (c->route && c->route->stats)
                atomic_fetch_add_explicit(&c->route->stats->tunnels, 1, memory_order_relaxed);
}

/* Returns 0 when the head is incomplete, 1 when it was handled (or answered with an error), -ENOMEM. */
static int conn_handle_response_head(WorkerState *ws, Conn *c) {
        HttpHead *h = &ws->head;
        const char *p = c->resp.raw.data + c->resp.raw.start;
        ResponseContext ctx;
        ResponsePlan plan;
        Out o;
        int n, r;

        n = http_find_response_head_end(p, buf_len(&c->resp.raw), &c->resp.scan);
        if (n == 0)
                return 0;
        if (n < 0) {
                conn_error(ws, c, 502, "the upstream response head is too large");
                return 1;
        }
        r = http_response_parse(p, (size_t) n, c->req_head_method, h, NULL);
        if (r < 0) {
                conn_error(ws, c, 502, "the upstream sent a malformed response");
                return 1;
        }
        c->up_activity_ms = ws->now_ms;

        ctx = (ResponseContext) {
                .client_http10 = c->req_http10,
                .client_close = c->req_close,
                .upgrade_requested = c->req_upgrade,
                .closing = c->close_after || ws->shutting_down,
        };
        o = (Out) { .p = malloc(HEAD_OUT_MAX), .cap = HEAD_OUT_MAX };
        if (!o.p)
                return -ENOMEM;
        r = head_rewrite_response(p, (size_t) n, h, &ctx, &o, &plan);
        if (r < 0) {
                free(o.p);
                conn_error(ws, c, 502,
                           r == -EPROTO ? "the upstream switched protocols without being asked"
                                        : "the upstream response head is too large");
                return 1;
        }
        buf_consume(&c->resp.raw, (uint32_t) n);
        c->resp.scan = 0;
        if (plan.interim && o.len == 0) { /* not forwarded to HTTP/1.0 clients */
                free(o.p);
                return 1;
        }
        flow_free_head(&c->resp);
        c->resp.head = o.p;
        c->resp.head_len = (uint32_t) o.len;
        if (plan.interim) /* then wait for the final one */
                return 1;

        c->status = h->status;
        c->resp_final = true;
        c->upstream_close = h->conn_close;
        if (plan.tunnel) {
                conn_start_tunnel(c);
                return 1;
        }
        if (plan.close_after)
                c->close_after = true;
        flow_start_body(&c->resp, h->body, h->content_length);
        if (plan.dechunk)
                c->resp.mode = FLOW_DECHUNK; /* HTTP/1.0 has no chunked coding: end by closing */
        c->resp_state = RESP_BODY;
        return 1;
}

/* The response is fully sent: account, recycle the upstream, and go back to reading requests. */
static void conn_finish_request(WorkerState *ws, Conn *c) {
        bool req_complete = flow_complete(&c->req);
        Upstream *u = c->up;

        conn_account(ws, c);
        if (u) {
                c->up = NULL;
                if (req_complete && !c->upstream_close && c->resp.mode != FLOW_EOF && !u->eof &&
                    buf_len(&c->resp.raw) == 0 && c->status >= 200)
                        upstream_pool_put(&ws->pool, u, ws->shutting_down, ws->now_ms);
                else
                        upstream_close(&ws->pool, u);
        }
        conn_release_request(ws, c);
        flow_free_head(&c->req);
        flow_free_head(&c->resp);
        buf_release(&ws->bufs, &c->resp.raw);
        if (!req_complete)
                c->close_after = true;
        if (c->close_after) {
                /* lingering close: stop writing, discard what the client still sends, then close */
                (void) shutdown(c->fd, SHUT_WR);
                c->shut_wr = true;
                c->phase = PHASE_LINGER;
                c->phase_since_ms = ws->now_ms;
                return;
        }
        flow_reset_body(&c->req);
        flow_reset_body(&c->resp);
        c->phase = PHASE_IDLE;
        c->phase_since_ms = ws->now_ms;
        c->status = 0;
        buf_trim(&ws->bufs, &c->req.raw);
}

/* ---- the steps of one round ---- */

/* 1. read from the client; true on progress */
static bool conn_read_client(WorkerState *ws, Conn *c) {
        uint32_t before;
        ssize_t k;

        if (!c->readable || c->eof)
                return false;
        if (c->phase == PHASE_ACTIVE && buf_len(&c->req.raw) >= CONN_BUF_SIZE)
                return false;
        if (buf_prepare(&ws->bufs, &c->req.raw) < 0)
                return false;
        before = buf_len(&c->req.raw);
        k = buf_recv(c->fd, &c->req.raw, &c->readable, c->rdhup, &c->eof, &c->client_error);
        if (k <= 0)
                return false;
        if (c->phase == PHASE_IDLE && before == 0)
                c->phase_since_ms = ws->now_ms;
        if (c->phase == PHASE_ACTIVE || c->phase == PHASE_TUNNEL)
                c->bytes_in += buf_len(&c->req.raw) - before;
        return true;
}

/* After the response: discard what the client still sends until it closes. */
static Step conn_step_linger(WorkerState *ws, Conn *c, bool progress) {
        buf_consume(&c->req.raw, buf_len(&c->req.raw));
        if (c->eof || c->client_error) {
                conn_close(ws, c);
                return STEP_DONE;
        }
        return progress ? STEP_AGAIN : STEP_WAIT;
}

/* What the result of a head handler (conn_start_request, conn_handle_response_head: 0 incomplete,
 * 1 handled, -ENOMEM) means for the round; a handler that answered with an error may have closed c. */
static inline Step conn_head_handled(WorkerState *ws, Conn *c, int r, bool *progress) {
        if (r < 0) {
                conn_close(ws, c);
                return STEP_DONE;
        }
        if (r > 0)
                *progress = true;
        return c->dead ? STEP_DONE : STEP_ON;
}

/* 2. a new request head */
static Step conn_step_idle(WorkerState *ws, Conn *c, bool *progress) {
        Step s;

        if (buf_len(&c->req.raw) > 0) {
                s = conn_head_handled(ws, c, conn_start_request(ws, c), progress);
                if (s != STEP_ON)
                        return s;
        }
        if (c->phase != PHASE_IDLE)
                return STEP_ON;
        if (c->eof || (ws->shutting_down && buf_len(&c->req.raw) == 0)) {
                conn_close(ws, c);
                return STEP_DONE;
        }
        return *progress ? STEP_AGAIN : STEP_WAIT;
}

/* 3. upstream connect completion, then request bytes to the upstream */
static Step conn_step_to_upstream(WorkerState *ws, Conn *c, bool *progress) {
        Upstream *u = c->up;
        ssize_t k;

        if (u && u->connecting && u->writable) {
                int err = 0;
                socklen_t l = sizeof(err);
                if (getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
                        err = errno;
                if (err != 0) {
                        conn_upstream_failed(ws, c, -err);
                        return STEP_AGAIN;
                }
                u->connecting = false;
                c->up_activity_ms = ws->now_ms;
                *progress = true;
        }
        if (flow_scan(&c->req) < 0) {
                if (c->resp_final)
                        conn_abort(ws, c);
                else
                        conn_error(ws, c, 400, "malformed chunked request body");
                return STEP_AGAIN;
        }
        if (u && !u->connecting && u->writable && !u->shut_wr &&
            (flow_head_pending(&c->req) || c->req.fwd > 0)) {
                k = flow_send(&c->req, u->fd);
                if (k > 0) {
                        *progress = true;
                        c->up_activity_ms = ws->now_ms;
                } else if (k == -EAGAIN)
                        u->writable = false;
                else if (k < 0) {
                        if (c->resp_final || buf_len(&c->resp.raw) > 0 || !u->reused) {
                                /* the upstream stopped reading; it may have answered (or be about
                                 * to): stop sending and keep reading */
                                u->shut_wr = true;
                                c->close_after = true;
                                return STEP_AGAIN;
                        }
                        conn_upstream_failed(ws, c, (int) k); /* stale pooled connection */
                        return STEP_AGAIN;
                }
        }
        if (u && u->shut_wr && c->req.fwd > 0) {
                /* the upstream stopped reading: drop the rest of the request body */
                buf_consume(&c->req.raw, c->req.fwd);
                c->req.fwd = 0;
        }
        return STEP_ON;
}

/* 4. upstream bytes; true on progress */
static bool conn_read_upstream(WorkerState *ws, Conn *c) {
        Upstream *u = c->up;
        bool err = false;

        if (!u || u->connecting || !u->readable || u->eof || buf_len(&c->resp.raw) >= CONN_BUF_SIZE ||
            buf_prepare(&ws->bufs, &c->resp.raw) < 0)
                return false;
        if (buf_recv(u->fd, &c->resp.raw, &u->readable, u->rdhup, &u->eof, &err) <= 0)
                return false;
        c->up_activity_ms = ws->now_ms;
        return true;
}

/* 5. response head */
static Step conn_step_response_head(WorkerState *ws, Conn *c, bool *progress) {
        Step s;

        if (c->phase != PHASE_ACTIVE || c->resp_state != RESP_HEAD || flow_head_pending(&c->resp))
                return STEP_ON;
        if (buf_len(&c->resp.raw) > 0) {
                s = conn_head_handled(ws, c, conn_handle_response_head(ws, c), progress);
                if (s != STEP_ON)
                        return s;
        }
        if (c->phase == PHASE_ACTIVE && c->resp_state == RESP_HEAD && c->up && c->up->eof &&
            !c->resp_final && !flow_head_pending(&c->resp)) {
                conn_upstream_failed(ws, c, -ECONNRESET);
                return STEP_AGAIN;
        }
        return STEP_ON;
}

/* 6. response bytes to the client */
static Step conn_step_to_client(WorkerState *ws, Conn *c, bool *progress) {
        uint64_t before;
        uint32_t hs;
        ssize_t k;

        if (flow_scan(&c->resp) < 0) {
                conn_abort(ws, c);
                return STEP_DONE;
        }
        if (!c->writable || (!flow_head_pending(&c->resp) && c->resp.fwd == 0))
                return STEP_ON;
        /* The upstream has answered in full: it is idle for least-conn before the client sees the last byte
         * (and may send its next request through another worker before this one finishes the exchange). */
        if (c->target && !c->target_idle && c->resp_state == RESP_BODY && flow_complete(&c->resp))
                conn_target_idle(c);
        before = c->resp.sent;
        hs = c->resp.head_sent;
        k = flow_send(&c->resp, c->fd);
        if (k > 0) {
                *progress = true;
                c->bytes_out += (c->resp.sent - before) + (c->resp.head_sent - hs);
        } else if (k == -EAGAIN)
                c->writable = false;
        else if (k < 0) {
                conn_close(ws, c);
                return STEP_DONE;
        }
        return STEP_ON;
}

/* 7. ends of bodies, tunnels and requests */
static Step conn_step_ends(WorkerState *ws, Conn *c, bool *progress) {
        if (c->phase == PHASE_ACTIVE && c->resp_state == RESP_BODY && c->up && c->up->eof && !c->resp.done) {
                if (c->resp.mode == FLOW_EOF && buf_len(&c->resp.raw) == c->resp.fwd)
                        c->resp.done = true;
                else if (buf_len(&c->resp.raw) == c->resp.fwd && c->resp.fwd == 0 &&
                         !flow_head_pending(&c->resp)) {
                        /* upstream died mid-response: cut the client off so it sees truncation */
                        conn_abort(ws, c);
                        return STEP_DONE;
                }
        }
        if (c->phase == PHASE_ACTIVE && c->resp_state == RESP_BODY && flow_complete(&c->resp))
                c->resp_state = RESP_DONE;
        if (c->phase == PHASE_ACTIVE && c->resp_state == RESP_DONE && !flow_head_pending(&c->resp) &&
            c->resp.fwd == 0) {
                /* a response that ends before its request body closes the connection after it
                 * (conn_finish_request decides) */
                conn_finish_request(ws, c);
                *progress = true;
                return STEP_AGAIN;
        }
        if (c->phase == PHASE_TUNNEL) {
                if (c->eof && c->req.fwd == 0 && c->up && !c->up->shut_wr && !flow_head_pending(&c->req)) {
                        (void) shutdown(c->up->fd, SHUT_WR);
                        c->up->shut_wr = true;
                }
                if (c->up && c->up->eof && c->resp.fwd == 0 && !flow_head_pending(&c->resp)) {
                        /* the upstream ended the tunnel and all its bytes are delivered */
                        conn_close(ws, c);
                        return STEP_DONE;
                }
                if (!c->up) {
                        conn_close(ws, c);
                        return STEP_DONE;
                }
        }
        return STEP_ON;
}

static Step conn_round(WorkerState *ws, Conn *c) {
        bool progress = conn_read_client(ws, c);
        Step s;

        if (c->client_error && c->phase != PHASE_LINGER) {
                conn_close(ws, c);
                return STEP_DONE;
        }
        if (c->phase == PHASE_LINGER)
                return conn_step_linger(ws, c, progress);
        if (c->phase == PHASE_IDLE && (s = conn_step_idle(ws, c, &progress)) != STEP_ON)
                return s;
        if ((s = conn_step_to_upstream(ws, c, &progress)) != STEP_ON)
                return s;
        if (conn_read_upstream(ws, c))
                progress = true;
        if ((s = conn_step_response_head(ws, c, &progress)) != STEP_ON)
                return s;
        if ((s = conn_step_to_client(ws, c, &progress)) != STEP_ON)
                return s;
        if ((s = conn_step_ends(ws, c, &progress)) != STEP_ON)
                return s;
        return progress ? STEP_AGAIN : STEP_WAIT;
}

void conn_process(WorkerState *ws, Conn *c) {
        unsigned iter;

        for (iter = 0; iter < PROCESS_ROUNDS_MAX && !c->dead; iter++) {
                Step s = conn_round(ws, c);
                if (s == STEP_DONE)
                        return;
                if (s == STEP_WAIT)
                        break;
        }
        if (!c->dead && iter >= PROCESS_ROUNDS_MAX && !c->pending) {
                /* edge-triggered: no new event may come for work we left, so come back ourselves */
                c->pending = true;
                c->pending_next = ws->pending;
                ws->pending = c;
        }
        if (!c->dead) {
                buf_trim(&ws->bufs, &c->resp.raw);
                if (c->phase == PHASE_IDLE)
                        buf_trim(&ws->bufs, &c->req.raw);
        }
}
