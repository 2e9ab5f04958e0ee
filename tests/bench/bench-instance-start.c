/* Instance start benchmark: one instance prepared once by Slipway's own code (overlay rootfs over the layer
 * cache, hosts file, hardened bundle, netns + veth on a bridge) is started again and again by instance_start()
 * (what slipwayd runs), by plain `systemd-nspawn --oci-bundle=` and by `crun run` on the same bundle, rounds
 * interleaved; each start is timed until the httpd inside answers an HTTP GET on the instance's address.
 * Invariant: the bridge, netns, veth, rootfs mount, crun state and every process it started are gone when it
 * returns, whatever failed. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "bridge.h"
#include "digest.h"
#include "fs-util.h"
#include "instance-setup.h"
#include "instance.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "netns.h"
#include "nspawn.h"
#include "oci-store.h"
#include "overlay.h"
#include "probe.h"
#include "process.h"
#include "string-util.h"

#define BENCH_RUNS_MAX 10000U
/* A start that has not answered after this long counts as failed (and ends the benchmark). */
#define BENCH_START_TIMEOUT_MS 20000U
/* How often the readiness probe is retried while the port is still closed. */
#define BENCH_PROBE_INTERVAL_US 1000U
#define BENCH_PROBE_TIMEOUT_MS 1000U
#define BENCH_STOP_GRACE_MS 3000U
#define CGROUP_UNIFIED_CONTROLLERS "/sys/fs/cgroup/unified/cgroup.controllers"

typedef enum Runtime {
        RUNTIME_SLIPWAY,
        RUNTIME_NSPAWN,
        RUNTIME_CRUN,
        _RUNTIME_MAX,
        _RUNTIME_INVALID = -EINVAL,
} Runtime;

static const char *const runtime_names[_RUNTIME_MAX] = {
        [RUNTIME_SLIPWAY] = "slipway",
        [RUNTIME_NSPAWN] = "systemd-nspawn",
        [RUNTIME_CRUN] = "crun",
};

typedef struct Bench {
        const char *state_dir, *image, *work, *subnet_str, *path;
        unsigned runs;
        uint16_t port;
        bool enabled[_RUNTIME_MAX];

        char bridge[16], netns[32], host_ifname[16], machine[48];
        NetSubnet subnet;
        struct in_addr address;
        char address_str[INET_ADDRSTRLEN];
        char *dir, *bundle, *crun_bundle, *crun_root, *crun_empty_file, *shim, **lowers;
        bool crun_hide_controllers;
        size_t n_lowers;
        json_t *image_config;
        InstancePlan plan;
        bool bridge_made, prepared;

        double *samples[_RUNTIME_MAX];
        unsigned n_samples[_RUNTIME_MAX];
} Bench;

static volatile sig_atomic_t interrupted;

static void on_signal(int sig) {
        interrupted = 1;
}

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

static Runtime runtime_from_string(const char *s) {
        if (streq(s, "slipway"))
                return RUNTIME_SLIPWAY;
        if (streq(s, "nspawn") || streq(s, "systemd-nspawn"))
                return RUNTIME_NSPAWN;
        if (streq(s, "crun"))
                return RUNTIME_CRUN;
        return _RUNTIME_INVALID;
}

/* One HTTP GET; true when it answered 200–399. */
static bool probe_once(const Bench *b) {
        ProbeResult res = {};
        ProbeSpec spec = {
                .type = PROBE_HTTP,
                .address = b->address_str,
                .port = b->port,
                .path = b->path,
                .timeout_ms = BENCH_PROBE_TIMEOUT_MS,
        };

        return probe_run(&spec, &res) >= 0 && res.healthy;
}

/* Waits until the instance answers; returns the µs since t0, or -ETIMEDOUT / -EINTR / -ECHILD (the runtime
 * process exited before it answered). */
