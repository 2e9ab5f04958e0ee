/* The API gate: slipwayd's public listen socket, served by one epoll thread in front of civetweb.  It
 * reads and checks each request head (and a small body) under short deadlines, answers bad or
 * unauthenticated requests itself, and only then connects to civetweb on loopback and relays both ways.
 * Registry blob reads it may answer itself from the store (api_gate_serve_blobs()).
 * Invariant: no civetweb thread ever waits for a client that has not sent a complete, authenticated head. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http-parser.h"
#include "http-session-set.h"
#include "http-token-set.h"
#include "macro.h"

#define GATE_HEAD_TIMEOUT_SEC 5U  /* whole request head, from accept */
#define GATE_BODY_TIMEOUT_SEC 10U /* a buffered (small) body, from the end of the head */
/* A streamed upload (chunked, or larger than HTTP_JSON_BODY_MAX) with no byte for this long is closed.
 * civetweb's own timeout on the loopback side is a little longer, so the gate is the one that decides. */
#define GATE_UPLOAD_IDLE_SEC 30U
/* Once civetweb has sent its whole answer, a client that reads none of the rest for this long is dropped
 * (while civetweb still writes, its own timeout covers a client that stopped reading). */
#define GATE_READER_IDLE_SEC 30U
#define GATE_CONNECTIONS_MAX 4096U                   /* open gate connections; more get 503 */
#define GATE_FD_RESERVE 512U                         /* descriptors left for the rest of slipwayd */
#define GATE_BODY_BUFFER_TOTAL (64U * 1024U * 1024U) /* small bodies buffered at once; beyond: streamed */
#define GATE_RELAY_BUFFER (256U * 1024U)             /* per direction while relaying */
#define GATE_LOG_INTERVAL_SEC 60U                    /* refusals and timeouts are logged once per this */

typedef struct ApiGate ApiGate;

/* Whom the gate lets through: bearer tokens of the set (and Basic USER:TOKEN on /v2/); console sessions of
 * the session set by their cookie (a write only with the session's CSRF token, http-session.h); without
 * credentials the login (POST /api/v1/session) and the console's pages (GET and HEAD of / and
 * /console/…); with registry_anonymous_pull also GET and HEAD under /v2/ that carry no credentials. */
typedef struct ApiGateAuth {
        HttpTokenSet *tokens;     /* not owned; outlives the gate */
        HttpSessionSet *sessions; /* the same (NULL: no console sessions) */
        bool registry_anonymous_pull;
} ApiGateAuth;

/* Raises RLIMIT_NOFILE to its hard limit and binds addr:port (addr as http_parse_listen() returns it;
 * port 0 picks a free one).  -EADDRINUSE when the port is taken, -EADDRNOTAVAIL for an address not on
 * this host.  Serves nothing until api_gate_start(). */
int api_gate_new(const char *addr, unsigned port, const ApiGateAuth *auth, ApiGate **ret);
/* Answers registry blob reads (GET and HEAD of /v2/NAME/blobs/DIGEST, api-gate-blob.h) itself, from dir
 * (the image store's blobs/sha256), instead of passing them to civetweb.  Before api_gate_start(). */
int api_gate_serve_blobs(ApiGate *g, const char *dir);
/* The port bound. */
int api_gate_port(ApiGate *g);
/* The address of the client whose request the gate forwards from its loopback port upstream_port (what
 * civetweb sees as the request's remote port), as text into buf.  -ENOENT when none is known. */
int api_gate_client_address(ApiGate *g, unsigned upstream_port, char *buf, size_t size);
/* Starts the loop thread; checked requests go to 127.0.0.1:upstream_port. */
int api_gate_start(ApiGate *g, unsigned upstream_port);
/* Stops accepting; requests not yet passed on are answered 503.  What is relayed goes on. */
void api_gate_quiesce(ApiGate *g);
/* Stops the thread, after relaying for a moment what civetweb already answered, and closes every
 * connection (both sides); accepts NULL. */
ApiGate *api_gate_free(ApiGate *g);
DEFINE_TRIVIAL_CLEANUP_FUNC(ApiGate *, api_gate_free);

/* What the gate decided about one complete request head. */
typedef struct GateHeadCheck {
        int status;        /* 0: forward it; else the status to answer with (400, 401, 403, 405, 431, 505) */
        char message[256]; /* for status != 0: one sentence */
        const char *hint;  /* for status != 0 */
        size_t head_len;   /* bytes up to and including the empty line */
        HttpBody body;     /* NONE, LENGTH or CHUNKED */
        uint64_t content_length;
        bool expect_continue;
        /* The request target as sent, and the origin-form part of it ("/api/v1/status" of
         * "http://host:7070/api/v1/status"); equal for an origin-form target. */
        size_t target_off, target_len;
        size_t origin_off, origin_len;
        bool registry; /* the target is the registry's (/v2/): its 401 asks for Basic, in the spec's shape */
} GateHeadCheck;

/* Checks buf[0..len), which holds a complete head (and maybe more): strict HTTP/1.x framing (one
 * Content-Length, not with Transfer-Encoding, …), the credentials (an expired token or an ended session is
 * 401 too), that a read-only token sends no write to /api (403), and that a session's write carries its
 * CSRF token (403).  now: seconds since the epoch, for expiry. */
void api_gate_check_head(const char *buf, size_t len, const ApiGateAuth *auth, int64_t now,
                         GateHeadCheck *ret);
