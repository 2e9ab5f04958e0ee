/* Unit tests for runtime/net.  Pure parts (subnets, names, hosts file, nft script) always run; the live
 * part (root) builds two environments with real bridges, netns and veths plus a fake "outside" network and
 * probes them with real TCP connections — only to addresses this test created — then tears it all down. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "address.h"
#include "bridge.h"
#include "forwarding.h"
#include "fs-util.h"
#include "hosts-file.h"
#include "ifname.h"
#include "macro.h"
#include "netlink.h"
#include "netns.h"
#include "nft-ruleset.h"
#include "subnet-pool.h"
#include "tcp-port.h"
#include "veth.h"

static bool live_cleanup_needed = false;
static void live_cleanup(void);

#define TEST_ON_FAILURE()                \
        do {                             \
                if (live_cleanup_needed) \
                        live_cleanup();  \
        } while (0)
#include "tests.h"

static struct in_addr A(const char *s) {
        struct in_addr a;
        CHECK(net_address_parse(s, &a) == 0);
        return a;
}

static NetSubnet
S(const char *s) {
        NetSubnet n;
        CHECK(net_subnet_parse(s, &n) == 0);
        return n;
}

static const char *fmt(struct in_addr a) {
        static char buf[4][INET_ADDRSTRLEN];
        static unsigned i;
        i = (i + 1) % 4;
        return inet_ntop(AF_INET, &a, buf[i], INET_ADDRSTRLEN);
}

static void test_subnets(void) {
        static const char *const bad_subnets[] = {
                "10.213.0.1/16", /* host bits */
                "10.213.0.0/33", "10.213.0.0/016", "10.213.0.0",
                "10.213/16",     "10.213.0.0/",    " 10.213.0.0/16",
        };
        char buf[NET_CIDR_STRING_MAX];
        NetSubnet pool = S(NET_SUBNET_POOL_DEFAULT), s, in_use[3];
        struct in_addr a, used[2];

        CHECK(streq(net_subnet_format(&pool, buf), "10.213.0.0/16"));
        for (size_t i = 0; i < ELEMENTSOF(bad_subnets); i++)
                if (net_subnet_parse(bad_subnets[i], &s) != -EINVAL)
                        TEST_FAIL("net_subnet_parse(\"%s\") accepted", bad_subnets[i]);
        CHECK(net_subnet_parse("0.0.0.0/0", &s) == 0 && s.prefixlen == 0);
        CHECK(net_address_parse("010.1.1.1", &a) == -EINVAL || ntohl(a.s_addr) == 0x0a010101);

        /* Lowest free /24, deterministic, skipping anything overlapping the in-use list. */
        CHECK(net_subnet_pool_allocate(&pool, NULL, 0, &s) == 0);
        CHECK(streq(net_subnet_format(&s, buf), "10.213.0.0/24"));
        in_use[0] = S("10.213.0.0/24");
        in_use[1] = S("10.213.1.128/25"); /* partial overlap: that /24 is taken too */
        in_use[2] = S("10.213.3.0/24");
        CHECK(net_subnet_pool_allocate(&pool, in_use, 3, &s) == 0);
        CHECK(streq(net_subnet_format(&s, buf), "10.213.2.0/24"));
        CHECK(net_subnet_pool_allocate(&pool, in_use, 3, &s) == 0);
        CHECK(streq(net_subnet_format(&s, buf), "10.213.2.0/24"));
        in_use[0] = S("10.0.0.0/8"); /* covers the whole pool */
        CHECK(net_subnet_pool_allocate(&pool, in_use, 1, &s) == -ENOSPC);
        s = S("10.213.7.0/24");
        CHECK(net_subnet_pool_allocate(&s, NULL, 0, &s) == 0 && s.prefixlen == 24);
        s = S("10.213.7.0/25");
        CHECK(net_subnet_pool_allocate(&s, NULL, 0, &s) == -EINVAL);
        pool = S("192.168.254.0/23");
        in_use[0] = S("192.168.254.0/24");
        in_use[1] = S("192.168.255.0/24");
        CHECK(net_subnet_pool_allocate(&pool, in_use, 2, &s) == -ENOSPC);

        s = S("10.213.5.0/24");
        a = net_subnet_host_address(&s);
        CHECK(streq(fmt(a), "10.213.5.1"));
        CHECK(net_subnet_contains(&s, a));
        CHECK(!net_subnet_contains(&s, A("10.213.6.1")));
        CHECK(net_subnet_address(&s, 255, &a) == -ERANGE); /* broadcast */
        CHECK(net_subnet_address(&s, 0, &a) == -ERANGE);
        used[0] = A("10.213.5.2");
        used[1] = A("10.213.5.4");
        CHECK(net_subnet_allocate_address(&s, 2, 99, used, 2, &a) == 0 && streq(fmt(a), "10.213.5.3"));
        CHECK(net_subnet_allocate_address(&s, 1, 99, NULL, 0, &a) == -ERANGE); /* .1 is the host's */
        CHECK(net_subnet_allocate_address(&s, 2, 2, used, 2, &a) == -ENOSPC);
        CHECK(net_subnet_allocate_address(&s, 200, 255, NULL, 0, &a) == 0 && streq(fmt(a), "10.213.5.200"));
        used[0] = A("10.213.5.254");
        CHECK(net_subnet_allocate_address(&s, 254, 255, used, 1, &a) == -ERANGE);
}

