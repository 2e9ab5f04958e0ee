/* dpkg's database of an image: /var/lib/dpkg/status and the one-file-per-package status.d/ of distroless
 * images, deb822 stanzas of which only "install ok installed" packages count. */
#pragma once

#include <stddef.h>

#include "sbom.h"

/* The number of status.d files read at most. */
#define SBOM_DPKG_STATUS_D_MAX 10000U

/* Reads var/lib/dpkg/status and var/lib/dpkg/status.d/ (every file), adding to *skipped the stanzas and
 * files that could not be used.  -ENOMEM and -E2BIG only; a missing database is not an error. */
int sbom_scan_dpkg(int root_fd, Sbom *s, size_t *skipped);
