/* Releases in slipway.db: an image digest and spec for one (component, environment) moving through
 * pending → deploying → live | failed → superseded; finished_at is set once, when it first finishes. */
#include "release-db.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "sqlite-util.h"

void model_release_done(ModelRelease *r) {
        if (!r)
                return;
        free(r->environment_name);
        free(r->image_digest);
        free(r->spec);
        free(r->status);
        free(r->reason);
        memset(r, 0, sizeof *r);
}

void model_releases_free(ModelRelease *r, size_t n) {
        for (size_t i = 0; i < n; i++)
                model_release_done(&r[i]);
        free(r);
}

#define RELEASE_COLUMNS                                                                               \
        "r.id, r.component_id, r.environment_id, e.name, r.image_digest, r.spec, r.status, r.reason," \
        " r.created_at, r.finished_at"
#define RELEASE_FROM " FROM releases r JOIN environments e ON e.id = r.environment_id"

static int read_release(sqlite3_stmt *s, void *userdata, void *ret) {
        (void) userdata;
        ModelRelease rel = {
                .id = sqlite3_column_int64(s, 0),
                .component_id = sqlite3_column_int64(s, 1),
                .environment_id = sqlite3_column_int64(s, 2),
                .created_at = sqlite3_column_int64(s, 8),
                .finished_at = sqlite3_column_int64(s, 9),
        };
        int r;

        if ((r = sqlite_column_strdup(s, 3, &rel.environment_name)) < 0 ||
            (r = sqlite_column_strdup(s, 4, &rel.image_digest)) < 0 ||
            (r = sqlite_column_strdup(s, 5, &rel.spec)) < 0 ||
            (r = sqlite_column_strdup(s, 6, &rel.status)) < 0 ||
            (r = sqlite_column_strdup(s, 7, &rel.reason)) < 0) {
                model_release_done(&rel);
                return r;
        }
        *(ModelRelease *) ret = rel;
        return 0;
}

static void done_release(void *p) {
        model_release_done(p);
}

int model_release_create(sqlite3 *db, int64_t component_id, int64_t environment_id, const char *image_digest,
                         const char *spec_json, int64_t *ret_id) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(
                db,
                "INSERT INTO releases(component_id, environment_id, image_digest, spec, status,"
                "                     created_at)"
                " VALUES (?1, ?2, ?3, ?4, '" MODEL_RELEASE_PENDING "', ?5)",
                &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, component_id);
        sqlite3_bind_int64(s, 2, environment_id);
        sqlite3_bind_text(s, 3, image_digest, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, spec_json, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 5, sqlite_now_sec());
        r = sqlite_step_done(s);
        if (r < 0)
                return r; /* -ENOENT: a foreign key failed */
        if (ret_id)
                *ret_id = sqlite3_last_insert_rowid(db);
        return 0;
}

int model_release_get(sqlite3 *db, int64_t id, ModelRelease *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(db, "SELECT " RELEASE_COLUMNS RELEASE_FROM " WHERE r.id = ?1", &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, id);
        return sqlite_query_one(s, read_release, NULL, ret);
}

int model_release_set_status(sqlite3 *db, int64_t id, const char *status, const char *reason) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        bool finished = streq(status, MODEL_RELEASE_LIVE) || streq(status, MODEL_RELEASE_FAILED) ||
                        streq(status, MODEL_RELEASE_SUPERSEDED);
        int r;

        r = sqlite_prepare(db,
                           "UPDATE releases SET status = ?2, reason = ?3,"
                           " finished_at = CASE WHEN ?4 THEN coalesce(finished_at, ?5) ELSE NULL END"
                           " WHERE id = ?1",
                           &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_text(s, 2, status, -1, SQLITE_STATIC);
        sqlite_bind_text_or_null(s, 3, reason);
        sqlite3_bind_int(s, 4, finished);
        sqlite3_bind_int64(s, 5, sqlite_now_sec());
        r = sqlite_step_done(s);
        if (r < 0)
                return r;
        return sqlite3_changes(db) > 0 ? 0 : -ENOENT;
}

int model_release_list(sqlite3 *db, int64_t component_id, int64_t environment_id, ModelRelease **ret,
                       size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(db,
                               "SELECT " RELEASE_COLUMNS RELEASE_FROM
                               " WHERE r.component_id = ?1 AND (?2 = 0 OR r.environment_id = ?2)"
                               " ORDER BY r.id DESC",
                               &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, component_id);
        sqlite3_bind_int64(s, 2, environment_id);
        return sqlite_query_all(s, read_release, done_release, NULL, sizeof(ModelRelease), (void **) ret,
                                ret_n);
}

int model_release_list_by_status(sqlite3 *db, const char *status, ModelRelease **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(
                db, "SELECT " RELEASE_COLUMNS RELEASE_FROM " WHERE r.status = ?1 ORDER BY r.id", &s);
        if (r < 0)
                return r;
        sqlite3_bind_text(s, 1, status, -1, SQLITE_STATIC);
        return sqlite_query_all(s, read_release, done_release, NULL, sizeof(ModelRelease), (void **) ret,
                                ret_n);
}

int model_release_get_live(sqlite3 *db, int64_t component_id, int64_t environment_id, ModelRelease *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(
                db,
                "SELECT " RELEASE_COLUMNS RELEASE_FROM
                " WHERE r.component_id = ?1 AND r.environment_id = ?2 AND r.status = '" MODEL_RELEASE_LIVE
                "' ORDER BY r.id DESC LIMIT 1",
                &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, component_id);
        sqlite3_bind_int64(s, 2, environment_id);
        return sqlite_query_one(s, read_release, NULL, ret);
}

int model_release_supersede_live(sqlite3 *db, int64_t component_id, int64_t environment_id) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(db,
                               "UPDATE releases SET status = '" MODEL_RELEASE_SUPERSEDED "',"
                               " finished_at = coalesce(finished_at, ?3)"
                               " WHERE component_id = ?1 AND environment_id = ?2"
                               " AND status = '" MODEL_RELEASE_LIVE "'",
                               &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, component_id);
        sqlite3_bind_int64(s, 2, environment_id);
        sqlite3_bind_int64(s, 3, sqlite_now_sec());
        return sqlite_step_done(s);
}

int model_release_fail_all(sqlite3 *db, const char *status, const char *reason) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r = sqlite_prepare(db,
                               "UPDATE releases SET status = '" MODEL_RELEASE_FAILED "', reason = ?2,"
                               " finished_at = coalesce(finished_at, ?3) WHERE status = ?1",
                               &s);
        if (r < 0)
                return r;
        sqlite3_bind_text(s, 1, status, -1, SQLITE_STATIC);
        sqlite_bind_text_or_null(s, 2, reason);
        sqlite3_bind_int64(s, 3, sqlite_now_sec());
        return sqlite_step_done(s);
}