static void test_ifname(void) {
        char a[IFNAMSIZ], b[IFNAMSIZ], c[IFNAMSIZ];

        CHECK(net_ifname_from_key("sw-", "shop/production", a) == 0);
        CHECK(net_ifname_from_key("sw-", "shop/production", b) == 0);
        CHECK(net_ifname_from_key("sw-", "shop/development", c) == 0);
        CHECK(streq(a, b) && !streq(a, c));
        CHECK(strlen(a) == 11 && net_ifname_valid(a));
        CHECK(net_ifname_from_key("toolongprefix", "x", a) == -EINVAL);
        CHECK(net_ifname_from_key("a b", "x", a) == -EINVAL);
        CHECK(!net_ifname_valid("abcdefghijklmnop"));
        CHECK(net_ifname_valid("abcdefghijklmno"));
        CHECK(!net_ifname_valid("a/b") && !net_ifname_valid("a\"b") && !net_ifname_valid("") &&
              !net_ifname_valid(".."));
        CHECK(netns_name_valid("swt-1-a1") && !netns_name_valid("../x") && !netns_name_valid("a/b"));
}

static void test_hosts_file(void) {
        char dir[] = "/tmp/test-net-XXXXXX";
        _cleanup_free_ char *path = NULL, *data = NULL, *text = NULL;
        NetHostsEntry e[] = {
                { "orders", A("10.213.5.10") },
                { "web", A("10.213.5.11") },
                { "orders.shop", A("10.213.5.10") },
        };
        NetHostsEntry bad1[] = { { "x\n1.2.3.4 evil", A("10.213.5.10") } };
        NetHostsEntry bad2[] = { { "-x", A("10.213.5.10") } };
        NetHostsEntry bad3[] = { { "x", A("0.0.0.0") } };
        size_t size;

        CHECK(mkdtemp(dir));
        path = path_join(dir, "hosts");
        CHECK(path);
        CHECK_OK(net_hosts_file_write(path, "orders-7f3a", e, ELEMENTSOF(e)));
        CHECK_OK(read_full_file(path, &data, &size));
        CHECK(strstr(data, "127.0.0.1\tlocalhost\n"));
        CHECK(strstr(data, "127.0.1.1\torders-7f3a\n"));
        CHECK(strstr(data, "\n10.213.5.10\torders\n10.213.5.11\tweb\n10.213.5.10\torders.shop\n"));
        struct stat st;
        CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644);

        /* Rejected names leave the previous file untouched. */
        CHECK(net_hosts_file_write(path, NULL, bad1, 1) == -EINVAL);
        CHECK(net_hosts_file_write(path, NULL, bad2, 1) == -EINVAL);
        CHECK(net_hosts_file_write(path, NULL, bad3, 1) == -EINVAL);
        CHECK(net_hosts_file_write(path, "bad_name", e, 1) == -EINVAL);
        free(data);
        data = NULL;
        CHECK_OK(read_full_file(path, &data, &size));
        CHECK(strstr(data, "orders-7f3a"));

        CHECK_OK(net_hosts_file_format(NULL, NULL, 0, &text));
        CHECK(!strstr(text, "127.0.1.1"));
        CHECK(rm_rf(dir) >= 0);
}

