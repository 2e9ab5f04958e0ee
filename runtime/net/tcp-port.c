/* TCP port probe by bind: the listener that will take the port binds the same way, so what fails here fails
 * there.  Without SO_REUSEPORT on purpose: a program listening with it would otherwise let slipway-proxy
 * share its port and half the ingress traffic would go to it. */
#include "tcp-port.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#include "macro.h"

bool net_tcp_port_busy(unsigned port) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
        _cleanup_close_ int fd = -EBADF;
        int one = 1;

        if (port == 0 || port > UINT16_MAX)
                return false;
        a.sin_port = htons((uint16_t) port);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return false;
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        return bind(fd, (struct sockaddr *) &a, sizeof a) < 0 && errno == EADDRINUSE;
}
