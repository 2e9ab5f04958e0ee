/* HTTP/1.1 client over a TCP socket.  Reads are buffered; chunked framing is parsed strictly
 * (hex size, CRLF after data, terminating zero chunk) and bounded. */
#include "http-client.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fs-util.h"
#include "string-util.h"

#define HTTP_CHUNK_LINE_MAX 1024U

struct HttpConn {
        int fd;
        bool chunked_request;
        /* response */
        char *head; /* raw header block, NUL-separated lines after parsing */
        size_t head_size;
        int status;
        bool chunked;
        int64_t remaining;   /* Content-Length left, or -1 for read-to-close */
        uint64_t chunk_left; /* in the current chunk */
        bool done;
        char buf[HTTP_CLIENT_BUFFER];
        size_t buf_start, buf_end;
};

void http_url_done(HttpUrl *u) {
        free(u->host);
        free(u->port);
        free(u->base_path);
        *u = (HttpUrl) {};
}

int http_url_parse(const char *url, HttpUrl *ret) {
        _cleanup_free_ char *host = NULL, *port = NULL, *base = NULL;
        const char *p, *hend, *slash;

        if (!url || !startswith(url, "http://"))
                return -EINVAL;
        p = url + strlen("http://");
        slash = strchr(p, '/');
        if (!slash)
                slash = p + strlen(p);
        if (*p == '[') {
                hend = memchr(p, ']', (size_t) (slash - p));
                if (!hend)
                        return -EINVAL;
                host = strndup(p + 1, (size_t) (hend - p - 1));
                p = hend + 1;
        } else {
                hend = memchr(p, ':', (size_t) (slash - p));
                if (!hend)
                        hend = slash;
                host = strndup(p, (size_t) (hend - p));
                p = hend;
        }
        if (!host)
                return -ENOMEM;
        if (isempty(host))
                return -EINVAL;
        if (*p == ':') {
                char *end;
                long v;

                port = strndup(p + 1, (size_t) (slash - p - 1));
                if (!port)
                        return -ENOMEM;
                errno = 0;
                v = strtol(port, &end, 10);
                if (errno || *end || end == port || v <= 0 || v > 65535)
                        return -EINVAL;
        } else if (p != slash)
                return -EINVAL;
        else if (!(port = strdup("80")))
                return -ENOMEM;
        base = strdup(slash);
        if (!base)
                return -ENOMEM;
        while (*base && base[strlen(base) - 1] == '/')
                base[strlen(base) - 1] = 0;
        *ret = (HttpUrl) { .host = TAKE_PTR(host), .port = TAKE_PTR(port), .base_path = TAKE_PTR(base) };
        return 0;
}

char *http_url_encode(const char *s) {
        static const char hex[] = "0123456789ABCDEF";
        char *out = malloc(strlen(s) * 3 + 1), *o = out;

        if (!out)
                return NULL;
        for (const unsigned char *c = (const unsigned char *) s; *c; c++)
                if (isalnum(*c) || strchr("-._~", *c))
                        *o++ = (char) *c;
                else {
                        *o++ = '%';
                        *o++ = hex[*c >> 4];
                        *o++ = hex[*c & 15];
                }
        *o = 0;
        return out;
}

HttpConn *http_conn_free(HttpConn *c) {
        if (!c)
                return NULL;
        safe_close(c->fd);
        free(c->head);
        free(c);
        return NULL;
}

