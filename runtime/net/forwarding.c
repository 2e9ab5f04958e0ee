/* Per-interface IPv4 forwarding.  Slipway only ever switches forwarding on (on its own bridges, and for
 * environments given egress on "all"); it never switches it off globally, since other software on the host may depend on it and the
 * slipway nft table already drops every forwarded packet of an environment without egress. */
#include "forwarding.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>

#include "fs-util.h"
#include "ifname.h"
#include "macro.h"

/* The forwarding switch of ifname ("all" or a link), opened with flags. */
static int forwarding_open(const char *ifname, int flags) {
        char path[64];
        int fd;

        if (!streq(ifname, "all") && !net_ifname_valid(ifname))
                return -EINVAL;
        snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/forwarding", ifname);
        fd = open(path, flags | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

int net_ipv4_forwarding_set(const char *ifname, bool on) {
        _cleanup_close_ int fd = -EBADF;

        fd = forwarding_open(ifname, O_WRONLY);
        if (fd < 0)
                return fd;
        return loop_write(fd, on ? "1\n" : "0\n", 2);
}

int net_ipv4_forwarding_get(const char *ifname) {
        _cleanup_close_ int fd = -EBADF;
        char c = 0;
        ssize_t n;

        fd = forwarding_open(ifname, O_RDONLY);
        if (fd < 0)
                return fd;
        n = loop_read(fd, &c, 1);
        if (n < 0)
                return (int) n;
        return c == '1';
}