static void test_nft_format(void) {
        struct in_addr svc_a[] = { A("10.213.0.10"), A("10.213.0.11") };
        NetRulesetBridge b[] = {
                { .name = "sw-aaaa",
                  .subnet = S("10.213.0.0/24"),
                  .service_addresses = svc_a,
                  .n_service_addresses = 2,
                  .egress = false },
                { .name = "sw-bbbb", .subnet = S("10.213.1.0/24"), .egress = true },
        };
        NetRuleset rs = { .bridges = b, .n_bridges = 2 };
        _cleanup_free_ char *script = NULL, *empty = NULL;

        CHECK_OK(net_ruleset_format(&rs, &script));
        CHECK(strstr(script, "delete table inet slipway\n"));
        CHECK(strstr(script, "iifname \"sw-aaaa\" ip daddr { 10.213.0.10, 10.213.0.11 } accept"));
        CHECK(strstr(script, "iifname \"sw-bbbb\" oifname \"sw-bbbb\" accept"));
        CHECK(strstr(script, "\t\tiifname \"sw-bbbb\" ip saddr 10.213.1.0/24 accept\n")); /* egress */
        CHECK(!strstr(script, "\t\tiifname \"sw-aaaa\" ip saddr"));                       /* none */
        CHECK(strstr(script, "ip saddr 10.213.1.0/24 oifname != \"swb*\" oifname != \"sw-*\" masquerade"));
        /* Another state dir's bridges are left to that state dir's table. */
        CHECK(strstr(script,
                     "iifname != \"lo\" iifname != \"swb*\" iifname != \"sw-*\" ip daddr @subnets drop"));
        CHECK(!strstr(script, "10.213.0.0/24 oifname"));

        b[1].name = "sw-aaaa"; /* duplicate */
        CHECK(net_ruleset_format(&rs, &script) == -EINVAL);
        b[1].name = "sw\"; flush ruleset";
        CHECK(net_ruleset_format(&rs, &script) == -EINVAL);
        b[1].name = "sw-bbbb";
        b[1].subnet = S("10.213.0.0/16"); /* overlaps sw-aaaa */
        CHECK(net_ruleset_format(&rs, &script) == -EINVAL);
        rs.table = "bad-name";
        CHECK(net_ruleset_format(&rs, &script) == -EINVAL);

        rs = (NetRuleset) { .table = "t" };
        CHECK_OK(net_ruleset_format(&rs, &empty));
        CHECK(!strstr(empty, "elements"));
}

/* ---- live part ------------------------------------------------------------------------------------ */

#define PORT_NS 18082
#define PROBE_TIMEOUT_MS 1000
/* A first SYN or ARP request can be lost while a new port settles; the kernel resends after 1 s.
 * Probes expected to connect therefore wait longer than probes expected to be refused or dropped. */
#define REACH_TIMEOUT_MS 5000

static struct {
        char table[NET_NFT_TABLE_NAME_MAX + 1];
        char br_a[IFNAMSIZ], br_b[IFNAMSIZ], br_out[IFNAMSIZ];
        char ve_a1[IFNAMSIZ], ve_a2[IFNAMSIZ], ve_b1[IFNAMSIZ], ve_out[IFNAMSIZ];
        char ns_a1[32], ns_a2[32], ns_b1[32], ns_out[32];
        NetSubnet sub_a, sub_b, sub_out;
        struct in_addr svc_a, svc_b, ip_a1, ip_a2, ip_b1, ip_out;
        int fds[8];
        size_t n_fds;
        uint16_t port_svc_a, port_svc_b, port_api; /* host listeners: ports picked by the kernel */
        int ip_forward_before; /* egress switches host forwarding on; the test puts it back */
} T;

