/* Subnet and ingress-port allocation for new environments (called inside the creating transaction).
 * The host's used subnets come from net_host_subnets() unless a test set them. */
#pragma once

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "subnet-pool.h"

#define MODEL_INGRESS_BASE_PORT_DEFAULT 8080u
/* Ingress ports base .. base+MODEL_INGRESS_PORTS_MAX-1. */
#define MODEL_INGRESS_PORTS_MAX 1000u

/* ---- allocation (exposed for tests) ---- */
/* The lowest /24 of pool overlapping no environment and none of host[]. */
int model_allocate_subnet(sqlite3 *db, const NetSubnet *pool, const NetSubnet *host, size_t n_host,
                          NetSubnet *ret);
/* base + the lowest index no environment uses; -ENOSPC after MODEL_INGRESS_PORTS_MAX. */
int model_allocate_ingress_port(sqlite3 *db, unsigned base, unsigned *ret);
/* Tests: use these instead of net_host_subnets() when creating environments. */
void model_set_host_subnets(const NetSubnet *s, size_t n);

/* For project-db.c and environment-db.c: inserts one environment row at position with a freshly
 * allocated subnet and bridge, and ingress_port (0: the next free one from ingress_base_port). */
int model_insert_environment(sqlite3 *db, int64_t project_id, const char *project, const char *name,
                             unsigned position, unsigned ingress_base_port, unsigned ingress_port);
