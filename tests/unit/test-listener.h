/* A TCP listener on loopback for tests that need a peer or a port someone holds.  Header-only, like
 * tests.h. */
#pragma once

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

/* A TCP listener on 127.0.0.1:port (0: any); returns the fd, the port in *ret_port. */
static inline int test_tcp_listener(uint16_t port, bool cloexec, uint16_t *ret_port) {
        struct sockaddr_in sa = { .sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                  .sin_port = htons(port) };
        socklen_t l = sizeof(sa);
        int one = 1, fd = socket(AF_INET, SOCK_STREAM | (cloexec ? SOCK_CLOEXEC : 0), 0);

        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 1) < 0 ||
            getsockname(fd, (struct sockaddr *) &sa, &l) < 0) {
                int r = -errno;

                if (fd >= 0)
                        close(fd);
                return r;
        }
        if (ret_port)
                *ret_port = ntohs(sa.sin_port);
        return fd;
}
