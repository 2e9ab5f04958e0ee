/* IPv4 subnets for environments: CIDR parse/format and a deterministic /24 allocator over a pool.
 * Allocation is a pure function of (pool, in-use list): the lowest free /24 wins, so re-running it after
 * a restart with the same database gives the same answer. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NET_SUBNET_POOL_DEFAULT "10.213.0.0/16"
/* Every environment gets one subnet of this size; the host owns its first address (.1). */
#define NET_SUBNET_PREFIXLEN 24
/* "255.255.255.255/32" plus NUL. */
#define NET_CIDR_STRING_MAX 19

typedef struct NetSubnet {
        struct in_addr address; /* network byte order, host bits zero */
        unsigned prefixlen;
} NetSubnet;

/* Strict dotted-quad IPv4 ("10.0.0.1"); -EINVAL otherwise. */
int net_address_parse(const char *s, struct in_addr *ret);
/* Strict "a.b.c.d/N" with N in 0..32 and no host bits set; -EINVAL otherwise. */
int net_subnet_parse(const char *s, NetSubnet *ret);
/* Formats "a.b.c.d/N" into buf and returns buf. */
const char *net_subnet_format(const NetSubnet *s, char buf[static NET_CIDR_STRING_MAX]);

uint32_t net_prefix_mask(unsigned prefixlen); /* host byte order */
bool net_subnet_contains(const NetSubnet *s, struct in_addr a);
bool net_subnet_overlaps(const NetSubnet *a, const NetSubnet *b);

/* The n-th address of a subnet (n = 1 → .1); -ERANGE when outside the subnet's host range. */
int net_subnet_address(const NetSubnet *s, uint32_t n, struct in_addr *ret);
/* The host's address in an environment subnet: .1 */
struct in_addr net_subnet_host_address(const NetSubnet *s);

/* Picks the lowest NET_SUBNET_PREFIXLEN subnet of pool that overlaps nothing in in_use (which may
 * hold subnets of any size, e.g. the host's own routes). -EINVAL when the pool is smaller than a /24,
 * -ENOSPC when it is full. */
int net_subnet_pool_allocate(const NetSubnet *pool, const NetSubnet *in_use, size_t n_in_use,
                             NetSubnet *ret);

/* Picks the lowest address .first … .last of subnet s not in in_use (for stable service addresses
 * and instance addresses). .0, the host's .1 and the broadcast address are never handed out.
 * -ENOSPC when none is free, -ERANGE when the range does not fit the subnet. */
int net_subnet_allocate_address(const NetSubnet *s, uint32_t first, uint32_t last,
                                const struct in_addr *in_use, size_t n_in_use, struct in_addr *ret);
