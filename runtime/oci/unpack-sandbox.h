/* The sandbox the layer unpacker runs in: a forked child with only the named fds open,
 * PR_SET_NO_NEW_PRIVS and a seccomp filter that makes network, exec, ptrace, mounts, namespaces,
 * module/kexec/keyring and io_uring calls fail with EPERM.  Its result and OciError come back over
 * a CLOEXEC pipe; the parent only waits and reports. */
#pragma once

#include <stddef.h>

#include "oci-error.h"

#define UNPACK_SANDBOX_KEEP_FDS_MAX 256U

/* Installs PR_SET_NO_NEW_PRIVS and the seccomp filter in the calling process; irreversible. */
int unpack_sandbox_apply(void);

/* Runs fn(userdata, err) in a sandboxed child; fds other than 0-2 and keep_fds are closed first.
 * Returns fn's return value (>= 0 or -errno) with err filled from the child on failure. */
int unpack_sandbox_run(int (*fn)(void *userdata, OciError *err), void *userdata, const int *keep_fds,
                       size_t n_keep_fds, OciError *err);
