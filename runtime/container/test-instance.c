/* Live test of instances: busybox httpd instances in their own netns on a test bridge, probed from the
 * host (the probe itself against canned peers is test-probe.c); logs; adoption after the starting process died; the pid-reuse guard; stop
 * with a handled STOPSIGNAL and with an ignored one.  Needs root; everything it creates is removed,
 * also on failure.  INSTANCE_BENCH_RUNS=N measures start → first TCP answer N times. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "bridge.h"
#include "bundle.h"
#include "fs-util.h"
#include "idmap.h"
#include "ifname.h"
#include "instance.h"
#include "macro.h"
#include "netns.h"
#include "nspawn.h"
#include "overlay.h"
#include "probe.h"
#include "process.h"
#include "subnet-pool.h"
#include "veth.h"

#define HTTP_PORT 8080
#define START_TIMEOUT_MS 10000

static void cleanup(void);

#define TEST_ON_FAILURE() cleanup()
#include "test-listener.h"
#include "tests.h"

#define MAX_SLOTS 8

static struct {
        char top[64];
        pid_t pid; /* the test process: forked children must not clean up */
        char bridge[IFNAMSIZ], veth[3][IFNAMSIZ], netns[3][32];
        NetSubnet subnet;
        struct in_addr ip[3];
        char ip_s[3][INET_ADDRSTRLEN];
        bool net_up;
        bool userns_ok;
        struct {
                char *dir, *root;
                char *nspawn_netns; /* run nspawn in this netns (a user-namespaced bundle inherits it) */
                Instance *inst;
                bool mounted;
        } slot[MAX_SLOTS];
} T = { .top = "/tmp/test-instance-XXXXXX" };

static void cleanup(void) {
        if (getpid() != T.pid)
                return;
        for (size_t k = 0; k < MAX_SLOTS; k++) {
                if (!T.slot[k].dir)
                        continue;
                if (!T.slot[k].inst)
                        (void) instance_adopt(T.slot[k].dir, &T.slot[k].inst); /* started by a child */
                if (T.slot[k].inst) {
                        (void) instance_kill(T.slot[k].inst);
                        T.slot[k].inst = instance_free(T.slot[k].inst);
                }
                if (T.slot[k].mounted)
                        (void) overlay_umount(T.slot[k].root);
                T.slot[k].mounted = false;
        }
        if (T.net_up) {
                for (size_t k = 0; k < 3; k++) {
                        (void) netns_delete(T.netns[k]);
                        (void) net_veth_delete(T.veth[k]);
                }
                (void) net_bridge_delete(T.bridge);
                T.net_up = false;
        }
        if (T.top[0] == '/' && !strstr(T.top, "XXXXXX"))
                (void) rm_rf(T.top);
}

static void on_signal(int sig) {
        cleanup();
        signal(sig, SIG_DFL);
        raise(sig);
}

static char *p(const char *rel) {
        char *r = path_join(T.top, rel);
        CHECK(r);
        return r;
}

static double ms_since(const struct timespec *a) {
        struct timespec b;

        clock_gettime(CLOCK_MONOTONIC, &b);
        return (b.tv_sec - a->tv_sec) * 1e3 + (b.tv_nsec - a->tv_nsec) / 1e6;
}

static void make_layer(void) {
        static const char *const applets[] = { "sh", "echo", "cat",   "sleep", "httpd",
                                               "ls", "id",   "touch", "grep",  NULL };
        _cleanup_free_ char *bin = p("layer/bin"), *bb = p("layer/bin/busybox"), *www = p("layer/www"),
                            *index = p("layer/www/index.html");
        char *cp[] = { (char *) "cp", (char *) "/bin/busybox", bb, NULL };
        static const char page[] = "<h1>slipway</h1>\n";

        CHECK_OK(mkdir_p(bin, 0755));
        CHECK_OK(mkdir_p(www, 0755));
        CHECK(run_process(cp, NULL) == 0);
        for (size_t i = 0; applets[i]; i++) {
                _cleanup_free_ char *l = path_join(bin, applets[i]);
                CHECK(symlink("busybox", l) == 0);
        }
        CHECK_OK(write_file_atomic(index, page, strlen(page), 0644));
}

