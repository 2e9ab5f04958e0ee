/* Live test of cgroup-limits: creates a cgroup with memory, CPU and pids limits, starts children in it
 * (through spawn_process's cgroup hook and through cgroup_limits_attach), checks the limit files, the
 * children's /proc/PID/cgroup, that the memory and pids limits bite, and that removal leaves nothing.
 * Needs root and a writable cgroup hierarchy (exit 77 otherwise). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup-limits.h"
#include "fs-util.h"
#include "macro.h"
#include "process.h"

static char name[64];
static pid_t children[4];

static void cleanup(void) {
        for (size_t i = 0; i < ELEMENTSOF(children); i++)
                if (children[i] > 0) {
                        (void) kill(children[i], SIGKILL);
                        (void) waitpid(children[i], NULL, 0);
                        children[i] = 0;
                }
        if (name[0])
                (void) cgroup_limits_remove(name);
}

#define TEST_ON_FAILURE() cleanup()
#include "tests.h"

static char *read_attr(const char *controller, const char *attr) {
        _cleanup_free_ char *dir = NULL, *path = NULL;
        char *data = NULL;

        CHECK_OK(cgroup_limits_path(name, controller, &dir));
        path = path_join(dir, attr);
        CHECK(path);
        CHECK_OK(read_full_file(path, &data, NULL));
        data[strcspn(data, "\n")] = '\0';
        return data;
}

static bool exists(const char *controller) {
        _cleanup_free_ char *dir = NULL;
        struct stat st;

        CHECK_OK(cgroup_limits_path(name, controller, &dir));
        return stat(dir, &st) == 0;
}

/* True when pid's /proc/PID/cgroup puts it in our cgroup for controller (v1) or in our v2 cgroup. */
static bool in_cgroup(pid_t pid, const char *controller, CgroupLayout layout) {
        _cleanup_free_ char *path = NULL, *data = NULL, *want = NULL;

        CHECK(asprintf(&path, "/proc/%d/cgroup", (int) pid) > 0);
        CHECK_OK(read_full_file(path, &data, NULL));
        if (layout == CGROUP_LAYOUT_UNIFIED)
                CHECK(asprintf(&want, "0::/" CGROUP_LIMITS_PARENT "/%s\n", name) > 0);
        else
                CHECK(asprintf(&want, ":%s:/" CGROUP_LIMITS_PARENT "/%s\n", controller, name) > 0);
        return strstr(data, want) != NULL;
}

static int sleeper(void *userdata) {
        (void) userdata;
        pause();
        return 0;
}

/* Touches 4× the memory limit: the kernel must kill it. */
static int eater(void *userdata) {
        size_t size = *(uint64_t *) userdata * 4;
        char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        if (p == MAP_FAILED)
                return 2;
        for (size_t off = 0; off < size; off += 4096)
                p[off] = 1;
        return 0; /* survived: the limit did not bite */
}

/* Forks more children than pids.max allows: exits 1 when a fork was refused, 0 when none was. */
static int forker(void *userdata) {
        unsigned n = *(unsigned *) userdata;
        pid_t pids[64];
        int refused = 0;

        for (unsigned i = 0; i < n && i < ELEMENTSOF(pids); i++) {
                pids[i] = fork();
                if (pids[i] == 0) {
                        pause();
                        _exit(0);
                }
                if (pids[i] < 0) {
                        refused = 1;
                        n = i;
                        break;
                }
        }
        for (unsigned i = 0; i < n; i++) {
                (void) kill(pids[i], SIGKILL);
                (void) waitpid(pids[i], NULL, 0);
        }
        return refused;
}

/* The limit tests' children must not run before they are inside the cgroup: a child stops itself first
 * and runs fn only after attach_and_continue() moved it in (a fast forker or eater finished before the
 * parent's attach under load, and the limit never bit). */
typedef struct StoppedCall {
        int (*fn)(void *userdata);
        void *userdata;
} StoppedCall;

static int stopped_call(void *userdata) {
        StoppedCall *c = userdata;

        if (raise(SIGSTOP) < 0)
                return 3;
        return c->fn(c->userdata);
}

