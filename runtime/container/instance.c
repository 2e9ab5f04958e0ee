/* Instance lifecycle on top of nspawn.c: detached start, state file, adopt, stop, status.
 * Every signal goes through a pidfd taken before the process was identified (start time + command
 * line), so a pid that was recycled after the instance died is never signalled. */
#include "instance.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "fs-util.h"
#include "json-util.h"
#include "nspawn.h"
#include "string-util.h"

struct Instance {
        char *dir;
        char *machine;
        pid_t pid;
        uint64_t start_time; /* /proc/PID/stat field 22, clock ticks since boot */
        int pidfd;
        int stop_signal;
        bool is_child;
        bool reaped;
        int exit_status;
};

static int pidfd_open_(pid_t pid) {
        int fd = (int) syscall(SYS_pidfd_open, pid, 0);
        return fd < 0 ? -errno : fd;
}

static int pidfd_send_signal_(int pidfd, int sig) {
        return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0 ? -errno : 0;
}

int instance_signal_from_string(const char *s) {
        const char *name = s;
        long n;
        char *end;

        if (isempty(s))
                return -EINVAL;
        if (startswith(name, "SIG"))
                name += 3;
        if (startswith(name, "RTMIN+") || startswith(name, "RTMAX-")) {
                errno = 0;
                n = strtol(name + 6, &end, 10);
                if (errno != 0 || *end || end == name + 6 || n < 0 || n > SIGRTMAX - SIGRTMIN)
                        return -EINVAL;
                return name[3] == 'I' ? SIGRTMIN + (int) n : SIGRTMAX - (int) n;
        }
        if (streq(name, "RTMIN"))
                return SIGRTMIN;
        if (streq(name, "RTMAX"))
                return SIGRTMAX;
        if (name == s && *s >= '0' && *s <= '9') {
                errno = 0;
                n = strtol(s, &end, 10);
                if (errno != 0 || *end || n < 1 || n > SIGRTMAX)
                        return -EINVAL;
                return (int) n;
        }
        for (int sig = 1; sig < SIGRTMIN; sig++) {
                const char *abbrev = sigabbrev_np(sig);
                if (abbrev && streq(abbrev, name))
                        return sig;
        }
        return -EINVAL;
}

/* nspawn's --kill-signal= spelling of a signal. */
static int signal_to_nspawn(int sig, char *buf, size_t size) {
        const char *abbrev = sig > 0 && sig < SIGRTMIN ? sigabbrev_np(sig) : NULL;

        if (abbrev)
                snprintf(buf, size, "SIG%s", abbrev);
        else if (sig >= SIGRTMIN && sig <= SIGRTMAX)
                snprintf(buf, size, "SIGRTMIN+%d", sig - SIGRTMIN);
        else
                return -EINVAL;
        return 0;
}

/* Fields of /proc/PID/stat we trust: state (3), ppid (4) and starttime (22).  The command name (2)
 * may hold spaces and parentheses, so parsing starts after its last ')'. */
static int proc_stat(pid_t pid, char *ret_state, pid_t *ret_ppid, uint64_t *ret_start_time) {
        _cleanup_free_ char *path = NULL, *data = NULL;
        unsigned long long start = 0;
        const char *p;
        char state = 0;
        int ppid = 0, r;

        if (asprintf(&path, "/proc/%d/stat", (int) pid) < 0)
                return -ENOMEM;
        r = read_full_file(path, &data, NULL);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        p = strrchr(data, ')');
        if (!p)
                return -EBADMSG;
        /* After ')': state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime
         * stime cutime cstime priority nice num_threads itrealvalue starttime */
        if (sscanf(p + 1, " %c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
                   &state, &ppid, &start) != 3)
                return -EBADMSG;
        if (ret_state)
                *ret_state = state;
        if (ret_ppid)
                *ret_ppid = (pid_t) ppid;
        if (ret_start_time)
                *ret_start_time = start;
        return 0;
}

/* True when /proc/PID/cmdline is systemd-nspawn running machine `machine`; its --kill-signal= in
 * *ret_kill_signal when asked (0 when absent). */
