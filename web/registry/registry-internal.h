/* What the registry's files share (registry.c routes; registry-upload.c takes blobs; registry-manifest.c
 * takes manifests and answers the referrers API): the spec's error shape and the names it accepts. */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>

#include "http-server.h"
#include "repository-name.h"

#define REGISTRY_HEADERS HTTP_REGISTRY_HEADERS
#define REGISTRY_NAME_MAX OCI_REPOSITORY_NAME_MAX
#define REGISTRY_TAG_MAX 128U

/* {"errors": [{"code", "message", "detail"}]} with status; returns status. */
int registry_reply_error(struct mg_connection *conn, int status, const char *code, const char *message);
bool registry_is_digest(const char *s);
bool registry_tag_valid(const char *t);
/* A connection to slipway.db for this request; on failure the 5xx is sent and -errno returned. */
int registry_db_open(HttpRequest *req, sqlite3 **ret);
/* Writes need a token allowed to push: false after sending the 403. */
bool registry_check_push(HttpRequest *req);

/* POST /v2/NAME/blobs/uploads/ (new session, ?digest= monolithic, ?mount=&from=). */
int registry_upload_start(HttpRequest *req, const char *name);
/* PATCH, PUT, GET, DELETE of /v2/NAME/blobs/uploads/UUID. */
int registry_upload_session(HttpRequest *req, const char *name, const char *uuid);
/* Removes sessions idle for longer than the daemon's upload lifetime (with their bytes). */
void registry_uploads_expire(HttpRequest *req, sqlite3 *db);

/* PUT and DELETE of /v2/NAME/manifests/REF. */
int registry_manifest_put(HttpRequest *req, const char *name, const char *ref);
int registry_manifest_delete(HttpRequest *req, const char *name, const char *ref);
/* GET /v2/NAME/referrers/DIGEST[?artifactType=]. */
int registry_referrers(HttpRequest *req, const char *name, const char *digest);
