/* Spawning children: fork only to exec, or to run one sandboxed function and _exit.
 * Children get a clean signal mask, die with their parent (unless asked not to), and inherit only the
 * fds named. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

typedef struct SpawnOptions {
        int stdin_fd;  /* -1: /dev/null */
        int stdout_fd; /* -1: inherit */
        int stderr_fd; /* -1: inherit */
        char **env;    /* NULL: inherit */
        const char *cwd;
        bool new_session;
        bool keep_on_parent_death; /* no PDEATHSIG, every fd but 0-2 closed on exec: the child outlives us */
        bool wait_for_exec;        /* return only once the child has exec'd; a failed exec → -errno */
        const char *netns_path;    /* NULL: stay; else the child joins this network namespace first */
        /* cgroup.procs files (open for writing) the child moves itself into ("0") first thing, so that what
         * it execs and everything that forks from it start in those cgroups; a failure fails the spawn (with
         * wait_for_exec: -errno).  The caller closes them. */
        const int *cgroup_procs_fds;
        size_t n_cgroup_procs_fds;
} SpawnOptions;

#define SPAWN_OPTIONS_INIT \
        { .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1 }

/* Starts argv[0] (searched in PATH); returns the pid (> 0) or -errno. */
pid_t spawn_process(char *const argv[], const SpawnOptions *opts);

/* Runs fn(userdata) in a forked child that _exits with its return value (negative → 255 - ...).
 * The child resets signals and sets PDEATHSIG.  Returns the pid. */
pid_t fork_function(int (*fn)(void *userdata), void *userdata);

/* Waits for pid; returns its exit status (0..255), or -EPROTO when it was killed by a signal
 * (the signal is stored in *ret_signal when given). */
int wait_for_pid(pid_t pid, int *ret_signal);

/* Waits up to timeout_ms for pid (not necessarily our child) to exit, on a pidfd: 1 when it exited, 0 on
 * timeout, -errno.  It does not reap. */
int pid_wait_exit_timeout(pid_t pid, unsigned timeout_ms);

/* spawn_process + wait_for_pid. */
int run_process(char *const argv[], const SpawnOptions *opts);
