/* Console sessions on the wire: the session cookie, the CSRF token a write must carry with it, and the
 * same-origin check.  Used by the API gate (on the raw head) and again by the /api dispatcher (on
 * civetweb's headers), so both decide the same way.  Invariant: a request authenticated by the cookie
 * alone never changes anything unless it also carries the session's CSRF token (compared in constant
 * time) and, when it names an Origin, comes from the daemon's own origin; a cross-site HTML form can send
 * neither a custom header nor a matching Origin. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http-session-set.h"

#define HTTP_SESSION_PATH "/api/v1/session" /* POST: log in (no credentials), GET: who, DELETE: log out */
#define HTTP_SESSION_COOKIE "slipway_session"
#define HTTP_SESSION_COOKIE_BYTES 32U /* random bytes of a session cookie, sent as hex */
#define HTTP_SESSION_COOKIE_LEN (HTTP_SESSION_COOKIE_BYTES * 2U)
#define HTTP_CSRF_HEADER "X-CSRF-Token"

#define HTTP_SESSION_ENDED_MESSAGE "Your console session has ended; log in again."
#define HTTP_SESSION_ENDED_HINT                                                                              \
        "A session ends after 12 hours unused, 7 days after login, at logout, and when its user's password " \
        "changes or the user is removed."
#define HTTP_CSRF_MESSAGE "The request's CSRF token is missing or wrong; reload the console."
#define HTTP_CSRF_HINT                                                                                         \
        "A console session's POST, PUT, PATCH and DELETE requests carry its csrf_token (GET /api/v1/session) " \
        "as X-CSRF-Token, from the daemon's own origin."

/* The parts of a request a session check reads; each (pointer, length), pointer NULL when absent. */
typedef struct HttpSessionHeaders {
        const char *method;
        size_t method_len;
        const char *cookie; /* the Cookie header */
        size_t cookie_len;
        const char *csrf; /* X-CSRF-Token */
        size_t csrf_len;
        const char *origin; /* Origin */
        size_t origin_len;
        const char *host; /* Host */
        size_t host_len;
        const char *forwarded_proto; /* X-Forwarded-Proto, from a TLS-terminating proxy */
        size_t forwarded_proto_len;
} HttpSessionHeaders;

/* The value of the session cookie in a Cookie header value: true with *ret pointing at its
 * HTTP_SESSION_COOKIE_LEN hex characters. */
bool http_session_cookie_find(const char *cookie, size_t len, const char **ret);
/* True when the request came over TLS as its proxy says (X-Forwarded-Proto: https). */
bool http_session_https(const HttpSessionHeaders *h);
/* True when the request names no Origin, or the origin of its own Host (scheme by http_session_https()). */
bool http_session_origin_ok(const HttpSessionHeaders *h);
/* Authenticates a request by its session cookie, as of now: 0 with *ret; -ENOKEY when it has no session
 * cookie or the cookie names no session, -EKEYEXPIRED when the session ended, -EPERM for a write (not GET
 * or HEAD) without the session's CSRF token or from another origin. */
int http_session_check(HttpSessionSet *set, const HttpSessionHeaders *h, int64_t now, HttpSession *ret);
