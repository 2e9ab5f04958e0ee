/* Service addresses: the stable per-component addresses slipway-proxy listens on, held by the
 * environment's bridge as /32s (never secondaries of the .1/24, so removing one never drops another). */
#pragma once

#include <netinet/in.h>
#include <stddef.h>

#include "subnet-pool.h"

int net_service_address_add(const char *bridge, struct in_addr a);
/* 0 also when the address was not there. */
int net_service_address_remove(const char *bridge, struct in_addr a);
/* Makes the bridge's /32 set exactly addrs: adds the missing ones, removes the others. */
int net_service_addresses_sync(const char *bridge, const struct in_addr *addrs, size_t n);

/* Every IPv4 subnet configured on the host (address/prefixlen of each link, network part only), for
 * net_subnet_pool_allocate()'s in-use list so a new environment never shadows the host's own networks. */
int net_host_subnets(NetSubnet **ret, size_t *ret_n);
