/* Layer unpacking: a (gzip/zstd/plain) tar stream applied entry by entry onto a directory.
 * Invariants: names reach the file system only through path-confine (openat2 RESOLVE_IN_ROOT plus
 * single-component *at() calls, O_NOFOLLOW/AT_SYMLINK_NOFOLLOW on the last component), every byte
 * of the uncompressed stream is hashed for the diff_id check, and the public entry points parse
 * layer bytes only inside the unpack sandbox. */
#include "layer-unpack.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs-util.h"
#include "layer-apply.h"
#include "macro.h"
#include "path-confine.h"
#include "string-util.h"
#include "temp-claim.h"
#include "unpack-sandbox.h"

/* ---- sandboxed entry points ---- */

typedef struct UnpackJob {
        const int *layer_fds;
        size_t n;
        int target_fd;
        LayerUnpackMode mode;
        const char *diff_id;
        const LayerOwner *owner;
        bool drop_special;
} UnpackJob;

static int unpack_job_run(void *userdata, OciError *err) {
        UnpackJob *j = userdata;

        for (size_t i = 0; i < j->n; i++) {
                LayerApplyOptions o = { .mode = j->mode,
                                        .diff_id = j->diff_id,
                                        .owner = j->owner,
                                        .drop_special = j->drop_special };
                int r = layer_apply(j->layer_fds[i], j->target_fd, &o, err);
                if (r < 0) {
                        if (j->n > 1 && err) {
                                OciError copy = *err;
                                (void) oci_error_set(err, r, copy.hint, "Layer %zu of %zu: %s", i + 1, j->n,
                                                     copy.message);
                        }
                        return r;
                }
        }
        /* Everything we wrote must be on disk before the caller renames it into place (an archive
         * lands in a build's staging dir, which the layer commit reads and syncs). */
        if (j->mode != LAYER_UNPACK_ARCHIVE && syncfs(j->target_fd) < 0)
                return oci_error_set(err, -errno, NULL, "Failed to sync the unpacked layer: %m.");
        return 0;
}

static int unpack_sandboxed_full(const int *layer_fds, size_t n, int target_fd, LayerUnpackMode mode,
                                 const char *diff_id, const LayerOwner *owner, bool drop_special,
                                 OciError *err) {
        int keep[LAYER_FLAT_LAYERS_MAX + 1];
        UnpackJob job = {
                .layer_fds = layer_fds,
                .n = n,
                .target_fd = target_fd,
                .mode = mode,
                .diff_id = diff_id,
                .owner = owner,
                .drop_special = drop_special,
        };

        if (n > LAYER_FLAT_LAYERS_MAX)
                return oci_error_set(err, -E2BIG, NULL,
                                     "An image with more than %u layers cannot be unpacked.",
                                     LAYER_FLAT_LAYERS_MAX);
        for (size_t i = 0; i < n; i++) {
                if (layer_fds[i] < 0)
                        return oci_error_set(err, -EBADF, NULL, "Invalid layer file descriptor.");
                keep[i] = layer_fds[i];
        }
        keep[n] = target_fd;
        return unpack_sandbox_run(unpack_job_run, &job, keep, n + 1, target_fd, err);
}

static int unpack_sandboxed(const int *layer_fds, size_t n, int target_fd, LayerUnpackMode mode,
                            const char *diff_id, const LayerOwner *owner, OciError *err) {
        return unpack_sandboxed_full(layer_fds, n, target_fd, mode, diff_id, owner, false, err);
}

static bool keep_nothing(const char *path, void *userdata) {
        return false;
}

int layer_unpack_fd(int layer_fd, const char *target_dir, const char *diff_id, OciError *err) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        fd = open(target_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return oci_error_set(err, -errno, "Create it first.", "Cannot open the directory %s: %m.",
                                     target_dir);
        r = dir_is_empty_at(fd, ".");
        if (r < 0)
                return oci_error_set(err, r, NULL, "Cannot read the directory %s: %s.", target_dir,
                                     strerror(-r));
        if (r == 0)
                return oci_error_set(err, -ENOTEMPTY, "Unpack into an empty directory.",
                                     "The directory %s is not empty.", target_dir);

        r = unpack_sandboxed(&layer_fd, 1, fd, LAYER_UNPACK_OVERLAY, diff_id, NULL, err);
        if (r < 0)
                (void) confine_prune_at(fd, "", keep_nothing, NULL);
        return r;
}

