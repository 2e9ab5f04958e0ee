/* Our own cgroups for an instance's or a build step's limits: v1 memory/cpu/pids hierarchies on a legacy or
 * hybrid host, or cgroup2 with the controllers enabled down to CGROUP_LIMITS_PARENT on a unified one.
 * Invariant: nothing outside CGROUP_FS_ROOT/…/CGROUP_LIMITS_PARENT/<name> is created or removed. */
#include "cgroup-limits.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "fs-util.h"
#include "log.h"
#include "string-util.h"

#define CGROUP_REMOVE_RETRY_MS 20U

/* The v1 controllers we use, by limit bit. */
static const struct {
        unsigned bit;
        const char *controller;
} legacy_controllers[] = {
        { CGROUP_LIMIT_MEMORY, "memory" },
        { CGROUP_LIMIT_CPU, "cpu" },
        { CGROUP_LIMIT_PIDS, "pids" },
};

static const char *const layout_table[_CGROUP_LAYOUT_MAX] = {
        [CGROUP_LAYOUT_NONE] = "none",
        [CGROUP_LAYOUT_LEGACY] = "legacy",
        [CGROUP_LAYOUT_UNIFIED] = "unified",
};

const char *cgroup_layout_to_string(CgroupLayout l) {
        return l >= 0 && l < _CGROUP_LAYOUT_MAX ? layout_table[l] : NULL;
}

static bool is_fs(const char *path, unsigned long magic) {
        struct statfs fs;

        return statfs(path, &fs) >= 0 && (unsigned long) fs.f_type == magic;
}

static char *legacy_root(const char *controller) {
        return path_join(CGROUP_FS_ROOT, controller);
}

CgroupLayout cgroup_layout(void) {
        if (is_fs(CGROUP_FS_ROOT, CGROUP2_SUPER_MAGIC))
                return CGROUP_LAYOUT_UNIFIED;
        for (size_t i = 0; i < ELEMENTSOF(legacy_controllers); i++) {
                _cleanup_free_ char *root = legacy_root(legacy_controllers[i].controller);
                if (root && is_fs(root, CGROUP_SUPER_MAGIC))
                        return CGROUP_LAYOUT_LEGACY;
        }
        return CGROUP_LAYOUT_NONE;
}

unsigned cgroup_limits_mask(const CgroupLimits *l) {
        if (!l)
                return 0;
        return (l->memory_max > 0 ? CGROUP_LIMIT_MEMORY : 0) | (l->cpu_quota_us > 0 ? CGROUP_LIMIT_CPU : 0) |
               (l->pids_max > 0 ? CGROUP_LIMIT_PIDS : 0);
}

const char *cgroup_limits_mask_to_string(unsigned mask) {
        static const char *const names[] = {
                "", "memory", "cpu", "memory, cpu", "pids", "memory, pids", "cpu, pids", "memory, cpu, pids",
        };
        return names[mask & 7U];
}

bool cgroup_name_valid(const char *s) {
        size_t n = 0;

        if (!s)
                return false;
        for (; s[n]; n++)
                if (n >= CGROUP_NAME_MAX || !(strchr("-_.", s[n]) || (s[n] >= 'a' && s[n] <= 'z') ||
                                              (s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= '0' && s[n] <= '9')))
                        return false;
        return n > 0 && s[0] != '.' && s[0] != '-';
}

/* One write(2): a cgroup attribute takes its value in one go or refuses it. */
static int write_attr(const char *dir, const char *attr, const char *value) {
        _cleanup_free_ char *path = path_join(dir, attr);
        _cleanup_close_ int fd = -EBADF;
        size_t n = strlen(value);
        ssize_t k;

        if (!path)
                return -ENOMEM;
        fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        k = write(fd, value, n);
        if (k < 0)
                return -errno;
        return (size_t) k == n ? 0 : -EIO;
}

static bool has_attr(const char *dir, const char *attr) {
        _cleanup_free_ char *path = path_join(dir, attr);
        return path && access(path, F_OK) >= 0;
}

