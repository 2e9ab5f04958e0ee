/* Builds of git components, their steps, webhooks and pinned ssh host keys in slipway.db (migration 6). */
#include "build-db.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite-util.h"

#define SELECT_BUILD                                                                         \
        "SELECT b.id, b.component_id, p.name, c.name, b.commit_sha, b.branch, b.settings,"   \
        " b.settings_hash, b.status, b.trigger, b.requested_by, b.deploy, b.commit_subject," \
        " b.commit_author, coalesce(b.commit_time, 0), b.image_digest, b.image_ref,"         \
        " coalesce(b.release_id, 0), b.reason, b.cancel_requested, b.created_at,"            \
        " coalesce(b.started_at, 0), coalesce(b.finished_at, 0), b.pushed_ref"               \
        " FROM builds b JOIN components c ON c.id = b.component_id JOIN projects p ON p.id = c.project_id"

static const SqliteField build_fields[] = {
        SQL_FIELD(ModelBuild, id),
        SQL_FIELD(ModelBuild, component_id),
        SQL_FIELD(ModelBuild, project_name),
        SQL_FIELD(ModelBuild, component_name),
        SQL_FIELD(ModelBuild, commit_sha),
        SQL_FIELD(ModelBuild, branch),
        SQL_FIELD(ModelBuild, settings),
        SQL_FIELD(ModelBuild, settings_hash),
        SQL_FIELD(ModelBuild, status),
        SQL_FIELD(ModelBuild, trigger),
        SQL_FIELD(ModelBuild, requested_by),
        SQL_FIELD(ModelBuild, deploy),
        SQL_FIELD(ModelBuild, commit_subject),
        SQL_FIELD(ModelBuild, commit_author),
        SQL_FIELD(ModelBuild, commit_time),
        SQL_FIELD(ModelBuild, image_digest),
        SQL_FIELD(ModelBuild, image_ref),
        SQL_FIELD(ModelBuild, release_id),
        SQL_FIELD(ModelBuild, reason),
        SQL_FIELD(ModelBuild, cancel_requested),
        SQL_FIELD(ModelBuild, created_at),
        SQL_FIELD(ModelBuild, started_at),
        SQL_FIELD(ModelBuild, finished_at),
        SQL_FIELD(ModelBuild, pushed_ref),
};
static const SqliteRowType build_row = SQL_ROW_TYPE(ModelBuild, build_fields);
SQL_DEFINE_ROW_FUNCS(ModelBuild, build_row, model_build_done, model_builds_free);

static const SqliteField step_fields[] = {
        SQL_FIELD(ModelBuildStep, build_id),    SQL_FIELD(ModelBuildStep, position),
        SQL_FIELD(ModelBuildStep, name),        SQL_FIELD(ModelBuildStep, status),
        SQL_FIELD(ModelBuildStep, message),     SQL_FIELD(ModelBuildStep, started_at),
        SQL_FIELD(ModelBuildStep, finished_at),
};
static const SqliteRowType step_row = SQL_ROW_TYPE(ModelBuildStep, step_fields);
SQL_DEFINE_ROW_FUNCS(ModelBuildStep, step_row, model_build_step_done, model_build_steps_free);

