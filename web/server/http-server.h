/* slipwayd's HTTP server: civetweb with a small thread pool, a routing table for /api/v1, token auth
 * (http-token-set.h) and console sessions (http-session.h).  Invariant: no /api handler runs for a request
 * that did not present a valid, unexpired token or session (the login, POST /api/v1/session, aside), nor
 * a write for a read-only token or without a session's CSRF token, nor for a caller whose role is below
 * the route's; the /hooks/ table (webhook deliveries) runs without one and its handlers verify
 * signatures themselves; /v2/ runs without one only for an anonymous pull. */
#pragma once

#include <civetweb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http-limits.h"
#include "http-session-set.h"
#include "http-token-set.h"
#include "macro.h"

#define HTTP_API_PREFIX "/api/v1/"
#define HTTP_CLIENT_ADDRESS_MAX 64U /* an IPv6 address as text, with room */

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
        /* Who calls, set by the dispatcher before any handler runs: the token's user (NULL only for an
         * anonymous registry pull), that user's role, whether the token is read-only, and its id
         * (HTTP_TOKEN_ADMIN_ID for admin.token).  user points into caller. */
        const char *user;
        HttpRole role;
        bool read_only;
        int64_t token_id;
        HttpIdentity caller;
        /* The console session the request came with (0: none; it came with a token), and that session. */
        int64_t session_id;
        HttpSession session;
        /* The client's address as the gate saw it ("" when unknown); with a proxy on this host (a loopback
         * peer), the last X-Forwarded-For entry. */
        char client[HTTP_CLIENT_ADDRESS_MAX];
} HttpRequest;

/* True when the caller may push to the registry (POST, PUT, PATCH, DELETE under /v2/): authenticated,
 * role admin or developer, and not with a read-only token. */
bool http_request_may_push(const HttpRequest *req);

/* A handler sends its own response and returns the HTTP status it sent. */
typedef int (*HttpHandler)(HttpRequest *req);

/* Each route names the least role that may call it; the dispatcher refuses a caller below it with 403
 * (HTTP_ROLE_FORBIDDEN_MESSAGE) before the handler runs, so roles are one table, not checks scattered
 * over handlers.  A handler may still refuse more (e.g. a user's password: admin, or the user itself). */
typedef struct HttpRoute {
        const char *method;
        /* Segments separated by '/', "*" matches any one segment: "images/ * /export". */
        const char *pattern;
        HttpHandler handler;
        HttpRole min_role;
} HttpRoute;

/* "Your role (viewer) may not do this; ask an admin." with the caller's role. */
#define HTTP_ROLE_FORBIDDEN_FORMAT "Your role (%s) may not do this; ask an admin."
#define HTTP_ROLE_FORBIDDEN_HINT                                                                          \
        "Viewers may read; developers may also build, deploy, promote, roll back and set config values; " \
        "everything else needs an admin (slipway user list shows who is one)."

typedef struct HttpServerConfig {
        const char *listen; /* "ADDR:PORT" ("[v6]:PORT"); port 0 picks a free one */
        const char *token;  /* the bootstrap admin token (admin.token); NULL: none */
        /* The users' tokens, kept up to date by whoever creates and revokes them; the admin token is added
         * to it as HTTP_TOKEN_ADMIN_ID.  NULL: the server makes a set of its own with the admin token
         * alone.  Not owned: it must outlive the server. */
        HttpTokenSet *tokens;
        /* GET and HEAD under /v2/ without credentials are served (slipwayd --registry-anonymous-pull). */
        bool registry_anonymous_pull;
        /* Called on a handler thread, at most once per HTTP_TOKEN_TOUCH_INTERVAL_SEC per token, when a
         * user's token was used (never for the admin token); with userdata.  May be NULL. */
        void (*token_used)(void *userdata, int64_t token_id, int64_t when);
        /* The console sessions, kept up to date by login, logout and user changes (NULL: no sessions; a
         * session cookie is then refused).  Not owned. */
        HttpSessionSet *sessions;
        /* As token_used, at most once per HTTP_SESSION_TOUCH_INTERVAL_SEC per session.  May be NULL. */
        void (*session_used)(void *userdata, int64_t session_id, int64_t when);
        /* GET and HEAD of "/" and "/console/…" (the browser console's files), served WITHOUT credentials
         * (NULL: the console embedded from web/console/, http-console.h).  Anything else outside /api, /hooks
         * and /v2 is answered 404. */
        HttpHandler console_handler;
        const HttpRoute *routes;
        size_t n_routes;
        /* Routes under /hooks/, matched like routes but run WITHOUT the token check (may be NULL). */
        const HttpRoute *hook_routes;
        size_t n_hook_routes;
        /* Every request under /v2 (the OCI registry), after the token check (NULL: 404).  Writes by a caller
         * that may not push are answered 403 before it runs (it may check http_request_may_push() too). */
        HttpHandler registry_handler;
        /* The image store's blobs/sha256 directory: GET and HEAD of /v2/NAME/blobs/DIGEST are then answered
         * by the API gate itself, from the file, as registry_handler would (api-gate-blob.h).  NULL: all
         * of /v2 goes to registry_handler. */
        const char *registry_blob_dir;
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

/* Query parameter (URL-decoded) into buf; -ENOENT when absent, -E2BIG when too long. */
int http_request_query(HttpRequest *req, const char *name, char *buf, size_t size);

/* Splits "ADDR:PORT" / "[v6]:PORT"; validates both.  Exposed for tests and for slipwayd's messages. */
int http_parse_listen(const char *listen, char **ret_addr, unsigned *ret_port);

/* Matches a decoded path against a pattern (exposed for tests). */
int http_route_match(const char *pattern, char *const *segments, size_t n);