static void live_cleanup(void) {
        /* Sockets pin their namespace: close them first so the namespaces really go away. */
        for (size_t i = 0; i < T.n_fds; i++)
                safe_close(T.fds[i]);
        T.n_fds = 0;
        (void) netns_delete(T.ns_a1);
        (void) netns_delete(T.ns_a2);
        (void) netns_delete(T.ns_b1);
        (void) netns_delete(T.ns_out);
        (void) net_veth_delete(T.ve_a1);
        (void) net_veth_delete(T.ve_a2);
        (void) net_veth_delete(T.ve_b1);
        (void) net_veth_delete(T.ve_out);
        (void) net_bridge_delete(T.br_a);
        (void) net_bridge_delete(T.br_b);
        (void) net_bridge_delete(T.br_out);
        (void) net_ruleset_remove(T.table, NULL);
        if (T.ip_forward_before == 0)
                (void) net_ipv4_forwarding_set("all", false);
        live_cleanup_needed = false;
}

static void on_signal(int sig) {
        live_cleanup();
        signal(sig, SIG_DFL);
        raise(sig);
}

static int listen_on(struct in_addr a, uint16_t port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr = a, .sin_port = htons(port) };
        int fd, one = 1;

        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        CHECK(fd >= 0);
        CHECK(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0);
        CHECK(bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0);
        CHECK(listen(fd, 16) == 0);
        CHECK(T.n_fds < ELEMENTSOF(T.fds));
        T.fds[T.n_fds++] = fd;
        return fd;
}

static uint16_t local_port(int fd) {
        struct sockaddr_in sa = {};
        socklen_t l = sizeof(sa);

        CHECK(getsockname(fd, (struct sockaddr *) &sa, &l) == 0);
        return ntohs(sa.sin_port);
}

/* A listening socket inside a netns: switch this (single-threaded) test there and back. */
static int listen_in_netns(const char *ns, struct in_addr a, uint16_t port) {
        _cleanup_close_ int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        _cleanup_close_ int target = netns_open(ns);
        int fd;

        CHECK(self >= 0 && target >= 0);
        CHECK_OK(netns_enter(target));
        fd = listen_on(a, port);
        CHECK_OK(netns_enter(self));
        return fd;
}

typedef struct Probe {
        struct in_addr to;
        uint16_t port;
        int timeout_ms;
} Probe;

static int probe_connect(void *userdata) {
        Probe *p = userdata;
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr = p->to, .sin_port = htons(p->port) };
        struct pollfd pfd;
        int fd, err = 0;
        socklen_t l = sizeof(err);

        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0) {
                safe_close(fd);
                return 0;
        }
        if (errno != EINPROGRESS) {
                err = errno;
                safe_close(fd);
                return -err;
        }
        pfd = (struct pollfd) { .fd = fd, .events = POLLOUT };
        if (poll(&pfd, 1, p->timeout_ms) <= 0) {
                safe_close(fd);
                return -ETIMEDOUT;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
                err = errno;
        safe_close(fd);
        return -err;
}

/* Connects from inside netns `ns`; 0 when the TCP handshake completed, -errno otherwise. */
static int probe_timeout(const char *ns, struct in_addr to, uint16_t port, int timeout_ms) {
        Probe p = { .to = to, .port = port, .timeout_ms = timeout_ms };
        int r = netns_run(ns, probe_connect, &p);

        fprintf(stderr, "  probe %s → %s:%u: %s\n", ns, fmt(to), port, r == 0 ? "connected" : strerror(-r));
        return r;
}

static int probe(const char *ns, struct in_addr to, uint16_t port) {
        return probe_timeout(ns, to, port, PROBE_TIMEOUT_MS);
}

/* For probes that must connect. */
static int reach(const char *ns, struct in_addr to, uint16_t port) {
        return probe_timeout(ns, to, port, REACH_TIMEOUT_MS);
}

/* Takes one pending connection and returns its peer address. */
static struct in_addr accept_peer(int listen_fd) {
        struct sockaddr_in sa = {};
        socklen_t l = sizeof(sa);
        struct pollfd pfd = { .fd = listen_fd, .events = POLLIN };
        int fd;

        CHECK(poll(&pfd, 1, REACH_TIMEOUT_MS) == 1);
        fd = accept4(listen_fd, (struct sockaddr *) &sa, &l, SOCK_CLOEXEC);
        CHECK(fd >= 0);
        safe_close(fd);
        return sa.sin_addr;
}

