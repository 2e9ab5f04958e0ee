/* POST /api/v1/projects/P/components/C/deploy {"env":E,"image":REF}: validates, makes a pending release
 * (release_create: the component's spec, the environment's current values) and wakes the engine (202 with
 * the release); without an image, the environment's live image ("save and deploy").  GET …/releases/ID: one
 * release with its deploy log, for `slipway deploy` to follow it. */
#include "api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <inttypes.h>

#include "build-db.h"
#include "http-json-body.h"
#include "http-response.h"
#include "json-util.h"
#include "model.h"
#include "release-create.h"
#include "release-values-db.h"
#include "sqlite-util.h"

#define DEPLOY_BODY_MAX (64U * 1024U)
#define RELEASE_LOG_LINES_MAX 200U

static const HttpJsonBody deploy_body = {
        .what = "deploy request",
        .max = DEPLOY_BODY_MAX,
        .fields = (const char *const[]) { "env", "image", "build", NULL },
        .example = "Send {\"env\": ENVIRONMENT, \"image\": IMAGE}.",
};

/* The deploy endpoints refuse a name that cannot exist (400) before they look it up. */
static int deploy_scope(HttpRequest *req, ApiScope *s) {
        if (api_check_name(req, "project", req->segments[1]) < 0 ||
            api_check_name(req, "component", req->segments[3]) < 0)
                return api_replied(req, 400, -EINVAL);
        return api_scope_component(req, NULL, s);
}

/* The bake window's record (releases.bake, written by the deployer) as an object, null when none. */
static json_t *release_bake_json(const ModelRelease *rel) {
        json_t *j = rel->bake ? json_loads(rel->bake, 0, NULL) : NULL;

        if (!json_is_object(j)) {
                json_decref(j);
                return json_null();
        }
        return j;
}

json_t *api_release_json(const ModelRelease *rel) {
        json_t *j =
                json_pack("{s:I,s:s?,s:s,s:s,s:s?,s:I,s:o}", "id", (json_int_t) rel->id, "environment",
                          rel->environment_name, "image_digest", rel->image_digest, "status", rel->status,
                          "reason", rel->reason, "created_at", (json_int_t) rel->created_at, "finished_at",
                          rel->finished_at ? json_integer(rel->finished_at) : json_null());
        if (j &&
            (json_object_set_new(j, "origin", json_string(rel->origin ?: MODEL_RELEASE_ORIGIN_DEPLOY)) < 0 ||
             json_object_set_new(j, "source_release_id",
                                 rel->source_release_id > 0 ? json_integer(rel->source_release_id)
                                                            : json_null()) < 0 ||
             json_object_set_new(j, "bake", release_bake_json(rel)) < 0)) {
                json_decref(j);
                return NULL;
        }
        return j;
}

int api_release_json_details(sqlite3 *db, const ModelRelease *rel, json_t *j) {
        _cleanup_(model_release_done) ModelRelease src = {};
        ModelReleaseValue *v = NULL;
        json_t *arr = json_array();
        size_t n = 0;
        int r;

        if (!arr || json_object_set_new(j, "values", arr) < 0)
                return -ENOMEM;
        r = model_release_value_list(db, rel->id, &v, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                /* Name and version only: a value's content never leaves the vault through the API. */
                json_t *e = json_pack("{s:s,s:I,s:b,s:b,s:s?}", "key", v[i].key, "version",
                                      (json_int_t) v[i].version, "secret", v[i].secret, "project_wide",
                                      v[i].component_id == 0, "file_path", v[i].file_path);
                if (!e || json_array_append_new(arr, e) < 0) {
                        model_release_values_free(v, n);
                        return -ENOMEM;
                }
        }
        model_release_values_free(v, n);
        /* The environment of the release it was promoted from or rolled back to, while that one is kept. */
        if (rel->source_release_id > 0 && model_release_get(db, rel->source_release_id, &src) >= 0)
                return json_object_set_new(j, "source_environment", json_string(src.environment_name)) < 0
                               ? -ENOMEM
                               : 0;
        return json_object_set_new(j, "source_environment", json_null()) < 0 ? -ENOMEM : 0;
}

int api_reply_release_refusal(HttpRequest *req, int r, ReleaseRefusal *refusal, const char *what) {
        _cleanup_json_ json_t *j = NULL, *missing = NULL;

        if ((r != -ENOKEY && r != -ESTALE) || !refusal->message)
                return api_reply_error(req, r, NULL, what);
        missing = json_array();
        for (size_t i = 0; missing && i < refusal->n_missing; i++)
                json_array_append_new(missing, json_string(refusal->missing[i]));
        j = json_pack("{s:s,s:s?,s:O}", "error", refusal->message, "hint", refusal->hint, "missing",
                      missing ?: json_null());
        if (!j)
                return api_reply_error(req, -ENOMEM, NULL, what);
        /* 409: the request is fine, the target environment is not ready for it; nothing was created. */
        return http_reply_json(req->conn, 409, j);
}

