/* POST /api/v1/projects/P/components/C/deploy {"env":E,"image":REF}: validates, snapshots the component's
 * spec into a pending release and wakes the engine (202 with the release id); GET …/releases/ID: one
 * release with its deploy log, for `slipway deploy` to follow it. */
#include "api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http-json-body.h"
#include "http-response.h"
#include "json-util.h"
#include "model.h"
#include "sqlite-util.h"

#define DEPLOY_BODY_MAX (64U * 1024U)
#define RELEASE_LOG_LINES_MAX 200U

static const HttpJsonBody deploy_body = {
        .what = "deploy request",
        .max = DEPLOY_BODY_MAX,
        .fields = (const char *const[]) { "env", "image", NULL },
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

        if (j && json_object_set_new(j, "bake", release_bake_json(rel)) < 0) {
                json_decref(j);
                return NULL;
        }
        return j;
}

json_t *api_instance_json(const ModelInstance *inst) {
        return json_pack("{s:I,s:s,s:s,s:s,s:I}", "id", (json_int_t) inst->id, "address", inst->address,
                         "netns", inst->netns, "state", inst->state, "restarts",
                         (json_int_t) inst->restarts);
}

int api_component_deploy(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_(api_scope_done) ApiScope s = {};
        _cleanup_(model_release_done) ModelRelease rel = {};
        _cleanup_json_ json_t *body = NULL, *reply = NULL;
        const char *env = NULL, *image = NULL;
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
        r = deploy_scope(req, &s);
        if (r < 0)
                return req->status;
        if (api_check_name(req, "environment", env) < 0)
                return 400;
        r = api_environment_lookup(req, s.db, &s.project, env, &s.environment);
        if (r < 0)
                return req->status;
        if (isempty(image))
                image = s.component.image_ref;
        if (isempty(image))
                return http_reply_error(req->conn, 400,
                                        "The component has no image and the deploy names none.",
                                        "Give --image IMAGE.");
        r = image_catalog_lookup(ctx->catalog, image, &rec, &err);
        if (r < 0) {
                if (r == -ENOENT || !err.message[0])
                        return http_reply_error(req->conn, 404,
                                                err.message[0] ? err.message : "No such image.",
                                                "See 'slipway image list'; import or build it first.");
                return api_reply_error(req, r, &err, "Cannot look up the image");
        }
        r = model_release_create(s.db, s.component.id, s.environment.id, rec.digest, s.component.spec, &id);
        image_record_done(&rec);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot create the release");
        model_deploy_log_appendf(s.db, id, "deploy of %s/%s to %s requested (image %s)", s.project.name,
                                 s.component.name, s.environment.name, image);
        if (ctx->wake_engine)
                ctx->wake_engine(ctx->wake_userdata);

        r = model_release_get(s.db, id, &rel);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot read the release");
        reply = api_release_json(&rel);
        if (!reply)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot build the reply");
        json_object_set_new(reply, "project", json_string(s.project.name));
        json_object_set_new(reply, "component", json_string(s.component.name));
        return http_reply_json(req->conn, 202, reply);
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
        if (!reply || !lines)
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