static int mkdir_cgroup(const char *path) {
        return mkdir(path, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

static void sleep_ms(unsigned ms) {
        struct timespec ts = { .tv_sec = ms / 1000U, .tv_nsec = (long) (ms % 1000U) * 1000000L };
        (void) nanosleep(&ts, NULL);
}

/* rmdir of a cgroup and of any sub-cgroup in it (systemd-nspawn may make some), deepest first.  A cgroup's
 * files cannot be unlinked and need not be: rmdir takes them along. */
static int rmdir_tree(const char *path) {
        _cleanup_(closedirp) DIR *d = opendir(path);
        struct dirent *de;
        int r = 0;

        if (!d)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir_no_dot(d)))
                if (de->d_type == DT_DIR) {
                        _cleanup_free_ char *sub = path_join(path, de->d_name);
                        int k = sub ? rmdir_tree(sub) : -ENOMEM;
                        if (k < 0 && r >= 0)
                                r = k;
                }
        if (r < 0)
                return r;
        return rmdir(path) < 0 && errno != ENOENT ? -errno : 0;
}

/* Retries while the cgroup is busy, for at most *budget_ms (which it uses up). */
static int remove_cgroup_wait(const char *path, unsigned *budget_ms) {
        int r;

        for (;;) {
                r = rmdir_tree(path);
                if (r != -EBUSY || *budget_ms == 0)
                        return r;
                sleep_ms(CGROUP_REMOVE_RETRY_MS);
                *budget_ms -= MIN(*budget_ms, CGROUP_REMOVE_RETRY_MS);
        }
}

static int remove_cgroup(const char *path) {
        unsigned none = 0;
        return remove_cgroup_wait(path, &none);
}

static int limit_string(uint64_t v, char buf[static 32]) {
        snprintf(buf, 32, "%" PRIu64, v);
        return 0;
}

static int legacy_write_limit(const char *dir, unsigned bit, const CgroupLimits *l) {
        char v[32], q[64];
        int r;

        switch (bit) {
        case CGROUP_LIMIT_MEMORY:
                limit_string(l->memory_max, v);
                /* memory.limit_in_bytes may not exceed memory.memsw.limit_in_bytes (memory + swap), and
                 * memsw not go below the limit: raise memsw first when raising an existing limit. */
                r = write_attr(dir, "memory.limit_in_bytes", v);
                if (r == -EINVAL && has_attr(dir, "memory.memsw.limit_in_bytes")) {
                        r = write_attr(dir, "memory.memsw.limit_in_bytes", v);
                        if (r >= 0)
                                r = write_attr(dir, "memory.limit_in_bytes", v);
                }
                if (r < 0)
                        return r;
                if (has_attr(dir, "memory.memsw.limit_in_bytes")) {
                        r = write_attr(dir, "memory.memsw.limit_in_bytes", v);
                        if (r < 0)
                                log_debug_errno(r, "Cannot cap swap in %s: %m", dir);
                }
                return 0;
        case CGROUP_LIMIT_CPU:
                snprintf(q, sizeof q, "%u", CGROUP_CPU_PERIOD_US);
                r = write_attr(dir, "cpu.cfs_period_us", q);
                if (r < 0)
                        return r;
                limit_string(l->cpu_quota_us, v);
                return write_attr(dir, "cpu.cfs_quota_us", v);
        case CGROUP_LIMIT_PIDS:
                limit_string(l->pids_max, v);
                return write_attr(dir, "pids.max", v);
        }
        return -EINVAL;
}

static int legacy_create(const char *name, const CgroupLimits *l, unsigned *ret_applied) {
        unsigned wanted = cgroup_limits_mask(l), applied = 0;

        for (size_t i = 0; i < ELEMENTSOF(legacy_controllers); i++) {
                unsigned bit = legacy_controllers[i].bit;
                _cleanup_free_ char *root = legacy_root(legacy_controllers[i].controller), *parent = NULL,
                                    *dir = NULL;
                int r;

                if (!root || !(parent = path_join(root, CGROUP_LIMITS_PARENT)) ||
                    !(dir = path_join(parent, name)))
                        return -ENOMEM;
                if (!(wanted & bit)) {
                        (void) remove_cgroup(dir);
                        continue;
                }
                if (!is_fs(root, CGROUP_SUPER_MAGIC))
                        continue; /* that controller is not mounted (a plain directory of the tmpfs) */
                r = mkdir_cgroup(parent);
                if (r >= 0)
                        r = mkdir_cgroup(dir);
                if (r >= 0)
                        r = legacy_write_limit(dir, bit, l);
                if (r < 0) {
                        log_debug_errno(r, "Cannot set the %s limit in %s: %m",
                                        legacy_controllers[i].controller, dir);
                        (void) remove_cgroup(dir);
                        continue;
                }
                applied |= bit;
        }
        *ret_applied = applied;
        return 0;
}

