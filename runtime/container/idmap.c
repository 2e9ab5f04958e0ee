/* ID-mapped mount helpers.  The user namespace used for the mapping is created by a short-lived
 * child (a threaded process cannot unshare CLONE_NEWUSER itself); only its namespace fd outlives it. */
#include "idmap.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "process.h"

typedef struct Pipes {
        int go[2];    /* parent → child: EOF means "done, you may exit" */
        int ready[2]; /* child → parent: one byte once unshared */
} Pipes;

static int child_unshare(void *userdata) {
        Pipes *p = userdata;
        char c = 0;

        /* Drop our copies of the parent's ends, or the EOF we wait for never comes. */
        safe_close(p->go[1]);
        safe_close(p->ready[0]);
        if (unshare(CLONE_NEWUSER) < 0)
                return 1;
        if (write(p->ready[1], "r", 1) != 1)
                return 1;
        /* Stay until the parent holds the namespace fd (EOF when it closes its end). */
        (void) !read(p->go[0], &c, 1);
        return 0;
}

static int write_map(pid_t pid, const char *file, uid_t shift) {
        _cleanup_close_ int fd = -EBADF;
        char path[64], map[64];

        snprintf(path, sizeof(path), "/proc/%d/%s", (int) pid, file);
        snprintf(map, sizeof(map), "0 %u %u\n", (unsigned) shift, IDMAP_RANGE_SIZE);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        /* The kernel takes a map in one write() only. */
        ssize_t n = write(fd, map, strlen(map));
        if (n < 0)
                return -errno;
        return n == (ssize_t) strlen(map) ? 0 : -EIO;
}

int idmap_userns_new(uid_t shift, int *ret_fd) {
        Pipes pp = { { -EBADF, -EBADF }, { -EBADF, -EBADF } };
        int *go = pp.go, *ready = pp.ready, fd = -EBADF, r;
        char path[64], c;
        pid_t pid;

        if (shift == 0 || (uint64_t) shift + IDMAP_RANGE_SIZE > (uint64_t) UINT32_MAX)
                return -EINVAL;
        if (pipe2(go, O_CLOEXEC) < 0)
                return -errno;
        if (pipe2(ready, O_CLOEXEC) < 0) {
                r = -errno;
                goto finish;
        }
        pid = fork_function(child_unshare, &pp);
        if (pid < 0) {
                r = pid;
                goto finish;
        }
        ready[1] = safe_close(ready[1]);
        go[0] = safe_close(go[0]);
        if (read(ready[0], &c, 1) != 1) {
                r = -EPROTO;
                goto reap;
        }
        r = write_map(pid, "uid_map", shift);
        if (r >= 0)
                r = write_map(pid, "gid_map", shift);
        if (r >= 0) {
                snprintf(path, sizeof(path), "/proc/%d/ns/user", (int) pid);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        r = -errno;
        }
reap:
        go[1] = safe_close(go[1]); /* lets the child go */
        (void) wait_for_pid(pid, NULL);
finish:
        safe_close(go[0]);
        safe_close(go[1]);
        safe_close(ready[0]);
        safe_close(ready[1]);
        if (r < 0) {
                safe_close(fd);
                return r;
        }
        *ret_fd = fd;
        return 0;
}

int idmap_clone_tree(const char *dir, int userns_fd, int *ret_fd) {
        struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t) userns_fd };
        _cleanup_close_ int fd = -EBADF;

        fd = (int) syscall(SYS_open_tree, AT_FDCWD, dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
                return -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

bool idmap_supported(const char *dir) {
        _cleanup_close_ int ns = -EBADF, tree = -EBADF;

        if (idmap_userns_new(IDMAP_RANGE_SIZE, &ns) < 0)
                return false;
        return idmap_clone_tree(dir, ns, &tree) >= 0;
}
