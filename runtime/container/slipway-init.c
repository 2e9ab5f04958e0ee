/* slipway-init: the first program of every container (instance or build step).  It adds the clone3 filter
 * (clone3-filter.h) that systemd-nspawn's OCI seccomp support cannot express, then, as the container's PID 1,
 * runs its arguments as its child, relays signals and reaps (init-pid1.h) — unless the entrypoint is an init
 * of its own or slipway-init is not PID 1, where it execs them in place.  Invariant: the payload never runs
 * without the filter. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clone3-filter.h"
#include "init-pid1.h"

int main(int argc, char *argv[]) {
        int r;

        if (argc < 2) {
                fputs("slipway-init: nothing to run; usage: slipway-init PROGRAM [ARGUMENT...]\n", stderr);
                return INIT_EXIT_CANNOT_RUN;
        }
        /* Before the fork: the filter (and no_new_privs) then binds slipway-init and the app alike. */
        r = clone3_filter_install();
        if (r < 0) {
                fprintf(stderr,
                        "slipway-init: cannot install the clone3 seccomp filter, not running '%s': "
                        "%s\n",
                        argv[1], strerror(-r));
                return INIT_EXIT_INIT_FAILED;
        }
        if (getpid() == 1 && !init_pid1_is_own_init(argv[1]))
                return init_pid1_run(argv + 1);
        /* PATH comes from the container's environment (execvp's default when it has none). */
        execvp(argv[1], argv + 1);
        fprintf(stderr, "slipway-init: cannot run '%s': %s\n", argv[1], strerror(errno));
        return INIT_EXIT_CANNOT_RUN;
}
