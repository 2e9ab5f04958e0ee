/* libnl-route-3 glue.  Functions take a socket the caller opened in the namespace it means, or open one in
 * the caller's current namespace; nothing here switches namespaces, so the host/container split stays
 * visible in the callers. */
#include "netlink.h"

#include <errno.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/errno.h>
#include <netlink/route/nexthop.h>
#include <stdlib.h>
#include <string.h>

#include "ifname.h"
#include "string-util.h"
#include "strv.h"

int netlink_error_to_errno(int nlerr) {
        switch (abs(nlerr)) {
        case 0:
                return 0;
        case NLE_EXIST:
                return -EEXIST;
        case NLE_OBJ_NOTFOUND:
                return -ENOENT;
        case NLE_NODEV:
                return -ENODEV;
        case NLE_NOADDR:
                return -EADDRNOTAVAIL;
        case NLE_NOMEM:
                return -ENOMEM;
        case NLE_INVAL:
        case NLE_MSGTYPE_NOSUPPORT:
                return -EINVAL;
        case NLE_PERM:
                return -EPERM;
        case NLE_NOACCESS:
                return -EACCES;
        case NLE_BUSY:
                return -EBUSY;
        case NLE_AGAIN:
                return -EAGAIN;
        case NLE_INTR:
                return -EINTR;
        case NLE_RANGE:
                return -ERANGE;
        case NLE_OPNOTSUPP:
                return -EOPNOTSUPP;
        case NLE_AF_NOSUPPORT:
                return -EAFNOSUPPORT;
        case NLE_PROTO_MISMATCH:
                return -EPROTONOSUPPORT;
        case NLE_BAD_SOCK:
                return -EBADF;
        default:
                return -EIO;
        }
}

int netlink_open(struct nl_sock **ret) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        int r;

        sk = nl_socket_alloc();
        if (!sk)
                return -ENOMEM;
        r = nl_connect(sk, NETLINK_ROUTE);
        if (r < 0)
                return netlink_error_to_errno(r);
        *ret = TAKE_PTR(sk);
        return 0;
}

int netlink_link_get(struct nl_sock *sk, const char *ifname, struct rtnl_link **ret) {
        struct rtnl_link *link = NULL;
        int r;

        r = rtnl_link_get_kernel(sk, 0, ifname, &link);
        if (r < 0) {
                r = netlink_error_to_errno(r);
                return r == -ENOENT ? -ENODEV : r;
        }
        *ret = link;
        return 0;
}

int netlink_open_link(const char *ifname, const char *type, struct nl_sock **ret_sk,
                      struct rtnl_link **ret_link) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        _cleanup_(rtnl_link_putp) struct rtnl_link *link = NULL;
        int r;

        if (!net_ifname_valid(ifname))
                return -EINVAL;
        r = netlink_open(&sk);
        if (r < 0)
                return r;
        r = netlink_link_get(sk, ifname, &link);
        if (r < 0)
                return r;
        if (type && !netlink_link_is_type(link, type))
                return -EEXIST;
        if (ret_sk)
                *ret_sk = TAKE_PTR(sk);
        if (ret_link)
                *ret_link = TAKE_PTR(link);
        return 0;
}

bool netlink_link_is_type(struct rtnl_link *link, const char *type) {
        const char *kind = rtnl_link_get_type(link);

        return kind && streq(kind, type);
}

int netlink_link_set_up(struct nl_sock *sk, struct rtnl_link *link) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *change = NULL;
        int r;

        if (rtnl_link_get_flags(link) & IFF_UP)
                return 0;
        change = rtnl_link_alloc();
        if (!change)
                return -ENOMEM;
        rtnl_link_set_flags(change, IFF_UP);
        r = rtnl_link_change(sk, link, change, 0);
        return r < 0 ? netlink_error_to_errno(r) : 0;
}

