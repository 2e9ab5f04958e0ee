/* Promotion approvals: GET approvals[?all=1], GET approvals/ID, POST approvals/ID/approve and
 * POST approvals/ID/reject {"reason": TEXT?}, and the hold a developer's promotion into a protected
 * environment becomes.  Invariant: an approval runs exactly what was requested (its image digest, promoted
 * from its source release) with the target's values at approval time, and the request is marked approved
 * in the very transaction that writes that release; only an admin decides, and only once. */
#include "api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http-json-body.h"
#include "http-response.h"
#include "json-util.h"
#include "log.h"
#include "sqlite-util.h"

#define APPROVAL_BODY_MAX (8U * 1024U)
/* A rejection's reason, in bytes. */
#define APPROVAL_REASON_MAX 1000U

static const HttpJsonBody reject_body = {
        .what = "reject request",
        .max = APPROVAL_BODY_MAX,
        .fields = (const char *const[]) { "reason", NULL },
        .example = "Send {} or {\"reason\": \"not before the release notes are out\"}.",
};

static json_t *approval_json(const ModelApproval *a) {
        json_t *j =
                json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:I,s:s}", "id", (json_int_t) a->id, "project",
                          a->project_name, "component", a->component_name, "from", a->from_environment, "to",
                          a->to_environment, "image_digest", a->image_digest, "source_release_id",
                          (json_int_t) a->source_release_id, "requested_by", a->requested_by, "requested_at",
                          (json_int_t) a->requested_at, "status", a->status);
        if (!j)
                return NULL;
        if (json_object_set_new(j, "decided_by", a->decided_by ? json_string(a->decided_by) : json_null()) <
                    0 ||
            json_object_set_new(j, "decided_at", a->decided_at ? json_integer(a->decided_at) : json_null()) <
                    0 ||
            json_object_set_new(j, "reason", a->reason ? json_string(a->reason) : json_null()) < 0 ||
            json_object_set_new(j, "release_id", a->release_id ? json_integer(a->release_id) : json_null()) <
                    0 ||
            json_object_set_new(j, "release_status",
                                a->release_status ? json_string(a->release_status) : json_null()) < 0)
                return json_decref(j), NULL;
        return j;
}

static int reply_approval(HttpRequest *req, int status, const ModelApproval *a, const char *extra_key,
                          json_t *extra) {
        _cleanup_json_ json_t *j = approval_json(a);

        if (!j || (extra_key && json_object_set(j, extra_key, extra) < 0))
                return api_reply_error(req, -ENOMEM, NULL, "Cannot describe the approval request");
        return http_reply_json(req->conn, status, j);
}

