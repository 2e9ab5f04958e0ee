/* What went wrong with a git source, for the person who configured it: one sentence and a hint.  Both are
 * printable as they are: no URL in them carries a credential. */
#pragma once

#include "macro.h"

typedef struct SourceError {
        char message[512];
        char hint[256]; /* what to do, or "" */
} SourceError;

/* Fills err (when not NULL) and returns r (a negative errno), for "return source_error_set(err, -ENOENT, …)". */
int source_error_set(SourceError *err, int r, const char *fmt, ...) _printf_(3, 4);
/* Sets err->hint (when err is not NULL). */
void source_error_hint(SourceError *err, const char *fmt, ...) _printf_(2, 3);

/* libgit2's error code (< 0) as a negative errno: GIT_ENOTFOUND → -ENOENT, GIT_EEXISTS → -EEXIST,
 * GIT_EAMBIGUOUS → -ENOTUNIQ, GIT_EAUTH → -EACCES, GIT_ECERTIFICATE → -EPERM, GIT_EUSER → -ECANCELED,
 * GIT_EBUFS → -ENOBUFS, GIT_EINVALIDSPEC/GIT_EINVALID → -EINVAL, GIT_ELOCKED → -EBUSY, network and other
 * errors → -EIO. */
int git_to_errno(int error);

/* libgit2's last error message (never NULL), for the hint or message of a SourceError. */
const char *git_last_error_message(void);

/* git_libgit2_init() once per process, from any thread; also stops libgit2 from reading the host's
 * system, global and XDG git configuration, so a mirror behaves the same on every appliance, and turns
 * off its repository ownership check, so a local-path remote owned by another user can be fetched. */
int source_libgit2_init(void);
