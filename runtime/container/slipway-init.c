/* slipway-init: the first program of every container (instance or build step).  It adds the clone3 filter
 * (clone3-filter.h) that systemd-nspawn's OCI seccomp support cannot express, then execs its arguments:
 * same pid, same signals, nothing left of it.  Invariant: the payload never runs without the filter. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clone3-filter.h"

/* What a shell answers for a command it cannot run, so a missing entrypoint reads the same as before. */
#define INIT_EXIT_CANNOT_RUN 127
/* The filter could not be added: nothing runs (125, like `docker run` failing before the command). */
#define INIT_EXIT_NO_FILTER 125

int main(int argc, char *argv[]) {
        int r;

        if (argc < 2) {
                fputs("slipway-init: nothing to run; usage: slipway-init PROGRAM [ARGUMENT...]\n", stderr);
                return INIT_EXIT_CANNOT_RUN;
        }
        r = clone3_filter_install();
        if (r < 0) {
                fprintf(stderr,
                        "slipway-init: cannot install the clone3 seccomp filter, not running '%s': "
                        "%s\n",
                        argv[1], strerror(-r));
                return INIT_EXIT_NO_FILTER;
        }
        /* PATH comes from the container's environment (execvp's default when it has none). */
        execvp(argv[1], argv + 1);
        fprintf(stderr, "slipway-init: cannot run '%s': %s\n", argv[1], strerror(errno));
        return INIT_EXIT_CANNOT_RUN;
}
