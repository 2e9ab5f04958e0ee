/* The registry's rows in slipway.db (migration 8): open upload sessions, blobs pushed into a repository,
 * pushed manifests with their subject (the referrers API), and tags of manifests the image catalog does not
 * hold (indexes, artifacts).  Image tags stay the catalog's (image-catalog.h). */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"

/* Blobs pushed (or mounted) into a repository stay gc roots this long without a manifest naming them. */
#define DISTRIBUTION_BLOB_GRACE_SEC (24 * 3600)

typedef struct ModelUpload {
        char uuid[33];
        char *repo;
        int64_t started_at, updated_at;
} ModelUpload;

void model_upload_done(ModelUpload *u);
void model_uploads_free(ModelUpload *v, size_t n);
int model_upload_create(sqlite3 *db, const char *uuid, const char *repo);
/* -ENOENT when there is no such session. */
int model_upload_get(sqlite3 *db, const char *uuid, ModelUpload *ret);
int model_upload_touch(sqlite3 *db, const char *uuid);
int model_upload_delete(sqlite3 *db, const char *uuid);
/* Sessions idle since before cutoff (seconds since the epoch); cutoff INT64_MAX lists every session. */
int model_uploads_idle(sqlite3 *db, int64_t cutoff, ModelUpload **ret, size_t *ret_n);

int model_registry_blob_record(sqlite3 *db, const char *repo, const char *digest);
/* True when repo holds digest: pushed or mounted into it, or referenced by one of its manifests. */
int model_registry_blob_in_repo(sqlite3 *db, const char *repo, const char *digest, bool *ret);
/* Digests pushed since cutoff (gc roots), NULL-terminated (strv). */
int model_registry_blobs_since(sqlite3 *db, int64_t cutoff, char ***ret);

typedef struct ModelManifest {
        char *repo;
        char digest[DIGEST_STRING_MAX];
        char *media_type;
        char *artifact_type; /* NULL: none */
        char *subject;       /* NULL: none */
        int64_t size, pushed_at;
} ModelManifest;

void model_manifest_done(ModelManifest *m);
void model_manifests_free(ModelManifest *v, size_t n);
/* Records (or refreshes) a pushed manifest. */
int model_manifest_put(sqlite3 *db, const ModelManifest *m);
int model_manifest_get(sqlite3 *db, const char *repo, const char *digest, ModelManifest *ret);
/* Removes repo's record of digest and every registry tag of it in repo; -ENOENT when there was none. */
int model_manifest_delete(sqlite3 *db, const char *repo, const char *digest);
/* repo's manifests whose subject is digest, oldest first. */
int model_manifests_referring(sqlite3 *db, const char *repo, const char *subject, ModelManifest **ret,
                              size_t *ret_n);
/* Every pushed manifest's digest (gc roots), NULL-terminated (strv). */
int model_manifest_digests(sqlite3 *db, char ***ret);

int model_registry_tag_set(sqlite3 *db, const char *repo, const char *tag, const char *digest);
/* The digest into ret (DIGEST_STRING_MAX); -ENOENT when repo has no such registry tag. */
int model_registry_tag_get(sqlite3 *db, const char *repo, const char *tag,
                           char ret[static DIGEST_STRING_MAX]);
int model_registry_tag_delete(sqlite3 *db, const char *repo, const char *tag);
/* repo's registry tags (not the catalog's), NULL-terminated (strv). */
int model_registry_tags_list(sqlite3 *db, const char *repo, char ***ret);
