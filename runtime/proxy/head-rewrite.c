/* Request and response head rewriting (head-rewrite.h).  Invariant: output is a function of the
 * parsed head and the context alone, and every line written ends in CRLF. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "head-rewrite.h"

static void out_header(Out *o, const HttpHeader *h) {
        out_put(o, h->name, h->name_len);
        out_put(o, ": ", 2);
        out_put(o, h->value, h->value_len);
        out_put(o, "\r\n", 2);
}

static bool header_dropped(const HttpHead *head, const HttpHeader *h) {
        return http_is_hop_by_hop(h) || http_head_connection_lists(head, h);
}

/* "Connection: upgrade" and the first Upgrade field of h, if it has one. */
static void out_upgrade(Out *o, const HttpHead *h) {
        for (size_t i = 0; i < h->n_headers; i++)
                if (http_name_eq(&h->headers[i], "upgrade")) {
                        out_str(o, "Connection: upgrade\r\n");
                        out_header(o, &h->headers[i]);
                        break;
                }
}

void head_request_authority(const HttpHead *h, const char **ret_host, size_t *ret_host_len,
                            const char **ret_path, size_t *ret_path_len) {
        const char *path = h->target, *host = h->host;
        size_t path_len = h->target_len, host_len = h->host_len;

        if (path[0] != '/' && path[0] != '*') { /* absolute form: http://authority/path */
                const char *a = path + 7, *end = path + path_len,
                           *slash = memchr(a, '/', (size_t) (end - a));
                host = a;
                host_len = (size_t) ((slash ? slash : end) - a);
                path = slash ? slash : "/";
                path_len = slash ? (size_t) (end - slash) : 1;
        }
        *ret_host = host;
        *ret_host_len = host_len;
        *ret_path = path;
        *ret_path_len = path_len;
}

int head_rewrite_request(const HttpHead *h, const RequestRewrite *rw, Out *o) {
        out_put(o, h->method, h->method_len);
        out_put(o, " ", 1);
        out_put(o, rw->path, rw->path_len);
        out_put(o, " HTTP/1.1\r\n", 11);
        if (!h->host && rw->host) {
                out_str(o, "Host: ");
                out_put(o, rw->host, rw->host_len);
                out_str(o, "\r\n");
        }
        for (size_t i = 0; i < h->n_headers; i++) {
                const HttpHeader *f = &h->headers[i];
                if (header_dropped(h, f))
                        continue;
                if (http_name_eq(f, "x-forwarded-for") || http_name_eq(f, "x-forwarded-proto") ||
                    http_name_eq(f, "x-forwarded-host"))
                        continue;
                out_header(o, f);
        }
        if (h->body == HTTP_BODY_CHUNKED)
                out_str(o, "Transfer-Encoding: chunked\r\n");
        /* Every X-Forwarded-For field the client sent, in order (RFC 9110: fields of one name are one
         * comma-separated list), then the client's address. */
        out_str(o, "X-Forwarded-For: ");
        for (size_t i = 0; i < h->n_headers; i++) {
                const HttpHeader *f = &h->headers[i];
                if (f->value_len == 0 || !http_name_eq(f, "x-forwarded-for") || header_dropped(h, f))
                        continue;
                out_put(o, f->value, f->value_len);
                out_str(o, ", ");
        }
        out_str(o, rw->client_ip ?: "unknown");
        out_str(o, "\r\nX-Forwarded-Proto: http\r\n");
        if (rw->host) {
                out_str(o, "X-Forwarded-Host: ");
                out_put(o, rw->host, rw->host_len);
                out_str(o, "\r\n");
        }
        out_str(o, "Via: " VIA_TOKEN "\r\n");
        if (h->conn_upgrade)
                out_upgrade(o, h);
        out_str(o, "\r\n");
        return o->overflow ? -ENOBUFS : 0;
}

