/* IPv4 forwarding switches (/proc/sys/net/ipv4/conf/IF/forwarding) of the caller's network namespace.
 * Forwarding on an interface lets packets *received* there be routed; nft then decides which may pass. */
#pragma once

#include <stdbool.h>

/* ifname: an interface, or "all" (the same as net.ipv4.ip_forward). */
int net_ipv4_forwarding_set(const char *ifname, bool on);
/* > 0 on, 0 off. */
int net_ipv4_forwarding_get(const char *ifname);
