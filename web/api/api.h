/* The /api/v1 handlers of slipwayd and the context they share.  Handlers validate input, call the
 * appliance layer and translate its errors into {"error","hint"} with the right HTTP status. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "api-scope.h"
#include "build-db.h"
#include "builder.h"
#include "host-share.h"
#include "http-login-throttle.h"
#include "http-server.h"
#include "image-catalog.h"
#include "model.h"
#include "pipeline.h"
#include "release-create.h"
#include "vault.h"

typedef struct ApiContext {
        ImageCatalog *catalog;
        OciStore *store;
        Builder *builder; /* NULL: builds are refused with 503 */
        const char *state_dir;
        const char *tmp_dir; /* uploads land here before import */
        const char *api_url;
        pid_t pid;
        /* Wakes the engine's event loop after an intent row was written (may be NULL). */
        void (*wake_engine)(void *userdata);
        void *wake_userdata;
        /* Issue 5: handlers open their own connection to this file per request (WAL, busy timeout). */
        const char *db_path;
        unsigned
                ingress_base_port; /* slipwayd --ingress-base-port, default MODEL_INGRESS_BASE_PORT_DEFAULT */
        const HostShare *host; /* this state dir's id and host-wide claims (allocation goes through it) */
        /* Tears down what runs for a project (instances, routes, networks) before its rows are deleted; set
         * by the deployer.  Called on a handler thread and may block until done; on failure ret_error says
         * what could not be removed.  NULL: `project delete --force` of a project with running instances is
         * refused with 501. */
        int (*teardown_project)(void *userdata, int64_t project_id, const char *project, char **ret_error);
        void *teardown_userdata;
        /* Re-applies isolation rules and routes after an environment's settings changed (same userdata as
         * teardown_project); ret_error: why it failed.  NULL: changes take effect at the next deploy. */
        int (*refresh_environment)(void *userdata, int64_t environment_id, char **ret_error);
        /* The engine's last host check: 0 ok, 1 degraded with *ret_reason (caller frees); ret_checked_usec
         * gets when it ran (0: not yet).  NULL: not checked, reported as ok. */
        int (*health)(void *userdata, char **ret_reason, uint64_t *ret_checked_usec);
        void *health_userdata;
        const char *nft_table; /* the nft table this state dir owns (NULL: unknown) */
        Vault *vault;          /* config values and secrets (thread-safe; owned by slipwayd) */
        Pipeline *pipeline;    /* git builds (NULL: builds are refused with 503) */
        /* The registry's upload sessions live in DIR/registry/uploads and expire after this many seconds
         * without a request (slipwayd --registry-upload-ttl; 0: REGISTRY_UPLOAD_TTL_DEFAULT_SEC). */
        int64_t registry_upload_ttl_sec;
        HttpTokenSet *tokens; /* the server's token set, changed by token create/revoke (NULL: refused) */
        /* The server's console sessions, changed by login, logout, user rm and passwd (NULL: no logins). */
        HttpSessionSet *sessions;
        HttpLoginThrottle *login_throttle; /* failed logins per user name and address (NULL: no logins) */
        int64_t session_lifetime_sec;      /* a session ends this long after login (0: the default) */
} ApiContext;

extern const HttpRoute api_routes[];
extern const size_t api_routes_n;

/* Sends err (when filled) or a generic message for r; returns the status sent.  A full disk (ENOSPC,
 * EDQUOT) from any layer is answered with api_reply_disk_full() instead. */
int api_reply_error(HttpRequest *req, int r, const OciError *err, const char *what);
/* 507 with which disk holds the state dir, how much of it is free and what to run. */
int api_reply_disk_full(HttpRequest *req);
/* Deletes (image rm, gc, project delete) must work on a full disk: when a delete failed with r for want of
 * space, api_delete_begin() releases the state dir's reserve and returns true, and the caller runs the delete
 * once more; api_delete_end() after any delete makes the reserve whole again once there is room. */
bool api_delete_begin(HttpRequest *req, int r);
void api_delete_end(HttpRequest *req);
/* Before a request that writes much (import, build): the reserve must be whole (made again when there is
 * room), else the request is answered 507, so that imports never take the room deletes need.  0, or -ENOSPC
 * after the reply (req->status). */
