/* POST …/components/C/promote {"from": E1, "to": E2?} and POST …/components/C/rollback {"env": E, "to": ID?}:
 * releases made from another release.  A promotion runs the exact image digest live in E1 with E2's own
 * values and the component's current spec; a rollback runs an earlier release's digest, spec and exactly
 * the value versions it pinned.  Every refusal is one sentence and creates nothing (release_create).  A
 * developer's promotion into a protected environment becomes an approval request instead. */
#include "api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http-json-body.h"
#include "http-response.h"
#include "json-util.h"
#include "release-values-db.h"

#define RELEASE_ACTION_BODY_MAX (4U * 1024U)

static const HttpJsonBody promote_body = {
        .what = "promote request",
        .max = RELEASE_ACTION_BODY_MAX,
        .fields = (const char *const[]) { "from", "to", NULL },
        .example = "Send {\"from\": \"development\", \"to\": \"production\"} (\"to\" defaults to the next "
                   "environment).",
};

static const HttpJsonBody rollback_body = {
        .what = "rollback request",
        .max = RELEASE_ACTION_BODY_MAX,
        .fields = (const char *const[]) { "env", "to", NULL },
        .example = "Send {\"env\": \"production\"} or {\"env\": \"production\", \"to\": RELEASE_ID}.",
};

static int action_scope(HttpRequest *req, ApiScope *s) {
        if (api_check_name(req, "project", req->segments[1]) < 0 ||
            api_check_name(req, "component", req->segments[3]) < 0)
                return api_replied(req, 400, -EINVAL);
        return api_scope_component(req, NULL, s);
}

static int lookup_env(HttpRequest *req, ApiScope *s, const char *name, ModelEnvironment *ret) {
        if (api_check_name(req, "environment", name) < 0)
                return api_replied(req, 400, -EINVAL);
        return api_environment_lookup(req, s->db, &s->project, name, ret);
}