static int64_t wait_answer(const Bench *b, uint64_t t0, pid_t watch_pid) {
        for (;;) {
                if (probe_once(b))
                        return (int64_t) (now_usec() - t0);
                if (interrupted)
                        return -EINTR;
                if (now_usec() - t0 > BENCH_START_TIMEOUT_MS * 1000ULL)
                        return -ETIMEDOUT;
                if (watch_pid > 0) {
                        siginfo_t si = {};
                        if (waitid(P_PID, (id_t) watch_pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
                            si.si_pid)
                                return -ECHILD;
                }
                (void) usleep(BENCH_PROBE_INTERVAL_US);
        }
}

static int log_tail_fd(const Bench *b, const char *name) {
        _cleanup_free_ char *path = path_join(b->work, name);
        int fd;

        if (!path)
                return -ENOMEM;
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
        return fd < 0 ? -errno : fd;
}

/* The first child of pid (the container's PID 1 for nspawn, the payload for crun), or -ESRCH. */
static pid_t first_child(pid_t pid) {
        _cleanup_free_ char *path = NULL, *data = NULL;
        long child;

        if (asprintf(&path, "/proc/%d/task/%d/children", (int) pid, (int) pid) < 0)
                return -ENOMEM;
        if (read_full_file(path, &data, NULL) < 0)
                return -ESRCH;
        child = strtol(data, NULL, 10);
        return child > 1 ? (pid_t) child : -ESRCH;
}

/* SIGTERM, then SIGKILL to the child and pid after the grace period; reaps pid. */
static void stop_and_reap(pid_t pid) {
        if (kill(pid, SIGTERM) >= 0 && pid_wait_exit_timeout(pid, BENCH_STOP_GRACE_MS) <= 0) {
                pid_t child = first_child(pid);
                if (child > 0)
                        (void) kill(child, SIGKILL);
                if (pid_wait_exit_timeout(pid, BENCH_STOP_GRACE_MS) <= 0)
                        (void) kill(pid, SIGKILL);
        }
        (void) wait_for_pid(pid, NULL);
}

/* systemd-nspawn with only what this host requires (nspawn.h explains both): no machine registration, stay in
 * our cgroup, the unified-hierarchy variable on hybrid hosts. */
static pid_t start_nspawn(const Bench *b, int log_fd) {
        _cleanup_free_ char *bundle_arg = NULL, *machine_arg = NULL, *netns_path = NULL;
        SpawnOptions opts = SPAWN_OPTIONS_INIT;

        if (asprintf(&bundle_arg, "--oci-bundle=%s", b->bundle) < 0 ||
            asprintf(&machine_arg, "--machine=%s", b->machine) < 0 ||
            asprintf(&netns_path, "%s/%s", NETNS_RUN_DIR, b->netns) < 0)
                return -ENOMEM;
        /* Started inside the instance's netns, as slipway starts it: a bundle with a user namespace has no
         * netns path of its own and inherits the runtime's (bundle.h). */
        opts.netns_path = netns_path;
        char *argv[] = { (char *) "systemd-nspawn",
                         (char *) "--register=no",
                         (char *) "--keep-unit",
                         bundle_arg,
                         machine_arg,
                         NULL };
        opts.stdout_fd = log_fd;
        opts.stderr_fd = log_fd;
        opts.new_session = true;
        return spawn_process(argv, &opts);
}

/* crun 1.8 refuses to create any container on a hybrid host whose cgroup2 hierarchy has a controller
 * enabled ("cgroups in hybrid mode not supported"), even with --cgroup-manager=disabled.  So crun runs in a
 * mount namespace of its own where /sys/fs/cgroup/unified/cgroup.controllers reads empty: a one-time unshare
 * and bind mount in the forked child, before the exec.  It is counted in crun's time. */
static pid_t start_crun(const Bench *b, int log_fd, const char *id) {
        char *argv[] = { (char *) "crun",
                         (char *) "--cgroup-manager=disabled",
                         (char *) "--root",
                         b->crun_root,
                         (char *) "run",
                         (char *) "--bundle",
                         b->crun_bundle,
                         (char *) id,
                         NULL };
        pid_t pid;

        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid > 0)
                return pid;

        (void) setsid();
        if (dup2(log_fd, STDOUT_FILENO) < 0 || dup2(log_fd, STDERR_FILENO) < 0)
                _exit(127);
        {
                int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0)
                        _exit(127);
        }
        {
                char netns_path[PATH_MAX];
                int ns;
                snprintf(netns_path, sizeof netns_path, "%s/%s", NETNS_RUN_DIR, b->netns);
                ns = open(netns_path, O_RDONLY | O_CLOEXEC); /* the same netns as the other two */
                if (ns < 0 || setns(ns, CLONE_NEWNET) < 0) {
                        fprintf(stderr, "bench-instance-start: cannot enter %s: %m\n", netns_path);
                        _exit(127);
                }
                (void) close(ns);
        }
        if (b->crun_hide_controllers &&
            (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
             mount(b->crun_empty_file, CGROUP_UNIFIED_CONTROLLERS, NULL, MS_BIND, NULL) < 0)) {
                fprintf(stderr, "bench-instance-start: cannot hide %s from crun: %m\n",
                        CGROUP_UNIFIED_CONTROLLERS);
                _exit(127);
        }
        execvp(argv[0], argv);
        fprintf(stderr, "bench-instance-start: cannot execute crun: %m\n");
        _exit(127);
}