int netlink_link_delete(struct nl_sock *sk, const char *ifname) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *link = NULL;
        int r;

        link = rtnl_link_alloc();
        if (!link)
                return -ENOMEM;
        rtnl_link_set_name(link, ifname);
        r = rtnl_link_delete(sk, link);
        if (r < 0) {
                r = netlink_error_to_errno(r);
                if (r == -ENODEV || r == -ENOENT)
                        return 0;
                return r;
        }
        return 1;
}

int netlink_typed_link_exists(const char *ifname, const char *type) {
        int r = netlink_open_link(ifname, type, NULL, NULL);

        if (r == -ENODEV)
                return 0;
        return r < 0 ? r : 1;
}

int netlink_typed_link_delete(const char *ifname, const char *type) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        int r;

        r = netlink_open_link(ifname, type, &sk, NULL);
        if (r == -ENODEV)
                return 0;
        if (r < 0)
                return r; /* -EEXIST: a link of another kind is never deleted */
        r = netlink_link_delete(sk, ifname);
        return r < 0 ? r : 0;
}

static int address_object(int ifindex, struct in_addr a, unsigned prefixlen, struct rtnl_addr **ret) {
        _cleanup_(rtnl_addr_putp) struct rtnl_addr *addr = NULL;
        _cleanup_(nl_addr_putp) struct nl_addr *local = NULL;
        int r;

        addr = rtnl_addr_alloc();
        local = nl_addr_build(AF_INET, &a, sizeof(a));
        if (!addr || !local)
                return -ENOMEM;
        nl_addr_set_prefixlen(local, (int) prefixlen);
        rtnl_addr_set_ifindex(addr, ifindex);
        rtnl_addr_set_family(addr, AF_INET);
        r = rtnl_addr_set_local(addr, local);
        if (r < 0)
                return netlink_error_to_errno(r);
        rtnl_addr_set_prefixlen(addr, (int) prefixlen);
        *ret = TAKE_PTR(addr);
        return 0;
}

int netlink_address_add(struct nl_sock *sk, int ifindex, struct in_addr a, unsigned prefixlen) {
        _cleanup_(rtnl_addr_putp) struct rtnl_addr *addr = NULL;
        int r;

        r = address_object(ifindex, a, prefixlen, &addr);
        if (r < 0)
                return r;
        /* NLM_F_REPLACE: re-adding the same address is a no-op, which keeps callers idempotent. */
        r = rtnl_addr_add(sk, addr, NLM_F_REPLACE);
        return r < 0 ? netlink_error_to_errno(r) : 0;
}

int netlink_address_remove(struct nl_sock *sk, int ifindex, struct in_addr a, unsigned prefixlen) {
        _cleanup_(rtnl_addr_putp) struct rtnl_addr *addr = NULL;
        int r;

        r = address_object(ifindex, a, prefixlen, &addr);
        if (r < 0)
                return r;
        r = rtnl_addr_delete(sk, addr, 0);
        if (r < 0) {
                r = netlink_error_to_errno(r);
                if (r == -EADDRNOTAVAIL || r == -ENOENT || r == -ENODEV)
                        return 0;
                return r;
        }
        return 1;
}

int netlink_address_list(struct nl_sock *sk, int ifindex, NetlinkAddress **ret, size_t *ret_n) {
        _cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;
        _cleanup_free_ NetlinkAddress *list = NULL;
        size_t n = 0, allocated;
        int r;

        r = rtnl_addr_alloc_cache(sk, &cache);
        if (r < 0)
                return netlink_error_to_errno(r);

        allocated = (size_t) nl_cache_nitems(cache) + 1;
        list = calloc(allocated, sizeof(NetlinkAddress));
        if (!list)
                return -ENOMEM;

        for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
                struct rtnl_addr *addr = (struct rtnl_addr *) o;
                struct nl_addr *local;

                if (rtnl_addr_get_family(addr) != AF_INET)
                        continue;
                if (ifindex > 0 && rtnl_addr_get_ifindex(addr) != ifindex)
                        continue;
                local = rtnl_addr_get_local(addr);
                if (!local || nl_addr_get_len(local) != sizeof(struct in_addr) || n >= allocated)
                        continue;
                memcpy(&list[n].address, nl_addr_get_binary_addr(local), sizeof(struct in_addr));
                list[n].prefixlen = (unsigned) rtnl_addr_get_prefixlen(addr);
                n++;
        }

        *ret = TAKE_PTR(list);
        *ret_n = n;
        return 0;
}

