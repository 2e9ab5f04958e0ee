/* The API server: the gate (api-gate.c) owns the public socket and passes checked requests to civetweb,
 * which listens on an ephemeral loopback port only; then the /api dispatcher: auth (again, so nothing
 * but the gate's checked requests could ever run a handler) against the same token set, which names the
 * caller on the request, then route, then handler. */
#include "http-server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "api-gate.h"
#include "http-console.h"
#include "http-response.h"
#include "http-session.h"
#include "http-token-set.h"
#include "http-token.h"
#include "log.h"
#include "string-util.h"

/* civetweb's side of the gate: loopback only, and only the gate connects to it */
#define HTTP_BACKEND_LISTEN "127.0.0.1:0"
#define HTTP_BACKEND_ACL "-0.0.0.0/0,+127.0.0.1"
/* The gate has the head and any small body before it connects, so civetweb waits only for streamed
 * uploads and slow readers, which the gate times (GATE_UPLOAD_IDLE_SEC); a little longer, so the gate
 * is the one that decides. */
#define HTTP_BACKEND_TIMEOUT_MS ((GATE_UPLOAD_IDLE_SEC + 5U) * 1000U)

struct HttpServer {
        struct mg_context *ctx;
        ApiGate *gate;
        int backend_port; /* civetweb's loopback port */
        int stopping;
        HttpServerConfig cfg;
        HttpTokenSet *own_tokens; /* when cfg.tokens was NULL */
        HttpTokenSet *tokens;
};

int http_parse_listen(const char *listen, char **ret_addr, unsigned *ret_port) {
        const char *colon;
        _cleanup_free_ char *addr = NULL;
        unsigned char buf[sizeof(struct in6_addr)];
        char *end;
        unsigned long port;

        if (isempty(listen))
                return -EINVAL;
        if (listen[0] == '[') {
                const char *close = strchr(listen, ']');
                if (!close || close[1] != ':')
                        return -EINVAL;
                addr = strndup(listen + 1, (size_t) (close - listen - 1));
                colon = close + 1;
                if (!addr)
                        return -ENOMEM;
                if (inet_pton(AF_INET6, addr, buf) != 1)
                        return -EINVAL;
        } else {
                colon = strrchr(listen, ':');
                if (!colon)
                        return -EINVAL;
                addr = strndup(listen, (size_t) (colon - listen));
                if (!addr)
                        return -ENOMEM;
                if (inet_pton(AF_INET, addr, buf) != 1)
                        return -EINVAL;
        }
        errno = 0;
        port = strtoul(colon + 1, &end, 10);
        if (errno != 0 || *end || end == colon + 1 || port > 65535)
                return -EINVAL;
        *ret_addr = TAKE_PTR(addr);
        *ret_port = (unsigned) port;
        return 0;
}

typedef union SockaddrAny {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
} SockaddrAny;

/* addr (an IPv4 or IPv6 literal, as http_parse_listen() returns it) and port as a socket address; returns
 * its length. */
static socklen_t sockaddr_fill(const char *addr, unsigned port, SockaddrAny *ret) {
        *ret = (SockaddrAny) {};
        if (strchr(addr, ':')) {
                ret->in6.sin6_family = AF_INET6;
                ret->in6.sin6_port = htons(port);
                inet_pton(AF_INET6, addr, &ret->in6.sin6_addr);
                return sizeof ret->in6;
        }
        ret->in.sin_family = AF_INET;
        ret->in.sin_port = htons(port);
        inet_pton(AF_INET, addr, &ret->in.sin_addr);
        return sizeof ret->in;
}

int http_route_match(const char *pattern, char *const *segments, size_t n) {
        const char *p = pattern;
        size_t i = 0;

        while (*p) {
                const char *slash = strchr(p, '/');
                size_t len = slash ? (size_t) (slash - p) : strlen(p);

                if (i >= n)
                        return 0;
                if (!(len == 1 && p[0] == '*') &&
                    (strlen(segments[i]) != len || strncmp(p, segments[i], len) != 0))
                        return 0;
                i++;
                p += len;
                if (*p == '/')
                        p++;
        }
        return i == n;
}

