/* systemd-nspawn launcher.  The container never registers with machined (there may be none) and
 * stays in our own cgroup (--keep-unit), so the same command works on every host we support. */
#include "nspawn.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>

#include "cgroup-limits.h"
#include "fs-util.h"
#include "macro.h"
#include "process.h"
#include "string-util.h"

extern char **environ;

bool nspawn_needs_unified_env(void) {
        struct statfs fs;

        if (statfs("/sys/fs/cgroup", &fs) < 0)
                return false;
        if ((unsigned long) fs.f_type == CGROUP2_SUPER_MAGIC)
                return false; /* pure unified: nspawn detects it itself */
        /* Hybrid or legacy: nspawn wants systemd's unified hierarchy; we have it at
         * /sys/fs/cgroup/unified when the host mounted it, which is all nspawn needs. */
        return true;
}

bool nspawn_cgroup_resources_supported(void) {
        return sd_booted() > 0 && access("/run/dbus/system_bus_socket", F_OK) == 0;
}

static char **build_env(bool keep_tmp) {
        size_t n = 0, k = 0;
        char **env;

        while (environ[n])
                n++;
        env = calloc(n + 4, sizeof(char *));
        if (!env)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (!startswith(environ[i], "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=") &&
                    !startswith(environ[i], "NOTIFY_SOCKET=") &&
                    !startswith(environ[i], "SYSTEMD_NSPAWN_TMPFS_TMP="))
                        env[k++] = environ[i];
        if (nspawn_needs_unified_env())
                env[k++] = (char *) "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1";
        if (keep_tmp)
                env[k++] = (char *) "SYSTEMD_NSPAWN_TMPFS_TMP=0";
        env[k] = NULL;
        return env;
}

/* systemd as PID 1 creates these nodes at boot; without it they are missing, so make them here the way
 * PID 1 does: empty, mode 0000, one of each file type. */
int nspawn_ensure_inaccessible_nodes(void) {
        static const struct {
                const char *name;
                mode_t type;
        } nodes[] = {
                { "dir", S_IFDIR },   { "reg", S_IFREG }, { "fifo", S_IFIFO },
                { "sock", S_IFSOCK }, { "chr", S_IFCHR }, { "blk", S_IFBLK },
        };
        _cleanup_close_ int dfd = -EBADF;
        int r, ret = 0;

        dfd = mkdir_p_open(NSPAWN_INACCESSIBLE_DIR, 0755);
        if (dfd < 0)
                return dfd;
        for (size_t i = 0; i < ELEMENTSOF(nodes); i++) {
                if (nodes[i].type == S_IFDIR)
                        r = mkdirat(dfd, nodes[i].name, 0000);
                else
                        r = mknodat(dfd, nodes[i].name, nodes[i].type | 0000, makedev(0, 0));
                if (r < 0 && errno != EEXIST && ret == 0)
                        ret = -errno;
        }
        return ret;
}

pid_t nspawn_start(const NspawnRun *run) {
        _cleanup_free_ char *bundle_arg = NULL, *machine_arg = NULL, *kill_arg = NULL;
        _cleanup_free_ char **env = NULL;
        SpawnOptions opts = SPAWN_OPTIONS_INIT;
        int r;
        int cgroup_fds[CGROUP_LIMITS_FDS_MAX], n_cgroup_fds = 0;
        pid_t pid;

        if (!run || !run->bundle_dir || !run->machine_name)
                return -EINVAL;
        if (asprintf(&bundle_arg, "--oci-bundle=%s", run->bundle_dir) < 0 ||
            asprintf(&machine_arg, "--machine=%s", run->machine_name) < 0 ||
            asprintf(&kill_arg, "--kill-signal=%s", run->kill_signal ? run->kill_signal : "SIGTERM") < 0)
                return -ENOMEM;
        env = build_env(run->keep_tmp);
        if (!env)
                return -ENOMEM;
        /* Bundles bind the directory in: without it nspawn cannot start.  A missing node only leaves
         * paths of its type unmasked. */
        r = nspawn_ensure_inaccessible_nodes();
        if (r < 0 && access(NSPAWN_INACCESSIBLE_DIR, F_OK) < 0)
                return r;

        char *argv[] = {
                (char *) "systemd-nspawn",
                (char *) "--quiet",
                (char *) "--register=no",
                (char *) "--console=pipe",
                (char *) "--link-journal=no",
                (char *) "--resolv-conf=off",
                (char *) "--timezone=off",
                bundle_arg,
                machine_arg,
                kill_arg,
                (char *) "--keep-unit", /* last: dropped for own_scope */
                NULL,
        };
        if (run->own_scope)
                argv[ELEMENTSOF(argv) - 2] = NULL;
        opts.stdout_fd = run->stdout_fd;
        opts.stderr_fd = run->stderr_fd >= 0 ? run->stderr_fd : run->stdout_fd;
        opts.env = env;
        opts.new_session = true;
        opts.keep_on_parent_death = run->detach;
        opts.wait_for_exec = run->detach; /* a state file must never name a pid that is not nspawn yet */
        opts.netns_path = run->netns_path;
        if (run->cgroup) {
                n_cgroup_fds = cgroup_limits_open_procs(run->cgroup, cgroup_fds);
                if (n_cgroup_fds < 0)
                        return n_cgroup_fds;
                opts.cgroup_procs_fds = cgroup_fds;
                opts.n_cgroup_procs_fds = (size_t) n_cgroup_fds;
                opts.wait_for_exec = true; /* a child that could not join fails the start, not silently */
        }
        pid = spawn_process(argv, &opts);
        for (int i = 0; i < n_cgroup_fds; i++)
                safe_close(cgroup_fds[i]);
        return pid;
}

int nspawn_wait(pid_t pid) {
        return wait_for_pid(pid, NULL);
}

/* The payload is nspawn's only child (the container's PID 1 as the host sees it). */
static pid_t payload_pid(pid_t nspawn_pid) {
        _cleanup_free_ char *path = NULL, *data = NULL;
        long child;

        if (asprintf(&path, "/proc/%d/task/%d/children", (int) nspawn_pid, (int) nspawn_pid) < 0)
                return -ENOMEM;
        if (read_full_file(path, &data, NULL) < 0)
                return -ESRCH;
        child = strtol(data, NULL, 10);
        return child > 0 ? (pid_t) child : -ESRCH;
}

int nspawn_stop(pid_t pid, unsigned grace_ms) {
        int r;

        if (kill(pid, SIGTERM) < 0)
                return -errno;
        r = pid_wait_exit_timeout(pid, grace_ms);
        if (r <= 0) {
                pid_t payload = payload_pid(pid);

                if (payload > 0)
                        (void) kill(payload, SIGKILL);
                (void) kill(pid, SIGKILL);
        }
        return wait_for_pid(pid, NULL);
}
