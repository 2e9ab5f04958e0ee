/* Environment networks: every environment's bridge and service addresses, and the nft table isolating
 * them, brought to what the database says.  Idempotent; safe to call from any thread (serialised). */
#pragma once

#include <sqlite3.h>
#include <stdint.h>

#include "host-share.h"

/* Converges every environment in db that runs something (a live or deploying release, or an active
 * instance): bridge (subnet .1), its service addresses (/32s), the state dir's whole nft table, and its
 * share of the pool's unreachable route (dropped when nothing runs).  An environment whose subnet this
 * state dir does not hold (another one claimed it first after a reboot) is left out and reported.  Environments of
 * exclude_project_id (0: none) are left out, as a project being deleted. ret_error (may be NULL) gets a
 * sentence for a person on failure. */
int env_network_apply(const HostShare *hs, sqlite3 *db, int64_t exclude_project_id, char **ret_error);

/* The nft table env_network_apply() writes (this state dir's), for checks and status. */
const char *env_network_nft_table(const HostShare *hs);