int api_promotion_hold(HttpRequest *req, ApiScope *s, const ModelEnvironment *from,
                       const ModelRelease *live) {
        _cleanup_(release_refusal_done) ReleaseRefusal refusal = {};
        _cleanup_(model_approval_done) ModelApproval a = {};
        _cleanup_json_ json_t *j = NULL, *inner = NULL;
        bool existing = false;
        int r;

        if (req->role < HTTP_ROLE_DEVELOPER || !req->user)
                return http_reply_error(req->conn, 403, "Your role may not promote.",
                                        "Ask an admin or a developer to promote.");
        /* Refused now as a promotion would be, so nobody approves what cannot run; checked again at approval. */
        r = release_check(s->db, &s->component, &s->environment, s->component.spec,
                          MODEL_RELEASE_ORIGIN_PROMOTE, &refusal);
        if (r < 0)
                return api_reply_release_refusal(req, r, &refusal, "Cannot check the configurables");
        r = model_approval_request(s->db, s->component.id, from->id, s->environment.id, live->image_digest,
                                   live->id, req->user, &a, &existing);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot record the approval request");
        if (!existing)
                log_info("Promotion of %s/%s from %s to %s requested by %s waits for an admin's approval "
                         "(request %lld).",
                         s->project.name, s->component.name, from->name, s->environment.name, req->user,
                         (long long) a.id);
        inner = approval_json(&a);
        j = json_pack("{s:O,s:b}", "approval", inner ?: json_null(), "existing", existing);
        if (!inner || !j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot describe the approval request");
        return http_reply_json(req->conn, existing ? 200 : 202, j);
}

/* The request segments[1] names: 0 with *ret, or -errno after a 400/404 reply. */
static int approval_lookup(HttpRequest *req, sqlite3 *db, ModelApproval *ret) {
        char *end = NULL, msg[160];
        long long id;
        int r;

        errno = 0;
        id = strtoll(req->segments[1], &end, 10);
        if (errno || !end || *end || id <= 0)
                return api_replied(req,
                                   http_reply_error(req->conn, 400,
                                                    "An approval request id is a positive number.",
                                                    "See 'slipway approvals list'."),
                                   -EINVAL);
        r = model_approval_get(db, id, ret);
        if (r == -ENOENT) {
                snprintf(msg, sizeof msg, "There is no approval request %lld.", id);
                return api_replied(
                        req, http_reply_error(req->conn, 404, msg, "See 'slipway approvals list --all'."),
                        -ENOENT);
        }
        if (r < 0)
                return api_replied(req, api_reply_error(req, r, NULL, "Cannot read the approval request"),
                                   r);
        return 0;
}

static int need_admin(HttpRequest *req, const char *verb) {
        char msg[160];

        if (req->role == HTTP_ROLE_ADMIN)
                return 0;
        snprintf(msg, sizeof msg, "Only an admin may %s a promotion request.", verb);
        return api_replied(req,
                           http_reply_error(req->conn, 403, msg,
                                            "Ask an admin to decide it; 'slipway approvals list' shows it."),
                           -EPERM);
}

/* 409 for a request that is no longer pending. */
static int reply_decided(HttpRequest *req, const ModelApproval *a) {
        char msg[400], when[32] = "?";
        struct tm tm;
        time_t t = (time_t) a->decided_at;

        if (a->decided_at > 0 && gmtime_r(&t, &tm))
                strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
        snprintf(msg, sizeof msg,
                 "Approval request %lld was %s by %s at %s already; a request is decided once.",
                 (long long) a->id,
                 streq(a->status, MODEL_APPROVAL_FAILED) ? "approved, and failed," : a->status,
                 a->decided_by ?: "?", when);
        return http_reply_error(
                req->conn, 409, msg,
                "To promote that image again, ask for it anew: slipway promote PROJECT/COMPONENT "
                "FROM_ENV TO_ENV.");
}

int api_approvals_list(HttpRequest *req) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_json_ json_t *arr = json_array(), *j = NULL;
        ModelApproval *a = NULL;
        size_t n = 0;
        int r;

        if (!arr)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot list approval requests");
        if ((r = api_model_open(req, &db)) < 0)
                return req->status;
        r = model_approval_list(db, api_query_flag(req, "all"), &a, &n);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot list approval requests");
        for (size_t i = 0; i < n; i++)
                if (json_array_append_new(arr, approval_json(&a[i])) < 0) {
                        model_approvals_free(a, n);
                        return api_reply_error(req, -ENOMEM, NULL, "Cannot list approval requests");
                }
        model_approvals_free(a, n);
        j = json_pack("{s:O}", "approvals", arr);
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot list approval requests");
        return http_reply_json(req->conn, 200, j);
}

int api_approval_show(HttpRequest *req) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(model_approval_done) ModelApproval a = {};
        int r;

        if ((r = api_model_open(req, &db)) < 0)
                return req->status;
        if ((r = approval_lookup(req, db, &a)) < 0)
                return req->status;
        return reply_approval(req, 200, &a, NULL, NULL);
}

typedef struct ApproveInTransaction {
        int64_t approval_id;
        const char *user;
} ApproveInTransaction;

static int mark_approved(sqlite3 *db, int64_t release_id, void *userdata) {
        const ApproveInTransaction *t = userdata;
        return model_approval_decide(db, t->approval_id, MODEL_APPROVAL_APPROVED, t->user, NULL, release_id);
}

/* The rows an approval acts on: project, component and target environment, by the ids it recorded. */
static int approval_scope(HttpRequest *req, sqlite3 *db, const ModelApproval *a, ApiScope *s) {
        int r;

        s->db = db;
        r = model_project_get_by_id(db, a->project_id, &s->project);
        if (r >= 0)
                r = model_component_get_by_id(db, a->component_id, &s->component);
        if (r >= 0)
                r = model_environment_get_by_id(db, a->to_environment_id, &s->environment);
        if (r < 0)
                return api_replied(
                        req, api_reply_error(req, r, NULL, "Cannot read what the request promotes"), r);
        return 0;
}