bool http_request_may_push(const HttpRequest *req) {
        return req->user && (req->role == HTTP_ROLE_ADMIN || req->role == HTTP_ROLE_DEVELOPER) &&
               !req->read_only;
}

/* A console session's cookie, when the request has no Authorization header: 0 with req's caller named,
 * -ENOKEY (none), -EKEYEXPIRED (ended; also for an unknown cookie) or -EPERM (a write without the CSRF
 * token, or from another origin). */
static int authenticate_session(HttpServer *s, HttpRequest *req, int64_t now) {
        struct mg_connection *conn = req->conn;
        const char *cookie = mg_get_header(conn, "Cookie"), *v;
        HttpSessionHeaders h = { .method = req->method, .method_len = strlen(req->method) };
        int r;

#define HEADER(field, name)                                 \
        do {                                                \
                const char *_v = mg_get_header(conn, name); \
                h.field = _v;                               \
                h.field##_len = _v ? strlen(_v) : 0;        \
        } while (0)
        if (!s->cfg.sessions || !cookie || !http_session_cookie_find(cookie, strlen(cookie), &v))
                return -ENOKEY;
        HEADER(cookie, "Cookie");
        HEADER(csrf, HTTP_CSRF_HEADER);
        HEADER(origin, "Origin");
        HEADER(host, "Host");
        HEADER(forwarded_proto, "X-Forwarded-Proto");
#undef HEADER
        r = http_session_check(s->cfg.sessions, &h, now, &req->session);
        if (r == -ENOKEY)
                return -EKEYEXPIRED; /* it sent a session cookie: its session is what ended */
        if (r < 0)
                return r;
        req->session_id = req->session.session_id;
        req->user = req->session.user;
        req->role = req->session.role;
        req->read_only = false;
        req->token_id = -1;
        if (s->cfg.session_used && http_session_set_touch_due(s->cfg.sessions, req->session_id, now))
                s->cfg.session_used(s->cfg.userdata, req->session_id, now);
        return 0;
}

/* Checks the request's credentials (Basic too when basic_ok; a console session's cookie when session_ok
 * and no Authorization header) and names the caller on req: 0, or -ENOKEY / -EKEYEXPIRED / -EPERM (a
 * session's write without its CSRF token).  A user's token or session in use has its last use written back
 * now and then. */
static int authenticate(HttpServer *s, HttpRequest *req, bool basic_ok, bool session_ok) {
        const char *auth = mg_get_header(req->conn, "Authorization");
        int64_t now = (int64_t) time(NULL);
        int r;

        if (!auth && session_ok)
                return authenticate_session(s, req, now);
        r = http_token_set_check(s->tokens, auth, auth ? strlen(auth) : 0, basic_ok, now, &req->caller);
        if (r < 0)
                return r;
        req->user = req->caller.user;
        req->role = req->caller.role;
        req->read_only = req->caller.read_only;
        req->token_id = req->caller.token_id;
        if (req->token_id != HTTP_TOKEN_ADMIN_ID && s->cfg.token_used &&
            http_token_set_touch(s->tokens, req->token_id, now))
                s->cfg.token_used(s->cfg.userdata, req->token_id, now);
        return 0;
}

static bool method_writes(const char *method) {
        return http_method_writes(method, strlen(method));
}

static void request_free_segments(HttpRequest *req) {
        for (size_t i = 0; i < req->n_segments; i++)
                free(req->segments[i]);
        req->n_segments = 0;
}

/* Splits the raw (still URL-encoded) path after the prefix and decodes each segment on its own. */
static int split_path(const char *raw, HttpRequest *req) {
        const char *p = raw;

        while (*p) {
                const char *slash = strchr(p, '/');
                size_t len = slash ? (size_t) (slash - p) : strlen(p);
                _cleanup_free_ char *enc = NULL, *dec = NULL;
                int n;

                if (len == 0) /* tolerate "//" and a trailing "/" */
                        goto next;
                if (req->n_segments >= HTTP_PATH_SEGMENTS_MAX || len > HTTP_PATH_SEGMENT_MAX * 3)
                        return -E2BIG;
                enc = strndup(p, len);
                dec = malloc(len + 1);
                if (!enc || !dec)
                        return -ENOMEM;
                n = mg_url_decode(enc, (int) len, dec, (int) len + 1, 0);
                if (n < 0 || (size_t) n != strlen(dec) || (size_t) n > HTTP_PATH_SEGMENT_MAX)
                        return -EINVAL; /* embedded NUL or too long */
                req->segments[req->n_segments++] = TAKE_PTR(dec);
        next:
                p += len;
                if (*p == '/')
                        p++;
        }
        return 0;
}