static int proc_is_nspawn_of(pid_t pid, const char *machine, int *ret_kill_signal) {
        _cleanup_free_ char *path = NULL, *data = NULL, *want = NULL;
        int kill_signal = 0;
        bool found = false;
        const char *argv0, *base;
        size_t size;
        int r;

        if (asprintf(&path, "/proc/%d/cmdline", (int) pid) < 0 ||
            asprintf(&want, "--machine=%s", machine) < 0)
                return -ENOMEM;
        r = read_full_file(path, &data, &size);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        if (size == 0)
                return false; /* a zombie or a kernel thread */
        argv0 = data;
        base = strrchr(argv0, '/');
        base = base ? base + 1 : argv0;
        if (!streq(base, "systemd-nspawn"))
                return false;
        for (size_t off = strlen(data) + 1; off < size; off += strlen(data + off) + 1) {
                if (streq(data + off, want))
                        found = true;
                else if (startswith(data + off, "--kill-signal="))
                        kill_signal = instance_signal_from_string(data + off + strlen("--kill-signal="));
        }
        if (found && ret_kill_signal)
                *ret_kill_signal = kill_signal > 0 ? kill_signal : 0;
        return found;
}

/* What nspawn accepts as a machine name, and safe to put into a path. */
static bool machine_name_valid(const char *s) {
        size_t n = 0;

        for (; s[n]; n++)
                if (n >= 64 || !(strchr("-_.", s[n]) || (s[n] >= 'a' && s[n] <= 'z') ||
                                 (s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= '0' && s[n] <= '9')))
                        return false;
        return n > 0 && s[0] != '.' && s[0] != '-';
}

static Instance *instance_new(const char *dir, const char *machine) {
        Instance *i = calloc(1, sizeof(Instance));

        if (!i)
                return NULL;
        i->pidfd = -EBADF;
        i->dir = strdup(dir);
        i->machine = strdup(machine);
        if (!i->dir || !i->machine)
                return instance_free(i);
        return i;
}

Instance *instance_free(Instance *i) {
        if (!i)
                return NULL;
        safe_close(i->pidfd);
        free(i->dir);
        free(i->machine);
        free(i);
        return NULL;
}

pid_t instance_pid(const Instance *i) {
        return i->pid;
}

const char *instance_machine(const Instance *i) {
        return i->machine;
}

int instance_pidfd(const Instance *i) {
        return i->pidfd;
}

bool instance_is_child(const Instance *i) {
        return i->is_child;
}

static int state_write(const Instance *i) {
        _cleanup_json_ json_t *j = NULL;
        _cleanup_free_ char *text = NULL, *path = NULL;

        j = json_pack("{s:i,s:I,s:I,s:s,s:i}", "version", 1, "pid", (json_int_t) i->pid, "start_time",
                      (json_int_t) i->start_time, "machine", i->machine, "stop_signal", i->stop_signal);
        if (!j)
                return -ENOMEM;
        text = json_dumps(j, JSON_INDENT(1));
        path = path_join(i->dir, INSTANCE_STATE_FILE);
        if (!text || !path)
                return -ENOMEM;
        return write_file_atomic(path, text, strlen(text), 0600);
}

static int open_log(int dir_fd, const char *name) {
        int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW,
                        0640);
        return fd < 0 ? -errno : fd;
}

