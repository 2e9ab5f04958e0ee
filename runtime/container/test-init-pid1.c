/* slipway-init as PID 1 of a fresh pid namespace, as every container starts it: the app is its child (pid 2,
 * parent 1) under the clone3 filter and no_new_privs; a SIGTERM from outside stops an app with no handler
 * (a PID 1 would ignore it) and reaches a shell's children too; orphans are reaped; the exit status passes
 * through (128 + N for a signal); an entrypoint that is an init itself is exec'd as PID 1.  Needs root. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs-util.h"
#include "init-pid1.h"
#include "macro.h"

#define TEST_EXIT _exit
#include "tests.h"

/* How long any one step may take before the test calls it hung. */
#define STEP_TIMEOUT_MS 10000

static const char *init_bin;

struct clone_args_v0 {
        uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

typedef struct Pid1 {
        pid_t pid; /* slipway-init, as this (outer) namespace sees it */
        int out;   /* its stdout and stderr, read end */
} Pid1;

/* Starts slipway-init ARGV... as PID 1 of a new pid namespace, output into a pipe. */
static Pid1 pid1_start(char *const *args) {
        char *argv[16] = { (char *) init_bin };
        size_t n = 1;
        int p[2];
        Pid1 r;

        for (size_t i = 0; args[i]; i++) {
                CHECK(n < ELEMENTSOF(argv) - 1);
                argv[n++] = args[i];
        }
        argv[n] = NULL;
        CHECK(pipe2(p, O_CLOEXEC) == 0);
        r.pid = (pid_t) syscall(SYS_clone, (unsigned long) (CLONE_NEWPID | SIGCHLD), NULL, NULL, NULL, NULL);
        CHECK(r.pid >= 0);
        if (r.pid == 0) {
                if (dup2(p[1], STDOUT_FILENO) < 0 || dup2(p[1], STDERR_FILENO) < 0)
                        _exit(99);
                execv(init_bin, argv);
                _exit(98);
        }
        close(p[1]);
        r.out = p[0];
        return r;
}

/* Reads slipway-init's output until it contains want (or, want NULL, until it closes); the text so far. */
static char *pid1_read_until(Pid1 *c, const char *want) {
        static char buf[4096];
        size_t len = 0;

        buf[0] = 0;
        for (;;) {
                struct pollfd pfd = { .fd = c->out, .events = POLLIN };
                ssize_t k;

                if (want && strstr(buf, want))
                        return buf;
                if (poll(&pfd, 1, STEP_TIMEOUT_MS) <= 0)
                        TEST_FAIL("no '%s' from slipway-init within %d ms; output so far: '%s'",
                                  want ? want : "(end)", STEP_TIMEOUT_MS, buf);
                k = read(c->out, buf + len, sizeof buf - 1 - len);
                if (k <= 0) {
                        if (want)
                                TEST_FAIL("slipway-init closed its output before '%s': '%s'", want, buf);
                        return buf;
                }
                len += (size_t) k;
                buf[len] = 0;
        }
}

/* Waits for slipway-init; its exit status (128 + N when killed by signal N, as a shell says it). */
static int pid1_wait(Pid1 *c) {
        struct timespec start, now;
        int status;
        pid_t p;

        clock_gettime(CLOCK_MONOTONIC, &start);
        while ((p = waitpid(c->pid, &status, WNOHANG)) == 0) {
                clock_gettime(CLOCK_MONOTONIC, &now);
                if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >
                    STEP_TIMEOUT_MS) {
                        (void) kill(c->pid, SIGKILL);
                        TEST_FAIL("slipway-init did not exit within %d ms", STEP_TIMEOUT_MS);
                }
                (void) usleep(10000);
        }
        CHECK(p == c->pid);
        close(c->out);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* slipway-init's children as this namespace sees them ("" when none), space-separated. */
static char *children_of(pid_t pid) {
        static char path[64];
        char *data = NULL;

        snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int) pid, (int) pid);
        CHECK(read_full_file(path, &data, NULL) == 0);
        return data;
}

/* 'Z' for a zombie, the state letter of /proc/PID/stat otherwise. */
static char state_of(long pid) {
        _cleanup_free_ char *data = NULL;
        char path[64], *p;

        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        if (read_full_file(path, &data, NULL) < 0)
                return '?';
        p = strrchr(data, ')');
        return p && p[1] == ' ' ? p[2] : '?';
}

