/* The /api/v1 routing table.  Order matters only between patterns of the same shape. */
#include "api.h"

#include <string.h>

#include "disk-space.h"
#include "http-response.h"
#include "log.h"

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
        { "PATCH", "projects/*", api_project_update },
        { "GET", "registries", api_registries_list },
        { "POST", "registries", api_registry_add },
        { "GET", "registries/*", api_registry_show },
        { "DELETE", "registries/*", api_registry_remove },
        { "GET", "projects/*/environments", api_environments_list },
        { "POST", "projects/*/environments", api_environment_create },
        { "PATCH", "projects/*/environments/*", api_environment_update },
        { "GET", "projects/*/components", api_components_list },
        { "POST", "projects/*/components", api_component_create },
        { "GET", "projects/*/components/*", api_component_show },
        { "PATCH", "projects/*/components/*", api_component_update },
        { "GET", "projects/*/components/*/releases", api_component_releases },
        { "GET", "projects/*/components/*/releases/*", api_release_show },
        { "POST", "projects/*/components/*/deploy", api_component_deploy },
        { "POST", "projects/*/components/*/promote", api_component_promote },
        { "POST", "projects/*/components/*/rollback", api_component_rollback },
        { "GET", "projects/*/components/*/url", api_component_url },
        { "GET", "projects/*/components/*/logs", api_component_logs },
        { "GET", "projects/*/environments/*/configs", api_configs_list },
        { "PUT", "projects/*/environments/*/configs/*", api_config_set },
        { "DELETE", "projects/*/environments/*/configs/*", api_config_unset },
        { "GET", "projects/*/components/*/environments/*/configs", api_configs_list },
        { "PUT", "projects/*/components/*/environments/*/configs/*", api_config_set },
        { "DELETE", "projects/*/components/*/environments/*/configs/*", api_config_unset },
        { "POST", "vault/rotate", api_vault_rotate },
        { "POST", "projects/*/components/*/builds", api_component_build },
        { "GET", "projects/*/components/*/builds", api_component_builds },
        { "GET", "projects/*/components/*/commits", api_component_commits },
        { "GET", "builds/*", api_build_show },
        { "DELETE", "builds/*", api_build_cancel },
        { "GET", "builds/*/logs", api_build_logs },
        { "GET", "builds/*/schemas/*", api_build_schema },
        { "GET", "builds/*/sbom", api_build_sbom },
        { "GET", "images/*/sbom", api_image_sbom },
        { "GET", "images/*/scan", api_image_scan },
        { "POST", "vulndb/import", api_vulndb_import },
        { "GET", "vulndb", api_vulndb_status },
        { "GET", "projects/*/components/*/webhook", api_component_webhook },
        { "POST", "projects/*/components/*/webhook/rotate", api_component_webhook_rotate },
        { "PUT", "projects/*/components/*/autobuild", api_component_switch },
        { "PUT", "projects/*/components/*/autodeploy", api_component_switch },
        { "POST", "tokens", api_token_create },
        { "GET", "tokens", api_tokens_list },
        { "DELETE", "tokens/*", api_token_revoke },
};

const size_t api_routes_n = ELEMENTSOF(api_routes);

bool api_delete_begin(HttpRequest *req, int r) {
        ApiContext *ctx = req->userdata;

        if (!disk_errno_is_full(r) || !ctx->state_dir)
                return false;
        r = disk_reserve_release(ctx->state_dir);
        if (r > 0)
                log_warning("The disk holding %s is full: released its %u MiB reserve so that %s %s can "
                            "commit.",
                            ctx->state_dir, DISK_RESERVE_SIZE / (1024U * 1024U), req->method,
                            mg_get_request_info(req->conn)->local_uri);
        return r > 0;
}

int api_disk_writable(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        int r;

        if (!ctx->state_dir)
                return 0;
        r = disk_reserve_ensure(ctx->state_dir);
        if (r == -ENOSPC)
                return api_replied(req, api_reply_disk_full(req), r);
        if (r < 0)
                log_debug_errno(r, "Cannot make the disk reserve of %s: %m", ctx->state_dir);
        return 0;
}

void api_delete_end(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        int r;

        if (!ctx->state_dir)
                return;
        r = disk_reserve_ensure(ctx->state_dir);
        if (r > 0)
                log_info("Space is back on the disk holding %s: its reserve is whole again.",
                         ctx->state_dir);
}

int api_reply_disk_full(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        char message[768], hint[512];

        disk_full_describe(ctx->state_dir ?: ".", message, sizeof message, hint, sizeof hint);
        log_warning("%s %s: %s", req->method, mg_get_request_info(req->conn)->local_uri, message);
        return http_reply_error(req->conn, 507, message, hint);
}

int api_reply_error(HttpRequest *req, int r, const OciError *err, const char *what) {
        /* Whatever layer ran out of space (sqlite, the blob store, an upload, a layer, a log), the person
         * needs the same three things: which disk, how full, and what to run. */
        if (disk_errno_is_full(r))
                return api_reply_disk_full(req);
        return http_reply_errno(req->conn, r, err ? err->message : NULL, err ? err->hint : NULL, what);
}
