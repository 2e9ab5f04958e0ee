/* IPv4 subnet arithmetic and the environment subnet allocator.  Parsing is strict (no shorthand, no
 * host bits) because the pool is configured by a person and a typo must be refused, not guessed. */
#include "subnet-pool.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"

uint32_t net_prefix_mask(unsigned prefixlen) {
        if (prefixlen == 0)
                return 0;
        if (prefixlen >= 32)
                return UINT32_MAX;
        return UINT32_MAX << (32 - prefixlen);
}

int net_address_parse(const char *s, struct in_addr *ret) {
        struct in_addr a;

        if (isempty(s) || strlen(s) > 15)
                return -EINVAL;
        /* inet_pton(AF_INET) accepts only the full dotted-quad form, no octal or short forms. */
        if (inet_pton(AF_INET, s, &a) != 1)
                return -EINVAL;
        *ret = a;
        return 0;
}

int net_subnet_parse(const char *s, NetSubnet *ret) {
        char buf[16];
        const char *slash;
        struct in_addr a;
        unsigned prefixlen = 0;
        size_t l;
        int r;

        if (isempty(s))
                return -EINVAL;
        slash = strchr(s, '/');
        if (!slash)
                return -EINVAL;
        l = (size_t) (slash - s);
        if (l == 0 || l >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, s, l);
        buf[l] = 0;
        r = net_address_parse(buf, &a);
        if (r < 0)
                return r;

        const char *p = slash + 1;
        if (*p == 0 || strlen(p) > 2 || (p[0] == '0' && p[1] != 0))
                return -EINVAL;
        for (; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                prefixlen = prefixlen * 10 + (unsigned) (*p - '0');
        }
        if (prefixlen > 32)
                return -EINVAL;
        if ((ntohl(a.s_addr) & ~net_prefix_mask(prefixlen)) != 0)
                return -EINVAL; /* host bits set: "10.0.0.1/24" is an address, not a subnet */

        *ret = (NetSubnet) { .address = a, .prefixlen = prefixlen };
        return 0;
}

const char *net_subnet_format(const NetSubnet *s, char buf[static NET_CIDR_STRING_MAX]) {
        char a[INET_ADDRSTRLEN];

        if (!inet_ntop(AF_INET, &s->address, a, sizeof(a)))
                strcpy(a, "?");
        snprintf(buf, NET_CIDR_STRING_MAX, "%s/%u", a, s->prefixlen);
        return buf;
}

bool net_subnet_contains(const NetSubnet *s, struct in_addr a) {
        uint32_t m = net_prefix_mask(s->prefixlen);

        return (ntohl(a.s_addr) & m) == (ntohl(s->address.s_addr) & m);
}

bool net_subnet_overlaps(const NetSubnet *a, const NetSubnet *b) {
        /* Two prefixes overlap iff they agree on the shorter prefix. */
        uint32_t m = net_prefix_mask(MIN(a->prefixlen, b->prefixlen));

        return (ntohl(a->address.s_addr) & m) == (ntohl(b->address.s_addr) & m);
}

int net_subnet_address(const NetSubnet *s, uint32_t n, struct in_addr *ret) {
        uint32_t size;

        if (s->prefixlen > 30)
                return -ERANGE;
        size = (uint32_t) 1 << (32 - s->prefixlen);
        if (n == 0 || n >= size - 1)
                return -ERANGE;
        ret->s_addr = htonl((ntohl(s->address.s_addr) & net_prefix_mask(s->prefixlen)) + n);
        return 0;
}

struct in_addr net_subnet_host_address(const NetSubnet *s) {
        struct in_addr a = {};

        (void) net_subnet_address(s, 1, &a);
        return a;
}

int net_subnet_pool_allocate(const NetSubnet *pool, const NetSubnet *in_use, size_t n_in_use,
                             NetSubnet *ret) {
        uint32_t base, count;

        if (pool->prefixlen > NET_SUBNET_PREFIXLEN)
                return -EINVAL;
        base = ntohl(pool->address.s_addr) & net_prefix_mask(pool->prefixlen);
        count = (uint32_t) 1 << (NET_SUBNET_PREFIXLEN - pool->prefixlen);

        for (uint64_t i = 0; i < count; i++) {
                NetSubnet c = {
                        .address.s_addr = htonl(base + (uint32_t) (i << (32 - NET_SUBNET_PREFIXLEN))),
                        .prefixlen = NET_SUBNET_PREFIXLEN,
                };
                bool taken = false;

                for (size_t j = 0; j < n_in_use && !taken; j++)
                        taken = net_subnet_overlaps(&c, &in_use[j]);
                if (!taken) {
                        *ret = c;
                        return 0;
                }
        }
        return -ENOSPC;
}

int net_subnet_allocate_address(const NetSubnet *s, uint32_t first, uint32_t last,
                                const struct in_addr *in_use, size_t n_in_use, struct in_addr *ret) {
        if (first < 2 || first > last)
                return -ERANGE;
        for (uint32_t n = first; n <= last; n++) {
                struct in_addr a;
                bool taken = false;
                int r;

                r = net_subnet_address(s, n, &a);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < n_in_use && !taken; j++)
                        taken = in_use[j].s_addr == a.s_addr;
                if (!taken) {
                        *ret = a;
                        return 0;
                }
        }
        return -ENOSPC;
}
