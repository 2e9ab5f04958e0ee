/* Promotion approvals in slipway.db (issue 14): a developer's promotion into a protected environment, kept
 * as a request until an admin approves or rejects it.  Invariant: a request is decided at most once (every
 * decision is a conditional update of a pending row), and at most one is pending per (component, from, to,
 * image digest).  Rows are owned by the caller (model_approval_done/_free). */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MODEL_APPROVAL_PENDING "pending"
#define MODEL_APPROVAL_APPROVED "approved"
#define MODEL_APPROVAL_REJECTED "rejected"
#define MODEL_APPROVAL_FAILED "failed"

typedef struct ModelApproval {
        int64_t id;
        int64_t project_id, component_id, from_environment_id, to_environment_id;
        char *project_name, *component_name, *from_environment, *to_environment; /* joined */
        char *image_digest;
        int64_t source_release_id; /* the release live in the source environment at request time */
        char *requested_by;
        int64_t requested_at; /* seconds since the epoch */
        char *status;         /* MODEL_APPROVAL_* */
        char *decided_by;     /* NULL while pending */
        int64_t decided_at;   /* 0 while pending */
        char *reason;         /* a rejection's or a failure's sentence, NULL when none */
        int64_t release_id;   /* the release an approval made, 0: none */
        char *release_status; /* that release's status now, NULL when none (or pruned) */
} ModelApproval;

void model_approval_done(ModelApproval *a);
void model_approvals_free(ModelApproval *a, size_t n);

/* Records a pending request.  When an identical one (same component, environments and digest) is pending
 * already, that one is returned and *ret_existing (may be NULL) set: a second ask adds nothing. */
int model_approval_request(sqlite3 *db, int64_t component_id, int64_t from_environment_id,
                           int64_t to_environment_id, const char *image_digest, int64_t source_release_id,
                           const char *requested_by, ModelApproval *ret, bool *ret_existing);
/* -ENOENT when there is no such request. */
int model_approval_get(sqlite3 *db, int64_t id, ModelApproval *ret);
/* Requests a list shows at most. */
#define MODEL_APPROVALS_LIST_MAX 1000
/* Pending requests first (oldest first), then with all the decided ones (newest decision first). */
int model_approval_list(sqlite3 *db, bool all, ModelApproval **ret, size_t *ret_n);
/* Decides a pending request: status MODEL_APPROVAL_APPROVED (with the release it made), _REJECTED or
 * _FAILED (with reason; NULL: none).  -EALREADY when it is no longer pending, -ENOENT when it does not
 * exist.  Runs inside the caller's transaction when there is one, so an approval and the release it makes
 * are written together. */
int model_approval_decide(sqlite3 *db, int64_t id, const char *status, const char *decided_by,
                          const char *reason, int64_t release_id);
