/* POST /hooks/git/<id>: a git server's webhook delivery turned into a queued build of the component the id
 * belongs to.  Invariants: nothing is read past HOOK_BODY_MAX, nothing is parsed or written before the
 * delivery's signature (or GitLab token) matched the component's secret, a component without a secret
 * accepts nothing, and a delivery id is built at most once.  No git work here: the handler writes the build
 * row and wakes the pipeline, so it answers in milliseconds.  (Here and not in web/hooks, which stays a
 * library without HTTP server or database, because it is an ApiContext handler like the /api/v1 ones.) */
#include "api-hooks.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "build-db.h"
#include "hook-payload.h"
#include "hook-signature.h"
#include "http-response.h"
#include "json-util.h"
#include "log.h"
#include "sqlite-util.h"

/* Bytes of a commit subject kept from a payload (longer ones are cut at a UTF-8 boundary), as the pipeline
 * keeps them from git. */
#define HOOK_SUBJECT_MAX 1024U

#define HOOK_URL_HINT "Copy the URL and secret from 'slipway webhook show PROJECT/COMPONENT'."

const HttpRoute hook_routes[] = {
        { "POST", "git/*", api_hook_git, HTTP_ROLE_VIEWER }, /* no caller: the signature is checked */
};
const size_t hook_routes_n = ELEMENTSOF(hook_routes);

static const char *conn_header(const void *userdata, const char *name) {
        return mg_get_header((const struct mg_connection *) userdata, name);
}

/* The first line of message, without trailing white space, at most HOOK_SUBJECT_MAX bytes. */
static char *commit_subject(const char *message) {
        size_t n;

        if (!message)
                return NULL;
        n = strcspn(message, "\r\n");
        if (n > HOOK_SUBJECT_MAX) {
                n = HOOK_SUBJECT_MAX;
                while (n > 0 && ((unsigned char) message[n] & 0xC0) == 0x80)
                        n--;
        }
        while (n > 0 && strchr(" \t", message[n - 1]))
                n--;
        return strndup(message, n);
}

/* {"built": false, "reason": …} with 202: accepted, and nothing to do. */
static int reply_not_built(HttpRequest *req, const char *event, const char *reason) {
        return http_reply_json(req->conn, 202,
                               json_pack("{s:b,s:s,s:s}", "built", false, "event", event, "reason", reason));
}

/* Why push does not build c (one sentence into buf), or "" when it does. */
static void push_refusal(const HookPush *push, const ModelComponent *c, const char *branch, char *buf,
                         size_t size) {
        const char *pc_project = c->project_name, *pc = c->name;

        buf[0] = 0;
        if (push->event == HOOK_EVENT_TAG_PUSH)
                snprintf(buf, size, "The push is of tag %s; %s/%s builds branch %s.", push->tag ?: push->ref,
                         pc_project, pc, branch);
        else if (!push->branch)
                snprintf(buf, size, "The push is to %s, which is not a branch; %s/%s builds branch %s.",
                         push->ref, pc_project, pc, branch);
        else if (!streq(push->branch, branch))
                snprintf(buf, size, "The push is to branch %s; %s/%s builds branch %s.", push->branch,
                         pc_project, pc, branch);
        else if (push->deleted)
                snprintf(buf, size, "The push deleted branch %s; there is nothing to build.", push->branch);
        else if (!c->autobuild)
                snprintf(buf, size, "autobuild is off for %s/%s; run 'slipway autobuild %s/%s on'.",
                         pc_project, pc, pc_project, pc);
}

/* Reads the delivery's body: 413 past HOOK_BODY_MAX (by its Content-Length before a byte is read, else
 * once the limit is passed), 400 when it ends early. */
static int read_delivery(HttpRequest *req, char **ret, size_t *ret_size) {
        int r = http_read_body(req->conn, HOOK_BODY_MAX, ret, ret_size);

        if (r == -EFBIG) {
                http_reply_error(req->conn, 413,
                                 "The webhook delivery is larger than 4 MiB, the most Slipway accepts.",
                                 "Send push events only; a push of many commits is still far below it.");
                return api_replied(req, 413, r);
        }
        if (r < 0) {
                http_reply_error(req->conn, 400, "The webhook delivery ended before its Content-Length.",
                                 "Send the delivery again from the git server's webhook settings.");
                return api_replied(req, 400, r);
        }
        return 0;
}

