/* Subnet claims and the shared unreachable pool route.  Claims are host-claims links owned by a state
 * dir; the route's shares are claims too (one per owner, in a directory per pool), so "the last owner
 * removes it" is decided under the same flock that adds shares, and a share of a vanished state dir is
 * stale and does not keep the route. */
#include "subnet-claims.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "address.h"
#include "fs-util.h"
#include "macro.h"
#include "netlink.h"

/* A pool route found before any share: kept for whoever made it ("/" always exists, never stale). */
#define POOL_ROUTE_FOREIGN_SHARE "foreign"
#define POOL_ROUTE_FOREIGN_OWNER "/"

const char *net_subnet_claim_name(const NetSubnet *s, char buf[static NET_SUBNET_CLAIM_NAME_MAX]) {
        char *slash;

        net_subnet_format(s, buf);
        slash = strchr(buf, '/');
        if (slash)
                *slash = '-';
        return buf;
}

int net_subnet_claim_name_parse(const char *name, NetSubnet *ret) {
        char buf[NET_CIDR_STRING_MAX], *dash;

        if (isempty(name) || strlen(name) >= sizeof(buf))
                return -EINVAL;
        strcpy(buf, name);
        dash = strrchr(buf, '-');
        if (!dash)
                return -EINVAL;
        *dash = '/';
        return net_subnet_parse(buf, ret);
}

int net_subnets_used_on_host(int dfd, const char *owner, NetSubnet **ret, size_t *ret_n) {
        _cleanup_(host_claims_list_freep) char **others = NULL;
        _cleanup_free_ NetSubnet *host = NULL;
        NetSubnet *all;
        size_t n_host = 0, n_others = 0, n = 0;
        int r;

        r = net_host_subnets(&host, &n_host);
        if (r < 0)
                return r;
        r = host_claims_list(dfd, owner, HOST_CLAIMS_OTHERS, &others);
        if (r < 0)
                return r;
        for (char **p = others; *p; p++)
                n_others++;
        all = calloc(n_host + n_others + 1, sizeof *all);
        if (!all)
                return -ENOMEM;
        for (size_t i = 0; i < n_host; i++)
                all[n++] = host[i];
        for (char **p = others; *p; p++)
                if (net_subnet_claim_name_parse(*p, &all[n]) >= 0)
                        n++;
        *ret = all;
        *ret_n = n;
        return 0;
}

int net_subnet_claims_sync(int dfd, const char *owner, const NetSubnet *want, size_t n_want,
                           size_t *ret_conflicts) {
        _cleanup_(host_claims_list_freep) char **mine = NULL;
        char name[NET_SUBNET_CLAIM_NAME_MAX];
        size_t conflicts = 0;
        int r;

        for (size_t i = 0; i < n_want; i++) {
                r = host_claim_take(dfd, net_subnet_claim_name(&want[i], name), owner);
                if (r < 0)
                        return r;
                if (r == 0)
                        conflicts++;
        }
        r = host_claims_list(dfd, owner, HOST_CLAIMS_MINE, &mine);
        if (r < 0)
                return r;
        for (char **p = mine; *p; p++) {
                NetSubnet s;
                bool wanted = false;

                if (net_subnet_claim_name_parse(*p, &s) < 0)
                        continue;
                for (size_t i = 0; i < n_want && !wanted; i++)
                        wanted = want[i].address.s_addr == s.address.s_addr && want[i].prefixlen == s.prefixlen;
                if (!wanted) {
                        r = host_claim_drop(dfd, *p, owner);
                        if (r < 0)
                                return r;
                }
        }
        if (ret_conflicts)
                *ret_conflicts = conflicts;
        return 0;
}

int net_subnet_claimed_by(const char *owner, const NetSubnet *s) {
        _cleanup_close_ int dfd = -EBADF;
        char name[NET_SUBNET_CLAIM_NAME_MAX];
        int r;

        dfd = host_claims_lock(NET_SUBNET_CLAIMS_DIR);
        if (dfd < 0)
                return dfd;
        r = host_claim_check(dfd, net_subnet_claim_name(s, name), owner);
        if (r == -ENOENT || r == -ESTALE)
                return 0;
        return r;
}

static int route_build(const NetSubnet *dst, struct rtnl_route **ret) {
        _cleanup_(rtnl_route_putp) struct rtnl_route *route = NULL;
        _cleanup_(nl_addr_putp) struct nl_addr *a = NULL;
        int r;

        route = rtnl_route_alloc();
        a = nl_addr_build(AF_INET, &dst->address, sizeof(dst->address));
        if (!route || !a)
                return -ENOMEM;
        nl_addr_set_prefixlen(a, (int) dst->prefixlen);
        rtnl_route_set_family(route, AF_INET);
        rtnl_route_set_table(route, RT_TABLE_MAIN);
        rtnl_route_set_scope(route, RT_SCOPE_UNIVERSE);
        rtnl_route_set_protocol(route, RTPROT_STATIC);
        rtnl_route_set_type(route, RTN_UNREACHABLE);
        r = rtnl_route_set_dst(route, a);
        if (r < 0)
                return netlink_error_to_errno(r);
        *ret = TAKE_PTR(route);
        return 0;
}

