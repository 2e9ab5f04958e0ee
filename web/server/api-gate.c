/* The API gate's event loop (see api-gate.h).  One thread, level-triggered epoll, one GateConn per
 * client.  A connection moves HEAD → (BODY) → CONNECTING → RELAY, or to DRAIN after the gate answered
 * it itself, or HEAD → BLOB → HEAD … for registry blob reads it serves from the store (api-gate-blob.h),
 * keeping the connection alive.  Deadlines are checked by a sweep every GATE_SWEEP_MS, so they hold to
 * within that. */
#include "api-gate.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "api-gate-blob.h"
#include "chunked.h"
#include "head-rewrite.h"
#include "http-limits.h"
#include "http-session.h"
#include "log.h"

#define GATE_SWEEP_MS 200
#define GATE_DRAIN_SEC 2U              /* after the gate's own answer: wait this long for the close */
#define GATE_DRAIN_MAX (1024U * 1024U) /* and discard at most this much */
#define GATE_ACCEPT_PAUSE_SEC 1U       /* after EMFILE/ENFILE */
#define GATE_EVENTS 64
#define GATE_STOP_FLUSH_MSEC 1000U /* at stop: what civetweb already answered may take this long to go out */
#define GATE_TAG_LISTENER ((uint64_t) 0)
#define GATE_TAG_WAKE ((uint64_t) 2)
#define GATE_TAG_UPSTREAM ((uint64_t) 1) /* low bit of a GateConn pointer */

typedef enum GateState {
        GATE_HEAD,
        GATE_BODY,
        GATE_CONNECTING,
        GATE_RELAY,
        GATE_DRAIN,
        GATE_BLOB, /* the gate's own answer to a blob read going out (c->blob) */
        _GATE_STATE_MAX,
} GateState;

typedef struct GateBuf {
        char *data;
        size_t start, end, cap;
} GateBuf;

/* A client's address, by the loopback port its request reaches civetweb from. */
typedef struct GateClientAddress {
        uint8_t family; /* 0: none */
        uint8_t addr[16];
} GateClientAddress;
#define GATE_PORTS 65536U

typedef struct GateConn GateConn;
struct GateConn {
        GateConn *prev, *next;
        int client_fd, upstream_fd;
        GateState state;
        uint64_t deadline;      /* µs, CLOCK_MONOTONIC; HEAD, BODY, CONNECTING and DRAIN */
        uint64_t last_progress; /* last byte from the client or to civetweb */
        uint64_t last_sent;     /* last byte to the client, once civetweb is done */
        GateBuf up;             /* client → civetweb: head, body, then whatever follows */
        GateBuf down;           /* civetweb → client, when no pipe could be made */
        /* civetweb → client through a pipe with splice(2): no copy through the gate's memory (large
         * answers: registry blobs, image exports).  piped bytes are in it, at most pipe_cap. */
        int pipe_r, pipe_w;
        size_t piped, pipe_cap;
        uint32_t client_mask, upstream_mask;
        size_t head_len;
        size_t scan;     /* where the search for the head's end resumes */
        size_t reserved; /* bytes of GATE_BODY_BUFFER_TOTAL this connection holds */
        size_t drained;
        /* the request body while streamed */
        HttpBody body;
        uint64_t body_left;
        ChunkedDecoder chunked;
        bool body_done;
        bool client_eof, upstream_eof, up_shut, up_failed, response_started, closed;
        /* blob answers: the one going out, how many went out before (the connection is then kept alive
         * between requests), and whether its close was asked for; pending: a next head may wait in up */
        GateBlobReply *blob;
        bool blob_close, pending;
        unsigned long answered;
        GateClientAddress peer; /* the client's address, for the login throttle (api_gate_client_address) */
};

/* What happened since the last log line. */
typedef struct GateCounters {
        unsigned long refused, head_timeouts, body_timeouts, upload_timeouts, reader_timeouts, rejected,
                unauthorized, upstream_failed, accept_paused, blobs, blobs_missing;
        uint64_t blob_bytes;
} GateCounters;

struct ApiGate {
        int listen_fd, epoll_fd, wake_fd;
        int blobs_fd;     /* the store's blobs/sha256, for blob reads answered here; -EBADF: none */
        size_t n_pending; /* connections with pending set */
        int port;
        unsigned upstream_port;
        ApiGateAuth auth;
        pthread_t thread;
        bool thread_started;
        int quiesce, stop; /* set by other threads, then wake_fd is written */
        uint64_t stop_deadline;
        GateConn *conns, *zombies;
        size_t n_conns, max_conns, reserved;
        uint64_t accept_resume; /* 0: accepting */
        uint64_t next_sweep, next_log;
        GateCounters counters;
        /* upstream local port → client address, read by civetweb's threads under clients_lock */
        GateClientAddress *clients;
        pthread_mutex_t clients_lock;
};

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000U + (uint64_t) ts.tv_nsec / 1000U;
}

#define SEC_USEC(s) ((uint64_t) (s) *1000000U)

/* --- buffers */

static size_t gbuf_len(const GateBuf *b) {
        return b->end - b->start;
}

/* Bytes read from civetweb that the client has not taken yet. */
static size_t down_len(const GateConn *c) {
        return gbuf_len(&c->down) + c->piped;
}

static size_t down_max(const GateConn *c) {
        return c->pipe_r >= 0 ? MIN(c->pipe_cap, (size_t) GATE_RELAY_BUFFER) : GATE_RELAY_BUFFER;
}

