/* A small HTTP/1.1 client for slipwayd's own API: one request per connection (Connection: close),
 * request bodies with Content-Length or chunked, responses with Content-Length, chunked or
 * read-to-close.  Invariant: a response body read through http_conn_read_body() either ends exactly
 * where the server framed it or fails with -EPIPE; a cut stream is never taken for a whole one. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

#define HTTP_CLIENT_HEADER_MAX (64U * 1024U)       /* status line + headers of a response */
#define HTTP_CLIENT_JSON_MAX (64U * 1024U * 1024U) /* JSON response bodies */
#define HTTP_CLIENT_BUFFER (64U * 1024U)

#define HTTP_BODY_NONE (-2)
#define HTTP_BODY_CHUNKED (-1)

typedef struct HttpUrl {
        char *host; /* without brackets for IPv6 */
        char *port;
        char *base_path; /* "" or "/prefix" without trailing '/' */
} HttpUrl;

void http_url_done(HttpUrl *u);
/* Parses "http://HOST[:PORT][/PATH]".  -EINVAL for anything else (https is not spoken here). */
int http_url_parse(const char *url, HttpUrl *ret);

/* Percent-encodes everything but unreserved characters, so a ref is one path segment. */
char *http_url_encode(const char *s);

typedef struct HttpConn HttpConn;

/* Connects and sends the request line and headers.  body_length: >= 0 Content-Length,
 * HTTP_BODY_CHUNKED, or HTTP_BODY_NONE.  -ECONNREFUSED etc. when the server is not there. */
int http_conn_open(const HttpUrl *u, const char *token, const char *method, const char *path,
                   const char *content_type, int64_t body_length, HttpConn **ret);
/* Same over an already connected fd (tests). Takes the fd. */
int http_conn_open_fd(int fd, const char *host, const char *token, const char *method, const char *path,
                      const char *content_type, int64_t body_length, HttpConn **ret);
HttpConn *http_conn_free(HttpConn *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(HttpConn *, http_conn_free);

/* Request body: raw for Content-Length, one chunk per call when chunked. */
int http_conn_write(HttpConn *c, const void *data, size_t size);
/* Ends a chunked body (no-op otherwise). */
int http_conn_finish(HttpConn *c);

/* Reads the status line and headers; returns the status code. */
int http_conn_read_head(HttpConn *c);
/* Case-insensitive header lookup (after read_head); NULL when absent. */
const char *http_conn_header(HttpConn *c, const char *name);
/* Reads body bytes: > 0 bytes, 0 at the framed end, -EPIPE when the stream ends early. */
ssize_t http_conn_read_body(HttpConn *c, void *buf, size_t size);
/* Reads the whole body (at most max bytes, -EFBIG beyond). NUL-terminated. */
int http_conn_read_body_full(HttpConn *c, size_t max, char **ret, size_t *ret_size);
