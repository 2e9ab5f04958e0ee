/* Named network namespaces, compatible with iproute2: NAME lives as a bind mount of an nsfs inode at
 * /run/netns/NAME, so `ip netns exec NAME …` and `systemd-nspawn --network-namespace-path=` see it. */
#pragma once

#include <stdbool.h>

#define NETNS_RUN_DIR "/run/netns"
#define NETNS_NAME_MAX 64

/* 1..NETNS_NAME_MAX characters of [A-Za-z0-9_.-], not "." or "..". */
bool netns_name_valid(const char *name);

/* Creates the namespace unless it exists already (a stale, unmounted file is replaced).
 * Returns 1 when created, 0 when it was already there. */
int netns_create(const char *name);
/* Unmounts and unlinks; 0 also when it did not exist.  The kernel frees the namespace (and the veth
 * ends inside it) once no process holds it any more. */
int netns_delete(const char *name);
/* > 0 when /run/netns/NAME is a live namespace mount, 0 when not. */
int netns_exists(const char *name);

/* O_RDONLY|O_CLOEXEC fd of the namespace, for setns() or IFLA_NET_NS_FD. */
int netns_open(const char *name);
/* setns(fd, CLONE_NEWNET) for the calling thread. */
int netns_enter(int fd);

/* Runs fn(userdata) in a new thread that entered namespace `name` first, waits for it and returns
 * fn's result.  Only that thread changes namespace (it exits afterwards), so the caller's threads and
 * sockets stay where they are.  fn must not fork or start threads; sockets it opens live in `name`. */
int netns_run(const char *name, int (*fn)(void *userdata), void *userdata);

/* Names under /run/netns starting with prefix that are live namespaces (NULL-terminated array; free each,
 * then the array); an absent /run/netns gives an empty list. */
int netns_list(const char *prefix, char ***ret);
