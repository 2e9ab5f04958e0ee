/* Releases in slipway.db: one image digest and spec deployed to one (component, environment), with
 * its status and, once finished, when.  Rows are owned by the caller (model_release_done/_free). */
#pragma once

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* Release statuses (releases.status). */
#define MODEL_RELEASE_PENDING "pending"
#define MODEL_RELEASE_DEPLOYING "deploying"
#define MODEL_RELEASE_LIVE "live"
#define MODEL_RELEASE_FAILED "failed"
#define MODEL_RELEASE_SUPERSEDED "superseded"
/* The bake window saw it fail after the swap: the previous release took the traffic back. */
#define MODEL_RELEASE_ROLLED_BACK "rolled-back"

/* Where a release came from (releases.origin); source_release_id names the release promoted from or rolled
 * back to. */
#define MODEL_RELEASE_ORIGIN_DEPLOY "deploy"
#define MODEL_RELEASE_ORIGIN_PROMOTE "promote"
#define MODEL_RELEASE_ORIGIN_ROLLBACK "rollback"

typedef struct ModelRelease {
        int64_t id;
        int64_t component_id;
        int64_t environment_id;
        char *environment_name;
        char *image_digest;
        char *spec;
        char *status;
        char *reason; /* NULL when none */
        int64_t created_at;
        int64_t finished_at;       /* 0 while not finished */
        char *origin;              /* MODEL_RELEASE_ORIGIN_* */
        int64_t source_release_id; /* 0 when none */
        char *bake;                /* JSON of the bake window's outcome, NULL when none */
} ModelRelease;

void model_release_done(ModelRelease *r);
void model_releases_free(ModelRelease *r, size_t n);

/* A new release in status "pending" with origin deploy; ret_id may be NULL.  Releases a person asks for
 * are made by release_create() (appliance/deploy/release-create.h), which also checks and pins values. */
int model_release_create(sqlite3 *db, int64_t component_id, int64_t environment_id, const char *image_digest,
                         const char *spec_json, int64_t *ret_id);
/* The same with its origin and source release (0: none). */
int model_release_create_from(sqlite3 *db, int64_t component_id, int64_t environment_id,
                              const char *image_digest, const char *spec_json, const char *origin,
                              int64_t source_release_id, int64_t *ret_id);
int model_release_get(sqlite3 *db, int64_t id, ModelRelease *ret);
/* Sets status and reason (NULL clears it).  The one finished_at rule: set (seconds) the first time a
 * release reaches live, failed, superseded or rolled-back, and kept from then on; NULL in any other
 * status. */
int model_release_set_status(sqlite3 *db, int64_t id, const char *status, const char *reason);
/* Newest first; environment_id 0 = every environment. */
int model_release_list(sqlite3 *db, int64_t component_id, int64_t environment_id, ModelRelease **ret,
                       size_t *ret_n);
/* Every release in a status (e.g. pending, for the engine's reconcile), oldest first. */
int model_release_list_by_status(sqlite3 *db, const char *status, ModelRelease **ret, size_t *ret_n);
/* The newest live release of (component, environment); -ENOENT when none. */
int model_release_get_live(sqlite3 *db, int64_t component_id, int64_t environment_id, ModelRelease *ret);

/* The live release(s) of (component, environment) become superseded (finished_at as above). */
int model_release_supersede_live(sqlite3 *db, int64_t component_id, int64_t environment_id);
/* Every release in status becomes failed with reason (at recovery: deploys a killed daemon left). */
int model_release_fail_all(sqlite3 *db, const char *status, const char *reason);

/* The newest release of (component, environment) before before_id that was live and was superseded by a
 * later one (status superseded): what a rollback goes back to by default; -ENOENT when none. */
int model_release_get_previous_live(sqlite3 *db, int64_t component_id, int64_t environment_id,
                                    int64_t before_id, ModelRelease *ret);

/* Deletes the releases of (component, environment) older than its newest keep, except one live, pending or
 * deploying, or with an instance not stopped or failed (their deploy log and instance rows cascade).  The
 * directories of the deleted instances go into *ret_dirs (may be NULL) for the caller to remove once the
 * transaction has committed.  Returns how many releases were deleted. */
int model_release_prune(sqlite3 *db, int64_t component_id, int64_t environment_id, unsigned keep,
                        char ***ret_dirs, size_t *ret_n_dirs);

/* The gc roots releases add are listed by release_image_digests() (image-db.h). */