/* 401 with why the delivery is not authentic; ret_error's sentence never holds the secret. */
static int reply_unauthorized(HttpRequest *req, const char *message) {
        return http_reply_error(req->conn, 401, message, HOOK_URL_HINT);
}

/* The component's webhook secret; has answered (401 or 500) on failure. */
static int hook_secret(HttpRequest *req, sqlite3 *db, int64_t component_id, uint8_t **ret,
                       size_t *ret_size) {
        ApiContext *ctx = req->userdata;
        int r;

        if (!ctx->vault) {
                http_reply_error(req->conn, 503, "This daemon has no vault, so it cannot verify webhooks.",
                                 "Start slipwayd with its state directory.");
                return api_replied(req, 503, -ENXIO);
        }
        r = vault_component_secret_get(ctx->vault, db, component_id, VAULT_SECRET_WEBHOOK, ret, ret_size);
        if (r == -ENOENT) {
                reply_unauthorized(req, "This webhook has no secret, so no delivery to it can be verified.");
                return api_replied(req, 401, r);
        }
        if (r < 0)
                return api_replied(req, api_reply_error(req, r, NULL, "Cannot read the webhook secret"), r);
        return 0;
}

/* Queues the build of push (already checked to be one) and answers 202, or 200 for a delivery seen before. */
static int hook_build(HttpRequest *req, sqlite3 *db, const ModelComponent *c, const PipelineSource *src,
                      const HookPush *push) {
        ApiContext *ctx = req->userdata;
        _cleanup_free_ char *settings = NULL, *hash = NULL, *by = NULL, *subject = NULL, *author = NULL;
        _cleanup_(model_build_done) ModelBuild build = {};
        const char *provider = hook_provider_to_string(push->provider);
        bool existing = false;
        int64_t build_id = 0;
        int r;

        if (!ctx->pipeline)
                return http_reply_error(req->conn, 503, "This daemon cannot build from git right now.",
                                        "See slipwayd's log: its build pipeline did not start.");
        r = pipeline_settings(src, &settings, &hash);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot read the component's build settings");
        if (asprintf(&by, "webhook:%s%s%s", provider, push->pusher ? ":" : "", push->pusher ?: "") < 0)
                return http_reply_error(req->conn, 500, "Out of memory.", NULL);
        subject = commit_subject(push->commit_message);
        if (push->commit_author_name &&
            asprintf(&author, "%s <%s>", push->commit_author_name, push->commit_author_email ?: "") < 0)
                return http_reply_error(req->conn, 500, "Out of memory.", NULL);

        ModelBuildNew nb = {
                .component_id = c->id,
                .commit_sha = push->after,
                .branch = push->branch,
                .settings = settings,
                .settings_hash = hash,
                .trigger = MODEL_BUILD_TRIGGER_WEBHOOK,
                .requested_by = by,
                .deploy = false, /* the pipeline deploys by itself when the component's autodeploy is on */
                .commit_subject = subject,
                .commit_author = author,
                .steps = pipeline_steps,
        };
        if (push->delivery_id)
                r = model_webhook_delivery_build(db, push->delivery_id, &nb, &build, &existing, &build_id);
        else
                r = model_build_create(db, &nb, &build, &existing);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot queue the build");
        if (push->delivery_id && r == 0) {
                log_info("Webhook %s delivery %s for %s/%s was seen before; not building again.", provider,
                         push->delivery_id, c->project_name, c->name);
                return http_reply_json(req->conn, 200,
                                       json_pack("{s:b,s:b,s:o,s:s}", "built", false, "duplicate", true,
                                                 "build",
                                                 build_id > 0 ? json_integer(build_id) : json_null(),
                                                 "commit", push->after));
        }
        if (!existing)
                pipeline_wake(ctx->pipeline);
        log_info("Webhook %s: push of %s/%s branch %s at %s → build %" PRIi64 "%s.", provider,
                 c->project_name, c->name, push->branch, push->after, build.id,
                 existing ? " (already queued or built)" : "");
        return http_reply_json(req->conn, 202,
                               json_pack("{s:b,s:I,s:b,s:s,s:s}", "built", true, "build",
                                         (json_int_t) build.id, "existing", existing, "commit", push->after,
                                         "event", "push"));
}

