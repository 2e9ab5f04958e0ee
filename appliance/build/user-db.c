/* User and group lookups in an image's /etc/passwd and /etc/group, read inside the image root.
 * Invariant: nothing outside root_fd is read; the host's user database is never consulted. */
#include "user-db.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs-util.h"
#include "macro.h"

static int read_in_root(int root_fd, const char *path, char **ret) {
        struct open_how how = { .flags = O_RDONLY | O_CLOEXEC,
                                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
        _cleanup_close_ int fd = -EBADF;

        if (root_fd < 0)
                return -ENOENT;
        fd = (int) syscall(SYS_openat2, root_fd, path, &how, sizeof how);
        if (fd < 0)
                return -errno;
        /* Reopen through the fd: the file resolved inside the root, never a path outside it. */
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        return read_full_file_at(AT_FDCWD, proc, USER_DB_FILE_MAX, ret, NULL);
}

static bool parse_id(const char *s, unsigned long *ret) {
        char *end;
        unsigned long v;

        if (isempty(s) || s[0] == '-' || s[0] == '+')
                return false;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno != 0 || *end || v >= 0xFFFFFFFFUL)
                return false;
        *ret = v;
        return true;
}

/* Finds the line whose field key_field equals key; splits it into fields (modifies data). */
static bool find_entry(char *data, const char *key, size_t key_field, char **fields, size_t n_fields) {
        char *save = NULL;

        for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                size_t n = 0;
                char *p = line;

                if (line[0] == '#')
                        continue;
                while (n < n_fields) {
                        fields[n++] = p;
                        p = strchr(p, ':');
                        if (!p)
                                break;
                        *p++ = '\0';
                }
                if (n < n_fields)
                        continue;
                if (streq(fields[key_field], key))
                        return true;
        }
        return false;
}

static int lookup_group(int root_fd, const char *name, gid_t *ret) {
        _cleanup_free_ char *data = NULL;
        char *f[4];
        unsigned long v;

        if (read_in_root(root_fd, "etc/group", &data) < 0)
                return -ENOENT;
        if (!find_entry(data, name, 0, f, 3) || !parse_id(f[2], &v))
                return -ENOENT;
        *ret = (gid_t) v;
        return 0;
}

int user_db_resolve(int root_fd, const char *spec, uid_t *ret_uid, gid_t *ret_gid,
                    const char **ret_missing) {
        _cleanup_free_ char *copy = strdup(spec ?: ""), *data = NULL;
        char *user, *group, *f[7];
        unsigned long v;
        uid_t uid;
        gid_t gid = 0;
        bool found;

        if (!copy)
                return -ENOMEM;
        user = copy;
        group = strchr(copy, ':');
        if (group)
                *group++ = '\0';
        if (isempty(user))
                user = (char *) "0";

        (void) read_in_root(root_fd, "etc/passwd", &data);
        if (parse_id(user, &v)) {
                uid = (uid_t) v;
                found = data && find_entry(data, user, 2, f, 7);
        } else {
                found = data && find_entry(data, user, 0, f, 7);
                if (!found || !parse_id(f[2], &v)) {
                        if (ret_missing)
                                *ret_missing = "user";
                        return -ENOENT;
                }
                uid = (uid_t) v;
        }
        if (found && parse_id(f[3], &v))
                gid = (gid_t) v;

        if (!isempty(group)) {
                if (parse_id(group, &v))
                        gid = (gid_t) v;
                else if (lookup_group(root_fd, group, &gid) < 0) {
                        if (ret_missing)
                                *ret_missing = "group";
                        return -ENOENT;
                }
        }
        *ret_uid = uid;
        *ret_gid = gid;
        return 0;
}

int user_db_supplementary(int root_fd, const char *name, gid_t gid, gid_t *ret, size_t n_max) {
        _cleanup_free_ char *data = NULL;
        char *save = NULL;
        size_t n = 0;

        if (read_in_root(root_fd, "etc/group", &data) < 0)
                return 0;
        for (char *line = strtok_r(data, "\n", &save); line && n < n_max;
             line = strtok_r(NULL, "\n", &save)) {
                char *f[4], *p = line, *save2 = NULL;
                size_t k = 0;
                unsigned long v;

                while (k < 4) {
                        f[k++] = p;
                        p = strchr(p, ':');
                        if (!p)
                                break;
                        *p++ = '\0';
                }
                if (k < 4 || !parse_id(f[2], &v) || (gid_t) v == gid)
                        continue;
                for (char *m = strtok_r(f[3], ",", &save2); m; m = strtok_r(NULL, ",", &save2))
                        if (streq(m, name)) {
                                ret[n++] = (gid_t) v;
                                break;
                        }
        }
        return (int) n;
}
