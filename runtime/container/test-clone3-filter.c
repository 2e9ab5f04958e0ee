/* The clone3 filter slipway-init installs, checked in forked children as a program would see it: clone3
 * answers ENOSYS (with namespace flags too), pthread_create still works (glibc falls back to clone), other
 * syscalls are untouched; and slipway-init itself execs its arguments in place with the filter, or says in
 * one line why it cannot (exit 127).  The filter part needs no privileges; namespace flags need root. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bundle.h"
#include "clone3-filter.h"
#include "container-init.h"
#include "fs-util.h"
#include "json-util.h"
#include "macro.h"
#include "process.h"

#define TEST_EXIT _exit
#include "tests.h"

struct clone_args_v0 {
        uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

/* clone3(flags) for a child that exits at once; 0 when it was created, else -errno. */
static int try_clone3(uint64_t flags) {
        struct clone_args_v0 a = { .flags = flags, .exit_signal = SIGCHLD };
        long r;

        errno = 0;
        r = syscall(SYS_clone3, &a, sizeof a);
        if (r == 0)
                _exit(0);
        if (r < 0)
                return -errno;
        CHECK(waitpid((pid_t) r, NULL, 0) == (pid_t) r);
        return 0;
}

static void *thread_main(void *arg) {
        return arg;
}

static int thread_works(void) {
        pthread_t t;
        void *out = NULL;

        if (pthread_create(&t, NULL, thread_main, (void *) 0x5a) != 0)
                return 0;
        CHECK(pthread_join(t, &out) == 0);
        return out == (void *) 0x5a;
}

/* What a payload under the filter sees (also what `slipway-init SELF --probe` runs). */
static int probe_under_filter(void) {
        pid_t pid;
        int status;

        CHECK(try_clone3(0) == -ENOSYS);
        if (geteuid() == 0) {
                CHECK(try_clone3(CLONE_NEWUSER) == -ENOSYS);
                CHECK(try_clone3(CLONE_NEWNS | CLONE_NEWNET) == -ENOSYS);
        }
        CHECK(thread_works());
        CHECK(syscall(SYS_getpid) == getpid());
        pid = fork(); /* glibc's fork is clone(), which the filter leaves alone */
        CHECK(pid >= 0);
        if (pid == 0)
                _exit(3);
        CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 3);
        return 0;
}

static int in_child(int (*fn)(void)) {
        pid_t pid = fork();
        int status;

        CHECK(pid >= 0);
        if (pid == 0)
                _exit(fn());
        CHECK(waitpid(pid, &status, 0) == pid);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int filter_in_child(void) {
        /* Before: clone3 works on this kernel, so the checks after the filter can fail. */
        CHECK(try_clone3(0) == 0);
        CHECK(thread_works());
        CHECK(clone3_filter_install() == 0);
        return probe_under_filter();
}

/* Runs argv with stdout+stderr into a file; returns the exit status and the output. */
static int run_captured(char *const *argv, char **ret_output) {
        char path[] = "/tmp/test-clone3-filter-XXXXXX";
        int fd = mkstemp(path), r;
        SpawnOptions o = SPAWN_OPTIONS_INIT;

        CHECK(fd >= 0);
        o.stdout_fd = o.stderr_fd = fd;
        r = run_process(argv, &o);
        close(fd);
        CHECK(read_full_file(path, ret_output, NULL) == 0);
        unlink(path);
        return r;
}

int main(int argc, char *argv[]) {
        const char *init = getenv("SLIPWAY_INIT_BIN");

        if (argc > 1 && streq(argv[1], "--probe")) {
                /* Exec'd by slipway-init: same process as the one it started in. */
                CHECK(argc > 2 && atol(argv[2]) == (long) getpid());
                return probe_under_filter();
        }

        if (try_clone3(0) == -ENOSYS) {
                fprintf(stderr, "test-clone3-filter: this kernel has no clone3, skipping\n");
                return 77;
        }
        CHECK(in_child(filter_in_child) == 0);
        /* The filter stays with the child: the parent still has clone3. */
        CHECK(try_clone3(0) == 0);

        {
                /* Found next to the running program in the build tree; an explicit path that is not an
                 * executable is an error, never replaced by another candidate; no shim, no bundle. */
                _cleanup_free_ char *found = NULL, *again = NULL;
                _cleanup_json_ json_t *config = NULL;
                char *args[] = { (char *) "/bin/true", NULL };
                BundleSpec spec = { .rootfs = "/nonexistent-root", .args = args };

                CHECK(unsetenv(CONTAINER_INIT_ENV) == 0);
                CHECK(container_init_find(&found) == 0);
                CHECK(strlen(found) > strlen("/runtime/container/slipway-init"));
                CHECK(streq(found + strlen(found) - strlen("/runtime/container/slipway-init"),
                            "/runtime/container/slipway-init"));
                CHECK(bundle_config_build(&spec, &config) == 0);
                json_t *pargs = json_object_get(json_object_get(config, "process"), "args");
                CHECK(json_array_size(pargs) == 2);
                CHECK(streq(json_string_value(json_array_get(pargs, 0)), CONTAINER_INIT_PATH));
                CHECK(streq(json_string_value(json_array_get(pargs, 1)), "/bin/true"));
                json_decref(TAKE_PTR(config));
                CHECK(setenv(CONTAINER_INIT_ENV, "/nonexistent/slipway-init", 1) == 0);
                CHECK(container_init_find(&again) == -ENOENT);
                CHECK(bundle_config_build(&spec, &config) == -ENOENT);
                CHECK(unsetenv(CONTAINER_INIT_ENV) == 0);
        }

        if (!init) {
                fprintf(stderr, "test-clone3-filter: SLIPWAY_INIT_BIN not set, slipway-init not checked\n");
                return 0;
        }
        {
                /* The payload keeps slipway-init's pid (exec in place) and runs under the filter. */
                _cleanup_free_ char *self = realpath("/proc/self/exe", NULL), *out = NULL;
                char script[256];

                CHECK(self);
                CHECK(snprintf(script, sizeof script, "exec %s --probe $$", self) < (int) sizeof script);
                char *a[] = { (char *) init, (char *) "/bin/sh", (char *) "-c", script, NULL };
                CHECK(run_captured(a, &out) == 0);
        }
        {
                /* PATH lookup from the environment; the exit status passes through. */
                _cleanup_free_ char *out = NULL;
                char *a[] = { (char *) init, (char *) "sh", (char *) "-c", (char *) "echo ran; exit 7",
                              NULL };
                CHECK(run_captured(a, &out) == 7);
                CHECK(streq(out, "ran\n"));
        }
        {
                /* A missing program: one line saying so, and the shell's 127. */
                _cleanup_free_ char *out = NULL;
                char *a[] = { (char *) init, (char *) "/no/such/entrypoint", (char *) "x", NULL };
                CHECK(run_captured(a, &out) == 127);
                CHECK(streq(out,
                            "slipway-init: cannot run '/no/such/entrypoint': No such file or directory\n"));
        }
        {
                _cleanup_free_ char *out = NULL;
                char *a[] = { (char *) init, NULL };
                CHECK(run_captured(a, &out) == 127);
                CHECK(strstr(out, "nothing to run"));
        }
        printf("test-clone3-filter: ok\n");
        return 0;
}