/* Whether `controller` is a word of the space-separated list in dir/attr. */
static bool attr_lists(const char *dir, const char *attr, const char *controller) {
        _cleanup_free_ char *path = path_join(dir, attr), *data = NULL;
        size_t n = strlen(controller);

        if (!path || read_full_file(path, &data, NULL) < 0)
                return false;
        for (const char *p = data; (p = strstr(p, controller)); p += n)
                if ((p == data || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || p[n] == '\0'))
                        return true;
        return false;
}

static const char *unified_controller(unsigned bit) {
        return bit == CGROUP_LIMIT_MEMORY ? "memory" : bit == CGROUP_LIMIT_CPU ? "cpu" : "pids";
}

/* Makes `controller` available to the children of dir (its cgroup.subtree_control). */
static int unified_enable(const char *dir, const char *controller) {
        char v[32];

        if (attr_lists(dir, "cgroup.subtree_control", controller))
                return 0;
        snprintf(v, sizeof v, "+%s", controller);
        return write_attr(dir, "cgroup.subtree_control", v);
}

static int unified_write_limit(const char *dir, unsigned bit, const CgroupLimits *l) {
        char v[64];
        int r;

        switch (bit) {
        case CGROUP_LIMIT_MEMORY:
                limit_string(l->memory_max, v);
                r = write_attr(dir, "memory.max", v);
                if (r >= 0 && has_attr(dir, "memory.swap.max")) {
                        int k = write_attr(dir, "memory.swap.max", "0");
                        if (k < 0)
                                log_debug_errno(k, "Cannot cap swap in %s: %m", dir);
                }
                return r;
        case CGROUP_LIMIT_CPU:
                snprintf(v, sizeof v, "%" PRIu64 " %u", l->cpu_quota_us, CGROUP_CPU_PERIOD_US);
                return write_attr(dir, "cpu.max", v);
        case CGROUP_LIMIT_PIDS:
                limit_string(l->pids_max, v);
                return write_attr(dir, "pids.max", v);
        }
        return -EINVAL;
}

static int unified_reset_limit(const char *dir, unsigned bit) {
        switch (bit) {
        case CGROUP_LIMIT_MEMORY:
                return write_attr(dir, "memory.max", "max");
        case CGROUP_LIMIT_CPU:
                return write_attr(dir, "cpu.max", "max");
        case CGROUP_LIMIT_PIDS:
                return write_attr(dir, "pids.max", "max");
        }
        return -EINVAL;
}

static int unified_create(const char *name, const CgroupLimits *l, unsigned *ret_applied) {
        _cleanup_free_ char *parent = path_join(CGROUP_FS_ROOT, CGROUP_LIMITS_PARENT), *dir = NULL;
        unsigned wanted = cgroup_limits_mask(l), applied = 0;
        int r;

        if (!parent || !(dir = path_join(parent, name)))
                return -ENOMEM;
        if (wanted == 0) {
                (void) remove_cgroup(dir);
                *ret_applied = 0;
                return 0;
        }
        r = mkdir_cgroup(parent);
        if (r < 0) {
                log_debug_errno(r, "Cannot create %s: %m", parent);
                *ret_applied = 0;
                return 0;
        }
        for (unsigned bit = 1; bit <= CGROUP_LIMIT_PIDS; bit <<= 1) {
                const char *c = unified_controller(bit);

                if (!(wanted & bit) || !attr_lists(CGROUP_FS_ROOT, "cgroup.controllers", c))
                        continue;
                r = unified_enable(CGROUP_FS_ROOT, c);
                if (r >= 0)
                        r = unified_enable(parent, c);
                if (r < 0)
                        log_debug_errno(r, "Cannot enable the %s controller down to %s: %m", c, parent);
        }
        r = mkdir_cgroup(dir);
        if (r < 0) {
                log_debug_errno(r, "Cannot create %s: %m", dir);
                *ret_applied = 0;
                return 0;
        }
        for (unsigned bit = 1; bit <= CGROUP_LIMIT_PIDS; bit <<= 1) {
                if (!(wanted & bit)) {
                        (void) unified_reset_limit(dir, bit); /* a reused cgroup: no stale limit */
                        continue;
                }
                r = unified_write_limit(dir, bit, l);
                if (r < 0)
                        log_debug_errno(r, "Cannot set the %s limit in %s: %m", unified_controller(bit),
                                        dir);
                else
                        applied |= bit;
        }
        if (applied == 0)
                (void) remove_cgroup(dir);
        *ret_applied = applied;
        return 0;
}

