/* Rewriting message heads at the proxy, as pure functions of a parsed head: the request head sent to
 * the upstream, the response head sent back to the client, and the proxy's own error responses.
 * Invariant: no hop-by-hop field crosses the proxy (RFC 9110 7.6.1), except the Connection/Upgrade
 * pair the proxy itself writes for a protocol upgrade; nothing here does I/O or allocates. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "http-parser.h"
#include "proxy-buffer.h"

#define HEAD_OUT_MAX (HTTP_HEAD_MAX + 4096U) /* a rewritten head; larger → 431 / 502 */
#define HEAD_ERROR_MAX 768U                  /* an error response of head_error_response() */
#define HEAD_ERROR_BODY_MAX 256U
#define VIA_TOKEN "1.1 slipway"

/* The authority and origin-form path a request names: taken from an absolute-form target
 * ("http://authority/path") when used, else the Host header (host may be NULL) and the target. */
void head_request_authority(const HttpHead *h, const char **ret_host, size_t *ret_host_len,
                            const char **ret_path, size_t *ret_path_len);

typedef struct RequestRewrite {
        const char *path; /* origin-form target for the upstream (after the route's rewrite) */
        size_t path_len;
        const char *host; /* the authority (head_request_authority), or NULL */
        size_t host_len;
        const char *client_ip; /* the peer, for X-Forwarded-For; NULL: "unknown" */
} RequestRewrite;

/* Writes the head the upstream receives for request h: always HTTP/1.1 and keep-alive (no Connection
 * header, except "Connection: upgrade" with the client's Upgrade field when it asks for one),
 * hop-by-hop fields and those the Connection header lists removed, "Transfer-Encoding: chunked" for a
 * chunked body, X-Forwarded-For appended to (one field, the client's list first), X-Forwarded-Proto
 * and X-Forwarded-Host replaced, Via added.  Returns 0, or -ENOBUFS when it does not fit o. */
int head_rewrite_request(const HttpHead *h, const RequestRewrite *rw, Out *o);

typedef struct ResponseContext {
        bool client_http10;     /* the request was HTTP/1.0 */
        bool client_close;      /* the client does not keep the connection (Connection: close / 1.0) */
        bool upgrade_requested; /* the request asked for a protocol upgrade */
        bool closing;           /* the proxy closes after this response anyway (shutdown, failed upstream) */
} ResponseContext;

typedef struct ResponsePlan {
        bool interim;     /* 1xx other than 101: not final, the final head follows */
        bool tunnel;      /* 101: bytes flow both ways from now on */
        bool dechunk;     /* chunked from the upstream, decoded for an HTTP/1.0 client */
        bool close_after; /* the client connection closes after this response */
} ResponsePlan;

/* Writes the head the client receives for the upstream's response head (raw bytes head[0..len),
 * parsed into h).  An interim response is written only for HTTP/1.1 clients (o stays empty for
 * HTTP/1.0).  A final response says "Connection: close" when the connection will close,
 * "Connection: keep-alive" to an HTTP/1.0 client that keeps it, and nothing otherwise.
 * Returns 0; -EPROTO for a 101 the client did not ask for; -ENOBUFS when it does not fit o. */
int head_rewrite_response(const char *head, size_t len, const HttpHead *h, const ResponseContext *ctx,
                          Out *o, ResponsePlan *ret_plan);

const char *head_status_text(unsigned status);
/* The proxy's own answer: a short text/plain body "STATUS TEXT: detail" (none for HEAD requests),
 * then close.  Returns 0, or -ENOBUFS when it does not fit o (HEAD_ERROR_MAX always suffices). */
int head_error_response(unsigned status, const char *detail, bool head_method, Out *o);