/* Waits until the app (slipway-init's only child) has a child that runs comm: a shell's background child
 * that has exec'd (before its exec, it is a copy of the shell that would take the shell's trap instead). */
static void wait_for_grandchild(pid_t init, const char *comm) {
        for (int i = 0; i < STEP_TIMEOUT_MS / 10; i++) {
                _cleanup_free_ char *kids = children_of(init), *grandkids = NULL;
                long app = strtol(kids, NULL, 10), g;
                char *p, *end;

                if (app > 0) {
                        grandkids = children_of((pid_t) app);
                        for (p = grandkids; (g = strtol(p, &end, 10)) > 0; p = end) {
                                _cleanup_free_ char *c = NULL;
                                char path[64];

                                snprintf(path, sizeof path, "/proc/%ld/comm", g);
                                if (read_full_file(path, &c, NULL) == 0 &&
                                    strncmp(c, comm, strlen(comm)) == 0 && c[strlen(comm)] == '\n')
                                        return;
                        }
                }
                (void) usleep(10000);
        }
        TEST_FAIL("the app started no '%s' within %d ms", comm, STEP_TIMEOUT_MS);
}

static char *run_pid1(char *const *args, int *ret_status) {
        Pid1 c = pid1_start(args);
        char *out = strdup(pid1_read_until(&c, NULL));

        CHECK(out);
        *ret_status = pid1_wait(&c);
        return out;
}

/* What the app sees (`slipway-init SELF --probe`): not PID 1, a child of it, clone3 refused, no_new_privs. */
static int probe(void) {
        struct clone_args_v0 a = { .exit_signal = SIGCHLD };
        long r;

        CHECK(getpid() != 1);
        CHECK(getppid() == 1);
        CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1);
        r = syscall(SYS_clone3, &a, sizeof a);
        if (r == 0)
                _exit(0);
        CHECK(r < 0 && errno == ENOSYS);
        printf("probe ok\n");
        return 0;
}

