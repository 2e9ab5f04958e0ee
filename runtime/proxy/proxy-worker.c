/* Worker thread: one epoll loop (edge-triggered) serving client connections end to end — parse the
 * request head, route it with the current table snapshot, stream the body to a pooled or new upstream
 * connection, stream the response back, then keep-alive, pipeline, or tunnel after a 101.
 * Invariants: a request keeps a reference to the table and target that routed it until it ends; every
 * buffer is bounded (CONN_BUF_SIZE per direction), so a body of any size streams in constant memory. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "chunked.h"
#include "http-parser.h"
#include "log.h"
#include "macro.h"
#include "proxy-server.h"

#define CONN_BUF_SIZE (32U * 1024U)
#define HEAD_OUT_MAX (HTTP_HEAD_MAX + 4096U)
#define BUF_CACHE_MAX 32U /* per worker: 1 MiB of warm buffers */
#define POOL_IDLE_MAX 1024U
/* below the keep-alive timeout of common servers (Node.js: 5 s), so we rarely reuse a connection the
 * upstream is closing at that moment */
#define POOL_IDLE_TIMEOUT_MS 4000U
#define LINGER_TIMEOUT_MS 2000U
#define TICK_MS 100U
#define EVENTS_MAX 256
#define ACCEPT_BATCH 64
#define PROCESS_ROUNDS_MAX 64 /* per event, for fairness; the rest continues in the next loop turn */
#define VIA_TOKEN "1.1 slipway"
#define LOG_TARGET_MAX 512U

enum { EV_LISTENER, EV_CLIENT, EV_UPSTREAM, EV_WAKE };

typedef struct EvSrc {
        int type;
} EvSrc;

typedef struct Buf {
        char *data;
        uint32_t start, end;
} Buf;

typedef enum FlowMode {
        FLOW_NONE,    /* no body being forwarded */
        FLOW_LENGTH,
        FLOW_CHUNKED,
        FLOW_DECHUNK, /* chunked from the upstream, plain to an HTTP/1.0 client */
        FLOW_EOF,     /* until the source closes */
        FLOW_TUNNEL,
} FlowMode;

/* One direction: raw bytes from the source, a rewritten head to send first, then body bytes. */
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

typedef enum Phase {
        PHASE_IDLE,    /* waiting for a request head */
        PHASE_ACTIVE,  /* request routed, response under way */
        PHASE_TUNNEL,  /* after 101: bytes both ways */
        PHASE_LINGER,  /* final bytes sent, write side shut, draining the client before close */
} Phase;

typedef enum RespState {
        RESP_HEAD,
        RESP_BODY,
        RESP_DONE,
} RespState;

struct Conn {
        EvSrc ev;
        int fd;
        Conn *next, *prev;
        unsigned listener_id;
        union {
                struct sockaddr sa;
                struct sockaddr_in in4;
                struct sockaddr_in6 in6;
        } peer; /* compact: idle connections should cost little */
        char *peer_ip; /* formatted once, on the first request */
        bool readable, writable, rdhup, eof, close_after, dead, shut_wr, client_error, pending;
        Conn *pending_next;
        Phase phase;
        RespState resp_state;
        Flow req, resp;
        Upstream *up;
        RouteTable *table;
        Route *route;
        Target *target;
        unsigned attempts;
        bool req_head_method, req_upgrade, req_expect, req_close, req_http10, upstream_close, resp_final,
                tunnel_counted;
        unsigned status;
        unsigned requests;
        uint64_t t_start_ns;
        uint64_t phase_since_ms, up_activity_ms;
        uint64_t bytes_in, bytes_out;
        char *log_req;
};

typedef struct WListener {
        EvSrc ev;
        unsigned id;
        int fd;
        struct WListener *next;
} WListener;

typedef struct WorkerState {
        Worker *w;
        Server *s;
        EvSrc wake_ev;
        WListener *listeners;
        Conn *conns;
        unsigned n_conns;
        Conn *graveyard_conns;
        Conn *pending; /* connections that hit PROCESS_ROUNDS_MAX with work left */
        Upstream *pool;
        unsigned n_pool;
        Upstream *graveyard_up;
        char *buf_cache[BUF_CACHE_MAX];
        unsigned n_buf_cache;
        RouteTable *table;
        uint64_t gen;
        bool shutting_down;
        uint64_t shutdown_deadline_ms;
        uint64_t now_ms, last_tick_ms;
        HttpHead head;
} WorkerState;

