/* veth pairs between the host and an instance netns.  The inner end is created directly inside the
 * target namespace (IFLA_NET_NS_FD on the peer), named eth0 there, so it never exists on the host
 * under a temporary name; inner configuration runs in a helper thread that entered the namespace. */
#include "veth.h"

#include <errno.h>
#include <net/if.h>
#include <netlink/route/link/veth.h>
#include <string.h>

#include "ifname.h"
#include "netlink.h"
#include "netns.h"
#include "subnet-pool.h"

typedef struct InnerArgs {
        const NetVethConfig *config;
        int host_ifindex; /* the inner end's peer must be this host link */
} InnerArgs;

static bool is_own_address(const NetlinkAddress *a, void *userdata) {
        const NetlinkAddress *own = userdata;

        return a->address.s_addr == own->address.s_addr && a->prefixlen == own->prefixlen;
}

/* In the instance netns: lo and eth0 up, eth0 with exactly our address, the default route. */
static int inner_configure(void *userdata) {
        InnerArgs *a = userdata;
        const NetVethConfig *c = a->config;
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        _cleanup_(rtnl_link_putp) struct rtnl_link *lo = NULL, *eth = NULL;
        NetlinkAddress own = { c->address, c->prefixlen };
        int ifindex, r;

        r = netlink_open(&sk);
        if (r < 0)
                return r;
        r = netlink_link_get(sk, "lo", &lo);
        if (r < 0)
                return r;
        r = netlink_link_set_up(sk, lo);
        if (r < 0)
                return r;

        /* eth0 must be the peer of our host end: -ENODEV when there is no eth0, -ESTALE when it is
         * another link (the host end then leads into an older namespace). */
        r = netlink_link_get(sk, NET_VETH_INNER_IFNAME, &eth);
        if (r < 0)
                return r;
        if (!netlink_link_is_type(eth, "veth") || rtnl_link_get_link(eth) != a->host_ifindex)
                return -ESTALE;
        ifindex = rtnl_link_get_ifindex(eth);

        r = netlink_address_add(sk, ifindex, own.address, own.prefixlen);
        if (r < 0)
                return r;
        /* An instance has exactly one IPv4 address; drop any from an earlier configuration. */
        r = netlink_address_prune(sk, ifindex, is_own_address, &own);
        if (r < 0)
                return r;

        r = netlink_link_set_up(sk, eth);
        if (r < 0)
                return r;
        if (c->gateway.s_addr != INADDR_ANY) {
                r = netlink_default_route_set(sk, ifindex, c->gateway);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* eth0's MAC follows its IPv4 address (02:53:a:b:c:d, locally administered).  An instance that takes
 * over an address (a restart, a rebuilt netns) then answers with the MAC its neighbours have cached,
 * instead of being unreachable until their ARP entries go stale. */
static struct nl_addr *inner_mac(struct in_addr a) {
        uint8_t mac[6] = { 0x02, 0x53 };

        memcpy(mac + 2, &a.s_addr, 4);
        return nl_addr_build(AF_LLC, mac, sizeof(mac));
}

static int veth_create(struct nl_sock *sk, const NetVethConfig *c, int netns_fd) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *link = NULL, *peer = NULL;
        _cleanup_(nl_addr_putp) struct nl_addr *mac = NULL;
        int r;

        link = rtnl_link_veth_alloc();
        if (!link)
                return -ENOMEM;
        rtnl_link_set_name(link, c->host_ifname);
        peer = rtnl_link_veth_get_peer(link);
        if (!peer)
                return -ENOMEM;
        rtnl_link_set_name(peer, NET_VETH_INNER_IFNAME);
        rtnl_link_set_ns_fd(peer, netns_fd);
        mac = inner_mac(c->address);
        if (!mac)
                return -ENOMEM;
        rtnl_link_set_addr(peer, mac);

        r = rtnl_link_add(sk, link, NLM_F_CREATE | NLM_F_EXCL);
        return r < 0 ? netlink_error_to_errno(r) : 0;
}

static int host_attach(struct nl_sock *sk, const NetVethConfig *c, struct rtnl_link **ret) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *host = NULL, *bridge = NULL;
        int r;

        r = netlink_link_get(sk, c->bridge, &bridge);
        if (r < 0)
                return r;
        r = netlink_link_get(sk, c->host_ifname, &host);
        if (r < 0)
                return r;
        if (rtnl_link_get_master(host) != rtnl_link_get_ifindex(bridge)) {
                r = rtnl_link_enslave_ifindex(sk, rtnl_link_get_ifindex(bridge),
                                              rtnl_link_get_ifindex(host));
                if (r < 0)
                        return netlink_error_to_errno(r);
        }
        r = netlink_link_set_up(sk, host);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(host);
        return 0;
}

int net_veth_setup(const NetVethConfig *c) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        _cleanup_(rtnl_link_putp) struct rtnl_link *host = NULL;
        _cleanup_close_ int netns_fd = -EBADF;
        InnerArgs args = { .config = c };
        int r;

        if (!net_ifname_valid(c->host_ifname) || !net_ifname_valid(c->bridge) ||
            !netns_name_valid(c->netns) || c->prefixlen == 0 || c->prefixlen > 30 ||
            c->address.s_addr == INADDR_ANY)
                return -EINVAL;

        netns_fd = netns_open(c->netns);
        if (netns_fd < 0)
                return netns_fd;
        r = netlink_open(&sk);
        if (r < 0)
                return r;

        r = netlink_link_get(sk, c->host_ifname, &host);
        if (r >= 0) {
                if (!netlink_link_is_type(host, "veth"))
                        return -EEXIST; /* not ours: never delete someone else's link */

                /* Converge the existing pair; the helper refuses (-ENODEV/-ESTALE) when the inner end is
                 * not eth0 of this namespace, e.g. the namespace was recreated: then rebuild the pair. */
                rtnl_link_put(TAKE_PTR(host));
                r = host_attach(sk, c, &host);
                if (r < 0)
                        return r;
                args.host_ifindex = rtnl_link_get_ifindex(host);
                r = netns_run(c->netns, inner_configure, &args);
                if (r != -ENODEV && r != -ESTALE)
                        return r;
                r = netlink_link_delete(sk, c->host_ifname);
                if (r < 0)
                        return r;
        } else if (r != -ENODEV)
                return r;

        r = veth_create(sk, c, netns_fd);
        if (r < 0)
                return r;
        rtnl_link_put(TAKE_PTR(host));
        r = host_attach(sk, c, &host);
        if (r < 0)
                return r;
        args.host_ifindex = rtnl_link_get_ifindex(host);
        return netns_run(c->netns, inner_configure, &args);
}

int net_veth_delete(const char *host_ifname) {
        return netlink_typed_link_delete(host_ifname, "veth");
}

int net_veth_list(const char *prefix, char ***ret) {
        return netlink_typed_link_list(prefix, "veth", ret);
}
