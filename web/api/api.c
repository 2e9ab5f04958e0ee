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
        { "GET", "projects", api_projects_list },
        { "POST", "projects", api_project_create },
        { "GET", "projects/*", api_project_show },
        { "DELETE", "projects/*", api_project_delete },
        { "GET", "projects/*/environments", api_environments_list },
        { "POST", "projects/*/environments", api_environment_create },
        { "PATCH", "projects/*/environments/*", api_environment_update },
        { "GET", "projects/*/components", api_components_list },
        { "POST", "projects/*/components", api_component_create },
        { "GET", "projects/*/components/*", api_component_show },
        { "GET", "projects/*/components/*/releases", api_component_releases },
        { "GET", "projects/*/components/*/releases/*", api_release_show },
        { "POST", "projects/*/components/*/deploy", api_component_deploy },
        { "GET", "projects/*/components/*/url", api_component_url },
        { "GET", "projects/*/components/*/logs", api_component_logs },
};

const size_t api_routes_n = ELEMENTSOF(api_routes);

int api_reply_error(HttpRequest *req, int r, const OciError *err, const char *what) {
        return http_reply_errno(req->conn, r, err ? err->message : NULL, err ? err->hint : NULL, what);
}
