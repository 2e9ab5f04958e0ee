/* Numeric socket addresses "A.B.C.D:PORT" and "[v6]:PORT" as used in routes; no name resolution,
 * so a route means the same thing on every restart. */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>

#define PROXY_ADDR_STRING_MAX 64U

typedef struct ProxyAddr {
        struct sockaddr_storage sa;
        socklen_t len;
} ProxyAddr;

/* Returns 0, or -EINVAL when s is not a numeric address with a port 1..65535. */
int proxy_addr_parse(const char *s, ProxyAddr *ret);
bool proxy_addr_equal(const ProxyAddr *a, const ProxyAddr *b);
/* Client address without port, for X-Forwarded-For. */
void proxy_addr_ip_string(const struct sockaddr *sa, char buf[static PROXY_ADDR_STRING_MAX]);
