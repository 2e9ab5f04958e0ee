/* Child process helpers.  A child never returns into the caller's code: it execs or _exits, so
 * no atexit handler, stdio buffer or cleanup attribute runs twice. */
#include "process.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"

extern char **environ;

static void reset_signals(void) {
        sigset_t all;
        struct sigaction sa = { .sa_handler = SIG_DFL };

        for (int sig = 1; sig < _NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) sigaction(sig, &sa, NULL);
        sigemptyset(&all);
        (void) sigprocmask(SIG_SETMASK, &all, NULL);
}

static int move_fd(int from, int to) {
        if (from == to) {
                int flags = fcntl(from, F_GETFD);
                return flags < 0 ? -1 : fcntl(from, F_SETFD, flags & ~FD_CLOEXEC);
        }
        return dup2(from, to) < 0 ? -1 : 0;
}

/* Child side of wait_for_exec: tells the parent why the child gave up, then exits. */
static _noreturn_ void child_fail(int report_fd, int status) {
        int e = errno > 0 ? errno : EIO;

        if (report_fd >= 0)
                (void) !write(report_fd, &e, sizeof(e));
        _exit(status);
}

pid_t spawn_process(char *const argv[], const SpawnOptions *opts) {
        SpawnOptions defaults = SPAWN_OPTIONS_INIT;
        pid_t parent = getpid(), pid;
        int report[2] = { -EBADF, -EBADF };

        if (!opts)
                opts = &defaults;
        /* The write end is O_CLOEXEC: a successful exec closes it and the parent reads EOF. */
        if (opts->wait_for_exec && pipe2(report, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                int e = errno;
                safe_close(report[0]);
                safe_close(report[1]);
                return -e;
        }
        if (pid > 0) {
                int e = 0;
                ssize_t n;

                if (!opts->wait_for_exec)
                        return pid;
                safe_close(report[1]);
                do
                        n = read(report[0], &e, sizeof(e));
                while (n < 0 && errno == EINTR);
                safe_close(report[0]);
                if (n == 0)
                        return pid; /* exec'd */
                (void) wait_for_pid(pid, NULL);
                return n == (ssize_t) sizeof(e) && e > 0 ? -e : -EIO;
        }

        /* Child. */
        safe_close(report[0]);
        reset_signals();
        if (!opts->keep_on_parent_death) {
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (getppid() != parent)
                        _exit(255);
        }
        for (size_t i = 0; i < opts->n_cgroup_procs_fds; i++)
                if (write(opts->cgroup_procs_fds[i], "0", 1) != 1)
                        child_fail(report[1], 255);
        if (opts->new_session)
                (void) setsid();

        int in = opts->stdin_fd;
        if (in < 0)
                in = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (in < 0 || move_fd(in, STDIN_FILENO) < 0)
                child_fail(report[1], 255);
        if (opts->stdout_fd >= 0 && move_fd(opts->stdout_fd, STDOUT_FILENO) < 0)
                child_fail(report[1], 255);
        if (opts->stderr_fd >= 0 && move_fd(opts->stderr_fd, STDERR_FILENO) < 0)
                child_fail(report[1], 255);
        if (opts->cwd && chdir(opts->cwd) < 0)
                child_fail(report[1], 255);
        if (opts->netns_path) {
                int ns = open(opts->netns_path, O_RDONLY | O_CLOEXEC);
                if (ns < 0 || setns(ns, CLONE_NEWNET) < 0)
                        child_fail(report[1], 255);
                (void) close(ns);
        }
        /* A child that outlives us must not pin anything of ours (a listening socket would keep our
         * port busy after a restart) even if some library forgot O_CLOEXEC. */
        if (opts->keep_on_parent_death)
                (void) close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);

        execvpe(argv[0], argv, opts->env ? opts->env : environ);
        if (report[1] < 0)
                fprintf(stderr, "Failed to execute %s: %m\n", argv[0]);
        child_fail(report[1], 127);
}

pid_t fork_function(int (*fn)(void *userdata), void *userdata) {
        pid_t parent = getpid(), pid;
        int r;

        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid > 0)
                return pid;

        reset_signals();
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
                _exit(255);
        r = fn(userdata);
        _exit(r < 0 ? MIN(255, -r) : r);
}

int wait_for_pid(pid_t pid, int *ret_signal) {
        int status;

        for (;;) {
                if (waitpid(pid, &status, 0) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                break;
        }
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        if (ret_signal)
                *ret_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
        return -EPROTO;
}

int run_process(char *const argv[], const SpawnOptions *opts) {
        pid_t pid = spawn_process(argv, opts);

        if (pid < 0)
                return pid;
        return wait_for_pid(pid, NULL);
}

int pid_wait_exit_timeout(pid_t pid, unsigned timeout_ms) {
        _cleanup_close_ int pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        struct pollfd p;
        int r;

        if (pidfd < 0)
                return -errno;
        p = (struct pollfd) { .fd = pidfd, .events = POLLIN };
        do
                r = poll(&p, 1, (int) timeout_ms);
        while (r < 0 && errno == EINTR);
        if (r < 0)
                return -errno;
        return r > 0;
}
