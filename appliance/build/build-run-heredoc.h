/* RUN heredocs at run time: the shell command of a RUN with heredocs (dockerfile_run_command()) and, for a
 * #! script, the file it executes: written below the step's temp dir and bound at /dev/pipes/ in the
 * container, as BuildKit does. Invariant: the script file is never part of the step's layer. */
#pragma once

#include <stdbool.h>

#include "build-job.h"
#include "bundle.h"

typedef struct RunHeredoc {
        char *command; /* what the shell runs; NULL: the instruction has no heredocs */
        char *pipes;   /* host dir holding the script, bound at DOCKERFILE_HEREDOC_PIPES_DIR */
        BundleMount mount;
        bool has_mount;
} RunHeredoc;

/* Fills h for i (shell form with heredocs; nothing to do otherwise). step_dir: the step's temp dir. */
int build_run_heredoc_prepare(BuildContext *ctx, const DockerfileInstruction *i, const char *step_dir,
                              RunHeredoc *h);
void build_run_heredoc_done(RunHeredoc *h);