static void crun_delete(const Bench *b, const char *id) {
        SpawnOptions opts = SPAWN_OPTIONS_INIT;
        char *argv[] = { (char *) "crun",   (char *) "--cgroup-manager=disabled",
                         (char *) "--root", b->crun_root,
                         (char *) "delete", (char *) "--force",
                         (char *) id,       NULL };
        _cleanup_close_ int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

        opts.stdout_fd = null_fd;
        opts.stderr_fd = null_fd;
        (void) run_process(argv, &opts);
}

/* Before every start nothing may answer (the previous instance is gone). */
static int check_quiet(const Bench *b) {
        if (probe_once(b))
                return log_error_errno(-EBUSY, "Something still answers on %s:%u before a start; stopping.",
                                       b->address_str, b->port);
        return 0;
}

/* One timed start; the instance is stopped again before it returns.  Returns µs, or a negative errno. */
static int64_t run_one(Bench *b, Runtime rt, unsigned round) {
        int64_t dt;
        uint64_t t0;
        int r;

        r = check_quiet(b);
        if (r < 0)
                return r;
        if (rt == RUNTIME_SLIPWAY) {
                _cleanup_instance_ Instance *inst = NULL;

                t0 = now_usec();
                r = instance_setup_start(&b->plan, &inst);
                if (r < 0)
                        return log_error_errno(r, "instance_start() failed: %s", strerror(-r));
                dt = wait_answer(b, t0, instance_pid(inst));
                (void) instance_stop(inst, 0, BENCH_STOP_GRACE_MS);
        } else if (rt == RUNTIME_NSPAWN) {
                _cleanup_close_ int log_fd = log_tail_fd(b, "nspawn.log");
                pid_t pid;

                if (log_fd < 0)
                        return log_fd;
                t0 = now_usec();
                pid = start_nspawn(b, log_fd);
                if (pid < 0)
                        return log_error_errno(pid, "Cannot start systemd-nspawn: %s", strerror(-pid));
                dt = wait_answer(b, t0, pid);
                stop_and_reap(pid);
        } else {
                _cleanup_close_ int log_fd = log_tail_fd(b, "crun.log");
                char id[64];
                pid_t pid;

                if (log_fd < 0)
                        return log_fd;
                snprintf(id, sizeof id, "swbench-%d-%u", (int) getpid(), round);
                t0 = now_usec();
                pid = start_crun(b, log_fd, id);
                if (pid < 0)
                        return log_error_errno(pid, "Cannot start crun: %s", strerror(-pid));
                dt = wait_answer(b, t0, pid);
                stop_and_reap(pid);
                crun_delete(b, id);
        }
        if (dt == -ECHILD) {
                _cleanup_free_ char *log_path = path_join(rt == RUNTIME_SLIPWAY ? b->dir : b->work,
                                                          rt == RUNTIME_SLIPWAY  ? INSTANCE_STDERR_LOG
                                                          : rt == RUNTIME_NSPAWN ? "nspawn.log"
                                                                                 : "crun.log");
                _cleanup_free_ char *text = NULL;
                size_t size = 0;

                log_error("%s exited before the instance answered; the end of its log %s:",
                          runtime_names[rt], log_path ? log_path : "?");
                if (log_path && read_full_file(log_path, &text, &size) >= 0)
                        fprintf(stderr, "%s\n", size > 2000 ? text + size - 2000 : text);
                return -ECHILD;
        }
        if (dt == -ETIMEDOUT)
                return log_error_errno(-ETIMEDOUT, "%s: no answer from %s:%u within %u ms.",
                                       runtime_names[rt], b->address_str, b->port, BENCH_START_TIMEOUT_MS);
        return dt;
}

