/* User and group names of an image, resolved from its own /etc/passwd and /etc/group (never the host's
 * NSS). Files are opened inside the image root (RESOLVE_IN_ROOT), so a symlinked /etc cannot lead out. */
#pragma once

#include <sys/types.h>

#define USER_DB_FILE_MAX (4U * 1024U * 1024U) /* bytes of /etc/passwd or /etc/group we read */

/* spec: "user", "user:group", "uid", "uid:gid" (names or numbers). A user without a group gets the primary
 * group from passwd (0 for a numeric uid that passwd does not list). root_fd may be -1 (no image files:
 * only numbers work). Returns -ENOENT with *ret_missing ("user"/"group") when a name is unknown. */
int user_db_resolve(int root_fd, const char *spec, uid_t *ret_uid, gid_t *ret_gid, const char **ret_missing);

/* Supplementary groups of user name (groups listing it as a member), at most n_max. Returns the count. */
int user_db_supplementary(int root_fd, const char *name, gid_t gid, gid_t *ret, size_t n_max);