int layer_unpack_flat(int *layer_fds, size_t n, const char *target_dir, LayerUnpackFlags flags,
                      OciError *err) {
        _cleanup_close_ int fd = -EBADF;
        int r, empty;

        if (mkdir(target_dir, 0755) < 0 && errno != EEXIST)
                return oci_error_set(err, -errno, "Check that its parent directory exists.",
                                     "Cannot create the directory %s: %m.", target_dir);
        fd = open(target_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return oci_error_set(err, -errno, NULL, "Cannot open the directory %s: %m.", target_dir);
        empty = dir_is_empty_at(fd, ".");
        if (empty < 0)
                return oci_error_set(err, empty, NULL, "Cannot read the directory %s: %s.", target_dir,
                                     strerror(-empty));

        r = unpack_sandboxed_full(layer_fds, n, fd, LAYER_UNPACK_FLAT, NULL, NULL,
                                  !(flags & LAYER_UNPACK_KEEP_SPECIAL), err);
        if (r < 0 && empty)
                (void) confine_prune_at(fd, "", keep_nothing, NULL);
        return r;
}

int layer_unpack_archive(int archive_fd, int target_fd, const LayerOwner *owner, OciError *err) {
        if (archive_fd < 0 || target_fd < 0)
                return oci_error_set(err, -EBADF, NULL, "Invalid file descriptor.");
        return unpack_sandboxed(&archive_fd, 1, target_fd, LAYER_UNPACK_ARCHIVE, NULL, owner, err);
}

int layer_cache_ensure(const char *layers_dir, int layer_fd, const char *diff_id, OciError *err) {
        _cleanup_close_ int dfd = -EBADF, tfd = -EBADF;
        char tmp[sizeof(LAYER_CACHE_TEMP_PREFIX) + 16];
        uint64_t rnd;
        const char *hex;
        struct stat st;
        int r;

        if (!digest_is_valid(diff_id))
                return oci_error_set(err, -EINVAL,
                                     "A diff_id is \"sha256:\" followed by 64 lowercase hex digits.",
                                     "'%.100s' is not a valid layer diff_id.", strempty(diff_id));
        hex = digest_hex(diff_id);

        r = mkdir_p(layers_dir, 0700);
        if (r < 0)
                return oci_error_set(err, r, NULL, "Cannot create the layer cache %s: %s.", layers_dir,
                                     strerror(-r));
        dfd = open(layers_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return oci_error_set(err, -errno, NULL, "Cannot open the layer cache %s: %m.", layers_dir);
        /* Layers hold whatever setuid binaries and device nodes images carry: only root may enter. */
        if (fchmod(dfd, 0700) < 0)
                return oci_error_set(err, -errno, NULL, "Cannot restrict access to the layer cache %s: %m.",
                                     layers_dir);

        if (fstatat(dfd, hex, &st, AT_SYMLINK_NOFOLLOW) >= 0) {
                if (!S_ISDIR(st.st_mode))
                        return oci_error_set(err, -ENOTDIR, "Remove it; it will be unpacked again.",
                                             "%s/%s is not a directory.", layers_dir, hex);
                return 0;
        }
        if (errno != ENOENT)
                return oci_error_set(err, -errno, NULL, "Cannot check %s/%s: %m.", layers_dir, hex);

        /* The temp dir is claimed (temp-claim.h) as soon as it exists and until this returns: gc removes only
         * the ones a killed unpack left. */
        for (unsigned attempt = 0;; attempt++) {
                if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
                        return oci_error_set(err, -EIO, NULL, "Failed to get random bytes.");
                snprintf(tmp, sizeof(tmp), LAYER_CACHE_TEMP_PREFIX "%016llx", (unsigned long long) rnd);
                if (mkdirat(dfd, tmp, 0700) < 0) {
                        if (errno != EEXIST || attempt >= 16)
                                return oci_error_set(err, -errno, NULL,
                                                     "Cannot create a directory in %s: %m.", layers_dir);
                        continue;
                }
                tfd = openat(dfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (tfd < 0) {
                        r = oci_error_set(err, -errno, NULL, "Cannot open %s/%s: %m.", layers_dir, tmp);
                        goto fail;
                }
                r = temp_claim(tfd);
                if (r >= 0)
                        break;
                tfd = safe_close(tfd);
                if ((r != -EBUSY && r != -ESTALE) || attempt >= 16) {
                        r = oci_error_set(err, r, NULL, "Cannot claim %s/%s: %s.", layers_dir, tmp,
                                          strerror(-r));
                        goto fail;
                }
                if (r == -EBUSY)
                        (void) unlinkat(dfd, tmp, AT_REMOVEDIR);
        }
        if (fchmod(tfd, 0755) < 0) {
                r = oci_error_set(err, -errno, NULL, "Cannot set the mode of %s/%s: %m.", layers_dir, tmp);
                goto fail;
        }

        r = unpack_sandboxed(&layer_fd, 1, tfd, LAYER_UNPACK_OVERLAY, diff_id, NULL, err);
        if (r < 0)
                goto fail;

        if (renameat2(dfd, tmp, dfd, hex, RENAME_NOREPLACE) < 0) {
                r = -errno;
                if (r == -EINVAL && renameat(dfd, tmp, dfd, hex) >= 0)
                        r = 0; /* no RENAME_NOREPLACE here: a non-empty winner still makes rename fail */
                if (r == -EEXIST || r == -ENOTEMPTY) {
                        /* A concurrent caller put the same layer in place first: keep theirs. */
                        (void) rm_rf_at(dfd, tmp, 0);
                        return 0;
                }
                if (r < 0) {
                        r = oci_error_set(err, r, NULL, "Cannot move the unpacked layer into %s: %s.",
                                          layers_dir, strerror(-r));
                        goto fail;
                }
        }
        (void) fsync_dir_fd(dfd);
        return 1;

fail:
        (void) rm_rf_at(dfd, tmp, 0);
        return r;
}

int layer_cache_path(const char *layers_dir, const char *diff_id, char **ret) {
        char *p;

        if (!digest_is_valid(diff_id))
                return -EINVAL;
        p = path_join(layers_dir, digest_hex(diff_id));
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

int layer_cache_sweep_temp(const char *layers_dir, bool dry_run, TempSweepStats *stats) {
        return temp_sweep(layers_dir, LAYER_CACHE_TEMP_PREFIX, dry_run ? TEMP_SWEEP_DRY_RUN : 0, NULL, NULL,
                          stats);
}