int api_disk_writable(HttpRequest *req);
/* An upload (api-upload.c): the request body streamed to a claimed DIR/tmp/<prefix>-XXXXXX, at most max
 * bytes, after api_disk_writable().  On failure the reply is sent (507, 413, 400 for a cut or empty body,
 * else the error) and -errno returned with req->status set; on success the caller owns *ret_path (remove
 * it with _cleanup_(api_upload_unlinkp)) and *ret_fd. */
typedef struct ApiUpload {
        const char *prefix;
        uint64_t max;
        const char *too_large, *too_large_hint; /* the 413 */
        const char *retry_hint;                 /* a body cut short */
        const char *empty_hint;                 /* an empty body */
} ApiUpload;
int api_upload_to_temp(HttpRequest *req, const ApiUpload *u, char **ret_path, int *ret_fd,
                       uint64_t *ret_size);
void api_upload_unlinkp(char **p);

/* For helpers that have sent an error reply: records its HTTP status in req->status and returns error
 * (a -errno), so statuses never travel in the errno channel. */
static inline int api_replied(HttpRequest *req, int status, int error) {
        req->status = status;
        return error;
}

/* Handlers, one file per area. */
int api_status(HttpRequest *req);
int api_images_list(HttpRequest *req);
int api_image_inspect(HttpRequest *req);
int api_image_remove(HttpRequest *req);
int api_image_import(HttpRequest *req);
int api_image_export(HttpRequest *req);
int api_images_gc(HttpRequest *req);
int api_image_unpack(HttpRequest *req);
int api_image_build(HttpRequest *req);
int api_image_build_cancel(HttpRequest *req);
int api_projects_list(HttpRequest *req);
int api_project_create(HttpRequest *req);
int api_project_show(HttpRequest *req);
int api_project_delete(HttpRequest *req);
/* PATCH projects/P {"push_to": REGISTRY|null, "scan_fail_on": "critical"|"high"|"none"} (api-projects.c). */
int api_project_update(HttpRequest *req);
/* Registries you own, for the push step (api-registries.c; routes and bodies in its opening comment). */
int api_registries_list(HttpRequest *req);
int api_registry_add(HttpRequest *req);
int api_registry_show(HttpRequest *req);
int api_registry_remove(HttpRequest *req);
int api_environments_list(HttpRequest *req);
int api_environment_create(HttpRequest *req);
int api_environment_update(HttpRequest *req);
int api_components_list(HttpRequest *req);
int api_component_create(HttpRequest *req);
int api_component_show(HttpRequest *req);
int api_component_update(HttpRequest *req);
int api_component_releases(HttpRequest *req);
int api_component_url(HttpRequest *req);
int api_component_logs(HttpRequest *req);
int api_component_deploy(HttpRequest *req);
int api_component_promote(HttpRequest *req);
int api_component_rollback(HttpRequest *req);
int api_release_show(HttpRequest *req);
/* Promotion approvals (api-approvals.c; routes and bodies in its opening comment). */
int api_approvals_list(HttpRequest *req);
int api_approval_show(HttpRequest *req);
int api_approval_approve(HttpRequest *req);
int api_approval_reject(HttpRequest *req);
/* A promotion by a developer into a protected environment (s->environment): after the configurables check
 * (refused as a promotion is), records a request for an admin instead of a release and answers 202 with it
 * ({"approval": {…}}; 200 with "existing": true when an identical one is pending).  Returns the status. */
int api_promotion_hold(HttpRequest *req, ApiScope *s, const ModelEnvironment *from,
                       const ModelRelease *live);
/* Config values and the vault (api-config.c; routes and bodies in its opening comment). */
int api_configs_list(HttpRequest *req);
int api_config_set(HttpRequest *req);
int api_config_unset(HttpRequest *req);
/* The value a set request's body carries ("value" or "value_base64"), decoded into *ret (malloc'ed, wiped by
 * the caller); a 400 with hint when there is not exactly one of them or it does not decode. */
int api_config_body_value(HttpRequest *req, json_t *body, const char *key, const char *hint, uint8_t **ret,
                          size_t *ret_size);