int api_hook_git(HttpRequest *req) {
        const struct mg_request_info *ri = mg_get_request_info(req->conn);
        HookHeaders headers = { conn_header, req->conn };
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(model_component_done) ModelComponent c = {};
        _cleanup_(pipeline_source_done) PipelineSource src = {};
        _cleanup_(hook_push_freep) HookPush *push = NULL;
        _cleanup_free_ char *body = NULL, *error = NULL;
        uint8_t *secret = NULL;
        size_t size = 0, secret_size = 0;
        HookProvider provider;
        int64_t component_id;
        char reason[1024];
        int r;

        /* The cheapest refusal first: a declared size past the limit, before anything is looked up. */
        if (ri->content_length > 0 && (uint64_t) ri->content_length > HOOK_BODY_MAX)
                return http_reply_error(
                        req->conn, 413,
                        "The webhook delivery is larger than 4 MiB, the most Slipway accepts.",
                        "Send push events only; a push of many commits is still far below it.");
        if (req->n_segments != 2)
                return http_reply_error(req->conn, 404, "Unknown webhook path.", HOOK_URL_HINT);
        if (api_model_open(req, &db) < 0)
                return req->status;
        r = model_webhook_lookup(db, req->segments[1], &component_id);
        if (r == -ENOENT)
                return http_reply_error(req->conn, 404, "No webhook with this id.", HOOK_URL_HINT);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot look up the webhook");
        if (read_delivery(req, &body, &size) < 0)
                return req->status;

        r = hook_provider_detect(&headers, &provider, &error);
        if (r < 0)
                return http_reply_error(req->conn, 400, error ?: "The request is not a webhook delivery.",
                                        "Point a GitHub, Gitea, Forgejo or GitLab webhook at this URL.");
        if (hook_secret(req, db, component_id, &secret, &secret_size) < 0)
                return req->status;
        r = hook_signature_verify(provider, &headers, body, size, (const char *) secret, &error);
        vault_secret_free(secret, secret_size);
        if (r == -ENOKEY || r == -EACCES) {
                log_info("Webhook delivery to hook of component %" PRIi64 " refused: %s", component_id,
                         error ?: "not authentic");
                return reply_unauthorized(req, error ?: "The delivery's signature does not match.");
        }
        if (r < 0)
                return http_reply_error(req->conn, 400, error ?: "The delivery cannot be verified.",
                                        "Point a GitHub, Gitea, Forgejo or GitLab webhook at this URL.");

        r = hook_push_parse(provider, &headers, body, size, &push, &error);
        if (r == -EBADMSG)
                return http_reply_error(req->conn, 400, error ?: "The delivery is not a push payload.",
                                        "Send push events with content type application/json.");
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot read the delivery");
        if (push->event == HOOK_EVENT_PING)
                return http_reply_json(req->conn, 200, json_pack("{s:b,s:s}", "ok", true, "event", "ping"));
        if (push->event == HOOK_EVENT_OTHER) {
                snprintf(reason, sizeof reason, "The %s event does not build; only pushes do.",
                         push->event_name ?: "other");
                return reply_not_built(req, push->event_name ?: "other", reason);
        }

        r = model_component_get_by_id(db, component_id, &c);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot look up the webhook's component");
        if (!c.source || pipeline_source_parse(c.source, &src) < 0)
                return reply_not_built(req, hook_event_to_string(push->event),
                                       "The component is no longer built from git.");
        push_refusal(push, &c, src.branch, reason, sizeof reason);
        if (reason[0])
                return reply_not_built(req, hook_event_to_string(push->event), reason);
        return hook_build(req, db, &c, &src, push);
}
