/* Host-wide ownership of environment subnets and of the pool's `unreachable` route, for several state
 * dirs (daemons) on one host.  A subnet is claimed by its owner (a state dir) under /run/slipway/subnets,
 * named "a.b.c.d-N"; allocation avoids the host's own subnets and every subnet another live owner claims.
 * The unreachable route of a pool is shared: each owner holds a share, the first one adds the route (if
 * nobody did), the last one to let go removes it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "host-claims.h"
#include "subnet-pool.h"

#define NET_SUBNET_CLAIMS_DIR HOST_CLAIMS_ROOT "/subnets"
#define NET_POOL_ROUTE_CLAIMS_DIR HOST_CLAIMS_ROOT "/pool-routes"
/* "a.b.c.d-N": a subnet as a claim (file) name. */
#define NET_SUBNET_CLAIM_NAME_MAX NET_CIDR_STRING_MAX

const char *net_subnet_claim_name(const NetSubnet *s, char buf[static NET_SUBNET_CLAIM_NAME_MAX]);
int net_subnet_claim_name_parse(const char *name, NetSubnet *ret);

/* What a new subnet must not overlap, seen from owner: every subnet configured on the host
 * (net_host_subnets) plus every subnet another live owner claims in the locked claims directory dfd. */
int net_subnets_used_on_host(int dfd, const char *owner, NetSubnet **ret, size_t *ret_n);

/* Makes owner's subnet claims in the locked dfd exactly want[]: takes each (a subnet another live owner
 * holds is left to it and counted in *ret_conflicts, may be NULL), drops owner's others. */
int net_subnet_claims_sync(int dfd, const char *owner, const NetSubnet *want, size_t n_want,
                           size_t *ret_conflicts);
/* 1 when owner holds s's claim, 0 otherwise (nobody's, stale or another owner's). */
int net_subnet_claimed_by(const char *owner, const NetSubnet *s);

/* owner (share name `who`, e.g. a state-dir id) wants pool's unreachable route: its share is taken and the
 * route added unless it exists.  A route found before any share existed was not made by a daemon: it gets
 * a share of its own that never goes stale, so no daemon ever removes it. */
int net_pool_route_hold(const NetSubnet *pool, const char *who, const char *owner);
/* Drops owner's share; when no live share is left the route goes. */
int net_pool_route_release(const NetSubnet *pool, const char *who, const char *owner);

/* The unreachable route itself (main table).  add: 0 also when it exists; remove: 0 also when absent. */
int net_unreachable_route_add(const NetSubnet *dst);
int net_unreachable_route_remove(const NetSubnet *dst);
/* > 0 when an unreachable route for exactly dst exists in the main table. */
int net_unreachable_route_exists(const NetSubnet *dst);
