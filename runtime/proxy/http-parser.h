/* Strict HTTP/1.x message-head parser for requests (from clients) and responses (from upstreams).
 * Invariant: a head that parses is unambiguous about its body framing; anything a smuggling attack
 * could exploit (duplicate or conflicting lengths, odd transfer codings, folding, CTLs) is an error. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_HEAD_MAX (16U * 1024U) /* whole head incl. request line; larger → 431 */
#define HTTP_HEADERS_MAX 128U       /* header fields per head; more → 431 */
#define HTTP_CONTENT_LENGTH_DIGITS_MAX 18U

typedef enum HttpBody {
        HTTP_BODY_NONE,
        HTTP_BODY_LENGTH,
        HTTP_BODY_CHUNKED,
        HTTP_BODY_EOF, /* responses only: delimited by the upstream closing */
        _HTTP_BODY_MAX,
        _HTTP_BODY_INVALID = -22,
} HttpBody;

/* Why a head was rejected; the proxy maps these to a status code. */
typedef enum HttpError {
        HTTP_ERROR_NONE,
        HTTP_ERROR_BAD_REQUEST, /* 400 / 502 */
        HTTP_ERROR_TOO_LARGE,   /* 431 */
        HTTP_ERROR_VERSION,     /* 505 */
        HTTP_ERROR_METHOD,      /* 405 (CONNECT) */
} HttpError;

typedef struct HttpHeader {
        const char *name;
        size_t name_len;
        const char *value; /* OWS trimmed */
        size_t value_len;
} HttpHeader;

typedef struct HttpHead {
        /* request line */
        const char *method;
        size_t method_len;
        const char *target;
        size_t target_len;
        /* status line */
        unsigned status;
        int version_minor; /* 0 or 1 */

        HttpHeader headers[HTTP_HEADERS_MAX];
        size_t n_headers;
        unsigned n_connection; /* Connection header fields seen */
        size_t head_len;       /* bytes up to and including the empty line */

        HttpBody body;
        uint64_t content_length;
        bool has_length;  /* a Content-Length header was present */
        const char *host; /* request: Host header value (or NULL) */
        size_t host_len;
        bool conn_close;      /* Connection: close, or HTTP/1.0 without keep-alive */
        bool conn_upgrade;    /* Connection names "upgrade" and an Upgrade header is present */
        bool expect_continue; /* Expect: 100-continue */
        bool is_head_method;
        const char *error_detail; /* static string, set on failure */
} HttpHead;

/* Looks for the CRLFCRLF that ends a head in buf[0..len).  *scan keeps the resume position between
 * calls (start at 0).  Returns the head length (> 0), 0 when more bytes are needed, -EMSGSIZE when
 * HTTP_HEAD_MAX is exceeded without an end. */
int http_find_head_end(const char *buf, size_t len, size_t *scan);
/* The same for an upstream's response head, which may also end its lines in a bare LF (busybox httpd
 * passes CGI header lines through as the script wrote them). */
int http_find_response_head_end(const char *buf, size_t len, size_t *scan);
/* The same ends, for a request head that is then parsed strictly: a client that ends its lines in a bare
 * LF gets its 400 at once instead of waiting out the head deadline. */
int http_find_request_head_end_lenient(const char *buf, size_t len, size_t *scan);

/* Parse a complete head (as found by http_find_head_end).  Requests need CRLF line ends; responses
 * may use bare LF.  Returns 0 or -EBADMSG; on failure
 * *ret_error says which kind and ret->error_detail says why. */
int http_request_parse(const char *buf, size_t len, HttpHead *ret, HttpError *ret_error);
int http_response_parse(const char *buf, size_t len, bool request_was_head, HttpHead *ret,
                        HttpError *ret_error);

/* Case-insensitive comparison of a header name with a literal. */
bool http_name_eq(const HttpHeader *h, const char *name);
/* True when the comma-separated value list contains token (case-insensitive). */
bool http_list_has(const char *value, size_t len, const char *token);
/* True for hop-by-hop headers the proxy never forwards (Connection, Keep-Alive, TE, Trailer,
 * Proxy-*, Upgrade, Transfer-Encoding handled separately by the caller). */
bool http_is_hop_by_hop(const HttpHeader *h);
/* True when a Connection header of head lists h's name (so h is hop-by-hop for this message). */
bool http_head_connection_lists(const HttpHead *head, const HttpHeader *h);