/* The crun copy of the bundle: differences are the minimum crun 1.8 needs on top of the shared config.json,
 * printed so the reader knows what was not identical. */
static int crun_bundle_write(Bench *b) {
        _cleanup_json_ json_t *config = NULL;
        _cleanup_free_ char *src = path_join(b->bundle, "config.json"), *dst = NULL, *text = NULL;
        json_error_t e;
        unsigned changed = 0;
        int r;

        if (!src)
                return -ENOMEM;
        config = json_load_file(src, 0, &e);
        if (!config)
                return log_error_errno(-EBADMSG, "Cannot read %s: %s", src, e.text);
        /* The OCI spec marks a bind mount by its "bind"/"rbind" option; systemd-nspawn (like runc) also takes
         * type "bind" alone, crun does not (it calls mount(2) with type "bind": ENODEV). */
        {
                json_t *m;
                size_t i;

                json_array_foreach(json_object_get(config, "mounts"), i, m) {
                        json_t *opts = json_object_get(m, "options"), *o;
                        bool has_bind = false;
                        size_t k;

                        if (!streq_ptr(json_string_value(json_object_get(m, "type")), "bind"))
                                continue;
                        json_array_foreach(opts, k, o)
                                has_bind = has_bind || streq_ptr(json_string_value(o), "bind") ||
                                           streq_ptr(json_string_value(o), "rbind");
                        if (has_bind)
                                continue;
                        if (!opts) {
                                opts = json_array();
                                if (!opts || json_object_set_new(m, "options", opts) < 0)
                                        return -ENOMEM;
                        }
                        if (json_array_append_new(opts, json_string("rbind")) < 0)
                                return -ENOMEM;
                        printf("crun: bundle differs: mount %s (type bind) gets option \"rbind\"\n",
                               json_string_value(json_object_get(m, "destination")));
                        changed++;
                }
        }
        r = mkdir_p(b->crun_bundle, 0700);
        if (r < 0)
                return r;
        text = json_dumps(config, JSON_INDENT(1));
        dst = path_join(b->crun_bundle, "config.json");
        if (!text || !dst)
                return -ENOMEM;
        r = write_file_atomic(dst, text, strlen(text), 0600);
        if (r < 0)
                return r;
        printf("crun: bundle %s/config.json = the slipway bundle's config.json, %s\n", b->crun_bundle,
               changed ? "with the changes above" : "no field changed");
        printf("crun: run as `crun --cgroup-manager=disabled` (systemd-nspawn runs with --keep-unit: no cgroup of "
               "its own either)\n");

        {
                _cleanup_free_ char *controllers = NULL;
                size_t size = 0;

                if (nspawn_needs_unified_env() &&
                    read_full_file(CGROUP_UNIFIED_CONTROLLERS, &controllers, &size) >= 0 && size > 0) {
                        b->crun_empty_file = path_join(b->work, "empty-cgroup.controllers");
                        if (!b->crun_empty_file)
                                return -ENOMEM;
                        r = write_file_atomic(b->crun_empty_file, "", 0, 0644);
                        if (r < 0)
                                return r;
                        b->crun_hide_controllers = true;
                        printf("crun: hybrid cgroups with cgroup2 controllers (%.*s) that crun 1.8 refuses: each crun "
                               "is started in its own mount namespace with an empty %s bound over it (unshare + "
                               "mount in crun's time)\n",
                               (int) strcspn(controllers, "\n"), controllers, CGROUP_UNIFIED_CONTROLLERS);
                }
        }
        return 0;
}

