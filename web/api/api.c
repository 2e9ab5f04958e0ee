/* The /api/v1 routing table, with the least role each route needs (issue 14): every GET is a viewer's
 * (no API returns a secret's value); a developer builds, deploys, promotes, rolls back, sets config
 * values, switches autobuild/autodeploy and manages its own tokens; everything else is an admin's
 * (deciding a promotion request among it).
 * Order matters only between patterns of the same shape. */
#include "api.h"

#include <string.h>

#include "disk-space.h"
#include "http-response.h"
#include "log.h"

#define VIEWER HTTP_ROLE_VIEWER
#define DEVELOPER HTTP_ROLE_DEVELOPER
#define ADMIN HTTP_ROLE_ADMIN

const HttpRoute api_routes[] = {
        { "GET", "status", api_status, VIEWER },
        { "GET", "images", api_images_list, VIEWER },
        { "POST", "images/import", api_image_import, ADMIN },
        { "POST", "images/build", api_image_build, ADMIN },
        { "DELETE", "images/builds/*", api_image_build_cancel, ADMIN },
        { "POST", "images/gc", api_images_gc, ADMIN },
        { "GET", "images/*", api_image_inspect, VIEWER },
        { "DELETE", "images/*", api_image_remove, ADMIN },
        { "GET", "images/*/export", api_image_export, VIEWER },
        { "POST", "images/*/unpack", api_image_unpack, ADMIN },
        { "GET", "projects", api_projects_list, VIEWER },
        { "POST", "projects", api_project_create, ADMIN },
        { "GET", "projects/*", api_project_show, VIEWER },
        { "DELETE", "projects/*", api_project_delete, ADMIN },
        { "PATCH", "projects/*", api_project_update, ADMIN },
        { "GET", "registries", api_registries_list, VIEWER },
        { "POST", "registries", api_registry_add, ADMIN },
        { "GET", "registries/*", api_registry_show, VIEWER },
        { "DELETE", "registries/*", api_registry_remove, ADMIN },
        { "GET", "projects/*/environments", api_environments_list, VIEWER },
        { "POST", "projects/*/environments", api_environment_create, ADMIN },
        { "PATCH", "projects/*/environments/*", api_environment_update, ADMIN },
        { "GET", "projects/*/components", api_components_list, VIEWER },
        { "POST", "projects/*/components", api_component_create, ADMIN },
        { "GET", "projects/*/components/*", api_component_show, VIEWER },
        { "PATCH", "projects/*/components/*", api_component_update, ADMIN },
        { "GET", "projects/*/components/*/releases", api_component_releases, VIEWER },
        { "GET", "projects/*/components/*/releases/*", api_release_show, VIEWER },
        { "POST", "projects/*/components/*/deploy", api_component_deploy, DEVELOPER },
        { "POST", "projects/*/components/*/promote", api_component_promote, DEVELOPER },
        { "GET", "approvals", api_approvals_list, VIEWER },
        { "GET", "approvals/*", api_approval_show, VIEWER },
        { "POST", "approvals/*/approve", api_approval_approve, ADMIN },
        { "POST", "approvals/*/reject", api_approval_reject, ADMIN },
        { "POST", "projects/*/components/*/rollback", api_component_rollback, DEVELOPER },
        { "GET", "projects/*/components/*/url", api_component_url, VIEWER },
        { "GET", "projects/*/components/*/logs", api_component_logs, VIEWER },
        { "GET", "projects/*/environments/*/configs", api_configs_list, VIEWER },
        { "PUT", "projects/*/environments/*/configs/*", api_config_set, DEVELOPER },
        { "DELETE", "projects/*/environments/*/configs/*", api_config_unset, DEVELOPER },
        { "GET", "projects/*/components/*/environments/*/configs", api_configs_list, VIEWER },
        { "PUT", "projects/*/components/*/environments/*/configs/*", api_config_set, DEVELOPER },
        { "DELETE", "projects/*/components/*/environments/*/configs/*", api_config_unset, DEVELOPER },
        { "GET", "projects/*/components/*/build-secrets", api_build_secrets_list, VIEWER },
        { "PUT", "projects/*/components/*/build-secrets/*", api_build_secret_set, DEVELOPER },
        { "DELETE", "projects/*/components/*/build-secrets/*", api_build_secret_unset, DEVELOPER },
        { "POST", "vault/rotate", api_vault_rotate, ADMIN },
        { "POST", "projects/*/components/*/builds", api_component_build, DEVELOPER },
        { "GET", "projects/*/components/*/builds", api_component_builds, VIEWER },
        { "GET", "projects/*/components/*/commits", api_component_commits, VIEWER },
        { "GET", "builds/*", api_build_show, VIEWER },
        { "DELETE", "builds/*", api_build_cancel, DEVELOPER },
        { "GET", "builds/*/logs", api_build_logs, VIEWER },
        { "GET", "builds/*/schemas/*", api_build_schema, VIEWER },
        { "GET", "builds/*/sbom", api_build_sbom, VIEWER },
        { "GET", "images/*/sbom", api_image_sbom, VIEWER },
        { "GET", "images/*/scan", api_image_scan, VIEWER },
        { "POST", "vulndb/import", api_vulndb_import, ADMIN },
        { "GET", "vulndb", api_vulndb_status, VIEWER },
        { "GET", "projects/*/components/*/webhook", api_component_webhook, VIEWER },
        { "POST", "projects/*/components/*/webhook/rotate", api_component_webhook_rotate, ADMIN },
        { "PUT", "projects/*/components/*/autobuild", api_component_switch, DEVELOPER },
        { "PUT", "projects/*/components/*/autodeploy", api_component_switch, DEVELOPER },
        { "POST", "tokens", api_token_create, DEVELOPER },
        { "GET", "tokens", api_tokens_list, VIEWER },
        { "DELETE", "tokens/*", api_token_revoke, DEVELOPER },
        { "GET", "users", api_users_list, ADMIN },
        { "POST", "users", api_user_add, ADMIN },
        { "DELETE", "users/*", api_user_remove, ADMIN },
        /* anyone's own; an admin's for anyone (the handler checks) */
        { "PUT", "users/*/password", api_user_passwd, VIEWER },
        /* the login needs no credentials (the dispatcher runs it without); GET and DELETE need a session */
        { "POST", "session", api_session_create, VIEWER },
        { "GET", "session", api_session_show, VIEWER },
        { "DELETE", "session", api_session_delete, VIEWER },
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