int instance_start(const InstanceSpec *spec, Instance **ret) {
        _cleanup_(instance_freep) Instance *i = NULL;
        _cleanup_close_ int dir_fd = -EBADF, out = -EBADF, err = -EBADF;
        char kill_signal[32];
        pid_t pid;
        int r;

        if (!spec || !spec->dir || !spec->bundle_dir || !spec->machine_name ||
            !machine_name_valid(spec->machine_name) || spec->stop_signal < 0 || spec->stop_signal > SIGRTMAX)
                return -EINVAL;
        i = instance_new(spec->dir, spec->machine_name);
        if (!i)
                return -ENOMEM;
        i->stop_signal = spec->stop_signal > 0 ? spec->stop_signal : SIGTERM;
        r = signal_to_nspawn(i->stop_signal, kill_signal, sizeof(kill_signal));
        if (r < 0)
                return r;

        dir_fd = open(spec->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return -errno;
        out = open_log(dir_fd, INSTANCE_STDOUT_LOG);
        if (out < 0)
                return out;
        err = open_log(dir_fd, INSTANCE_STDERR_LOG);
        if (err < 0)
                return err;

        NspawnRun run = {
                .bundle_dir = spec->bundle_dir,
                .machine_name = spec->machine_name,
                .stdout_fd = out,
                .stderr_fd = err,
                .kill_signal = kill_signal,
                .detach = true,
                .own_scope = spec->cgroup_resources,
                .netns_path = spec->netns_path,
                .cgroup = spec->cgroup,
        };
        pid = nspawn_start(&run);
        if (pid < 0)
                return pid;
        i->pid = pid;
        i->is_child = true;

        /* Our unreaped child: its pid cannot be reused under us, so these two are race-free. */
        r = pidfd_open_(pid);
        if (r >= 0) {
                i->pidfd = r;
                r = proc_stat(pid, NULL, NULL, &i->start_time);
        }
        if (r >= 0)
                r = state_write(i);
        if (r < 0) {
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                return r;
        }
        *ret = TAKE_PTR(i);
        return 0;
}

int instance_adopt(const char *dir, Instance **ret) {
        _cleanup_(instance_freep) Instance *i = NULL;
        _cleanup_json_ json_t *j = NULL;
        _cleanup_close_ int pidfd = -EBADF;
        const char *machine;
        int64_t pid, start_time, stop_signal;
        uint64_t now_start;
        pid_t ppid;
        char state;
        int r;

        if (!dir)
                return -EINVAL;
        {
                _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dfd < 0)
                        return -errno;
                r = json_parse_file_at(dfd, INSTANCE_STATE_FILE, INSTANCE_STATE_MAX, &j, NULL);
                if (r < 0)
                        return r;
        }
        if (!json_is_object(j) || json_get_int(j, "pid", &pid) < 0 ||
            json_get_int(j, "start_time", &start_time) < 0 || json_get_string(j, "machine", &machine) < 0 ||
            json_get_int(j, "stop_signal", &stop_signal) < 0)
                return -EBADMSG;
        if (pid <= 1 || pid > INT_MAX || start_time < 0 || stop_signal < 1 || stop_signal > SIGRTMAX ||
            !machine_name_valid(machine))
                return -EBADMSG;

        /* Pin the process first, then identify it: if the pid was recycled before pidfd_open, the
         * checks below see the new process and refuse; after it, the pidfd cannot change identity. */
        pidfd = pidfd_open_((pid_t) pid);
        if (pidfd < 0)
                return pidfd == -ESRCH ? -ESRCH : pidfd;
        r = proc_stat((pid_t) pid, &state, &ppid, &now_start);
        if (r < 0)
                return r;
        if (now_start != (uint64_t) start_time)
                return -ESTALE;
        if (state == 'Z' || state == 'X')
                return -ESRCH;
        r = proc_is_nspawn_of((pid_t) pid, machine, NULL);
        if (r < 0)
                return r;
        if (r == 0)
                return -ESTALE;

        i = instance_new(dir, machine);
        if (!i)
                return -ENOMEM;
        i->pid = (pid_t) pid;
        i->start_time = now_start;
        i->stop_signal = (int) stop_signal;
        i->is_child = ppid == getpid();
        i->pidfd = TAKE_FD(pidfd);
        *ret = TAKE_PTR(i);
        return 0;
}

int instance_adopt_machine(const char *dir, const char *machine, Instance **ret) {
        _cleanup_(instance_freep) Instance *i = NULL;
        _cleanup_(closedirp) DIR *proc = NULL;
        _cleanup_close_ int pidfd = -EBADF;
        pid_t found = 0, ppid = 0;
        uint64_t start_time = 0;
        int kill_signal = 0, r;
        struct dirent *de;

        if (!dir || !machine || !machine_name_valid(machine))
                return -EINVAL;
        proc = opendir("/proc");
        if (!proc)
                return -errno;
        while ((de = readdir(proc))) {
                _cleanup_close_ int fd = -EBADF;
                char *end, state = 0;
                uint64_t st;
                pid_t pp;
                int sig;
                long n;

                errno = 0;
                n = strtol(de->d_name, &end, 10);
                if (errno != 0 || *end || n <= 1 || n > INT_MAX)
                        continue;
                /* Pin, then identify (as in instance_adopt). */
                fd = pidfd_open_((pid_t) n);
                if (fd < 0)
                        continue;
                if (proc_is_nspawn_of((pid_t) n, machine, &sig) <= 0)
                        continue;
                if (proc_stat((pid_t) n, &state, &pp, &st) < 0 || state == 'Z' || state == 'X')
                        continue;
                if (found > 0)
                        return -ENOTUNIQ;
                found = (pid_t) n;
                ppid = pp;
                start_time = st;
                kill_signal = sig;
                pidfd = TAKE_FD(fd);
        }
        if (found == 0)
                return -ESRCH;

        i = instance_new(dir, machine);
        if (!i)
                return -ENOMEM;
        i->pid = found;
        i->start_time = start_time;
        i->stop_signal = kill_signal > 0 ? kill_signal : SIGTERM;
        i->is_child = ppid == getpid();
        i->pidfd = TAKE_FD(pidfd);
        r = state_write(i);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(i);
        return 0;
}

