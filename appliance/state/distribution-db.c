/* distribution-db.h: the registry's upload sessions, pushed blobs, manifests and tags. */
#include "distribution-db.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "sqlite-util.h"

static const SqliteField upload_fields[] = {
        SQL_FIELD(ModelUpload, uuid),
        SQL_FIELD(ModelUpload, repo),
        SQL_FIELD(ModelUpload, started_at),
        SQL_FIELD(ModelUpload, updated_at),
};
static const SqliteRowType upload_row = SQL_ROW_TYPE(ModelUpload, upload_fields);
SQL_DEFINE_ROW_FUNCS(ModelUpload, upload_row, model_upload_done, model_uploads_free)

int model_upload_create(sqlite3 *db, const char *uuid, const char *repo) {
        int64_t now = sqlite_now_sec();

        return sqlite_run(
                db,
                "INSERT INTO registry_uploads(uuid, repo, started_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
                SQL_ARGS(SQL_TEXT(uuid), SQL_TEXT(repo), SQL_INT(now)));
}

int model_upload_get(sqlite3 *db, const char *uuid, ModelUpload *ret) {
        return sqlite_get(db, &upload_row,
                          "SELECT uuid, repo, started_at, updated_at FROM registry_uploads WHERE uuid = ?1",
                          SQL_ARGS(SQL_TEXT(uuid)), ret);
}

int model_upload_touch(sqlite3 *db, const char *uuid) {
        return sqlite_run_one(db, "UPDATE registry_uploads SET updated_at = ?2 WHERE uuid = ?1",
                              SQL_ARGS(SQL_TEXT(uuid), SQL_INT(sqlite_now_sec())));
}

int model_upload_delete(sqlite3 *db, const char *uuid) {
        return sqlite_run(db, "DELETE FROM registry_uploads WHERE uuid = ?1", SQL_ARGS(SQL_TEXT(uuid)));
}

int model_uploads_idle(sqlite3 *db, int64_t cutoff, ModelUpload **ret, size_t *ret_n) {
        return sqlite_list(db, &upload_row,
                           "SELECT uuid, repo, started_at, updated_at FROM registry_uploads"
                           " WHERE updated_at < ?1 ORDER BY uuid",
                           SQL_ARGS(SQL_INT(cutoff)), ret, ret_n);
}

int model_registry_blob_record(sqlite3 *db, const char *repo, const char *digest) {
        return sqlite_run(
                db, "INSERT OR REPLACE INTO registry_blobs(repo, digest, pushed_at) VALUES (?1, ?2, ?3)",
                SQL_ARGS(SQL_TEXT(repo), SQL_TEXT(digest), SQL_INT(sqlite_now_sec())));
}

int model_registry_blob_in_repo(sqlite3 *db, const char *repo, const char *digest, bool *ret) {
        unsigned n = 0;
        int r;

        r = sqlite_count(db, "SELECT count(*) FROM registry_blobs WHERE repo = ?1 AND digest = ?2",
                         SQL_ARGS(SQL_TEXT(repo), SQL_TEXT(digest)), &n);
        if (r < 0)
                return r;
        *ret = n > 0;
        return 0;
}

int model_registry_blobs_since(sqlite3 *db, int64_t cutoff, char ***ret) {
        return sqlite_list_strv(db, "SELECT DISTINCT digest FROM registry_blobs WHERE pushed_at >= ?1",
                                SQL_ARGS(SQL_INT(cutoff)), ret);
}

static const SqliteField manifest_fields[] = {
        SQL_FIELD(ModelManifest, repo),       SQL_FIELD(ModelManifest, digest),
        SQL_FIELD(ModelManifest, media_type), SQL_FIELD(ModelManifest, artifact_type),
        SQL_FIELD(ModelManifest, subject),    SQL_FIELD(ModelManifest, size),
        SQL_FIELD(ModelManifest, pushed_at),
};
static const SqliteRowType manifest_row = SQL_ROW_TYPE(ModelManifest, manifest_fields);
SQL_DEFINE_ROW_FUNCS(ModelManifest, manifest_row, model_manifest_done, model_manifests_free)