/* Creates netns k with its veth on the test bridge (what instance-setup does before a start). */
static void plug_network(size_t k) {
        NetVethConfig c = {
                .netns = T.netns[k],
                .host_ifname = T.veth[k],
                .bridge = T.bridge,
                .address = T.ip[k],
                .prefixlen = T.subnet.prefixlen,
                .gateway = net_subnet_host_address(&T.subnet),
        };

        CHECK_OK(netns_create(T.netns[k]));
        CHECK_OK(net_veth_setup(&c));
}

static void setup_network(void) {
        _cleanup_free_ NetSubnet *host = NULL;
        NetSubnet pool;
        char key[64];
        size_t n = 0;

        for (size_t k = 0; k < 3; k++) {
                snprintf(key, sizeof(key), "test-instance/%d/%zu", (int) T.pid, k);
                CHECK_OK(net_ifname_from_key("swv", key, T.veth[k]));
                snprintf(T.netns[k], sizeof(T.netns[k]), "swi-%d-%zu", (int) T.pid, k);
        }
        snprintf(key, sizeof(key), "test-instance/%d", (int) T.pid);
        CHECK_OK(net_ifname_from_key("swt", key, T.bridge));

        /* A test subnet nobody on this host uses (other test runs included); the upper half of
         * 10.254/16, as test-net (which may run at the same time) allocates from the bottom. */
        CHECK_OK(net_subnet_parse("10.254.128.0/17", &pool));
        CHECK_OK(net_host_subnets(&host, &n));
        CHECK_OK(net_subnet_pool_allocate(&pool, host, n, &T.subnet));

        T.net_up = true;
        CHECK_OK(net_bridge_create(T.bridge, &T.subnet));
        for (size_t k = 0; k < 3; k++) {
                CHECK_OK(net_subnet_address(&T.subnet, 100 + (uint32_t) k, &T.ip[k]));
                CHECK(inet_ntop(AF_INET, &T.ip[k], T.ip_s[k], sizeof(T.ip_s[k])));
        }
        for (size_t k = 0; k < 2; k++)
                plug_network(k);
}

/* Prepares slot k: overlay root over the busybox layer and a bundle running args. */
static void prepare_full(size_t k, const char *name, char *const *args, const char *netns, uid_t shift,
                         bool resources) {
        _cleanup_free_ char *upper = NULL, *work = NULL, *bundle = NULL, *shim = p("shim"),
                            *lower = p("layer"), *netns_path = NULL;
        const char *lowers[] = { lower };
        char *env[] = { (char *) "PATH=/bin", NULL };

        CHECK(k < MAX_SLOTS && !T.slot[k].dir);
        T.slot[k].dir = p(name);
        T.slot[k].root = path_join(T.slot[k].dir, "rootfs");
        upper = path_join(T.slot[k].dir, "upper");
        work = path_join(T.slot[k].dir, "work");
        bundle = path_join(T.slot[k].dir, "bundle");
        CHECK(T.slot[k].root && upper && work && bundle);
        CHECK_OK(mkdir_p(T.slot[k].root, 0755));
        CHECK_OK(mkdir_p(upper, 0755));
        CHECK_OK(mkdir_p(work, 0755));
        CHECK_OK(mkdir_p(bundle, 0700));
        CHECK_OK(overlay_shim_ensure(shim));
        CHECK_OK(overlay_mount_shifted(lowers, 1, upper, work, T.slot[k].root, shim, shift));
        T.slot[k].mounted = true;
        if (netns)
                CHECK(asprintf(&netns_path, "/run/netns/%s", netns) > 0);
        /* A user-namespaced container cannot join a host-owned netns (nspawn 252 joins it from inside the
         * new user namespace: EPERM): nspawn is started inside it and the bundle inherits it. */
        free(T.slot[k].nspawn_netns);
        T.slot[k].nspawn_netns = shift > 0 && netns ? strdup(netns_path) : NULL;

        BundleSpec spec = { .rootfs = T.slot[k].root,
                            .args = args,
                            .env = env,
                            .hostname = name,
                            .netns_path = shift > 0 ? NULL : netns_path,
                            .netns_inherit = shift > 0 && netns,
                            .uid_shift = shift,
                            .cgroup_resources = resources,
                            .memory_max = 64ULL << 20,
                            .pids_max = 64,
                            .cpu_quota_us = 50000 };
        CHECK_OK(bundle_write(bundle, &spec));
}

