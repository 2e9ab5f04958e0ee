/* Hand-written classic BPF (no libseccomp: slipway-init links statically and stays small).
 * Invariant: for the build target's own syscall ABIs, clone3 answers ENOSYS and nothing else is touched;
 * a foreign ABI is allowed here, the bundle's filter (which names the architectures) still applies. */
#include "clone3-filter.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* clone3 is 435 in the unified numbering every architecture shares since Linux 5.1. */
#define CLONE3_NR_GENERIC 435U

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#define COMPAT_ARCH AUDIT_ARCH_I386 /* the bundle's filter allows 32-bit programs (SCMP_ARCH_X86) */
#define X32_BIT 0x40000000U         /* x32 shares AUDIT_ARCH_X86_64, numbers carry this bit */
#elif defined(__i386__)
#define NATIVE_ARCH AUDIT_ARCH_I386
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#define COMPAT_ARCH AUDIT_ARCH_ARM
#elif defined(__arm__)
#define NATIVE_ARCH AUDIT_ARCH_ARM
#elif defined(__riscv) && __riscv_xlen == 64
#define NATIVE_ARCH AUDIT_ARCH_RISCV64
#elif defined(__s390x__)
#define NATIVE_ARCH AUDIT_ARCH_S390X
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NATIVE_ARCH AUDIT_ARCH_PPC64LE
#else
#error "clone3-filter: add this architecture's AUDIT_ARCH and clone3 number"
#endif

#if defined(__NR_clone3) && __NR_clone3 != CLONE3_NR_GENERIC
#error "clone3-filter: this architecture numbers clone3 differently"
#endif

#define LOAD_ARCH BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch))
#define LOAD_NR BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
/* if (A == k) skip t instructions, else skip f. */
#define IF_EQ(k, t, f) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), (t), (f))
#define RET_ALLOW BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)
#define RET_ENOSYS BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA))

/* Each block ends in its own returns, so no jump crosses a block. */
static const struct sock_filter filter[] = {
        LOAD_ARCH,
#ifdef X32_BIT
        IF_EQ(NATIVE_ARCH, 0, 5),
        LOAD_NR,
        IF_EQ(CLONE3_NR_GENERIC, 2, 0),
        IF_EQ(CLONE3_NR_GENERIC | X32_BIT, 1, 0),
        RET_ALLOW,
        RET_ENOSYS,
#else
        IF_EQ(NATIVE_ARCH, 0, 4),
        LOAD_NR,
        IF_EQ(CLONE3_NR_GENERIC, 1, 0),
        RET_ALLOW,
        RET_ENOSYS,
#endif
#ifdef COMPAT_ARCH
        IF_EQ(COMPAT_ARCH, 0, 2), /* A still holds the arch here */
        LOAD_NR,
        IF_EQ(CLONE3_NR_GENERIC, 1, 0),
        RET_ALLOW,
        RET_ENOSYS,
#endif
        RET_ALLOW,
};

int clone3_filter_install(void) {
        struct sock_fprog prog = {
                .len = sizeof(filter) / sizeof(filter[0]),
                .filter = (struct sock_filter *) filter,
        };

        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0)
                return 0;
        if (errno != ENOSYS && errno != EPERM)
                return -errno;
        /* Older kernels, or a bundle filter that refuses seccomp() but allows prctl(). */
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
                return -errno;
        return 0;
}
