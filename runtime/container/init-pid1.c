/* slipway-init as PID 1: one child (the app), signals relayed to it, every child reaped.  PID 1 of a pid
 * namespace ignores every signal it has no handler for, so an app that is PID 1 itself and installs no
 * SIGTERM handler (busybox httpd, most scripts) cannot be stopped but by SIGKILL; as our child it has the
 * default actions again.  Signals are only ever taken synchronously (blocked, sigwaitinfo): no handler runs. */
#include "init-pid1.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Synchronous faults of slipway-init itself: never blocked (a blocked fault kills anyway), never relayed. */
static const int own_faults[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS, SIGABRT };

/* Programs that want to be PID 1 themselves (see init-pid1.h). */
static const char *const own_inits[] = {
        "init",      "systemd",   "tini",  "tini-static", "docker-init", "dumb-init",
        "catatonit", "s6-svscan", "runit", "runit-init",  "openrc-init",
};

bool init_pid1_is_own_init(const char *program) {
        const char *name;

        if (!program)
                return false;
        name = strrchr(program, '/');
        name = name ? name + 1 : program;
        for (size_t i = 0; i < sizeof(own_inits) / sizeof(own_inits[0]); i++)
                if (strcmp(name, own_inits[i]) == 0)
                        return true;
        return false;
}

static int exit_status_of(int status) {
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        if (WIFSIGNALED(status))
                return INIT_EXIT_SIGNAL_BASE + WTERMSIG(status);
        return INIT_EXIT_INIT_FAILED; /* not asked for (no WUNTRACED): cannot happen */
}

/* To the app's process group: the app is its leader (setsid() in the child), so a shell script's children
 * get the stop signal too, as from a terminal.  Before the child's setsid() there is no such group yet:
 * then to the app alone. */
static void relay(pid_t app, int sig) {
        if (kill(-app, sig) < 0 && errno == ESRCH)
                (void) kill(app, sig);
}

/* Reaps every child that has ended; 1 with *ret_status set when the app was one of them. */
static int reap(pid_t app, int *ret_status) {
        int found = 0;

        for (;;) {
                int status;
                pid_t p = waitpid(-1, &status, WNOHANG);

                if (p < 0 && errno == EINTR)
                        continue;
                if (p <= 0)
                        return found; /* none left that ended (0), or no children at all (ECHILD) */
                if (p == app) {
                        *ret_status = exit_status_of(status);
                        found = 1;
                }
        }
}

int init_pid1_run(char *const argv[]) {
        struct sigaction dfl = { .sa_handler = SIG_DFL }, old_chld;
        sigset_t waited, old_mask;
        pid_t app;
        int status = INIT_EXIT_INIT_FAILED;

        sigfillset(&waited);
        for (size_t i = 0; i < sizeof(own_faults) / sizeof(own_faults[0]); i++)
                sigdelset(&waited, own_faults[i]);
        if (sigprocmask(SIG_BLOCK, &waited, &old_mask) < 0) {
                fprintf(stderr, "slipway-init: cannot block signals, not running '%s': %s\n", argv[0],
                        strerror(errno));
                return INIT_EXIT_INIT_FAILED;
        }
        /* An inherited SIG_IGN would make the kernel reap the app itself, and its exit status would be lost. */
        (void) sigemptyset(&dfl.sa_mask);
        if (sigaction(SIGCHLD, &dfl, &old_chld) < 0) {
                fprintf(stderr, "slipway-init: cannot watch for children, not running '%s': %s\n", argv[0],
                        strerror(errno));
                return INIT_EXIT_INIT_FAILED;
        }

        app = fork();
        if (app < 0) {
                fprintf(stderr, "slipway-init: cannot start '%s': %s\n", argv[0], strerror(errno));
                return INIT_EXIT_INIT_FAILED;
        }
        if (app == 0) {
                /* What the app would have had as PID 1: nspawn's dispositions and mask, a session of its own. */
                (void) sigaction(SIGCHLD, &old_chld, NULL);
                (void) setsid();
                (void) sigprocmask(SIG_SETMASK, &old_mask, NULL);
                execvp(argv[0], argv);
                fprintf(stderr, "slipway-init: cannot run '%s': %s\n", argv[0], strerror(errno));
                _exit(INIT_EXIT_CANNOT_RUN);
        }

        for (;;) {
                siginfo_t si;
                int sig = sigwaitinfo(&waited, &si);

                if (sig < 0) {
                        if (errno == EINTR)
                                continue;
                        /* Cannot happen with a valid set; never leave the app without its parent's answer. */
                        fprintf(stderr, "slipway-init: cannot wait for signals: %s\n", strerror(errno));
                        int st = 0;

                        (void) kill(app, SIGKILL);
                        while (waitpid(app, &st, 0) < 0 && errno == EINTR)
                                ;
                        return exit_status_of(st);
                }
                if (sig == SIGCHLD) {
                        if (reap(app, &status))
                                return status; /* our exit takes whatever the app left running with it */
                        continue;
                }
                if (sig == SIGPIPE)
                        continue; /* our own write to a closed stderr; nothing for the app */
                relay(app, sig);
        }
}