int cgroup_limits_create(const char *name, const CgroupLimits *limits, unsigned *ret_applied) {
        unsigned applied = 0;
        int r;

        if (!cgroup_name_valid(name) || !limits || !ret_applied)
                return -EINVAL;
        switch (cgroup_layout()) {
        case CGROUP_LAYOUT_LEGACY:
                r = legacy_create(name, limits, &applied);
                break;
        case CGROUP_LAYOUT_UNIFIED:
                r = unified_create(name, limits, &applied);
                break;
        default:
                r = 0;
        }
        if (r < 0)
                return r;
        *ret_applied = applied;
        return 0;
}

/* The directories of `name`'s cgroups under the current layout (existing or not); returns how many. */
static int cgroup_dirs(const char *name, char *ret[static CGROUP_LIMITS_FDS_MAX]) {
        size_t n = 0;

        if (!cgroup_name_valid(name))
                return -EINVAL;
        switch (cgroup_layout()) {
        case CGROUP_LAYOUT_LEGACY:
                for (size_t i = 0; i < ELEMENTSOF(legacy_controllers); i++) {
                        _cleanup_free_ char *root = legacy_root(legacy_controllers[i].controller),
                                            *parent = NULL;

                        if (!root || !(parent = path_join(root, CGROUP_LIMITS_PARENT)) ||
                            !(ret[n] = path_join(parent, name)))
                                goto oom;
                        n++;
                }
                break;
        case CGROUP_LAYOUT_UNIFIED: {
                _cleanup_free_ char *parent = path_join(CGROUP_FS_ROOT, CGROUP_LIMITS_PARENT);

                if (!parent || !(ret[n] = path_join(parent, name)))
                        goto oom;
                n++;
                break;
        }
        default:
                break;
        }
        return (int) n;
oom:
        for (size_t i = 0; i < n; i++)
                free(ret[i]);
        return -ENOMEM;
}

static void free_dirs(char **dirs, int n) {
        for (int i = 0; i < n; i++)
                free(dirs[i]);
}

int cgroup_limits_path(const char *name, const char *controller, char **ret) {
        char *dirs[CGROUP_LIMITS_FDS_MAX];
        int n;

        if (!controller || !ret)
                return -EINVAL;
        n = cgroup_dirs(name, dirs);
        if (n < 0)
                return n;
        if (n == 0)
                return -EOPNOTSUPP;
        size_t pick = 0;
        if (n > 1) {
                for (pick = 0; pick < ELEMENTSOF(legacy_controllers); pick++)
                        if (streq(legacy_controllers[pick].controller, controller))
                                break;
                if (pick == ELEMENTSOF(legacy_controllers)) {
                        free_dirs(dirs, n);
                        return -EINVAL;
                }
        }
        *ret = dirs[pick];
        dirs[pick] = NULL;
        free_dirs(dirs, n);
        return 0;
}

