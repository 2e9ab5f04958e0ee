/* Sandboxed child for layer unpacking.  Invariant: the child applies the filter before calling
 * the worker (so before any layer byte is parsed) and never returns into the caller's code. */
#include "unpack-sandbox.h"

#include <fcntl.h>
#include <linux/landlock.h>
#include <linux/sched.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs-util.h"
#include "macro.h"
#include "process.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(scmp_filter_ctx, seccomp_release);

/* Denied with EPERM: the unpacker needs files and directories only. */
static const char *const sandbox_denied_syscalls[] = {
        /* network */
        "socket",
        "socketpair",
        "connect",
        "bind",
        "listen",
        "accept",
        "accept4",
        "sendto",
        "sendmsg",
        "sendmmsg",
        "recvfrom",
        "recvmsg",
        "recvmmsg",
        "setsockopt",
        "getsockopt",
        "shutdown",
        /* exec */
        "execve",
        "execveat",
        /* other processes */
        "ptrace",
        "process_vm_readv",
        "process_vm_writev",
        "kcmp",
        "pidfd_getfd",
        "perf_event_open",
        "bpf",
        "userfaultfd",
        /* mounts and namespaces */
        "mount",
        "umount2",
        "pivot_root",
        "chroot",
        "setns",
        "unshare",
        "fsopen",
        "fsconfig",
        "fsmount",
        "fspick",
        "move_mount",
        "open_tree",
        "mount_setattr",
        "open_by_handle_at",
        "name_to_handle_at",
        /* the system */
        "reboot",
        "kexec_load",
        "kexec_file_load",
        "init_module",
        "finit_module",
        "delete_module",
        "swapon",
        "swapoff",
        "acct",
        "settimeofday",
        "clock_settime",
        "clock_adjtime",
        "adjtimex",
        "sethostname",
        "setdomainname",
        "iopl",
        "ioperm",
        "quotactl",
        "syslog",
        "vhangup",
        "keyctl",
        "add_key",
        "request_key",
        /* io_uring would bypass the filter */
        "io_uring_setup",
        "io_uring_enter",
        "io_uring_register",
};

static const uint64_t sandbox_clone_ns_flags[] = {
        CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,    CLONE_NEWUSER,
        CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWTIME,
};

#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3; newer than Debian 12's kernel headers */
#endif

/* Landlock compiled out or disabled at boot. */
#define LANDLOCK_UNAVAILABLE(e) ((e) == ENOSYS || (e) == EOPNOTSUPP)

/* Confines creating, writing, truncating and removing files to write_root_fd's hierarchy, and
 * exec to nowhere.  Metadata calls (chown, chmod, xattrs, utimes) are outside Landlock's reach;
 * path-confine keeps those inside.  A kernel without Landlock is not an error. */
static int sandbox_landlock(int write_root_fd) {
        struct landlock_ruleset_attr attr = {};
        _cleanup_close_ int ruleset = -EBADF;
        long abi;

        abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
        if (abi < 0)
                return LANDLOCK_UNAVAILABLE(errno) ? 0 : -errno;

        attr.handled_access_fs =
                LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |
                LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |
                LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
                LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM;
        if (abi >= 2)
                attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
        if (abi >= 3)
                attr.handled_access_fs |= LANDLOCK_ACCESS_FS_TRUNCATE;

        ruleset = (int) syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
        if (ruleset < 0)
                return -errno;
        if (write_root_fd >= 0) {
                struct landlock_path_beneath_attr beneath = {
                        .allowed_access = attr.handled_access_fs & ~(uint64_t) LANDLOCK_ACCESS_FS_EXECUTE,
                        .parent_fd = write_root_fd,
                };
                if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &beneath, 0) < 0)
                        return -errno;
        }
        if (syscall(SYS_landlock_restrict_self, ruleset, 0) < 0)
                return -errno;
        return 0;
}

/* In a private mount namespace, makes every mount nodev (and nosuid), and moves write_root_fd onto
 * a nodev clone of its mount (an fd opened before keeps its old mount): the child can still create
 * the device nodes a layer carries but can open none, so not even a compromised parser reaches a
 * raw disk through a node it made.  Without CAP_SYS_ADMIN this is skipped. */
static int sandbox_nodev(int write_root_fd) {
        struct mount_attr attr = {
                .attr_set = MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID,
        };
        _cleanup_close_ int tree = -EBADF, fd = -EBADF;

        if (write_root_fd >= 0) {
                /* Cloned while its mount is still in our namespace (open_tree() refuses others). */
                tree = open_tree(write_root_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
                if (tree < 0)
                        return errno == EPERM || errno == ENOSYS ? 0 : -errno;
                if (mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0)
                        return -errno;
                /* open_tree() gives an O_PATH fd; the unpacker also needs fchown/fchmod/readdir on it. */
                fd = openat(tree, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        return -errno;
                if (dup3(fd, write_root_fd, O_CLOEXEC) < 0)
                        return -errno;
        }

        if (unshare(CLONE_NEWNS) < 0)
                return errno == EPERM ? 0 : -errno;
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return -errno;
        if (mount_setattr(AT_FDCWD, "/", AT_RECURSIVE, &attr, sizeof(attr)) < 0)
                return -errno;
        return 0;
}

int unpack_sandbox_apply(int write_root_fd) {
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
        int r;

        r = sandbox_nodev(write_root_fd);
        if (r < 0)
                return r;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        r = sandbox_landlock(write_root_fd);
        if (r < 0)
                return r;

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
                r = seccomp_rule_add(
                        ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                        SCMP_A0(SCMP_CMP_MASKED_EQ, sandbox_clone_ns_flags[i], sandbox_clone_ns_flags[i]));
                if (r < 0)
                        return r;
        }
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
        if (r < 0 && r != -EDOM)
                return r;

        /* Signals only to itself (abort() and sanitizers raise): as root it could otherwise kill the
         * daemon or any container. */
        pid_t self = getpid();
        const int self_signal_syscalls[] = {
                SCMP_SYS(kill),
                SCMP_SYS(tgkill),
                SCMP_SYS(rt_sigqueueinfo),
                SCMP_SYS(rt_tgsigqueueinfo),
        };
        for (size_t i = 0; i < ELEMENTSOF(self_signal_syscalls); i++) {
                r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), self_signal_syscalls[i], 1,
                                     SCMP_A0(SCMP_CMP_NE, (scmp_datum_t) self));
                if (r < 0)
                        return r;
        }
        const int other_signal_syscalls[] = { SCMP_SYS(tkill), SCMP_SYS(pidfd_send_signal) };
        for (size_t i = 0; i < ELEMENTSOF(other_signal_syscalls); i++) {
                r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), other_signal_syscalls[i], 0);
                if (r < 0 && r != -EDOM)
                        return r;
        }

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
        int write_root_fd;
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
                r = unpack_sandbox_apply(c->write_root_fd);
                if (r < 0)
                        r = oci_error_set(
                                &reply.err, r,
                                "Check that the kernel supports seccomp (and Landlock, when enabled).",
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
                       size_t n_keep_fds, int write_root_fd, OciError *err) {
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
                .write_root_fd = write_root_fd,
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
