/* Running a bundle under systemd-nspawn: the argv and environment that work both on a normal
 * systemd host and on a host without systemd as PID 1 (hybrid cgroups, no machined). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct NspawnRun {
        const char *bundle_dir;
        const char *machine_name; /* ≤ 64 chars, [A-Za-z0-9-_.] */
        int stdout_fd;            /* -1: inherit */
        int stderr_fd;            /* -1: same as stdout_fd */
        const char *kill_signal;  /* signal nspawn sends the payload on SIGTERM; NULL: SIGTERM */
        bool keep_tmp;            /* leave the root's /tmp as it is (build steps) instead of a fresh tmpfs */
        bool detach;              /* no PDEATHSIG: nspawn (and the container) outlive the caller */
        bool own_scope;           /* let nspawn allocate its own systemd scope (no --keep-unit): needed for
                                   * the bundle's linux.resources to apply; only where
                                   * nspawn_cgroup_resources_supported() */
        const char *netns_path;   /* NULL: nspawn runs in our network namespace; else in this one (a bundle
                                   * without a network namespace of its own then shares it, see bundle.h) */
        const char *cgroup;       /* cgroup_limits_create()d name: nspawn joins those cgroups before it
                                   * execs, so the container and all its processes are inside; NULL: none */
} NspawnRun;

/* True when systemd-nspawn must be told to use the unified hierarchy (hybrid layout and we are
 * not under systemd's cgroup management). */
bool nspawn_needs_unified_env(void);

/* Whether a bundle's linux.resources (memory, pids, cpu) can take effect.  systemd-nspawn 252 turns
 * them into unit properties: it needs the system bus just to parse them (without D-Bus it exits 1
 * before starting anything) and applies them only to a scope it allocates itself through systemd
 * (with --keep-unit they are ignored).  So: true only with systemd as PID 1 and a system bus. */
bool nspawn_cgroup_resources_supported(void);

/* systemd-nspawn masks a path (the bundle's maskedPaths, its own /proc/kcore, /proc/keys, …) by
 * bind-mounting the node of the same type from this directory, looked up inside the container, over it;
 * a missing node leaves the path unmasked without an error.  Bundles bind the host's directory in. */
#define NSPAWN_INACCESSIBLE_DIR "/run/systemd/inaccessible"

/* Creates NSPAWN_INACCESSIBLE_DIR/{dir,reg,fifo,sock,chr,blk} when missing (no systemd as PID 1).
 * nspawn_start() calls it; 0 or the first -errno. */
int nspawn_ensure_inaccessible_nodes(void);

/* Starts systemd-nspawn for the bundle; returns its pid. */
pid_t nspawn_start(const NspawnRun *run);

/* Asks the container to stop: SIGTERM to nspawn (it forwards kill_signal to the payload), then
 * after grace_ms SIGKILL to the payload and nspawn.  Returns when nspawn exited, with its exit
 * status (or -EPROTO if it was killed). */
int nspawn_stop(pid_t nspawn_pid, unsigned grace_ms);

/* Waits for nspawn to exit; returns the payload's exit status as nspawn reports it. */
int nspawn_wait(pid_t nspawn_pid);