int net_unreachable_route_add(const NetSubnet *dst) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        _cleanup_(rtnl_route_putp) struct rtnl_route *route = NULL;
        int r;

        r = netlink_open(&sk);
        if (r < 0)
                return r;
        r = route_build(dst, &route);
        if (r < 0)
                return r;
        r = rtnl_route_add(sk, route, NLM_F_EXCL);
        r = r < 0 ? netlink_error_to_errno(r) : 0;
        return r == -EEXIST ? 0 : r;
}

int net_unreachable_route_remove(const NetSubnet *dst) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        _cleanup_(rtnl_route_putp) struct rtnl_route *route = NULL;
        int r;

        r = netlink_open(&sk);
        if (r < 0)
                return r;
        r = route_build(dst, &route);
        if (r < 0)
                return r;
        r = rtnl_route_delete(sk, route, 0);
        r = r < 0 ? netlink_error_to_errno(r) : 0;
        return r == -ESRCH || r == -ENOENT ? 0 : r;
}

typedef struct RouteMatch {
        const NetSubnet *dst;
        bool found;
} RouteMatch;

static void route_match(struct nl_object *obj, void *userdata) {
        struct rtnl_route *rt = (struct rtnl_route *) obj;
        RouteMatch *m = userdata;
        struct nl_addr *a = rtnl_route_get_dst(rt);

        if (rtnl_route_get_family(rt) != AF_INET || rtnl_route_get_table(rt) != RT_TABLE_MAIN ||
            rtnl_route_get_type(rt) != RTN_UNREACHABLE || !a ||
            nl_addr_get_prefixlen(a) != m->dst->prefixlen || nl_addr_get_len(a) != (unsigned) sizeof(struct in_addr))
                return;
        if (memcmp(nl_addr_get_binary_addr(a), &m->dst->address, sizeof(struct in_addr)) == 0)
                m->found = true;
}

int net_unreachable_route_exists(const NetSubnet *dst) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        _cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;
        RouteMatch m = { .dst = dst };
        int r;

        r = netlink_open(&sk);
        if (r < 0)
                return r;
        r = rtnl_route_alloc_cache(sk, AF_INET, 0, &cache);
        if (r < 0)
                return netlink_error_to_errno(r);
        nl_cache_foreach(cache, route_match, &m);
        return m.found ? 1 : 0;
}

static int pool_route_dir(const NetSubnet *pool, char **ret) {
        char name[NET_SUBNET_CLAIM_NAME_MAX];

        if (asprintf(ret, "%s/%s", NET_POOL_ROUTE_CLAIMS_DIR, net_subnet_claim_name(pool, name)) < 0)
                return -ENOMEM;
        return 0;
}

int net_pool_route_hold(const NetSubnet *pool, const char *who, const char *owner) {
        _cleanup_(host_claims_list_freep) char **mine = NULL, **others = NULL;
        _cleanup_free_ char *dir = NULL;
        _cleanup_close_ int dfd = -EBADF;
        int r;

        if (!host_claim_name_valid(who) || streq(who, POOL_ROUTE_FOREIGN_SHARE))
                return -EINVAL;
        r = pool_route_dir(pool, &dir);
        if (r < 0)
                return r;
        dfd = host_claims_lock(dir);
        if (dfd < 0)
                return dfd;
        r = host_claims_list(dfd, owner, HOST_CLAIMS_MINE, &mine);
        if (r >= 0)
                r = host_claims_list(dfd, owner, HOST_CLAIMS_OTHERS, &others);
        if (r < 0)
                return r;
        if (!mine[0] && !others[0]) {
                /* Nobody holds a share: a route that exists now was put there by somebody else. */
                r = net_unreachable_route_exists(pool);
                if (r < 0)
                        return r;
                if (r > 0) {
                        r = host_claim_take(dfd, POOL_ROUTE_FOREIGN_SHARE, POOL_ROUTE_FOREIGN_OWNER);
                        if (r < 0)
                                return r;
                }
        }
        r = host_claim_take(dfd, who, owner);
        if (r < 0)
                return r;
        if (r == 0)
                return -EADDRINUSE; /* another live owner uses the same share name */
        return net_unreachable_route_add(pool);
}

int net_pool_route_release(const NetSubnet *pool, const char *who, const char *owner) {
        _cleanup_(host_claims_list_freep) char **others = NULL;
        _cleanup_free_ char *dir = NULL;
        _cleanup_close_ int dfd = -EBADF;
        int r;

        r = pool_route_dir(pool, &dir);
        if (r < 0)
                return r;
        if (access(dir, F_OK) < 0)
                return errno == ENOENT ? 0 : -errno;
        dfd = host_claims_lock(dir);
        if (dfd < 0)
                return dfd;
        r = host_claim_drop(dfd, who, owner);
        if (r <= 0)
                return r; /* not holding a share: not ours to remove */
        r = host_claims_list(dfd, owner, HOST_CLAIMS_OTHERS, &others);
        if (r < 0)
                return r;
        if (others[0])
                return 0;
        return net_unreachable_route_remove(pool);
}