int http_conn_open_fd(int fd, const char *host, const char *token, const char *method, const char *path,
                      const char *content_type, int64_t body_length, HttpConn **ret) {
        _cleanup_free_ char *req = NULL;
        char length_header[64] = "";
        HttpConn *c;
        int r;

        c = calloc(1, sizeof *c);
        if (!c) {
                safe_close(fd);
                return -ENOMEM;
        }
        c->fd = fd;
        c->remaining = -1;

        if (body_length >= 0)
                snprintf(length_header, sizeof length_header, "Content-Length: %lld\r\n",
                         (long long) body_length);
        else if (body_length == HTTP_BODY_CHUNKED) {
                snprintf(length_header, sizeof length_header, "Transfer-Encoding: chunked\r\n");
                c->chunked_request = true;
        }
        r = asprintf(&req,
                     "%s %s HTTP/1.1\r\n"
                     "Host: %s\r\n"
                     "User-Agent: slipway/%s\r\n"
                     "Accept: application/json\r\n"
                     "Connection: close\r\n"
                     "%s%s%s"
                     "%s%s%s"
                     "%s\r\n",
                     method, path, host, SLIPWAY_VERSION, token ? "Authorization: Bearer " : "",
                     strempty(token), token ? "\r\n" : "", content_type ? "Content-Type: " : "",
                     strempty(content_type), content_type ? "\r\n" : "", length_header);
        if (r < 0) {
                http_conn_free(c);
                return -ENOMEM;
        }
        r = loop_write(fd, req, strlen(req));
        if (r < 0) {
                http_conn_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

int http_conn_open(const HttpUrl *u, const char *token, const char *method, const char *path,
                   const char *content_type, int64_t body_length, HttpConn **ret) {
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG }, *ai = NULL;
        _cleanup_free_ char *full = NULL, *hostport = NULL;
        int fd = -EBADF, r = -ECONNREFUSED;

        /* Writes to a server that went away must fail with EPIPE, not kill the CLI. */
        signal(SIGPIPE, SIG_IGN);

        if (getaddrinfo(u->host, u->port, &hints, &ai) != 0)
                return -EHOSTUNREACH;
        for (struct addrinfo *a = ai; a; a = a->ai_next) {
                fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
                if (fd < 0) {
                        r = -errno;
                        continue;
                }
                if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
                        break;
                r = -errno;
                fd = safe_close(fd);
        }
        freeaddrinfo(ai);
        if (fd < 0)
                return r;

        if (asprintf(&full, "%s%s", u->base_path, path) < 0 ||
            asprintf(&hostport, strchr(u->host, ':') ? "[%s]:%s" : "%s:%s", u->host, u->port) < 0) {
                safe_close(fd);
                return -ENOMEM;
        }
        return http_conn_open_fd(fd, hostport, token, method, full, content_type, body_length, ret);
}

int http_conn_write(HttpConn *c, const void *data, size_t size) {
        char line[32];
        int r;

        if (size == 0)
                return 0;
        if (!c->chunked_request)
                return loop_write(c->fd, data, size);
        snprintf(line, sizeof line, "%zx\r\n", size);
        r = loop_write(c->fd, line, strlen(line));
        if (r >= 0)
                r = loop_write(c->fd, data, size);
        if (r >= 0)
                r = loop_write(c->fd, "\r\n", 2);
        return r;
}

int http_conn_finish(HttpConn *c) {
        if (!c->chunked_request)
                return 0;
        return loop_write(c->fd, "0\r\n\r\n", 5);
}

/* Refills the buffer; 0 at EOF. */
static ssize_t fill(HttpConn *c) {
        ssize_t n;

        if (c->buf_start == c->buf_end)
                c->buf_start = c->buf_end = 0;
        if (c->buf_end == sizeof c->buf) {
                memmove(c->buf, c->buf + c->buf_start, c->buf_end - c->buf_start);
                c->buf_end -= c->buf_start;
                c->buf_start = 0;
        }
        do
                n = read(c->fd, c->buf + c->buf_end, sizeof c->buf - c->buf_end);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        c->buf_end += (size_t) n;
        return n;
}

/* Reads one CRLF-terminated line (without CRLF) of at most max bytes into out. */
static int read_line(HttpConn *c, char *out, size_t max) {
        size_t len = 0;

        for (;;) {
                while (c->buf_start < c->buf_end) {
                        char ch = c->buf[c->buf_start++];
                        if (ch == '\n') {
                                if (len > 0 && out[len - 1] == '\r')
                                        len--;
                                out[len] = 0;
                                return (int) len;
                        }
                        if (len + 1 >= max)
                                return -E2BIG;
                        out[len++] = ch;
                }
                ssize_t n = fill(c);
                if (n < 0)
                        return (int) n;
                if (n == 0)
                        return -EPIPE;
        }
}

int http_conn_read_head(HttpConn *c) {
        _cleanup_free_ char *line = malloc(HTTP_CLIENT_HEADER_MAX);
        size_t total = 0;
        int r, status, first = 1;

        if (!line)
                return -ENOMEM;
        free(c->head);
        c->head = NULL;
        c->head_size = 0;
        for (;;) {
                r = read_line(c, line, HTTP_CLIENT_HEADER_MAX);
                if (r < 0)
                        return r;
                total += (size_t) r + 2;
                if (total > HTTP_CLIENT_HEADER_MAX)
                        return -E2BIG;
                if (first) {
                        if (sscanf(line, "HTTP/1.%*d %d", &status) != 1 || status < 100 || status > 999)
                                return -EBADMSG;
                        first = 0;
                        continue;
                }
                if (r == 0)
                        break;
                char *nh = realloc(c->head, c->head_size + (size_t) r + 1);
                if (!nh)
                        return -ENOMEM;
                c->head = nh;
                memcpy(c->head + c->head_size, line, (size_t) r + 1);
                c->head_size += (size_t) r + 1;
        }
        c->status = status;

        const char *te = http_conn_header(c, "Transfer-Encoding");
        const char *cl = http_conn_header(c, "Content-Length");
        if (te && strcasecmp(te, "chunked") == 0)
                c->chunked = true;
        else if (te)
                return -EBADMSG;
        else if (cl) {
                char *end;
                errno = 0;
                long long v = strtoll(cl, &end, 10);
                if (errno || *end || end == cl || v < 0)
                        return -EBADMSG;
                c->remaining = v;
        }
        if (status == 204 || status == 304)
                c->done = true;
        return status;
}

const char *http_conn_header(HttpConn *c, const char *name) {
        size_t n = strlen(name);

        for (size_t off = 0; off < c->head_size; off += strlen(c->head + off) + 1) {
                const char *h = c->head + off;
                if (strncasecmp(h, name, n) == 0 && h[n] == ':') {
                        h += n + 1;
                        while (*h == ' ' || *h == '\t')
                                h++;
                        return h;
                }
        }
        return NULL;
}

static ssize_t take_buffered(HttpConn *c, void *buf, size_t size) {
        ssize_t n;

        if (c->buf_start == c->buf_end) {
                n = fill(c);
                if (n <= 0)
                        return n;
        }
        n = (ssize_t) MIN(size, c->buf_end - c->buf_start);
        memcpy(buf, c->buf + c->buf_start, (size_t) n);
        c->buf_start += (size_t) n;
        return n;
}

ssize_t http_conn_read_body(HttpConn *c, void *buf, size_t size) {
        char line[HTTP_CHUNK_LINE_MAX];
        ssize_t n;
        int r;

        if (c->done || size == 0)
                return 0;

        if (c->chunked) {
                if (c->chunk_left == 0) {
                        char *end;

                        r = read_line(c, line, sizeof line);
                        if (r < 0)
                                return r == -E2BIG ? -EBADMSG : -EPIPE;
                        errno = 0;
                        unsigned long long v = strtoull(line, &end, 16);
                        if (errno || end == line || (*end && *end != ';'))
                                return -EBADMSG;
                        if (v == 0) {
                                /* Trailers, then the empty line. */
                                do {
                                        r = read_line(c, line, sizeof line);
                                        if (r < 0)
                                                return -EPIPE;
                                } while (r > 0);
                                c->done = true;
                                return 0;
                        }
                        c->chunk_left = v;
                }
                n = take_buffered(c, buf, (size_t) MIN((uint64_t) size, c->chunk_left));
                if (n < 0)
                        return n;
                if (n == 0)
                        return -EPIPE;
                c->chunk_left -= (uint64_t) n;
                if (c->chunk_left == 0) {
                        r = read_line(c, line, sizeof line);
                        if (r != 0)
                                return r < 0 ? -EPIPE : -EBADMSG;
                }
                return n;
        }

        if (c->remaining >= 0) {
                if (c->remaining == 0) {
                        c->done = true;
                        return 0;
                }
                n = take_buffered(c, buf, (size_t) MIN((uint64_t) size, (uint64_t) c->remaining));
                if (n < 0)
                        return n;
                if (n == 0)
                        return -EPIPE;
                c->remaining -= n;
                return n;
        }

        n = take_buffered(c, buf, size);
        if (n == 0)
                c->done = true;
        return n;
}

int http_conn_read_body_full(HttpConn *c, size_t max, char **ret, size_t *ret_size) {
        _cleanup_free_ char *data = NULL;
        size_t len = 0, cap = 0;

        for (;;) {
                if (cap - len < 4096) {
                        size_t ncap = cap ? cap * 2 : 16384;
                        if (ncap > max + 1)
                                ncap = max + 1;
                        if (ncap <= len)
                                return -EFBIG;
                        char *nd = realloc(data, ncap + 1);
                        if (!nd)
                                return -ENOMEM;
                        data = nd;
                        cap = ncap;
                }
                ssize_t n = http_conn_read_body(c, data + len, cap - len);
                if (n < 0)
                        return (int) n;
                if (n == 0)
                        break;
                len += (size_t) n;
                if (len > max)
                        return -EFBIG;
        }
        if (!data && !(data = malloc(1)))
                return -ENOMEM;
        data[len] = 0;
        *ret = TAKE_PTR(data);
        if (ret_size)
                *ret_size = len;
        return 0;
}
