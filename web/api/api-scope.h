/* What a request under /api/v1/projects addresses (api-scope.c): its database connection, project,
 * component and environment, looked up from the path and query with the error reply sent on failure.
 * Each function returns -errno with req->status set when it has replied. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "http-json-body.h"
#include "http-server.h"
#include "json-util.h"
#include "model.h"

/* A handler's view of /projects/P[/components/C][?env=E]; api_scope_done() frees what was filled. */
typedef struct ApiScope {
        sqlite3 *db;
        ModelProject project;         /* segments[1] */
        ModelComponent component;     /* segments[3], by api_scope_component() */
        ModelEnvironment environment; /* the env api_scope_component() was given */
} ApiScope;

void api_scope_done(ApiScope *s);
/* Opens the database and looks up the project segments[1] (404 when unknown). */
int api_scope_project(HttpRequest *req, ApiScope *s);
/* The same, then the project's component segments[3] and, when env is not NULL, its environment env
 * (404 naming the known ones when unknown). */
int api_scope_component(HttpRequest *req, const char *env, ApiScope *s);

/* Opens ctx->db_path; on failure sends 500/503. */
int api_model_open(HttpRequest *req, sqlite3 **ret);
/* Validates a name; on failure sends 400 with the reason (-EINVAL). */
int api_check_name(HttpRequest *req, const char *what, const char *name);
/* Looks up a project by name; sends 404 when unknown (-ENOENT). */
int api_project_lookup(HttpRequest *req, sqlite3 *db, const char *name, ModelProject *ret);
/* Looks up a project's environment; sends 404 naming the known ones when unknown. */
int api_environment_lookup(HttpRequest *req, sqlite3 *db, const ModelProject *p, const char *name,
                           ModelEnvironment *ret);
/* ?name=1|true|yes or a bare ?name. */
bool api_query_flag(HttpRequest *req, const char *name);
/* ?env=E into buf: 0, or -ENOENT when absent (sends nothing). */
int api_env_query(HttpRequest *req, char *buf, size_t size);
/* The same, but sends 400 when absent (-EINVAL). */
int api_need_env(HttpRequest *req, char *env, size_t size);
/* Reads a create request {"name": NAME[, opt_key: STRING or null], …} as spec says (http-json-body.h: size,
 * depth, known fields), then 400 when NAME is not a string or not a valid `what` name, or opt_key is neither
 * a string nor null.  *ret_name points into *ret_body; *ret_opt is NULL when opt_key is absent or null. */
int api_read_create_body(HttpRequest *req, const HttpJsonBody *spec, const char *what, const char *opt_key,
                         json_t **ret_body, const char **ret_name, const char **ret_opt);