static pid_t fork_stopped(StoppedCall *c) {
        pid_t pid = fork_function(stopped_call, c);
        int status;

        if (pid < 0)
                return pid;
        if (waitpid(pid, &status, WUNTRACED) != pid || !WIFSTOPPED(status)) {
                (void) kill(pid, SIGKILL);
                return -ECHILD;
        }
        return pid;
}

static int attach_and_continue(const char *cgroup, pid_t pid) {
        int r = cgroup_limits_attach(cgroup, pid);

        if (kill(pid, SIGCONT) < 0 && r >= 0)
                r = -errno;
        return r;
}

static int swap_total_kb(void) {
        _cleanup_free_ char *data = NULL;
        const char *p;

        if (read_full_file("/proc/meminfo", &data, NULL) < 0 || !(p = strstr(data, "SwapTotal:")))
                return -1;
        return atoi(p + strlen("SwapTotal:"));
}

int main(void) {
        CgroupLimits limits = { .memory_max = 32ULL << 20, .cpu_quota_us = 50000, .pids_max = 16 };
        CgroupLayout layout;
        unsigned applied = 0;
        int fds[CGROUP_LIMITS_FDS_MAX], n, sig = 0;
        _cleanup_free_ char *v = NULL;

        if (geteuid() != 0) {
                fprintf(stderr, "test-cgroup-limits needs root; skipped\n");
                return 77;
        }
        layout = cgroup_layout();
        fprintf(stderr, "cgroup layout: %s\n", cgroup_layout_to_string(layout));
        if (layout == CGROUP_LAYOUT_NONE) {
                fprintf(stderr, "no cgroup hierarchy; skipped\n");
                return 77;
        }

        /* Names are path components: nothing that climbs out of the parent. */
        CHECK(cgroup_limits_create("../x", &limits, &applied) == -EINVAL);
        CHECK(cgroup_limits_create("", &limits, &applied) == -EINVAL);
        CHECK(cgroup_limits_remove("a/b") == -EINVAL);
        CHECK(streq(cgroup_limits_mask_to_string(CGROUP_LIMIT_MEMORY | CGROUP_LIMIT_PIDS), "memory, pids"));

        snprintf(name, sizeof name, "test-cgroup-limits-%d", (int) getpid());
        CHECK_OK(cgroup_limits_create(name, &limits, &applied));
        fprintf(stderr, "applied: %s\n", cgroup_limits_mask_to_string(applied));
        if (applied == 0) {
                fprintf(stderr, "no writable cgroup controller; skipped\n");
                cleanup();
                return 77;
        }

        /* The limit files say what was asked. */
        if (applied & CGROUP_LIMIT_MEMORY) {
                v = read_attr("memory",
                              layout == CGROUP_LAYOUT_UNIFIED ? "memory.max" : "memory.limit_in_bytes");
                CHECK(streq(v, "33554432"));
                free(TAKE_PTR(v));
        }
        if (applied & CGROUP_LIMIT_CPU) {
                if (layout == CGROUP_LAYOUT_UNIFIED) {
                        v = read_attr("cpu", "cpu.max");
                        CHECK(streq(v, "50000 100000"));
                } else {
                        v = read_attr("cpu", "cpu.cfs_quota_us");
                        CHECK(streq(v, "50000"));
                        free(TAKE_PTR(v));
                        v = read_attr("cpu", "cpu.cfs_period_us");
                        CHECK(streq(v, "100000"));
                }
                free(TAKE_PTR(v));
        }
        if (applied & CGROUP_LIMIT_PIDS) {
                v = read_attr("pids", "pids.max");
                CHECK(streq(v, "16"));
                free(TAKE_PTR(v));
        }

        /* spawn_process's hook: the child is inside before it execs, and so is what it execs. */
        n = cgroup_limits_open_procs(name, fds);
        CHECK_OK(n);
        CHECK(n >= 1);
        {
                char *argv[] = { (char *) "sleep", (char *) "60", NULL };
                SpawnOptions o = SPAWN_OPTIONS_INIT;
                o.cgroup_procs_fds = fds;
                o.n_cgroup_procs_fds = (size_t) n;
                o.wait_for_exec = true;
                children[0] = spawn_process(argv, &o);
                for (int i = 0; i < n; i++)
                        safe_close(fds[i]);
                CHECK_OK(children[0]);
        }
        /* A forked child moved in by pid. */
        children[1] = fork_function(sleeper, NULL);
        CHECK_OK(children[1]);
        CHECK_OK(cgroup_limits_attach(name, children[1]));
        for (size_t c = 0; c < 2; c++) {
                if (applied & CGROUP_LIMIT_MEMORY)
                        CHECK(in_cgroup(children[c], "memory", layout));
                if (applied & CGROUP_LIMIT_CPU)
                        CHECK(in_cgroup(children[c], "cpu", layout));
                if (applied & CGROUP_LIMIT_PIDS)
                        CHECK(in_cgroup(children[c], "pids", layout));
        }
        CHECK(!in_cgroup(getpid(), "memory", layout));

        /* Busy while somebody is inside: refused after the short wait. */
        CHECK(cgroup_limits_remove(name) == -EBUSY);
        /* What is inside can be killed by cgroup. */
        CHECK(cgroup_limits_kill(name) >= 2);
        for (size_t c = 0; c < 2; c++) {
                CHECK(wait_for_pid(children[c], &sig) == -EPROTO && sig == SIGKILL);
                children[c] = 0;
        }
        CHECK(cgroup_limits_kill(name) == 0);

        /* The limits bite: memory (when swap cannot stretch it) and pids. */
        CHECK_OK(cgroup_limits_create(name, &limits, &applied));
        if ((applied & CGROUP_LIMIT_MEMORY) &&
            (swap_total_kb() == 0 || layout == CGROUP_LAYOUT_UNIFIED ||
             access("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", F_OK) == 0)) {
                StoppedCall eat = { eater, &limits.memory_max };

                children[2] = fork_stopped(&eat);
                CHECK_OK(children[2]);
                CHECK_OK(attach_and_continue(name, children[2]));
                CHECK(wait_for_pid(children[2], &sig) == -EPROTO);
                CHECK(sig == SIGKILL);
                children[2] = 0;
                uint64_t kills = 0;
                CHECK_OK(cgroup_limits_oom_kills(name, &kills));
                CHECK(kills >= 1);
                fprintf(stderr, "memory limit: the eater was OOM-killed\n");
        }
        if (applied & CGROUP_LIMIT_PIDS) {
                unsigned forks = 32;

                StoppedCall fork_many = { forker, &forks };

                children[3] = fork_stopped(&fork_many);
                CHECK_OK(children[3]);
                CHECK_OK(attach_and_continue(name, children[3]));
                CHECK(wait_for_pid(children[3], NULL) == 1);
                children[3] = 0;
                fprintf(stderr, "pids limit: a fork beyond pids.max was refused\n");
        }

        /* Reused with fewer limits: the cgroups of the dropped ones go. */
        CgroupLimits only_memory = { .memory_max = 64ULL << 20 };
        CHECK_OK(cgroup_limits_create(name, &only_memory, &applied));
        if (layout == CGROUP_LAYOUT_LEGACY) {
                CHECK(!exists("cpu"));
                CHECK(!exists("pids"));
        }
        if (applied & CGROUP_LIMIT_MEMORY) {
                v = read_attr("memory",
                              layout == CGROUP_LAYOUT_UNIFIED ? "memory.max" : "memory.limit_in_bytes");
                CHECK(streq(v, "67108864"));
                free(TAKE_PTR(v));
        }

        CHECK_OK(cgroup_limits_remove(name));
        CHECK(!exists("memory") && !exists("cpu") && !exists("pids"));
        CHECK_OK(cgroup_limits_remove(name)); /* nothing there: fine */
        name[0] = '\0';
        fprintf(stderr, "ok\n");
        return 0;
}
