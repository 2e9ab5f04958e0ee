/* Read-only looks at what runtime/net sets up (bridges, their addresses, veth ports, the nft table), so a
 * caller can compare the host with what it wants before it rebuilds anything.  Nothing here changes the
 * host; every function answers from the kernel's current state. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "subnet-pool.h"

typedef struct NetBridgeStatus {
        bool exists;                /* a link of that name exists */
        bool is_bridge;             /* … and it is a bridge */
        bool up;                    /* IFF_UP */
        bool host_address;          /* carries the subnet's .1/prefixlen */
        size_t n_missing_addresses; /* wanted /32 service addresses it lacks */
} NetBridgeStatus;

/* Fills ret for bridge `name`: existence, kind, up, the subnet's .1 and which of addrs (as /32s) it lacks. */
int net_bridge_inspect(const char *name, const NetSubnet *subnet, const struct in_addr *addrs, size_t n,
                       NetBridgeStatus *ret);
/* True when ret says nothing is missing. */
bool net_bridge_status_ok(const NetBridgeStatus *s);

/* > 0 when host_ifname is a veth, up and a port of bridge; 0 when it exists but is detached or down;
 * -ENODEV when there is no such link; -EEXIST when the link is not a veth. */
int net_veth_port_inspect(const char *host_ifname, const char *bridge);

typedef struct NetRulesetStatus {
        bool exists;      /* the table exists */
        size_t n_rules;   /* rules in all its chains (0 after `nft flush table`) */
        size_t n_missing; /* of the wanted names, those absent from its "bridges" set */
} NetRulesetStatus;

/* Looks at `inet TABLE` (NULL: NET_NFT_TABLE_DEFAULT): present, how many rules, and which of bridges
 * (n names) its "bridges" set lacks. */
int net_ruleset_inspect(const char *table, const char *const *bridges, size_t n, NetRulesetStatus *ret);
