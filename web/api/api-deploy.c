/* POST /api/v1/projects/P/components/C/deploy {"env":E,"image":REF}: validates, snapshots the component's
 * spec into a pending release and wakes the engine (202 with the release id); GET …/releases/ID: one
 * release with its deploy log, for `slipway deploy` to follow it. */
#include "api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http-response.h"
#include "json-util.h"
#include "model.h"
#include "sqlite-util.h"

#define DEPLOY_BODY_MAX (64U * 1024U)
#define RELEASE_LOG_LINES_MAX 200U

static int lookup_component(HttpRequest *req, sqlite3 *db, ModelProject *p, ModelComponent *c) {
        char msg[200];
        int r;

        if (api_check_name(req, "project", req->segments[1]) < 0 ||
            api_check_name(req, "component", req->segments[3]) < 0)
                return api_replied(req, 400, -EINVAL);
        r = api_project_lookup(req, db, req->segments[1], p);
        if (r < 0)
                return r;
        r = model_component_get(db, p->id, req->segments[3], c);
        if (r == -ENOENT) {
                snprintf(msg, sizeof msg, "Project '%s' has no component named '%.80s'.", p->name,
                         req->segments[3]);
                http_reply_error(req->conn, 404, msg, "See 'slipway component list PROJECT'.");
                return api_replied(req, 404, -ENOENT);
        }
        if (r < 0)
                return api_replied(req, api_reply_error(req, r, NULL, "Cannot look up the component"), r);
        return 0;
}

json_t *api_release_json(const ModelRelease *rel) {
        return json_pack("{s:I,s:s?,s:s,s:s,s:s?,s:I,s:o}", "id", (json_int_t)rel->id, "environment",
                         rel->environment_name, "image_digest", rel->image_digest, "status", rel->status,
                         "reason", rel->reason, "created_at", (json_int_t)rel->created_at, "finished_at",
                         rel->finished_at ? json_integer(rel->finished_at) : json_null());
}

int api_component_deploy(HttpRequest *req) {
        ApiContext *ctx = req->userdata;
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(model_project_done) ModelProject p = {};
        _cleanup_(model_component_done) ModelComponent c = {};
        _cleanup_(model_environment_done) ModelEnvironment e = {};
        _cleanup_(model_release_done) ModelRelease rel = {};
        _cleanup_json_ json_t *body = NULL, *reply = NULL;
        const char *env = NULL, *image = NULL;
        ImageRecord rec = {};
        OciError err = {};
        int64_t id;
        int r;

        r = http_read_body_json(req->conn, DEPLOY_BODY_MAX, &body);
        if (r < 0)
                return http_reply_error(req->conn, 400, "The request body is not a JSON object.",
                                        "Send {\"env\": ENVIRONMENT, \"image\": IMAGE}.");
        if (json_get_string(body, "env", &env) < 0 || isempty(env))
                return http_reply_error(req->conn, 400, "The deploy request names no environment.",
                                        "Send {\"env\": ENVIRONMENT, \"image\": IMAGE}.");
        if (json_get_string_opt(body, "image", &image) < 0)
                return http_reply_error(req->conn, 400, "\"image\" must be a string.",
                                        "Give an image name like web:1 or a digest.");
        r = api_model_open(req, &db);
        if (r < 0)
                return req->status;
        r = lookup_component(req, db, &p, &c);
        if (r < 0)
                return req->status;
        if (api_check_name(req, "environment", env) < 0)
                return 400;
        r = api_environment_lookup(req, db, &p, env, &e);
        if (r < 0)
                return req->status;
        if (isempty(image))
                image = c.image_ref;
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
        r = model_release_create(db, c.id, e.id, rec.digest, c.spec, &id);
        image_record_done(&rec);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot create the release");
        model_deploy_log_appendf(db, id, "deploy of %s/%s to %s requested (image %s)", p.name, c.name,
                                 e.name, image);
        if (ctx->wake_engine)
                ctx->wake_engine(ctx->wake_userdata);

        r = model_release_get(db, id, &rel);
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot read the release");
        reply = api_release_json(&rel);
        if (!reply)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot build the reply");
        json_object_set_new(reply, "project", json_string(p.name));
        json_object_set_new(reply, "component", json_string(c.name));
        return http_reply_json(req->conn, 202, reply);
}

int api_release_show(HttpRequest *req) {
        _cleanup_(sqlite3_close_v2p) sqlite3 *db = NULL;
        _cleanup_(model_project_done) ModelProject p = {};
        _cleanup_(model_component_done) ModelComponent c = {};
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
        r = api_model_open(req, &db);
        if (r < 0)
                return req->status;
        r = lookup_component(req, db, &p, &c);
        if (r < 0)
                return req->status;
        r = model_release_get(db, id, &rel);
        if (r == -ENOENT || (r >= 0 && rel.component_id != c.id))
                return http_reply_error(req->conn, 404, "No such release of this component.",
                                        "See 'slipway releases PROJECT/COMPONENT'.");
        if (r < 0)
                return api_reply_error(req, r, NULL, "Cannot read the release");
        reply = api_release_json(&rel);
        lines = json_array();
        if (!reply || !lines)
                return api_reply_error(req, -ENOMEM, NULL, "Cannot build the reply");
        if (model_deploy_log_list(db, rel.id, &log, &n_log) >= 0) {
                size_t first = n_log > RELEASE_LOG_LINES_MAX ? n_log - RELEASE_LOG_LINES_MAX : 0;
                for (size_t i = first; i < n_log; i++)
                        json_array_append_new(lines, json_string(log[i].line));
                model_log_lines_free(log, n_log);
        }
        json_object_set(reply, "log", lines);
        if (model_instance_list_by_release(db, rel.id, &inst, &n_inst) >= 0) {
                json_t *a = json_array();
                for (size_t i = 0; a && i < n_inst; i++)
                        json_array_append_new(
                                a, json_pack("{s:I,s:s,s:s,s:s,s:I}", "id", (json_int_t)inst[i].id,
                                             "address", inst[i].address, "netns", inst[i].netns, "state",
                                             inst[i].state, "restarts", (json_int_t)inst[i].restarts));
                json_object_set_new(reply, "instances", a);
                model_instances_free(inst, n_inst);
        }
        json_object_set_new(reply, "project", json_string(p.name));
        json_object_set_new(reply, "component", json_string(c.name));
        return http_reply_json(req->conn, 200, reply);
}