int netlink_address_prune(struct nl_sock *sk, int ifindex,
                          bool (*keep)(const NetlinkAddress *a, void *userdata), void *userdata) {
        _cleanup_free_ NetlinkAddress *addrs = NULL;
        size_t n = 0;
        int r;

        r = netlink_address_list(sk, ifindex, &addrs, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                if (keep(&addrs[i], userdata))
                        continue;
                r = netlink_address_remove(sk, ifindex, addrs[i].address, addrs[i].prefixlen);
                if (r < 0)
                        return r;
        }
        return 0;
}

int netlink_route_new(struct in_addr dst, unsigned prefixlen, uint8_t type, struct rtnl_route **ret) {
        _cleanup_(rtnl_route_putp) struct rtnl_route *route = NULL;
        _cleanup_(nl_addr_putp) struct nl_addr *a = NULL;
        int r;

        route = rtnl_route_alloc();
        a = nl_addr_build(AF_INET, &dst, sizeof(dst));
        if (!route || !a)
                return -ENOMEM;
        nl_addr_set_prefixlen(a, (int) prefixlen);
        rtnl_route_set_family(route, AF_INET);
        rtnl_route_set_table(route, RT_TABLE_MAIN);
        rtnl_route_set_scope(route, RT_SCOPE_UNIVERSE);
        rtnl_route_set_protocol(route, RTPROT_STATIC);
        rtnl_route_set_type(route, type);
        r = rtnl_route_set_dst(route, a);
        if (r < 0)
                return netlink_error_to_errno(r);
        *ret = TAKE_PTR(route);
        return 0;
}

int netlink_default_route_set(struct nl_sock *sk, int ifindex, struct in_addr gateway) {
        _cleanup_(rtnl_route_putp) struct rtnl_route *route = NULL;
        _cleanup_(nl_addr_putp) struct nl_addr *gw = NULL;
        struct rtnl_nexthop *nh;
        int r;

        r = netlink_route_new((struct in_addr) {}, 0, RTN_UNICAST, &route);
        if (r < 0)
                return r;
        gw = nl_addr_build(AF_INET, &gateway, sizeof(gateway));
        if (!gw)
                return -ENOMEM;

        nh = rtnl_route_nh_alloc();
        if (!nh)
                return -ENOMEM;
        rtnl_route_nh_set_ifindex(nh, ifindex);
        rtnl_route_nh_set_gateway(nh, gw);
        rtnl_route_add_nexthop(route, nh); /* the route owns nh from here on */

        r = rtnl_route_add(sk, route, NLM_F_REPLACE);
        return r < 0 ? netlink_error_to_errno(r) : 0;
}

int netlink_link_list(struct nl_sock *sk, const char *prefix, const char *type, char ***ret) {
        _cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;
        _cleanup_strv_free_ char **list = NULL;
        int r;

        r = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache);
        if (r < 0)
                return netlink_error_to_errno(r);
        list = strv_new_empty();
        if (!list)
                return -ENOMEM;
        for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
                struct rtnl_link *link = (struct rtnl_link *) o;
                const char *name = rtnl_link_get_name(link);

                if (!name || !startswith(name, prefix))
                        continue;
                if (type && !netlink_link_is_type(link, type))
                        continue;
                r = strv_extend(&list, name);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(list);
        return 0;
}

int netlink_typed_link_list(const char *prefix, const char *type, char ***ret) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        int r;

        r = netlink_open(&sk);
        if (r < 0)
                return r;
        return netlink_link_list(sk, prefix, type, ret);
}

char **net_name_list_free(char **l) {
        return strv_free(l);
}