static void prepare_shifted(size_t k, const char *name, char *const *args, const char *netns, uid_t shift) {
        prepare_full(k, name, args, netns, shift, false);
}

static void prepare(size_t k, const char *name, char *const *args, const char *netns) {
        prepare_shifted(k, name, args, netns, 0);
}

static void release(size_t k) {
        if (T.slot[k].inst)
                T.slot[k].inst = instance_free(T.slot[k].inst);
        if (T.slot[k].mounted)
                CHECK_OK(overlay_umount(T.slot[k].root));
        T.slot[k].mounted = false;
}

static Instance *start_full(size_t k, const char *machine, int stop_signal, bool resources) {
        _cleanup_free_ char *bundle = path_join(T.slot[k].dir, "bundle");
        InstanceSpec s = { .dir = T.slot[k].dir,
                           .bundle_dir = bundle,
                           .machine_name = machine,
                           .stop_signal = stop_signal,
                           .cgroup_resources = resources,
                           .netns_path = T.slot[k].nspawn_netns };

        CHECK(bundle);
        CHECK_OK(instance_start(&s, &T.slot[k].inst));
        return T.slot[k].inst;
}

static Instance *start(size_t k, const char *machine, int stop_signal) {
        return start_full(k, machine, stop_signal, false);
}

static ProbeResult probe(ProbeType type, const char *address, uint16_t port, const char *path) {
        ProbeSpec s = { .type = type, .address = address, .port = port, .path = path, .timeout_ms = 2000 };
        ProbeResult r;

        CHECK_OK(probe_run(&s, &r));
        fprintf(stderr, "  probe: %s (healthy=%d)\n", r.message, r.healthy);
        return r;
}

/* Retries a TCP probe until the instance answers; returns the time it took. */
static double wait_tcp(const char *address, const struct timespec *since) {
        for (;;) {
                ProbeSpec s = {
                        .type = PROBE_TCP, .address = address, .port = HTTP_PORT, .timeout_ms = 200
                };
                ProbeResult r;

                CHECK_OK(probe_run(&s, &r));
                if (r.healthy)
                        return ms_since(since);
                if (ms_since(since) >= START_TIMEOUT_MS && getenv("TEST_KEEP"))
                        pause();
                CHECK(ms_since(since) < START_TIMEOUT_MS);
                usleep(5 * 1000);
        }
}

static bool file_contains(const char *dir, const char *name, const char *needle) {
        _cleanup_free_ char *path = path_join(dir, name), *data = NULL;

        CHECK(path);
        if (read_full_file(path, &data, NULL) < 0)
                return false;
        return strstr(data, needle);
}

/* httpd in the background; the shell is PID 1 and leaves cleanly on its stop signal. */
static char *const *web_args(const char *sig) {
        static char script[512];
        static char *args[] = { (char *) "/bin/sh", (char *) "-c", script, NULL };

        snprintf(script, sizeof(script),
                 "trap 'echo bye; exit 0' %s; echo started-out; echo started-err >&2; "
                 "httpd -p %d -h /www; while :; do sleep 1 & wait; done",
                 sig, HTTP_PORT);
        return args;
}

