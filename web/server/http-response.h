/* Writing HTTP responses from civetweb handlers: JSON documents, JSON errors {"error","hint"} with
 * the matching status, chunked streams; and reading request bodies with bounds.
 * Every response closes the connection, so a handler that stops early never desyncs a client. */
#pragma once

#include <civetweb.h>
#include <jansson.h>
#include <stdint.h>


/* Maps a negative errno to the HTTP status the API uses for it (400, 404, 409, 413, 422, 507 for a full
 * disk, 500). */
int http_status_from_errno(int r);

/* Sends a complete JSON response; returns status. */
int http_reply_json(struct mg_connection *conn, int status, json_t *body);
/* The same with extra_headers (NULL, or complete "Name: value\r\n" lines: Set-Cookie, Retry-After). */
int http_reply_json_with(struct mg_connection *conn, int status, json_t *body, const char *extra_headers);
/* Sends {"error": message, "hint": hint}; returns status. */
int http_reply_error(struct mg_connection *conn, int status, const char *message, const char *hint);
int http_reply_error_with(struct mg_connection *conn, int status, const char *message, const char *hint,
                          const char *extra_headers);
/* Sends message/hint when message is set, else a generic sentence from r and what. */
int http_reply_errno(struct mg_connection *conn, int r, const char *message, const char *hint,
                     const char *what);

/* Chunked streaming: begin (headers), write chunks, end (terminating chunk).  extra_headers is
 * either NULL or complete "Name: value\r\n" lines.  Returns 0 or -EPIPE when the client is gone. */
int http_stream_begin(struct mg_connection *conn, int status, const char *content_type,
                      const char *extra_headers);
int http_stream_write(struct mg_connection *conn, const void *data, size_t size);
int http_stream_end(struct mg_connection *conn);

/* Copies the request body (Content-Length or chunked) to fd; -EFBIG past max, -EPIPE when the
 * client stops sending early. */
int http_read_body_to_fd(struct mg_connection *conn, int fd, uint64_t max, uint64_t *ret_size);
/* Reads the whole request body, at most max bytes, into *ret (NUL-terminated, caller frees); -EFBIG past max,
 * -EPIPE when the client stops before its Content-Length.  JSON bodies go through http-json-body.h. */
int http_read_body(struct mg_connection *conn, size_t max, char **ret, size_t *ret_size);
