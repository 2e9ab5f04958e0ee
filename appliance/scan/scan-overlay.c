/* scan-overlay.h: the SBOM of an image's layers as overlayfs stacks them, in a thread's own mount namespace. */
#include "scan-overlay.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "digest.h"
#include "fs-util.h"
#include "layer-unpack.h"
#include "log.h"

#define SCAN_OVERLAY_OPTIONS_MAX 4000U /* the kernel takes one page of mount data */

typedef struct OverlayJob {
        const char *layers_dir;
        const char *mountpoint;
        char *options;
        Sbom *sbom;
        bool mounted;
        int r;
} OverlayJob;

/* Runs in its own thread: unsharing the file system attributes too lets this thread alone change its mount
 * namespace and working directory.  The namespace dies with the thread. */
static void *overlay_job_run(void *userdata) {
        OverlayJob *j = userdata;
        int fd;

        if (unshare(CLONE_FS | CLONE_NEWNS) < 0) {
                j->r = -errno;
                return NULL;
        }
        /* Nothing mounted here may propagate back to the host's namespace. */
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 || chdir(j->layers_dir) < 0) {
                j->r = -errno;
                return NULL;
        }
        if (mount("overlay", j->mountpoint, "overlay", MS_RDONLY | MS_NODEV | MS_NOSUID | MS_NOEXEC,
                  j->options) < 0) {
                j->r = -errno;
                return NULL;
        }
        j->mounted = true;
        fd = open(j->mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                j->r = -errno;
        else {
                j->r = sbom_scan_root(fd, &j->sbom, NULL);
                close(fd);
        }
        (void) umount2(j->mountpoint, MNT_DETACH);
        return NULL;
}

int scan_overlay_sbom(const char *layers_dir, char *const *diff_ids, size_t n, const char *tmp_parent,
                      Sbom **ret) {
        _cleanup_free_ char *options = NULL, *dir = NULL;
        OverlayJob job = { .layers_dir = layers_dir, .r = -EOPNOTSUPP };
        size_t len = 0;
        pthread_t t;
        int r;

        if (n == 0 || n > SCAN_OVERLAY_LAYERS_MAX)
                return -EOPNOTSUPP;
        if (n == 1) { /* one layer is its own merged tree */
                _cleanup_free_ char *path = NULL;
                int fd;

                r = layer_cache_path(layers_dir, diff_ids[0], &path);
                if (r < 0)
                        return r;
                fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        return -errno;
                r = sbom_scan_root(fd, ret, NULL);
                close(fd);
                return r;
        }
        /* lowerdir=TOP:…:BOTTOM, each the layer's directory name relative to layers_dir (the thread's cwd). */
        options = malloc(SCAN_OVERLAY_OPTIONS_MAX);
        if (!options)
                return -ENOMEM;
        len = (size_t) snprintf(options, SCAN_OVERLAY_OPTIONS_MAX, "lowerdir=");
        for (size_t i = n; i-- > 0;) {
                if (!digest_is_valid(diff_ids[i]))
                        return -EINVAL;
                int k = snprintf(options + len, SCAN_OVERLAY_OPTIONS_MAX - len, "%s%s", i + 1 < n ? ":" : "",
                                 digest_hex(diff_ids[i]));
                if (k < 0 || (size_t) k >= SCAN_OVERLAY_OPTIONS_MAX - len)
                        return -EOPNOTSUPP;
                len += (size_t) k;
        }
        r = mkdir_p(tmp_parent, 0700);
        if (r < 0)
                return r;
        if (asprintf(&dir, "%s/overlay-XXXXXX", tmp_parent) < 0)
                return -ENOMEM;
        if (!mkdtemp(dir))
                return -errno;
        job.mountpoint = dir;
        job.options = options;
        r = -pthread_create(&t, NULL, overlay_job_run, &job);
        if (r >= 0)
                (void) pthread_join(t, NULL);
        (void) rmdir(dir);
        if (r < 0)
                return r;
        if (!job.mounted) {
                log_debug_errno(
                        job.r,
                        "Scanning from an overlay of the layers is not possible here (%m); unpacking.");
                sbom_free(job.sbom);
                return -EOPNOTSUPP;
        }
        if (job.r < 0) {
                sbom_free(job.sbom);
                return job.r;
        }
        *ret = job.sbom;
        return 0;
}