static void test_web(void) {
        char machine[64];
        struct timespec t0;
        InstanceState st;
        int status = -1;
        ProbeResult r;

        snprintf(machine, sizeof(machine), "swtest-%d-web", (int) T.pid);
        prepare(0, "web", web_args("QUIT"), T.netns[0]);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        Instance *i = start(0, machine, SIGQUIT); /* the image's STOPSIGNAL */
        fprintf(stderr, "web: first TCP answer after %.1f ms\n", wait_tcp(T.ip_s[0], &t0));

        CHECK_OK(instance_status(i, &st, &status));
        CHECK(st == INSTANCE_RUNNING && instance_is_child(i));

        r = probe(PROBE_HTTP, T.ip_s[0], HTTP_PORT, "/index.html");
        CHECK(r.healthy && r.http_status == 200 && r.error == 0);
        r = probe(PROBE_HTTP, T.ip_s[0], HTTP_PORT, "/missing");
        CHECK(!r.healthy && r.http_status == 404 && strstr(r.message, "HTTP 404 from ") &&
              strstr(r.message, "/missing"));
        r = probe(PROBE_TCP, T.ip_s[0], HTTP_PORT, NULL);
        CHECK(r.healthy && r.error == 0);
        r = probe(PROBE_TCP, T.ip_s[0], HTTP_PORT + 1, NULL);
        CHECK(!r.healthy && r.error == ECONNREFUSED && strstr(r.message, "refused"));
        /* Nobody listens at .200 of the test subnet: no ARP answer, the probe times out. */
        {
                struct in_addr none;
                char none_s[INET_ADDRSTRLEN];
                ProbeSpec s = { .type = PROBE_HTTP,
                                .address = none_s,
                                .port = HTTP_PORT,
                                .path = "/",
                                .timeout_ms = 300 };
                CHECK_OK(net_subnet_address(&T.subnet, 200, &none));
                CHECK(inet_ntop(AF_INET, &none, none_s, sizeof(none_s)));
                CHECK_OK(probe_run(&s, &r));
                fprintf(stderr, "  probe: %s\n", r.message);
                CHECK(!r.healthy && (r.error == ETIMEDOUT || r.error == EHOSTUNREACH));
        }

        CHECK(file_contains(T.slot[0].dir, INSTANCE_STDOUT_LOG, "started-out"));
        CHECK(file_contains(T.slot[0].dir, INSTANCE_STDERR_LOG, "started-err"));
        CHECK(!file_contains(T.slot[0].dir, INSTANCE_STDOUT_LOG, "started-err"));

        /* Copy-truncate rotation: the old lines move to .1, the container keeps writing to the log. */
        CHECK(instance_logs_rotate(T.slot[0].dir, INSTANCE_LOG_MAX_DEFAULT) == 0);
        CHECK(instance_logs_rotate(T.slot[0].dir, 4) == 2);
        CHECK(file_contains(T.slot[0].dir, INSTANCE_STDOUT_LOG ".1", "started-out"));
        CHECK(file_contains(T.slot[0].dir, INSTANCE_STDERR_LOG ".1", "started-err"));
        CHECK(!file_contains(T.slot[0].dir, INSTANCE_STDOUT_LOG, "started-out"));

        /* Stop with the image's STOPSIGNAL (SIGQUIT, via nspawn's --kill-signal): the trap runs. */
        clock_gettime(CLOCK_MONOTONIC, &t0);
        CHECK(instance_stop(i, 0, 5000) == 1);
        fprintf(stderr, "web: stopped cleanly in %.1f ms\n", ms_since(&t0));
        CHECK(file_contains(T.slot[0].dir, INSTANCE_STDOUT_LOG, "bye")); /* after the truncation */
        {
                /* O_APPEND: after the truncation the writer continues at 0, leaving no hole of NULs. */
                _cleanup_free_ char *path = path_join(T.slot[0].dir, INSTANCE_STDOUT_LOG), *data = NULL;
                size_t size;
                CHECK(path && read_full_file(path, &data, &size) == 0 && size > 0 && !memchr(data, 0, size));
        }
        CHECK_OK(instance_status(i, &st, &status));
        CHECK(st == INSTANCE_EXITED && status == 0);
        r = probe(PROBE_TCP, T.ip_s[0], HTTP_PORT, NULL);
        CHECK(!r.healthy);
        release(0);
}

static uint16_t leak_port;

static int start_and_exit(void *userdata) {
        char **a = userdata;
        _cleanup_free_ char *bundle = path_join(a[0], "bundle");
        InstanceSpec s = { .dir = a[0], .bundle_dir = bundle, .machine_name = a[1] };
        Instance *i = NULL;

        /* An API socket some library forgot to mark O_CLOEXEC must not end up pinned by nspawn. */
        if (test_tcp_listener(leak_port, false, NULL) < 0)
                return 2;

        /* Like slipwayd being killed -9 right after starting an instance: nothing is stopped or freed. */
        if (instance_start(&s, &i) < 0)
                return 1;
        raise(SIGKILL);
        return 3;
}