static int build_create_locked(sqlite3 *db, const ModelBuildNew *b, ModelBuild *ret, bool *ret_existing) {
        int64_t id;
        int r;

        if (b->commit_sha) {
                r = sqlite_get(db, &build_row,
                               SELECT_BUILD " WHERE b.component_id = ?1 AND b.commit_sha = ?2"
                                            " AND b.settings_hash = ?3"
                                            " AND b.status IN ('queued', 'running', 'succeeded')"
                                            " ORDER BY b.id DESC",
                               SQL_ARGS(SQL_INT(b->component_id), SQL_TEXT(b->commit_sha),
                                        SQL_TEXT(b->settings_hash)),
                               ret);
                if (r >= 0) {
                        if (ret_existing)
                                *ret_existing = true;
                        return 0;
                }
                if (r != -ENOENT)
                        return r;
        }

        r = sqlite_run(
                db,
                "INSERT INTO builds(component_id, commit_sha, branch, settings, settings_hash, status,"
                " trigger, requested_by, deploy, commit_subject, commit_author, commit_time, created_at)"
                " VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                SQL_ARGS(SQL_INT(b->component_id), SQL_TEXT(b->commit_sha), SQL_TEXT(b->branch),
                         SQL_TEXT(b->settings), SQL_TEXT(b->settings_hash), SQL_TEXT(b->trigger),
                         SQL_TEXT(b->requested_by), SQL_INT(b->deploy), SQL_TEXT(b->commit_subject),
                         SQL_TEXT(b->commit_author), SQL_INT(b->commit_time), SQL_INT(sqlite_now_sec())));
        if (r < 0)
                return r;
        id = sqlite3_last_insert_rowid(db);

        for (size_t i = 0; b->steps && b->steps[i]; i++) {
                r = sqlite_run(db,
                               "INSERT INTO build_steps(build_id, position, name, status)"
                               " VALUES (?1, ?2, ?3, 'pending')",
                               SQL_ARGS(SQL_INT(id), SQL_INT((int64_t) i), SQL_TEXT(b->steps[i])));
                if (r < 0)
                        return r;
        }

        if (ret_existing)
                *ret_existing = false;
        return model_build_get(db, id, ret);
}

int model_build_create(sqlite3 *db, const ModelBuildNew *b, ModelBuild *ret, bool *ret_existing) {
        _cleanup_(model_build_done) ModelBuild row = {};
        bool existing = false;
        int r;

        r = sqlite_begin(db);
        if (r < 0)
                return r;
        r = sqlite_end(db, build_create_locked(db, b, &row, &existing));
        if (r < 0)
                return r;
        if (ret_existing)
                *ret_existing = existing;
        if (ret) {
                *ret = row;
                row = (ModelBuild) {};
        }
        return 0;
}

int model_build_get(sqlite3 *db, int64_t id, ModelBuild *ret) {
        return sqlite_get(db, &build_row, SELECT_BUILD " WHERE b.id = ?1", SQL_ARGS(SQL_INT(id)), ret);
}

int model_build_find(sqlite3 *db, int64_t component_id, const char *commit_prefix, const char *settings_hash,
                     ModelBuild *ret) {
        if (!commit_prefix || strchr(commit_prefix, '%') || strchr(commit_prefix, '_'))
                return -EINVAL;
        return sqlite_get(db, &build_row,
                          SELECT_BUILD " WHERE b.component_id = ?1 AND b.commit_sha LIKE ?2 || '%'"
                                       " AND b.settings_hash = ?3"
                                       " AND b.status IN ('queued', 'running', 'succeeded')"
                                       " ORDER BY b.id DESC",
                          SQL_ARGS(SQL_INT(component_id), SQL_TEXT(commit_prefix), SQL_TEXT(settings_hash)),
                          ret);
}

int model_build_list(sqlite3 *db, int64_t component_id, ModelBuild **ret, size_t *ret_n) {
        return sqlite_list(db, &build_row, SELECT_BUILD " WHERE b.component_id = ?1 ORDER BY b.id DESC",
                           SQL_ARGS(SQL_INT(component_id)), ret, ret_n);
}

int model_build_list_by_status(sqlite3 *db, const char *status, ModelBuild **ret, size_t *ret_n) {
        return sqlite_list(db, &build_row, SELECT_BUILD " WHERE b.status = ?1 ORDER BY b.id DESC",
                           SQL_ARGS(SQL_TEXT(status)), ret, ret_n);
}

