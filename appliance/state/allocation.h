/* Subnet and ingress-port allocation for new environments (called inside the creating transaction).
 * What the host and other state dirs use is an argument (found by runtime/net and the host claims, see
 * appliance/deploy/host-share.h): this layer makes no netlink call. */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "subnet-pool.h"

#define MODEL_INGRESS_BASE_PORT_DEFAULT 8080u
/* Ingress ports base .. base+MODEL_INGRESS_PORTS_MAX-1. */
#define MODEL_INGRESS_PORTS_MAX 1000u

/* Whether some program on the host holds a port (net_tcp_port_busy() in the daemon). */
typedef bool (*ModelPortBusyFn)(unsigned port);

/* What a new environment's subnet, ingress port and bridge are chosen around. */
typedef struct ModelAllocation {
        const NetSubnet *used; /* the host's subnets and other state dirs' subnet claims */
        size_t n_used;
        const unsigned *ports_used; /* ingress ports other state dirs claim */
        size_t n_ports_used;
        ModelPortBusyFn port_busy; /* asked about each port that is free otherwise; NULL: none is busy */
        unsigned ingress_base_port;
        const char *bridge_prefix; /* this state dir's (NET_BRIDGE_PREFIX + its id) */
} ModelAllocation;

/* ---- allocation (exposed for tests) ---- */
/* The lowest /24 of pool overlapping no environment and none of host[]; -EADDRNOTAVAIL when none is left
 * (never -ENOSPC, which means a full disk). */
int model_allocate_subnet(sqlite3 *db, const NetSubnet *pool, const NetSubnet *host, size_t n_host,
                          NetSubnet *ret);
/* base + the lowest index no environment uses, not in others[] and not busy (busy may be NULL);
 * -EADDRNOTAVAIL after MODEL_INGRESS_PORTS_MAX. */
int model_allocate_ingress_port(sqlite3 *db, unsigned base, const unsigned *others, size_t n_others,
                                ModelPortBusyFn busy, unsigned *ret);

/* For project-db.c and environment-db.c: inserts one environment row at position with a freshly
 * allocated subnet and bridge, and ingress_port (0: the next free one from alloc's base). */
int model_insert_environment(sqlite3 *db, int64_t project_id, const char *project, const char *name,
                             unsigned position, const ModelAllocation *alloc, unsigned ingress_port);
