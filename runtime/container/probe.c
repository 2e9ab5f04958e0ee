/* Health probes.  One non-blocking socket walks CONNECTING → SENDING → READING → DONE; every
 * transition happens in probe_step(), so an event loop only ever waits on probe_fd() and the deadline.
 * Only the HTTP status line is read (bounded), then the connection is closed. */
#include "probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "string-util.h"

typedef enum ProbePhase {
        PROBE_PHASE_INIT,
        PROBE_PHASE_CONNECTING,
        PROBE_PHASE_SENDING,
        PROBE_PHASE_READING,
        PROBE_PHASE_DONE,
} ProbePhase;

struct Probe {
        ProbeType type;
        union {
                struct sockaddr sa;
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
        } addr;
        socklen_t addr_len;
        char endpoint[INET6_ADDRSTRLEN + 8]; /* "10.0.0.1:80" or "[::1]:80" */
        char *path;
        char *request;
        size_t request_len, sent;
        char response[PROBE_RESPONSE_MAX + 1];
        size_t received;
        unsigned timeout_ms;
        uint64_t deadline;
        int fd;
        ProbePhase phase;
        ProbeResult result;
};

static const char *const probe_type_table[_PROBE_TYPE_MAX] = {
        [PROBE_TCP] = "tcp",
        [PROBE_HTTP] = "http",
};

const char *probe_type_to_string(ProbeType t) {
        return t >= 0 && t < _PROBE_TYPE_MAX ? probe_type_table[t] : NULL;
}

ProbeType probe_type_from_string(const char *s) {
        for (int t = 0; s && t < _PROBE_TYPE_MAX; t++)
                if (streq(probe_type_table[t], s))
                        return (ProbeType) t;
        return _PROBE_TYPE_INVALID;
}

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

/* Printable ASCII without spaces: what may go into a request line or Host header verbatim. */
static bool token_valid(const char *s, size_t max) {
        size_t n = 0;

        for (; s[n]; n++)
                if (n >= max || (unsigned char) s[n] <= 0x20 || (unsigned char) s[n] >= 0x7f)
                        return false;
        return n > 0;
}

int probe_new(const ProbeSpec *spec, Probe **ret) {
        _cleanup_(probe_freep) Probe *p = NULL;
        const char *host;

        if (!spec || !spec->address || spec->port == 0 || spec->timeout_ms == 0 ||
            spec->timeout_ms > PROBE_TIMEOUT_MAX_MS || !probe_type_to_string(spec->type))
                return -EINVAL;
        p = calloc(1, sizeof(Probe));
        if (!p)
                return -ENOMEM;
        p->fd = -EBADF;
        p->type = spec->type;
        p->timeout_ms = spec->timeout_ms;

        if (inet_pton(AF_INET, spec->address, &p->addr.in.sin_addr) == 1) {
                p->addr.in.sin_family = AF_INET;
                p->addr.in.sin_port = htons(spec->port);
                p->addr_len = sizeof(p->addr.in);
                snprintf(p->endpoint, sizeof(p->endpoint), "%s:%u", spec->address, spec->port);
        } else if (inet_pton(AF_INET6, spec->address, &p->addr.in6.sin6_addr) == 1) {
                p->addr.in6.sin6_family = AF_INET6;
                p->addr.in6.sin6_port = htons(spec->port);
                p->addr_len = sizeof(p->addr.in6);
                snprintf(p->endpoint, sizeof(p->endpoint), "[%s]:%u", spec->address, spec->port);
        } else
                return -EINVAL;

        if (p->type == PROBE_HTTP) {
                if (!spec->path || spec->path[0] != '/' || !token_valid(spec->path, PROBE_PATH_MAX))
                        return -EINVAL;
                if (spec->host && !token_valid(spec->host, 255))
                        return -EINVAL;
                host = spec->host ?: p->endpoint;
                p->path = strdup(spec->path);
                if (!p->path)
                        return -ENOMEM;
                int n = asprintf(&p->request,
                                 "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: slipway-probe\r\n"
                                 "Accept: */*\r\nConnection: close\r\n\r\n",
                                 spec->path, host);
                if (n < 0) {
                        p->request = NULL;
                        return -ENOMEM;
                }
                p->request_len = (size_t) n;
        }
        *ret = TAKE_PTR(p);
        return 0;
}

Probe *probe_free(Probe *p) {
        if (!p)
                return NULL;
        safe_close(p->fd);
        free(p->path);
        free(p->request);
        free(p);
        return NULL;
}

int probe_fd(const Probe *p) {
        return p->fd;
}

uint32_t probe_events(const Probe *p) {
        switch (p->phase) {
        case PROBE_PHASE_CONNECTING:
        case PROBE_PHASE_SENDING:
                return POLLOUT;
        case PROBE_PHASE_READING:
                return POLLIN;
        default:
                return 0;
        }
}

uint64_t probe_deadline_usec(const Probe *p) {
        return p->deadline;
}

const ProbeResult *probe_result(const Probe *p) {
        return p->phase == PROBE_PHASE_DONE ? &p->result : NULL;
}

static const char *target(const Probe *p, char *buf, size_t size) {
        snprintf(buf, size, "%s%s", p->endpoint, p->type == PROBE_HTTP ? p->path : "");
        return buf;
}

