/* Environment bridges: one Linux bridge per isolated network, owning the subnet's .1 on the host.
 * Creation converges an existing bridge to the wanted state, so re-applying is always safe. */
#pragma once

#include "subnet-pool.h"

/* Every environment bridge's name starts with NET_BRIDGE_PREFIX followed by its state dir's id (one state
 * dir's bridges never share a name with another's); bridges made before state ids start with the legacy
 * prefix.  nft tables rely on this (nft-ruleset.h). */
#define NET_BRIDGE_PREFIX "swb"
#define NET_BRIDGE_PREFIX_LEGACY "sw-"

/* Ensures bridge `name` exists, has a stable MAC (derived from its name, so it does not change as
 * ports come and go), carries subnet's .1/prefixlen as its only non-/32 IPv4 address, and is up.
 * -EEXIST when a non-bridge link has that name. */
int net_bridge_create(const char *name, const NetSubnet *subnet);
/* Deletes the bridge; 0 also when it did not exist.  Ports are detached, not deleted. */
int net_bridge_delete(const char *name);
/* > 0 when a bridge called name exists, 0 when no link has that name, -EEXIST for a non-bridge. */
int net_bridge_exists(const char *name);

/* Bridges whose name starts with prefix (e.g. "sw-"), for garbage collection of environments that no
 * longer exist: a NULL-terminated array of names (free each, then the array). */
int net_bridge_list(const char *prefix, char ***ret);