int model_build_latest_succeeded(sqlite3 *db, int64_t component_id, ModelBuild *ret) {
        return sqlite_get(db, &build_row,
                          SELECT_BUILD
                          " WHERE b.component_id = ?1 AND b.status = 'succeeded' ORDER BY b.id DESC",
                          SQL_ARGS(SQL_INT(component_id)), ret);
}

static int build_claim_locked(sqlite3 *db, ModelBuild *ret) {
        _cleanup_(model_build_done) ModelBuild row = {};
        int r;

        r = sqlite_get(db, &build_row,
                       SELECT_BUILD " WHERE b.status = 'queued' AND NOT EXISTS (SELECT 1 FROM builds r"
                                    " WHERE r.component_id = b.component_id AND r.status = 'running')"
                                    " ORDER BY b.id",
                       SQL_NO_ARGS, &row);
        if (r < 0)
                return r;
        r = sqlite_run_one(db, "UPDATE builds SET status = 'running', started_at = ?2 WHERE id = ?1",
                           SQL_ARGS(SQL_INT(row.id), SQL_INT(sqlite_now_sec())));
        if (r < 0)
                return r;
        return model_build_get(db, row.id, ret);
}

int model_build_claim_next(sqlite3 *db, ModelBuild *ret) {
        int r;

        r = sqlite_begin(db);
        if (r < 0)
                return r;
        return sqlite_end(db, build_claim_locked(db, ret));
}

int model_build_set_status(sqlite3 *db, int64_t id, const char *status, const char *reason) {
        bool final = !streq(status, MODEL_BUILD_QUEUED) && !streq(status, MODEL_BUILD_RUNNING);

        return sqlite_run_one(db,
                              "UPDATE builds SET status = ?2, reason = ?3,"
                              " finished_at = CASE WHEN ?4 THEN ?5 ELSE finished_at END WHERE id = ?1",
                              SQL_ARGS(SQL_INT(id), SQL_TEXT(status), SQL_TEXT(reason), SQL_INT(final),
                                       SQL_INT(sqlite_now_sec())));
}

int model_build_set_commit(sqlite3 *db, int64_t id, const char *sha, const char *subject, const char *author,
                           int64_t time) {
        return sqlite_run_one(
                db,
                "UPDATE builds SET commit_sha = ?2, commit_subject = ?3, commit_author = ?4,"
                " commit_time = ?5 WHERE id = ?1",
                SQL_ARGS(SQL_INT(id), SQL_TEXT(sha), SQL_TEXT(subject), SQL_TEXT(author), SQL_INT(time)));
}

int model_build_set_pushed_ref(sqlite3 *db, int64_t id, const char *ref) {
        return sqlite_run_one(db, "UPDATE builds SET pushed_ref = ?2 WHERE id = ?1",
                              SQL_ARGS(SQL_INT(id), SQL_TEXT(ref)));
}

int model_build_set_image(sqlite3 *db, int64_t id, const char *digest, const char *ref) {
        return sqlite_run_one(db, "UPDATE builds SET image_digest = ?2, image_ref = ?3 WHERE id = ?1",
                              SQL_ARGS(SQL_INT(id), SQL_TEXT(digest), SQL_TEXT(ref)));
}

int model_build_set_release(sqlite3 *db, int64_t id, int64_t release_id) {
        return sqlite_run_one(db, "UPDATE builds SET release_id = ?2 WHERE id = ?1",
                              SQL_ARGS(SQL_INT(id), SQL_INT(release_id)));
}

int model_build_request_cancel(sqlite3 *db, int64_t id) {
        return sqlite_run_one(db, "UPDATE builds SET cancel_requested = 1 WHERE id = ?1",
                              SQL_ARGS(SQL_INT(id)));
}

int model_build_request_deploy(sqlite3 *db, int64_t id) {
        return sqlite_run_one(
                db, "UPDATE builds SET deploy = 1 WHERE id = ?1 AND status IN ('queued', 'running')",
                SQL_ARGS(SQL_INT(id)));
}

