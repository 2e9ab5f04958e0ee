/* Long-running instances: systemd-nspawn detached from the caller (own session, no PDEATHSIG, logs
 * appended to files in the instance directory), recorded in a state file so a restarted daemon can
 * adopt it.  Invariant: we only ever signal a process proven to be that instance (pidfd pinned, start
 * time and command line matching the state file), never a recycled pid. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

#define INSTANCE_STATE_FILE "instance.json"
#define INSTANCE_STDOUT_LOG "stdout.log"
#define INSTANCE_STDERR_LOG "stderr.log"
/* The state file is ours, but it is read back from disk: never trust more than this. */
#define INSTANCE_STATE_MAX 4096U
/* After the payload was SIGKILLed, nspawn gets this long to tear down before it is killed too. */
#define INSTANCE_TEARDOWN_MS 3000U
/* Default cap for instance_logs_rotate(). */
#define INSTANCE_LOG_MAX_DEFAULT (10ULL * 1024ULL * 1024ULL)

typedef struct InstanceSpec {
        const char *dir;          /* existing instance directory: state file and logs live here */
        const char *bundle_dir;   /* bundle with config.json (see bundle.h) */
        const char *machine_name; /* unique per running instance; see nspawn.h */
        int stop_signal;          /* the image's STOPSIGNAL; 0: SIGTERM */
        bool cgroup_resources;    /* the bundle carries linux.resources: nspawn gets its own scope (only
                                   * where nspawn_cgroup_resources_supported()) */
        const char *netns_path;   /* run nspawn in this network namespace (NULL: ours); see NspawnRun */
        const char *cgroup;       /* cgroup_limits_create()d name nspawn starts in; NULL: none */
} InstanceSpec;

typedef enum InstanceState {
        INSTANCE_RUNNING,
        INSTANCE_EXITED, /* we are nspawn's parent and collected its exit status */
        INSTANCE_GONE,   /* no longer running; exit status unknown (adopted, not our child) */
        _INSTANCE_STATE_MAX,
        _INSTANCE_STATE_INVALID = -EINVAL,
} InstanceState;

typedef struct Instance Instance;

/* Starts systemd-nspawn for the bundle, detached, stdout/stderr appended to dir/stdout.log and
 * dir/stderr.log, and writes dir/instance.json atomically.  Returns once nspawn has been exec'd. */
int instance_start(const InstanceSpec *spec, Instance **ret);

/* Re-attaches to the instance recorded in dir/instance.json.  -ESRCH when that process is gone,
 * -ESTALE when the pid now belongs to another process (recycled), -EBADMSG for a corrupt state file. */
int instance_adopt(const char *dir, Instance **ret);

/* For a crash between starting nspawn and writing the state file (instance_adopt gives -ENOENT): finds
 * the systemd-nspawn process running `machine` by scanning /proc, adopts it and writes dir/instance.json.
 * -ESRCH when there is none; -ENOTUNIQ when there are several. */
int instance_adopt_machine(const char *dir, const char *machine, Instance **ret);

/* Releases our handle only: the instance keeps running. */
Instance *instance_free(Instance *i);
static inline void instance_freep(Instance **i) {
        if (*i)
                instance_free(*i);
}
#define _cleanup_instance_ _cleanup_(instance_freep)

pid_t instance_pid(const Instance *i);
const char *instance_machine(const Instance *i);
/* A pidfd for nspawn: becomes readable (POLLIN) when it exits, for sd_event_add_io(). */
int instance_pidfd(const Instance *i);
/* The container's PID 1 as the host sees it (nspawn's child); -ESRCH while nspawn has not forked it
 * yet or after it exited.  Its /proc/PID/ns/ files are the container's namespaces. */
int instance_payload_pid(Instance *i, pid_t *ret);
/* True when we started it (then the exit status is ours to collect). */
bool instance_is_child(const Instance *i);

/* Non-blocking.  For INSTANCE_EXITED, *ret_exit_status is nspawn's exit status (the payload's, as
 * nspawn reports it), or 128 + signal when nspawn itself was killed. */
int instance_status(Instance *i, InstanceState *ret_state, int *ret_exit_status);

/* Asks for an orderly stop: stop_signal (0: the one given at start) reaches the payload (nspawn
 * forwards its --kill-signal; another signal is sent to the payload directly).  Non-blocking. */
int instance_stop_begin(Instance *i, int stop_signal);
/* Non-blocking: SIGKILL to the payload (the whole container goes with it; nspawn then tears down and
 * exits by itself), and to nspawn too when nspawn_too or when there is no payload. */
int instance_kill_begin(Instance *i, bool nspawn_too);
/* instance_kill_begin, then SIGKILL to nspawn if it outlives INSTANCE_TEARDOWN_MS.  Blocks at most
 * that long.  An event loop does the same with instance_kill_begin, instance_pidfd and a timer. */
int instance_kill(Instance *i);
/* Blocking convenience (tests, CLI, a forked helper): instance_stop_begin, then waits up to grace_ms
 * for nspawn to exit (pidfd + poll), then instance_kill.  Returns 1 when it stopped within the grace
 * period, 0 when it had to be killed.  The state file stays (for the logs and post-mortems); removing
 * the directory is the caller's. */
int instance_stop(Instance *i, int stop_signal, unsigned grace_ms);

/* The output streams an instance's log files hold (named INSTANCE_STDOUT_LOG, INSTANCE_STDERR_LOG). */
typedef enum InstanceLog {
        INSTANCE_LOG_STDOUT,
        INSTANCE_LOG_STDERR,
        _INSTANCE_LOG_MAX,
        _INSTANCE_LOG_INVALID = -EINVAL,
} InstanceLog;

/* "stdout", "stderr"; NULL for anything else. */
const char *instance_log_to_string(InstanceLog l);
/* The path of stream l's log file in instance directory dir, so callers need not know file names. */
int instance_log_path(const char *dir, InstanceLog l, char **ret);

/* Copy-truncate rotation: a log larger than max_bytes is copied to NAME.1 (replacing the previous
 * one) and truncated; writers keep appending (O_APPEND).  Lines written during the copy may be lost. */
int instance_logs_rotate(const char *dir, uint64_t max_bytes);

/* "SIGTERM", "TERM", "15", "SIGRTMIN+3" → signal number; -EINVAL otherwise. */
int instance_signal_from_string(const char *s);
