/* The hardening profile every container (build step or instance) runs with: a capability set no
 * wider than Podman's default, an allowlist seccomp filter at least as strict as Docker's default,
 * masked and read-only /proc paths.  Expressed as OCI runtime-spec JSON for systemd-nspawn. */
#pragma once

#include <jansson.h>

/* Podman's default capability set (CAP_ names as the OCI spec spells them). */
extern const char *const container_default_capabilities[];

/* {"defaultAction":"SCMP_ACT_ERRNO","architectures":[…],"syscalls":[{"names":[…],"action":"SCMP_ACT_ALLOW"}]}.
 * Syscalls that change the host or escape a container — mount, umount2, unshare, setns, pivot_root,
 * bpf, keyctl, add_key, request_key, kexec_*, init_module, finit_module, delete_module, perf_event_open,
 * open_by_handle_at, name_to_handle_at, userfaultfd, ptrace, reboot, swapon/off, settimeofday,
 * clock_settime, acct, quotactl, lookup_dcookie, iopl, ioperm, … — are absent and so refused (EPERM). */
json_t *container_seccomp_profile(void);

/* Whether a syscall name is in the allowlist (for tests and for checking build-specific extras). */
int container_seccomp_allows(const char *syscall_name);

extern const char *const container_masked_paths[];
extern const char *const container_readonly_paths[];
