/* Container hardening profile.  The seccomp list is an allowlist: anything not named here fails
 * with EPERM, so a syscall added to the kernel later is refused until we decide to allow it. */
#include "container-profile.h"

#include <sched.h>
#include <string.h>

/* CLONE_NEWNS|CLONE_NEWCGROUP|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWUSER|CLONE_NEWPID|CLONE_NEWNET */
#define CLONE_NAMESPACE_FLAGS 0x7E020000UL

#include "macro.h"

const char *const container_default_capabilities[] = {
        "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID",     "CAP_KILL",
        "CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID",
        "CAP_SYS_CHROOT", NULL,
};

const char *const container_masked_paths[] = {
        "/proc/acpi",        "/proc/kcore",       "/proc/keys",     "/proc/latency_stats",
        "/proc/timer_list",  "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
        "/sys/firmware",     "/sys/devices/virtual/powercap", NULL,
};

const char *const container_readonly_paths[] = {
        "/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
        "/run/systemd/inaccessible", /* the host's masking nodes, bound in by bundle.c */
        "/run/slipway/init",         /* slipway-init (CONTAINER_INIT_PATH), bound in by bundle.c */
        NULL,
};

/* What an ordinary Linux program needs: file I/O, memory, processes, signals, time, sockets, IPC,
 * event loops.  Kept sorted by topic; the privileged and namespace-changing calls are left out. */
static const char *const seccomp_allowed[] = {
        /* files and directories */
        "access", "chdir", "chmod", "chown", "close", "close_range", "copy_file_range", "creat", "dup",
        "dup2", "dup3", "faccessat", "faccessat2", "fadvise64", "fallocate", "fchdir", "fchmod",
        "fchmodat", "fchown", "fchownat", "fcntl", "fdatasync", "fgetxattr", "flistxattr", "flock",
        "fremovexattr", "fsetxattr", "fstat", "fstatfs", "fsync", "ftruncate", "futimesat", "getcwd",
        "getdents", "getdents64", "getxattr", "inotify_add_watch", "inotify_init", "inotify_init1",
        "inotify_rm_watch", "lchown", "lgetxattr", "link", "linkat", "listxattr", "llistxattr",
        "lremovexattr", "lseek", "lsetxattr", "lstat", "memfd_create", "mkdir", "mkdirat", "mknod",
        "mknodat", "newfstatat", "open", "openat", "openat2", "pipe", "pipe2", "pread64", "preadv",
        "preadv2", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat",
        "readv", "removexattr", "rename", "renameat", "renameat2", "rmdir", "sendfile", "setxattr",
        "splice", "stat", "statfs", "statx", "symlink", "symlinkat", "sync", "sync_file_range",
        "syncfs", "tee", "truncate", "umask", "unlink", "unlinkat", "utime", "utimensat", "utimes",
        "vmsplice", "write", "writev", "ioctl",
        /* memory */
        "brk", "get_mempolicy", "madvise", "mbind", "membarrier", "mincore", "mlock", "mlock2",
        "mlockall", "mmap", "mprotect", "mremap", "msync", "munlock", "munlockall", "munmap",
        "set_mempolicy", "process_vm_readv", "process_vm_writev",
        /* processes, credentials, scheduling */
        "arch_prctl", "capget", "capset", "clone3", "execve", "execveat", "exit",
        "exit_group", "fork", "getcpu", "getegid", "geteuid", "getgid", "getgroups", "getpgid",
        "getpgrp", "getpid", "getppid", "getpriority", "getresgid", "getresuid", "getrlimit",
        "getrusage", "getsid", "gettid", "getuid", "ioprio_get", "ioprio_set", "prctl", "prlimit64",
        "rseq", "sched_get_priority_max", "sched_get_priority_min", "sched_getaffinity",
        "sched_getattr", "sched_getparam", "sched_getscheduler", "sched_rr_get_interval",
        "sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield",
        "set_robust_list", "get_robust_list", "set_tid_address", "setfsgid", "setfsuid", "setgid",
        "setgroups", "setpgid", "setpriority", "setregid", "setresgid", "setresuid", "setreuid",
        "setrlimit", "setsid", "setuid", "uname", "vfork", "wait4", "waitid", "pidfd_open",
        "pidfd_send_signal", "pidfd_getfd", "sysinfo", "times", "getrandom",
        /* signals */
        "kill", "pause", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo",
        "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait", "rt_tgsigqueueinfo", "sigaltstack",
        "signalfd", "signalfd4", "tgkill", "tkill", "restart_syscall",
        /* time */
        "alarm", "clock_getres", "clock_gettime", "clock_nanosleep", "getitimer", "gettimeofday",
        "nanosleep", "setitimer", "time", "timer_create", "timer_delete", "timer_getoverrun",
        "timer_gettime", "timer_settime", "timerfd_create", "timerfd_gettime", "timerfd_settime",
        /* event loops, futexes, async I/O */
        "epoll_create", "epoll_create1", "epoll_ctl", "epoll_pwait", "epoll_pwait2", "epoll_wait",
        "eventfd", "eventfd2", "futex", "futex_waitv", "io_cancel", "io_destroy", "io_getevents",
        "io_setup", "io_submit", "poll", "ppoll", "pselect6", "select",
        /* sockets */
        "accept", "accept4", "bind", "connect", "getpeername", "getsockname", "getsockopt", "listen",
        "recvfrom", "recvmmsg", "recvmsg", "sendmmsg", "sendmsg", "sendto", "setsockopt", "shutdown",
        "socket", "socketpair",
        /* System V and POSIX IPC (namespaced) */
        "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedsend", "mq_unlink",
        "msgctl", "msgget", "msgrcv", "msgsnd", "semctl", "semget", "semop", "semtimedop", "shmat",
        "shmctl", "shmdt", "shmget",
        /* self-sandboxing is always fine */
        "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "seccomp",
        NULL,
};

int container_seccomp_allows(const char *name) {
        for (size_t i = 0; seccomp_allowed[i]; i++)
                if (streq(seccomp_allowed[i], name))
                        return 1;
        return 0;
}

json_t *container_seccomp_profile(void) {
        json_t *names = json_array(), *rule, *clone_rule, *profile;

        if (!names)
                return NULL;
        for (size_t i = 0; seccomp_allowed[i]; i++)
                if (json_array_append_new(names, json_string(seccomp_allowed[i])) < 0) {
                        json_decref(names);
                        return NULL;
                }
        rule = json_pack("{s:o,s:s}", "names", names, "action", "SCMP_ACT_ALLOW");
        if (!rule)
                return NULL;
        /* clone() only without namespace flags.  clone3() passes its flags in memory where seccomp
         * cannot see them; Docker answers it with ENOSYS so libc falls back to clone(), but that
         * needs "errnoRet", which systemd-nspawn 252 rejects — and EPERM would break every
         * pthread_create() of glibc >= 2.34.  So clone3 is allowed here and slipway-init, the first
         * program of every container, adds a filter of its own answering it with ENOSYS. */
        clone_rule = json_pack("{s:[s],s:s,s:[{s:i,s:I,s:i,s:s}]}", "names", "clone", "action", "SCMP_ACT_ALLOW",
                               "args", "index", 0, "value", (json_int_t) CLONE_NAMESPACE_FLAGS, "valueTwo", 0,
                               "op", "SCMP_CMP_MASKED_EQ");
        if (!clone_rule) {
                json_decref(rule);
                return NULL;
        }
        profile = json_pack("{s:s,s:[s,s,s],s:[o,o]}", "defaultAction", "SCMP_ACT_ERRNO", "architectures",
                            "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "syscalls", rule, clone_rule);
        return profile;
}