int main(int argc, char *argv[]) {
        int status;

        if (argc > 1 && streq(argv[1], "--probe"))
                return probe();
        init_bin = getenv("SLIPWAY_INIT_BIN");
        if (!init_bin)
                TEST_SKIP("SLIPWAY_INIT_BIN not set");
        if (geteuid() != 0)
                TEST_SKIP("a new pid namespace needs root");

        CHECK(init_pid1_is_own_init("/sbin/init"));
        CHECK(init_pid1_is_own_init("tini"));
        CHECK(init_pid1_is_own_init("/usr/bin/dumb-init"));
        CHECK(init_pid1_is_own_init("/lib/systemd/systemd"));
        CHECK(!init_pid1_is_own_init("/bin/sh"));
        CHECK(!init_pid1_is_own_init("httpd"));
        CHECK(!init_pid1_is_own_init("/usr/bin/initdb"));
        CHECK(!init_pid1_is_own_init(NULL));

        {
                /* The app is pid 2, slipway-init's child. */
                _cleanup_free_ char *out = NULL;
                char *a[] = { (char *) "sh", (char *) "-c", (char *) "echo pid=$$ ppid=$PPID", NULL };
                out = run_pid1(a, &status);
                CHECK(status == 0);
                CHECK_STREQ(out, "pid=2 ppid=1\n");
        }
        {
                /* Under the filter and no_new_privs, as slipway-init is. */
                _cleanup_free_ char *self = realpath("/proc/self/exe", NULL), *out = NULL;
                char *a[] = { self, (char *) "--probe", NULL };

                CHECK(self);
                out = run_pid1(a, &status);
                CHECK(status == 0);
                CHECK_STREQ(out, "probe ok\n");
        }
        {
                /* Exit status: passed through; a signal gives 128 + N; a missing program the shell's 127. */
                _cleanup_free_ char *o1 = NULL, *o2 = NULL, *o3 = NULL;
                char *exit3[] = { (char *) "sh", (char *) "-c", (char *) "exit 3", NULL };
                char *killed[] = { (char *) "sh", (char *) "-c", (char *) "kill -9 $$", NULL };
                char *missing[] = { (char *) "/no/such/entrypoint", NULL };

                o1 = run_pid1(exit3, &status);
                CHECK(status == 3);
                o2 = run_pid1(killed, &status);
                CHECK(status == INIT_EXIT_SIGNAL_BASE + SIGKILL);
                o3 = run_pid1(missing, &status);
                CHECK(status == INIT_EXIT_CANNOT_RUN);
                CHECK_STREQ(o3,
                            "slipway-init: cannot run '/no/such/entrypoint': No such file or directory\n");
        }
        {
                /* SIGTERM from outside: an app without a handler ends by it (a PID 1 would ignore it). */
                char *a[] = { (char *) "sh", (char *) "-c", (char *) "echo ready; exec sleep 600", NULL };
                Pid1 c = pid1_start(a);

                (void) pid1_read_until(&c, "ready\n");
                CHECK(kill(c.pid, SIGTERM) == 0);
                CHECK(pid1_wait(&c) == INIT_EXIT_SIGNAL_BASE + SIGTERM);
        }
        {
                /* ... and reaches the app's process group: the trapping shell and the child it waits for. */
                char *a[] = {
                        (char *) "sh", (char *) "-c",
                        (char *) "trap 'echo got TERM; wait; exit 7' TERM; sleep 600 & echo ready; wait",
                        NULL
                };
                Pid1 c = pid1_start(a);
                const char *out;

                (void) pid1_read_until(&c, "ready\n");
                wait_for_grandchild(c.pid, "sleep");
                CHECK(kill(c.pid, SIGTERM) == 0);
                out = pid1_read_until(&c, NULL);
                CHECK(strstr(out, "got TERM"));
                CHECK(pid1_wait(&c) == 7);
        }
        {
                /* Other signals reach it too (SIGUSR1: the shell's trap runs). */
                char *a[] = {
                        (char *) "sh", (char *) "-c",
                        (char *) "trap 'echo got USR1; exit 5' USR1; echo ready; while :; do sleep 0.05; done",
                        NULL
                };
                Pid1 c = pid1_start(a);

                (void) pid1_read_until(&c, "ready\n");
                CHECK(kill(c.pid, SIGUSR1) == 0);
                (void) pid1_read_until(&c, "got USR1\n");
                CHECK(pid1_wait(&c) == 5);
        }
        {
                /* An orphan (the subshell's background child, reparented to PID 1) is reaped once it ends:
                 * slipway-init is left with the app as its only child, and no zombie. */
                char *a[] = { (char *) "sh", (char *) "-c",
                              (char *) "(sh -c 'sleep 0.2; echo orphan done' &); echo ready; exec sleep 600",
                              NULL };
                Pid1 c = pid1_start(a);
                _cleanup_free_ char *kids = NULL;
                long app = 0, n = 0;

                (void) pid1_read_until(&c, "orphan done\n");
                for (int i = 0; i < 200; i++) {
                        char *p, *end;

                        free(kids);
                        kids = children_of(c.pid);
                        n = 0;
                        for (p = kids; (app = strtol(p, &end, 10)) > 0; p = end)
                                n++;
                        if (n == 1)
                                break;
                        (void) usleep(20000);
                }
                CHECK(n == 1);
                app = strtol(kids, NULL, 10);
                CHECK(state_of(app) != 'Z');
                CHECK(kill(c.pid, SIGTERM) == 0);
                CHECK(pid1_wait(&c) == INIT_EXIT_SIGNAL_BASE + SIGTERM);
        }
        {
                /* An entrypoint named like an init is exec'd as PID 1 itself. */
                char dir[] = "/tmp/test-init-pid1-XXXXXX", link[64];
                _cleanup_free_ char *out = NULL;

                CHECK(mkdtemp(dir));
                snprintf(link, sizeof link, "%s/tini", dir);
                CHECK(symlink("/bin/sh", link) == 0);
                char *a[] = { link, (char *) "-c", (char *) "echo pid=$$", NULL };
                out = run_pid1(a, &status);
                (void) unlink(link);
                (void) rmdir(dir);
                CHECK(status == 0);
                CHECK_STREQ(out, "pid=1\n");
        }
        printf("test-init-pid1: ok\n");
        return 0;
}
