/* The console's files over HTTP: "/" is index.html (revalidated on each load, so a new slipwayd's page
 * is seen at once), /console/NAME.HASH.EXT is cached for a year, /console/NAME.EXT is revalidated by ETag.
 * Every answer, errors included, carries the CSP and nosniff so no response of this path runs script. */
#include "http-console.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "console-assets.h"
#include "http-limits.h"
#include "string-util.h"

#define CONSOLE_SECURITY_HEADERS                            \
        "Content-Security-Policy: " HTTP_CONSOLE_CSP "\r\n" \
        "X-Content-Type-Options: nosniff\r\n"               \
        "Referrer-Policy: no-referrer\r\n"                  \
        "X-Frame-Options: DENY\r\n"

static int console_reply_text(struct mg_connection *conn, int status, const char *allow, const char *text) {
        mg_printf(conn,
                  "HTTP/1.1 %d %s\r\n"
                  "Content-Type: text/plain; charset=utf-8\r\n"
                  "Content-Length: %zu\r\n"
                  "Cache-Control: no-store\r\n"
                  "%s%s%s" CONSOLE_SECURITY_HEADERS "Connection: close\r\n\r\n%s",
                  status, mg_get_response_code_text(conn, status), strlen(text), allow ? "Allow: " : "",
                  strempty(allow), allow ? "\r\n" : "", text);
        return status;
}

/* If-None-Match names etag (or is "*"): the client's copy is current. */
static bool etag_matches(const char *if_none_match, const char *etag) {
        const char *p = if_none_match;
        size_t n = strlen(etag);

        if (!p)
                return false;
        if (streq(p, "*"))
                return true;
        while ((p = strstr(p, etag))) {
                /* the tag itself, maybe weak ("W/\"…\""), between commas */
                if (p[n] == 0 || p[n] == ',' || p[n] == ' ')
                        return true;
                p += n;
        }
        return false;
}

int http_console_handler(struct mg_connection *conn, void *cbdata) {
        const struct mg_request_info *ri = mg_get_request_info(conn);
        const char *uri = ri->local_uri, *name;
        const ConsoleAsset *a;
        bool head = streq(ri->request_method, "HEAD"), hashed = false;

        (void) cbdata;
        if (streq(uri, "/"))
                name = CONSOLE_INDEX;
        else if (startswith(uri, HTTP_CONSOLE_PREFIX))
                name = uri + strlen(HTTP_CONSOLE_PREFIX);
        else
                return console_reply_text(conn, 404, NULL,
                                          "Not found: the console is at /, the API under /api/v1/.\n");
        if (!streq(ri->request_method, "GET") && !head)
                return console_reply_text(conn, 405, "GET, HEAD", "The console's files are only read.\n");
        a = console_asset_find(name, &hashed);
        if (!a)
                return console_reply_text(conn, 404, NULL,
                                          "No such console file: reload the console from /.\n");

        const char *cache = hashed ? HTTP_CONSOLE_IMMUTABLE : "no-cache";
        if (etag_matches(mg_get_header(conn, "If-None-Match"), a->etag)) {
                mg_printf(
                        conn,
                        "HTTP/1.1 304 Not Modified\r\nETag: %s\r\nCache-Control: %s\r\n" CONSOLE_SECURITY_HEADERS
                        "Connection: close\r\n\r\n",
                        a->etag, cache);
                return 304;
        }
        mg_printf(conn,
                  "HTTP/1.1 200 OK\r\n"
                  "Content-Type: %s\r\n"
                  "Content-Length: %zu\r\n"
                  "ETag: %s\r\n"
                  "Cache-Control: %s\r\n" CONSOLE_SECURITY_HEADERS "Connection: close\r\n\r\n",
                  a->content_type, a->size, a->etag, cache);
        if (!head)
                mg_write(conn, a->data, a->size);
        return 200;
}
