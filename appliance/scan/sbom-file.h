/* Bounded reads of an image's files for the SBOM scanner.  A path is resolved below the image root with
 * confine_open() (openat2 RESOLVE_IN_ROOT), so no symlink in it leads out of the root. */
#pragma once

#include <stddef.h>

/* Reads the regular file fd up to max bytes (NUL-terminated): -EFBIG beyond max, -EBADFD when fd is not a
 * regular file. */
int sbom_read_fd(int fd, size_t max, char **ret_data, size_t *ret_size);
/* confine_open(root_fd, path), then sbom_read_fd(). */
int sbom_read_in_root(int root_fd, const char *path, size_t max, char **ret_data, size_t *ret_size);
