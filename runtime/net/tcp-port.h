/* Whether a TCP port on this host is free for a listener: the one check behind every ingress port Slipway
 * picks or is given.  Invariant: it answers by trying what the listener will do (a bind), not by reading
 * tables, so a socket that is bound but not listening counts too. */
#pragma once

#include <stdbool.h>

/* True when a socket with SO_REUSEADDR (what slipway-proxy's listeners set) cannot be bound to 0.0.0.0:port
 * because another socket holds it: a listener on any address of this network namespace, a dual-stack IPv6
 * one, or a bound socket.  Only EADDRINUSE counts; any other failure (no socket, a port below
 * ip_unprivileged_port_start without privileges) is false, so a caller never skips a port it could use. */
bool net_tcp_port_busy(unsigned port);
