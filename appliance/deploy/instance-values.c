/* The per-instance tmpfs under /run (instance-values.h): mounted fresh at each prepare, filled with the
 * bundle and the value files, sealed read-only, unmounted at teardown.  Invariant: a value's bytes are
 * written to this tmpfs only, never to a file system that outlives a reboot. */
#include "instance-values.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "fs-util.h"
#include "macro.h"
#include "path-util.h"
#include "string-util.h"
#include "strv.h"

#define RUN_DIR_MOUNT_FLAGS (MS_NOSUID | MS_NODEV | MS_NOEXEC)
/* An instance's tmpfs may have been mounted more than once (a prepare interrupted between a mount and
 * its record): unmount at most this many layers. */
#define RUN_DIR_UNMOUNT_MAX 16U

/* What a netns name may be to become a path component here (ours are "slipway-<hex>"). */
static bool netns_name_valid(const char *s) {
        if (isempty(s) || strlen(s) > HOST_CLAIM_NAME_MAX || s[0] == '.')
                return false;
        for (const char *p = s; *p; p++)
                if (!strchr("-_.", *p) && !(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
                    !(*p >= '0' && *p <= '9'))
                        return false;
        return true;
}

int instance_run_dir_path(const char *netns, char **ret) {
        char *p;

        if (!netns_name_valid(netns))
                return -EINVAL;
        p = path_join(INSTANCE_RUN_ROOT, netns);
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

/* 1 when path is a tmpfs mount point (its parent is on another file system), 0 when not, -ENOENT. */
static int is_tmpfs_mount(const char *path) {
        _cleanup_free_ char *parent = NULL;
        struct stat a, b;
        struct statfs fs;

        if (stat(path, &a) < 0)
                return -errno;
        parent = path_join(path, "..");
        if (!parent)
                return -ENOMEM;
        if (stat(parent, &b) < 0)
                return -errno;
        if (a.st_dev == b.st_dev)
                return 0;
        if (statfs(path, &fs) < 0)
                return -errno;
        return (unsigned long) fs.f_type == TMPFS_MAGIC;
}

static int unmount_all(const char *path) {
        for (unsigned i = 0; i < RUN_DIR_UNMOUNT_MAX; i++) {
                int r = is_tmpfs_mount(path);
                if (r <= 0)
                        return r == -ENOENT ? 0 : r;
                /* Detached: nothing in it is open once the instance is gone, and a bind of one of its
                 * files inside a container being torn down must not keep the host's view alive. */
                if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
                        return -errno;
        }
        return -EBUSY;
}

int instance_run_dir_mount(const char *netns, char **ret_path) {
        _cleanup_free_ char *path = NULL, *opts = NULL;
        int r;

        r = instance_run_dir_path(netns, &path);
        if (r < 0)
                return r;
        r = unmount_all(path);
        if (r < 0)
                return r;
        r = mkdir_p(INSTANCE_RUN_ROOT, 0700);
        if (r < 0)
                return r;
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
                return -errno;
        if (asprintf(&opts, "mode=0700,size=%u,nr_inodes=%u", INSTANCE_RUN_TMPFS_SIZE,
                     INSTANCE_RUN_TMPFS_INODES) < 0)
                return -ENOMEM;
        if (mount("slipway-values", path, "tmpfs", RUN_DIR_MOUNT_FLAGS, opts) < 0)
                return -errno;
        *ret_path = TAKE_PTR(path);
        return 0;
}

int instance_run_dir_seal(const char *run_dir) {
        _cleanup_free_ char *opts = NULL;

        if (asprintf(&opts, "mode=0700,size=%u,nr_inodes=%u", INSTANCE_RUN_TMPFS_SIZE,
                     INSTANCE_RUN_TMPFS_INODES) < 0)
                return -ENOMEM;
        /* The superblock itself goes read-only, so every bind of its files is read-only too, whatever
         * flags the bind gets (systemd-nspawn 252's OCI parser takes no "ro" for bind mounts). */
        if (mount(NULL, run_dir, NULL, MS_REMOUNT | MS_RDONLY | RUN_DIR_MOUNT_FLAGS, opts) < 0)
                return -errno;
        return 0;
}

int instance_run_dir_remove(const char *netns) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = instance_run_dir_path(netns, &path);
        if (r < 0)
                return r;
        r = unmount_all(path);
        if (r < 0)
                return r;
        /* Unmounted it is an empty directory on /run (never a tree: only the tmpfs held files). */
        if (rmdir(path) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

int instance_values_write_files(const char *run_dir, const InstanceValue *v, size_t n, uid_t uid, gid_t gid,
                                BundleMount **ret_mounts, char ***ret_paths, size_t *ret_n,
                                char **ret_error) {
        _cleanup_free_ char *files = path_join(run_dir, INSTANCE_RUN_FILES);
        _cleanup_free_ BundleMount *mounts = NULL;
        _cleanup_close_ int dfd = -EBADF;
        char **paths = NULL;
        size_t n_files = 0, k = 0;
        int r;

        if (!files)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                n_files += v[i].is_file;
        if (n_files == 0) {
                *ret_mounts = NULL;
                *ret_paths = NULL;
                *ret_n = 0;
                return 0;
        }
        mounts = calloc(n_files, sizeof *mounts);
        paths = calloc(n_files, sizeof *paths);
        if (!mounts || !paths) {
                free(paths);
                return -ENOMEM;
        }
        if (mkdir(files, 0755) < 0 && errno != EEXIST) {
                r = error_set_once(ret_error, -errno, "Cannot create the instance's value files: %m.");
                goto fail;
        }
        dfd = open(files, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) {
                r = error_set_once(ret_error, -errno, "Cannot create the instance's value files: %m.");
                goto fail;
        }
        for (size_t i = 0; i < n; i++) {
                _cleanup_close_ int fd = -EBADF;
                char name[32];

                if (!v[i].is_file)
                        continue;
                if (isempty(v[i].file_path) || v[i].file_path[0] != '/') {
                        r = error_set_once(ret_error, -EINVAL,
                                           "The file value %s has no absolute path to mount at.",
                                           strempty(v[i].key));
                        goto fail;
                }
                snprintf(name, sizeof name, "%zu", k);
                fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (fd < 0) {
                        r = error_set_once(ret_error, -errno, "Cannot write the file value %s: %m.",
                                           v[i].key);
                        goto fail;
                }
                r = loop_write(fd, v[i].data, v[i].size);
                /* The owner first, then the mode: the kernel would drop bits a chown clears anyway. */
                if (r >= 0 && fchown(fd, uid, gid) < 0)
                        r = -errno;
                if (r >= 0 &&
                    fchmod(fd, v[i].secret ? INSTANCE_VALUE_FILE_MODE_SECRET : INSTANCE_VALUE_FILE_MODE) < 0)
                        r = -errno;
                if (r < 0) {
                        r = error_set_once(ret_error, r, "Cannot write the file value %s: %s.", v[i].key,
                                           strerror(-r));
                        goto fail;
                }
                paths[k] = path_join(files, name);
                if (!paths[k]) {
                        r = -ENOMEM;
                        goto fail;
                }
                mounts[k] = (BundleMount) {
                        .destination = v[i].file_path,
                        .type = "bind",
                        .source = paths[k],
                };
                k++;
        }
        *ret_mounts = TAKE_PTR(mounts);
        *ret_paths = paths;
        *ret_n = k;
        return 0;
fail:
        strv_free_n(paths, n_files);
        return r;
}

/* Whether entry "K=V" sets name. */
static bool env_entry_is(const char *entry, const char *name) {
        size_t n = strlen(name);
        return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

int instance_values_env(char ***env, size_t *n_env, const InstanceValue *v, size_t n, char **ret_error) {
        for (size_t i = 0; i < n; i++) {
                char *entry;
                size_t klen;

                if (v[i].is_file)
                        continue;
                if (isempty(v[i].key) || strchr(v[i].key, '='))
                        return error_set_once(ret_error, -EINVAL,
                                              "The value name %s is no environment variable name.",
                                              strempty(v[i].key));
                /* An environment string ends at its first NUL: the rest would be lost without a word. */
                if (v[i].size > 0 && memchr(v[i].data, 0, v[i].size))
                        return error_set_once(
                                ret_error, -EINVAL,
                                "The value of %s holds a NUL byte, which an environment variable cannot "
                                "carry; set it as a file (config set … --file PATH) instead.",
                                v[i].key);
                klen = strlen(v[i].key);
                entry = malloc(klen + 1 + v[i].size + 1);
                if (!entry)
                        return -ENOMEM;
                memcpy(entry, v[i].key, klen);
                entry[klen] = '=';
                if (v[i].size > 0)
                        memcpy(entry + klen + 1, v[i].data, v[i].size);
                entry[klen + 1 + v[i].size] = 0;

                size_t k;
                for (k = 0; k < *n_env; k++)
                        if (env_entry_is((*env)[k], v[i].key))
                                break;
                if (k < *n_env) {
                        /* Replaces the image's entry; the image's own value is no secret. */
                        free((*env)[k]);
                        (*env)[k] = entry;
                        continue;
                }
                if (*n_env + 2 > INSTANCE_ENV_MAX) {
                        explicit_bzero(entry, klen + 1 + v[i].size);
                        free(entry);
                        return error_set_once(ret_error, -E2BIG,
                                              "The instance has too many environment variables.");
                }
                char **l = reallocarray(*env, *n_env + 2, sizeof(char *));
                if (!l) {
                        explicit_bzero(entry, klen + 1 + v[i].size);
                        free(entry);
                        return -ENOMEM;
                }
                l[(*n_env)++] = entry;
                l[*n_env] = NULL;
                *env = l;
        }
        return 0;
}
