/* apk's database of an Alpine image: lib/apk/db/installed, one record per package. */
#pragma once

#include <stddef.h>

#include "sbom.h"

/* Reads lib/apk/db/installed, adding to *skipped the records (or the file) that could not be used.
 * -ENOMEM and -E2BIG only; a missing database is not an error. */
int sbom_scan_apk(int root_fd, Sbom *s, size_t *skipped);
