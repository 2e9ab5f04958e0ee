/* slipwayd's HTTP server: civetweb with a small thread pool, a routing table for /api/v1 and bearer
 * token auth.  Invariant: no /api handler runs for a request that did not present the admin token; the
 * /hooks/ table (webhook deliveries) runs without it and its handlers verify signatures themselves. */
#pragma once

#include <civetweb.h>
#include <stddef.h>

#include "http-limits.h"
#include "macro.h"

#define HTTP_API_PREFIX "/api/v1/"

typedef struct HttpRequest {
        struct mg_connection *conn;
        const char *method;
        /* Path segments after /api/v1/ (or /hooks/), each URL-decoded, so "library%2Fbusybox%3A1" is one segment. */
        char *segments[HTTP_PATH_SEGMENTS_MAX];
        size_t n_segments;
        void *userdata;
        /* The HTTP status of the reply a helper already sent (0: none yet).  Helpers return -errno; a
         * handler returns this after one failed. */
        int status;
} HttpRequest;

/* A handler sends its own response and returns the HTTP status it sent. */
typedef int (*HttpHandler)(HttpRequest *req);

typedef struct HttpRoute {
        const char *method;
        /* Segments separated by '/', "*" matches any one segment: "images/ * /export". */
        const char *pattern;
        HttpHandler handler;
} HttpRoute;

typedef struct HttpServerConfig {
        const char *listen; /* "ADDR:PORT" ("[v6]:PORT"); port 0 picks a free one */
        const char *token;  /* admin token */
        const HttpRoute *routes;
        size_t n_routes;
        /* Routes under /hooks/, matched like routes but run WITHOUT the token check (may be NULL). */
        const HttpRoute *hook_routes;
        size_t n_hook_routes;
        /* Every request under /v2 (the OCI registry), after the token check (NULL: 404). */
        HttpHandler registry_handler;
        void *userdata; /* passed to handlers */
} HttpServerConfig;

typedef struct HttpServer HttpServer;

/* Starts serving.  -EADDRINUSE when the port is taken, -EADDRNOTAVAIL for an address not on this
 * host, -EINVAL for a malformed listen string. */
int http_server_start(const HttpServerConfig *cfg, HttpServer **ret);
/* Stops accepting, waits for running handlers, frees. */
HttpServer *http_server_stop(HttpServer *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(HttpServer *, http_server_stop);
/* The port actually bound (useful with port 0). */
int http_server_port(HttpServer *s);

/* True when the caller may push to the registry (and write through the API). */
bool http_request_may_push(const HttpRequest *req);

/* Query parameter (URL-decoded) into buf; -ENOENT when absent, -E2BIG when too long. */
int http_request_query(HttpRequest *req, const char *name, char *buf, size_t size);

/* Splits "ADDR:PORT" / "[v6]:PORT"; validates both.  Exposed for tests and for slipwayd's messages. */
int http_parse_listen(const char *listen, char **ret_addr, unsigned *ret_port);

/* Matches a decoded path against a pattern (exposed for tests). */
int http_route_match(const char *pattern, char *const *segments, size_t n);
