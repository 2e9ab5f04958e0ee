/* Sandboxed child for layer unpacking.  Invariant: the child applies the filter before calling
 * the worker (so before any layer byte is parsed) and never returns into the caller's code. */
#include "unpack-sandbox.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "fs-util.h"
#include "macro.h"
#include "process.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(scmp_filter_ctx, seccomp_release);

/* Denied with EPERM: the unpacker needs files and directories only. */
static const char *const sandbox_denied_syscalls[] = {
        /* network */
        "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4", "sendto", "sendmsg",
        "sendmmsg", "recvfrom", "recvmsg", "recvmmsg", "setsockopt", "getsockopt", "shutdown",
        /* exec */
        "execve", "execveat",
        /* other processes */
        "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd", "perf_event_open",
        "bpf", "userfaultfd",
        /* mounts and namespaces */
        "mount", "umount2", "pivot_root", "chroot", "setns", "unshare", "fsopen", "fsconfig", "fsmount",
        "fspick", "move_mount", "open_tree", "mount_setattr", "open_by_handle_at", "name_to_handle_at",
        /* the system */
        "reboot", "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
        "swapon", "swapoff", "acct", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
        "sethostname", "setdomainname", "iopl", "ioperm", "quotactl", "syslog", "vhangup",
        "keyctl", "add_key", "request_key",
        /* io_uring would bypass the filter */
        "io_uring_setup", "io_uring_enter", "io_uring_register",
};

static const uint64_t sandbox_clone_ns_flags[] = {
        CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,
        CLONE_NEWCGROUP, CLONE_NEWTIME,
};

int unpack_sandbox_apply(void) {
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
        int r;

        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;

        /* Default allow; syscalls of other ABIs (x32, i386) hit the default bad-arch action: kill. */
        ctx = seccomp_init(SCMP_ACT_ALLOW);
        if (!ctx)
                return -ENOMEM;

        for (size_t i = 0; i < ELEMENTSOF(sandbox_denied_syscalls); i++) {
                int nr = seccomp_syscall_resolve_name(sandbox_denied_syscalls[i]);
                if (nr == __NR_SCMP_ERROR)
                        continue; /* unknown to this libseccomp: nothing to deny */
                r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
                if (r < 0 && r != -EDOM)
                        return r;
        }
        /* clone() may not create namespaces; clone3() hides its flags in memory, so it reports
         * ENOSYS and glibc falls back to clone(). */
        for (size_t i = 0; i < ELEMENTSOF(sandbox_clone_ns_flags); i++) {
                r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                                     SCMP_A0(SCMP_CMP_MASKED_EQ, sandbox_clone_ns_flags[i],
                                             sandbox_clone_ns_flags[i]));
                if (r < 0)
                        return r;
        }
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
        if (r < 0 && r != -EDOM)
                return r;

        return seccomp_load(ctx);
}

typedef struct SandboxReply {
        int32_t r;
        OciError err;
} SandboxReply;

typedef struct SandboxChild {
        int (*fn)(void *userdata, OciError *err);
        void *userdata;
        const int *keep_fds;
        size_t n_keep_fds;
        int reply_fd;
} SandboxChild;

static int cmp_int(const void *a, const void *b) {
        int x = *(const int *) a, y = *(const int *) b;
        return (x > y) - (x < y);
}

/* Closes every fd >= 3 not in keep (sorted, unique), so the child holds no socket or file of the
 * parent that the filter would otherwise let it write to. */
static int close_all_fds_except(int *keep, size_t n) {
        unsigned from = 3;

        qsort(keep, n, sizeof(int), cmp_int);
        for (size_t i = 0; i < n; i++) {
                if (keep[i] < (int) from)
                        continue;
                if ((unsigned) keep[i] > from && close_range(from, keep[i] - 1, 0) < 0)
                        return -errno;
                from = keep[i] + 1;
        }
        if (close_range(from, ~0U, 0) < 0)
                return -errno;
        return 0;
}

static int sandbox_child(void *userdata) {
        SandboxChild *c = userdata;
        SandboxReply reply = {};
        int keep[UNPACK_SANDBOX_KEEP_FDS_MAX + 1];
        int r;

        for (size_t i = 0; i < c->n_keep_fds; i++)
                keep[i] = c->keep_fds[i];
        keep[c->n_keep_fds] = c->reply_fd;

        r = close_all_fds_except(keep, c->n_keep_fds + 1);
        if (r >= 0) {
                r = unpack_sandbox_apply();
                if (r < 0)
                        r = oci_error_set(&reply.err, r, "Check that the kernel supports seccomp.",
                                          "Failed to set up the unpack sandbox: %s", strerror(-r));
                else
                        r = c->fn(c->userdata, &reply.err);
        } else
                r = oci_error_set(&reply.err, r, NULL, "Failed to close inherited file descriptors: %s",
                                  strerror(-r));

        reply.r = r;
        /* Smaller than PIPE_BUF: one atomic write that never blocks on an empty pipe. */
        (void) loop_write(c->reply_fd, &reply, sizeof(reply));
        return r < 0 ? 1 : 0;
}

int unpack_sandbox_run(int (*fn)(void *userdata, OciError *err), void *userdata, const int *keep_fds,
                       size_t n_keep_fds, OciError *err) {
        _cleanup_close_ int read_fd = -EBADF, write_fd = -EBADF;
        SandboxReply reply = {};
        int pipefd[2], sig = 0, status;
        ssize_t n;
        pid_t pid;

        _Static_assert(sizeof(SandboxReply) <= PIPE_BUF, "reply must be written atomically");
        if (n_keep_fds > UNPACK_SANDBOX_KEEP_FDS_MAX)
                return oci_error_set(err, -E2BIG, NULL, "Too many file descriptors for the unpack sandbox.");

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return oci_error_set(err, -errno, NULL, "Failed to create a pipe: %m");
        read_fd = pipefd[0];
        write_fd = pipefd[1];

        SandboxChild child = {
                .fn = fn,
                .userdata = userdata,
                .keep_fds = keep_fds,
                .n_keep_fds = n_keep_fds,
                .reply_fd = write_fd,
        };
        pid = fork_function(sandbox_child, &child);
        if (pid < 0)
                return oci_error_set(err, pid, NULL, "Failed to start the unpack process: %s",
                                     strerror(-pid));
        write_fd = safe_close(write_fd);

        n = loop_read(read_fd, &reply, sizeof(reply));
        status = wait_for_pid(pid, &sig);

        if (n == (ssize_t) sizeof(reply)) {
                if (reply.r < 0 && err) {
                        reply.err.message[sizeof(reply.err.message) - 1] = 0;
                        reply.err.hint[sizeof(reply.err.hint) - 1] = 0;
                        *err = reply.err;
                }
                return reply.r;
        }
        if (status == -EPROTO)
                return oci_error_set(
                        err, -ECHILD,
                        sig == SIGSYS ? "The unpacker made a system call the sandbox forbids." : NULL,
                        "The layer unpack process was killed by signal %s.", sigabbrev_np(sig) ?: "?");
        return oci_error_set(err, -EIO, NULL,
                             "The layer unpack process failed without a report (exit status %d).", status);
}
