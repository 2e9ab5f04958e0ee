/* The API gate's head check (api_gate_check_head, api-gate.h): what a request's head alone decides before
 * anything reaches civetweb — which targets need no credentials (the console, webhooks, the registry's
 * anonymous reads when allowed), the bearer token, Basic on /v2/, or the session cookie with its CSRF
 * header and Origin, and the answer for each refusal.  No I/O: the fuzz target drives it directly. */
#include "api-gate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http-limits.h"
#include "http-session.h"

/* A webhook delivery (POST /hooks/…) is authenticated by its signature, not the bearer token: the gate
 * lets it through only when the rest of the path is plain ([A-Za-z0-9_/-], no dot segment, no escape,
 * no query), so it cannot name anything but a hook route, and civetweb routes it to the hook table, never
 * to /api (whose dispatcher checks the token again anyway). */
static bool hook_target(const char *method, size_t method_len, const char *t, size_t tl) {
        size_t n = strlen(HTTP_HOOKS_PREFIX);

        if (method_len != 4 || strncmp(method, "POST", 4) != 0)
                return false;
        if (tl <= n || strncmp(t, HTTP_HOOKS_PREFIX, n) != 0)
                return false;
        for (size_t i = n; i < tl; i++) {
                char ch = t[i];

                if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                      ch == '_' || ch == '-' || ch == '/'))
                        return false;
        }
        return true;
}

/* What needs no credentials besides webhooks: the login (POST /api/v1/session, nothing after it) and the
 * console's pages, GET or HEAD of "/" or "/console[/…]" with a plain path ([A-Za-z0-9._~-] segments, none
 * "." or "..", no escape) and a plain query.  Whatever civetweb would make of anything else, the gate sends
 * it on only with credentials. */
