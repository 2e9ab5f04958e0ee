/* What reaches an instance at run time only: a tmpfs of its own under /run holding its bundle (whose
 * process.env carries the environment values) and its value files, remounted read-only before the
 * container starts; the value files are bound read-only into the container.
 * Invariant: no value is written anywhere but this tmpfs, and it goes with the instance's teardown. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bundle.h"
#include "host-claims.h"

/* /run/slipway/instances/<netns>: the netns name is unique on the host (it hashes the state dir's id,
 * its path and the instance id) and is what teardown knows an instance by. */
#define INSTANCE_RUN_ROOT HOST_CLAIMS_ROOT "/instances"
/* The tmpfs holds the bundle (≤ the environment's values, 1 MiB, plus the image's config) and the value
 * files (≤ 1 MiB together): a few MiB is plenty, and a bound the host can always afford. */
#define INSTANCE_RUN_TMPFS_SIZE (8U * 1024U * 1024U)
#define INSTANCE_RUN_TMPFS_INODES 4096U
#define INSTANCE_RUN_BUNDLE "bundle"
#define INSTANCE_RUN_FILES "files"
/* A value file in the container: its user's, read-only; a secret readable by that user only. */
#define INSTANCE_VALUE_FILE_MODE 0444
#define INSTANCE_VALUE_FILE_MODE_SECRET 0400
#define INSTANCE_VALUES_MAX 1024U
/* Entries of an instance's environment: the image's Env and the values together. */
#define INSTANCE_ENV_MAX 2048U

/* One value for the instance (decrypted; the caller owns and wipes the bytes). */
typedef struct InstanceValue {
        const char *key;
        bool is_file;
        const char *file_path; /* is_file: the absolute path in the container */
        bool secret;
        const uint8_t *data;
        size_t size;
} InstanceValue;

/* The tmpfs path of the instance that netns names. */
int instance_run_dir_path(const char *netns, char **ret);
/* A fresh, empty tmpfs at that path (mode 0700, INSTANCE_RUN_TMPFS_SIZE): what an earlier prepare left
 * there is unmounted first, so a rerun converges. */
int instance_run_dir_mount(const char *netns, char **ret_path);
/* Remounts it read-only: nobody, the container's root included, changes its files from here on. */
int instance_run_dir_seal(const char *run_dir);
/* Unmounts and removes it; 0 when it is gone (or never was). */
int instance_run_dir_remove(const char *netns);

/* Writes each file value into run_dir/files, owned by host uid/gid (the container user as the host sees
 * it: with a user namespace, the range's start + the container's ids), mode INSTANCE_VALUE_FILE_MODE or
 * _SECRET, and returns the bind mounts for the bundle (*ret_mounts: n of them; sources point into
 * *ret_paths, which the caller frees with strv_free_n).  ret_error gets a sentence for a person. */
int instance_values_write_files(const char *run_dir, const InstanceValue *v, size_t n, uid_t uid, gid_t gid,
                                BundleMount **ret_mounts, char ***ret_paths, size_t *ret_n,
                                char **ret_error);
/* Puts the environment values into env (a strv of *n_env "K=V" entries, the image's Env): a value
 * replaces an entry of the same name, the others are appended, in the order given. */
int instance_values_env(char ***env, size_t *n_env, const InstanceValue *v, size_t n, char **ret_error);
