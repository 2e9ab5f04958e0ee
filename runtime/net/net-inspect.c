/* Inspection of bridges, veth ports and the nft table, for reconciliation: netlink reads and one nft
 * "list table" in JSON.  Invariant: nothing here writes to the kernel, so a check can run at any time. */
#include "net-inspect.h"

#include <errno.h>
#include <jansson.h>
#include <net/if.h>
#include <netlink/route/link/bridge.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ifname.h"
#include "json-util.h"
#include "netlink.h"
#include "nft-ruleset.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct nft_ctx *, nft_ctx_free);

static bool has_address(const NetlinkAddress *a, size_t n, struct in_addr want, unsigned prefixlen) {
        for (size_t i = 0; i < n; i++)
                if (a[i].address.s_addr == want.s_addr && a[i].prefixlen == prefixlen)
                        return true;
        return false;
}

int net_bridge_inspect(const char *name, const NetSubnet *subnet, const struct in_addr *addrs, size_t n,
                       NetBridgeStatus *ret) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        _cleanup_(rtnl_link_putp) struct rtnl_link *link = NULL;
        _cleanup_free_ NetlinkAddress *have = NULL;
        NetBridgeStatus s = { .n_missing_addresses = n };
        size_t n_have = 0;
        int r;

        r = netlink_open_link(name, NULL, &sk, &link);
        if (r == -ENODEV) {
                *ret = s;
                return 0;
        }
        if (r < 0)
                return r;
        s.exists = true;
        s.is_bridge = rtnl_link_is_bridge(link);
        if (!s.is_bridge) {
                *ret = s;
                return 0;
        }
        s.up = (rtnl_link_get_flags(link) & IFF_UP) != 0;
        r = netlink_address_list(sk, rtnl_link_get_ifindex(link), &have, &n_have);
        if (r < 0)
                return r;
        s.host_address = has_address(have, n_have, net_subnet_host_address(subnet), subnet->prefixlen);
        s.n_missing_addresses = 0;
        for (size_t i = 0; i < n; i++)
                if (!has_address(have, n_have, addrs[i], 32))
                        s.n_missing_addresses++;
        *ret = s;
        return 0;
}

bool net_bridge_status_ok(const NetBridgeStatus *s) {
        return s->exists && s->is_bridge && s->up && s->host_address && s->n_missing_addresses == 0;
}

int net_veth_port_inspect(const char *host_ifname, const char *bridge) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        _cleanup_(rtnl_link_putp) struct rtnl_link *host = NULL, *br = NULL;
        int r;

        if (!net_ifname_valid(bridge))
                return -EINVAL;
        r = netlink_open_link(host_ifname, "veth", &sk, &host);
        if (r < 0)
                return r;
        r = netlink_link_get(sk, bridge, &br);
        if (r == -ENODEV)
                return 0;
        if (r < 0)
                return r;
        if (rtnl_link_get_master(host) != rtnl_link_get_ifindex(br))
                return 0;
        return (rtnl_link_get_flags(host) & IFF_UP) ? 1 : 0;
}

static bool name_in(json_t *elems, const char *name) {
        json_t *e;
        size_t i;

        if (json_is_string(elems))
                return streq(json_string_value(elems), name);
        json_array_foreach(elems, i, e)
                if (json_is_string(e) && streq(json_string_value(e), name))
                        return true;
        return false;
}

int net_ruleset_inspect(const char *table, const char *const *bridges, size_t n, NetRulesetStatus *ret) {
        _cleanup_(nft_ctx_freep) struct nft_ctx *ctx = NULL;
        _cleanup_free_ char *cmd = NULL;
        _cleanup_json_ json_t *doc = NULL;
        NetRulesetStatus s = { .n_missing = n };
        json_t *items, *it, *elems = NULL;
        const char *out;
        size_t i;

        table = table ?: NET_NFT_TABLE_DEFAULT;
        if (!net_nft_table_name_valid(table))
                return -EINVAL;
        if (asprintf(&cmd, "list table inet %s", table) < 0)
                return -ENOMEM;
        ctx = nft_ctx_new(NFT_CTX_DEFAULT);
        if (!ctx)
                return -ENOMEM;
        nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_JSON);
        if (nft_ctx_buffer_output(ctx) < 0 || nft_ctx_buffer_error(ctx) < 0)
                return -ENOMEM;
        if (nft_run_cmd_from_buffer(ctx, cmd) != 0) {
                /* The only failure of a well-formed "list table" is that there is none. */
                *ret = s;
                return 0;
        }
        out = nft_ctx_get_output_buffer(ctx);
        doc = json_loads(out ?: "", 0, NULL);
        if (!doc)
                return -EBADMSG;
        s.exists = true;
        items = json_object_get(doc, "nftables");
        json_array_foreach(items, i, it) {
                json_t *set = json_object_get(it, "set");

                if (json_object_get(it, "rule"))
                        s.n_rules++;
                if (set && json_is_string(json_object_get(set, "name")) &&
                    streq(json_string_value(json_object_get(set, "name")), "bridges"))
                        elems = json_object_get(set, "elem");
        }
        s.n_missing = 0;
        for (size_t k = 0; k < n; k++)
                if (!elems || !name_in(elems, bridges[k]))
                        s.n_missing++;
        *ret = s;
        return 0;
}
