/* What one state dir owns on a host that several may share: its id and the names derived from it (nft
 * table inet slipway_<id>, bridges swb<id>…), and its host-wide claims under /run/slipway (the id itself,
 * subnets, ingress ports; uid ranges are claimed per instance in instance-setup.c).  Invariant: the claims
 * of a state dir follow its database, and a daemon creates, changes and removes only what it owns. */
#pragma once

#include <net/if.h>
#include <sqlite3.h>
#include <stddef.h>

#include "environment-db.h"
#include "nft-ruleset.h"
#include "subnet-pool.h"

#define HOST_SHARE_IDS_DIR HOST_CLAIMS_ROOT "/state-ids"
#define HOST_SHARE_PORTS_DIR HOST_CLAIMS_ROOT "/ingress-ports"
#define HOST_SHARE_ID_MAX 16U
/* The table every state dir shared before state ids. */
#define HOST_SHARE_LEGACY_TABLE "slipway"

typedef struct HostShare {
        const char *state_dir; /* absolute: the owner every claim names */
        char id[HOST_SHARE_ID_MAX + 1];
        char table[NET_NFT_TABLE_NAME_MAX + 1]; /* "slipway_<id>" */
        char bridge_prefix[IFNAMSIZ];           /* NET_BRIDGE_PREFIX "<id>" */
        NetSubnet pool;
} HostShare;

/* Fills hs for state_dir (absolute) and id, and claims the id: -EADDRINUSE when another state dir that
 * still exists has the same id (a copied state dir); ret_error then says which. */
int host_share_init(HostShare *hs, const char *state_dir, const char *id, char **ret_error);

/* One allocation of new environments, host-wide atomic: the subnet and port claim directories stay locked
 * from begin to end, so no other daemon picks the same subnet or port in between. */
typedef struct HostAllocation {
        const HostShare *hs;
        int subnets_fd, ports_fd;
        NetSubnet *used;
        size_t n_used;
        unsigned *ports;
        size_t n_ports;
} HostAllocation;

#define HOST_ALLOCATION_INIT ((HostAllocation) { .subnets_fd = -EBADF, .ports_fd = -EBADF })

int host_allocation_begin(const HostShare *hs, HostAllocation *ret);
/* The model's view of it, for model_project_create() / model_environment_create(): an automatically chosen
 * ingress port also skips ports some program on the host holds (net_tcp_port_busy()). */
ModelAllocation host_allocation_model(const HostAllocation *a, unsigned ingress_base_port);
/* True when another state dir claims port (for ports a person names). */
bool host_allocation_port_taken(const HostAllocation *a, unsigned port);
/* After the database changed (still under the locks): the claims follow it. */
int host_allocation_commit(HostAllocation *a, sqlite3 *db);
void host_allocation_end(HostAllocation *a);

/* Makes this state dir's subnet and port claims what db says (taken at start, after a reboot emptied
 * /run, and after a project or environment went).  A subnet or port another state dir holds is left to it;
 * *ret_conflicts (may be NULL) counts them. */
int host_share_claims_sync(const HostShare *hs, sqlite3 *db, size_t *ret_conflicts);