int api_release_created_json(HttpRequest *req, ApiScope *s, int64_t id, json_t **ret) {
        ApiContext *ctx = req->userdata;
        _cleanup_(model_release_done) ModelRelease rel = {};
        _cleanup_json_ json_t *reply = NULL;
        int r;

        if (ctx->wake_engine)
                ctx->wake_engine(ctx->wake_userdata);
        r = model_release_get(s->db, id, &rel);
        if (r < 0)
                return api_replied(req, api_reply_error(req, r, NULL, "Cannot read the release"), r);
        reply = api_release_json(&rel);
        if (!reply || api_release_json_details(s->db, &rel, reply) < 0)
                return api_replied(req, api_reply_error(req, -ENOMEM, NULL, "Cannot build the reply"),
                                   -ENOMEM);
        json_object_set_new(reply, "project", json_string(s->project.name));
        json_object_set_new(reply, "component", json_string(s->component.name));
        *ret = TAKE_PTR(reply);
        return 0;
}

int api_reply_release_created(HttpRequest *req, ApiScope *s, int64_t id) {
        _cleanup_json_ json_t *reply = NULL;

        if (api_release_created_json(req, s, id, &reply) < 0)
                return req->status;
        return http_reply_json(req->conn, 202, reply);
}

json_t *api_instance_json(const ModelInstance *inst) {
        return json_pack("{s:I,s:s,s:s,s:s,s:I}", "id", (json_int_t) inst->id, "address", inst->address,
                         "netns", inst->netns, "state", inst->state, "restarts",
                         (json_int_t) inst->restarts);
}

int api_component_deploy(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_(api_scope_done) ApiScope s = {};
        _cleanup_(model_release_done) ModelRelease live = {};
        _cleanup_(release_refusal_done) ReleaseRefusal refusal = {};
        _cleanup_json_ json_t *body = NULL;
        _cleanup_free_ char *digest = NULL;
        const char *env = NULL, *image = NULL, *what;
        ImageRecord rec = {};
        OciError err = {};
        int64_t id;
        int r;

        if ((r = http_request_read_json(req, &deploy_body, &body)) < 0)
                return req->status;
        if (json_get_string(body, "env", &env) < 0 || isempty(env))
                return http_reply_error(req->conn, 400, "The deploy request names no environment.",
                                        "Send {\"env\": ENVIRONMENT, \"image\": IMAGE}.");
        if (json_get_string_opt(body, "image", &image) < 0)
                return http_reply_error(req->conn, 400, "\"image\" must be a string.",
                                        "Give an image name like web:1 or a digest.");
        json_t *bj = json_object_get(body, "build");
        if (bj && !json_is_null(bj) && (!json_is_integer(bj) || json_integer_value(bj) <= 0))
                return http_reply_error(req->conn, 400, "\"build\" must be a build id.",
                                        "See 'slipway builds PROJECT/COMPONENT'.");
        int64_t build_id = json_is_integer(bj) ? json_integer_value(bj) : 0;
        if (build_id > 0 && !isempty(image))
                return http_reply_error(req->conn, 400, "A deploy names an image or a build, not both.",
                                        "Give --image REF or --build ID.");
        r = deploy_scope(req, &s);
        if (r < 0)
                return req->status;
        if (api_check_name(req, "environment", env) < 0)
                return 400;
        r = api_environment_lookup(req, s.db, &s.project, env, &s.environment);
        if (r < 0)
                return req->status;
        _cleanup_(model_build_done) ModelBuild build = {};
        char what_build[64];
        bool has_live = build_id == 0 && isempty(image) &&
                        model_release_get_live(s.db, s.component.id, s.environment.id, &live) >= 0;
        if (build_id > 0 || (isempty(image) && !has_live && s.component.source)) {
                /* A build: the one named, or (nothing live here) the component's latest successful one. */
                if (build_id > 0)
                        r = model_build_get(s.db, build_id, &build);
                else {
                        /* The newest build that stored an image (its deploy step may have failed). */
                        ModelBuild *all = NULL;
                        size_t n_all = 0;
                        r = model_build_list(s.db, s.component.id, &all, &n_all);
                        if (r >= 0) {
                                r = -ENOENT;
                                for (size_t i = 0; i < n_all && r == -ENOENT; i++)
                                        if (all[i].image_digest) {
                                                build = all[i];
                                                all[i] = (ModelBuild) {};
                                                r = 0;
                                        }
                                model_builds_free(all, n_all);
                        }
                }
                if (r == -ENOENT || (r >= 0 && build.component_id != s.component.id))
                        return http_reply_error(
                                req->conn, 404,
                                build_id > 0 ? "No such build of this component."
                                             : "The component has no built image yet.",
                                build_id > 0 ? "See 'slipway builds PROJECT/COMPONENT'."
                                             : "Build it first: 'slipway build PROJECT/COMPONENT'.");
                if (r < 0)
                        return api_reply_error(req, r, NULL, "Cannot read the build");
                if (!build.image_digest)
                        return http_reply_error(
                                req->conn, 409, "That build stored no image.",
                                "Deploy a build whose image step succeeded (see 'slipway build show ID').");
                digest = strdup(build.image_digest);
                if (!digest)
                        return api_reply_error(req, -ENOMEM, NULL, "Cannot create the release");
                snprintf(what_build, sizeof what_build, "build %" PRId64, build.id);
                what = what_build;
        } else if (has_live) {
                /* Save and deploy: the image that runs now, with the environment's current values. */
                digest = strdup(live.image_digest);
                if (!digest)
                        return api_reply_error(req, -ENOMEM, NULL, "Cannot create the release");
                what = "the live image";
        } else {
                if (isempty(image))
                        image = s.component.image_ref;
                if (isempty(image))
                        return http_reply_error(req->conn, 400,
                                                "The component has no image and the deploy names none.",
                                                "Give --image IMAGE.");
                r = image_catalog_lookup(ctx->catalog, image, &rec, &err);
                if (r < 0) {
                        if (r == -ENOENT || !err.message[0])
                                return http_reply_error(
                                        req->conn, 404, err.message[0] ? err.message : "No such image.",
                                        "See 'slipway image list'; import or build it first.");
                        return api_reply_error(req, r, &err, "Cannot look up the image");
                }
                digest = strdup(rec.digest);
                image_record_done(&rec);
                if (!digest)
                        return api_reply_error(req, -ENOMEM, NULL, "Cannot create the release");
                what = image;
        }
        r = release_create(s.db, &s.component, &s.environment, digest, s.component.spec,
                           MODEL_RELEASE_ORIGIN_DEPLOY, 0, NULL, 0, &id, &refusal);
        if (r < 0)
                return api_reply_release_refusal(req, r, &refusal, "Cannot create the release");
        model_deploy_log_appendf(s.db, id, "deploy of %s/%s to %s requested (image %s, %s)", s.project.name,
                                 s.component.name, s.environment.name, what, digest);
        return api_reply_release_created(req, &s, id);
}

