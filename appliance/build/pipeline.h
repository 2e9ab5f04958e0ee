/* The build pipeline of git components: a persisted queue (the builds table) worked by a few threads of
 * slipwayd, each build one commit of one component run through its steps
 *   fetch → checkout → descriptor → image → scan → store → push → update → deploy
 * each persisted with status, times and its own log DIR/builds/<id>/<position>-<name>.log, and the whole
 * build's log DIR/builds/<id>/build.log (every step's lines, in order).
 *
 * Invariants: a build's workspace (DIR/builds/<id>/work) is gone when the build ends, whatever way; nothing is
 * tagged unless the image step succeeded; a build found running at start (slipwayd was killed) is marked
 * failed with that reason, its workspace removed and any tag it made without finishing removed; queued
 * builds then run in order.  At most `concurrency` builds run at once, one per component. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "builder.h"
#include "image-catalog.h"
#include "macro.h"
#include "vault.h"

#define PIPELINE_CONCURRENCY_DEFAULT 1U
#define PIPELINE_TIMEOUT_DEFAULT_SEC (30U * 60U) /* a whole build */
#define PIPELINE_BUILDS_KEEP_DEFAULT 20          /* = components.builds_keep's default */
#define PIPELINE_BUILDS_KEEP_MAX 1000

/* Step names, in order (build_steps.name, log file names, `build logs --step`). */
#define PIPELINE_STEP_FETCH "fetch"
#define PIPELINE_STEP_CHECKOUT "checkout"
#define PIPELINE_STEP_DESCRIPTOR "descriptor"
#define PIPELINE_STEP_IMAGE "image"
#define PIPELINE_STEP_SCAN "scan"
#define PIPELINE_STEP_STORE "store"
#define PIPELINE_STEP_PUSH \
        "push" /* to the project's registry (project set --push-to); skipped without one */
#define PIPELINE_STEP_UPDATE "update"
#define PIPELINE_STEP_DEPLOY "deploy"
extern const char *const pipeline_steps[]; /* the above, NULL-terminated */

/* A component's git source (components.source JSON). */
typedef struct PipelineSource {
        char *url;         /* absolute path, file://, git://, http(s)://, ssh:// */
        char *branch;      /* default "main" */
        char *dir;         /* sub-directory of the component in the repository; "" = the top */
        char *dockerfile;  /* relative to dir; default "Dockerfile" */
        uint64_t poll_sec; /* 0: no polling */
} PipelineSource;

void pipeline_source_done(PipelineSource *s);
/* Parses components.source.  -EINVAL on a malformed document. */
int pipeline_source_parse(const char *json, PipelineSource *ret);
/* Checks a source before it is saved: a URL Slipway fetches (a local path must be a directory), a branch
 * name git allows, dir and dockerfile relative without "..", poll 0 or within the limits.  -EINVAL with one
 * sentence in *ret_error. */
#define PIPELINE_POLL_MIN_SEC 10U
#define PIPELINE_POLL_MAX_SEC (7U * 24U * 3600U)
int pipeline_source_check(const PipelineSource *s, char **ret_error);
/* "host:port" of an ssh URL (ssh://[user@]host[:port]/path, or scp-like [user@]host:path: port 22), the key
 * its pinned host key is kept under; -EINVAL for another URL. */
int pipeline_ssh_host(const char *url, char *buf, size_t size);
/* components.source JSON of s. */
int pipeline_source_format(const PipelineSource *s, char **ret_json);
/* The settings JSON and its sha256 hex that make a build's identity together with the commit. */
int pipeline_settings(const PipelineSource *s, char **ret_json, char **ret_hash);

typedef struct PipelineConfig {
        const char *state_dir;
        const char *db_path;
        ImageCatalog *catalog;
        Builder *builder;
        Vault *vault;
        unsigned concurrency;   /* 0: PIPELINE_CONCURRENCY_DEFAULT */
        uint64_t timeout_usec;  /* a whole build; 0: PIPELINE_TIMEOUT_DEFAULT_SEC */
        const char *local_root; /* local-path and file:// remotes must be under it; NULL: any path */
        /* Wakes the engine after the deploy step wrote a pending release. */
        void (*wake_engine)(void *userdata);
        void *wake_userdata;
} PipelineConfig;

typedef struct Pipeline Pipeline;

/* Recovers what a killed daemon left (see the invariants) and starts the worker threads. */
int pipeline_new(const PipelineConfig *cfg, Pipeline **ret);
/* Cancels running builds (they end as failed: "slipwayd stopped") and joins the threads. */
Pipeline *pipeline_free(Pipeline *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(Pipeline *, pipeline_free);

/* Thread-safe: a build was queued (a row written), look at the queue now. */
void pipeline_wake(Pipeline *p);
/* Thread-safe: the build's cancel_requested was set; a running build stops (its RUN container is killed)
 * and ends as cancelled.  A queued one is marked cancelled by the caller's row update. */
void pipeline_cancel(Pipeline *p, int64_t build_id);

/* The git mirror for a source (DIR/git/), opened with the component's credentials from the vault, fetched
 * for branch and the commit resolved: for API handlers that must know a commit before queueing.  One
 * sentence in *ret_error (never a credential).  -EHOSTUNREACH, -ENOENT (branch or commit), -EACCES (auth),
 * -EINVAL (URL), -EPERM (local path outside local_root). */
typedef struct SourceCommit SourceCommit;
int pipeline_resolve(Pipeline *p, int64_t component_id, const PipelineSource *src, const char *commit,
                     const char *branch, SourceCommit *ret, char **ret_error, char **ret_hint);
/* The newest commits of branch (NULL: the source's) in the component's mirror, at most max
 * (≤ SOURCE_LOG_MAX), freed with source_commits_free(); fetched first with fetch (or when the mirror lacks
 * the branch), else read as the last fetch left it.  Errors as pipeline_resolve(). */
int pipeline_history(Pipeline *p, int64_t component_id, const PipelineSource *src, const char *branch,
                     bool fetch, size_t max, SourceCommit **ret, size_t *ret_n, char **ret_error,
                     char **ret_hint);

/* What the descriptor step read, kept as DIR/builds/<id>/descriptor.json, and an endpoint's schema file
 * DIR/builds/<id>/schemas/<endpoint> (-EINVAL for a name that is not one path segment). */
#define PIPELINE_DESCRIPTOR_FILE "descriptor.json"
#define PIPELINE_SBOM_FILE "sbom.json" /* the scan step's SBOM of the built image (CycloneDX 1.5) */
#define PIPELINE_SCAN_FILE "scan.json" /* its findings against the vulnerability database */
#define PIPELINE_SCHEMA_MAX (4U * 1024U * 1024U)
int pipeline_schema_path(const char *state_dir, int64_t build_id, const char *endpoint, char **ret);

/* DIR/builds/<id>/ and the log file of a step (NULL: build.log). */
int pipeline_log_path(const char *state_dir, int64_t build_id, const char *step, char **ret);