static int finish(Probe *p, bool healthy, int error, int http_status) {
        char t[sizeof(p->endpoint) + 64];

        p->fd = safe_close(p->fd);
        p->phase = PROBE_PHASE_DONE;
        p->result.healthy = healthy;
        p->result.error = error;
        p->result.http_status = http_status;
        target(p, t, sizeof(t));
        if (http_status > 0)
                snprintf(p->result.message, sizeof(p->result.message), "HTTP %d from %s", http_status, t);
        else if (error == 0)
                snprintf(p->result.message, sizeof(p->result.message), "TCP connect to %s ok", t);
        else if (error == ETIMEDOUT)
                snprintf(p->result.message, sizeof(p->result.message), "%s: no answer within %u ms", t,
                         p->timeout_ms);
        else if (error == EBADMSG)
                snprintf(p->result.message, sizeof(p->result.message), "%s: response is not HTTP", t);
        else if (error == ECONNRESET || error == EPIPE)
                snprintf(p->result.message, sizeof(p->result.message),
                         "%s: connection closed without a response", t);
        else
                snprintf(p->result.message, sizeof(p->result.message), "%s: %s", t, strerror(error));
        return 1;
}

int probe_start(Probe *p) {
        if (!p || p->phase != PROBE_PHASE_INIT)
                return -EINVAL;
        p->deadline = now_usec() + (uint64_t) p->timeout_ms * 1000ULL;
        p->fd = socket(p->addr.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (p->fd < 0)
                return -errno;
        p->phase = PROBE_PHASE_CONNECTING;
        if (connect(p->fd, &p->addr.sa, p->addr_len) < 0) {
                if (errno == EINPROGRESS)
                        return 0;
                return finish(p, false, errno, 0);
        }
        /* Connected at once (loopback): go on as if POLLOUT had been seen. */
        return probe_step(p, POLLOUT);
}

/* "HTTP/1.1 200 OK": the three digits after the version.  -EBADMSG when it is not a status line. */
static int parse_status_line(const char *s, size_t n) {
        if (n < 12 || memcmp(s, "HTTP/", 5) != 0 || s[5] < '0' || s[5] > '9' || s[6] != '.' || s[7] < '0' ||
            s[7] > '9' || s[8] != ' ')
                return -EBADMSG;
        for (size_t i = 9; i < 12; i++)
                if (s[i] < '0' || s[i] > '9')
                        return -EBADMSG;
        if (n > 12 && s[12] != ' ' && s[12] != '\r' && s[12] != '\n')
                return -EBADMSG;
        if (s[9] == '0')
                return -EBADMSG;
        return (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
}

static int verdict(Probe *p, size_t line_len) {
        int status = parse_status_line(p->response, line_len);

        if (status < 0)
                return finish(p, false, EBADMSG, 0);
        return finish(p, status >= 200 && status <= 399, 0, status);
}

int probe_step(Probe *p, uint32_t revents) {
        if (!p || p->phase == PROBE_PHASE_INIT)
                return -EINVAL;
        if (p->phase == PROBE_PHASE_DONE)
                return 1;

        if (p->phase == PROBE_PHASE_CONNECTING) {
                int err = 0;
                socklen_t l = sizeof(err);

                if (!(revents & (POLLOUT | POLLERR | POLLHUP)))
                        goto check_deadline;
                if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
                        err = errno;
                if (err != 0)
                        return finish(p, false, err, 0);
                if (p->type == PROBE_TCP)
                        return finish(p, true, 0, 0);
                p->phase = PROBE_PHASE_SENDING;
                revents = POLLOUT;
        }

        if (p->phase == PROBE_PHASE_SENDING) {
                if (!(revents & (POLLOUT | POLLERR | POLLHUP)))
                        goto check_deadline;
                while (p->sent < p->request_len) {
                        ssize_t n =
                                send(p->fd, p->request + p->sent, p->request_len - p->sent, MSG_NOSIGNAL);
                        if (n < 0) {
                                if (errno == EAGAIN || errno == EINTR)
                                        goto check_deadline;
                                return finish(p, false, errno, 0);
                        }
                        p->sent += (size_t) n;
                }
                p->phase = PROBE_PHASE_READING;
                revents = POLLIN; /* try at once: the answer may already be there */
        }

        if (p->phase == PROBE_PHASE_READING) {
                if (!(revents & (POLLIN | POLLERR | POLLHUP)))
                        goto check_deadline;
                for (;;) {
                        ssize_t n =
                                recv(p->fd, p->response + p->received, PROBE_RESPONSE_MAX - p->received, 0);
                        char *eol;

                        if (n < 0) {
                                if (errno == EAGAIN || errno == EINTR)
                                        goto check_deadline;
                                return finish(p, false, errno, 0);
                        }
                        if (n == 0) /* EOF: judge what we have (a bare status line without CRLF) */
                                return p->received > 0 ? verdict(p, p->received)
                                                       : finish(p, false, ECONNRESET, 0);
                        p->received += (size_t) n;
                        p->response[p->received] = 0;
                        eol = memchr(p->response, '\n', p->received);
                        if (eol)
                                return verdict(p, (size_t) (eol - p->response));
                        if (p->received >= PROBE_RESPONSE_MAX)
                                return finish(p, false, EBADMSG, 0);
                }
        }

check_deadline:
        if (now_usec() >= p->deadline)
                return finish(p, false, ETIMEDOUT, 0);
        return 0;
}

int probe_run(const ProbeSpec *spec, ProbeResult *ret) {
        _cleanup_(probe_freep) Probe *p = NULL;
        int r;

        r = probe_new(spec, &p);
        if (r < 0)
                return r;
        r = probe_start(p);
        while (r == 0) {
                struct pollfd pfd = { .fd = p->fd, .events = (short) probe_events(p) };
                uint64_t now = now_usec();
                int timeout = now >= p->deadline ? 0 : (int) ((p->deadline - now + 999) / 1000);

                r = poll(&pfd, 1, timeout);
                if (r < 0) {
                        if (errno == EINTR) {
                                r = 0;
                                continue;
                        }
                        return -errno;
                }
                r = probe_step(p, r > 0 ? (uint32_t) pfd.revents : 0);
        }
        if (r < 0)
                return r;
        *ret = p->result;
        return 0;
}
