/* Bridges via libnl.  The MAC is pinned because a bridge otherwise takes the lowest MAC of its ports,
 * which changes when instances come and go and leaves stale ARP entries for .1 in containers. */
#include "bridge.h"

#include <errno.h>
#include <net/if.h>
#include <netlink/route/link/bridge.h>
#include <string.h>

#include "digest.h"
#include "ifname.h"
#include "netlink.h"

static int bridge_get(struct nl_sock *sk, const char *name, struct rtnl_link **ret) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *link = NULL;
        int r;

        r = netlink_link_get(sk, name, &link);
        if (r < 0)
                return r;
        if (!rtnl_link_is_bridge(link))
                return -EEXIST;
        *ret = TAKE_PTR(link);
        return 0;
}

int net_bridge_exists(const char *name) {
        return netlink_typed_link_exists(name, "bridge");
}

static void bridge_mac(const char *name, uint8_t mac[static 6]) {
        uint8_t h[crypto_hash_sha256_BYTES];

        crypto_hash_sha256(h, (const unsigned char *) name, strlen(name));
        memcpy(mac, h, 6);
        mac[0] = (uint8_t) ((mac[0] & 0xfe) | 0x02); /* unicast, locally administered */
}

/* Service addresses are /32s and managed separately; any other address than .1/prefixlen is left over from
 * a different subnet and would make the bridge answer for it. */
static bool bridge_keeps_address(const NetlinkAddress *a, void *userdata) {
        const NetlinkAddress *own = userdata;

        return a->prefixlen == 32 ||
               (a->address.s_addr == own->address.s_addr && a->prefixlen == own->prefixlen);
}

static int bridge_sync_addresses(struct nl_sock *sk, int ifindex, const NetSubnet *subnet) {
        NetlinkAddress own = { net_subnet_host_address(subnet), subnet->prefixlen };
        int r;

        r = netlink_address_add(sk, ifindex, own.address, own.prefixlen);
        if (r < 0)
                return r;
        return netlink_address_prune(sk, ifindex, bridge_keeps_address, &own);
}

int net_bridge_create(const char *name, const NetSubnet *subnet) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        _cleanup_(rtnl_link_putp) struct rtnl_link *link = NULL;
        _cleanup_(nl_addr_putp) struct nl_addr *lladdr = NULL;
        uint8_t mac[6];
        int r;

        if (!net_ifname_valid(name) || subnet->prefixlen > 30)
                return -EINVAL;
        r = netlink_open(&sk);
        if (r < 0)
                return r;

        bridge_mac(name, mac);
        lladdr = nl_addr_build(AF_LLC, mac, sizeof(mac));
        if (!lladdr)
                return -ENOMEM;

        r = bridge_get(sk, name, &link);
        if (r == -ENODEV) {
                _cleanup_(rtnl_link_putp) struct rtnl_link *req = rtnl_link_bridge_alloc();

                if (!req)
                        return -ENOMEM;
                rtnl_link_set_name(req, name);
                rtnl_link_set_addr(req, lladdr);
                r = rtnl_link_add(sk, req, NLM_F_CREATE | NLM_F_EXCL);
                r = netlink_error_to_errno(r);
                if (r < 0 && r != -EEXIST) /* EEXIST: lost a race with another creator; converge */
                        return r;
                r = bridge_get(sk, name, &link);
        }
        if (r < 0)
                return r;

        /* An existing bridge may carry another MAC (created by an older version or by hand). */
        struct nl_addr *cur = rtnl_link_get_addr(link);
        if (!cur || nl_addr_cmp(cur, lladdr) != 0) {
                _cleanup_(rtnl_link_putp) struct rtnl_link *change = rtnl_link_alloc();

                if (!change)
                        return -ENOMEM;
                rtnl_link_set_addr(change, lladdr);
                r = rtnl_link_change(sk, link, change, 0);
                if (r < 0)
                        return netlink_error_to_errno(r);
        }

        r = bridge_sync_addresses(sk, rtnl_link_get_ifindex(link), subnet);
        if (r < 0)
                return r;
        return netlink_link_set_up(sk, link);
}

int net_bridge_delete(const char *name) {
        return netlink_typed_link_delete(name, "bridge"); /* never deletes a link that is not a bridge */
}

int net_bridge_list(const char *prefix, char ***ret) {
        return netlink_typed_link_list(prefix, "bridge", ret);
}
