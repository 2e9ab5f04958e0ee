/* Resource limits (memory, CPU quota, pids) in cgroups of our own, for hosts where systemd-nspawn cannot
 * apply a bundle's linux.resources (no systemd as PID 1).  Invariant: we only create, write and remove
 * cgroups named CGROUP_LIMITS_PARENT/<name> in a hierarchy, and only remove one once it is empty. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

#define CGROUP_FS_ROOT "/sys/fs/cgroup"
#define CGROUP_LIMITS_PARENT "slipway"
/* cpu_quota_us is per this period (the kernel's default, and what cpus_milli * 100 assumes). */
#define CGROUP_CPU_PERIOD_US 100000U
/* A name is one path component: nspawn machine-name characters, at most this long. */
#define CGROUP_NAME_MAX 64U
/* One cgroup per v1 controller we use (memory, cpu, pids); one on v2. */
#define CGROUP_LIMITS_FDS_MAX 3U
/* After the last process exited, the kernel may keep a cgroup busy for a moment. */
#define CGROUP_REMOVE_TIMEOUT_MS 2000U

typedef enum CgroupLayout {
        CGROUP_LAYOUT_NONE,    /* no writable cgroup hierarchy with our controllers */
        CGROUP_LAYOUT_LEGACY,  /* v1 controllers at CGROUP_FS_ROOT/<controller> (legacy or hybrid host) */
        CGROUP_LAYOUT_UNIFIED, /* cgroup2 at CGROUP_FS_ROOT */
        _CGROUP_LAYOUT_MAX,
        _CGROUP_LAYOUT_INVALID = -EINVAL,
} CgroupLayout;

/* Bits of a limit mask. */
enum {
        CGROUP_LIMIT_MEMORY = 1U << 0,
        CGROUP_LIMIT_CPU = 1U << 1,
        CGROUP_LIMIT_PIDS = 1U << 2,
};

typedef struct CgroupLimits {
        uint64_t memory_max;   /* bytes; 0: none.  No swap beyond it either. */
        uint64_t cpu_quota_us; /* per CGROUP_CPU_PERIOD_US; 0: none */
        uint64_t pids_max;     /* 0: none */
} CgroupLimits;

CgroupLayout cgroup_layout(void);
const char *cgroup_layout_to_string(CgroupLayout l);

/* The CGROUP_LIMIT_* mask of the limits that are set (non-zero) in l. */
unsigned cgroup_limits_mask(const CgroupLimits *l);
/* "memory, cpu" for a mask (static storage). */
const char *cgroup_limits_mask_to_string(unsigned mask);

bool cgroup_name_valid(const char *name);

/* Creates the cgroup `name` wherever one of the limits needs it and writes the limits; a cgroup of `name`
 * left from an earlier run is reused (limits rewritten), one for a limit no longer set is removed.  The
 * limits that took effect go to *ret_applied (a CGROUP_LIMIT_* mask); a controller that is missing or not
 * writable is simply left out.  -EINVAL for a bad name. */
int cgroup_limits_create(const char *name, const CgroupLimits *limits, unsigned *ret_applied);

/* Opens cgroup.procs of each existing cgroup `name` for writing (O_CLOEXEC), for a forked child that joins
 * them by writing "0" before it execs (see SpawnOptions.cgroup_procs_fds).  Returns how many (0: none). */
int cgroup_limits_open_procs(const char *name, int ret_fds[static CGROUP_LIMITS_FDS_MAX]);

/* Moves pid into each existing cgroup `name`. */
int cgroup_limits_attach(const char *name, pid_t pid);

/* SIGKILLs every process in `name`'s cgroups and their sub-cgroups: what is left of an instance whose
 * systemd-nspawn was killed (its payload orphaned), even once its netns is gone.  Returns how many signals
 * were sent (0: nobody inside; a process in several v1 hierarchies is signalled in each). */
int cgroup_limits_kill(const char *name);

/* Removes the cgroups of `name` (and any sub-cgroup in them), waiting up to CGROUP_REMOVE_TIMEOUT_MS for
 * exiting processes to leave.  0 also when there are none; -EBUSY when processes are still inside. */
int cgroup_limits_remove(const char *name);

/* How many processes in `name`'s memory cgroup the kernel's OOM killer has killed since it was created
 * (memory.oom_control or memory.events: "oom_kill N").  -ENOENT when there is no such cgroup. */
int cgroup_limits_oom_kills(const char *name, uint64_t *ret);

/* The directory of `name`'s cgroup for controller ("memory", "cpu", "pids") under the current layout,
 * whether or not it exists.  -EOPNOTSUPP without a layout. */
int cgroup_limits_path(const char *name, const char *controller, char **ret);
