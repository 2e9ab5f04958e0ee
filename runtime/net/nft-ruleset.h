/* A state dir's nftables table (inet slipway_<id>; "slipway" for installs before state ids): environment
 * isolation and egress for that state dir's bridges only.  It is always
 * rebuilt whole from a description of the bridges, in one nft transaction, so the kernel holds either
 * the old or the new table, never a mix, and applying the same description twice changes nothing. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "bridge.h"
#include "subnet-pool.h"

#define NET_NFT_TABLE_DEFAULT "slipway"
#define NET_NFT_TABLE_NAME_MAX 32
/* A table leaves traffic arriving on any Slipway bridge (bridge.h's prefixes) to the table of that bridge's
 * own state dir, and masquerades only what leaves through an interface that is no Slipway bridge. */
#define NET_NFT_NOT_A_BRIDGE(dir) \
        dir " != \"" NET_BRIDGE_PREFIX "*\" " dir " != \"" NET_BRIDGE_PREFIX_LEGACY "*\""

typedef struct NetRulesetBridge {
        const char *name;                        /* bridge interface */
        NetSubnet subnet;                        /* its environment subnet */
        const struct in_addr *service_addresses; /* the only host addresses its containers may reach */
        size_t n_service_addresses;
        bool egress; /* may its containers reach beyond the host (masqueraded)? */
} NetRulesetBridge;

typedef struct NetRuleset {
        const char *table; /* NULL: NET_NFT_TABLE_DEFAULT; tests use their own */
        const NetRulesetBridge *bridges;
        size_t n_bridges;
} NetRuleset;

/* The nft script net_ruleset_apply() would run; -EINVAL for an invalid name, subnet or duplicate. */
int net_ruleset_format(const NetRuleset *rs, char **ret_script);

/* Replaces the table atomically.  On failure, returns -EIO (or -EINVAL) and, when ret_error is given,
 * nft's message for a person.  When some bridge has egress, IPv4 forwarding is then switched on for the
 * host (egress needs it on the uplink too); it is never switched off, since other software may rely on
 * it and the table refuses every forwarded packet of an environment without egress anyway.  Rules match
 * interface names, so the table may (and after a reboot should) be applied before the bridges exist. */
int net_ruleset_apply(const NetRuleset *rs, char **ret_error);

/* Deletes the table; 0 also when it did not exist. */
int net_ruleset_remove(const char *table, char **ret_error);
/* > 0 when the table exists, 0 when not. */
int net_ruleset_exists(const char *table);

bool net_nft_table_name_valid(const char *name);

/* The elements of a table's "bridges" (names) and "subnets" (CIDRs, "a.b.c.d/N") sets as strings, each a
 * NULL-terminated array (net_name_list_free).  -ENOENT when the table does not exist. */
int net_ruleset_read_sets(const char *table, char ***ret_bridges, char ***ret_subnets);
