/* One instance's directory DIR/instances/<id>: overlay rootfs over the image's cached layers, /etc/hosts,
 * OCI bundle from the image config, netns + veth on the environment's bridge, then systemd-nspawn.
 * Every step converges what is there, so a prepare interrupted by a crash can simply be run again. */
#pragma once

#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hosts-file.h"
#include "instance-values.h"
#include "instance.h"

#define INSTANCE_ARGS_MAX 1024U

typedef struct InstancePlan {
        const char *dir;      /* DIR/instances/<id> */
        const char *shim_dir; /* overlay_shim_ensure() directory (empty /usr) */
        char *const *lowers;  /* cached layer directories, lowest first */
        size_t n_lowers;
        json_t *image_config; /* the image config's "config" object; may be NULL */
        const char *hostname;
        const NetHostsEntry *hosts; /* the environment's component names → service addresses */
        size_t n_hosts;
        const char *netns;
        const char *host_ifname;
        const char *bridge;
        struct in_addr address;
        unsigned prefixlen;
        struct in_addr gateway;
        const char *machine;
        /* Limits: through the bundle where nspawn_cgroup_resources_supported(), else through cgroups of our own
         * (cgroup-limits.h) named after netns; skipped (logged at info) where neither is possible. */
        uint64_t memory_max;   /* 0: none */
        uint64_t cpu_quota_us; /* per 100 ms; 0: none */
        uint64_t pids_max;     /* 0: none */
        /* The release's values (instance-values.h): environment values go into the bundle's process.env
         * after the image's Env (replacing an entry of the same name), file values onto the instance's
         * tmpfs, bound read-only at their paths. */
        const InstanceValue *values;
        size_t n_values;
} InstancePlan;

/* Directories, overlay mount at dir/rootfs, dir/hosts, netns, veth, and the instance's tmpfs under /run
 * (instance_run_dir_path() of netns) with bundle/config.json and the value files, sealed read-only;
 * dir/bundle is a symlink to that bundle.  ret_error (may be NULL) gets a sentence for a person. */
int instance_setup_prepare(const InstancePlan *p, char **ret_error);
/* instance_start() for a prepared plan. */
int instance_setup_start(const InstancePlan *p, Instance **ret);
/* SIGKILLs every process still inside the instance's netns or its own cgroups (a payload orphaned when
 * systemd-nspawn itself was killed keeps its ports).  Returns the number of processes signalled. */
int instance_setup_kill_leftovers(const char *netns);
/* The first host uid of the range an instance's root maps to; 0 when it runs without a user namespace (or
 * was never prepared). */
int instance_setup_uid_shift(const char *dir, uid_t *ret_shift);
/* Whether new instances get a user namespace; when not, *ret_why_not (may be NULL) gets a phrase saying why.
 * Decided once per process, on the first call, and logged then: SLIPWAY_USERNS=0 turns them off; otherwise
 * the kernel must allow user namespaces and support overlayfs over idmapped layers (probed on probe_dir,
 * which should be on the layer cache's file system). */
bool instance_setup_userns_enabled(const char *probe_dir, const char **ret_why_not);
/* Undoes prepare and start except the directory (its logs stay): unmounts the rootfs and the instance's
 * tmpfs (its bundle and values), deletes veth, netns and the instance's own cgroups. */
int instance_setup_teardown(const char *dir, const char *netns, const char *host_ifname);
/* Removes a torn-down instance's directory and everything in it (overlay upper and work dir, logs,
 * bundle, hosts file).  A rootfs still mounted is unmounted first; when it cannot be, nothing is removed
 * and the result is -EBUSY.  0 when the directory is gone (or never was). */
int instance_setup_remove(const char *dir);
