/* Host-wide ownership for one state dir.  Claims are reconciled from the database rather than taken and
 * released at each call site: whatever path changed the environments (create, delete, a crash between
 * the two), the next sync leaves exactly the database's subnets and ports claimed. */
#include "host-share.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge.h"
#include "host-claims.h"
#include "ifname.h"
#include "macro.h"
#include "string-util.h"
#include "subnet-claims.h"
#include "tcp-port.h"

int host_share_init(HostShare *hs, const char *state_dir, const char *id, char **ret_error) {
        _cleanup_close_ int dfd = -EBADF;
        int r;

        if (!state_dir || state_dir[0] != '/' || isempty(id) || strlen(id) > HOST_SHARE_ID_MAX)
                return -EINVAL;
        *hs = (HostShare) { .state_dir = state_dir };
        strcpy(hs->id, id);
        snprintf(hs->table, sizeof hs->table, "slipway_%s", id);
        if (strlen(NET_BRIDGE_PREFIX) + strlen(id) > NET_IFNAME_PREFIX_MAX ||
            !net_nft_table_name_valid(hs->table))
                return -EINVAL;
        snprintf(hs->bridge_prefix, sizeof hs->bridge_prefix, "%s%s", NET_BRIDGE_PREFIX, id);
        r = net_subnet_parse(NET_SUBNET_POOL_DEFAULT, &hs->pool);
        if (r < 0)
                return r;

        dfd = host_claims_lock(HOST_SHARE_IDS_DIR);
        if (dfd < 0)
                return errmsg_set(ret_error, dfd, "Cannot lock %s: %s.", HOST_SHARE_IDS_DIR, strerror(-dfd));
        r = host_claim_take(dfd, id, state_dir);
        if (r < 0)
                return errmsg_set(ret_error, r, "Cannot claim state id %s: %s.", id, strerror(-r));
        if (r == 0) {
                char holder[4096];
                _cleanup_free_ char *link = NULL;
                ssize_t n;

                if (asprintf(&link, "%s/%s", HOST_SHARE_IDS_DIR, id) < 0)
                        return -ENOMEM;
                n = readlink(link, holder, sizeof holder - 1);
                holder[n < 0 ? 0 : n] = 0;
                return errmsg_set(
                        ret_error, -EADDRINUSE,
                        "State id %s (in %s/state-id) is already the id of %s on this host (a copy of "
                        "this state directory?); remove state-id from the copy that has no networks "
                        "yet.",
                        id, state_dir, holder);
        }
        return 0;
}

static int port_claim_name(unsigned port, char buf[static 12]) {
        snprintf(buf, 12, "%u", port);
        return 0;
}

/* Takes the host-wide subnet and port claim locks, in the order every taker uses; on failure holds neither. */
static int claims_lock(HostAllocation *a) {
        int r;

        a->subnets_fd = host_claims_lock(NET_SUBNET_CLAIMS_DIR);
        if (a->subnets_fd < 0)
                return a->subnets_fd;
        a->ports_fd = host_claims_lock(HOST_SHARE_PORTS_DIR);
        if (a->ports_fd < 0) {
                r = a->ports_fd;
                a->ports_fd = -EBADF;
                a->subnets_fd = safe_close(a->subnets_fd);
                return r;
        }
        return 0;
}

int host_allocation_begin(const HostShare *hs, HostAllocation *ret) {
        _cleanup_(host_claims_list_freep) char **others = NULL;
        HostAllocation a = HOST_ALLOCATION_INIT;
        size_t n = 0;
        int r;

        a.hs = hs;
        r = claims_lock(&a);
        if (r < 0)
                return r;
        r = net_subnets_used_on_host(a.subnets_fd, hs->state_dir, &a.used, &a.n_used);
        if (r < 0)
                goto fail;
        r = host_claims_list(a.ports_fd, hs->state_dir, HOST_CLAIMS_OTHERS, &others);
        if (r < 0)
                goto fail;
        for (char **p = others; *p; p++)
                n++;
        a.ports = calloc(n + 1, sizeof *a.ports);
        if (!a.ports) {
                r = -ENOMEM;
                goto fail;
        }
        for (char **p = others; *p; p++) {
                char *end;
                unsigned long v = strtoul(*p, &end, 10);
                if (*end == 0 && v > 0 && v < 65536)
                        a.ports[a.n_ports++] = (unsigned) v;
        }
        *ret = a;
        return 0;
fail:
        host_allocation_end(&a);
        return r;
}