/* Makes room for want more bytes at the end (fewer when that would hold more than max bytes). */
static int gbuf_reserve(GateBuf *b, size_t want, size_t max) {
        size_t cap;
        char *p;

        if (b->start > 0) {
                memmove(b->data, b->data + b->start, b->end - b->start);
                b->end -= b->start;
                b->start = 0;
        }
        if (b->cap - b->end >= want || b->cap >= max)
                return 0;
        cap = MAX(b->cap * 2, b->end + want);
        cap = MAX(cap, (size_t) 2048);
        cap = MIN(cap, max);
        p = realloc(b->data, cap);
        if (!p)
                return -ENOMEM;
        b->data = p;
        b->cap = cap;
        return 0;
}

static void gbuf_free(GateBuf *b) {
        free(b->data);
        *b = (GateBuf) {};
}

/* --- connections */

static void conn_set_mask(ApiGate *g, int fd, uint64_t tag, uint32_t *cur, uint32_t want) {
        struct epoll_event ev = { .events = want, .data.u64 = tag };

        if (fd < 0 || *cur == want)
                return;
        if (epoll_ctl(g->epoll_fd, EPOLL_CTL_MOD, fd, &ev) == 0)
                *cur = want;
}

/* Registers for what the connection can use now: read when there is room, write when there is data. */
static void conn_update(ApiGate *g, GateConn *c) {
        uint32_t cm = 0, um = 0;

        if (c->closed)
                return;
        switch (c->state) {
        case GATE_HEAD:
        case GATE_BODY:
        case GATE_DRAIN:
                cm = EPOLLIN;
                break;
        case GATE_CONNECTING:
                um = EPOLLOUT;
                break;
        case GATE_BLOB:
                cm = EPOLLOUT; /* the next head is read once this answer is out */
                break;
        case GATE_RELAY:
                if (!c->client_eof && (c->up_failed || gbuf_len(&c->up) < GATE_RELAY_BUFFER))
                        cm |= EPOLLIN;
                if (down_len(c) > 0)
                        cm |= EPOLLOUT;
                if (!c->upstream_eof && down_len(c) < down_max(c))
                        um |= EPOLLIN;
                if (!c->up_failed && gbuf_len(&c->up) > 0)
                        um |= EPOLLOUT;
                break;
        default:
                break;
        }
        conn_set_mask(g, c->client_fd, (uint64_t) (uintptr_t) c, &c->client_mask, cm);
        conn_set_mask(g, c->upstream_fd, (uint64_t) (uintptr_t) c | GATE_TAG_UPSTREAM, &c->upstream_mask,
                      um);
}

static void conn_close(ApiGate *g, GateConn *c) {
        if (c->closed)
                return;
        c->closed = true;
        safe_close(c->client_fd);
        safe_close(c->upstream_fd);
        c->client_fd = c->upstream_fd = -EBADF;
        c->pipe_r = safe_close(c->pipe_r);
        c->pipe_w = safe_close(c->pipe_w);
        c->piped = 0;
        gate_blob_reply_done(c->blob);
        free(c->blob);
        c->blob = NULL;
        if (c->pending) {
                c->pending = false;
                g->n_pending--;
        }
        g->reserved -= c->reserved;
        c->reserved = 0;
        /* unlink; freed after the current batch of events, which may still name it */
        if (c->prev)
                c->prev->next = c->next;
        else
                g->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->prev = NULL;
        c->next = g->zombies;
        g->zombies = c;
        g->n_conns--;
}

static void conn_free(GateConn *c) {
        gbuf_free(&c->up);
        gbuf_free(&c->down);
        free(c);
}

/* The gate's own answer: a JSON error document like http_reply_error()'s, then Connection: close. */
static int format_reply(int status, const char *message, const char *hint, bool registry, char *buf,
                        size_t size) {
        /* The registry answers in the distribution spec's shape, and a 401 there says how to authenticate. */
        json_t *j = registry ? json_pack("{s:[{s:s,s:s,s:s?}]}", "errors", "code",
                                         status == 401   ? "UNAUTHORIZED"
                                         : status == 403 ? "DENIED"
                                                         : "UNSUPPORTED",
                                         "message", message, "detail", hint)
                             : json_pack("{s:s,s:s}", "error", message, "hint", strempty(hint));
        char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        int n;

        json_decref(j);
        n = snprintf(buf, size,
                     "HTTP/1.1 %d %s\r\n"
                     "%s"
                     "Content-Type: application/json\r\n"
                     "Content-Length: %zu\r\n"
                     "Cache-Control: no-store\r\n"
                     "Connection: close\r\n\r\n"
                     "%s\n",
                     status, head_status_text((unsigned) status),
                     registry && status == 401 ? "WWW-Authenticate: Basic realm=\"slipway\"\r\n"
                                                 "Docker-Distribution-API-Version: registry/2.0\r\n"
                                               : "",
                     (text ? strlen(text) : 2) + 1, text ?: "{}");
        free(text);
        return n > 0 && (size_t) n < size ? n : -ENOBUFS;
}

