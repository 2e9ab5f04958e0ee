/* Per-interface IPv4 forwarding.  Slipway only ever switches forwarding on (for environments given
 * egress); it never switches it off globally, since other software on the host may depend on it and the
 * slipway nft table already drops every forwarded packet of an environment without egress. */
#include "forwarding.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>

#include "fs-util.h"
#include "ifname.h"
#include "macro.h"

static int forwarding_path(const char *ifname, char buf[static 64]) {
        if (!streq(ifname, "all") && !net_ifname_valid(ifname))
                return -EINVAL;
        snprintf(buf, 64, "/proc/sys/net/ipv4/conf/%s/forwarding", ifname);
        return 0;
}

int net_ipv4_forwarding_set(const char *ifname, bool on) {
        _cleanup_close_ int fd = -EBADF;
        char path[64];
        int r;

        r = forwarding_path(ifname, path);
        if (r < 0)
                return r;
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return loop_write(fd, on ? "1\n" : "0\n", 2);
}

int net_ipv4_forwarding_get(const char *ifname) {
        _cleanup_close_ int fd = -EBADF;
        char path[64], c = 0;
        ssize_t n;
        int r;

        r = forwarding_path(ifname, path);
        if (r < 0)
                return r;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = loop_read(fd, &c, 1);
        if (n < 0)
                return (int) n;
        return c == '1';
}
