/* Serving the web console's embedded files (web/console/) at "/" and /console/NAME, with caching headers
 * and a strict Content-Security-Policy.  Invariant: only names in the embedded table are answered, and
 * every answer carries the security headers, 304s and errors included. */
#pragma once

#include <civetweb.h>

/* What the console's pages may load: nothing but slipwayd itself, no inline script or style. */
#define HTTP_CONSOLE_CSP                                                                  \
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
/* A hashed asset name never changes its bytes. */
#define HTTP_CONSOLE_IMMUTABLE "public, max-age=31536000, immutable"

/* civetweb handler for "/" and "/console": GET and HEAD only (405 otherwise), 404 for an unknown name,
 * 304 when If-None-Match names the current ETag. */
int http_console_handler(struct mg_connection *conn, void *cbdata);
