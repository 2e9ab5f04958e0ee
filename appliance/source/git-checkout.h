/* Exports one commit's tree (or one sub-directory of it) into an empty workspace directory: plain files,
 * directories and symlinks only — no .git, no index, no working copy.  Every entry is created below the
 * workspace through directory fds with O_NOFOLLOW, so neither a crafted name nor a symlink in the tree can
 * make a write land outside it. */
#pragma once

#include <stdint.h>

#include "git-mirror.h"

#define SOURCE_CHECKOUT_FILES_MAX 100000U                       /* files, symlinks and directories written */
#define SOURCE_CHECKOUT_BYTES_MAX (1024ULL * 1024ULL * 1024ULL) /* bytes of file content written */
#define SOURCE_CHECKOUT_DEPTH_MAX 128U                          /* nested directories below the root */
#define SOURCE_SUBDIR_MAX 1024U                                 /* bytes of a --dir path */

/* Limits of one checkout; 0 in a field means its SOURCE_CHECKOUT_*_MAX. */
typedef struct SourceCheckoutLimits {
        uint64_t max_files; /* files, symlinks and directories */
        uint64_t max_bytes;
} SourceCheckoutLimits;

typedef struct SourceCheckoutResult {
        uint64_t n_files; /* regular files and symlinks */
        uint64_t n_dirs;
        uint64_t n_bytes;
        uint64_t n_submodules_skipped; /* gitlink entries: not fetched, left as empty directories */
        char first_submodule[256];     /* path of the first one skipped ("" without), for a build log note */
} SourceCheckoutResult;

/* Writes the tree of commit_id (a full id, as git_mirror_resolve_*() return it) into workspace, which must
 * be an existing empty directory.  subdir (NULL or "": the whole tree) is a relative path at that commit
 * whose contents become the workspace's root.  File modes: 0644, 0755 for executables, symlinks as symlinks
 * (their targets are not checked: they are data for the build, which must not follow them out); file times
 * are the commit's time.  Submodules are skipped (counted in ret).  limits: NULL for the defaults.
 * Errors, err filled: -ENOENT (no such commit, or no directory subdir at it, with the top-level entries in
 * the hint), -EINVAL (bad subdir), -ENOTEMPTY (workspace not empty), -EFBIG (over the SOURCE_CHECKOUT_*
 * limits), -EBADMSG (a tree entry named ".", "..", ".git" or holding '/'), -errno.  On failure the
 * workspace holds a partial tree: the caller removes it. */
int git_checkout_commit(GitMirror *m, const char *commit_id, const char *subdir, const char *workspace,
                        const SourceCheckoutLimits *limits, SourceCheckoutResult *ret, SourceError *err);
