/* OCI runtime bundle (config.json) generation for systemd-nspawn --oci-bundle.
 * Invariant: the generated config only uses fields systemd-nspawn 252's OCI parser accepts
 * (ociVersion 1.0.0, no errnoRet, no cgroup namespace or cgroup mount), and its payload always starts
 * under slipway-init, which adds what that parser cannot express (clone3 → ENOSYS). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct BundleMount {
        const char *destination;
        const char *type; /* "bind", "tmpfs", … */
        const char *source;
        const char *const *options; /* NULL-terminated, may be NULL */
        bool readonly;              /* listed in linux.readonlyPaths (a bind's "ro" option nspawn ignores) */
} BundleMount;

typedef struct BundleSpec {
        const char *rootfs; /* absolute path of the prepared root (overlay mount) */
        bool rootfs_readonly;
        char *const *args; /* NULL-terminated; required.  Run through slipway-init: process.args
                                        * is CONTAINER_INIT_PATH followed by these */
        const char *init;  /* host path of slipway-init, bound read-only at CONTAINER_INIT_PATH;
                                        * NULL: container_init_find() (-ENOENT when there is none) */
        char *const *env;  /* NULL-terminated "K=V"; may be NULL */
        const char *cwd;   /* default "/" */
        uid_t uid;
        gid_t gid;
        const gid_t *additional_gids;
        size_t n_additional_gids;
        const char *hostname;      /* may be NULL */
        const char *netns_path;    /* join this netns; NULL: a new empty netns (loopback only) */
        bool netns_inherit;        /* no network namespace entry: the container stays in the one
                                        * systemd-nspawn runs in (NspawnRun.netns_path).  The way to combine
                                        * a prepared netns with a user namespace: nspawn 252 joins a netns
                                        * path only after entering the new user namespace, which the kernel
                                        * refuses for a netns the host owns (EPERM).  netns_path: NULL. */
        const BundleMount *mounts; /* extra mounts after the defaults */
        size_t n_mounts;
        uint64_t memory_max;   /* bytes; 0 = unlimited */
        uint64_t pids_max;     /* 0 = unlimited */
        uint64_t cpu_quota_us; /* per 100 ms period; 0 = unlimited */
        bool cgroup_resources; /* emit linux.resources (only where nspawn_cgroup_resources_supported()) */
        uid_t uid_shift;       /* > 0: own user namespace, container uid/gid 0..65535 = host
                                        * uid_shift.. (a multiple of 65536; the rootfs must be mounted with
                                        * overlay_mount_shifted() for the same shift); 0: none */
} BundleSpec;

/* Builds the config.json document. */
int bundle_config_build(const BundleSpec *spec, json_t **ret);
/* Writes bundle_dir/config.json atomically (0600) — the rootfs path inside is absolute. */
int bundle_write(const char *bundle_dir, const BundleSpec *spec);