/* Runs the route of routes[0..n) that matches req, or answers 404/405. */
static int route(HttpRequest *req, const HttpRoute *routes, size_t n, const char *uri) {
        bool path_known = false;
        int r;

        for (size_t i = 0; i < n; i++) {
                const HttpRoute *rt = &routes[i];

                if (!http_route_match(rt->pattern, req->segments, req->n_segments))
                        continue;
                path_known = true;
                if (!streq(rt->method, req->method))
                        continue;
                if (req->role < rt->min_role) {
                        char msg[128];

                        snprintf(msg, sizeof msg, HTTP_ROLE_FORBIDDEN_FORMAT,
                                 strempty(http_role_to_string(req->role)));
                        request_free_segments(req);
                        log_debug("%s %s → 403 (role %s)", req->method, uri, http_role_to_string(req->role));
                        return http_reply_error(req->conn, 403, msg, HTTP_ROLE_FORBIDDEN_HINT);
                }
                r = rt->handler(req);
                request_free_segments(req);
                log_debug("%s %s → %d", req->method, uri, r);
                return r > 0 ? r : 500;
        }
        request_free_segments(req);
        if (path_known)
                return http_reply_error(req->conn, 405, "This API path does not support that method.",
                                        "Check the method (GET, POST, DELETE) for the path.");
        return http_reply_error(req->conn, 404, "Unknown API path.",
                                "Check the URL against the API reference.");
}

/* /hooks/…: no token (the handlers verify the delivery's signature). */
static int hooks_dispatch(struct mg_connection *conn, void *cbdata) {
        HttpServer *s = cbdata;
        const struct mg_request_info *ri = mg_get_request_info(conn);
        HttpRequest req = { .conn = conn, .method = ri->request_method, .userdata = s->cfg.userdata };
        int r;

        if (!startswith(ri->local_uri, HTTP_HOOKS_PREFIX) || s->cfg.n_hook_routes == 0)
                return http_reply_error(conn, 404, "Unknown webhook path.",
                                        "Copy the URL from `slipway webhook show PROJECT/COMPONENT`.");
        r = split_path(ri->local_uri + strlen(HTTP_HOOKS_PREFIX), &req);
        if (r < 0) {
                request_free_segments(&req);
                return http_reply_error(conn, 400, "The request path is malformed or too long.",
                                        "Copy the URL from `slipway webhook show PROJECT/COMPONENT`.");
        }
        return route(&req, s->cfg.hook_routes, s->cfg.n_hook_routes, ri->local_uri);
}

/* req->client: the address the gate accepted the request from; a proxy on this host (a loopback peer)
 * names the real client as the last X-Forwarded-For entry, which it appended itself. */
static void client_address(HttpServer *s, HttpRequest *req) {
        const struct mg_request_info *ri = mg_get_request_info(req->conn);
        const char *xff = mg_get_header(req->conn, "X-Forwarded-For"), *last;
        size_t len;

        if (api_gate_client_address(s->gate, (unsigned) ri->remote_port, req->client, sizeof req->client) <
            0)
                req->client[0] = 0;
        if (!xff || !(startswith(req->client, "127.") || streq(req->client, "::1")))
                return;
        last = strrchr(xff, ',');
        last = last ? last + 1 : xff;
        last += strspn(last, " \t");
        len = strcspn(last, " \t");
        if (len > 0 && len < sizeof req->client) {
                memcpy(req->client, last, len);
                req->client[len] = 0;
        }
}

/* "/" and everything no other handler takes: the console's files (GET and HEAD of / and /console/…), else
 * 404.  The gate lets those reads through without credentials; nothing here looks at any. */