int model_build_cancel_queued(sqlite3 *db, int64_t id, const char *reason) {
        int r;

        r = sqlite_begin(db);
        if (r < 0)
                return r;
        r = sqlite_run(db,
                       "UPDATE builds SET status = 'cancelled', reason = ?2, finished_at = ?3"
                       " WHERE id = ?1 AND status = 'queued'",
                       SQL_ARGS(SQL_INT(id), SQL_TEXT(reason), SQL_INT(sqlite_now_sec())));
        if (r >= 0 && sqlite3_changes(db) > 0)
                r = sqlite_run(db, "UPDATE build_steps SET status = 'cancelled' WHERE build_id = ?1",
                               SQL_ARGS(SQL_INT(id)));
        return sqlite_end(db, r);
}

int model_build_prune(sqlite3 *db, int64_t component_id, int64_t keep, int64_t **ret_ids, size_t *ret_n) {
        _cleanup_free_ int64_t *ids = NULL;
        size_t n = 0;
        int r;

        if (keep < 0)
                keep = 0;
        r = sqlite_begin(db);
        if (r < 0)
                return r;
        r = sqlite_list(
                db, &sqlite_int64_row,
                "SELECT id FROM builds WHERE component_id = ?1 AND status NOT IN ('queued', 'running')"
                " AND id NOT IN (SELECT id FROM builds WHERE component_id = ?1 ORDER BY id DESC"
                " LIMIT ?2) ORDER BY id",
                SQL_ARGS(SQL_INT(component_id), SQL_INT(keep)), &ids, &n);
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = sqlite_run(db, "DELETE FROM builds WHERE id = ?1", SQL_ARGS(SQL_INT(ids[i])));
        r = sqlite_end(db, r);
        if (r < 0)
                return r;
        if (ret_ids)
                *ret_ids = TAKE_PTR(ids);
        if (ret_n)
                *ret_n = n;
        return 0;
}

int model_build_steps_list(sqlite3 *db, int64_t build_id, ModelBuildStep **ret, size_t *ret_n) {
        return sqlite_list(
                db, &step_row,
                "SELECT build_id, position, name, status, message, coalesce(started_at, 0),"
                " coalesce(finished_at, 0) FROM build_steps WHERE build_id = ?1 ORDER BY position",
                SQL_ARGS(SQL_INT(build_id)), ret, ret_n);
}

int model_build_step_set(sqlite3 *db, int64_t build_id, int64_t position, const char *status,
                         const char *message) {
        bool running = streq(status, MODEL_STEP_RUNNING);
        bool final = !running && !streq(status, MODEL_STEP_PENDING);
        int64_t now = sqlite_now_usec();

        return sqlite_run_one(db,
                              "UPDATE build_steps SET status = ?3, message = ?4,"
                              " started_at = CASE WHEN ?5 THEN ?7 ELSE started_at END,"
                              " finished_at = CASE WHEN ?6 THEN ?7 ELSE finished_at END"
                              " WHERE build_id = ?1 AND position = ?2",
                              SQL_ARGS(SQL_INT(build_id), SQL_INT(position), SQL_TEXT(status),
                                       SQL_TEXT(message), SQL_INT(running), SQL_INT(final), SQL_INT(now)));
}

int model_webhook_get(sqlite3 *db, int64_t component_id, char **ret_hook_id) {
        return sqlite_get(db, &sqlite_text_row, "SELECT hook_id FROM webhooks WHERE component_id = ?1",
                          SQL_ARGS(SQL_INT(component_id)), ret_hook_id);
}

int model_webhook_set(sqlite3 *db, int64_t component_id, const char *hook_id) {
        return sqlite_run(db,
                          "INSERT INTO webhooks(component_id, hook_id, created_at) VALUES (?1, ?2, ?3)"
                          " ON CONFLICT(component_id) DO UPDATE SET hook_id = excluded.hook_id,"
                          " created_at = excluded.created_at",
                          SQL_ARGS(SQL_INT(component_id), SQL_TEXT(hook_id), SQL_INT(sqlite_now_sec())));
}