static bool public_target(const char *method, size_t method_len, const char *t, size_t tl) {
        size_t n = strlen("/console");
        bool in_query = false;

        if (method_len == 4 && strncmp(method, "POST", 4) == 0)
                return tl == strlen(HTTP_SESSION_PATH) && strncmp(t, HTTP_SESSION_PATH, tl) == 0;
        if (!((method_len == 3 && strncmp(method, "GET", 3) == 0) ||
              (method_len == 4 && strncmp(method, "HEAD", 4) == 0)))
                return false;
        if (!(tl == 1 || t[1] == '?') &&
            !(tl >= n && strncmp(t, "/console", n) == 0 && (tl == n || t[n] == '/' || t[n] == '?')))
                return false;
        for (size_t i = 0; i < tl; i++) {
                char ch = t[i];
                bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                             (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '~' || ch == '.';

                if (in_query) {
                        if (!plain && ch != '=' && ch != '&')
                                return false;
                } else if (ch == '?')
                        in_query = true;
                else if (ch == '/') {
                        /* no "." or ".." segment, no empty one */
                        size_t k = i + 1, dots;
                        bool seg_end;

                        while (k < tl && t[k] == '.')
                                k++;
                        dots = k - i - 1;
                        seg_end = k == tl || t[k] == '/' || t[k] == '?';
                        if (seg_end && (dots == 1 || dots == 2 || (dots == 0 && k < tl && t[k] == '/')))
                                return false;
                } else if (!plain)
                        return false;
        }
        return true;
}

/* /v2 or /v2/…: the OCI distribution API. */
static bool registry_target(const char *t, size_t tl) {
        size_t n = strlen(HTTP_REGISTRY_PREFIX);

        return tl >= n - 1 && strncmp(t, HTTP_REGISTRY_PREFIX, n - 1) == 0 &&
               (tl == n - 1 || t[n - 1] == '/' || t[n - 1] == '?');
}

static void check_fail(GateHeadCheck *c, int status, const char *hint, const char *fmt, const char *arg) {
        c->status = status;
        c->hint = hint;
        snprintf(c->message, sizeof c->message, fmt, arg);
}

void api_gate_check_head(const char *buf, size_t len, const ApiGateAuth *gauth, int64_t now,
                         GateHeadCheck *ret) {
        HttpHead head;
        HttpError err = HTTP_ERROR_NONE;
        const HttpHeader *auth = NULL;
        HttpIdentity id;
        const char *t;
        size_t tl;
        int r;

        *ret = (GateHeadCheck) {};
        if (http_request_parse(buf, len, &head, &err) < 0) {
                const char *why = head.error_detail ?: "malformed head";

                switch (err) {
                case HTTP_ERROR_TOO_LARGE:
                        return check_fail(ret, 431, "Send fewer or shorter headers.",
                                          "The request head is too large (%s).", why);
                case HTTP_ERROR_VERSION:
                        return check_fail(ret, 505, "Speak HTTP/1.1 (or 1.0) to the API.",
                                          "The API speaks HTTP/1.0 and HTTP/1.1 only (%s).", why);
                case HTTP_ERROR_METHOD:
                        return check_fail(ret, 405, "Use GET, POST or DELETE on /api/v1/ paths.",
                                          "The API does not support that method (%s).", why);
                default:
                        return check_fail(ret, 400,
                                          "Send one Content-Length (or Transfer-Encoding: chunked alone), "
                                          "CRLF line ends and no folded header lines.",
                                          "The request head is malformed: %s.", why);
                }
        }
        ret->head_len = head.head_len;
        ret->body = head.body;
        ret->content_length = head.content_length;
        ret->expect_continue = head.expect_continue;
        ret->target_off = ret->origin_off = (size_t) (head.target - buf);
        ret->target_len = ret->origin_len = head.target_len;

        /* Absolute form ("GET http://host:port/api/v1/status HTTP/1.1", RFC 9112 3.2.2): a server must
         * accept it; civetweb would drop it, so the gate forwards the origin-form part. */
        t = head.target;
        tl = head.target_len;
        if (tl > 7 && strncasecmp(t, "http://", 7) == 0) {
                const char *path = memchr(t + 7, '/', tl - 7);

                if (!path)
                        return check_fail(
                                ret, 400,
                                "Send the path after the host, e.g. http://HOST:PORT/api/v1/status.",
                                "The absolute request target %s has no path.", "");
                ret->origin_off = (size_t) (path - buf);
                ret->origin_len = tl - (size_t) (path - t);
        } else if (t[0] != '/')
                return check_fail(ret, 400, "Send an origin-form target such as /api/v1/status.",
                                  "The request target is not a path%s.", "");

        for (size_t i = 0; i < head.n_headers; i++)
                if (http_name_eq(&head.headers[i], "authorization")) {
                        if (auth)
                                return check_fail(ret, 400, "Send one Authorization header.",
                                                  "The request has more than one Authorization header%s.",
                                                  "");
                        auth = &head.headers[i];
                }
        if (hook_target(head.method, head.method_len, buf + ret->origin_off, ret->origin_len))
                return;
        if (public_target(head.method, head.method_len, buf + ret->origin_off, ret->origin_len))
                return;
        /* The registry: Basic (what OCI clients send) or Bearer; a 401 there asks for Basic.  Anonymous
         * pull lets a read without any credentials through; wrong credentials are still refused, so a
         * client learns that its login is wrong. */
        ret->registry = registry_target(buf + ret->origin_off, ret->origin_len);
        if (ret->registry && !auth && gauth->registry_anonymous_pull &&
            ((head.method_len == 3 && strncmp(head.method, "GET", 3) == 0) ||
             (head.method_len == 4 && strncmp(head.method, "HEAD", 4) == 0)))
                return;
        /* A console session: its cookie, when no Authorization header says otherwise (not on /v2/). */
        if (!auth && !ret->registry && gauth->sessions) {
                HttpSessionHeaders sh = { .method = head.method, .method_len = head.method_len };
                HttpSession sess;

                for (size_t i = 0; i < head.n_headers; i++) {
                        const HttpHeader *h = &head.headers[i];
                        const char *v;

                        if (http_name_eq(h, "cookie") && !sh.cookie &&
                            http_session_cookie_find(h->value, h->value_len, &v)) {
                                sh.cookie = h->value;
                                sh.cookie_len = h->value_len;
                        } else if (http_name_eq(h, "x-csrf-token")) {
                                sh.csrf = h->value;
                                sh.csrf_len = h->value_len;
                        } else if (http_name_eq(h, "origin")) {
                                sh.origin = h->value;
                                sh.origin_len = h->value_len;
                        } else if (http_name_eq(h, "host")) {
                                sh.host = h->value;
                                sh.host_len = h->value_len;
                        } else if (http_name_eq(h, "x-forwarded-proto")) {
                                sh.forwarded_proto = h->value;
                                sh.forwarded_proto_len = h->value_len;
                        }
                }
                if (sh.cookie) {
                        r = http_session_check(gauth->sessions, &sh, now, &sess);
                        sodium_memzero(&sess, sizeof sess);
                        if (r == -EPERM)
                                return check_fail(ret, 403, HTTP_CSRF_HINT, "%s", HTTP_CSRF_MESSAGE);
                        if (r < 0)
                                return check_fail(ret, 401, HTTP_SESSION_ENDED_HINT, "%s",
                                                  HTTP_SESSION_ENDED_MESSAGE);
                        return;
                }
        }
        r = http_token_set_check(gauth->tokens, auth ? auth->value : NULL, auth ? auth->value_len : 0,
                                 ret->registry, now, &id);
        if (r == -EKEYEXPIRED)
                return check_fail(ret, 401, HTTP_TOKEN_EXPIRED_HINT, "%s", HTTP_TOKEN_EXPIRED_MESSAGE);
        if (r < 0)
                return check_fail(ret, 401,
                                  ret->registry ? HTTP_REGISTRY_AUTH_HINT : HTTP_TOKEN_MISSING_HINT, "%s",
                                  HTTP_TOKEN_MISSING_MESSAGE);
        /* The registry answers a read-only push itself, in its own error shape (http_request_may_push). */
        if (!ret->registry && id.read_only && http_method_writes(head.method, head.method_len))
                return check_fail(ret, 403, HTTP_TOKEN_READ_ONLY_HINT, "%s", HTTP_TOKEN_READ_ONLY_MESSAGE);
}