static int console_dispatch(struct mg_connection *conn, void *cbdata) {
        HttpServer *s = cbdata;
        const struct mg_request_info *ri = mg_get_request_info(conn);
        HttpRequest req = { .conn = conn, .method = ri->request_method, .userdata = s->cfg.userdata };
        bool console = streq(ri->local_uri, "/") || streq(ri->local_uri, "/console") ||
                       startswith(ri->local_uri, "/console/");

        if (!console || !(streq(req.method, "GET") || streq(req.method, "HEAD")))
                return http_reply_error(
                        conn, 404, "Nothing is served at this path.",
                        "The console is at /, the API under /api/v1/, the registry under /v2/.");
        /* The files embedded from web/console/ (http-console.c), unless the embedder serves its own. */
        if (!s->cfg.console_handler)
                return http_console_handler(conn, s);
        client_address(s, &req);
        return s->cfg.console_handler(&req);
}

static int api_dispatch(struct mg_connection *conn, void *cbdata) {
        HttpServer *s = cbdata;
        const struct mg_request_info *ri = mg_get_request_info(conn);
        HttpRequest req = { .conn = conn, .method = ri->request_method, .userdata = s->cfg.userdata };
        int r;

        client_address(s, &req);
        /* The login is the one /api request that comes without credentials (the gate lets it through). */
        if (streq(req.method, "POST") && streq(ri->local_uri, HTTP_SESSION_PATH))
                goto routed;
        r = authenticate(s, &req, false, true);
        if (r == -EPERM)
                return http_reply_error(conn, 403, HTTP_CSRF_MESSAGE, HTTP_CSRF_HINT);
        if (r == -EKEYEXPIRED && req.session.session_id == 0 && !mg_get_header(conn, "Authorization"))
                return http_reply_error(conn, 401, HTTP_SESSION_ENDED_MESSAGE, HTTP_SESSION_ENDED_HINT);
        if (r == -EKEYEXPIRED)
                return http_reply_error(conn, 401, HTTP_TOKEN_EXPIRED_MESSAGE, HTTP_TOKEN_EXPIRED_HINT);
        if (r < 0)
                return http_reply_error(conn, 401, HTTP_TOKEN_MISSING_MESSAGE, HTTP_TOKEN_MISSING_HINT);
        if (req.read_only && method_writes(req.method))
                return http_reply_error(conn, 403, HTTP_TOKEN_READ_ONLY_MESSAGE, HTTP_TOKEN_READ_ONLY_HINT);

routed:
        if (!startswith(ri->local_uri, HTTP_API_PREFIX))
                return http_reply_error(conn, 404, "Unknown API path; this server speaks /api/v1/.",
                                        "Check the URL.");
        r = split_path(ri->local_uri + strlen(HTTP_API_PREFIX), &req);
        if (r < 0) {
                request_free_segments(&req);
                return http_reply_error(conn, 400, "The request path is malformed or too long.",
                                        "URL-encode image references containing '/' or ':'.");
        }

        return route(&req, s->cfg.routes, s->cfg.n_routes, ri->local_uri);
}

/* An error of the registry's own dispatcher, in the distribution spec's shape; a 401 says how to log in. */
static int registry_refuse(struct mg_connection *conn, int status, const char *code, const char *message,
                           const char *detail) {
        _cleanup_free_ char *text = NULL;
        json_t *j = json_pack("{s:[{s:s,s:s,s:s}]}", "errors", "code", code, "message", message, "detail",
                              detail);

        text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        mg_printf(conn,
                  "HTTP/1.1 %d %s\r\n%s"
                  "Docker-Distribution-API-Version: registry/2.0\r\nContent-Type: application/json\r\n"
                  "Cache-Control: no-store\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
                  status, status == 401 ? "Unauthorized" : "Forbidden",
                  status == 401 ? "WWW-Authenticate: Basic realm=\"slipway\"\r\n" : "",
                  (text ? strlen(text) : 2) + 1, text ?: "{}");
        return status;
}

static bool method_reads(const char *method) {
        return streq(method, "GET") || streq(method, "HEAD");
}

