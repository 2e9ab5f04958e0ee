/* Builds of git components in slipway.db (migration 6): the persisted queue and history of the pipeline,
 * and each build's steps.  Rows are owned by the caller (model_build_done/_free). */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* builds.status */
#define MODEL_BUILD_QUEUED "queued"
#define MODEL_BUILD_RUNNING "running"
#define MODEL_BUILD_SUCCEEDED "succeeded"
#define MODEL_BUILD_FAILED "failed"
#define MODEL_BUILD_CANCELLED "cancelled"

/* builds.trigger */
#define MODEL_BUILD_TRIGGER_MANUAL "manual"
#define MODEL_BUILD_TRIGGER_WEBHOOK "webhook"
#define MODEL_BUILD_TRIGGER_POLL "poll"

/* build_steps.status */
#define MODEL_STEP_PENDING "pending"
#define MODEL_STEP_RUNNING "running"
#define MODEL_STEP_SUCCEEDED "succeeded"
#define MODEL_STEP_FAILED "failed"
#define MODEL_STEP_SKIPPED "skipped"
#define MODEL_STEP_CANCELLED "cancelled"

typedef struct ModelBuild {
        int64_t id;
        int64_t component_id;
        char *project_name, *component_name; /* joined */
        char *commit_sha;                    /* full hex id; NULL before it was resolved */
        char *branch;                        /* NULL when the build named a commit */
        char *settings;                      /* JSON of what the build used: url, dir, dockerfile */
        char *settings_hash;
        char *status;  /* MODEL_BUILD_* */
        char *trigger; /* MODEL_BUILD_TRIGGER_* */
        char *requested_by;
        bool deploy;
        char *commit_subject, *commit_author;
        int64_t commit_time;
        char *image_digest, *image_ref; /* set once stored */
        char *pushed_ref;               /* host[:port]/project/component:tag@digest once pushed; NULL */
        int64_t release_id;             /* 0: none */
        char *reason;                   /* why it failed or was cancelled; NULL */
        bool cancel_requested;
        int64_t created_at, started_at, finished_at; /* seconds; 0 = not yet */
} ModelBuild;

typedef struct ModelBuildStep {
        int64_t build_id;
        int64_t position;                /* 0-based */
        char *name;                      /* PIPELINE_STEP_* names, e.g. "fetch" */
        char *status;                    /* MODEL_STEP_* */
        char *message;                   /* one line: what it did or why it failed; NULL */
        int64_t started_at, finished_at; /* microseconds; 0 = not yet */
} ModelBuildStep;

void model_build_done(ModelBuild *b);
void model_builds_free(ModelBuild *b, size_t n);
void model_build_step_done(ModelBuildStep *s);
void model_build_steps_free(ModelBuildStep *s, size_t n);

/* What a new build is; commit_sha may be NULL (resolved by the pipeline's fetch step). */
typedef struct ModelBuildNew {
        int64_t component_id;
        const char *commit_sha, *branch;
        const char *settings, *settings_hash;
        const char *trigger, *requested_by;
        bool deploy;
        const char *commit_subject, *commit_author;
        int64_t commit_time;
        const char *const *steps; /* NULL-terminated step names, inserted as pending */
} ModelBuildNew;

/* In one transaction: when a queued, running or succeeded build of (component, commit, settings_hash)
 * exists, *ret is it and *ret_existing true (with b->deploy set, a succeeded build not yet deployed is not
 * changed: the caller deploys its image); else inserts a queued build with its pending steps.  ret_existing
 * may be NULL. */
int model_build_create(sqlite3 *db, const ModelBuildNew *b, ModelBuild *ret, bool *ret_existing);
int model_build_get(sqlite3 *db, int64_t id, ModelBuild *ret);
/* The build of (component, commit prefix or full id, settings_hash) in status queued, running or succeeded,
 * newest first; -ENOENT when none. */
int model_build_find(sqlite3 *db, int64_t component_id, const char *commit_prefix, const char *settings_hash,
                     ModelBuild *ret);
/* Newest first. */
int model_build_list(sqlite3 *db, int64_t component_id, ModelBuild **ret, size_t *ret_n);
int model_build_list_by_status(sqlite3 *db, const char *status, ModelBuild **ret, size_t *ret_n);
/* The newest succeeded build of the component; -ENOENT when none. */
int model_build_latest_succeeded(sqlite3 *db, int64_t component_id, ModelBuild *ret);
/* The oldest queued build whose component has no running build; -ENOENT when none.  Claims it (status
 * running, started_at now) in the same transaction. */
int model_build_claim_next(sqlite3 *db, ModelBuild *ret);
int model_build_set_status(sqlite3 *db, int64_t id, const char *status, const char *reason);
int model_build_set_commit(sqlite3 *db, int64_t id, const char *sha, const char *subject, const char *author,
                           int64_t time);
int model_build_set_image(sqlite3 *db, int64_t id, const char *digest, const char *ref);
int model_build_set_pushed_ref(sqlite3 *db, int64_t id, const char *ref);
int model_build_set_release(sqlite3 *db, int64_t id, int64_t release_id);
int model_build_request_cancel(sqlite3 *db, int64_t id);
/* A queued or running build asked for again with deploy: it deploys when it succeeds (-ENOENT once ended). */
int model_build_request_deploy(sqlite3 *db, int64_t id);
/* A queued build cancelled before it ran: status cancelled with reason, its steps cancelled; 0 also when it
 * was no longer queued (a worker claimed it: pipeline_cancel() stops it). */
int model_build_cancel_queued(sqlite3 *db, int64_t id, const char *reason);
/* Deletes the component's builds beyond the newest keep (never a queued or running one); *ret_ids (may be
 * NULL) gets the ids deleted so the caller removes DIR/builds/<id>/. */
int model_build_prune(sqlite3 *db, int64_t component_id, int64_t keep, int64_t **ret_ids, size_t *ret_n);

int model_build_steps_list(sqlite3 *db, int64_t build_id, ModelBuildStep **ret, size_t *ret_n);
int model_build_step_set(sqlite3 *db, int64_t build_id, int64_t position, const char *status,
                         const char *message);

/* Webhooks: the unguessable id per component (created on first use), and delivery ids seen. */
int model_webhook_get(sqlite3 *db, int64_t component_id, char **ret_hook_id);
int model_webhook_set(sqlite3 *db, int64_t component_id, const char *hook_id);
int model_webhook_lookup(sqlite3 *db, const char *hook_id, int64_t *ret_component_id);
/* 1 when (component, delivery) was new and is now recorded, 0 when it was seen before. */
int model_webhook_delivery_record(sqlite3 *db, int64_t component_id, const char *delivery_id,
                                  int64_t build_id);
/* A webhook delivery that asks for a build, in one transaction: when (b->component_id, delivery_id) was
 * seen before, nothing is written and it returns 0 with *ret_build_id the build that delivery made (0: none
 * known); else records the delivery, creates the build as model_build_create() does (*ret, *ret_existing),
 * points the delivery at it and returns 1.  So a redelivered push is never built twice, even when two
 * deliveries race. */
int model_webhook_delivery_build(sqlite3 *db, const char *delivery_id, const ModelBuildNew *b,
                                 ModelBuild *ret, bool *ret_existing, int64_t *ret_build_id);

/* ssh host keys pinned on first use, by "host:port". */
int model_source_host_key_get(sqlite3 *db, const char *host, char **ret_key);
int model_source_host_key_set(sqlite3 *db, const char *host, const char *key);
/* Forgets the pin: the next fetch pins what the server shows. */
int model_source_host_key_unset(sqlite3 *db, const char *host);
