/* Login throttling, in memory: failed console logins are counted per user name and per client address,
 * and after HTTP_LOGIN_FAILURES_MAX of either within HTTP_LOGIN_WINDOW_SEC further attempts are refused
 * (429, Retry-After) without checking a password.  Invariant: the table is bounded
 * (HTTP_LOGIN_THROTTLE_ENTRIES); when full, the entry whose last failure is oldest makes room. */
#pragma once

#include <stdint.h>

#include "macro.h"

#define HTTP_LOGIN_FAILURES_MAX 5
#define HTTP_LOGIN_WINDOW_SEC 300
#define HTTP_LOGIN_THROTTLE_ENTRIES 4096U
#define HTTP_LOGIN_KEY_MAX 96U /* "u:" + a user name, or "a:" + an address; longer names are cut */

typedef struct HttpLoginThrottle HttpLoginThrottle;

int http_login_throttle_new(HttpLoginThrottle **ret);
HttpLoginThrottle *http_login_throttle_free(HttpLoginThrottle *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(HttpLoginThrottle *, http_login_throttle_free);

/* 0 when a login for name from address may be tried at now; else the seconds until one may (> 0). */
int64_t http_login_throttle_wait(HttpLoginThrottle *t, const char *name, const char *address, int64_t now);
/* Counts a failed login for name and for address. */
void http_login_throttle_failed(HttpLoginThrottle *t, const char *name, const char *address, int64_t now);
/* A login of name succeeded: its failures are forgotten (the address's are not). */
void http_login_throttle_succeeded(HttpLoginThrottle *t, const char *name);