/* /v2/…: the OCI distribution API, one handler (repository names hold '/'), Basic or Bearer auth, or
 * none for a read when anonymous pull is on. */
static int registry_dispatch(struct mg_connection *conn, void *cbdata) {
        HttpServer *s = cbdata;
        const struct mg_request_info *ri = mg_get_request_info(conn);
        HttpRequest req = { .conn = conn, .method = ri->request_method, .userdata = s->cfg.userdata };
        bool anonymous = s->cfg.registry_anonymous_pull && !mg_get_header(conn, "Authorization") &&
                         method_reads(req.method);
        int r;

        if (!anonymous) {
                r = authenticate(s, &req, true, false);
                if (r == -EKEYEXPIRED)
                        return registry_refuse(conn, 401, "UNAUTHORIZED", HTTP_TOKEN_EXPIRED_MESSAGE,
                                               HTTP_TOKEN_EXPIRED_HINT);
                if (r < 0)
                        return registry_refuse(conn, 401, "UNAUTHORIZED", HTTP_TOKEN_MISSING_MESSAGE,
                                               HTTP_REGISTRY_AUTH_HINT);
                if (!method_reads(req.method) && !http_request_may_push(&req))
                        return registry_refuse(
                                conn, 403, "DENIED",
                                req.read_only ? "This API token is read-only: it may pull but not push."
                                              : "Your role may pull but not push.",
                                "Push with a token made without --read-only by an admin or developer.");
        }
        if (!s->cfg.registry_handler)
                return http_reply_error(conn, 404, "This slipwayd serves no registry.", "See its log.");
        return s->cfg.registry_handler(&req);
}

static int log_message_cb(const struct mg_connection *conn, const char *message) {
        log_debug("civetweb: %s", message);
        return 1;
}

int http_server_start(const HttpServerConfig *cfg, HttpServer **ret) {
        _cleanup_free_ char *addr = NULL;
        struct mg_callbacks callbacks = { .log_message = log_message_cb };
        char header_max[32], timeout[32], errtext[256] = "";
        struct mg_error_data error = { .text = errtext, .text_buffer_size = sizeof errtext };
        struct mg_init_data init = {};
        HttpServer *s;
        unsigned port;
        int r;

        r = http_parse_listen(cfg->listen, &addr, &port);
        if (r < 0)
                return r;

        snprintf(header_max, sizeof header_max, "%u", HTTP_REQUEST_HEADER_MAX);
        snprintf(timeout, sizeof timeout, "%u", HTTP_BACKEND_TIMEOUT_MS);
        const char *options[] = {
                "listening_ports",
                HTTP_BACKEND_LISTEN,
                "access_control_list",
                HTTP_BACKEND_ACL,
                "num_threads",
                HTTP_SERVER_THREADS,
                "max_request_size",
                header_max,
                "decode_url",
                "no", /* we decode per segment: refs carry encoded '/' */
                "enable_keep_alive",
                "no",
                "request_timeout_ms",
                timeout,
                NULL,
        };

        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->cfg = *cfg;
        s->tokens = cfg->tokens;
        if (!s->tokens) {
                r = http_token_set_new(&s->own_tokens);
                if (r < 0) {
                        free(s);
                        return r;
                }
                s->tokens = s->own_tokens;
        }
        if (cfg->token) {
                HttpIdentity admin = { .token_id = HTTP_TOKEN_ADMIN_ID,
                                       .user = "admin",
                                       .role = HTTP_ROLE_ADMIN };
                unsigned char h[HTTP_TOKEN_HASH_SIZE];

                http_token_hash(cfg->token, strlen(cfg->token), h);
                r = http_token_set_put(s->tokens, h, &admin, 0);
                sodium_memzero(h, sizeof h);
                if (r < 0) {
                        http_token_set_free(s->own_tokens);
                        free(s);
                        return r;
                }
        }

        /* The public socket first: a port in use is reported before anything starts. */
        r = api_gate_new(addr, port,
                         &(ApiGateAuth) { .tokens = s->tokens,
                                          .sessions = cfg->sessions,
                                          .registry_anonymous_pull = cfg->registry_anonymous_pull },
                         &s->gate);
        if (r >= 0 && cfg->registry_blob_dir && cfg->registry_handler) {
                r = api_gate_serve_blobs(s->gate, cfg->registry_blob_dir);
                if (r < 0) {
                        log_debug_errno(r, "Cannot open the image store's blobs at %s: %m",
                                        cfg->registry_blob_dir);
                        s->gate = api_gate_free(s->gate);
                }
        }
        if (r < 0) {
                http_token_set_free(s->own_tokens);
                free(s);
                return r;
        }

        mg_init_library(0);
        init = (struct mg_init_data) { .callbacks = &callbacks,
                                       .user_data = s,
                                       .configuration_options = options };
        s->ctx = mg_start2(&init, &error);
        if (!s->ctx) {
                log_debug("civetweb failed to start: %s", errtext);
                api_gate_free(s->gate);
                http_token_set_free(s->own_tokens);
                free(s);
                mg_exit_library();
                return -EIO;
        }
        mg_set_request_handler(s->ctx, "/api", api_dispatch, s);
        mg_set_request_handler(s->ctx, "/hooks", hooks_dispatch, s);
        mg_set_request_handler(s->ctx, "/v2", registry_dispatch, s);
        mg_set_request_handler(s->ctx, "/", console_dispatch, s);
        {
                struct mg_server_port ports[4];

                r = mg_get_server_ports(s->ctx, ELEMENTSOF(ports), ports);
                s->backend_port = r > 0 ? ports[0].port : -1;
        }
        r = s->backend_port > 0 ? api_gate_start(s->gate, (unsigned) s->backend_port) : -EIO;
        if (r < 0) {
                http_server_stop(s);
                return r;
        }
        *ret = s;
        return 0;
}

