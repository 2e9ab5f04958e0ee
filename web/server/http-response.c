/* Responses and bounded request bodies for civetweb handlers.  Headers are written by hand so we
 * control framing exactly: Content-Length for documents, chunked for streams, Connection: close. */
#include "http-response.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs-util.h"
#include "http-limits.h"
#include "json-util.h"

int http_status_from_errno(int r) {
        switch (-r) {
        case EINVAL:
        case ENAMETOOLONG:
        case E2BIG:
        case EDOM:
                return 400;
        case ENOENT:
                return 404;
        case EEXIST:
        case ENOTEMPTY:
        case EBUSY:
        case EISDIR:
        case ENOTDIR:
                return 409;
        case EFBIG:
        case EMSGSIZE:
                return 413;
        case EBADMSG:
        case EOPNOTSUPP:
        case EPROTO:
        case EILSEQ:
        case ENOEXEC:
        case ENOMSG:
        case ENODATA:
        case ENOMEDIUM:
        case EMEDIUMTYPE:
        case EPROTONOSUPPORT:
        case ELOOP:
        case EXDEV:
                return 422;
        case ENOSPC:
        case EDQUOT:
                return 507; /* Insufficient Storage: the request may work once space is freed */
        default:
                return 500;
        }
}

static int send_document(struct mg_connection *conn, int status, const char *content_type, const char *body,
                         size_t size, const char *extra_headers) {
        mg_printf(conn,
                  "HTTP/1.1 %d %s\r\n"
                  "Content-Type: %s\r\n"
                  "Content-Length: %zu\r\n"
                  "Cache-Control: no-store\r\n"
                  "%s"
                  "Connection: close\r\n\r\n",
                  status, mg_get_response_code_text(conn, status), content_type, size,
                  strempty(extra_headers));
        if (size > 0)
                mg_write(conn, body, size);
        return status;
}

int http_reply_json_with(struct mg_connection *conn, int status, json_t *body, const char *extra_headers) {
        _cleanup_free_ char *text = NULL;

        text = json_dumps(body, JSON_COMPACT);
        if (!text)
                return send_document(conn, 500, "application/json",
                                     "{\"error\":\"Out of memory.\",\"hint\":\"Retry later.\"}", 47, NULL);
        /* One JSON document per line makes curl output and logs readable. */
        size_t n = strlen(text);
        char *nl = realloc(text, n + 2);
        if (!nl)
                return send_document(conn, status, "application/json", text, n, extra_headers);
        text = nl;
        text[n] = '\n';
        text[n + 1] = 0;
        return send_document(conn, status, "application/json", text, n + 1, extra_headers);
}

int http_reply_json(struct mg_connection *conn, int status, json_t *body) {
        return http_reply_json_with(conn, status, body, NULL);
}

int http_reply_error_with(struct mg_connection *conn, int status, const char *message, const char *hint,
                          const char *extra_headers) {
        _cleanup_json_ json_t *j = json_pack("{s:s,s:s}", "error", message, "hint", strempty(hint));
        if (!j)
                return send_document(conn, status, "application/json", "{}", 2, extra_headers);
        return http_reply_json_with(conn, status, j, extra_headers);
}

int http_reply_error(struct mg_connection *conn, int status, const char *message, const char *hint) {
        return http_reply_error_with(conn, status, message, hint, NULL);
}

int http_reply_errno(struct mg_connection *conn, int r, const char *message, const char *hint,
                     const char *what) {
        char msg[768];

        if (r >= 0)
                r = -EIO;
        if (!isempty(message))
                return http_reply_error(conn, http_status_from_errno(r), message, hint);
        snprintf(msg, sizeof msg, "%s: %s.", what, strerror(-r));
        return http_reply_error(conn, http_status_from_errno(r), msg,
                                http_status_from_errno(r) >= 500 ? "See the slipwayd log for details." : "");
}

int http_stream_begin(struct mg_connection *conn, int status, const char *content_type,
                      const char *extra_headers) {
        int n = mg_printf(conn,
                          "HTTP/1.1 %d %s\r\n"
                          "Content-Type: %s\r\n"
                          "Transfer-Encoding: chunked\r\n"
                          "Cache-Control: no-store\r\n"
                          "%s"
                          "Connection: close\r\n\r\n",
                          status, mg_get_response_code_text(conn, status), content_type,
                          strempty(extra_headers));
        return n > 0 ? 0 : -EPIPE;
}

int http_stream_write(struct mg_connection *conn, const void *data, size_t size) {
        if (size == 0)
                return 0;
        if (size > UINT32_MAX)
                return -EINVAL;
        return mg_send_chunk(conn, data, (unsigned) size) > 0 ? 0 : -EPIPE;
}

int http_stream_end(struct mg_connection *conn) {
        return mg_write(conn, "0\r\n\r\n", 5) == 5 ? 0 : -EPIPE;
}

/* Reads the request body through buf (size bytes): with fd >= 0 piece by piece, each written to fd, else
 * gathered in buf (then size is max + 1).  More than max bytes: -EFBIG; a failed read: -EPIPE. */
static int read_body(struct mg_connection *conn, uint64_t max, char *buf, size_t size, int fd,
                     uint64_t *ret_total) {
        const struct mg_request_info *ri = mg_get_request_info(conn);
        uint64_t total = 0;
        int r;

        if (ri->content_length > 0 && (uint64_t) ri->content_length > max)
                return -EFBIG;
        for (;;) {
                size_t at = fd >= 0 ? 0 : (size_t) total;
                int n = mg_read(conn, buf + at, size - at);
                if (n == 0)
                        break;
                if (n < 0)
                        return -EPIPE;
                total += (uint64_t) n;
                if (total > max)
                        return -EFBIG;
                if (fd >= 0) {
                        r = loop_write(fd, buf, (size_t) n);
                        if (r < 0)
                                return r;
                }
        }
        *ret_total = total;
        return 0;
}

int http_read_body_to_fd(struct mg_connection *conn, int fd, uint64_t max, uint64_t *ret_size) {
        const struct mg_request_info *ri = mg_get_request_info(conn);
        _cleanup_free_ char *buf = NULL;
        uint64_t total;
        int r;

        assert(fd >= 0);
        buf = malloc(HTTP_IO_BUFFER);
        if (!buf)
                return -ENOMEM;
        r = read_body(conn, max, buf, HTTP_IO_BUFFER, fd, &total);
        if (r < 0)
                return r;
        if (ri->content_length >= 0 && total != (uint64_t) ri->content_length)
                return -EPIPE;
        if (ret_size)
                *ret_size = total;
        return 0;
}

int http_read_body(struct mg_connection *conn, size_t max, char **ret, size_t *ret_size) {
        const struct mg_request_info *ri = mg_get_request_info(conn);
        _cleanup_free_ char *buf = NULL;
        uint64_t total;
        int r;

        /* max + 1 bytes: one more than allowed shows the body is too large; the last holds a NUL. */
        buf = malloc(max + 2);
        if (!buf)
                return -ENOMEM;
        r = read_body(conn, max, buf, max + 1, -EBADF, &total);
        if (r < 0)
                return r;
        if (ri->content_length >= 0 && total != (uint64_t) ri->content_length)
                return -EPIPE;
        buf[total] = 0;
        *ret = TAKE_PTR(buf);
        *ret_size = (size_t) total;
        return 0;
}