int api_component_promote(HttpRequest *req) {
        _cleanup_(api_scope_done) ApiScope s = {};
        _cleanup_(model_environment_done) ModelEnvironment from = {};
        _cleanup_(model_release_done) ModelRelease live = {};
        _cleanup_(release_refusal_done) ReleaseRefusal refusal = {};
        _cleanup_json_ json_t *body = NULL;
        const char *from_name = NULL, *to_name = NULL;
        ModelEnvironment *envs = NULL;
        char msg[512], hint[512];
        size_t n = 0;
        int64_t id;
        int r;

        if ((r = http_request_read_json(req, &promote_body, &body)) < 0)
                return req->status;
        if (json_get_string(body, "from", &from_name) < 0 || isempty(from_name))
                return http_reply_error(req->conn, 400,
                                        "The promote request names no environment to promote from.",
                                        promote_body.example);
        if (!json_is_null(json_object_get(body, "to")) && json_get_string_opt(body, "to", &to_name) < 0)
                return http_reply_error(req->conn, 400, "\"to\" must be an environment name.",
                                        promote_body.example);
        if ((r = action_scope(req, &s)) < 0)
                return req->status;
        if ((r = lookup_env(req, &s, from_name, &from)) < 0)
                return req->status;
        if (to_name && (r = lookup_env(req, &s, to_name, &s.environment)) < 0)
                return req->status;

        r = model_environment_list(s.db, s.project.id, &envs, &n);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot list the environments");
        if (!to_name) {
                /* The next environment in promotion order. */
                size_t k;
                for (k = 0; k < n && envs[k].position <= from.position; k++)
                        ;
                if (k == n) {
                        model_environments_free(envs, n);
                        snprintf(msg, sizeof msg,
                                 "%s is the last environment of %s; there is no next one to promote to.",
                                 from.name, s.project.name);
                        return http_reply_error(req->conn, 400, msg,
                                                "Name the target environment, or add one after it with "
                                                "'slipway env create PROJECT ENV --after ENV'.");
                }
                r = model_environment_get_by_id(s.db, envs[k].id, &s.environment);
                if (r < 0) {
                        model_environments_free(envs, n);
                        return api_reply_error(req, r, NULL, "Cannot read the environment");
                }
        }
        model_environments_free(envs, n);
        if (s.environment.position <= from.position) {
                snprintf(msg, sizeof msg,
                         "Promotion goes forward only: %s does not come after %s in %s's promotion order.",
                         s.environment.name, from.name, s.project.name);
                snprintf(
                        hint, sizeof hint,
                        "Promote to a later environment (see 'slipway env list %s'), or deploy to %s directly.",
                        s.project.name, s.environment.name);
                return http_reply_error(req->conn, 400, msg, hint);
        }
        r = model_release_get_live(s.db, s.component.id, from.id, &live);
        if (r == -ENOENT) {
                snprintf(msg, sizeof msg, "Nothing of %s/%s is live in %s, so there is nothing to promote.",
                         s.project.name, s.component.name, from.name);
                snprintf(hint, sizeof hint, "Deploy to %s first: slipway deploy %s/%s %s.", from.name,
                         s.project.name, s.component.name, from.name);
                return http_reply_error(req->conn, 409, msg, hint);
        }
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot read the live release");

        /* A developer's promotion into a protected environment waits for an admin (api-approvals.c). */
        if (s.environment.is_protected && req->role != HTTP_ROLE_ADMIN)
                return api_promotion_hold(req, &s, &from, &live);

        /* The very image that runs in FROM; TO's values; the component's current spec (as a deploy). */
        r = release_create(s.db, &s.component, &s.environment, live.image_digest, s.component.spec,
                           MODEL_RELEASE_ORIGIN_PROMOTE, live.id, NULL, 0, &id, &refusal);
        if (r < 0)
                return api_reply_release_refusal(req, r, &refusal, "Cannot create the release");
        model_deploy_log_appendf(s.db, id,
                                 "promotion of %s/%s from %s (release %lld) to %s requested (image %s)",
                                 s.project.name, s.component.name, from.name, (long long) live.id,
                                 s.environment.name, live.image_digest);
        return api_reply_release_created(req, &s, id);
}