/* civetweb's master thread notices mg_stop() only when its 2 s poll() ends; a connection to its
 * loopback port ends it at once, so SIGTERM stops slipwayd promptly. */
static void *stop_waker(void *userdata) {
        HttpServer *s = userdata;
        int port = s->backend_port;
        SockaddrAny sa;
        socklen_t len = sockaddr_fill("127.0.0.1", port, &sa);

        for (int i = 0; i < 100 && !__atomic_load_n(&s->stopping, __ATOMIC_ACQUIRE) && port > 0; i++) {
                int fd = socket(sa.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (fd >= 0) {
                        (void) connect(fd, &sa.sa, len);
                        safe_close(fd);
                }
                usleep(20 * 1000);
        }
        return NULL;
}

HttpServer *http_server_stop(HttpServer *s) {
        pthread_t waker;
        bool have_waker;

        if (!s)
                return NULL;
        /* No new request reaches civetweb; mg_stop() waits for the running handlers, whose last words
         * (a cancelled build's error line) the gate still relays; then the gate goes. */
        api_gate_quiesce(s->gate);
        if (s->ctx) {
                have_waker = pthread_create(&waker, NULL, stop_waker, s) == 0;
                mg_stop(s->ctx);
                __atomic_store_n(&s->stopping, 1, __ATOMIC_RELEASE);
                if (have_waker)
                        pthread_join(waker, NULL);
                mg_exit_library();
        }
        s->gate = api_gate_free(s->gate);
        http_token_set_free(s->own_tokens);
        free(s);
        return NULL;
}

int http_server_port(HttpServer *s) {
        return s->gate ? api_gate_port(s->gate) : -EIO;
}

int http_request_query(HttpRequest *req, const char *name, char *buf, size_t size) {
        const struct mg_request_info *ri = mg_get_request_info(req->conn);
        _cleanup_free_ char *tmp = NULL;
        int n;

        if (!ri->query_string)
                return -ENOENT;
        /* mg_get_var() clears the buffer even when the name is absent: keep the caller's default. */
        tmp = malloc(size);
        if (!tmp)
                return -ENOMEM;
        n = mg_get_var(ri->query_string, strlen(ri->query_string), name, tmp, size);
        if (n == -1)
                return -ENOENT;
        if (n < 0)
                return -E2BIG;
        memcpy(buf, tmp, (size_t) n + 1);
        return n;
}
