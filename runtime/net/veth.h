/* Instance links: a veth pair whose inner end is eth0 in the instance's netns (address, default route
 * via the bridge's .1, lo and eth0 up) and whose host end is a port of the environment's bridge. */
#pragma once

#include <netinet/in.h>

#define NET_VETH_INNER_IFNAME "eth0"

typedef struct NetVethConfig {
        const char *netns;       /* name under /run/netns; must exist */
        const char *host_ifname; /* host end, a valid interface name (see net_ifname_from_key) */
        const char *bridge;      /* bridge the host end joins; must exist */
        struct in_addr address;  /* eth0's address inside */
        unsigned prefixlen;      /* usually 24 */
        struct in_addr gateway;  /* default route inside; 0.0.0.0: none */
} NetVethConfig;

/* Creates or repairs the pair.  Idempotent: an existing pair whose inner end is eth0 of that netns is
 * kept (a running instance keeps its connections) and converged; a host end leading elsewhere is
 * deleted and recreated. */
int net_veth_setup(const NetVethConfig *c);
/* Deletes the pair by its host end; 0 also when it did not exist. */
int net_veth_delete(const char *host_ifname);

/* Host ends of veths whose name starts with prefix (NULL-terminated array; free each, then the array). */
int net_veth_list(const char *prefix, char ***ret);