#define MANIFEST_COLUMNS "repo, digest, media_type, artifact_type, subject, size, pushed_at"

int model_manifest_put(sqlite3 *db, const ModelManifest *m) {
        return sqlite_run(db,
                          "INSERT OR REPLACE INTO registry_manifests(" MANIFEST_COLUMNS
                          ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                          SQL_ARGS(SQL_TEXT(m->repo), SQL_TEXT(m->digest), SQL_TEXT(m->media_type),
                                   SQL_TEXT(m->artifact_type), SQL_TEXT(m->subject), SQL_INT(m->size),
                                   SQL_INT(sqlite_now_sec())));
}

int model_manifest_get(sqlite3 *db, const char *repo, const char *digest, ModelManifest *ret) {
        return sqlite_get(db, &manifest_row,
                          "SELECT " MANIFEST_COLUMNS
                          " FROM registry_manifests WHERE repo = ?1 AND digest = ?2",
                          SQL_ARGS(SQL_TEXT(repo), SQL_TEXT(digest)), ret);
}

int model_manifest_delete(sqlite3 *db, const char *repo, const char *digest) {
        int r, n;

        n = sqlite_run(db, "DELETE FROM registry_manifests WHERE repo = ?1 AND digest = ?2",
                       SQL_ARGS(SQL_TEXT(repo), SQL_TEXT(digest)));
        if (n < 0)
                return n;
        r = sqlite_run(db, "DELETE FROM registry_tags WHERE repo = ?1 AND digest = ?2",
                       SQL_ARGS(SQL_TEXT(repo), SQL_TEXT(digest)));
        if (r < 0)
                return r;
        return n + r > 0 ? 0 : -ENOENT;
}

int model_manifests_referring(sqlite3 *db, const char *repo, const char *subject, ModelManifest **ret,
                              size_t *ret_n) {
        return sqlite_list(db, &manifest_row,
                           "SELECT " MANIFEST_COLUMNS
                           " FROM registry_manifests WHERE repo = ?1 AND subject = ?2"
                           " ORDER BY pushed_at, digest",
                           SQL_ARGS(SQL_TEXT(repo), SQL_TEXT(subject)), ret, ret_n);
}

int model_manifest_digests(sqlite3 *db, char ***ret) {
        return sqlite_list_strv(db, "SELECT DISTINCT digest FROM registry_manifests", SQL_NO_ARGS, ret);
}

int model_registry_tag_set(sqlite3 *db, const char *repo, const char *tag, const char *digest) {
        return sqlite_run(db, "INSERT OR REPLACE INTO registry_tags(repo, tag, digest) VALUES (?1, ?2, ?3)",
                          SQL_ARGS(SQL_TEXT(repo), SQL_TEXT(tag), SQL_TEXT(digest)));
}

int model_registry_tag_get(sqlite3 *db, const char *repo, const char *tag,
                           char ret[static DIGEST_STRING_MAX]) {
        _cleanup_free_ char *d = NULL;
        int r;

        r = sqlite_get(db, &sqlite_text_row, "SELECT digest FROM registry_tags WHERE repo = ?1 AND tag = ?2",
                       SQL_ARGS(SQL_TEXT(repo), SQL_TEXT(tag)), &d);
        if (r < 0)
                return r;
        if (!d || strlen(d) >= DIGEST_STRING_MAX)
                return -EBADMSG;
        strcpy(ret, d);
        return 0;
}

int model_registry_tag_delete(sqlite3 *db, const char *repo, const char *tag) {
        return sqlite_run_one(db, "DELETE FROM registry_tags WHERE repo = ?1 AND tag = ?2",
                              SQL_ARGS(SQL_TEXT(repo), SQL_TEXT(tag)));
}

int model_registry_tags_list(sqlite3 *db, const char *repo, char ***ret) {
        return sqlite_list_strv(db, "SELECT tag FROM registry_tags WHERE repo = ?1 ORDER BY tag",
                                SQL_ARGS(SQL_TEXT(repo)), ret);
}