int api_release_show(HttpRequest *req) {
        _cleanup_(api_scope_done) ApiScope s = {};
        _cleanup_(model_release_done) ModelRelease rel = {};
        _cleanup_json_ json_t *reply = NULL, *lines = NULL;
        ModelLogLine *log = NULL;
        ModelInstance *inst = NULL;
        size_t n_log = 0, n_inst = 0;
        char *end = NULL;
        long long id;
        int r;

        errno = 0;
        id = strtoll(req->segments[5], &end, 10);
        if (errno || !end || *end || id <= 0)
                return http_reply_error(req->conn, 400, "A release id is a positive number.",
                                        "See 'slipway releases PROJECT/COMPONENT'.");
        r = deploy_scope(req, &s);
        if (r < 0)
                return req->status;
        r = model_release_get(s.db, id, &rel);
        if (r == -ENOENT || (r >= 0 && rel.component_id != s.component.id))
                return http_reply_error(req->conn, 404, "No such release of this component.",
                                        "See 'slipway releases PROJECT/COMPONENT'.");
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot read the release");
        reply = api_release_json(&rel);
        lines = json_array();
        if (!reply || !lines || api_release_json_details(s.db, &rel, reply) < 0)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot build the reply");
        if (model_deploy_log_list(s.db, rel.id, &log, &n_log) >= 0) {
                size_t first = n_log > RELEASE_LOG_LINES_MAX ? n_log - RELEASE_LOG_LINES_MAX : 0;
                for (size_t i = first; i < n_log; i++)
                        json_array_append_new(lines, json_string(log[i].line));
                model_log_lines_free(log, n_log);
        }
        json_object_set(reply, "log", lines);
        if (model_instance_list_by_release(s.db, rel.id, &inst, &n_inst) >= 0) {
                json_t *a = json_array();
                for (size_t i = 0; a && i < n_inst; i++)
                        json_array_append_new(a, api_instance_json(&inst[i]));
                json_object_set_new(reply, "instances", a);
                model_instances_free(inst, n_inst);
        }
        json_object_set_new(reply, "project", json_string(s.project.name));
        json_object_set_new(reply, "component", json_string(s.component.name));
        return http_reply_json(req->conn, 200, reply);
}