/* The release a rollback goes back to: "to", or the last one live before the live one. */
static int rollback_target(HttpRequest *req, ApiScope *s, json_t *to, ModelRelease *ret) {
        _cleanup_(model_release_done) ModelRelease live = {}, rel = {};
        char msg[512], hint[512];
        bool has_live;
        int r;

        r = model_release_get_live(s->db, s->component.id, s->environment.id, &live);
        if (r < 0 && r != -ENOENT)
                return api_replied(req, api_reply_error(req, r, NULL, "Cannot read the live release"), r);
        has_live = r >= 0;
        snprintf(hint, sizeof hint, "See 'slipway releases %s/%s %s' and give --to RELEASE.",
                 s->project.name, s->component.name, s->environment.name);
        if (!to) {
                if (!has_live) {
                        snprintf(
                                msg, sizeof msg,
                                "Nothing of %s/%s is live in %s, so there is no release before it to roll back to.",
                                s->project.name, s->component.name, s->environment.name);
                        return api_replied(req, http_reply_error(req->conn, 409, msg, hint), -ENOENT);
                }
                r = model_release_get_previous_live(s->db, s->component.id, s->environment.id, live.id,
                                                    &rel);
                if (r == -ENOENT) {
                        snprintf(
                                msg, sizeof msg,
                                "No release of %s/%s in %s was live before release %lld, so there is nothing "
                                "to roll back to.",
                                s->project.name, s->component.name, s->environment.name,
                                (long long) live.id);
                        return api_replied(req, http_reply_error(req->conn, 409, msg, hint), -ENOENT);
                }
                if (r < 0)
                        return api_replied(req, api_reply_error(req, r, NULL, "Cannot read the releases"),
                                           r);
                *ret = rel;
                rel = (ModelRelease) {};
                return 0;
        }
        r = model_release_get(s->db, json_integer_value(to), &rel);
        if (r == -ENOENT || (r >= 0 && rel.component_id != s->component.id)) {
                snprintf(msg, sizeof msg, "%s/%s has no release %lld.", s->project.name, s->component.name,
                         (long long) json_integer_value(to));
                return api_replied(req, http_reply_error(req->conn, 404, msg, hint), -ENOENT);
        }
        if (r < 0)
                return api_replied(req, api_reply_error(req, r, NULL, "Cannot read the release"), r);
        if (rel.environment_id != s->environment.id) {
                snprintf(msg, sizeof msg,
                         "Release %lld was made for %s, not %s; a rollback stays in one environment.",
                         (long long) rel.id, rel.environment_name, s->environment.name);
                snprintf(hint, sizeof hint,
                         "Roll back to a release of %s, or promote: slipway promote %s/%s %s %s.",
                         s->environment.name, s->project.name, s->component.name, rel.environment_name,
                         s->environment.name);
                return api_replied(req, http_reply_error(req->conn, 400, msg, hint), -EINVAL);
        }
        if (has_live && rel.id == live.id) {
                snprintf(msg, sizeof msg, "Release %lld is the one live in %s already.", (long long) rel.id,
                         s->environment.name);
                return api_replied(req, http_reply_error(req->conn, 409, msg, hint), -EALREADY);
        }
        if (!streq(rel.status, MODEL_RELEASE_SUPERSEDED)) {
                snprintf(
                        msg, sizeof msg,
                        "Release %lld is %s, not one that was live and then replaced; a rollback goes back to "
                        "a release that ran.",
                        (long long) rel.id, rel.status);
                return api_replied(req, http_reply_error(req->conn, 409, msg, hint), -EINVAL);
        }
        *ret = rel;
        rel = (ModelRelease) {};
        return 0;
}

int api_component_rollback(HttpRequest *req) {
        _cleanup_(api_scope_done) ApiScope s = {};
        _cleanup_(model_release_done) ModelRelease target = {};
        _cleanup_(release_refusal_done) ReleaseRefusal refusal = {};
        _cleanup_json_ json_t *body = NULL;
        _cleanup_free_ int64_t *ids = NULL;
        const char *env = NULL;
        json_t *to;
        size_t n = 0;
        int64_t id, none = 0;
        int r;

        if ((r = http_request_read_json(req, &rollback_body, &body)) < 0)
                return req->status;
        if (json_get_string(body, "env", &env) < 0 || isempty(env))
                return http_reply_error(req->conn, 400, "The rollback request names no environment.",
                                        rollback_body.example);
        to = json_object_get(body, "to");
        if (json_is_null(to))
                to = NULL;
        if (to && (!json_is_integer(to) || json_integer_value(to) <= 0))
                return http_reply_error(req->conn, 400, "\"to\" must be a release id (a positive number).",
                                        "See 'slipway releases PROJECT/COMPONENT ENV'.");
        if ((r = action_scope(req, &s)) < 0)
                return req->status;
        if ((r = lookup_env(req, &s, env, &s.environment)) < 0)
                return req->status;
        if ((r = rollback_target(req, &s, to, &target)) < 0)
                return req->status;

        /* Exactly the value versions the target ran with (none: an empty set, not the current values). */
        r = model_release_value_ids(s.db, target.id, &ids, &n);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot read the release's values");
        r = release_create(s.db, &s.component, &s.environment, target.image_digest, target.spec,
                           MODEL_RELEASE_ORIGIN_ROLLBACK, target.id, ids ?: &none, n, &id, &refusal);
        if (r < 0)
                return api_reply_release_refusal(req, r, &refusal, "Cannot create the release");
        model_deploy_log_appendf(s.db, id, "rollback of %s/%s in %s to release %lld requested (image %s)",
                                 s.project.name, s.component.name, s.environment.name, (long long) target.id,
                                 target.image_digest);
        return api_reply_release_created(req, &s, id);
}