static void test_adopt(void) {
        char machine[64];
        InstanceState st;
        ProbeResult r;
        pid_t child;

        snprintf(machine, sizeof(machine), "swtest-%d-adopt", (int) T.pid);
        prepare(1, "adopt", web_args("TERM"), T.netns[1]);
        char *a[] = { T.slot[1].dir, machine };
        int probe_fd = test_tcp_listener(0, true, &leak_port);
        CHECK(probe_fd >= 0);
        safe_close(probe_fd);
        child = fork_function(start_and_exit, a);
        CHECK(child > 0);
        int sig = 0;
        CHECK(wait_for_pid(child, &sig) == -EPROTO && sig == SIGKILL);

        /* Its listening socket died with it: the port can be listened on again. */
        int again_fd = test_tcp_listener(leak_port, true, NULL);
        CHECK(again_fd >= 0);
        safe_close(again_fd);

        Instance *i = NULL;
        CHECK_OK(instance_adopt(T.slot[1].dir, &i));
        T.slot[1].inst = i;
        CHECK(!instance_is_child(i) && streq(instance_machine(i), machine));
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        (void) wait_tcp(T.ip_s[1], &t0);
        r = probe(PROBE_HTTP, T.ip_s[1], HTTP_PORT, "/index.html");
        CHECK(r.healthy && r.http_status == 200);
        CHECK_OK(instance_status(i, &st, NULL));
        CHECK(st == INSTANCE_RUNNING);

        /* A crash before the state file was written: adopt by machine name instead. */
        {
                _cleanup_free_ char *state = path_join(T.slot[1].dir, INSTANCE_STATE_FILE);
                Instance *by_name = NULL;

                CHECK(state && unlink(state) == 0);
                CHECK(instance_adopt(T.slot[1].dir, &by_name) == -ENOENT);
                CHECK(instance_adopt_machine(T.slot[1].dir, "swtest-no-such-machine", &by_name) == -ESRCH);
                CHECK_OK(instance_adopt_machine(T.slot[1].dir, machine, &by_name));
                CHECK(instance_pid(by_name) == instance_pid(i));
                instance_free(by_name);
                CHECK(access(state, F_OK) == 0); /* written again */
        }

        /* Adopting twice is fine (a second handle on the same process). */
        Instance *again = NULL;
        CHECK_OK(instance_adopt(T.slot[1].dir, &again));
        CHECK(instance_pid(again) == instance_pid(i));
        instance_free(again);

        CHECK(instance_stop(i, 0, 5000) == 1);
        CHECK_OK(instance_status(i, &st, NULL));
        CHECK(st == INSTANCE_GONE);
        CHECK(file_contains(T.slot[1].dir, INSTANCE_STDOUT_LOG, "bye"));
        /* Afterwards the state file points at nothing: adopt says so. */
        Instance *none = NULL;
        int rr = instance_adopt(T.slot[1].dir, &none);
        CHECK(rr == -ESRCH || rr == -ESTALE);
        release(1);
}

static void write_state(const char *dir, pid_t pid, unsigned long long start_time, const char *machine) {
        _cleanup_free_ char *path = path_join(dir, INSTANCE_STATE_FILE), *text = NULL;

        CHECK(path);
        CHECK(asprintf(
                      &text,
                      "{\"version\":1,\"pid\":%d,\"start_time\":%llu,\"machine\":\"%s\",\"stop_signal\":15}",
                      (int) pid, start_time, machine) > 0);
        CHECK_OK(write_file_atomic(path, text, strlen(text), 0600));
}

static unsigned long long start_time_of(pid_t pid) {
        char path[64], buf[1024];
        unsigned long long st = 0;
        _cleanup_fclose_ FILE *f = NULL;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        f = fopen(path, "re");
        CHECK(f && fgets(buf, sizeof(buf), f));
        char *q = strrchr(buf, ')');
        CHECK(q &&
              sscanf(q + 1,
                     " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
                     &st) == 1);
        return st;
}

