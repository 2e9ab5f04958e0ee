/* JSON request bodies, decoded one way for every route, so a limit or a typo gets the same kind of answer
 * everywhere.  Invariant: nothing reaches jansson that nests deeper than JSON_DEPTH_MAX, which keeps its
 * recursion well inside a civetweb handler thread's stack (HTTP_WORKER_STACK_SIZE). */
#include "http-json-body.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http-limits.h"
#include "http-response.h"
#include "json-util.h"
#include "string-util.h"
#include "utf8.h"

/* An unknown field's name as an error quotes it: at most this many bytes, cut at a character. */
#define HTTP_JSON_FIELD_QUOTE_MAX 64U

static bool field_known(const HttpJsonBody *spec, const char *key) {
        for (const char *const *f = spec->fields; f && *f; f++)
                if (streq(*f, key))
                        return true;
        return false;
}

/* key as a message may quote it: control characters as '?', cut at a UTF-8 boundary. */
static void quote_field(const char *key, char buf[static HTTP_JSON_FIELD_QUOTE_MAX + 1]) {
        size_t n = strnlen(key, HTTP_JSON_FIELD_QUOTE_MAX);

        memcpy(buf, key, n);
        n = utf8_valid_prefix(buf, n);
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) buf[i] < 0x20 || buf[i] == 0x7f)
                        buf[i] = '?';
        buf[n] = 0;
}

/* "Unknown field 'env' in the project create request; known fields: name, envs." */
static int unknown_field(const HttpJsonBody *spec, const char *key, char **ret_error) {
        char quoted[HTTP_JSON_FIELD_QUOTE_MAX + 1], known[512] = "";
        size_t k = 0;

        quote_field(key, quoted);
        for (const char *const *f = spec->fields; f && *f && k < sizeof known; f++)
                k += (size_t) snprintf(known + k, sizeof known - k, "%s%s", k ? ", " : "", *f);
        if (k == 0)
                return errmsg_set(ret_error, -EINVAL, "Unknown field '%s' in the %s; it takes no fields.",
                                  quoted, spec->what);
        return errmsg_set(ret_error, -EINVAL, "Unknown field '%s' in the %s; known fields: %s.", quoted,
                          spec->what, known);
}

int http_json_body_decode(const HttpJsonBody *spec, const char *data, size_t size, json_t **ret,
                          char **ret_error) {
        _cleanup_json_ json_t *j = NULL;
        json_error_t jerr;
        const char *key;
        json_t *v;
        int r;

        if (size == 0)
                return errmsg_set(ret_error, -EBADMSG, "The %s has no body; it must be a JSON object.",
                                  spec->what);
        r = json_parse_buffer(data, size, &j, &jerr);
        if (r == -ELOOP)
                return errmsg_set(ret_error, r, "The JSON body is nested deeper than %u levels; flatten it.",
                                  JSON_DEPTH_MAX);
        if (r < 0)
                return errmsg_set(ret_error, r, "The %s is not valid JSON: %s (line %d, column %d).",
                                  spec->what, jerr.text, jerr.line, jerr.column);
        if (!json_is_object(j))
                return errmsg_set(ret_error, -EINVAL, "The %s must be a JSON object.", spec->what);
        json_object_foreach(j, key, v)
                if (!field_known(spec, key))
                        return unknown_field(spec, key, ret_error);
        *ret = TAKE_PTR(j);
        return 0;
}

static int replied(HttpRequest *req, int status, int error) {
        req->status = status;
        return error;
}

/* "64 KiB", "1 MiB": limits are round binary sizes. */
static const char *format_limit(size_t max, char *buf, size_t size) {
        if (max >= 1024U * 1024U && max % (1024U * 1024U) == 0)
                snprintf(buf, size, "%zu MiB", max / (1024U * 1024U));
        else if (max >= 1024U && max % 1024U == 0)
                snprintf(buf, size, "%zu KiB", max / 1024U);
        else
                snprintf(buf, size, "%zu bytes", max);
        return buf;
}

int http_request_read_json(HttpRequest *req, const HttpJsonBody *spec, json_t **ret) {
        _cleanup_free_ char *data = NULL, *error = NULL;
        size_t max = spec->max ?: HTTP_JSON_BODY_MAX, size = 0;
        char limit[32], msg[256];
        int r;

        r = http_read_body(req->conn, max, &data, &size);
        if (r == -EFBIG) {
                snprintf(msg, sizeof msg, "The %s is larger than %s, the most this endpoint accepts.",
                         spec->what, format_limit(max, limit, sizeof limit));
                http_reply_error(req->conn, 413, msg, spec->example);
                return replied(req, 413, r);
        }
        if (r == -EPIPE) {
                snprintf(msg, sizeof msg, "The %s ended before all of its body arrived.", spec->what);
                http_reply_error(req->conn, 400, msg, "Send the whole body its Content-Length announces.");
                return replied(req, 400, r);
        }
        if (r < 0) {
                http_reply_errno(req->conn, r, NULL, NULL, "Cannot read the request body");
                return replied(req, http_status_from_errno(r), r);
        }
        r = http_json_body_decode(spec, data, size, ret, &error);
        if (r < 0) {
                http_reply_error(req->conn, 400, error ?: "The request body is not a valid JSON object.",
                                 spec->example);
                return replied(req, 400, r);
        }
        return 0;
}
