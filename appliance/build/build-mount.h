/* RUN --mount at build time: the plan made before the cache lookup (specs parsed, bind sources resolved and
 * checksummed, secrets looked up: the part of the cache key the mounts add) and the mounts of one step (cache
 * directories leased, rw binds over a throwaway overlay, secrets on a tmpfs of the step).
 * Invariant: nothing a mount brings in reaches the layer; the layer keeps of a mount target only what buildah
 * leaves (the parent directories it made), and build_mounts_teardown() leaves no mount and no lease. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "build-cache-mounts.h"
#include "build-copy-plan.h"
#include "build-job.h"
#include "bundle.h"
#include "dockerfile-mount.h"

#define BUILD_SECRET_TMPFS_SIZE (BUILD_SECRETS_MAX * BUILD_SECRET_SIZE_MAX + (1U << 20))

typedef struct BuildMount {
        DockerfileMount spec;
        char *target;      /* absolute, normalised path in the container */
        CopyPlan *source;  /* bind, and cache with from=/source=: the source root */
        char *source_path; /* host path of the source, resolved inside its root */
        bool source_is_dir;
        const BuildSecret *secret; /* type=secret: NULL when the build has none by that id */

        /* While the step runs. */
        CacheMountLease lease;
        char *host_path;     /* what the container gets bound */
        char *overlay;       /* rw bind: our overlay of the source, or NULL */
        bool target_existed; /* the target was in the stage's root before the step */
        char options_buf[64];
        const char *options[3];
} BuildMount;

typedef struct BuildMounts {
        BuildMount *mounts;
        size_t n;
        char *secrets_dir; /* the step's tmpfs with the secret files, or NULL */
        BundleMount *bundle;
} BuildMounts;

/* The state of from= (a stage), NULL for an image (or -errno with the build error filled). */
typedef int (*BuildMountFromFunc)(void *userdata, const DockerfileInstruction *i, const char *from,
                                  json_t **ret_state);

/* The mounts of RUN i (already expanded), and *ret_key: what they add to the step's cache key: bind sources'
 * content checksums and, for secrets, only the id and whether the build has it — never a secret's bytes (so
 * a changed value reuses the cache, as BuildKit does; a changed id or set of present secrets does not).
 * A cache mount's content is never in the key. *ret is NULL when i has no mounts. */
int build_mounts_prepare(BuildContext *ctx, const DockerfileInstruction *i, BuildMountFromFunc from_fn,
                         void *userdata, BuildMounts **ret, char **ret_key);

/* Before the container starts: leases cache dirs, makes rw overlays and the secret tmpfs under step_dir,
 * creates the targets' parents in root (the step's overlay) and fills ret_bundle/ret_n for the bundle. */
int build_mounts_setup(BuildContext *ctx, BuildMounts *ms, const DockerfileInstruction *i, const char *root,
                       const char *step_dir, const char *cwd, const BundleMount **ret_bundle, size_t *ret_n);

/* After the container, its overlay unmounted: removes from upper the mount points the step's mounts left
 * (a target that was not in the stage), as buildah does. */
void build_mounts_clean_upper(BuildMounts *ms, const char *upper);

/* mkdir -p of path inside root without following symlinks out of it: stops quietly at a symlink (the
 * container resolves it itself) and leaves existing directories alone; new ones are 0755. */
void build_mkdir_in_root(const char *root, const char *path);

/* Unmounts what setup mounted, drops the leases; the plan stays. Safe to call twice. */
void build_mounts_teardown(BuildMounts *ms);
BuildMounts *build_mounts_free(BuildMounts *ms);
DEFINE_TRIVIAL_CLEANUP_FUNC(BuildMounts *, build_mounts_free);
