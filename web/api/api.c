/* The /api/v1 routing table.  Order matters only between patterns of the same shape. */
#include "api.h"

#include <string.h>

#include "http-response.h"

const HttpRoute api_routes[] = {
        { "GET", "status", api_status },
        { "GET", "images", api_images_list },
        { "POST", "images/import", api_image_import },
        { "POST", "images/build", api_image_build },
        { "DELETE", "images/builds/*", api_image_build_cancel },
        { "POST", "images/gc", api_images_gc },
        { "GET", "images/*", api_image_inspect },
        { "DELETE", "images/*", api_image_remove },
        { "GET", "images/*/export", api_image_export },
        { "POST", "images/*/unpack", api_image_unpack },
};

const size_t api_routes_n = ELEMENTSOF(api_routes);

int api_reply_error(HttpRequest *req, int r, const OciError *err, const char *what) {
        return http_reply_errno(req->conn, r, err ? err->message : NULL, err ? err->hint : NULL, what);
}
