/* ID-mapped mount helpers and host uid range claims.  The user namespace used for the mapping is created
 * by a short-lived child (a threaded process cannot unshare CLONE_NEWUSER itself); only its namespace fd
 * outlives it.  A range is a host claim (host-claims.h) named by its first uid, so two claimers never get
 * the same one. */
#include "idmap.h"

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <linux/mount.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs-util.h"
#include "host-claims.h"
#include "macro.h"
#include "process.h"
#include "string-util.h"

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

bool idmap_shift_valid(uid_t shift) {
        return shift >= IDMAP_RANGE_BASE && (shift - IDMAP_RANGE_BASE) % IDMAP_RANGE_SIZE == 0 &&
               (shift - IDMAP_RANGE_BASE) / IDMAP_RANGE_SIZE < IDMAP_RANGE_SLOTS;
}

static uid_t slot_shift(uint32_t slot) {
        return IDMAP_RANGE_BASE + slot * IDMAP_RANGE_SIZE;
}

/* 1 when owner now holds slot, 0 when somebody else does. */
static int claim_try(int dfd, uint32_t slot, const char *owner) {
        char name[16];

        snprintf(name, sizeof(name), "%u", (unsigned) slot_shift(slot));
        return host_claim_take(dfd, name, owner);
}

/* The first uid of the range owner holds (scanning the claims, not all slots), 0 when none. */
static int find_owned(int dfd, const char *owner, uid_t *ret_shift) {
        _cleanup_(host_claims_list_freep) char **mine = NULL;
        int r;

        r = host_claims_list(dfd, owner, HOST_CLAIMS_MINE, &mine);
        if (r < 0)
                return r;
        for (char **p = mine; *p; p++) {
                char *end;
                unsigned long v;

                errno = 0;
                v = strtoul(*p, &end, 10);
                if (errno != 0 || *end || end == *p || v > UINT32_MAX || !idmap_shift_valid((uid_t) v))
                        continue;
                *ret_shift = (uid_t) v;
                return 1;
        }
        *ret_shift = 0;
        return 0;
}

int idmap_range_claim(const char *claims_dir, const char *owner, uid_t preferred, uid_t *ret_shift) {
        _cleanup_close_ int dfd = -EBADF;
        uint32_t h = 2166136261U, start;
        uid_t held;
        int r;

        if (!claims_dir || !owner || owner[0] != '/' || strlen(owner) >= PATH_MAX)
                return -EINVAL;
        dfd = host_claims_lock(claims_dir);
        if (dfd < 0)
                return dfd;

        /* Already ours?  (A restart of the same instance must keep its range: its upper is owned by it.) */
        r = find_owned(dfd, owner, &held);
        if (r < 0)
                return r;
        if (r > 0) {
                *ret_shift = held;
                return 0;
        }
        if (preferred != 0 && idmap_shift_valid(preferred)) {
                r = claim_try(dfd, (preferred - IDMAP_RANGE_BASE) / IDMAP_RANGE_SIZE, owner);
                if (r < 0)
                        return r;
                if (r > 0) {
                        *ret_shift = preferred;
                        return 0;
                }
        }
        /* FNV-1a of the owner: distinct owners mostly start at distinct slots, so the walk is short. */
        for (const char *p = owner; *p; p++)
                h = (h ^ (uint8_t) *p) * 16777619U;
        start = h % IDMAP_RANGE_SLOTS;
        for (uint32_t i = 0; i < IDMAP_RANGE_SLOTS; i++) {
                uint32_t slot = (start + i) % IDMAP_RANGE_SLOTS;

                r = claim_try(dfd, slot, owner);
                if (r < 0)
                        return r;
                if (r > 0) {
                        *ret_shift = slot_shift(slot);
                        return 0;
                }
        }
        return -ENOSPC;
}

int idmap_range_release(const char *claims_dir, const char *owner) {
        _cleanup_close_ int dfd = -EBADF;
        char name[16];
        uid_t held;
        int r;

        if (!claims_dir || !owner)
                return -EINVAL;
        if (access(claims_dir, F_OK) < 0)
                return errno == ENOENT ? 0 : -errno;
        dfd = host_claims_lock(claims_dir);
        if (dfd < 0)
                return dfd;
        r = find_owned(dfd, owner, &held);
        if (r <= 0)
                return r;
        snprintf(name, sizeof(name), "%u", (unsigned) held);
        if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

static uid_t shift_from, shift_to;

static int shift_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        uid_t uid = st->st_uid, gid = st->st_gid;

        if (uid >= shift_from && uid - shift_from < IDMAP_RANGE_SIZE)
                uid = shift_to + (uid - shift_from);
        if (gid >= shift_from && gid - shift_from < IDMAP_RANGE_SIZE)
                gid = shift_to + (gid - shift_from);
        if ((uid != st->st_uid || gid != st->st_gid) && lchown(path, uid, gid) < 0)
                return -errno;
        /* lchown drops set-id bits; a container's setuid file stays setuid. */
        if (type == FTW_F && (st->st_mode & (S_ISUID | S_ISGID)) && chmod(path, st->st_mode & 07777) < 0)
                return -errno;
        return 0;
}

int idmap_shift_tree(const char *dir, uid_t from, uid_t to) {
        static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
        int r;

        if (!dir || from == to)
                return 0;
        /* nftw has no userdata: the two bounds are globals, guarded. */
        pthread_mutex_lock(&lock);
        shift_from = from;
        shift_to = to;
        r = nftw(dir, shift_one, 16, FTW_PHYS | FTW_MOUNT);
        pthread_mutex_unlock(&lock);
        if (r < 0)
                return -errno;
        return r > 0 ? -EIO : r;
}
