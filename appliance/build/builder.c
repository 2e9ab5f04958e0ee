/* The builder's entry points: the stage loop and dispatch of instructions (stub until the executor lands).
 * Invariant: see builder.h — no mounts, containers or temp dirs survive builder_run(). */
#include "builder.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

struct Builder {
        char *state_dir;
        ImageCatalog *catalog;
};

struct BuildLog {
        int fd;
};

void builder_log(BuildLog *log, const char *fmt, ...) {
}

void build_result_done(BuildResult *r) {
        if (!r)
                return;
        free(r->ref);
        r->ref = NULL;
}

int builder_new(const char *state_dir, ImageCatalog *catalog, Builder **ret) {
        return -EOPNOTSUPP;
}

Builder *builder_free(Builder *b) {
        return NULL;
}

int builder_run(Builder *b, const BuildOptions *opts, BuildJob **ret_job, BuildResult *ret, BuildError *err) {
        if (err)
                snprintf(err->message, sizeof(err->message), "Building images is not implemented yet.");
        return -EOPNOTSUPP;
}

int build_job_cancel(BuildJob *job) {
        return -EOPNOTSUPP;
}

int builder_cache_prune(Builder *b) {
        return -EOPNOTSUPP;
}

int builder_remove_stale_temp(const char *state_dir) {
        return -EOPNOTSUPP;
}