static void test_pid_reuse_guard(void) {
        _cleanup_free_ char *dir = p("guard");
        Instance *i = NULL;
        pid_t dead;

        CHECK_OK(mkdir_p(dir, 0755));
        /* A live process that is not nspawn, with its true start time: only the command line differs. */
        write_state(dir, getpid(), start_time_of(getpid()), "swtest-guard");
        CHECK(instance_adopt(dir, &i) == -ESTALE);
        /* The same live pid with another start time: a recycled pid. */
        write_state(dir, getpid(), start_time_of(getpid()) + 1, "swtest-guard");
        CHECK(instance_adopt(dir, &i) == -ESTALE);
        /* A pid that no longer exists. */
        char *true_argv[] = { (char *) "true", NULL };
        dead = spawn_process(true_argv, NULL);
        CHECK(dead > 0 && wait_for_pid(dead, NULL) == 0);
        write_state(dir, dead, 1, "swtest-guard");
        int r = instance_adopt(dir, &i);
        CHECK(r == -ESRCH || r == -ESTALE); /* ESTALE only if the pid was reused already */
        /* Garbage. */
        _cleanup_free_ char *path = path_join(dir, INSTANCE_STATE_FILE);
        CHECK_OK(write_file_atomic(path, "{\"pid\":\"1\"}", 11, 0600));
        CHECK(instance_adopt(dir, &i) == -EBADMSG);
        CHECK(i == NULL);
}

static void test_stop_ignored(void) {
        char machine[64];
        static char *args[] = { (char *) "/bin/sh", (char *) "-c",
                                (char *) "trap '' TERM; echo ready; while :; do sleep 1 & wait; done",
                                NULL };
        struct timespec t0;
        InstanceState st;
        int status = -1;
        double ms;

        snprintf(machine, sizeof(machine), "swtest-%d-ignore", (int) T.pid);
        prepare(2, "ignore", args, NULL);
        Instance *i = start(2, machine, SIGTERM);
        /* Wait until the trap is installed (the script printed "ready") — by watching the log. */
        clock_gettime(CLOCK_MONOTONIC, &t0);
        while (!file_contains(T.slot[2].dir, INSTANCE_STDOUT_LOG, "ready")) {
                CHECK(ms_since(&t0) < START_TIMEOUT_MS);
                usleep(10 * 1000);
        }
        clock_gettime(CLOCK_MONOTONIC, &t0);
        CHECK(instance_stop(i, 0, 700) == 0); /* had to be killed */
        ms = ms_since(&t0);
        fprintf(stderr, "ignore: killed after %.1f ms\n", ms);
        CHECK(ms >= 690 && ms < 700 + INSTANCE_TEARDOWN_MS + 1000);
        CHECK_OK(instance_status(i, &st, &status));
        CHECK(st == INSTANCE_EXITED && status != 0);
        CHECK(kill(instance_pid(i), 0) < 0);
        release(2);
}

/* A user-namespaced instance: root inside is an unprivileged uid range outside; image files appear
 * owned by root without a chown or copy-up; writes land in the upper owned by the range. */
