/* Service addresses on bridges.  They are /32 so that the kernel treats each as a primary address:
 * a /24 in the same subnet would become a secondary of .1/24 and vanish with it. */
#include "address.h"

#include <errno.h>
#include <stdlib.h>

#include "ifname.h"
#include "netlink.h"

static int open_bridge(const char *bridge, struct nl_sock **ret_sk, int *ret_ifindex) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        _cleanup_(rtnl_link_putp) struct rtnl_link *link = NULL;
        int r;

        r = netlink_open_link(bridge, NULL, &sk, &link);
        if (r < 0)
                return r;
        *ret_ifindex = rtnl_link_get_ifindex(link);
        *ret_sk = TAKE_PTR(sk);
        return 0;
}

int net_service_address_add(const char *bridge, struct in_addr a) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        int ifindex = 0, r;

        if (a.s_addr == INADDR_ANY)
                return -EINVAL;
        r = open_bridge(bridge, &sk, &ifindex);
        if (r < 0)
                return r;
        return netlink_address_add(sk, ifindex, a, 32);
}

int net_service_address_remove(const char *bridge, struct in_addr a) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        int ifindex = 0, r;

        r = open_bridge(bridge, &sk, &ifindex);
        if (r == -ENODEV)
                return 0;
        if (r < 0)
                return r;
        r = netlink_address_remove(sk, ifindex, a, 32);
        return r < 0 ? r : 0;
}

typedef struct WantedAddresses {
        const struct in_addr *addrs;
        size_t n;
} WantedAddresses;

/* The bridge's own .1/prefixlen is not a service address; of the /32s, only the wanted ones stay. */
static bool is_wanted_address(const NetlinkAddress *a, void *userdata) {
        const WantedAddresses *w = userdata;

        if (a->prefixlen != 32)
                return true;
        for (size_t i = 0; i < w->n; i++)
                if (w->addrs[i].s_addr == a->address.s_addr)
                        return true;
        return false;
}

int net_service_addresses_sync(const char *bridge, const struct in_addr *addrs, size_t n) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        int ifindex = 0, r;

        for (size_t i = 0; i < n; i++)
                if (addrs[i].s_addr == INADDR_ANY)
                        return -EINVAL;
        r = open_bridge(bridge, &sk, &ifindex);
        if (r < 0)
                return r;

        for (size_t i = 0; i < n; i++) {
                r = netlink_address_add(sk, ifindex, addrs[i], 32);
                if (r < 0)
                        return r;
        }
        return netlink_address_prune(sk, ifindex, is_wanted_address, &(WantedAddresses) { addrs, n });
}

int net_host_subnets(NetSubnet **ret, size_t *ret_n) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        _cleanup_free_ NetlinkAddress *addrs = NULL;
        _cleanup_free_ NetSubnet *subnets = NULL;
        size_t n = 0;
        int r;

        r = netlink_open(&sk);
        if (r < 0)
                return r;
        r = netlink_address_list(sk, 0, &addrs, &n);
        if (r < 0)
                return r;
        subnets = calloc(n + 1, sizeof(NetSubnet));
        if (!subnets)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                unsigned p = MIN(addrs[i].prefixlen, 32U);

                subnets[i].prefixlen = p;
                subnets[i].address.s_addr = htonl(ntohl(addrs[i].address.s_addr) & net_prefix_mask(p));
        }
        *ret = TAKE_PTR(subnets);
        *ret_n = n;
        return 0;
}
