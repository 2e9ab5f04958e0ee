/* Named network namespaces the iproute2 way: /run/netns is a shared mount point and each namespace is
 * a bind mount of a helper thread's /proc/thread-self/ns/net onto an empty file.  A name exists iff that file is an
 * nsfs mount, which makes create/delete idempotent and lets a crash half-way be repaired on re-run. */
#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "fs-util.h"
#include "ifname.h"
#include "macro.h"
#include "string-util.h"
#include "strv.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

bool netns_name_valid(const char *name) {
        return net_name_valid(name, NETNS_NAME_MAX);
}

/* "/run/netns/" + a valid name + NUL. */
#define NETNS_PATH_MAX (sizeof(NETNS_RUN_DIR "/") + NETNS_NAME_MAX)

/* Formats the namespace's path into buf and returns it; NULL for an invalid name. */
static const char *netns_path(const char *name, char buf[static NETNS_PATH_MAX]) {
        if (!netns_name_valid(name))
                return NULL;
        (void) snprintf(buf, NETNS_PATH_MAX, "%s/%s", NETNS_RUN_DIR, name);
        return buf;
}

static int path_is_nsfs(const char *path) {
        struct statfs sfs;

        if (statfs(path, &sfs) < 0)
                return errno == ENOENT ? 0 : -errno;
        return sfs.f_type == (typeof(sfs.f_type)) NSFS_MAGIC;
}

int netns_exists(const char *name) {
        char buf[NETNS_PATH_MAX];
        const char *path = netns_path(name, buf);

        if (!path)
                return -EINVAL;
        return path_is_nsfs(path);
}

static int run_dir_setup(void) {
        int r;

        r = mkdir_p(NETNS_RUN_DIR, 0755);
        if (r < 0)
                return r;
        /* Shared propagation, so namespace mounts made later reach mount namespaces cloned from ours
         * (and unmounts too).  The first time, the directory is not a mount point yet: bind it onto
         * itself, then retry — exactly what iproute2 does. */
        if (mount("", NETNS_RUN_DIR, "none", MS_SHARED | MS_REC, NULL) >= 0)
                return 0;
        if (errno != EINVAL)
                return -errno;
        if (mount(NETNS_RUN_DIR, NETNS_RUN_DIR, "none", MS_BIND | MS_REC, NULL) < 0)
                return -errno;
        if (mount("", NETNS_RUN_DIR, "none", MS_SHARED | MS_REC, NULL) < 0)
                return -errno;
        return 0;
}

/* Work in another network namespace happens in a short-lived thread: setns()/unshare(CLONE_NEWNET)
 * change only the calling thread, which exits right after, so no other thread or socket of the caller
 * ever changes namespace.  A thread rather than a fork because fork is slow in a large daemon (≈10 ms
 * here even for a small process) and unsafe for libnl's internal locks in a multi-threaded one. */
typedef struct NetnsThread {
        int fd;              /* namespace to enter, or -EBADF to unshare a new one */
        const char *bind_to; /* with fd < 0: where to bind-mount the new namespace */
        int (*fn)(void *userdata);
        void *userdata;
        int result;
} NetnsThread;

static void *netns_thread_main(void *p) {
        NetnsThread *t = p;

        if (t->fd >= 0) {
                t->result = netns_enter(t->fd);
                if (t->result >= 0 && t->fn)
                        t->result = t->fn(t->userdata);
                return NULL;
        }
        if (unshare(CLONE_NEWNET) < 0) {
                t->result = -errno;
                return NULL;
        }
        t->result = mount("/proc/thread-self/ns/net", t->bind_to, "none", MS_BIND, NULL) < 0 ? -errno : 0;
        return NULL;
}

static int netns_thread_run(NetnsThread *t) {
        pthread_t thread;
        int r;

        r = pthread_create(&thread, NULL, netns_thread_main, t);
        if (r != 0)
                return -r;
        r = pthread_join(thread, NULL);
        if (r != 0)
                return -r;
        return t->result;
}

int netns_create(const char *name) {
        char buf[NETNS_PATH_MAX];
        const char *path = netns_path(name, buf);
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (!path)
                return -EINVAL;
        r = run_dir_setup();
        if (r < 0)
                return r;

        r = path_is_nsfs(path);
        if (r < 0)
                return r;
        if (r > 0)
                return 0;

        /* A leftover plain file (crash between create and mount) is replaced. */
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        fd = safe_close(fd);

        r = netns_thread_run(&(NetnsThread) { .fd = -EBADF, .bind_to = path });
        if (r < 0) {
                (void) umount2(path, MNT_DETACH);
                (void) unlink(path);
                return r;
        }
        return 1;
}

int netns_delete(const char *name) {
        char buf[NETNS_PATH_MAX];
        const char *path = netns_path(name, buf);

        if (!path)
                return -EINVAL;
        if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
                return -errno;
        if (unlink(path) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

int netns_open(const char *name) {
        char buf[NETNS_PATH_MAX];
        const char *path = netns_path(name, buf);
        int fd, r;

        if (!path)
                return -EINVAL;
        r = path_is_nsfs(path);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return fd;
}

int netns_enter(int fd) {
        if (setns(fd, CLONE_NEWNET) < 0)
                return -errno;
        return 0;
}

int netns_run(const char *name, int (*fn)(void *userdata), void *userdata) {
        _cleanup_close_ int fd = -EBADF;

        fd = netns_open(name);
        if (fd < 0)
                return fd;
        return netns_thread_run(&(NetnsThread) { .fd = fd, .fn = fn, .userdata = userdata });
}

int netns_list(const char *prefix, char ***ret) {
        _cleanup_strv_free_ char **list = NULL;
        _cleanup_(closedirp) DIR *d = NULL;
        int r;

        list = strv_new_empty();
        if (!list)
                return -ENOMEM;
        d = opendir(NETNS_RUN_DIR);
        if (!d && errno != ENOENT)
                return -errno;
        for (struct dirent *de; d && (de = readdir(d));) {
                if (!startswith(de->d_name, prefix) || !netns_name_valid(de->d_name))
                        continue;
                if (netns_exists(de->d_name) <= 0)
                        continue;
                r = strv_extend(&list, de->d_name);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(list);
        return 0;
}