static void test_userns(void) {
        _cleanup_free_ char *layer = p("layer"), *written = NULL, *in_layer = p("layer/written");
        static char script[512];
        char *args[] = { (char *) "/bin/sh", (char *) "-c", script, NULL };
        uid_t shift = IDMAP_RANGE_SIZE * (2000U + (unsigned) T.pid % 1000U);
        char machine[64], map_line[64], net_line[64];
        struct timespec t0;
        struct stat st;
        ProbeResult r;

        if (!idmap_supported(layer)) {
                fprintf(stderr, "userns: idmapped mounts not supported here, skipping that part\n");
                return;
        }
        T.userns_ok = true;
        snprintf(script, sizeof(script),
                 "trap 'exit 0' TERM; cat /proc/self/uid_map; echo uid=$(id -u); echo NET $(cat "
                 "/proc/net/fib_trie); touch /written && echo WROTE; "
                 "ls -ln /bin/busybox; grep CapEff /proc/self/status; httpd -p %d -h /www; "
                 "while :; do sleep 1 & wait; done",
                 HTTP_PORT);
        snprintf(machine, sizeof(machine), "swtest-%d-userns", (int) T.pid);
        /* The netns is made and wired before the start, as for any instance; nspawn runs inside it. */
        plug_network(2);
        prepare_shifted(4, "userns", args, T.netns[2], shift);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        Instance *i = start(4, machine, SIGTERM);
        fprintf(stderr, "userns: first TCP answer after %.1f ms\n", wait_tcp(T.ip_s[2], &t0));
        r = probe(PROBE_HTTP, T.ip_s[2], HTTP_PORT, "/index.html");
        CHECK(r.healthy && r.http_status == 200);

        snprintf(map_line, sizeof(map_line), "%u", (unsigned) shift);
        CHECK(file_contains(T.slot[4].dir, INSTANCE_STDOUT_LOG, map_line));
        CHECK(file_contains(T.slot[4].dir, INSTANCE_STDOUT_LOG, "uid=0"));
        /* eth0 had its address before the payload's first command ran. */
        snprintf(net_line, sizeof(net_line), "|-- %s", T.ip_s[2]);
        CHECK(file_contains(T.slot[4].dir, INSTANCE_STDOUT_LOG, net_line));
        CHECK(file_contains(T.slot[4].dir, INSTANCE_STDOUT_LOG, "WROTE"));
        CHECK(file_contains(T.slot[4].dir, INSTANCE_STDOUT_LOG, "CapEff:\t00000000800405fb"));
        CHECK(file_contains(T.slot[4].dir, INSTANCE_STDOUT_LOG, " 0        0 ")); /* busybox owned by root */
        written = path_join(T.slot[4].dir, "upper/written");
        CHECK(written && stat(written, &st) == 0 && st.st_uid == shift && st.st_gid == shift);
        CHECK(access(in_layer, F_OK) < 0);
        /* Nothing of the image was copied up to fix ownership. */
        _cleanup_free_ char *copied = path_join(T.slot[4].dir, "upper/bin/busybox");
        CHECK(copied && access(copied, F_OK) < 0);
        /* The payload really runs as the unprivileged host uid. */
        {
                _cleanup_free_ char *children = NULL, *path = NULL;
                CHECK(asprintf(&path, "/proc/%d/task/%d/children", (int) instance_pid(i),
                               (int) instance_pid(i)) > 0);
                CHECK_OK(read_full_file(path, &children, NULL));
                pid_t payload = (pid_t) atoi(children);
                CHECK(payload > 0);
                struct stat ps;
                char proc[64];
                snprintf(proc, sizeof(proc), "/proc/%d", (int) payload);
                CHECK(stat(proc, &ps) == 0 && ps.st_uid == shift);
        }
        CHECK(instance_stop(i, 0, 5000) == 1);
        release(4);
        CHECK_OK(net_veth_delete(T.veth[2]));
        CHECK_OK(netns_delete(T.netns[2]));
}