static uint64_t now_ms_coarse(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

/* ---- buffers ---- */

static int buf_prepare(WorkerState *ws, Buf *b) {
        if (!b->data) {
                b->data = ws->n_buf_cache > 0 ? ws->buf_cache[--ws->n_buf_cache] : malloc(CONN_BUF_SIZE);
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

static void buf_consume(Buf *b, uint32_t n) {
        b->start += n;
        if (b->start == b->end)
                b->start = b->end = 0;
}

static void buf_release(WorkerState *ws, Buf *b) {
        if (!b->data)
                return;
        if (ws->n_buf_cache < BUF_CACHE_MAX)
                ws->buf_cache[ws->n_buf_cache++] = b->data;
        else
                free(b->data);
        b->data = NULL;
        b->start = b->end = 0;
}

/* Release the buffer only when it holds nothing: idle connections then cost no buffer memory. */
static void buf_trim(WorkerState *ws, Buf *b) {
        if (b->data && b->start == b->end)
                buf_release(ws, b);
}

static void flow_reset_body(Flow *f) {
        f->mode = FLOW_NONE;
        f->done = false;
        f->remaining = 0;
        f->fwd = 0;
        f->scan = 0;
        f->sent = 0;
}

static void flow_free_head(Flow *f) {
        free(f->head);
        f->head = NULL;
        f->head_len = f->head_sent = 0;
}

static inline bool flow_head_pending(const Flow *f) {
        return f->head_sent < f->head_len;
}

typedef struct Dechunk {
        char *dst;
        size_t n;
} Dechunk;

static void dechunk_cb(const uint8_t *data, size_t size, void *userdata) {
        Dechunk *d = userdata;
        /* output never overtakes input, so compacting in place is safe */
        memmove(d->dst + d->n, data, size);
        d->n += size;
}

/* Marks as many buffered bytes as the framing allows as ready to forward. Returns -EBADMSG on a
 * malformed chunked body. */
static int flow_scan(Flow *f) {
        uint32_t avail = buf_len(&f->raw) - f->fwd;
        ssize_t r;

        if (avail == 0 || f->done)
                return 0;
        switch (f->mode) {
        case FLOW_NONE:
                return 0;
        case FLOW_LENGTH: {
                uint32_t n = (uint64_t) avail < f->remaining ? avail : (uint32_t) f->remaining;
                f->fwd += n;
                f->remaining -= n;
                if (f->remaining == 0)
                        f->done = true;
                return 0;
        }
        case FLOW_CHUNKED:
                r = chunked_decoder_feed(&f->chunked, (const uint8_t *) f->raw.data + f->raw.start + f->fwd,
                                         avail, NULL, NULL);
                if (r < 0)
                        return r;
                f->fwd += (uint32_t) r;
                if (chunked_decoder_done(&f->chunked))
                        f->done = true;
                return 0;
        case FLOW_DECHUNK: {
                char *src = f->raw.data + f->raw.start + f->fwd;
                Dechunk d = { .dst = src };
                r = chunked_decoder_feed(&f->chunked, (const uint8_t *) src, avail, dechunk_cb, &d);
                if (r < 0)
                        return r;
                /* drop the framing bytes between the decoded data and the unread rest */
                memmove(src + d.n, src + r, avail - (size_t) r);
                f->raw.end -= (uint32_t) ((size_t) r - d.n);
                f->fwd += (uint32_t) d.n;
                if (chunked_decoder_done(&f->chunked))
                        f->done = true;
                return 0;
        }
        case FLOW_EOF:
        case FLOW_TUNNEL:
                f->fwd += avail;
                return 0;
        }
        return 0;
}

static void flow_start_body(Flow *f, HttpBody body, uint64_t length) {
        flow_reset_body(f);
        switch (body) {
        case HTTP_BODY_LENGTH:
                f->mode = FLOW_LENGTH;
                f->remaining = length;
                break;
        case HTTP_BODY_CHUNKED:
                f->mode = FLOW_CHUNKED;
                chunked_decoder_init(&f->chunked);
                break;
        case HTTP_BODY_EOF:
                f->mode = FLOW_EOF;
                break;
        default:
                f->mode = FLOW_NONE;
                f->done = true;
        }
}

/* True when the head and every body byte have been sent. */
static inline bool flow_complete(const Flow *f) {
        return !flow_head_pending(f) && f->done && f->fwd == 0;
}

/* Sends the pending head and forwardable body bytes to fd.  Returns bytes sent (>= 0), -EAGAIN when
 * the socket is full, or another -errno. */
static ssize_t flow_send(Flow *f, int fd) {
        struct iovec iov[2];
        int n = 0;
        ssize_t k;
        uint32_t hp = f->head_len - f->head_sent;

        if (hp > 0)
                iov[n++] = (struct iovec) { f->head + f->head_sent, hp };
        if (f->fwd > 0)
                iov[n++] = (struct iovec) { f->raw.data + f->raw.start, f->fwd };
        if (n == 0)
                return 0;
        k = n == 1 ? send(fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL) : writev(fd, iov, n);
        if (k < 0)
                return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
        if ((uint32_t) k <= hp) {
                f->head_sent += (uint32_t) k;
                return k;
        }
        f->head_sent = f->head_len;
        buf_consume(&f->raw, (uint32_t) k - hp);
        f->fwd -= (uint32_t) k - hp;
        f->sent += (uint64_t) k - hp;
        return k;
}

/* ---- head building ---- */

typedef struct Out {
        char *p;
        size_t len, cap;
        bool overflow;
} Out;

static void out_put(Out *o, const char *s, size_t n) {
        if (o->len + n > o->cap) {
                o->overflow = true;
                return;
        }
        memcpy(o->p + o->len, s, n);
        o->len += n;
}

static void out_str(Out *o, const char *s) {
        out_put(o, s, strlen(s));
}

static void out_header(Out *o, const HttpHeader *h) {
        out_put(o, h->name, h->name_len);
        out_put(o, ": ", 2);
        out_put(o, h->value, h->value_len);
        out_put(o, "\r\n", 2);
}

static bool header_dropped(const HttpHead *head, const HttpHeader *h) {
        return http_is_hop_by_hop(h) || http_head_connection_lists(head, h);
}

/* ---- connection lifecycle ---- */

static void upstream_close(WorkerState *ws, Upstream *u) {
        if (!u || u->dead)
                return;
        u->dead = true;
        if (u->pooled) {
                if (u->prev)
                        u->prev->next = u->next;
                else
                        ws->pool = u->next;
                if (u->next)
                        u->next->prev = u->prev;
                ws->n_pool--;
        }
        u->conn = NULL;
        (void) epoll_ctl(ws->w->epoll_fd, EPOLL_CTL_DEL, u->fd, NULL);
        safe_close(u->fd);
        u->fd = -EBADF;
        u->next = ws->graveyard_up;
        ws->graveyard_up = u;
}

static void upstream_pool_put(WorkerState *ws, Upstream *u) {
        if (ws->n_pool >= POOL_IDLE_MAX || ws->shutting_down || u->eof || u->connecting) {
                upstream_close(ws, u);
                return;
        }
        u->conn = NULL;
        u->pooled = true;
        u->idle_since_ms = ws->now_ms;
        u->prev = NULL;
        u->next = ws->pool;
        if (ws->pool)
                ws->pool->prev = u;
        ws->pool = u;
        ws->n_pool++;
}

static Upstream *upstream_pool_get(WorkerState *ws, const ProxyAddr *addr) {
        for (Upstream *u = ws->pool; u; u = u->next)
                if (proxy_addr_equal(&u->addr, addr)) {
                        if (u->prev)
                                u->prev->next = u->next;
                        else
                                ws->pool = u->next;
                        if (u->next)
                                u->next->prev = u->prev;
                        ws->n_pool--;
                        u->next = u->prev = NULL;
                        u->pooled = false;
                        return u;
                }
        return NULL;
}

static int upstream_connect(WorkerState *ws, const ProxyAddr *addr, Upstream **ret) {
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
        if (epoll_ctl(ws->w->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                int r = -errno;
                free(u);
                return r;
        }
        u->fd = TAKE_FD(fd);
        *ret = u;
        return 0;
}

static void conn_release_request(WorkerState *ws, Conn *c) {
        if (c->target) {
                atomic_fetch_sub_explicit(&c->target->in_flight, 1, memory_order_relaxed);
                if (c->target->stats)
                        atomic_fetch_sub_explicit(&c->target->stats->in_flight, 1, memory_order_relaxed);
                if (c->tunnel_counted && c->target->stats)
                        atomic_fetch_sub_explicit(&c->target->stats->tunnels, 1, memory_order_relaxed);
                c->target = NULL;
        }
        if (c->route) {
                if (c->route->stats) {
                        atomic_fetch_sub_explicit(&c->route->stats->in_flight, 1, memory_order_relaxed);
                        if (c->tunnel_counted)
                                atomic_fetch_sub_explicit(&c->route->stats->tunnels, 1, memory_order_relaxed);
                }
                c->route = NULL;
        }
        c->tunnel_counted = false;
        if (c->table) {
                route_table_unref(c->table);
                c->table = NULL;
        }
}

static void json_escape_into(Out *o, const char *s, size_t n) {
        for (size_t i = 0; i < n; i++) {
                unsigned char ch = (unsigned char) s[i];
                char esc[8];
                if (ch == '"' || ch == '\\') {
                        esc[0] = '\\';
                        esc[1] = (char) ch;
                        out_put(o, esc, 2);
                } else if (ch < 0x20 || ch >= 0x7f) {
                        snprintf(esc, sizeof(esc), "\\u%04x", ch);
                        out_put(o, esc, 6);
                } else
                        out_put(o, (const char *) &ch, 1);
        }
}

static void conn_access_log(WorkerState *ws, Conn *c, uint64_t latency_us) {
        char line[2048], ip[PROXY_ADDR_STRING_MAX], num[256], ts[64];
        Out o = { .p = line, .cap = sizeof(line) - 1 };
        struct timespec rt;
        struct tm tm;

        if (ws->s->access_log_fd < 0)
                return;
        clock_gettime(CLOCK_REALTIME, &rt);
        gmtime_r(&rt.tv_sec, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
        proxy_addr_ip_string(&c->peer.sa, ip);
        out_str(&o, "{\"time\":\"");
        out_str(&o, ts);
        snprintf(num, sizeof(num), ".%03ldZ\",\"client\":\"", rt.tv_nsec / 1000000);
        out_str(&o, num);
        out_str(&o, ip);
        out_str(&o, "\",\"request\":\"");
        if (c->log_req)
                json_escape_into(&o, c->log_req, strlen(c->log_req));
        out_str(&o, "\",\"route\":");
        if (c->route) {
                out_str(&o, "\"");
                json_escape_into(&o, c->route->name, strlen(c->route->name));
                out_str(&o, "\"");
        } else
                out_str(&o, "null");
        out_str(&o, ",\"upstream\":");
        if (c->target) {
                out_str(&o, "\"");
                out_str(&o, c->target->address);
                out_str(&o, "\"");
        } else
                out_str(&o, "null");
        snprintf(num, sizeof(num), ",\"status\":%u,\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64
                 ",\"duration_ms\":%.3f}\n", c->status, c->bytes_in, c->bytes_out, (double) latency_us / 1000.0);
        out_str(&o, num);
        if (o.overflow)
                return;
        if (write(ws->s->access_log_fd, line, o.len) < 0)
                log_debug_errno(-errno, "access log write failed: %m");
}

/* Called once per request that got a status (or was cut): stats, access log, reference release. */
static void conn_account(WorkerState *ws, Conn *c) {
        uint64_t lat;

        if (c->t_start_ns == 0)
                return;
        lat = (now_ns() - c->t_start_ns) / 1000;
        if (c->route)
                proxy_stats_record(c->route->stats, c->status, c->bytes_in, c->bytes_out, lat);
        if (c->target)
                proxy_stats_record(c->target->stats, c->status, c->bytes_in, c->bytes_out, lat);
        conn_access_log(ws, c, lat);
        c->t_start_ns = 0;
        free(c->log_req);
        c->log_req = NULL;
}

static void conn_close(WorkerState *ws, Conn *c) {
        if (c->dead)
                return;
        c->dead = true;
        conn_account(ws, c);
        conn_release_request(ws, c);
        if (c->up) {
                upstream_close(ws, c->up);
                c->up = NULL;
        }
        (void) epoll_ctl(ws->w->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
        safe_close(c->fd);
        c->fd = -EBADF;
        buf_release(ws, &c->req.raw);
        buf_release(ws, &c->resp.raw);
        flow_free_head(&c->req);
        flow_free_head(&c->resp);
        free(c->peer_ip);
        c->peer_ip = NULL;
        if (c->prev)
                c->prev->next = c->next;
        else
                ws->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        ws->n_conns--;
        c->next = ws->graveyard_conns;
        ws->graveyard_conns = c;
}

static void conn_drop_upstream(WorkerState *ws, Conn *c) {
        Upstream *u = c->up;
        if (!u)
                return;
        c->up = NULL;
        upstream_close(ws, u);
}

static const char *status_text(unsigned status) {
        switch (status) {
        case 400: return "Bad Request";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 431: return "Request Header Fields Too Large";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        case 505: return "HTTP Version Not Supported";
        default: return "Error";
        }
}

/* Replaces whatever would go to the client with a short error response and closes after it. Only
 * valid before any byte of a final response was sent. */
static void conn_error(WorkerState *ws, Conn *c, unsigned status, const char *detail) {
        char body[256], *head;
        int bl, hl;

        conn_drop_upstream(ws, c);
        bl = snprintf(body, sizeof(body), "%u %s: %s\n", status, status_text(status), detail);
        head = malloc(512 + (size_t) bl);
        if (!head) {
                conn_close(ws, c);
                return;
        }
        hl = snprintf(head, 512 + (size_t) bl,
                      "HTTP/1.1 %u %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n"
                      "Via: " VIA_TOKEN "\r\n\r\n%s",
                      status, status_text(status), bl, c->req_head_method ? "" : body);
        flow_free_head(&c->resp);
        flow_reset_body(&c->resp);
        c->resp.done = true;
        buf_release(ws, &c->resp.raw);
        c->resp.head = head;
        c->resp.head_len = (uint32_t) hl;
        c->status = status;
        c->resp_final = true;
        c->close_after = true;
        c->resp_state = RESP_DONE;
        c->phase_since_ms = ws->now_ms;
        if (c->phase == PHASE_IDLE) {
                c->phase = PHASE_ACTIVE; /* so the completion path sends and closes */
                if (!c->t_start_ns)
                        c->t_start_ns = now_ns();
        }
        /* the request body is not forwarded any more */
        flow_free_head(&c->req);
        c->req.mode = FLOW_NONE;
        c->req.done = true;
        c->req.fwd = 0;
}

/* Abandon the connection after a failure mid-response: the client sees a truncated message. */
static void conn_abort(WorkerState *ws, Conn *c) {
        if (c->status == 0)
                c->status = 502;
        conn_close(ws, c);
}

static int conn_acquire_upstream(WorkerState *ws, Conn *c, bool allow_pool) {
        Upstream *u = allow_pool ? upstream_pool_get(ws, &c->target->addr) : NULL;
        int r;

        if (u) {
                u->reused = true;
                u->readable = u->writable = true;
                u->rdhup = false;
        } else {
                r = upstream_connect(ws, &c->target->addr, &u);
                if (r < 0)
                        return r;
        }
        u->conn = c;
        c->up = u;
        c->up_activity_ms = ws->now_ms;
        return 0;
}

static void conn_set_target(Conn *c, Target *t) {
        if (c->target) {
                atomic_fetch_sub_explicit(&c->target->in_flight, 1, memory_order_relaxed);
                if (c->target->stats)
                        atomic_fetch_sub_explicit(&c->target->stats->in_flight, 1, memory_order_relaxed);
        }
        c->target = t;
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
        bool retryable = c->req.mode == FLOW_NONE && c->req.head && buf_len(&c->resp.raw) == 0 && !c->resp_final;

        conn_drop_upstream(ws, c);
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
        conn_error(ws, c, 502, error == -ECONNREFUSED ? "the upstream refused the connection" :
                                                       "the upstream closed the connection without a response");
}

/* ---- request head → upstream head ---- */

static int conn_start_request(WorkerState *ws, Conn *c) {
        HttpHead *h = &ws->head;
        HttpError e;
        const char *path, *host;
        size_t path_len, host_len;
        char ip[PROXY_ADDR_STRING_MAX], rewritten[HTTP_HEAD_MAX];
        size_t rw_len;
        const char *xff = NULL;
        size_t xff_len = 0;
        Out o;
        Route *route;
        Target *target;
        int n, r;

        n = http_find_head_end(c->req.raw.data + c->req.raw.start, buf_len(&c->req.raw), &c->req.scan);
        if (n == 0)
                return 0;
        c->t_start_ns = now_ns();
        c->status = 0;
        c->bytes_in = c->bytes_out = 0;
        if (n < 0) {
                conn_error(ws, c, 431, "the request head is too large");
                return 1;
        }
        r = http_request_parse(c->req.raw.data + c->req.raw.start, (size_t) n, h, &e);
        if (ws->s->access_log_fd >= 0) {
                size_t l = MIN((size_t) n, LOG_TARGET_MAX);
                const char *nl = memchr(c->req.raw.data + c->req.raw.start, '\r', l);
                l = nl ? (size_t) (nl - (c->req.raw.data + c->req.raw.start)) : l;
                c->log_req = strndup(c->req.raw.data + c->req.raw.start, l);
        }
        c->req_head_method = r >= 0 && h->is_head_method;
        if (r < 0) {
                unsigned st = e == HTTP_ERROR_TOO_LARGE ? 431 : e == HTTP_ERROR_VERSION ? 505 :
                              e == HTTP_ERROR_METHOD ? 405 : 400;
                conn_error(ws, c, st, h->error_detail ? h->error_detail : "malformed request");
                return 1;
        }
        c->bytes_in = (uint64_t) n;
        c->req_upgrade = h->conn_upgrade;
        c->req_expect = h->expect_continue;
        c->req_close = h->conn_close;
        c->req_http10 = h->version_minor == 0;
        c->requests++;

        path = h->target;
        path_len = h->target_len;
        host = h->host;
        host_len = h->host_len;
        if (path[0] != '/' && path[0] != '*') { /* absolute form: http://authority/path */
                const char *a = path + 7, *end = path + path_len, *slash = memchr(a, '/', (size_t) (end - a));
                host = a;
                host_len = (size_t) ((slash ? slash : end) - a);
                path = slash ? slash : "/";
                path_len = slash ? (size_t) (end - slash) : 1;
        }

        route = (Route *) route_table_match(ws->table, c->listener_id, host, host_len, path, path_len);
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
        rw_len = route_rewrite_path(route, path, path_len, rewritten, sizeof(rewritten));
        flow_free_head(&c->req);
        o = (Out) { .p = malloc(HEAD_OUT_MAX), .cap = HEAD_OUT_MAX };
        if (!o.p)
                return -ENOMEM;
        out_put(&o, h->method, h->method_len);
        out_put(&o, " ", 1);
        out_put(&o, rewritten, rw_len);
        out_put(&o, " HTTP/1.1\r\n", 11);
        if (!h->host && host) {
                out_str(&o, "Host: ");
                out_put(&o, host, host_len);
                out_str(&o, "\r\n");
        }
        for (size_t i = 0; i < h->n_headers; i++) {
                const HttpHeader *f = &h->headers[i];
                if (header_dropped(h, f))
                        continue;
                if (http_name_eq(f, "x-forwarded-for")) {
                        xff = f->value;
                        xff_len = f->value_len;
                        continue;
                }
                if (http_name_eq(f, "x-forwarded-proto") || http_name_eq(f, "x-forwarded-host"))
                        continue;
                out_header(&o, f);
        }
        if (h->body == HTTP_BODY_CHUNKED)
                out_str(&o, "Transfer-Encoding: chunked\r\n");
        if (!c->peer_ip) {
                proxy_addr_ip_string(&c->peer.sa, ip);
                c->peer_ip = strdup(ip);
        }
        out_str(&o, "X-Forwarded-For: ");
        if (xff && xff_len > 0) {
                out_put(&o, xff, xff_len);
                out_str(&o, ", ");
        }
        out_str(&o, c->peer_ip ?: "unknown");
        out_str(&o, "\r\nX-Forwarded-Proto: http\r\n");
        if (host) {
                out_str(&o, "X-Forwarded-Host: ");
                out_put(&o, host, host_len);
                out_str(&o, "\r\n");
        }
        out_str(&o, "Via: " VIA_TOKEN "\r\n");
        if (c->req_upgrade) {
                for (size_t i = 0; i < h->n_headers; i++)
                        if (http_name_eq(&h->headers[i], "upgrade")) {
                                out_str(&o, "Connection: upgrade\r\n");
                                out_header(&o, &h->headers[i]);
                                break;
                        }
        }
        out_str(&o, "\r\n");
        if (o.overflow) {
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

static int conn_handle_response_head(WorkerState *ws, Conn *c) {
        HttpHead *h = &ws->head;
        const char *p = c->resp.raw.data + c->resp.raw.start;
        const char *line_end;
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

        if (h->status == 101 && !c->req_upgrade) {
                conn_error(ws, c, 502, "the upstream switched protocols without being asked");
                return 1;
        }
        if (h->status >= 100 && h->status < 200 && h->status != 101) {
                /* interim response: forward to HTTP/1.1 clients, then wait for the final one */
                buf_consume(&c->resp.raw, (uint32_t) n);
                c->resp.scan = 0;
                if (c->req_http10)
                        return 1;
                flow_free_head(&c->resp);
                o = (Out) { .p = malloc(64), .cap = 64 };
                if (!o.p)
                        return -ENOMEM;
                o.len = (size_t) snprintf(o.p, 64, "HTTP/1.1 %03u %s\r\n\r\n", h->status,
                                          h->status == 100 ? "Continue" : "Information");
                c->resp.head = o.p;
                c->resp.head_len = (uint32_t) o.len;
                return 1;
        }

        o = (Out) { .p = malloc(HEAD_OUT_MAX), .cap = HEAD_OUT_MAX };
        if (!o.p)
                return -ENOMEM;
        line_end = memchr(p, '\n', (size_t) n); /* the status line; its CR (if any) is not copied */
        if (line_end[-1] == '\r')
                line_end--;
        out_str(&o, "HTTP/1.1");
        out_put(&o, p + 8, (size_t) (line_end - p - 8));
        out_str(&o, "\r\n");
        for (size_t i = 0; i < h->n_headers; i++)
                if (!header_dropped(h, &h->headers[i]))
                        out_header(&o, &h->headers[i]);

        c->status = h->status;
        c->resp_final = true;
        c->upstream_close = h->conn_close;
        if (h->status == 101) {
                for (size_t i = 0; i < h->n_headers; i++)
                        if (http_name_eq(&h->headers[i], "upgrade")) {
                                out_str(&o, "Connection: upgrade\r\n");
                                out_header(&o, &h->headers[i]);
                                break;
                        }
                out_str(&o, "Via: " VIA_TOKEN "\r\n\r\n");
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
        } else {
                bool dechunk = h->body == HTTP_BODY_CHUNKED && c->req_http10;
                if (h->body == HTTP_BODY_CHUNKED && !dechunk)
                        out_str(&o, "Transfer-Encoding: chunked\r\n");
                if (c->req_close || h->body == HTTP_BODY_EOF || ws->shutting_down || dechunk)
                        c->close_after = true;
                out_str(&o, "Via: " VIA_TOKEN "\r\n");
                if (c->close_after)
                        out_str(&o, "Connection: close\r\n");
                else if (c->req_http10)
                        out_str(&o, "Connection: keep-alive\r\n");
                out_str(&o, "\r\n");
                flow_start_body(&c->resp, h->body, h->content_length);
                if (dechunk)
                        c->resp.mode = FLOW_DECHUNK; /* HTTP/1.0 has no chunked coding: end by closing */
                c->resp_state = RESP_BODY;
        }
        if (o.overflow) {
                free(o.p);
                c->resp_final = false;
                conn_error(ws, c, 502, "the upstream response head is too large");
                return 1;
        }
        buf_consume(&c->resp.raw, (uint32_t) n);
        c->resp.scan = 0;
        flow_free_head(&c->resp);
        c->resp.head = o.p;
        c->resp.head_len = (uint32_t) o.len;
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
                        upstream_pool_put(ws, u);
                else
                        upstream_close(ws, u);
        }
        conn_release_request(ws, c);
        flow_free_head(&c->req);
        flow_free_head(&c->resp);
        buf_release(ws, &c->resp.raw);
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
        buf_trim(ws, &c->req.raw);
}

static ssize_t sock_read(int fd, Buf *b, bool *readable, bool rdhup, bool *eof, bool *error) {
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

/* Runs the connection's state machine until nothing more can happen without a new event. */
static void conn_process(WorkerState *ws, Conn *c) {
        unsigned iter;

        for (iter = 0; iter < PROCESS_ROUNDS_MAX && !c->dead; iter++) {
                bool progress = false;
                Upstream *u = c->up;
                ssize_t k;
                int r;

                /* 1. read from the client */
                if (c->readable && !c->eof) {
                        bool want = c->phase != PHASE_ACTIVE || buf_len(&c->req.raw) < CONN_BUF_SIZE;
                        if (want && buf_prepare(ws, &c->req.raw) >= 0) {
                                uint32_t before = buf_len(&c->req.raw);
                                k = sock_read(c->fd, &c->req.raw, &c->readable, c->rdhup, &c->eof, &c->client_error);
                                if (k > 0) {
                                        progress = true;
                                        if (c->phase == PHASE_IDLE && before == 0)
                                                c->phase_since_ms = ws->now_ms;
                                        if (c->phase == PHASE_ACTIVE || c->phase == PHASE_TUNNEL)
                                                c->bytes_in += buf_len(&c->req.raw) - before;
                                }
                        }
                }
                if (c->client_error && c->phase != PHASE_LINGER) {
                        conn_close(ws, c);
                        return;
                }

                if (c->phase == PHASE_LINGER) {
                        buf_consume(&c->req.raw, buf_len(&c->req.raw));
                        if (c->eof || c->client_error) {
                                conn_close(ws, c);
                                return;
                        }
                        if (!progress)
                                break;
                        continue;
                }

                /* 2. a new request head */
                if (c->phase == PHASE_IDLE) {
                        if (buf_len(&c->req.raw) > 0) {
                                r = conn_start_request(ws, c);
                                if (r < 0) {
                                        conn_close(ws, c);
                                        return;
                                }
                                if (r > 0)
                                        progress = true;
                        }
                        if (c->phase == PHASE_IDLE) {
                                if (c->eof || (ws->shutting_down && buf_len(&c->req.raw) == 0)) {
                                        conn_close(ws, c);
                                        return;
                                }
                                if (!progress)
                                        break;
                                continue;
                        }
                        u = c->up;
                }

                /* 3. upstream connect completion, then request bytes to the upstream */
                if (u && u->connecting && u->writable) {
                        int err = 0;
                        socklen_t l = sizeof(err);
                        if (getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
                                err = errno;
                        if (err != 0) {
                                conn_upstream_failed(ws, c, -err);
                                continue;
                        }
                        u->connecting = false;
                        c->up_activity_ms = ws->now_ms;
                        progress = true;
                }
                if (flow_scan(&c->req) < 0) {
                        if (c->resp_final)
                                conn_abort(ws, c);
                        else
                                conn_error(ws, c, 400, "malformed chunked request body");
                        continue;
                }
                if (u && !u->connecting && u->writable && !u->shut_wr &&
                    (flow_head_pending(&c->req) || c->req.fwd > 0)) {
                        k = flow_send(&c->req, u->fd);
                        if (k > 0) {
                                progress = true;
                                c->up_activity_ms = ws->now_ms;
                        } else if (k == -EAGAIN)
                                u->writable = false;
                        else if (k < 0) {
                                if (c->resp_final || buf_len(&c->resp.raw) > 0 || !u->reused) {
                                        /* the upstream stopped reading; it may have answered (or be about
                                         * to): stop sending and keep reading */
                                        u->shut_wr = true;
                                        c->close_after = true;
                                        continue;
                                }
                                conn_upstream_failed(ws, c, (int) k); /* stale pooled connection */
                                continue;
                        }
                }
                if (u && u->shut_wr && c->req.fwd > 0) {
                        /* the upstream stopped reading: drop the rest of the request body */
                        buf_consume(&c->req.raw, c->req.fwd);
                        c->req.fwd = 0;
                }

                /* 4. upstream bytes */
                if (u && !u->connecting && u->readable && !u->eof &&
                    buf_len(&c->resp.raw) < CONN_BUF_SIZE && buf_prepare(ws, &c->resp.raw) >= 0) {
                        bool err = false;
                        k = sock_read(u->fd, &c->resp.raw, &u->readable, u->rdhup, &u->eof, &err);
                        if (k > 0) {
                                progress = true;
                                c->up_activity_ms = ws->now_ms;
                        }
                }

                /* 5. response head */
                if (c->phase == PHASE_ACTIVE && c->resp_state == RESP_HEAD && !flow_head_pending(&c->resp) &&
                    buf_len(&c->resp.raw) > 0) {
                        r = conn_handle_response_head(ws, c);
                        if (r < 0) {
                                conn_close(ws, c);
                                return;
                        }
                        if (r > 0)
                                progress = true;
                        if (c->dead)
                                return;
                }
                if (c->phase == PHASE_ACTIVE && c->resp_state == RESP_HEAD && c->up && c->up->eof &&
                    !c->resp_final && !flow_head_pending(&c->resp)) {
                        conn_upstream_failed(ws, c, -ECONNRESET);
                        continue;
                }

                /* 6. response bytes to the client */
                if (flow_scan(&c->resp) < 0) {
                        conn_abort(ws, c);
                        return;
                }
                if (c->writable && (flow_head_pending(&c->resp) || c->resp.fwd > 0)) {
                        uint64_t before = c->resp.sent;
                        uint32_t hs = c->resp.head_sent;
                        k = flow_send(&c->resp, c->fd);
                        if (k > 0) {
                                progress = true;
                                c->bytes_out += (c->resp.sent - before) + (c->resp.head_sent - hs);
                        } else if (k == -EAGAIN)
                                c->writable = false;
                        else if (k < 0) {
                                conn_close(ws, c);
                                return;
                        }
                }

                /* 7. ends of bodies, tunnels and requests */
                if (c->phase == PHASE_ACTIVE && c->resp_state == RESP_BODY && c->up && c->up->eof &&
                    !c->resp.done) {
                        if (c->resp.mode == FLOW_EOF && buf_len(&c->resp.raw) == c->resp.fwd)
                                c->resp.done = true;
                        else if (buf_len(&c->resp.raw) == c->resp.fwd && c->resp.fwd == 0 &&
                                 !flow_head_pending(&c->resp)) {
                                /* upstream died mid-response: cut the client off so it sees truncation */
                                conn_abort(ws, c);
                                return;
                        }
                }
                if (c->phase == PHASE_ACTIVE && c->resp_state == RESP_BODY && flow_complete(&c->resp))
                        c->resp_state = RESP_DONE;
                if (c->phase == PHASE_ACTIVE && c->resp_state == RESP_DONE && !flow_head_pending(&c->resp) &&
                    c->resp.fwd == 0) {
                        /* a response that ends before its request body closes the connection after it
                         * (conn_finish_request decides) */
                        conn_finish_request(ws, c);
                        progress = true;
                        continue;
                }
                if (c->phase == PHASE_TUNNEL) {
                        if (c->eof && c->req.fwd == 0 && c->up && !c->up->shut_wr && !flow_head_pending(&c->req)) {
                                (void) shutdown(c->up->fd, SHUT_WR);
                                c->up->shut_wr = true;
                        }
                        if (c->up && c->up->eof && c->resp.fwd == 0 && !flow_head_pending(&c->resp)) {
                                /* the upstream ended the tunnel and all its bytes are delivered */
                                conn_close(ws, c);
                                return;
                        }
                        if (!c->up) {
                                conn_close(ws, c);
                                return;
                        }
                }
                if (!progress)
                        break;
        }
        if (!c->dead && iter >= PROCESS_ROUNDS_MAX && !c->pending) {
                /* edge-triggered: no new event may come for work we left, so come back ourselves */
                c->pending = true;
                c->pending_next = ws->pending;
                ws->pending = c;
        }
        if (!c->dead) {
                buf_trim(ws, &c->resp.raw);
                if (c->phase == PHASE_IDLE)
                        buf_trim(ws, &c->req.raw);
        }
}

/* ---- accept, events, timers ---- */

static void worker_accept(WorkerState *ws, WListener *l) {
        static const char refuse[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                                     "Content-Length: 42\r\nConnection: close\r\n\r\n"
                                     "503: the proxy is at its connection limit\n";
        for (int i = 0; i < ACCEPT_BATCH; i++) {
                struct sockaddr_storage peer;
                socklen_t pl = sizeof(peer);
                struct epoll_event ev;
                int fd, one = 1;
                Conn *c;

                fd = accept4(l->fd, (struct sockaddr *) &peer, &pl, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0)
                        return;
                if (ws->n_conns >= ws->s->cfg.max_conns || ws->shutting_down) {
                        (void) send(fd, refuse, sizeof(refuse) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                        (void) shutdown(fd, SHUT_WR);
                        close(fd);
                        continue;
                }
                (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                c = calloc(1, sizeof(Conn));
                if (!c) {
                        close(fd);
                        continue;
                }
                c->ev.type = EV_CLIENT;
                c->fd = fd;
                memcpy(&c->peer, &peer, MIN((size_t) pl, sizeof(c->peer)));
                c->listener_id = l->id;
                c->phase = PHASE_IDLE;
                c->phase_since_ms = ws->now_ms;
                c->readable = true;
                c->writable = true;
                ev = (struct epoll_event) { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c };
                if (epoll_ctl(ws->w->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                        close(fd);
                        free(c);
                        continue;
                }
                c->next = ws->conns;
                if (ws->conns)
                        ws->conns->prev = c;
                ws->conns = c;
                ws->n_conns++;
                conn_process(ws, c);
        }
}

static bool table_uses_addr(const RouteTable *t, const ProxyAddr *a) {
        for (size_t i = 0; i < t->n_routes; i++)
                for (size_t k = 0; k < t->routes[i].n_targets; k++)
                        if (proxy_addr_equal(&t->routes[i].targets[k].addr, a))
                                return true;
        return false;
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
        for (Upstream *u = ws->pool, *next; u; u = next) {
                next = u->next;
                if (!table_uses_addr(t, &u->addr))
                        upstream_close(ws, u);
        }
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
        while (ws->pool)
                upstream_close(ws, ws->pool);
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
        for (Upstream *u = ws->pool, *n; u; u = n) {
                n = u->next;
                if (now - u->idle_since_ms >= POOL_IDLE_TIMEOUT_MS)
                        upstream_close(ws, u);
        }
}

static void worker_bury(WorkerState *ws) {
        while (ws->graveyard_conns) {
                Conn *c = ws->graveyard_conns;
                ws->graveyard_conns = c->next;
                free(c);
        }
        while (ws->graveyard_up) {
                Upstream *u = ws->graveyard_up;
                ws->graveyard_up = u->next;
                free(u);
        }
}

static void *worker_main(void *userdata) {
        Worker *w = userdata;
        WorkerState *ws = w->state;
        struct epoll_event events[EVENTS_MAX];

        ws->now_ms = ws->last_tick_ms = now_ms_coarse();
        worker_refresh_table(ws);
        for (;;) {
                int n = epoll_wait(w->epoll_fd, events, EVENTS_MAX, ws->pending ? 0 : (int) TICK_MS);
                Conn *pending;

                ws->now_ms = now_ms_coarse();
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
                                if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                                        c->readable = true;
                                if (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                                        c->rdhup = true;
                                if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR))
                                        c->writable = true;
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
                                                upstream_close(ws, u);
                                        break;
                                }
                                if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                                        u->readable = true;
                                if (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                                        u->rdhup = true;
                                if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR))
                                        u->writable = true;
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
        while (ws->pool)
                upstream_close(ws, ws->pool);
        worker_bury(ws);
        for (WListener *l = ws->listeners, *nl; l; l = nl) {
                nl = l->next;
                safe_close(l->fd);
                free(l);
        }
        if (ws->table)
                route_table_unref(ws->table);
        while (ws->n_buf_cache > 0)
                free(ws->buf_cache[--ws->n_buf_cache]);
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
        w->state = ws;
        pthread_mutex_init(&w->cmd_lock, NULL);
        w->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        w->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (w->epoll_fd < 0 || w->event_fd < 0)
                return -errno;
        ev = (struct epoll_event) { .events = EPOLLIN, .data.ptr = &ws->wake_ev };
        if (epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, w->event_fd, &ev) < 0)
                return -errno;
        r = pthread_create(&w->thread, NULL, worker_main, w);
        if (r != 0)
                return -r;
        return 0;
}
