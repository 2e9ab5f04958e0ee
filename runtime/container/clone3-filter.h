/* The seccomp filter slipway-init adds inside every container: clone3() fails with ENOSYS (libc then falls
 * back to clone(), whose flags the bundle's filter can see and refuses namespaces in), everything else is
 * left to the bundle's filter.  Plain libc only: it is linked into the static slipway-init. */
#pragma once

/* Sets no_new_privs (needed to add a filter without CAP_SYS_ADMIN) and installs the filter on the calling
 * thread; it stays for every child and across execve.  0 or -errno. */
int clone3_filter_install(void);