/* The detection must match what nspawn does with linux.resources on this host. */
static void test_cgroup_resources(void) {
        static char *args[] = {
                (char *) "/bin/sh", (char *) "-c",
                (char *) "cat /proc/self/cgroup; trap 'exit 0' TERM; while :; do sleep 1 & wait; done", NULL
        };
        bool supported = nspawn_cgroup_resources_supported();
        char machine[64];
        struct pollfd pfd;
        InstanceState st;
        int status = -1;

        fprintf(stderr, "cgroup resources supported: %s\n", supported ? "yes" : "no");
        snprintf(machine, sizeof(machine), "swtest-%d-cg", (int) T.pid);
        prepare_full(5, "cgroup", args, NULL, 0, true);
        Instance *i = start_full(5, machine, SIGTERM, supported);
        if (!supported) {
                /* nspawn gives up before the payload runs (it wants the system bus for them). */
                pfd = (struct pollfd) { .fd = instance_pidfd(i), .events = POLLIN };
                CHECK(poll(&pfd, 1, START_TIMEOUT_MS) == 1);
                CHECK_OK(instance_status(i, &st, &status));
                CHECK(st == INSTANCE_EXITED && status != 0);
                CHECK(!file_contains(T.slot[5].dir, INSTANCE_STDOUT_LOG, "cgroup"));
        } else {
                /* A systemd host (unified hierarchy assumed): the payload's cgroup carries the limits. */
                _cleanup_free_ char *line = NULL, *path = NULL, *value = NULL;
                struct timespec t0;
                pid_t payload;

                clock_gettime(CLOCK_MONOTONIC, &t0);
                while (instance_payload_pid(i, &payload) < 0) {
                        CHECK(ms_since(&t0) < START_TIMEOUT_MS);
                        usleep(5 * 1000);
                }
                CHECK(asprintf(&path, "/proc/%d/cgroup", (int) payload) > 0);
                CHECK_OK(read_full_file(path, &line, NULL));
                char *cg = strstr(line, "0::");
                CHECK(cg);
                cg[strcspn(cg, "\n")] = 0;
                free(path);
                CHECK(asprintf(&path, "/sys/fs/cgroup%s/memory.max", cg + 3) > 0);
                CHECK_OK(read_full_file(path, &value, NULL));
                fprintf(stderr, "  %s: %s", path, value);
                CHECK(strtoull(value, NULL, 10) == 64ULL << 20);
                CHECK(instance_stop(i, 0, 5000) >= 0);
        }
        release(5);
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static void bench(unsigned runs, bool userns) {
        uid_t shift = userns ? IDMAP_RANGE_SIZE * (3000U + (unsigned) T.pid % 1000U) : 0;
        size_t net = userns ? 2 : 0;
        double *ms = calloc(runs, sizeof(double)), *prep = calloc(runs, sizeof(double));

        CHECK(ms && prep);
        for (unsigned n = 0; n < runs; n++) {
                char machine[64], name[32];
                struct timespec t0;

                snprintf(machine, sizeof(machine), "swtest-%d-b%u", (int) T.pid, n);
                snprintf(name, sizeof(name), "bench%u", n);
                if (userns)
                        plug_network(net); /* as for slot 0's netns, not counted */
                clock_gettime(CLOCK_MONOTONIC, &t0);
                prepare_shifted(3, name, web_args("TERM"), T.netns[net], shift);
                prep[n] = ms_since(&t0);
                clock_gettime(CLOCK_MONOTONIC, &t0);
                Instance *i = start(3, machine, SIGTERM);
                ms[n] = wait_tcp(T.ip_s[net], &t0);
                CHECK(instance_stop(i, 0, 5000) == 1);
                release(3);
                if (userns) {
                        CHECK_OK(net_veth_delete(T.veth[net]));
                        CHECK_OK(netns_delete(T.netns[net]));
                }
                _cleanup_free_ char *d = T.slot[3].dir;
                free(T.slot[3].root);
                T.slot[3].dir = T.slot[3].root = NULL;
                CHECK_OK(rm_rf(d));
        }
        qsort(ms, runs, sizeof(double), cmp_double);
        qsort(prep, runs, sizeof(double), cmp_double);
        fprintf(stderr,
                "bench%s: instance_start → first TCP answer over %u runs: min %.1f median %.1f max %.1f ms "
                "(rootfs mount + bundle before it: median %.1f ms)\n",
                userns ? " (userns)" : "", runs, ms[0], ms[runs / 2], ms[runs - 1], prep[runs / 2]);
        free(ms);
        free(prep);
}

int main(void) {
        if (geteuid() != 0)
                TEST_SKIP("test-instance needs root");
        if (access("/usr/bin/systemd-nspawn", X_OK) < 0 || access("/bin/busybox", X_OK) < 0)
                TEST_SKIP("test-instance needs /usr/bin/systemd-nspawn and /bin/busybox");
        T.pid = getpid();
        CHECK(mkdtemp(T.top));
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        signal(SIGHUP, on_signal);
        signal(SIGPIPE, on_signal); /* a reader that went away (… | head) must not strand instances */
        make_layer();
        setup_network();

        test_web();
        test_adopt();
        test_pid_reuse_guard();
        test_stop_ignored();
        test_userns();
        test_cgroup_resources();
        if (getenv("INSTANCE_BENCH_RUNS")) {
                unsigned runs = (unsigned) MAX(1, atoi(getenv("INSTANCE_BENCH_RUNS")));
                bench(runs, false);
                if (T.userns_ok)
                        bench(runs, true);
        }

        cleanup();
        printf("test-instance: ok\n");
        return 0;
}
