/* overlayfs mounting with the new mount API, so that a deep layer stack is not limited by the
 * one-page option string of mount(2): every lowerdir is added with its own fsconfig call. */
#include "overlay.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs-util.h"
#include "idmap.h"
#include "macro.h"

static int sys_fsopen(const char *fsname, unsigned flags) {
        return (int) syscall(SYS_fsopen, fsname, flags);
}
static int sys_fsconfig(int fd, unsigned cmd, const char *key, const void *value, int aux) {
        return (int) syscall(SYS_fsconfig, fd, cmd, key, value, aux);
}
static int sys_fsmount(int fd, unsigned flags, unsigned attr) {
        return (int) syscall(SYS_fsmount, fd, flags, attr);
}
static int sys_move_mount(int from_dfd, const char *from, int to_dfd, const char *to, unsigned flags) {
        return (int) syscall(SYS_move_mount, from_dfd, from, to_dfd, to, flags);
}

int overlay_shim_ensure(const char *shim_dir) {
        _cleanup_free_ char *usr = path_join(shim_dir, "usr");

        if (!usr)
                return -ENOMEM;
        return mkdir_p(usr, 0755);
}

/* Kernels before 6.5 do not accept "lowerdir+"; fall back to one joined lowerdir string there. */
static int overlay_mount_legacy(const char *const *lower, size_t n, const char *upper, const char *work,
                                const char *target, const char *shim_dir) {
        _cleanup_free_ char *opts = NULL;
        size_t len = 64;
        char *p;

        for (size_t i = 0; i < n; i++)
                len += strlen(lower[i]) + 1;
        len += (shim_dir ? strlen(shim_dir) : 0) + (upper ? strlen(upper) + strlen(work) : 0) + 64;
        opts = malloc(len);
        if (!opts)
                return -ENOMEM;
        p = stpcpy(opts, "lowerdir=");
        /* mount(2) lists the highest layer first. */
        for (size_t i = n; i > 0; i--) {
                p = stpcpy(p, lower[i - 1]);
                p = stpcpy(p, ":");
        }
        if (shim_dir)
                p = stpcpy(p, shim_dir);
        else if (n > 0)
                p[-1] = 0;
        if (upper)
                sprintf(p + strlen(p), ",upperdir=%s,workdir=%s", upper, work);
        if (mount("overlay", target, "overlay", 0, opts) < 0)
                return -errno;
        return 0;
}

int overlay_mount(const char *const *lower, size_t n, const char *upper, const char *work,
                  const char *target, const char *shim_dir) {
        _cleanup_close_ int fs = -EBADF, mnt = -EBADF;
        int r;

        if (n > OVERLAY_LAYERS_MAX)
                return -E2BIG;
        if (!upper && n + (shim_dir ? 1 : 0) < 2)
                return -EINVAL; /* overlayfs needs two lowers without an upper */
        if (upper && !work)
                return -EINVAL;

        fs = sys_fsopen("overlay", FSOPEN_CLOEXEC);
        if (fs < 0)
                return overlay_mount_legacy(lower, n, upper, work, target, shim_dir);

        /* "lowerdir+" appends below what was added before: add the highest layer first. */
        for (size_t i = n; i > 0; i--)
                if (sys_fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", lower[i - 1], 0) < 0) {
                        if (errno == EINVAL && i == n)
                                return overlay_mount_legacy(lower, n, upper, work, target, shim_dir);
                        return -errno;
                }
        if (shim_dir && sys_fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", shim_dir, 0) < 0)
                return -errno;
        if (n == 0 && !shim_dir)
                return -EINVAL;
        if (upper) {
                if (sys_fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", upper, 0) < 0 ||
                    sys_fsconfig(fs, FSCONFIG_SET_STRING, "workdir", work, 0) < 0)
                        return -errno;
        }
        if (sys_fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return -errno;
        mnt = sys_fsmount(fs, FSMOUNT_CLOEXEC, 0);
        if (mnt < 0)
                return -errno;
        r = sys_move_mount(mnt, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH);
        if (r < 0)
                return -errno;
        return 0;
}

int overlay_mount_shifted(const char *const *lower, size_t n, const char *upper, const char *work,
                          const char *target, const char *shim_dir, uid_t shift) {
        _cleanup_close_ int userns = -EBADF;
        _cleanup_free_ int *fds = NULL;
        _cleanup_free_ char *paths = NULL;
        _cleanup_free_ const char **lower_paths = NULL;
        const size_t path_max = 32;
        size_t n_trees = n + (shim_dir ? 1 : 0);
        int r;

        if (shift == 0)
                return overlay_mount(lower, n, upper, work, target, shim_dir);
        if (n > OVERLAY_LAYERS_MAX)
                return -E2BIG;
        if (upper && !work)
                return -EINVAL;

        r = idmap_userns_new(shift, &userns);
        if (r < 0)
                return r;
        fds = malloc(MAX(n_trees, 1U) * sizeof(int));
        paths = malloc(MAX(n_trees, 1U) * path_max);
        lower_paths = malloc(MAX(n, 1U) * sizeof(char *));
        if (!fds || !paths || !lower_paths)
                return -ENOMEM;
        for (size_t i = 0; i < n_trees; i++)
                fds[i] = -EBADF;

        /* The overlay takes its own references to the layers: the detached clones only need to live
         * until the mount exists. */
        for (size_t i = 0; i < n_trees; i++) {
                r = idmap_clone_tree(i < n ? lower[i] : shim_dir, userns, &fds[i]);
                if (r < 0)
                        goto finish;
                snprintf(paths + i * path_max, path_max, "/proc/self/fd/%d", fds[i]);
                if (i < n)
                        lower_paths[i] = paths + i * path_max;
        }
        if (upper && lchown(upper, shift, shift) < 0) {
                r = -errno;
                goto finish;
        }
        r = overlay_mount(lower_paths, n, upper, work, target, shim_dir ? paths + n * path_max : NULL);
finish:
        for (size_t i = 0; i < n_trees; i++)
                safe_close(fds[i]);
        return r;
}

int overlay_umount(const char *target) {
        if (umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT)
                return -errno;
        return 0;
}