static int exit_status_of(const siginfo_t *si) {
        return si->si_code == CLD_EXITED ? si->si_status : 128 + si->si_status;
}

/* 1 when nspawn has exited (and, for our child, was reaped), 0 when it still runs. */
static int instance_check_exit(Instance *i, int timeout_ms) {
        _cleanup_free_ char *propagate = NULL;
        struct pollfd p = { .fd = i->pidfd, .events = POLLIN };
        int r;

        if (i->reaped)
                return 1;
        do
                r = poll(&p, 1, timeout_ms);
        while (r < 0 && errno == EINTR);
        if (r < 0)
                return -errno;
        if (r == 0)
                return 0;
        if (i->is_child) {
                siginfo_t si = {};

                if (waitid(P_PIDFD, (id_t) i->pidfd, &si, WEXITED | WNOHANG) < 0) {
                        if (errno != ECHILD)
                                return -errno;
                        i->exit_status = -1; /* somebody else reaped it */
                } else if (si.si_pid == 0)
                        return 0;
                else
                        i->exit_status = exit_status_of(&si);
        }
        i->reaped = true;
        /* nspawn leaves this (empty) directory behind when it is killed rather than stopped. */
        if (asprintf(&propagate, "/run/systemd/nspawn/propagate/%s", i->machine) >= 0)
                (void) rmdir(propagate);
        return 1;
}

int instance_status(Instance *i, InstanceState *ret_state, int *ret_exit_status) {
        int r;

        if (!i)
                return -EINVAL;
        r = instance_check_exit(i, 0);
        if (r < 0)
                return r;
        if (r == 0) {
                *ret_state = INSTANCE_RUNNING;
                return 0;
        }
        if (i->is_child && i->exit_status >= 0) {
                *ret_state = INSTANCE_EXITED;
                if (ret_exit_status)
                        *ret_exit_status = i->exit_status;
        } else
                *ret_state = INSTANCE_GONE;
        return 0;
}

/* The container's PID 1 as the host sees it: nspawn's only child.  Returned as a pidfd, taken while
 * it is still nspawn's (unreaped) child, so it cannot be a recycled pid. */
static int payload_pidfd(Instance *i, pid_t *ret_pid) {
        _cleanup_free_ char *path = NULL, *data = NULL;
        _cleanup_close_ int fd = -EBADF;
        pid_t ppid;
        long child;
        int r;

        if (asprintf(&path, "/proc/%d/task/%d/children", (int) i->pid, (int) i->pid) < 0)
                return -ENOMEM;
        r = read_full_file(path, &data, NULL);
        if (r < 0)
                return -ESRCH;
        child = strtol(data, NULL, 10);
        if (child <= 1 || child > INT_MAX)
                return -ESRCH;
        fd = pidfd_open_((pid_t) child);
        if (fd < 0)
                return fd;
        r = proc_stat((pid_t) child, NULL, &ppid, NULL);
        if (r < 0)
                return r;
        if (ppid != i->pid)
                return -ESRCH;
        if (ret_pid)
                *ret_pid = (pid_t) child;
        return TAKE_FD(fd);
}

int instance_payload_pid(Instance *i, pid_t *ret) {
        _cleanup_close_ int fd = -EBADF;
        pid_t pid;

        if (!i || !ret)
                return -EINVAL;
        fd = payload_pidfd(i, &pid);
        if (fd < 0)
                return fd;
        *ret = pid;
        return 0;
}

int instance_stop_begin(Instance *i, int stop_signal) {
        int r;

        if (!i || stop_signal < 0 || stop_signal > SIGRTMAX)
                return -EINVAL;
        if (instance_check_exit(i, 0) > 0)
                return 0;
        if (stop_signal == 0 || stop_signal == i->stop_signal)
                /* nspawn turns its SIGTERM into --kill-signal for the payload. */
                r = pidfd_send_signal_(i->pidfd, SIGTERM);
        else {
                _cleanup_close_ int payload = payload_pidfd(i, NULL);
                if (payload < 0)
                        return payload == -ESRCH ? 0 : payload;
                r = pidfd_send_signal_(payload, stop_signal);
        }
        return r == -ESRCH ? 0 : r;
}