static void drain(int listen_fd) {
        int fd;
        while ((fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
                safe_close(fd);
}

static void live_names(void) {
        /* Each link this test makes, named from a key unique to this run. */
        const struct {
                char *ifname;
                const char *prefix, *what;
        } links[] = {
                { T.br_a, "swt", "A" },     { T.br_b, "swt", "B" },   { T.br_out, "swt", "out" },
                { T.ve_a1, "swv", "a1" },   { T.ve_a2, "swv", "a2" }, { T.ve_b1, "swv", "b1" },
                { T.ve_out, "swv", "out" },
        };
        _cleanup_free_ NetSubnet *host = NULL;
        NetSubnet pool = S("10.254.0.0/16"), *in_use;
        char key[64];
        size_t n = 0;
        pid_t pid = getpid();

        snprintf(T.table, sizeof(T.table), "slipway_test_%d", (int) pid);
        for (size_t i = 0; i < ELEMENTSOF(links); i++) {
                snprintf(key, sizeof(key), "test-net/%d/%s", (int) pid, links[i].what);
                CHECK_OK(net_ifname_from_key(links[i].prefix, key, links[i].ifname));
        }
        snprintf(T.ns_a1, sizeof(T.ns_a1), "swt-%d-a1", (int) pid);
        snprintf(T.ns_a2, sizeof(T.ns_a2), "swt-%d-a2", (int) pid);
        snprintf(T.ns_b1, sizeof(T.ns_b1), "swt-%d-b1", (int) pid);
        snprintf(T.ns_out, sizeof(T.ns_out), "swt-%d-out", (int) pid);

        /* Three subnets nobody on this host uses yet (other test runs included). */
        CHECK_OK(net_host_subnets(&host, &n));
        in_use = calloc(n + 3, sizeof(NetSubnet));
        CHECK(in_use);
        memcpy(in_use, host, n * sizeof(NetSubnet));
        CHECK_OK(net_subnet_pool_allocate(&pool, in_use, n, &T.sub_a));
        in_use[n++] = T.sub_a;
        CHECK_OK(net_subnet_pool_allocate(&pool, in_use, n, &T.sub_b));
        in_use[n++] = T.sub_b;
        CHECK_OK(net_subnet_pool_allocate(&pool, in_use, n, &T.sub_out));
        free(in_use);

        CHECK_OK(net_subnet_address(&T.sub_a, 10, &T.svc_a));
        CHECK_OK(net_subnet_address(&T.sub_b, 10, &T.svc_b));
        CHECK_OK(net_subnet_address(&T.sub_a, 100, &T.ip_a1));
        CHECK_OK(net_subnet_address(&T.sub_a, 101, &T.ip_a2));
        CHECK_OK(net_subnet_address(&T.sub_b, 100, &T.ip_b1));
        CHECK_OK(net_subnet_address(&T.sub_out, 2, &T.ip_out));
}

static void apply_ruleset(void) {
        NetRulesetBridge b[] = {
                { .name = T.br_a,
                  .subnet = T.sub_a,
                  .service_addresses = &T.svc_a,
                  .n_service_addresses = 1 },
                { .name = T.br_b,
                  .subnet = T.sub_b,
                  .service_addresses = &T.svc_b,
                  .n_service_addresses = 1,
                  .egress = true },
        };
        NetRuleset rs = { .table = T.table, .bridges = b, .n_bridges = ELEMENTSOF(b) };
        _cleanup_free_ char *error = NULL;
        int r;

        r = net_ruleset_apply(&rs, &error);
        if (r < 0)
                fprintf(stderr, "nft: %s\n", strempty(error));
        CHECK_OK(r);
}

static void setup_networks(void) {
        struct {
                const char *ns, *veth, *bridge;
                struct in_addr ip;
                const NetSubnet *subnet;
        } inst[] = {
                { T.ns_a1, T.ve_a1, T.br_a, T.ip_a1, &T.sub_a },
                { T.ns_a2, T.ve_a2, T.br_a, T.ip_a2, &T.sub_a },
                { T.ns_b1, T.ve_b1, T.br_b, T.ip_b1, &T.sub_b },
                { T.ns_out, T.ve_out, T.br_out, T.ip_out, &T.sub_out },
        };

        CHECK_OK(net_bridge_create(T.br_a, &T.sub_a));
        CHECK_OK(net_bridge_create(T.br_b, &T.sub_b));
        CHECK_OK(net_bridge_create(T.br_out, &T.sub_out)); /* plays "the outside network" */
        CHECK_OK(net_service_addresses_sync(T.br_a, &T.svc_a, 1));
        CHECK_OK(net_service_address_add(T.br_b, T.svc_b));
        CHECK_OK(net_service_address_add(T.br_b, T.svc_b));

        for (size_t i = 0; i < ELEMENTSOF(inst); i++) {
                NetVethConfig c = {
                        .netns = inst[i].ns,
                        .host_ifname = inst[i].veth,
                        .bridge = inst[i].bridge,
                        .address = inst[i].ip,
                        .prefixlen = inst[i].subnet->prefixlen,
                        .gateway = net_subnet_host_address(inst[i].subnet),
                };
                CHECK_OK(netns_create(inst[i].ns));
                CHECK(netns_exists(inst[i].ns) > 0);
                CHECK_OK(net_veth_setup(&c));
        }

        /* Act like a host with forwarding on (Docker, a router…): isolation must then come from nft,
         * and a broken rule shows up as a successful probe. Per interface, so only our test links. */
        CHECK_OK(net_ipv4_forwarding_set(T.br_a, true));
        CHECK_OK(net_ipv4_forwarding_set(T.br_b, true));
        CHECK_OK(net_ipv4_forwarding_set(T.br_out, true));
}

static char *snapshot(void) {
        char cmd[1024], *text = NULL;
        size_t size = 0;
        FILE *out = open_memstream(&text, &size);

        CHECK(out);
        snprintf(cmd, sizeof(cmd),
                 "ip -o -4 addr show dev %s; ip -o -4 addr show dev %s;"
                 "ip -o link show dev %s | cut -d' ' -f2-9;"
                 "ip netns exec %s ip -o -4 addr; ip netns exec %s ip -4 route; ip netns exec %s ip -o link;"
                 "nft list table inet %s",
                 T.br_a, T.br_b, T.ve_a1, T.ns_a1, T.ns_a1, T.ns_b1, T.table);
        FILE *p = popen(cmd, "r");
        CHECK(p);
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
                fwrite(buf, 1, n, out);
        CHECK(pclose(p) == 0);
        fclose(out);
        return text;
}

static size_t list_len(char **l) {
        size_t n = 0;
        while (l && l[n])
                n++;
        return n;
}

static bool list_has(char **l, const char *s) {
        for (; l && *l; l++)
                if (streq(*l, s))
                        return true;
        return false;
}

static void check_listed(bool present) {
        _cleanup_(net_name_list_freep) char **bridges = NULL, **veths = NULL, **ns = NULL;
        char prefix[32];

        snprintf(prefix, sizeof(prefix), "swt-%d-", (int) getpid());
        CHECK_OK(net_bridge_list("swt", &bridges));
        CHECK_OK(net_veth_list("swv", &veths));
        CHECK_OK(netns_list(prefix, &ns));
        CHECK(list_has(bridges, T.br_a) == present && list_has(bridges, T.br_b) == present);
        CHECK(list_has(veths, T.ve_a1) == present && !list_has(veths, T.br_a));
        CHECK(list_len(ns) == (present ? 4 : 0));
}

static void check_bridge_mac_fixed(const char *br) {
        char path[128];
        _cleanup_free_ char *t = NULL;
        size_t n;

        /* 3 = NET_ADDR_SET: our MAC, which the kernel keeps whatever ports come and go. */
        snprintf(path, sizeof(path), "/sys/class/net/%s/addr_assign_type", br);
        CHECK_OK(read_full_file(path, &t, &n));
        CHECK(t[0] == '3');
}

static void check_isolation(int l_svc_a, int l_svc_b, int l_api, int l_out) {
        struct in_addr gw_a = net_subnet_host_address(&T.sub_a), gw_b = net_subnet_host_address(&T.sub_b);
        struct in_addr host_out = net_subnet_host_address(&T.sub_out);

        /* Own environment: its service address on the host, and a peer instance on the same bridge. */
        CHECK(reach(T.ns_a1, T.svc_a, T.port_svc_a) == 0);
        CHECK(reach(T.ns_a1, T.ip_a2, PORT_NS) == 0);
        CHECK(reach(T.ns_b1, T.svc_b, T.port_svc_b) == 0);
        /* Not: another environment's service address (weak host model), the host's API port via any
         * bridge address, another environment's instance, the outside without egress. */
        CHECK(probe(T.ns_a1, T.svc_b, T.port_svc_b) < 0);
        CHECK(probe(T.ns_a1, gw_a, T.port_api) < 0);
        CHECK(probe(T.ns_a1, gw_b, T.port_api) < 0);
        CHECK(probe(T.ns_a1, T.ip_b1, PORT_NS) < 0);
        CHECK(probe(T.ns_b1, T.ip_a1, PORT_NS) < 0);
        CHECK(probe(T.ns_a1, T.ip_out, PORT_NS) < 0);
        CHECK(probe(T.ns_b1, T.svc_a, T.port_svc_a) < 0);
        /* Nor can the outside reach into an environment (it has a route via the host). */
        CHECK(probe(T.ns_out, T.svc_a, T.port_svc_a) < 0);
        CHECK(probe(T.ns_out, T.ip_b1, PORT_NS) < 0);
        /* B has egress: it reaches the outside, masqueraded behind the host's address there. */
        drain(l_out);
        CHECK(reach(T.ns_b1, T.ip_out, PORT_NS) == 0);
        CHECK(accept_peer(l_out).s_addr == host_out.s_addr);
        drain(l_svc_a);
        drain(l_svc_b);
        drain(l_api);
}

static int test_live(void) {
        struct sigaction sa = { .sa_handler = on_signal };
        _cleanup_free_ char *snap1 = NULL, *snap2 = NULL;
        struct in_addr any = {};
        int l_svc_a, l_svc_b, l_api, l_out, r;

        if (geteuid() != 0) {
                fprintf(stderr, "live network tests need root; skipped\n");
                return 77;
        }
        live_names();
        T.ip_forward_before = net_ipv4_forwarding_get("all");
        live_cleanup_needed = true;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);

        r = netns_create(T.ns_a1);
        if (r < 0) {
                fprintf(stderr, "cannot create a network namespace (%s); skipped\n", strerror(-r));
                live_cleanup();
                return 77;
        }

        setup_networks();

        l_svc_a = listen_on(T.svc_a, 0);
        l_svc_b = listen_on(T.svc_b, 0);
        l_api = listen_on(any, 0); /* stands for slipwayd's API port, bound to every host address */
        T.port_svc_a = local_port(l_svc_a);
        T.port_svc_b = local_port(l_svc_b);
        T.port_api = local_port(l_api);
        (void) listen_in_netns(T.ns_a2, T.ip_a2, PORT_NS);
        (void) listen_in_netns(T.ns_a1, T.ip_a1, PORT_NS);
        (void) listen_in_netns(T.ns_b1, T.ip_b1, PORT_NS);
        l_out = listen_in_netns(T.ns_out, T.ip_out, PORT_NS);

        /* Control: without the table the weak host model and forwarding let A reach B.  This proves the
         * probes below can fail for the right reason. */
        fprintf(stderr, "without the slipway table:\n");
        CHECK(reach(T.ns_a1, T.svc_b, T.port_svc_b) == 0);
        CHECK(reach(T.ns_a1, T.ip_b1, PORT_NS) == 0);
        CHECK(reach(T.ns_a1, net_subnet_host_address(&T.sub_a), T.port_api) == 0);
        CHECK(reach(T.ns_out, T.svc_a, T.port_svc_a) == 0);
        CHECK(reach(T.ns_a1, T.ip_out, PORT_NS) == 0);
        CHECK(accept_peer(l_out).s_addr == T.ip_a1.s_addr); /* not masqueraded: no egress rule yet */
        drain(l_svc_a);
        drain(l_svc_b);
        drain(l_api);

        fprintf(stderr, "with the slipway table:\n");
        apply_ruleset();
        CHECK(net_ruleset_exists(T.table) > 0);
        CHECK(net_ipv4_forwarding_get("all") == 1); /* B has egress */
        check_listed(true);
        check_bridge_mac_fixed(T.br_a);
        check_isolation(l_svc_a, l_svc_b, l_api, l_out);
        snap1 = snapshot();

        /* Idempotence: applying everything again (as slipwayd does at start) changes nothing. */
        fprintf(stderr, "after re-applying everything:\n");
        apply_ruleset();
        setup_networks();
        snap2 = snapshot();
        if (!streq(snap1, snap2))
                fprintf(stderr, "--- first:\n%s\n--- second:\n%s\n", snap1, snap2);
        CHECK(streq(snap1, snap2));
        check_isolation(l_svc_a, l_svc_b, l_api, l_out);

        /* A service address removed from the bridge stops answering. */
        CHECK_OK(net_service_addresses_sync(T.br_a, NULL, 0));
        CHECK(probe(T.ns_a1, T.svc_a, T.port_svc_a) < 0);
        CHECK_OK(net_service_address_remove(T.br_a, T.svc_a));

        /* A veth whose namespace was replaced is rebuilt, not left dangling. */
        {
                NetVethConfig c = { .netns = T.ns_a2,
                                    .host_ifname = T.ve_a2,
                                    .bridge = T.br_a,
                                    .address = T.ip_a2,
                                    .prefixlen = 24,
                                    .gateway = net_subnet_host_address(&T.sub_a) };
                CHECK_OK(netns_delete(T.ns_a2));
                CHECK(netns_exists(T.ns_a2) == 0);
                CHECK(netns_create(T.ns_a2) == 1);
                CHECK(netns_create(T.ns_a2) == 0);
                CHECK_OK(net_veth_setup(&c));
                CHECK(listen_in_netns(T.ns_a2, T.ip_a2, PORT_NS) >= 0);
                CHECK(reach(T.ns_a1, T.ip_a2, PORT_NS) == 0);
        }

        /* Teardown leaves nothing behind. */
        live_cleanup();
        CHECK(net_bridge_exists(T.br_a) == 0 && net_bridge_exists(T.br_b) == 0 &&
              net_bridge_exists(T.br_out) == 0);
        CHECK(netns_exists(T.ns_a1) == 0 && netns_exists(T.ns_b1) == 0 && netns_exists(T.ns_out) == 0);
        CHECK(net_ruleset_exists(T.table) == 0);
        check_listed(false);
        CHECK(net_veth_delete(T.ve_a1) == 0);
        CHECK(net_ruleset_remove(T.table, NULL) == 0); /* twice is fine */
        CHECK(netns_delete(T.ns_a1) == 0);
        CHECK(net_bridge_delete(T.br_a) == 0);
        return 0;
}

/* A TCP socket on addr:0 (an unused port the kernel picks), listening or only bound; its port. */
static int socket_on_any_port(const char *addr, bool listening, uint16_t *ret_port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr = A(addr) };
        socklen_t l = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        CHECK(fd >= 0);
        CHECK(bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0);
        CHECK(!listening || listen(fd, 1) == 0);
        CHECK(getsockname(fd, (struct sockaddr *) &sa, &l) == 0);
        *ret_port = ntohs(sa.sin_port);
        return fd;
}

/* A port is busy for a listener on 0.0.0.0 while any socket holds it: listening on the wildcard or on one
 * address, or only bound; free again once that socket is closed. */
static void test_tcp_port_busy(void) {
        const char *addrs[] = { "0.0.0.0", "127.0.0.1" };
        uint16_t port;
        int fd;

        for (size_t i = 0; i < ELEMENTSOF(addrs); i++)
                for (int listening = 0; listening < 2; listening++) {
                        fd = socket_on_any_port(addrs[i], listening, &port);
                        CHECK(net_tcp_port_busy(port));
                        safe_close(fd);
                        CHECK(!net_tcp_port_busy(port));
                }
        CHECK(!net_tcp_port_busy(0) && !net_tcp_port_busy(70000));
}

int main(void) {
        test_tcp_port_busy();
        test_subnets();
        test_ifname();
        test_hosts_file();
        test_nft_format();
        return test_live();
}