/* A refusal at approval time: the request is marked failed with its sentence, and the refusal answered. */
static int approval_refused(HttpRequest *req, ApiScope *s, const ModelApproval *a, int r,
                            ReleaseRefusal *refusal) {
        _cleanup_free_ char *hint = NULL;
        int k;

        if ((r != -ENOKEY && r != -ESTALE) || !refusal->message)
                return api_reply_error(req, r, NULL, "Cannot create the release");
        k = model_approval_decide(s->db, a->id, MODEL_APPROVAL_FAILED, req->user, refusal->message, 0);
        if (k == -EALREADY) {
                _cleanup_(model_approval_done) ModelApproval now = {};
                if (model_approval_get(s->db, a->id, &now) >= 0)
                        return reply_decided(req, &now);
        }
        if (k < 0)
                return api_reply_error(req, k, NULL, "Cannot record the failed approval");
        if (asprintf(&hint,
                     "%s Request %lld is marked failed; once the values are set, ask again: slipway promote "
                     "%s/%s %s %s.",
                     refusal->hint ?: "", (long long) a->id, s->project.name, s->component.name,
                     a->from_environment, a->to_environment) >= 0) {
                free(refusal->hint);
                refusal->hint = TAKE_PTR(hint);
        }
        return api_reply_release_refusal(req, r, refusal, "Cannot create the release");
}

int api_approval_approve(HttpRequest *req) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(api_scope_done) ApiScope s = {};
        _cleanup_(model_approval_done) ModelApproval a = {}, done = {};
        _cleanup_(release_refusal_done) ReleaseRefusal refusal = {};
        _cleanup_json_ json_t *reply = NULL, *aj = NULL;
        ApproveInTransaction t;
        int64_t id = 0;
        int r;

        if ((r = need_admin(req, "approve")) < 0)
                return req->status;
        if ((r = api_model_open(req, &db)) < 0)
                return req->status;
        if ((r = approval_lookup(req, db, &a)) < 0)
                return req->status;
        if (!streq(a.status, MODEL_APPROVAL_PENDING))
                return reply_decided(req, &a);
        if ((r = approval_scope(req, TAKE_PTR(db), &a, &s)) < 0)
                return req->status;

        /* The digest recorded at request time, even if the source environment moved on since; the target's
         * values now; the component's current spec, as any promotion. */
        t = (ApproveInTransaction) { .approval_id = a.id, .user = req->user ?: "admin" };
        r = release_create_then(s.db, &s.component, &s.environment, a.image_digest, s.component.spec,
                                MODEL_RELEASE_ORIGIN_PROMOTE, a.source_release_id, NULL, 0, mark_approved,
                                &t, &id, &refusal);
        if (r == -EALREADY) {
                if (model_approval_get(s.db, a.id, &done) >= 0)
                        return reply_decided(req, &done);
                return api_reply_error(req, r, NULL, "Cannot read the approval request");
        }
        if (r < 0)
                return approval_refused(req, &s, &a, r, &refusal);
        model_deploy_log_appendf(
                s.db, id,
                "promotion of %s/%s from %s (release %lld) to %s requested by %s, approved by %s "
                "(request %lld, image %s)",
                s.project.name, s.component.name, a.from_environment, (long long) a.source_release_id,
                a.to_environment, a.requested_by, t.user, (long long) a.id, a.image_digest);
        if (api_release_created_json(req, &s, id, &reply) < 0)
                return req->status;
        if ((r = model_approval_get(s.db, a.id, &done)) < 0)
                return api_reply_error(req, r, NULL, "Cannot read the approval request back");
        aj = approval_json(&done);
        if (!aj || json_object_set(reply, "approval", aj) < 0)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot describe the approval request");
        return http_reply_json(req->conn, 202, reply);
}

int api_approval_reject(HttpRequest *req) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(model_approval_done) ModelApproval a = {}, done = {};
        _cleanup_json_ json_t *body = NULL;
        const char *reason = NULL;
        int r;

        if ((r = need_admin(req, "reject")) < 0)
                return req->status;
        if ((r = http_request_read_json(req, &reject_body, &body)) < 0)
                return req->status;
        if (!json_is_null(json_object_get(body, "reason")) &&
            json_get_string_opt(body, "reason", &reason) < 0)
                return http_reply_error(req->conn, 400, "\"reason\" must be a text.", reject_body.example);
        if (reason && strlen(reason) > APPROVAL_REASON_MAX)
                return http_reply_error(req->conn, 400, "The reason is longer than 1000 bytes.",
                                        "Say it in fewer words.");
        if (isempty(reason))
                reason = NULL;
        if ((r = api_model_open(req, &db)) < 0)
                return req->status;
        if ((r = approval_lookup(req, db, &a)) < 0)
                return req->status;
        r = model_approval_decide(db, a.id, MODEL_APPROVAL_REJECTED, req->user ?: "admin", reason, 0);
        if (r == -EALREADY) {
                if (model_approval_get(db, a.id, &done) >= 0)
                        return reply_decided(req, &done);
        }
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot reject the approval request");
        if ((r = model_approval_get(db, a.id, &done)) < 0)
                return api_reply_error(req, r, NULL, "Cannot read the approval request back");
        return reply_approval(req, 200, &done, NULL, NULL);
}