static void send_reply(int fd, int status, const char *message, const char *hint, bool registry) {
        char buf[2048];
        int n = format_reply(status, message, hint, registry, buf, sizeof buf);

        /* A fresh socket's send buffer takes this at once; if not, the client gets the close alone. */
        if (n > 0)
                (void) send(fd, buf, (size_t) n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* After the gate's last answer on a connection: waits briefly for the client to close (closing at once with
 * unread request bytes would reset the connection and could destroy the answer before the client reads it). */
static void conn_drain(ApiGate *g, GateConn *c) {
        (void) shutdown(c->client_fd, SHUT_WR);
        c->upstream_fd = safe_close(c->upstream_fd);
        c->state = GATE_DRAIN;
        c->deadline = now_usec() + SEC_USEC(GATE_DRAIN_SEC);
        gbuf_free(&c->up);
        gbuf_free(&c->down);
        g->reserved -= c->reserved;
        c->reserved = 0;
        conn_update(g, c);
}

static void conn_reply_as(ApiGate *g, GateConn *c, int status, const char *message, const char *hint,
                          bool registry) {
        send_reply(c->client_fd, status, message, hint, registry);
        conn_drain(g, c);
}

static void conn_reply(ApiGate *g, GateConn *c, int status, const char *message, const char *hint) {
        conn_reply_as(g, c, status, message, hint, false);
}

/* Counts the streamed request body bytes in data[0..n), so the upload timeout stops at its end. */
static void body_track(GateConn *c, const char *data, size_t n) {
        if (c->body_done || n == 0)
                return;
        if (c->body == HTTP_BODY_LENGTH) {
                c->body_left -= MIN((uint64_t) n, c->body_left);
                c->body_done = c->body_left == 0;
        } else if (c->body == HTTP_BODY_CHUNKED) {
                ssize_t k = chunked_decoder_feed(&c->chunked, (const uint8_t *) data, n, NULL, NULL);
                /* Malformed framing is civetweb's to answer; the gate stops timing the body. */
                c->body_done = k < 0 || chunked_decoder_done(&c->chunked);
        } else
                c->body_done = true;
}

static void conn_connect(ApiGate *g, GateConn *c) {
        struct sockaddr_in sa = { .sin_family = AF_INET,
                                  .sin_port = htons(g->upstream_port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        struct epoll_event ev = { .events = EPOLLOUT,
                                  .data.u64 = (uint64_t) (uintptr_t) c | GATE_TAG_UPSTREAM };
        int fd;

        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0 || (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0 && errno != EINPROGRESS) ||
            epoll_ctl(g->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                log_debug_errno(-errno, "API gate: cannot connect to civetweb on port %u: %m",
                                g->upstream_port);
                safe_close(fd);
                g->counters.upstream_failed++;
                return conn_reply(g, c, 502, "The API server inside slipwayd cannot be reached.",
                                  "See the slipwayd log; restart slipwayd if this persists.");
        }
        c->upstream_fd = fd;
        c->upstream_mask = EPOLLOUT;
        c->state = GATE_CONNECTING;
        {
                struct sockaddr_in local;
                socklen_t len = sizeof local;

                /* the port is bound by connect(): civetweb sees it as the request's remote port */
                if (g->clients && getsockname(fd, (struct sockaddr *) &local, &len) == 0) {
                        pthread_mutex_lock(&g->clients_lock);
                        g->clients[ntohs(local.sin_port)] = c->peer;
                        pthread_mutex_unlock(&g->clients_lock);
                }
        }
        c->deadline = now_usec() + SEC_USEC(GATE_HEAD_TIMEOUT_SEC);
        c->last_progress = now_usec();
        conn_update(g, c);
}

/* Sends what the client takes of the blob answer; once it is all out, the connection waits for the next
 * head (or drains, when the client asked to close or slipwayd stops). */
static void conn_blob_write(ApiGate *g, GateConn *c) {
        uint64_t before = c->blob->sent;
        int r = gate_blob_reply_send(c->blob, c->client_fd);

        if (c->blob->sent > before)
                c->last_sent = now_usec();
        if (r < 0)
                return conn_close(g, c); /* the client went away */
        if (r == 0)
                return;
        if (c->blob->status == 404)
                g->counters.blobs_missing++;
        else
                g->counters.blobs++;
        g->counters.blob_bytes += c->blob->sent;
        free(c->blob);
        c->blob = NULL;
        c->answered++;
        if (c->blob_close || __atomic_load_n(&g->quiesce, __ATOMIC_ACQUIRE) || g->stop_deadline)
                return conn_drain(g, c);
        /* keep-alive: the idle time before the next head counts against its head deadline */
        c->state = GATE_HEAD;
        c->deadline = now_usec() + SEC_USEC(GATE_HEAD_TIMEOUT_SEC);
        c->scan = 0;
        if (gbuf_len(&c->up) > 0) {
                /* a pipelined request: looked at from the loop, so a run of them cannot recurse */
                c->pending = true;
                g->n_pending++;
        } else
                gbuf_free(&c->up);
        conn_update(g, c);
}

/* A blob read the gate answers from the store itself.  False (nothing changed) when it cannot make the
 * answer: civetweb gets the request then, as any other. */
static bool conn_blob_start(ApiGate *g, GateConn *c, const GateBlobRequest *req, size_t head_len) {
        GateBlobReply *b = malloc(sizeof *b);
        int one = 1;

        if (!b || gate_blob_reply_init(g->blobs_fd, req, b) < 0) {
                free(b);
                return false;
        }
        if (c->answered == 0)
                /* a small answer after a body must not wait for the client's delayed ACK */
                (void) setsockopt(c->client_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->up.start += head_len; /* what follows is the client's next request */
        c->blob = b;
        c->blob_close = req->close;
        c->state = GATE_BLOB;
        c->deadline = 0;
        c->last_sent = now_usec();
        conn_update(g, c);
        conn_blob_write(g, c);
        return true;
}

/* The head is complete in c->up: answer it here, or rewrite it for civetweb and move on. */
static void conn_head_done(ApiGate *g, GateConn *c) {
        GateHeadCheck chk;
        GateBlobRequest breq;
        size_t len = gbuf_len(&c->up), extra;
        const char *buf = c->up.data + c->up.start;

        api_gate_check_head(buf, len, &g->auth, (int64_t) time(NULL), &chk);
        if (chk.status != 0) {
                if (chk.status == 401 || chk.status == 403)
                        g->counters.unauthorized++;
                else
                        g->counters.rejected++;
                return conn_reply_as(g, c, chk.status, chk.message, chk.hint, chk.registry);
        }
        if (g->blobs_fd >= 0 && api_gate_blob_match(buf, len, &chk, &breq) &&
            conn_blob_start(g, c, &breq, chk.head_len))
                return;

        if (chk.origin_off != chk.target_off) {
                /* method SP origin SP version…: the target shrinks, so it is rewritten in place */
                size_t cut = chk.origin_off - chk.target_off;
                char *p = c->up.data + c->up.start;

                memmove(p + chk.target_off, p + chk.origin_off, len - chk.origin_off);
                c->up.end -= cut;
                len -= cut;
                chk.head_len -= cut;
        }
        c->head_len = chk.head_len;
        extra = len - chk.head_len; /* body bytes that came with the head */
        c->body = chk.body;

        if (chk.body == HTTP_BODY_LENGTH && chk.content_length <= HTTP_JSON_BODY_MAX &&
            !chk.expect_continue && g->reserved + chk.content_length <= GATE_BODY_BUFFER_TOTAL) {
                c->reserved = (size_t) chk.content_length;
                g->reserved += c->reserved;
                c->body_left = chk.content_length - MIN((uint64_t) extra, chk.content_length);
                c->body_done = c->body_left == 0;
                if (!c->body_done) {
                        c->state = GATE_BODY;
                        c->deadline = now_usec() + SEC_USEC(GATE_BODY_TIMEOUT_SEC);
                        conn_update(g, c);
                        return;
                }
                return conn_connect(g, c);
        }

        /* Streamed: forwarded as it comes, timed only while the gate waits for the client. */
        c->body_left = chk.content_length;
        chunked_decoder_init(&c->chunked);
        body_track(c, c->up.data + c->up.start + chk.head_len, extra);
        conn_connect(g, c);
}

/* What c->up holds of a request head so far: answered at once if it is TLS or too large, passed on to
 * conn_head_done() once complete. */
static void conn_parse_head(ApiGate *g, GateConn *c) {
        int r;

        if (c->up.start < c->up.end && (unsigned char) c->up.data[c->up.start] == 0x16) {
                /* A TLS ClientHello (a handshake record): answer at once in plain HTTP, so a client that
                 * tries https first (skopeo, podman with --tls-verify=false) falls back now, not after the
                 * head timeout. */
                g->counters.rejected++;
                return conn_reply(g, c, 400, "This port speaks plain HTTP, not TLS.",
                                  "Use http:// (or put a TLS-terminating proxy in front of slipwayd).");
        }
        r = http_find_request_head_end_lenient(c->up.data + c->up.start, gbuf_len(&c->up), &c->scan);
        if (r == -EMSGSIZE) {
                g->counters.rejected++;
                return conn_reply(g, c, 431, "The request head is larger than the API accepts.",
                                  "Send fewer or shorter headers.");
        }
        if (r > 0)
                conn_head_done(g, c);
}

static void conn_read_client(ApiGate *g, GateConn *c) {
        size_t max, want;
        ssize_t n;

        if (c->state == GATE_BLOB)
                return; /* the next request waits until this answer is out */

        if (c->state == GATE_DRAIN) {
                char sink[4096];

                n = recv(c->client_fd, sink, sizeof sink, MSG_DONTWAIT);
                if (n > 0 && (c->drained += (size_t) n) <= GATE_DRAIN_MAX)
                        return;
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return;
                return conn_close(g, c);
        }

        if (c->state == GATE_HEAD)
                max = HTTP_REQUEST_HEADER_MAX; /* grown a piece at a time: slow clients hold little */
        else if (c->state == GATE_BODY)
                max = c->head_len + c->reserved;
        else if (c->up_failed) {
                /* civetweb stopped reading (it answered early): the rest of the upload is dropped */
                c->up.start = c->up.end = 0;
                max = 4096;
        } else
                max = GATE_RELAY_BUFFER;
        want = max - MIN(max, gbuf_len(&c->up));
        if (c->state == GATE_HEAD)
                want = MIN(want, (size_t) 4096);
        if (want == 0 || gbuf_reserve(&c->up, want, max) < 0)
                return;
        n = recv(c->client_fd, c->up.data + c->up.end, MIN(want, c->up.cap - c->up.end), MSG_DONTWAIT);
        if (n < 0) {
                if (errno == EAGAIN || errno == EINTR)
                        return;
                return conn_close(g, c); /* reset by the client */
        }
        if (n == 0) {
                c->client_eof = true;
                if (c->state == GATE_HEAD)
                        return conn_close(g, c); /* gone before it finished asking */
                if (c->state == GATE_BODY) /* a short body: civetweb's handler says what it says about it */
                        return conn_connect(g, c);
                if (c->state == GATE_RELAY && gbuf_len(&c->up) == 0 && !c->up_shut) {
                        (void) shutdown(c->upstream_fd, SHUT_WR);
                        c->up_shut = true;
                }
                return conn_update(g, c);
        }
        c->last_progress = now_usec();
        if (c->up_failed) {
                c->up.start = c->up.end = 0;
                return;
        }
        c->up.end += (size_t) n;

        if (c->state == GATE_HEAD)
                return conn_parse_head(g, c);
        if (c->state == GATE_BODY) {
                c->body_left -= MIN((uint64_t) n, c->body_left);
                if (c->body_left == 0)
                        conn_connect(g, c);
                return;
        }
        body_track(c, c->up.data + c->up.end - n, (size_t) n);
        conn_update(g, c);
}

static void conn_write_client(ApiGate *g, GateConn *c) {
        ssize_t n;

        if (c->piped > 0) {
                n = splice(c->pipe_r, NULL, c->client_fd, NULL, c->piped, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return;
                        return conn_close(g, c);
                }
                c->piped -= (size_t) n;
                c->last_sent = now_usec();
        } else if (gbuf_len(&c->down) > 0) {
                n = send(c->client_fd, c->down.data + c->down.start, gbuf_len(&c->down),
                         MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return;
                        return conn_close(g, c); /* the client went away: civetweb's next write fails */
                }
                c->down.start += (size_t) n;
                c->last_sent = now_usec();
                if (c->down.start == c->down.end)
                        c->down.start = c->down.end = 0;
        }
        if (down_len(c) == 0 && c->upstream_eof)
                return conn_close(g, c); /* the whole answer is out */
        conn_update(g, c);
}

/* The pipe for splice(2), made at the first answer bytes; without one (no descriptors left) the buffer is used. */
static void conn_make_pipe(GateConn *c) {
        int p[2], cap;

        if (c->pipe_r >= 0 || gbuf_len(&c->down) > 0 || pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
                return;
        cap = fcntl(p[1], F_SETPIPE_SZ, (int) GATE_RELAY_BUFFER);
        if (cap < 0)
                cap = fcntl(p[1], F_GETPIPE_SZ);
        if (cap <= 0) {
                safe_close(p[0]);
                safe_close(p[1]);
                return;
        }
        c->pipe_r = p[0];
        c->pipe_w = p[1];
        c->pipe_cap = (size_t) cap;
}

static void conn_read_upstream(ApiGate *g, GateConn *c) {
        ssize_t n;

        conn_make_pipe(c);
        if (c->pipe_r >= 0) {
                if (c->piped >= down_max(c))
                        return conn_update(g, c);
                n = splice(c->upstream_fd, NULL, c->pipe_w, NULL, down_max(c) - c->piped,
                           SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return;
                if (n > 0) {
                        c->piped += (size_t) n;
                        c->response_started = true;
                        return conn_write_client(g, c);
                }
                c->upstream_eof = true;
                c->upstream_fd = safe_close(c->upstream_fd);
                c->last_sent = now_usec();
                if (down_len(c) == 0)
                        return conn_close(g, c);
                return conn_update(g, c);
        }
        if (gbuf_reserve(&c->down, GATE_RELAY_BUFFER - gbuf_len(&c->down), GATE_RELAY_BUFFER) < 0)
                return;
        if (c->down.end == c->down.cap)
                return conn_update(g, c);
        n = recv(c->upstream_fd, c->down.data + c->down.end, c->down.cap - c->down.end, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n <= 0) {
                /* civetweb is done (keep-alive is off): its socket goes now, so a finished one cannot
                 * report EPOLLHUP over and over while a slow client reads the rest */
                c->upstream_eof = true;
                c->upstream_fd = safe_close(c->upstream_fd);
                c->last_sent = now_usec();
                if (gbuf_len(&c->down) == 0)
                        return conn_close(g, c);
                return conn_update(g, c);
        }
        c->down.end += (size_t) n;
        c->response_started = true;
        conn_write_client(g, c);
}

static void conn_write_upstream(ApiGate *g, GateConn *c) {
        ssize_t n;

        if (c->state == GATE_CONNECTING) {
                int err = 0;
                socklen_t l = sizeof err;

                if (getsockopt(c->upstream_fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0 || err != 0) {
                        log_debug("API gate: connecting to civetweb failed: %s", strerror(err ?: errno));
                        g->counters.upstream_failed++;
                        return conn_reply(g, c, 502, "The API server inside slipwayd cannot be reached.",
                                          "See the slipwayd log; restart slipwayd if this persists.");
                }
                c->state = GATE_RELAY;
                c->deadline = 0;
                c->last_progress = now_usec();
        }
        if (!c->up_failed && gbuf_len(&c->up) > 0) {
                n = send(c->upstream_fd, c->up.data + c->up.start, gbuf_len(&c->up),
                         MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0 && errno != EAGAIN && errno != EINTR) {
                        /* civetweb closed its side; what it answered is still read and passed on */
                        c->up_failed = true;
                        c->up.start = c->up.end = 0;
                } else if (n > 0) {
                        c->up.start += (size_t) n;
                        c->last_progress = now_usec();
                        if (c->up.start == c->up.end)
                                c->up.start = c->up.end = 0;
                }
        }
        if (c->reserved > 0 && gbuf_len(&c->up) == 0) {
                /* the buffered body is out: give its memory and budget back */
                g->reserved -= c->reserved;
                c->reserved = 0;
                gbuf_free(&c->up);
        }
        if (c->client_eof && gbuf_len(&c->up) == 0 && !c->up_shut) {
                (void) shutdown(c->upstream_fd, SHUT_WR);
                c->up_shut = true;
        }
        conn_update(g, c);
}

/* True while a streamed upload waits for the client's next byte: the only time the gate times a
 * forwarded request (answers may be silent for as long as the client stays). */
static bool conn_waits_for_upload(const GateConn *c) {
        return c->state == GATE_RELAY && !c->body_done && !c->response_started && !c->client_eof &&
               !c->up_failed && gbuf_len(&c->up) == 0;
}

static void gate_sweep(ApiGate *g, uint64_t now) {
        GateConn *next;

        for (GateConn *c = g->conns; c; c = next) {
                next = c->next;
                if (c->state == GATE_BLOB) {
                        /* as a relayed answer whose client reads none of it */
                        if (now - c->last_sent >= SEC_USEC(GATE_READER_IDLE_SEC)) {
                                g->counters.reader_timeouts++;
                                conn_close(g, c);
                        }
                        continue;
                }
                if (c->state == GATE_RELAY) {
                        if (conn_waits_for_upload(c) &&
                            now - c->last_progress >= SEC_USEC(GATE_UPLOAD_IDLE_SEC)) {
                                g->counters.upload_timeouts++;
                                conn_close(g, c);
                        } else if (c->upstream_eof && down_len(c) > 0 &&
                                   now - c->last_sent >= SEC_USEC(GATE_READER_IDLE_SEC)) {
                                /* civetweb is done; a client that takes nothing of the rest is dropped */
                                g->counters.reader_timeouts++;
                                conn_close(g, c);
                        }
                        continue;
                }
                if (c->deadline == 0 || now < c->deadline)
                        continue;
                switch (c->state) {
                case GATE_HEAD:
                        if (c->answered > 0 && gbuf_len(&c->up) == 0) {
                                /* an idle kept-alive connection ends quietly, as HTTP servers do */
                                conn_close(g, c);
                                break;
                        }
                        g->counters.head_timeouts++;
                        conn_reply(
                                g, c, 408, "The request head was not received in time.",
                                "Send the whole request head at once; idle connections are closed after a "
                                "few seconds.");
                        break;
                case GATE_BODY:
                        g->counters.body_timeouts++;
                        conn_reply(g, c, 408, "The request body was not received in time.",
                                   "Send the body right after the head; slow uploads are closed after a few "
                                   "seconds.");
                        break;
                case GATE_CONNECTING:
                        g->counters.upstream_failed++;
                        conn_reply(g, c, 502, "The API server inside slipwayd did not accept the request.",
                                   "See the slipwayd log; restart slipwayd if this persists.");
                        break;
                default:
                        conn_close(g, c);
                        break;
                }
        }
}

static void gate_log(ApiGate *g, uint64_t now) {
        GateCounters *k = &g->counters;

        if (now < g->next_log)
                return;
        if (k->refused + k->head_timeouts + k->body_timeouts + k->upload_timeouts + k->reader_timeouts +
                    k->accept_paused >
            0)
                log_warning(
                        "API gate in the last %u s: %lu connection(s) refused at the limit of %zu, %lu "
                        "accept pause(s) for want of descriptors; %lu head, %lu body, %lu upload and %lu "
                        "slow-reader timeout(s); %lu malformed and %lu unauthenticated request(s).",
                        GATE_LOG_INTERVAL_SEC, k->refused, g->max_conns, k->accept_paused, k->head_timeouts,
                        k->body_timeouts, k->upload_timeouts, k->reader_timeouts, k->rejected,
                        k->unauthorized);
        else if (k->rejected + k->unauthorized + k->upstream_failed > 0)
                log_debug(
                        "API gate: %lu malformed, %lu unauthenticated request(s), %lu upstream failure(s).",
                        k->rejected, k->unauthorized, k->upstream_failed);
        if (k->blobs + k->blobs_missing > 0)
                log_debug(
                        "API gate in the last %u s: %lu registry blob read(s) answered from the store (%" PRIu64
                        " bytes), %lu for a blob it does not have.",
                        GATE_LOG_INTERVAL_SEC, k->blobs, k->blob_bytes, k->blobs_missing);
        *k = (GateCounters) {};
        g->next_log = now + SEC_USEC(GATE_LOG_INTERVAL_SEC);
}

static void gate_set_accepting(ApiGate *g, bool on) {
        struct epoll_event ev = { .events = on ? EPOLLIN : 0, .data.u64 = GATE_TAG_LISTENER };

        (void) epoll_ctl(g->epoll_fd, EPOLL_CTL_MOD, g->listen_fd, &ev);
}

static void gate_accept(ApiGate *g) {
        for (int i = 0; i < 64; i++) {
                struct epoll_event ev = {};
                GateConn *c;
                struct sockaddr_storage peer = {};
                socklen_t peer_len = sizeof peer;
                int fd = accept4(g->listen_fd, (struct sockaddr *) &peer, &peer_len,
                                 SOCK_NONBLOCK | SOCK_CLOEXEC);

                if (fd < 0) {
                        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                                /* Level-triggered: retrying now would spin; try again in a moment. */
                                g->counters.accept_paused++;
                                g->accept_resume = now_usec() + SEC_USEC(GATE_ACCEPT_PAUSE_SEC);
                                gate_set_accepting(g, false);
                        }
                        return;
                }
                if (g->n_conns >= g->max_conns) {
                        g->counters.refused++;
                        send_reply(fd, 503, "The API has too many open connections.",
                                   "Retry in a moment; close idle connections to the API.", false);
                        safe_close(fd);
                        continue;
                }
                c = calloc(1, sizeof *c);
                if (!c) {
                        safe_close(fd);
                        return;
                }
                *c = (GateConn) { .client_fd = fd,
                                  .upstream_fd = -EBADF,
                                  .pipe_r = -EBADF,
                                  .pipe_w = -EBADF,
                                  .state = GATE_HEAD,
                                  .deadline = now_usec() + SEC_USEC(GATE_HEAD_TIMEOUT_SEC),
                                  .client_mask = EPOLLIN };
                if (peer.ss_family == AF_INET) {
                        c->peer.family = AF_INET;
                        memcpy(c->peer.addr, &((struct sockaddr_in *) &peer)->sin_addr, 4);
                } else if (peer.ss_family == AF_INET6) {
                        c->peer.family = AF_INET6;
                        memcpy(c->peer.addr, &((struct sockaddr_in6 *) &peer)->sin6_addr, 16);
                }
                ev = (struct epoll_event) { .events = EPOLLIN, .data.u64 = (uint64_t) (uintptr_t) c };
                if (epoll_ctl(g->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                        safe_close(fd);
                        free(c);
                        return;
                }
                c->next = g->conns;
                if (g->conns)
                        g->conns->prev = c;
                g->conns = c;
                g->n_conns++;
        }
}

static void gate_event(ApiGate *g, const struct epoll_event *ev) {
        bool upstream = ev->data.u64 & GATE_TAG_UPSTREAM;
        GateConn *c = (GateConn *) (uintptr_t) (ev->data.u64 & ~GATE_TAG_UPSTREAM);
        uint32_t e = ev->events;

        if (c->closed)
                return;
        if (!upstream) {
                if (e & EPOLLERR)
                        return conn_close(g, c);
                if ((e & EPOLLOUT) && c->state == GATE_RELAY)
                        conn_write_client(g, c);
                else if ((e & EPOLLOUT) && c->state == GATE_BLOB)
                        conn_blob_write(g, c);
                if (!c->closed && (e & (EPOLLIN | EPOLLHUP)))
                        conn_read_client(g, c);
                /* both directions gone and nothing left to read */
                if (!c->closed && (e & EPOLLHUP) && !(e & EPOLLIN))
                        conn_close(g, c);
                return;
        }
        if (c->state == GATE_CONNECTING) {
                if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP))
                        conn_write_upstream(g, c);
                return;
        }
        if (c->state != GATE_RELAY)
                return;
        if (e & EPOLLOUT)
                conn_write_upstream(g, c);
        if (!c->closed && (e & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                conn_read_upstream(g, c);
}

/* A request from another thread: quiesce (stop accepting; requests not yet forwarded get 503) or stop
 * (finish relaying what civetweb has answered, for at most GATE_STOP_FLUSH_MSEC). */
static void gate_wake(ApiGate *g) {
        uint64_t v;
        GateConn *next;

        if (read(g->wake_fd, &v, sizeof v) < 0 && errno != EAGAIN)
                log_debug_errno(-errno, "API gate: cannot read its wake-up counter: %m");
        if (__atomic_load_n(&g->quiesce, __ATOMIC_ACQUIRE) && g->listen_fd >= 0) {
                g->listen_fd = safe_close(g->listen_fd);
                g->accept_resume = 0;
                for (GateConn *c = g->conns; c; c = next) {
                        next = c->next;
                        if (c->state == GATE_HEAD && c->answered > 0 && gbuf_len(&c->up) == 0)
                                conn_close(g, c); /* kept alive, asking nothing */
                        else if (c->state == GATE_HEAD || c->state == GATE_BODY)
                                conn_reply(g, c, 503, "slipwayd is stopping.",
                                           "Retry once it is running again.");
                }
        }
        if (__atomic_load_n(&g->stop, __ATOMIC_ACQUIRE) && !g->stop_deadline) {
                g->stop_deadline = now_usec() + (uint64_t) GATE_STOP_FLUSH_MSEC * 1000U;
                /* only answers on their way out are worth the wait */
                for (GateConn *c = g->conns; c; c = next) {
                        next = c->next;
                        if (c->state != GATE_RELAY && c->state != GATE_BLOB)
                                conn_close(g, c);
                }
        }
}

/* Requests that waited in a connection's buffer behind a blob answer now out. */
static void gate_run_pending(ApiGate *g) {
        GateConn *next;

        for (GateConn *c = g->conns; c && g->n_pending > 0; c = next) {
                next = c->next;
                if (!c->pending)
                        continue;
                c->pending = false;
                g->n_pending--;
                if (c->state == GATE_HEAD)
                        conn_parse_head(g, c);
        }
}

static void *gate_loop(void *userdata) {
        ApiGate *g = userdata;
        struct epoll_event evs[GATE_EVENTS];

        for (;;) {
                uint64_t now;
                int n, timeout = g->n_pending > 0                                   ? 0
                                 : g->conns || g->accept_resume || g->stop_deadline ? GATE_SWEEP_MS
                                                                                    : -1;

                n = epoll_wait(g->epoll_fd, evs, GATE_EVENTS, timeout);
                if (n < 0 && errno != EINTR) {
                        log_error_errno(-errno, "API gate: epoll_wait failed, the API stops serving: %m");
                        break;
                }
                for (int i = 0; i < n; i++) {
                        if (evs[i].data.u64 == GATE_TAG_WAKE)
                                gate_wake(g);
                        else if (evs[i].data.u64 == GATE_TAG_LISTENER)
                                gate_accept(g);
                        else
                                gate_event(g, &evs[i]);
                }
                now = now_usec();
                if (g->stop_deadline && (!g->conns || now >= g->stop_deadline))
                        break;
                if (now >= g->next_sweep) {
                        gate_sweep(g, now);
                        g->next_sweep = now + (uint64_t) GATE_SWEEP_MS * 1000U;
                }
                if (g->accept_resume && now >= g->accept_resume) {
                        g->accept_resume = 0;
                        gate_set_accepting(g, true);
                }
                gate_run_pending(g);
                gate_log(g, now);
                while (g->zombies) {
                        GateConn *z = g->zombies;
                        g->zombies = z->next;
                        conn_free(z);
                }
        }
        return NULL;
}

/* --- setup */

typedef union GateSockaddr {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
} GateSockaddr;

int api_gate_new(const char *addr, unsigned port, const ApiGateAuth *auth, ApiGate **ret) {
        _cleanup_(api_gate_freep) ApiGate *g = NULL;
        struct epoll_event ev = { .events = EPOLLIN, .data.u64 = GATE_TAG_LISTENER };
        GateSockaddr sa = {};
        socklen_t len;
        struct rlimit rl;
        rlim_t fds = 1024;
        int one = 1;

        /* Idle clients cost a descriptor each: take what the hard limit allows, and refuse (503) before
         * running out rather than fail accept() in a loop. */
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
                if (rl.rlim_cur < rl.rlim_max) {
                        rlim_t old = rl.rlim_cur;
                        rl.rlim_cur = rl.rlim_max;
                        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                                rl.rlim_cur = old;
                }
                fds = rl.rlim_cur;
        }

        g = calloc(1, sizeof *g);
        if (!g)
                return -ENOMEM;
        g->listen_fd = g->epoll_fd = g->wake_fd = g->blobs_fd = -EBADF;
        g->auth = *auth;
        pthread_mutex_init(&g->clients_lock, NULL);
        g->clients = calloc(GATE_PORTS, sizeof *g->clients);
        if (!g->clients)
                return -ENOMEM;
        /* a forwarded connection holds two descriptors */
        g->max_conns = fds > GATE_FD_RESERVE + 64 ? (size_t) (fds - GATE_FD_RESERVE) / 2 : 32;
        g->max_conns = MIN(g->max_conns, (size_t) GATE_CONNECTIONS_MAX);

        if (strchr(addr, ':')) {
                sa.in6.sin6_family = AF_INET6;
                sa.in6.sin6_port = htons(port);
                if (inet_pton(AF_INET6, addr, &sa.in6.sin6_addr) != 1)
                        return -EINVAL;
                len = sizeof sa.in6;
        } else {
                sa.in.sin_family = AF_INET;
                sa.in.sin_port = htons(port);
                if (inet_pton(AF_INET, addr, &sa.in.sin_addr) != 1)
                        return -EINVAL;
                len = sizeof sa.in;
        }
        g->listen_fd = socket(sa.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (g->listen_fd < 0)
                return -errno;
        (void) setsockopt(g->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(g->listen_fd, &sa.sa, len) < 0 || listen(g->listen_fd, SOMAXCONN) < 0)
                return -errno;
        len = sizeof sa;
        if (getsockname(g->listen_fd, &sa.sa, &len) < 0)
                return -errno;
        g->port = ntohs(sa.sa.sa_family == AF_INET6 ? sa.in6.sin6_port : sa.in.sin_port);

        g->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        g->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (g->epoll_fd < 0 || g->wake_fd < 0)
                return -errno;
        if (epoll_ctl(g->epoll_fd, EPOLL_CTL_ADD, g->listen_fd, &ev) < 0)
                return -errno;
        ev = (struct epoll_event) { .events = EPOLLIN, .data.u64 = GATE_TAG_WAKE };
        if (epoll_ctl(g->epoll_fd, EPOLL_CTL_ADD, g->wake_fd, &ev) < 0)
                return -errno;
        *ret = TAKE_PTR(g);
        return 0;
}

int api_gate_serve_blobs(ApiGate *g, const char *dir) {
        int fd;

        assert(!g->thread_started);
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        safe_close(g->blobs_fd);
        g->blobs_fd = fd;
        return 0;
}

int api_gate_port(ApiGate *g) {
        return g->port;
}

int api_gate_start(ApiGate *g, unsigned upstream_port) {
        int r;

        g->upstream_port = upstream_port;
        g->next_log = now_usec() + SEC_USEC(GATE_LOG_INTERVAL_SEC);
        r = pthread_create(&g->thread, NULL, gate_loop, g);
        if (r != 0)
                return -r;
        g->thread_started = true;
        return 0;
}

static void gate_signal(ApiGate *g, int *flag) {
        uint64_t one = 1;

        __atomic_store_n(flag, 1, __ATOMIC_RELEASE);
        if (write(g->wake_fd, &one, sizeof one) < 0)
                log_debug_errno(-errno, "API gate: cannot wake its thread: %m");
}

void api_gate_quiesce(ApiGate *g) {
        if (g && g->thread_started)
                gate_signal(g, &g->quiesce);
}

ApiGate *api_gate_free(ApiGate *g) {
        if (!g)
                return NULL;
        if (g->thread_started) {
                gate_signal(g, &g->quiesce);
                gate_signal(g, &g->stop);
                pthread_join(g->thread, NULL);
        }
        while (g->conns)
                conn_close(g, g->conns);
        while (g->zombies) {
                GateConn *z = g->zombies;
                g->zombies = z->next;
                conn_free(z);
        }
        safe_close(g->listen_fd);
        safe_close(g->epoll_fd);
        safe_close(g->wake_fd);
        safe_close(g->blobs_fd);
        free(g->clients);
        pthread_mutex_destroy(&g->clients_lock);
        free(g);
        return NULL;
}

int api_gate_client_address(ApiGate *g, unsigned upstream_port, char *buf, size_t size) {
        GateClientAddress a = {};

        if (!g || !g->clients || upstream_port >= GATE_PORTS)
                return -ENOENT;
        pthread_mutex_lock(&g->clients_lock);
        a = g->clients[upstream_port];
        pthread_mutex_unlock(&g->clients_lock);
        if (a.family == 0 || !inet_ntop(a.family, a.addr, buf, (socklen_t) size))
                return -ENOENT;
        return 0;
}
