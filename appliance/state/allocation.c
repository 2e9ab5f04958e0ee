/* Subnet and ingress-port allocation for new environments: the lowest /24 of the pool that no
 * environment, host link or other state dir uses, and the lowest port from a base that no environment or other
 * state dir has and no program on the host holds.  Callers hold the write transaction (and the host claims'
 * locks), so two creations never pick the same subnet or port. */
#include "allocation.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

#include "ifname.h"
#include "sqlite-util.h"

static int parse_subnet(const char *text, void *ret) {
        return net_subnet_parse(text, ret);
}

int model_allocate_subnet(sqlite3 *db, const NetSubnet *pool, const NetSubnet *host, size_t n_host,
                          NetSubnet *ret) {
        _cleanup_free_ NetSubnet *used = NULL;
        size_t n_used = 0;
        int r;

        r = sqlite_list_parsed(db, "SELECT subnet FROM environments", SQL_NO_ARGS, parse_subnet,
                               sizeof *used, &used, &n_used);
        if (r < 0)
                return r;
        NetSubnet *all = realloc(used, (n_used + n_host + 1) * sizeof *used);
        if (!all)
                return -ENOMEM;
        used = all;
        for (size_t i = 0; i < n_host; i++)
                used[n_used++] = host[i];
        r = net_subnet_pool_allocate(pool, used, n_used, ret);
        /* "All taken" must not read as the disk's ENOSPC, which sqlite uses for a full disk. */
        return r == -ENOSPC ? -EADDRNOTAVAIL : r;
}

int model_allocate_ingress_port(sqlite3 *db, unsigned base, const unsigned *others, size_t n_others,
                                ModelPortBusyFn busy, unsigned *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r, rc;

        if (base == 0 || base + MODEL_INGRESS_PORTS_MAX > 65536)
                return -ERANGE;
        r = sqlite_prepare(db, "SELECT 1 FROM environments WHERE ingress_port = ?1", &s);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < MODEL_INGRESS_PORTS_MAX; i++) {
                bool other = false;

                for (size_t k = 0; k < n_others && !other; k++)
                        other = others[k] == base + i;
                if (other)
                        continue;
                sqlite3_reset(s);
                sqlite3_bind_int64(s, 1, base + i);
                rc = sqlite3_step(s);
                if (rc == SQLITE_DONE) {
                        /* Asked last: the only check that makes a system call, and only for a port that
                         * is ours to take otherwise. */
                        if (busy && busy(base + i))
                                continue;
                        *ret = base + i;
                        return 0;
                }
                if (rc != SQLITE_ROW)
                        return sqlite_to_errno(rc) ?: -EIO;
        }
        return -EADDRNOTAVAIL;
}

/* Tries for a bridge name before giving up (each a fresh random name; a clash is one in 2^24). */
#define MODEL_BRIDGE_NAME_TRIES 8

/* A bridge name no environment of this state dir has: prefix + a hash of project/name and a random
 * part.  Names alone repeat (a project deleted and made again), and a bridge left on the host by a failed
 * teardown must not be taken over by the new environment. */
static int pick_bridge(sqlite3 *db, const char *prefix, const char *project, const char *name,
                       char ret[static IFNAMSIZ]) {
        for (unsigned i = 0; i < MODEL_BRIDGE_NAME_TRIES; i++) {
                _cleanup_free_ char *key = NULL;
                uint64_t salt;
                unsigned n;
                int r;

                if (getrandom(&salt, sizeof salt, 0) != (ssize_t) sizeof salt)
                        return -errno ?: -EIO;
                if (asprintf(&key, "%s/%s/%016llx", project, name, (unsigned long long) salt) < 0)
                        return -ENOMEM;
                r = net_ifname_from_key(prefix, key, ret);
                if (r < 0)
                        return r;
                r = sqlite_count(db, "SELECT count(*) FROM environments WHERE bridge = ?1",
                                 SQL_ARGS(SQL_TEXT(ret)), &n);
                if (r < 0)
                        return r;
                if (n == 0)
                        return 0;
        }
        return -EEXIST;
}

int model_insert_environment(sqlite3 *db, int64_t project_id, const char *project, const char *name,
                             unsigned position, const ModelAllocation *alloc, unsigned ingress_port) {
        char bridge[IFNAMSIZ], cidr[NET_CIDR_STRING_MAX];
        NetSubnet pool, subnet;
        unsigned port;
        int r;

        r = net_subnet_parse(NET_SUBNET_POOL_DEFAULT, &pool);
        if (r < 0)
                return r;
        r = model_allocate_subnet(db, &pool, alloc->used, alloc->n_used, &subnet);
        if (r < 0)
                return r;
        if (ingress_port > 0)
                port = ingress_port;
        else {
                r = model_allocate_ingress_port(db, alloc->ingress_base_port, alloc->ports_used,
                                                alloc->n_ports_used, alloc->port_busy, &port);
                if (r < 0)
                        return r;
        }
        r = pick_bridge(db, alloc->bridge_prefix, project, name, bridge);
        if (r < 0)
                return r;

        r = sqlite_run(db,
                       "INSERT INTO environments(project_id, name, position, subnet, bridge, ingress_port,"
                       "                         created_at)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                       SQL_ARGS(SQL_INT(project_id), SQL_TEXT(name), SQL_INT(position),
                                SQL_TEXT(net_subnet_format(&subnet, cidr)), SQL_TEXT(bridge), SQL_INT(port),
                                SQL_INT(sqlite_now_sec())));
        return r < 0 ? r : 0;
}