int model_webhook_lookup(sqlite3 *db, const char *hook_id, int64_t *ret_component_id) {
        return sqlite_get(db, &sqlite_int64_row, "SELECT component_id FROM webhooks WHERE hook_id = ?1",
                          SQL_ARGS(SQL_TEXT(hook_id)), ret_component_id);
}

int model_webhook_delivery_record(sqlite3 *db, int64_t component_id, const char *delivery_id,
                                  int64_t build_id) {
        int r = sqlite_run(db,
                           "INSERT INTO webhook_deliveries(component_id, delivery_id, received_at, build_id)"
                           " VALUES (?1, ?2, ?3, nullif(?4, 0)) ON CONFLICT DO NOTHING",
                           SQL_ARGS(SQL_INT(component_id), SQL_TEXT(delivery_id), SQL_INT(sqlite_now_sec()),
                                    SQL_INT(build_id)));
        if (r < 0)
                return r;
        return r > 0 ? 1 : 0;
}

static int delivery_build_locked(sqlite3 *db, const char *delivery_id, const ModelBuildNew *b,
                                 ModelBuild *ret, bool *ret_existing, int64_t *ret_build_id) {
        int64_t seen;
        int r;

        r = sqlite_get(db, &sqlite_int64_row,
                       "SELECT coalesce(build_id, 0) FROM webhook_deliveries"
                       " WHERE component_id = ?1 AND delivery_id = ?2",
                       SQL_ARGS(SQL_INT(b->component_id), SQL_TEXT(delivery_id)), &seen);
        if (r >= 0) {
                *ret_build_id = seen;
                return 0;
        }
        if (r != -ENOENT)
                return r;
        r = build_create_locked(db, b, ret, ret_existing);
        if (r < 0)
                return r;
        r = model_webhook_delivery_record(db, b->component_id, delivery_id, ret->id);
        if (r < 0)
                return r;
        *ret_build_id = ret->id;
        return 1;
}

int model_webhook_delivery_build(sqlite3 *db, const char *delivery_id, const ModelBuildNew *b,
                                 ModelBuild *ret, bool *ret_existing, int64_t *ret_build_id) {
        _cleanup_(model_build_done) ModelBuild row = {};
        bool existing = false;
        int64_t build_id = 0;
        int r, k;

        r = sqlite_begin(db);
        if (r < 0)
                return r;
        k = sqlite_end(db, delivery_build_locked(db, delivery_id, b, &row, &existing, &build_id));
        if (k < 0)
                return k;
        if (ret_existing)
                *ret_existing = existing;
        if (ret_build_id)
                *ret_build_id = build_id;
        if (ret) {
                *ret = row;
                row = (ModelBuild) {};
        }
        return k;
}

int model_source_host_key_get(sqlite3 *db, const char *host, char **ret_key) {
        return sqlite_get(db, &sqlite_text_row, "SELECT key FROM source_host_keys WHERE host = ?1",
                          SQL_ARGS(SQL_TEXT(host)), ret_key);
}

int model_source_host_key_set(sqlite3 *db, const char *host, const char *key) {
        return sqlite_run(
                db,
                "INSERT INTO source_host_keys(host, key, pinned_at) VALUES (?1, ?2, ?3)"
                " ON CONFLICT(host) DO UPDATE SET key = excluded.key, pinned_at = excluded.pinned_at",
                SQL_ARGS(SQL_TEXT(host), SQL_TEXT(key), SQL_INT(sqlite_now_sec())));
}

int model_source_host_key_unset(sqlite3 *db, const char *host) {
        return sqlite_run(db, "DELETE FROM source_host_keys WHERE host = ?1", SQL_ARGS(SQL_TEXT(host)));
}