/* A component's build secrets (api-build-secrets.c; routes and bodies in its opening comment). */
int api_build_secrets_list(HttpRequest *req);
int api_build_secret_set(HttpRequest *req);
int api_build_secret_unset(HttpRequest *req);
int api_vault_rotate(HttpRequest *req);
/* A git component's webhook (id, URL, secret) and its autobuild/autodeploy switches (api-webhook.c). */
int api_component_webhook(HttpRequest *req);
int api_component_webhook_rotate(HttpRequest *req);
int api_component_switch(HttpRequest *req);
/* {"id","environment","image_digest","status","reason","created_at","finished_at"} (api-deploy.c). */
json_t *api_release_json(const ModelRelease *rel);
/* Adds what needs the database to a release's JSON: "values" (the pinned value versions, [{"key",
 * "version", "secret", "project_wide", "file_path"}], never a value) and "source_environment" (of the
 * release it was promoted from or rolled back to; null when none or pruned). */
int api_release_json_details(sqlite3 *db, const ModelRelease *rel, json_t *j);
/* A release_create() failure: 409 {"error", "hint", "missing": [names]} for a refusal (-ENOKEY, -ESTALE),
 * else as api_reply_error(). */
int api_reply_release_refusal(HttpRequest *req, int r, ReleaseRefusal *refusal, const char *what);
/* After release_create(): wakes the engine and answers 202 with the release (and "project", "component"). */
int api_reply_release_created(HttpRequest *req, ApiScope *s, int64_t id);
/* The same reply's body, not sent: 0 with *ret, or -errno after an error reply (req->status). */
int api_release_created_json(HttpRequest *req, ApiScope *s, int64_t id, json_t **ret);
/* {"id","address","netns","state","restarts"} (api-deploy.c). */
json_t *api_instance_json(const ModelInstance *inst);

/* An environment as the API shows it (api-projects.c). */
json_t *api_environment_json(const ModelEnvironment *e);
/* slipwayd stopping: cancels every running build and waits (at most timeout_usec) until each client has got
 * its final line; civetweb drops writes once it is stopping. */
void api_builds_stop(uint64_t timeout_usec);
/* slipwayd stopping: ends every `logs --follow` stream within a poll interval (call before stopping the
 * server, which waits for handlers). */
void api_logs_stop(void);
/* True once api_logs_stop() ran: every follow stream (instance logs, build logs) ends. */
bool api_logs_stopping(void);

/* Builds of git components (api-builds.c; routes and bodies in its opening comment). */
int api_component_build(HttpRequest *req);
int api_component_builds(HttpRequest *req);
int api_component_commits(HttpRequest *req);
int api_build_show(HttpRequest *req);
int api_build_cancel(HttpRequest *req);
int api_build_logs(HttpRequest *req);
int api_build_schema(HttpRequest *req);
int api_build_sbom(HttpRequest *req);
/* GET images/REF/sbom: the SBOM of any stored image (api-images.c). */
int api_image_sbom(HttpRequest *req);
int api_image_scan(HttpRequest *req);
/* The offline vulnerability database (api-vulndb.c). */
int api_vulndb_import(HttpRequest *req);
int api_vulndb_status(HttpRequest *req);
/* The calling user's API tokens (api-tokens.c; routes and bodies in its opening comment). */
int api_token_create(HttpRequest *req);
int api_tokens_list(HttpRequest *req);
int api_token_revoke(HttpRequest *req);
/* Users and their passwords (api-users.c; routes and bodies in its opening comment). */
int api_users_list(HttpRequest *req);
int api_user_add(HttpRequest *req);
int api_user_remove(HttpRequest *req);
int api_user_passwd(HttpRequest *req);
/* The console login (api-session.c; routes and bodies in its opening comment). */
int api_session_create(HttpRequest *req);
int api_session_show(HttpRequest *req);
int api_session_delete(HttpRequest *req);
/* Puts every open session row of db into set, after removing the ended ones (at slipwayd's start). */
int api_sessions_load(sqlite3 *db, HttpSessionSet *set, size_t *ret_n);
/* HttpServerConfig.session_used with the ApiContext as userdata: writes the session's last use back. */
void api_session_used(void *userdata, int64_t session_id, int64_t when);
/* Puts every token row of db into set (at slipwayd's start); *ret_n (may be NULL): how many. */
int api_tokens_load(sqlite3 *db, HttpTokenSet *set, size_t *ret_n);
/* HttpServerConfig.token_used with the ApiContext as userdata: writes the token's last use back. */
void api_token_used(void *userdata, int64_t token_id, int64_t when);
/* A build as the API shows it; with db, also its "steps". */
json_t *api_build_json(sqlite3 *db, const ModelBuild *b);