int instance_kill_begin(Instance *i, bool nspawn_too) {
        _cleanup_close_ int payload = -EBADF;
        int r;

        if (!i)
                return -EINVAL;
        if (instance_check_exit(i, 0) > 0)
                return 0;
        /* Killing the container's PID 1 kills its whole PID namespace; nspawn then cleans up its
         * mounts and exits by itself.  Without a payload there is nothing to wait for. */
        payload = payload_pidfd(i, NULL);
        if (payload >= 0)
                (void) pidfd_send_signal_(payload, SIGKILL);
        if (payload >= 0 && !nspawn_too)
                return 0;
        r = pidfd_send_signal_(i->pidfd, SIGKILL);
        return r == -ESRCH ? 0 : r;
}

int instance_kill(Instance *i) {
        int r;

        r = instance_kill_begin(i, false);
        if (r < 0)
                return r;
        r = instance_check_exit(i, (int) INSTANCE_TEARDOWN_MS);
        if (r <= 0) {
                (void) instance_kill_begin(i, true);
                r = instance_check_exit(i, -1);
        }
        return r < 0 ? r : 0;
}

int instance_stop(Instance *i, int stop_signal, unsigned grace_ms) {
        int r;

        r = instance_stop_begin(i, stop_signal);
        if (r < 0)
                return r;
        r = instance_check_exit(i, (int) MIN(grace_ms, (unsigned) INT_MAX));
        if (r < 0)
                return r;
        if (r > 0)
                return 1;
        r = instance_kill(i);
        return r < 0 ? r : 0;
}

static int rotate_one(int dir_fd, const char *name, uint64_t max_bytes) {
        _cleanup_close_ int fd = -EBADF, tmp = -EBADF;
        _cleanup_free_ char *tmp_path = NULL, *rotated = NULL;
        struct stat st;
        loff_t off = 0;
        int r;

        fd = openat(dir_fd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if ((uint64_t) st.st_size <= max_bytes)
                return 0;
        if (asprintf(&rotated, "%s.1", name) < 0)
                return -ENOMEM;
        tmp = open_tmpfile_at(dir_fd, rotated, &tmp_path);
        if (tmp < 0)
                return tmp;
        while (off < st.st_size) {
                ssize_t n = copy_file_range(fd, &off, tmp, NULL, (size_t) (st.st_size - off), 0);
                if (n < 0) {
                        r = -errno;
                        (void) unlinkat(dir_fd, tmp_path, 0);
                        return r;
                }
                if (n == 0)
                        break;
        }
        r = link_tmpfile_atomic_at(tmp, dir_fd, tmp_path, rotated);
        if (r < 0) {
                (void) unlinkat(dir_fd, tmp_path, 0);
                return r;
        }
        if (ftruncate(fd, 0) < 0)
                return -errno;
        return 1;
}

const char *instance_log_to_string(InstanceLog l) {
        static const char *const names[_INSTANCE_LOG_MAX] = {
                [INSTANCE_LOG_STDOUT] = "stdout",
                [INSTANCE_LOG_STDERR] = "stderr",
        };
        return l >= 0 && l < _INSTANCE_LOG_MAX ? names[l] : NULL;
}

int instance_log_path(const char *dir, InstanceLog l, char **ret) {
        static const char *const files[_INSTANCE_LOG_MAX] = {
                [INSTANCE_LOG_STDOUT] = INSTANCE_STDOUT_LOG,
                [INSTANCE_LOG_STDERR] = INSTANCE_STDERR_LOG,
        };
        char *p;

        if (!dir || l < 0 || l >= _INSTANCE_LOG_MAX)
                return -EINVAL;
        p = path_join(dir, files[l]);
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

int instance_logs_rotate(const char *dir, uint64_t max_bytes) {
        _cleanup_close_ int dir_fd = -EBADF;
        int r, n = 0;

        if (!dir)
                return -EINVAL;
        dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return -errno;
        r = rotate_one(dir_fd, INSTANCE_STDOUT_LOG, max_bytes);
        if (r < 0)
                return r;
        n += r;
        r = rotate_one(dir_fd, INSTANCE_STDERR_LOG, max_bytes);
        if (r < 0)
                return r;
        return n + r;
}