int head_rewrite_response(const char *head, size_t len, const HttpHead *h, const ResponseContext *ctx,
                          Out *o, ResponsePlan *ret_plan) {
        ResponsePlan plan = {};
        const char *line_end;

        if (h->status == 101 && !ctx->upgrade_requested)
                return -EPROTO;
        if (h->status >= 100 && h->status < 200 && h->status != 101) {
                /* interim response: forwarded to HTTP/1.1 clients only */
                plan.interim = true;
                if (!ctx->client_http10) {
                        char line[64];
                        int n = snprintf(line, sizeof(line), "HTTP/1.1 %03u %s\r\n\r\n", h->status,
                                         h->status == 100 ? "Continue" : "Information");
                        out_put(o, line, (size_t) n);
                }
                if (o->overflow)
                        return -ENOBUFS;
                *ret_plan = plan;
                return 0;
        }

        line_end = memchr(head, '\n', len); /* the status line; its CR (if any) is not copied */
        if (!line_end || line_end - head < 8)
                return -EBADMSG;
        if (line_end[-1] == '\r')
                line_end--;
        out_str(o, "HTTP/1.1");
        out_put(o, head + 8, (size_t) (line_end - head - 8));
        out_str(o, "\r\n");
        for (size_t i = 0; i < h->n_headers; i++)
                if (!header_dropped(h, &h->headers[i]))
                        out_header(o, &h->headers[i]);

        if (h->status == 101) {
                plan.tunnel = true;
                out_upgrade(o, h);
                out_str(o, "Via: " VIA_TOKEN "\r\n\r\n");
        } else {
                plan.dechunk = h->body == HTTP_BODY_CHUNKED && ctx->client_http10;
                if (h->body == HTTP_BODY_CHUNKED && !plan.dechunk)
                        out_str(o, "Transfer-Encoding: chunked\r\n");
                plan.close_after =
                        ctx->closing || ctx->client_close || h->body == HTTP_BODY_EOF || plan.dechunk;
                out_str(o, "Via: " VIA_TOKEN "\r\n");
                if (plan.close_after)
                        out_str(o, "Connection: close\r\n");
                else if (ctx->client_http10)
                        out_str(o, "Connection: keep-alive\r\n");
                out_str(o, "\r\n");
        }
        if (o->overflow)
                return -ENOBUFS;
        *ret_plan = plan;
        return 0;
}

const char *head_status_text(unsigned status) {
        switch (status) {
        case 400:
                return "Bad Request";
        case 401:
                return "Unauthorized";
        case 404:
                return "Not Found";
        case 405:
                return "Method Not Allowed";
        case 408:
                return "Request Timeout";
        case 431:
                return "Request Header Fields Too Large";
        case 502:
                return "Bad Gateway";
        case 503:
                return "Service Unavailable";
        case 504:
                return "Gateway Timeout";
        case 505:
                return "HTTP Version Not Supported";
        default:
                return "Error";
        }
}

int head_error_response(unsigned status, const char *detail, bool head_method, Out *o) {
        char body[HEAD_ERROR_BODY_MAX], line[HEAD_ERROR_MAX];
        int bl, hl;

        bl = snprintf(body, sizeof(body), "%u %s: %s\n", status, head_status_text(status), detail);
        if (bl < 0)
                return -EINVAL;
        if ((size_t) bl >= sizeof(body)) /* a truncated detail: the length says what is sent */
                bl = (int) sizeof(body) - 1;
        hl = snprintf(
                line, sizeof(line),
                "HTTP/1.1 %u %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n"
                "Via: " VIA_TOKEN "\r\n\r\n",
                status, head_status_text(status), bl);
        if (hl < 0 || (size_t) hl >= sizeof(line))
                return -ENOBUFS;
        out_put(o, line, (size_t) hl);
        if (!head_method)
                out_put(o, body, (size_t) bl);
        return o->overflow ? -ENOBUFS : 0;
}
