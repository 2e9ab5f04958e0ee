/* The Dockerfile builder (executor): runs the stages a target needs, RUN steps under systemd-nspawn over an
 * overlay of the stage's cached layers, COPY/ADD into staging layers, and writes the OCI image into the store.
 *
 * Invariant: whatever way builder_run() ends (success, error, cancel, timeout) it leaves no mounts, no
 * running containers and no temp dirs; nothing is tagged unless the whole build succeeded. */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "digest.h"
#include "image-catalog.h"
#include "macro.h"
#include "oci-store.h"

#define BUILD_TIMEOUT_DEFAULT_USEC \
        (3600ULL * 1000000ULL)   /* whole build, when BuildOptions.timeout_usec = 0 */
#define BUILD_ARGS_MAX 1024U     /* --build-arg entries */
#define BUILD_LOG_LINE_MAX 8192U /* a longer output line is split */

/* A line sink: builder_log() writes "text\n" to an fd (may be -1: discarded). Thread-safe per log. */
typedef struct BuildLog BuildLog;
void builder_log(BuildLog *log, const char *fmt, ...) _printf_(2, 3);

/* A build secret for RUN --mount=type=secret,id=ID: its bytes reach only the RUN steps that mount it (a file
 * on a tmpfs, never a layer, the config, the history, the log or a cache key); borrowed for the build. */
typedef struct BuildSecret {
        const char *id;
        const uint8_t *data;
        size_t size;
} BuildSecret;

#define BUILD_SECRETS_MAX 64U              /* secrets per build */
#define BUILD_SECRET_SIZE_MAX (500U << 10) /* bytes per secret (BuildKit's limit is 500 KiB) */

/* One running build; cancellable from another thread. */
typedef struct BuildJob BuildJob;

typedef struct BuildOptions {
        const char *context_dir; /* extracted build context (daemon side), already .dockerignore-filtered */
        const char *dockerfile;  /* path relative to context_dir; NULL: "Dockerfile" */
        char *const *build_args; /* "K=V", NULL-terminated; may be NULL */
        const char *target;      /* stage name or index, or NULL: the last stage */
        bool no_cache;
        const char *tag; /* ref to tag the result with (normalised here), or NULL */
        char *const
                *labels; /* "K=V" set on the final image (over its LABELs), NULL-terminated; may be NULL */
        int log_fd;      /* build output, line by line, as it happens; -1: none */
        uint64_t timeout_usec;      /* whole build; 0: BUILD_TIMEOUT_DEFAULT_USEC */
        uint64_t memory_max;        /* bytes per RUN step, where the host allows; 0: none */
        const BuildSecret *secrets; /* n_secrets of them, ids unique; may be NULL */
        size_t n_secrets;
        BuildJob *job; /* optional, caller-owned (build_job_new): cancel it from any thread at any
                                   * time until build_job_free(); a job cancelled before builder_run() starts
                                   * makes it return -ECANCELED at once. NULL: builder_run() makes its own. */
} BuildOptions;

typedef struct BuildResult {
        char digest[DIGEST_STRING_MAX]; /* manifest digest */
        char *ref;                      /* normalised tag, or NULL when none was given */
        unsigned steps;                 /* instructions executed or looked up (FROM lines not counted) */
        unsigned cached_steps;          /* of those, cache hits */
} BuildResult;

void build_result_done(BuildResult *r);

/* What went wrong, for the user: message is one sentence; hint what to do (may be empty); file/line/column
 * the Dockerfile position when known (line 0: none). */
typedef struct BuildError {
        char message[512];
        char hint[256];
        char file[256];
        unsigned line, column;
} BuildError;

typedef struct Builder Builder;

/* state_dir: the daemon's state dir (temp dirs go to state_dir/builds/tmp-<id>/). The catalog gives the
 * store, the db (with its lock) and the layers dir; all three are borrowed and must outlive the builder. */
int builder_new(const char *state_dir, ImageCatalog *catalog, Builder **ret);
Builder *builder_free(Builder *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(Builder *, builder_free);

int build_job_new(BuildJob **ret);
BuildJob *build_job_free(BuildJob *job);
DEFINE_TRIVIAL_CLEANUP_FUNC(BuildJob *, build_job_free);

/* Builds. Returns 0 and fills ret, or a negative errno with err filled: -EBADMSG (bad Dockerfile or
 * instruction), -ENOENT (missing base image / source file), -ECANCELED (build_job_cancel), -ETIME (timeout),
 * -EPROTO (a RUN step exited non-zero), others for internal failures.
 * ret_job (may be NULL) is set before any work starts to opts->job or to a job of builder_run()'s own, which
 * is valid only until builder_run() returns (prefer opts->job: it has no such race). Several builds may run
 * concurrently on one Builder from different threads. */
int builder_run(Builder *b, const BuildOptions *opts, BuildJob **ret_job, BuildResult *ret, BuildError *err);

/* Kills the running step's container; builder_run() then returns -ECANCELED soon and leaves no mounts or
 * temp dirs. Safe to call from any thread, several times, while the job exists. */
int build_job_cancel(BuildJob *job);

/* Removes the build cache rows whose layer blobs are no longer in the store (call after image gc), and
 * temp dirs of builds that died (only when no build runs, e.g. at daemon start). Returns rows removed. */
int builder_cache_prune(Builder *b);
/* Removes the dirs in DIR/builds that builds killed midway left (unmounting what they left mounted), counting
 * them into stats; a dry run only counts.  Safe while builds run: each claims its dirs (temp-claim.h). */
int builder_sweep_temp(const char *state_dir, bool dry_run, TempSweepStats *stats);
