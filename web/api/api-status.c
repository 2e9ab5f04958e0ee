/* GET /api/v1/status: who is serving, counts of what it manages, and the disk holding the state dir. */
#include "api.h"

#include "disk-space.h"

#include "http-response.h"
#include "instance-setup.h"
#include "json-util.h"
#include "proxy-sync.h"
#include "sqlite-util.h"

/* "health": {"status": "ok"|"degraded", "reason", "checked_at" (seconds, null before the first check),
 * "nft_table"}, from the engine's reconcile pass. */
static int status_health(ApiContext *ctx, json_t *j) {
        _cleanup_free_ char *reason = NULL;
        uint64_t at = 0;
        json_t *h;
        int r = 0;

        if (ctx->health) {
                r = ctx->health(__atomic_load_n(&ctx->health_userdata, __ATOMIC_ACQUIRE), &reason, &at);
                if (r < 0)
                        return r;
        }
        h = json_pack("{s:s,s:s?,s:o,s:s?}", "status", r > 0 ? "degraded" : "ok", "reason", reason,
                      "checked_at", at ? json_integer((json_int_t) (at / 1000000U)) : json_null(),
                      "nft_table", ctx->nft_table);
        if (!h || json_object_set_new(j, "health", h) < 0)
                return -ENOMEM;
        return 0;
}

int api_status(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_json_ json_t *j = NULL;
        const char *why_not = NULL;
        bool userns;
        uint64_t images = 0;
        unsigned projects = 0, instances = 0;
        int r;

        r = image_catalog_count(ctx->catalog, &images);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot count images");
        if (ctx->db_path) {
                _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;

                r = sqlite_open(ctx->db_path, &db);
                if (r >= 0)
                        r = model_count(db, "projects", &projects);
                if (r >= 0)
                        r = model_count_live_instances(db, &instances);
                if (r < 0)
                        return api_reply_error(req, r, NULL, "Cannot count projects and instances");
        }

        userns = instance_setup_userns_enabled(ctx->state_dir, &why_not);
        j = json_pack("{s:{s:s,s:I,s:s,s:s},s:{s:b},s:I,s:I,s:I}", "daemon", "version", SLIPWAY_VERSION,
                      "pid", (json_int_t) ctx->pid, "state_dir", ctx->state_dir, "api", ctx->api_url,
                      "proxy", "running", proxy_sync_running(ctx->state_dir) > 0, "projects",
                      (json_int_t) projects, "instances", (json_int_t) instances, "images",
                      (json_int_t) images);
        if (!j || json_object_set_new(j, "user_namespaces",
                                      json_pack("{s:b,s:s?}", "enabled", userns, "reason", why_not)) < 0)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot build the status");
        r = status_health(ctx, j);
        if (r >= 0 && ctx->state_dir) {
                /* "disk": the filesystem of the state dir (the console's status page). */
                DiskSpace ds;
                if (disk_space_query(ctx->state_dir, &ds) >= 0 &&
                    json_object_set_new(j, "disk",
                                        json_pack("{s:s,s:I,s:I}", "mount", ds.mount, "total_bytes",
                                                  (json_int_t) ds.total, "free_bytes",
                                                  (json_int_t) ds.free)) < 0)
                        r = -ENOMEM;
        }
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot build the status");
        return http_reply_json(req->conn, 200, j);
}
