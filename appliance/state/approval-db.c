/* approvals rows, read with the names of their project, component and environments and the status of the
 * release an approval made.  Decisions are `UPDATE … WHERE status = 'pending'`, so two admins deciding at
 * once cannot both win; the partial unique index keeps one pending request per identical promotion. */
#include "approval-db.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite-util.h"


#define SELECT_APPROVAL                                                                                       \
        "SELECT a.id, a.project_id, a.component_id, a.from_environment_id, a.to_environment_id, p.name,"      \
        " c.name, fe.name, te.name, a.image_digest, a.source_release_id, a.requested_by, a.requested_at,"     \
        " a.status, a.decided_by, ifnull(a.decided_at, 0), a.reason, ifnull(a.release_id, 0), r.status"       \
        " FROM approvals a JOIN projects p ON p.id = a.project_id JOIN components c ON c.id = a.component_id" \
        " JOIN environments fe ON fe.id = a.from_environment_id"                                              \
        " JOIN environments te ON te.id = a.to_environment_id LEFT JOIN releases r ON r.id = a.release_id"

static const SqliteField approval_fields[] = {
        SQL_FIELD(ModelApproval, id),
        SQL_FIELD(ModelApproval, project_id),
        SQL_FIELD(ModelApproval, component_id),
        SQL_FIELD(ModelApproval, from_environment_id),
        SQL_FIELD(ModelApproval, to_environment_id),
        SQL_FIELD(ModelApproval, project_name),
        SQL_FIELD(ModelApproval, component_name),
        SQL_FIELD(ModelApproval, from_environment),
        SQL_FIELD(ModelApproval, to_environment),
        SQL_FIELD(ModelApproval, image_digest),
        SQL_FIELD(ModelApproval, source_release_id),
        SQL_FIELD(ModelApproval, requested_by),
        SQL_FIELD(ModelApproval, requested_at),
        SQL_FIELD(ModelApproval, status),
        SQL_FIELD(ModelApproval, decided_by),
        SQL_FIELD(ModelApproval, decided_at),
        SQL_FIELD(ModelApproval, reason),
        SQL_FIELD(ModelApproval, release_id),
        SQL_FIELD(ModelApproval, release_status),
};
static const SqliteRowType approval_row = SQL_ROW_TYPE(ModelApproval, approval_fields);
SQL_DEFINE_ROW_FUNCS(ModelApproval, approval_row, model_approval_done, model_approvals_free);

int model_approval_get(sqlite3 *db, int64_t id, ModelApproval *ret) {
        return sqlite_get(db, &approval_row, SELECT_APPROVAL " WHERE a.id = ?1", SQL_ARGS(SQL_INT(id)), ret);
}

static int find_pending(sqlite3 *db, int64_t component_id, int64_t from_id, int64_t to_id,
                        const char *digest, ModelApproval *ret) {
        return sqlite_get(
                db, &approval_row,
                SELECT_APPROVAL " WHERE a.status = 'pending' AND a.component_id = ?1"
                                " AND a.from_environment_id = ?2 AND a.to_environment_id = ?3"
                                " AND a.image_digest = ?4",
                SQL_ARGS(SQL_INT(component_id), SQL_INT(from_id), SQL_INT(to_id), SQL_TEXT(digest)), ret);
}

static int request_in_transaction(sqlite3 *db, int64_t component_id, int64_t from_id, int64_t to_id,
                                  const char *digest, int64_t source_release_id, const char *requested_by,
                                  int64_t *ret_id, bool *ret_existing) {
        _cleanup_(model_approval_done) ModelApproval old = {};
        int r;

        r = find_pending(db, component_id, from_id, to_id, digest, &old);
        if (r >= 0) {
                *ret_id = old.id;
                *ret_existing = true;
                return 0;
        }
        if (r != -ENOENT)
                return r;
        r = sqlite_run(
                db,
                "INSERT INTO approvals(project_id, component_id, from_environment_id, to_environment_id,"
                " image_digest, source_release_id, requested_by, requested_at)"
                " SELECT c.project_id, c.id, ?2, ?3, ?4, ?5, ?6, ?7 FROM components c WHERE c.id = ?1",
                SQL_ARGS(SQL_INT(component_id), SQL_INT(from_id), SQL_INT(to_id), SQL_TEXT(digest),
                         SQL_INT(source_release_id), SQL_TEXT(requested_by), SQL_INT(sqlite_now_sec())));
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT; /* no such component */
        *ret_id = sqlite3_last_insert_rowid(db);
        *ret_existing = false;
        return 0;
}

int model_approval_request(sqlite3 *db, int64_t component_id, int64_t from_environment_id,
                           int64_t to_environment_id, const char *image_digest, int64_t source_release_id,
                           const char *requested_by, ModelApproval *ret, bool *ret_existing) {
        bool existing = false;
        int64_t id = 0;
        int r;

        r = sqlite_begin(db);
        if (r < 0)
                return r;
        r = sqlite_end(db, request_in_transaction(db, component_id, from_environment_id, to_environment_id,
                                                  image_digest, source_release_id, requested_by, &id,
                                                  &existing));
        if (r < 0)
                return r;
        if (ret_existing)
                *ret_existing = existing;
        return ret ? model_approval_get(db, id, ret) : 0;
}

int model_approval_list(sqlite3 *db, bool all, ModelApproval **ret, size_t *ret_n) {
        return sqlite_list(db, &approval_row,
                           SELECT_APPROVAL
                           " WHERE a.status = 'pending' OR ?1"
                           " ORDER BY a.status != 'pending',"
                           " CASE WHEN a.status = 'pending' THEN a.id ELSE -a.decided_at END,"
                           " a.id DESC LIMIT ?2",
                           SQL_ARGS(SQL_INT(all), SQL_INT(MODEL_APPROVALS_LIST_MAX)), ret, ret_n);
}

int model_approval_decide(sqlite3 *db, int64_t id, const char *status, const char *decided_by,
                          const char *reason, int64_t release_id) {
        unsigned n;
        int r;

        r = sqlite_run(db,
                       "UPDATE approvals SET status = ?2, decided_by = ?3, decided_at = ?4, reason = ?5,"
                       " release_id = nullif(?6, 0) WHERE id = ?1 AND status = 'pending'",
                       SQL_ARGS(SQL_INT(id), SQL_TEXT(status), SQL_TEXT(decided_by),
                                SQL_INT(sqlite_now_sec()), SQL_TEXT(reason), SQL_INT(release_id)));
        if (r < 0)
                return r;
        if (r > 0)
                return 0;
        r = sqlite_count(db, "SELECT count(*) FROM approvals WHERE id = ?1", SQL_ARGS(SQL_INT(id)), &n);
        if (r < 0)
                return r;
        return n > 0 ? -EALREADY : -ENOENT;
}
