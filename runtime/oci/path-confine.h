/* Path confinement for layer unpacking: every name a layer gives is normalised here and resolved
 * with openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) against the target's dir fd, so symlinks
 * (absolute or relative) are followed as the container would see them and never leave the root. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* Names are normalised with path_normalize_relative() (path-util.h) before they get here. */

/* openat2(root_fd, path, flags, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS), retried on EAGAIN. */
int confine_open(int root_fd, const char *path, int flags, mode_t mode);

/* Opens the directory that holds the last component of the normalised relative path, creating
 * missing parents (mode 0755) inside the root.  Returns an O_RDONLY|O_DIRECTORY fd and the last
 * component (a pointer into path).  on_created(path-prefix) is called for each directory made. */
int confine_open_parent(int root_fd, const char *path,
                        void (*on_created)(const char *prefix, void *userdata), void *userdata, int *ret_fd,
                        const char **ret_name);

/* Removes dir_fd/name and, when it is a directory, everything below it.  Never follows symlinks.
 * ENOENT is not an error. */
int confine_rm_rf_at(int dir_fd, const char *name);

/* Removes the children of dir_fd for which keep(relative path) is false; recurses into kept
 * directories with the same rule.  prefix is the path of dir_fd inside the root ("" for it). */
int confine_prune_at(int dir_fd, const char *prefix, bool (*keep)(const char *path, void *userdata),
                     void *userdata);
