/* The sandbox the layer unpacker runs in: a forked child with only the named fds open,
 * nodev mounts (device nodes can be made, not opened), PR_SET_NO_NEW_PRIVS, Landlock
 * (file-system writes only below the target) and a seccomp filter
 * that makes network, exec, ptrace, mounts, namespaces, module/kexec/keyring, io_uring calls and
 * signals to other processes fail with EPERM.  Its result and OciError come back over
 * a CLOEXEC pipe; the parent only waits and reports. */
#pragma once

#include <stddef.h>

#include "oci-error.h"

#define UNPACK_SANDBOX_KEEP_FDS_MAX 256U

/* Makes every mount nodev+nosuid in a new private mount namespace (write_root_fd is replaced in
 * place by an fd on a nodev clone of its mount), then installs
 * PR_SET_NO_NEW_PRIVS, a Landlock ruleset (when the kernel has Landlock) that allows
 * creating, writing and removing files only below write_root_fd (nowhere when it is negative), and
 * the seccomp filter, in the calling process; irreversible. */
int unpack_sandbox_apply(int write_root_fd);

/* Runs fn(userdata, err) in a sandboxed child; fds other than 0-2 and keep_fds are closed first.
 * Returns fn's return value (>= 0 or -errno) with err filled from the child on failure. */
int unpack_sandbox_run(int (*fn)(void *userdata, OciError *err), void *userdata, const int *keep_fds,
                       size_t n_keep_fds, int write_root_fd, OciError *err);
