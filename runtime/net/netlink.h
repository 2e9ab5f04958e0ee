/* Thin helpers over libnl-route-3 for the rest of runtime/net: one socket per operation (so the
 * socket lives in the network namespace the caller is in), libnl errors mapped to -errno once here. */
#pragma once

#include <netinet/in.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct nl_sock *, nl_socket_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct rtnl_link *, rtnl_link_put);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct rtnl_addr *, rtnl_addr_put);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct rtnl_route *, rtnl_route_put);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nl_addr *, nl_addr_put);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nl_cache *, nl_cache_free);

/* libnl's negative NLE_* code → negative errno. */
int netlink_error_to_errno(int nlerr);

/* A connected NETLINK_ROUTE socket in the caller's current network namespace. */
int netlink_open(struct nl_sock **ret);

/* The link called ifname, fresh from the kernel; -ENODEV when there is none. */
int netlink_link_get(struct nl_sock *sk, const char *ifname, struct rtnl_link **ret);
/* Validates ifname, opens a socket and fetches the link: -EINVAL for a bad name, -ENODEV when there is
 * no such link, -EEXIST when type is given and the link is of another kind.  The out-parameters (either
 * may be NULL) are written on success only. */
int netlink_open_link(const char *ifname, const char *type, struct nl_sock **ret_sk,
                      struct rtnl_link **ret_link);
/* Whether link is of kind type ("veth", "bridge"). */
bool netlink_link_is_type(struct rtnl_link *link, const char *type);
/* Sets IFF_UP on a link when it is not up yet. */
int netlink_link_set_up(struct nl_sock *sk, struct rtnl_link *link);
/* Deletes a link by name; returns 1 when it was deleted, 0 when it did not exist. */
int netlink_link_delete(struct nl_sock *sk, const char *ifname);

/* For the modules that own one kind of link ("bridge", "veth"), each on a socket of its own.  Exists: > 0
 * when a link of kind type is called ifname, 0 when no link is, -EEXIST when a link of another kind is.
 * Delete: 0 also when there was no such link; -EEXIST (nothing deleted) for a link of another kind.
 * List: names of the links of kind type starting with prefix, as netlink_link_list(). */
int netlink_typed_link_exists(const char *ifname, const char *type);
int netlink_typed_link_delete(const char *ifname, const char *type);
int netlink_typed_link_list(const char *prefix, const char *type, char ***ret);

/* Adds (or refreshes) address/prefixlen on ifindex; an existing identical address is fine. */
int netlink_address_add(struct nl_sock *sk, int ifindex, struct in_addr a, unsigned prefixlen);
/* Removes address/prefixlen from ifindex; returns 1 when removed, 0 when it was not there. */
int netlink_address_remove(struct nl_sock *sk, int ifindex, struct in_addr a, unsigned prefixlen);

typedef struct NetlinkAddress {
        struct in_addr address;
        unsigned prefixlen;
} NetlinkAddress;
/* All IPv4 addresses of ifindex (0: of every link). */
int netlink_address_list(struct nl_sock *sk, int ifindex, NetlinkAddress **ret, size_t *ret_n);
/* Removes every IPv4 address of ifindex for which keep(address, userdata) is false. */
int netlink_address_prune(struct nl_sock *sk, int ifindex,
                          bool (*keep)(const NetlinkAddress *a, void *userdata), void *userdata);

/* A main-table, static, universe-scope IPv4 route object of the given type (RTN_UNICAST, RTN_UNREACHABLE)
 * to dst/prefixlen, without nexthops. */
int netlink_route_new(struct in_addr dst, unsigned prefixlen, uint8_t type, struct rtnl_route **ret);

/* Adds or replaces the IPv4 default route via gateway on ifindex in the main table. */
int netlink_default_route_set(struct nl_sock *sk, int ifindex, struct in_addr gateway);

/* Names of the links whose name starts with prefix and whose kind is type ("bridge", "veth"; NULL: any),
 * as a NULL-terminated array of strings (free each, then the array). */
int netlink_link_list(struct nl_sock *sk, const char *prefix, const char *type, char ***ret);

/* Frees a list from netlink_link_list(), net_bridge_list(), net_veth_list() or netns_list(). */
char **net_name_list_free(char **l);
static inline void net_name_list_freep(char ***l) {
        net_name_list_free(*l);
}