ModelAllocation host_allocation_model(const HostAllocation *a, unsigned ingress_base_port) {
        return (ModelAllocation) {
                .used = a->used,
                .n_used = a->n_used,
                .ports_used = a->ports,
                .n_ports_used = a->n_ports,
                .port_busy = net_tcp_port_busy, /* a program of the host's (not Slipway) on the port */
                .ingress_base_port = ingress_base_port,
                .bridge_prefix = a->hs->bridge_prefix,
        };
}

bool host_allocation_port_taken(const HostAllocation *a, unsigned port) {
        for (size_t i = 0; i < a->n_ports; i++)
                if (a->ports[i] == port)
                        return true;
        return false;
}

static int claims_sync_locked(const HostShare *hs, int subnets_fd, int ports_fd, sqlite3 *db,
                              size_t *ret_conflicts) {
        _cleanup_(host_claims_list_freep) char **mine = NULL;
        _cleanup_free_ NetSubnet *subnets = NULL;
        ModelEnvironment *e = NULL;
        size_t n = 0, n_subnets = 0, conflicts = 0;
        char name[12];
        int r;

        r = model_environment_list_all(db, &e, &n);
        if (r < 0)
                return r;
        subnets = calloc(n + 1, sizeof *subnets);
        if (!subnets) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; i < n; i++)
                if (e[i].subnet && net_subnet_parse(e[i].subnet, &subnets[n_subnets]) >= 0)
                        n_subnets++;
        r = net_subnet_claims_sync(subnets_fd, hs->state_dir, subnets, n_subnets, &conflicts);
        if (r < 0)
                goto finish;

        for (size_t i = 0; i < n; i++) {
                if (e[i].ingress_port == 0)
                        continue;
                port_claim_name(e[i].ingress_port, name);
                r = host_claim_take(ports_fd, name, hs->state_dir);
                if (r < 0)
                        goto finish;
                if (r == 0)
                        conflicts++;
        }
        r = host_claims_list(ports_fd, hs->state_dir, HOST_CLAIMS_MINE, &mine);
        if (r < 0)
                goto finish;
        for (char **p = mine; *p; p++) {
                bool wanted = false;

                for (size_t i = 0; i < n && !wanted; i++) {
                        port_claim_name(e[i].ingress_port, name);
                        wanted = streq(name, *p);
                }
                if (!wanted && (r = host_claim_drop(ports_fd, *p, hs->state_dir)) < 0)
                        goto finish;
        }
        r = 0;
        if (ret_conflicts)
                *ret_conflicts = conflicts;
finish:
        model_environments_free(e, n);
        return r;
}

int host_allocation_commit(HostAllocation *a, sqlite3 *db) {
        return claims_sync_locked(a->hs, a->subnets_fd, a->ports_fd, db, NULL);
}

void host_allocation_end(HostAllocation *a) {
        a->subnets_fd = safe_close(a->subnets_fd);
        a->ports_fd = safe_close(a->ports_fd);
        free(a->used);
        free(a->ports);
        a->used = NULL;
        a->ports = NULL;
        a->n_used = a->n_ports = 0;
}

int host_share_claims_sync(const HostShare *hs, sqlite3 *db, size_t *ret_conflicts) {
        HostAllocation a = HOST_ALLOCATION_INIT;
        int r;

        r = claims_lock(&a);
        if (r < 0)
                return r;
        r = claims_sync_locked(hs, a.subnets_fd, a.ports_fd, db, ret_conflicts);
        host_allocation_end(&a);
        return r;
}
