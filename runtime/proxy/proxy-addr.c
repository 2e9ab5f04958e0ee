/* Numeric address parsing for listeners and targets. */
#include "proxy-addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static int parse_port(const char *s, uint16_t *ret) {
        char *end;
        unsigned long p;

        if (!*s || *s == '+' || *s == '-' || *s == ' ')
                return -EINVAL;
        errno = 0;
        p = strtoul(s, &end, 10);
        if (errno || *end || p == 0 || p > 65535)
                return -EINVAL;
        *ret = (uint16_t) p;
        return 0;
}

int proxy_addr_parse(const char *s, ProxyAddr *ret) {
        char host[PROXY_ADDR_STRING_MAX];
        const char *colon;
        uint16_t port;
        ProxyAddr a = {};

        if (!s || strlen(s) >= sizeof(host))
                return -EINVAL;
        if (s[0] == '[') {
                const char *rb = strchr(s, ']');
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &a.sa;
                if (!rb || rb[1] != ':')
                        return -EINVAL;
                memcpy(host, s + 1, (size_t) (rb - s - 1));
                host[rb - s - 1] = 0;
                if (parse_port(rb + 2, &port) < 0 || inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
                        return -EINVAL;
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons(port);
                a.len = sizeof(*in6);
        } else {
                struct sockaddr_in *in4 = (struct sockaddr_in *) &a.sa;
                colon = strrchr(s, ':');
                if (!colon)
                        return -EINVAL;
                memcpy(host, s, (size_t) (colon - s));
                host[colon - s] = 0;
                if (parse_port(colon + 1, &port) < 0 || inet_pton(AF_INET, host, &in4->sin_addr) != 1)
                        return -EINVAL;
                in4->sin_family = AF_INET;
                in4->sin_port = htons(port);
                a.len = sizeof(*in4);
        }
        *ret = a;
        return 0;
}

bool proxy_addr_equal(const ProxyAddr *a, const ProxyAddr *b) {
        return a->len == b->len && memcmp(&a->sa, &b->sa, a->len) == 0;
}

void proxy_addr_ip_string(const struct sockaddr *sa, char buf[static PROXY_ADDR_STRING_MAX]) {
        buf[0] = 0;
        if (sa->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *) sa)->sin_addr, buf, PROXY_ADDR_STRING_MAX);
        else if (sa->sa_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) sa)->sin6_addr, buf,
                          PROXY_ADDR_STRING_MAX);
}