static int bench_prepare(Bench *b) {
        _cleanup_free_ char *oci = NULL, *layers_dir = NULL, *error = NULL;
        _cleanup_json_ json_t *inspect = NULL;
        _cleanup_(oci_store_freep) OciStore *store = NULL;
        char **layers = NULL, **diffs = NULL, **types = NULL;
        OciError oerr = {};
        size_t n = 0;
        int r;

        r = net_subnet_parse(b->subnet_str, &b->subnet);
        if (r < 0 || b->subnet.prefixlen > 29)
                return log_error_errno(-EINVAL, "--subnet %s is not an IPv4 CIDR of at least /29.",
                                       b->subnet_str);
        r = net_subnet_address(&b->subnet, 2, &b->address);
        if (r < 0)
                return r;
        inet_ntop(AF_INET, &b->address, b->address_str, sizeof b->address_str);
        snprintf(b->bridge, sizeof b->bridge, "swbench%d", (int) (getpid() % 100000));
        snprintf(b->host_ifname, sizeof b->host_ifname, "swbv%d", (int) (getpid() % 10000000));
        snprintf(b->netns, sizeof b->netns, "swbench-%d", (int) getpid());
        snprintf(b->machine, sizeof b->machine, "swbench-%d", (int) getpid());

        oci = path_join(b->state_dir, "oci");
        layers_dir = path_join(b->state_dir, "layers");
        b->dir = path_join(b->work, "instance");
        b->bundle = path_join(b->dir, "bundle");
        b->crun_bundle = path_join(b->work, "crun-bundle");
        b->crun_root = path_join(b->work, "crun-state");
        b->shim = path_join(b->work, "shim");
        if (!oci || !layers_dir || !b->dir || !b->bundle || !b->crun_bundle || !b->crun_root || !b->shim)
                return log_oom();

        r = oci_store_open(oci, &store);
        if (r < 0)
                return log_error_errno(r, "Cannot open the OCI store %s: %s", oci, strerror(-r));
        r = oci_store_image_inspect(store, b->image, &inspect, &oerr);
        if (r < 0)
                return log_error_errno(r, "Cannot read the image %s: %s", b->image,
                                       oerr.message[0] ? oerr.message : strerror(-r));
        b->image_config = json_incref(json_object_get(json_object_get(inspect, "config"), "config"));
        r = oci_store_image_layers(store, b->image, &layers, &diffs, &types, &n);
        if (r < 0)
                return log_error_errno(r, "Cannot list the layers of %s: %s", b->image, strerror(-r));
        b->lowers = calloc(n + 1, sizeof(char *));
        if (!b->lowers)
                r = -ENOMEM;
        for (size_t i = 0; r >= 0 && i < n; i++) {
                struct stat st;

                b->lowers[i] = path_join(layers_dir, digest_hex(diffs[i]));
                if (!b->lowers[i])
                        r = -ENOMEM;
                else if (stat(b->lowers[i], &st) < 0)
                        r = log_error_errno(-errno,
                                            "Layer %s is not in the layer cache %s: deploy the image once "
                                            "so slipwayd unpacks it.",
                                            diffs[i], layers_dir);
                else
                        b->n_lowers++;
        }
        strv_free_n(layers, n);
        strv_free_n(diffs, n);
        strv_free_n(types, n);
        if (r < 0)
                return r;

        r = mkdir_p(b->work, 0700);
        if (r >= 0)
                r = overlay_shim_ensure(b->shim);
        if (r < 0)
                return log_error_errno(r, "Cannot create %s: %s", b->work, strerror(-r));
        r = net_bridge_create(b->bridge, &b->subnet);
        if (r < 0)
                return log_error_errno(r, "Cannot create the bridge %s: %s", b->bridge, strerror(-r));
        b->bridge_made = true;

        b->plan = (InstancePlan) {
                .dir = b->dir,
                .shim_dir = b->shim,
                .lowers = b->lowers,
                .n_lowers = b->n_lowers,
                .image_config = b->image_config,
                .hostname = "bench",
                .netns = b->netns,
                .host_ifname = b->host_ifname,
                .bridge = b->bridge,
                .address = b->address,
                .prefixlen = b->subnet.prefixlen,
                .gateway = net_subnet_host_address(&b->subnet),
                .machine = b->machine,
        };
        b->prepared = true; /* from here on, teardown has something to undo */
        r = instance_setup_prepare(&b->plan, &error);
        if (r < 0)
                return log_error_errno(r, "%s", error ?: strerror(-r));
        if (b->enabled[RUNTIME_CRUN]) {
                r = crun_bundle_write(b);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void bench_teardown(Bench *b) {
        if (b->prepared)
                (void) instance_setup_teardown(b->dir, b->netns, b->host_ifname);
        if (b->bridge_made)
                (void) net_bridge_delete(b->bridge);
        for (Runtime rt = 0; rt < _RUNTIME_MAX; rt++)
                free(b->samples[rt]);
        for (size_t i = 0; i < b->n_lowers; i++)
                free(b->lowers[i]);
        free(b->lowers);
        json_decref(b->image_config);
        free(b->dir);
        free(b->bundle);
        free(b->crun_bundle);
        free(b->crun_root);
        free(b->crun_empty_file);
        free(b->shim);
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v. */
static double percentile(const double *v, unsigned n, unsigned p) {
        unsigned k = (p * n + 99) / 100;
        return v[k > 0 ? k - 1 : 0];
}

static void report(Bench *b) {
        double p50[_RUNTIME_MAX] = {}, p95[_RUNTIME_MAX] = {};

        for (Runtime rt = 0; rt < _RUNTIME_MAX; rt++)
                if (b->n_samples[rt] > 0) {
                        qsort(b->samples[rt], b->n_samples[rt], sizeof(double), cmp_double);
                        p50[rt] = percentile(b->samples[rt], b->n_samples[rt], 50);
                        p95[rt] = percentile(b->samples[rt], b->n_samples[rt], 95);
                }
        printf("\n%-16s %5s %9s %9s %9s %13s %13s\n", "runtime", "runs", "min ms", "p50 ms", "p95 ms",
               "p50/slipway", "p95/slipway");
        for (Runtime rt = 0; rt < _RUNTIME_MAX; rt++) {
                if (b->n_samples[rt] == 0)
                        continue;
                printf("%-16s %5u %9.1f %9.1f %9.1f", runtime_names[rt], b->n_samples[rt], b->samples[rt][0],
                       p50[rt], p95[rt]);
                if (b->n_samples[RUNTIME_SLIPWAY] > 0)
                        printf(" %13.2f %13.2f\n", p50[rt] / p50[RUNTIME_SLIPWAY],
                               p95[rt] / p95[RUNTIME_SLIPWAY]);
                else
                        printf(" %13s %13s\n", "-", "-");
        }
}

static void help(void) {
        printf("bench-instance-start --state-dir DIR --image DIGEST --work DIR --subnet CIDR [--runs N]\n"
               "                     [--port PORT] [--path /PATH] [--runtimes slipway,nspawn,crun]\n\n"
               "Prepares one instance of IMAGE (whose layers slipwayd already unpacked into DIR/layers) on a\n"
               "bridge of its own over CIDR and times N starts per runtime until PATH answers on PORT.\n");
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "state-dir", required_argument, NULL, 's' },
                { "image", required_argument, NULL, 'i' },
                { "work", required_argument, NULL, 'w' },
                { "subnet", required_argument, NULL, 'n' },
                { "runs", required_argument, NULL, 'r' },
                { "port", required_argument, NULL, 'p' },
                { "path", required_argument, NULL, 'P' },
                { "runtimes", required_argument, NULL, 'R' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        Bench b = { .runs = 20, .port = 8080, .path = "/" };
        const char *runtimes = "slipway,nspawn,crun";
        int opt, r = 0;
        unsigned long v;
        char *end;

        log_set_ident("bench-instance-start");
        while ((opt = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (opt) {
                case 's':
                        b.state_dir = optarg;
                        break;
                case 'i':
                        b.image = optarg;
                        break;
                case 'w':
                        b.work = optarg;
                        break;
                case 'n':
                        b.subnet_str = optarg;
                        break;
                case 'P':
                        b.path = optarg;
                        break;
                case 'R':
                        runtimes = optarg;
                        break;
                case 'r':
                case 'p':
                        errno = 0;
                        v = strtoul(optarg, &end, 10);
                        if (errno || *end || v == 0 || v > (opt == 'r' ? BENCH_RUNS_MAX : 65535U)) {
                                log_error("--%s %s: expected a number from 1 to %u.",
                                          opt == 'r' ? "runs" : "port", optarg,
                                          opt == 'r' ? BENCH_RUNS_MAX : 65535U);
                                return 2;
                        }
                        if (opt == 'r')
                                b.runs = (unsigned) v;
                        else
                                b.port = (uint16_t) v;
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        return 2;
                }
        if (!b.state_dir || !b.image || !b.work || !b.subnet_str || optind != argc) {
                log_error("--state-dir, --image, --work and --subnet are required (see --help).");
                return 2;
        }
        {
                _cleanup_free_ char *list = strdup(runtimes);
                char *save = NULL;

                if (!list)
                        return log_oom(), 1;
                for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                        Runtime rt = runtime_from_string(t);
                        if (rt < 0) {
                                log_error("--runtimes: unknown runtime '%s'; use slipway, nspawn or crun.",
                                          t);
                                return 2;
                        }
                        b.enabled[rt] = true;
                }
        }
        for (Runtime rt = 0; rt < _RUNTIME_MAX; rt++)
                if (b.enabled[rt] && !(b.samples[rt] = calloc(b.runs, sizeof(double))))
                        return log_oom(), 1;

        struct sigaction sa = { .sa_handler = on_signal };
        (void) sigaction(SIGINT, &sa, NULL);
        (void) sigaction(SIGTERM, &sa, NULL);
        (void) sigaction(SIGHUP, &sa, NULL);

        /* What plain systemd-nspawn needs on a hybrid-cgroup host without systemd (nspawn.c does the same). */
        if (nspawn_needs_unified_env())
                (void) setenv("SYSTEMD_NSPAWN_UNIFIED_HIERARCHY", "1", 1);
        r = bench_prepare(&b);
        if (r >= 0) {
                printf("instance %s:%u (netns %s, bridge %s), rootfs %s/rootfs; %u runs per runtime, interleaved\n",
                       b.address_str, b.port, b.netns, b.bridge, b.dir, b.runs);
                printf("timed: from the start call (instance_start() / fork+exec of the runtime) until GET %s "
                       "answers 2xx/3xx; rootfs, bundle, netns and veth are set up once, before, for all\n",
                       b.path);
                fflush(stdout);
        }
        for (unsigned i = 0; r >= 0 && i < b.runs && !interrupted; i++)
                for (Runtime rt = 0; r >= 0 && rt < _RUNTIME_MAX && !interrupted; rt++) {
                        int64_t dt;

                        if (!b.enabled[rt])
                                continue;
                        dt = run_one(&b, rt, i);
                        if (dt < 0) {
                                r = (int) dt;
                                break;
                        }
                        b.samples[rt][b.n_samples[rt]++] = (double) dt / 1000.0;
                        fprintf(stderr, "run %u %-16s %8.1f ms\n", i + 1, runtime_names[rt],
                                (double) dt / 1000.0);
                }
        if (interrupted && r >= 0)
                r = log_error_errno(-EINTR, "Interrupted; cleaning up.");
        if (r >= 0)
                report(&b);
        bench_teardown(&b);
        return r < 0 ? 1 : 0;
}
