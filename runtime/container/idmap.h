/* ID-mapped mounts for user-namespaced containers: a layer owned by host root is seen through a
 * detached, idmapped clone of its mount as owned by the container's uid range, so an image is shared
 * read-only between containers with different ranges and nothing is chowned or copied up. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* Every container gets a range of this many uids/gids: 0..65535 inside. */
#define IDMAP_RANGE_SIZE 65536U

/* A user namespace fd whose uid and gid maps are "0 shift IDMAP_RANGE_SIZE" (the namespace has no
 * process left; the fd keeps it alive).  shift must be > 0 and leave room for the whole range. */
int idmap_userns_new(uid_t shift, int *ret_fd);

/* A detached clone of the mount tree at dir, idmapped through userns_fd (O_CLOEXEC fd).  Its path for
 * APIs that want one is /proc/self/fd/FD. */
int idmap_clone_tree(const char *dir, int userns_fd, int *ret_fd);

/* True when the kernel and the file system holding dir support idmapped mounts. */
bool idmap_supported(const char *dir);