int cgroup_limits_open_procs(const char *name, int ret_fds[static CGROUP_LIMITS_FDS_MAX]) {
        char *dirs[CGROUP_LIMITS_FDS_MAX];
        int fds[CGROUP_LIMITS_FDS_MAX], n, k = 0, r = 0;

        n = cgroup_dirs(name, dirs);
        if (n < 0)
                return n;
        for (int i = 0; i < n && r >= 0; i++) {
                _cleanup_free_ char *procs = path_join(dirs[i], "cgroup.procs");
                int fd;

                if (!procs) {
                        r = -ENOMEM;
                        break;
                }
                fd = open(procs, O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
                if (fd >= 0)
                        fds[k++] = fd;
                else if (errno != ENOENT)
                        r = -errno;
        }
        free_dirs(dirs, n);
        if (r < 0) {
                for (int i = 0; i < k; i++)
                        safe_close(fds[i]);
                return r;
        }
        memcpy(ret_fds, fds, (size_t) k * sizeof(int));
        return k;
}

int cgroup_limits_attach(const char *name, pid_t pid) {
        int fds[CGROUP_LIMITS_FDS_MAX], n, r = 0;
        char v[32];

        if (pid <= 0)
                return -EINVAL;
        n = cgroup_limits_open_procs(name, fds);
        if (n < 0)
                return n;
        snprintf(v, sizeof v, "%d", (int) pid);
        for (int i = 0; i < n; i++) {
                if (r >= 0 && write(fds[i], v, strlen(v)) < 0)
                        r = -errno;
                safe_close(fds[i]);
        }
        return r;
}

/* Kills the processes listed in path/cgroup.procs and below; returns how many. */
static int kill_tree(const char *path) {
        _cleanup_free_ char *procs = path_join(path, "cgroup.procs"), *data = NULL;
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        int n = 0, r;

        if (!procs)
                return -ENOMEM;
        r = read_full_file(procs, &data, NULL);
        if (r < 0)
                return r == -ENOENT ? 0 : r;
        for (char *p = data, *end; *p; p = end) {
                long pid = strtol(p, &end, 10);
                if (end == p)
                        break;
                /* Listed in our cgroup a moment ago: not a recycled pid unless it exited just now. */
                if (pid > 1 && kill((pid_t) pid, SIGKILL) >= 0)
                        n++;
        }
        d = opendir(path);
        while (d && (de = readdir_no_dot(d)))
                if (de->d_type == DT_DIR) {
                        _cleanup_free_ char *sub = path_join(path, de->d_name);
                        r = sub ? kill_tree(sub) : -ENOMEM;
                        if (r > 0)
                                n += r;
                }
        return n;
}

int cgroup_limits_kill(const char *name) {
        char *dirs[CGROUP_LIMITS_FDS_MAX];
        int n, total = 0;

        n = cgroup_dirs(name, dirs);
        if (n < 0)
                return n;
        for (int i = 0; i < n; i++) {
                int k = kill_tree(dirs[i]);
                if (k > 0)
                        total += k;
        }
        free_dirs(dirs, n);
        return total;
}

int cgroup_limits_remove(const char *name) {
        char *dirs[CGROUP_LIMITS_FDS_MAX];
        unsigned budget = CGROUP_REMOVE_TIMEOUT_MS;
        int n, r = 0;

        n = cgroup_dirs(name, dirs);
        if (n < 0)
                return n;
        for (int i = 0; i < n; i++) {
                int k = remove_cgroup_wait(dirs[i], &budget);
                if (k < 0) {
                        log_debug_errno(k, "Cannot remove cgroup %s: %m", dirs[i]);
                        if (r >= 0)
                                r = k;
                }
        }
        free_dirs(dirs, n);
        return r;
}

int cgroup_limits_oom_kills(const char *name, uint64_t *ret) {
        _cleanup_free_ char *dir = NULL, *path = NULL, *data = NULL;
        unsigned long long n;
        const char *p;
        int r;

        if (!ret)
                return -EINVAL;
        r = cgroup_limits_path(name, "memory", &dir);
        if (r < 0)
                return r;
        path = path_join(dir,
                         cgroup_layout() == CGROUP_LAYOUT_UNIFIED ? "memory.events" : "memory.oom_control");
        if (!path)
                return -ENOMEM;
        r = read_full_file(path, &data, NULL);
        if (r < 0)
                return r;
        for (p = data; (p = strstr(p, "oom_kill ")); p++)
                if (p == data || p[-1] == '\n')
                        break;
        if (!p || sscanf(p, "oom_kill %llu", &n) != 1)
                return -EBADMSG;
        *ret = (uint64_t) n;
        return 0;
}
