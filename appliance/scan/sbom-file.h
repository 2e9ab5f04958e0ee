/* Bounded reads of an image's files for the SBOM scanner.  A path is resolved below the image root with
 * confine_open() (openat2 RESOLVE_IN_ROOT), so no symlink in it leads out of the root. */
#pragma once

#include "sbom.h"

#include <stddef.h>

/* Reads the regular file fd up to max bytes (NUL-terminated): -EFBIG beyond max, -EBADFD when fd is not a
 * regular file. */
int sbom_read_fd(int fd, size_t max, char **ret_data, size_t *ret_size);
/* confine_open(root_fd, path), then sbom_read_fd(). */
int sbom_read_in_root(int root_fd, const char *path, size_t max, char **ret_data, size_t *ret_size);
/* One package database below root_fd read (at most SBOM_DB_FILE_MAX) and given to parse: absent is
 * nothing, unreadable counts one in *skipped, and the parser's own skipped entries are added. */
int sbom_read_and_parse(int root_fd, Sbom *s, const char *path,
                        int (*parse)(Sbom *s, const char *data, size_t size, const char *path),
                        size_t *skipped);
