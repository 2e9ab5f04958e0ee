/* Internal: the state one builder_run() carries through its steps (options, log, cancel/timeout, temp dir),
 * shared by builder.c and the step executors (build-run.c, build-copy.c, build-image.c, build-cache.c).
 * Invariant: everything a step creates lives under ctx->tmp_dir, which builder_run() removes at the end. */
#pragma once

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "builder.h"
#include "dockerfile-expand.h"
#include "dockerfile-parser.h"
#include "scrub.h"

struct Builder {
        char *state_dir;
        char *builds_dir; /* state_dir/builds */
        ImageCatalog *catalog;
        atomic_uint next_id;
};

struct BuildLog {
        int fd;
        pthread_mutex_t lock;
        const Scrubber
                *scrub; /* the build's secrets, replaced by "[secret ID]" in every line; may be NULL */
};

struct BuildJob {
        atomic_bool cancelled;
        int cancel_fd; /* eventfd, readable once cancelled */
};

typedef struct BuildContext {
        Builder *builder;
        const BuildOptions *opts;
        BuildJob *job;
        BuildLog log;
        BuildError *err;
        const Dockerfile *df;
        char *tmp_dir;             /* builds/tmp-<id>: every step's scratch space */
        char *shim_dir;            /* builds/shim: the /usr shim lower for nspawn */
        uint64_t deadline;         /* CLOCK_MONOTONIC µs */
        int64_t source_date_epoch; /* -1: none */
        char created[64];          /* RFC 3339 time for config and history */
        unsigned id;               /* unique among this process's builds (temp dir and machine names) */
        unsigned tmp_counter;
        unsigned step, n_steps;
        bool memory_cap_warned;
} BuildContext;

/* Fills ctx->err (message, hint may be NULL) at the Dockerfile position of instruction i (may be NULL). */
int build_error(BuildContext *ctx, int r, const DockerfileInstruction *i, const char *hint, const char *fmt,
                ...) _printf_(5, 6);
/* -ECANCELED / -ETIME (with the error filled) when the build must stop, else 0. */
int build_check_stop(BuildContext *ctx, const DockerfileInstruction *i);
/* A fresh directory ctx->tmp_dir/<prefix>-<n> (created 0700). */
int build_tmp_dir(BuildContext *ctx, const char *prefix, char **ret);
uint64_t now_usec_monotonic(void);
