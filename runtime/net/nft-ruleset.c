/* Generates and applies a state dir's nft table (inet slipway_<id>) with libnftables.  Policy, per environment bridge B:
 *   input:   from B only replies and packets to B's own service addresses; everything else to any host
 *            address is refused (the weak host model would otherwise expose other environments' service
 *            addresses, .1 of every bridge and the API port); nobody but lo and the bridges reaches the
 *            environment subnets.
 *            Packets arriving on another Slipway bridge are that bridge's table's business.
 *   forward: B to B is bridged traffic (seen here with br_netfilter) and passes; B to any other bridge is
 *            refused; B to anywhere else only with egress (then masqueraded); into B only replies.
 * Packets from containers are rejected (fast failure inside the container), packets from outside dropped.
 * The table is deleted and re-created in one batch ("table; delete table; table {…}"), which is atomic
 * and works whether or not it existed. */
#include "nft-ruleset.h"

#include <arpa/inet.h>
#include <errno.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forwarding.h"
#include "ifname.h"
#include "json-util.h"
#include "macro.h"
#include "netlink.h"
#include "string-util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct nft_ctx *, nft_ctx_free);

/* TCP gets a reset (looks like a closed port, and is not subject to the kernel's ICMP rate limit),
 * anything else an ICMP administratively-prohibited. */
#define REJECT_RULES(match)                                      \
        "\t\t" match " meta l4proto tcp reject with tcp reset\n" \
        "\t\t" match " reject with icmpx admin-prohibited\n"

bool net_nft_table_name_valid(const char *name) {
        size_t l;

        if (isempty(name))
                return false;
        l = strlen(name);
        if (l > NET_NFT_TABLE_NAME_MAX)
                return false;
        if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z')))
                return false;
        for (size_t i = 1; i < l; i++)
                if (!ascii_isalnum(name[i]) && name[i] != '_')
                        return false;
        return true;
}

static const char *addr_str(struct in_addr a, char buf[static INET_ADDRSTRLEN]) {
        return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN) ?: "0.0.0.0";
}

static int ruleset_validate(const NetRuleset *rs, const char *table) {
        if (!net_nft_table_name_valid(table))
                return -EINVAL;
        for (size_t i = 0; i < rs->n_bridges; i++) {
                const NetRulesetBridge *b = &rs->bridges[i];

                if (!net_ifname_valid(b->name) || streq(b->name, "lo"))
                        return -EINVAL;
                if (b->subnet.prefixlen == 0 || b->subnet.prefixlen > 30 ||
                    (ntohl(b->subnet.address.s_addr) & ~net_prefix_mask(b->subnet.prefixlen)) != 0)
                        return -EINVAL;
                for (size_t j = 0; j < b->n_service_addresses; j++)
                        if (b->service_addresses[j].s_addr == INADDR_ANY)
                                return -EINVAL;
                for (size_t j = 0; j < i; j++)
                        if (streq(rs->bridges[j].name, b->name) ||
                            net_subnet_overlaps(&rs->bridges[j].subnet, &b->subnet))
                                return -EINVAL; /* nft refuses duplicate and overlapping set elements */
        }
        return 0;
}

static void emit_set_elements(FILE *f, const NetRuleset *rs, bool subnets) {
        char buf[NET_CIDR_STRING_MAX];

        if (rs->n_bridges == 0)
                return;
        fputs("\t\telements = { ", f);
        for (size_t i = 0; i < rs->n_bridges; i++) {
                if (i > 0)
                        fputs(", ", f);
                if (subnets)
                        fputs(net_subnet_format(&rs->bridges[i].subnet, buf), f);
                else
                        fprintf(f, "\"%s\"", rs->bridges[i].name);
        }
        fputs(" }\n", f);
}

int net_ruleset_format(const NetRuleset *rs, char **ret_script) {
        const char *table = rs->table ?: NET_NFT_TABLE_DEFAULT;
        _cleanup_free_ char *script = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        char a[INET_ADDRSTRLEN], cidr[NET_CIDR_STRING_MAX];
        size_t size = 0;
        int r;

        r = ruleset_validate(rs, table);
        if (r < 0)
                return r;

        f = open_memstream(&script, &size);
        if (!f)
                return -ENOMEM;

        fprintf(f, "table inet %s {}\ndelete table inet %s\ntable inet %s {\n", table, table, table);

        fputs("\tset bridges {\n\t\ttype ifname\n", f);
        emit_set_elements(f, rs, false);
        fputs("\t}\n", f);
        fputs("\tset subnets {\n\t\ttype ipv4_addr\n\t\tflags interval\n", f);
        emit_set_elements(f, rs, true);
        fputs("\t}\n", f);

        fputs("\tchain input {\n"
              "\t\ttype filter hook input priority filter; policy accept;\n"
              "\t\tiifname @bridges ct state established,related accept\n",
              f);
        for (size_t i = 0; i < rs->n_bridges; i++) {
                const NetRulesetBridge *b = &rs->bridges[i];

                if (b->n_service_addresses == 0)
                        continue;
                fprintf(f, "\t\tiifname \"%s\" ip daddr { ", b->name);
                for (size_t j = 0; j < b->n_service_addresses; j++)
                        fprintf(f, "%s%s", j > 0 ? ", " : "", addr_str(b->service_addresses[j], a));
                fputs(" } accept\n", f);
        }
        /* Other Slipway bridges (another state dir's, or this host's old shared table's) are policed by
         * their own table: dropping here what arrives on them would drop that daemon's replies and service
         * traffic whenever a subnet this table still lists (a stale table) is now someone else's. */
        fputs(REJECT_RULES("iifname @bridges") "\t\tiifname != \"lo\" " NET_NFT_NOT_A_BRIDGE(
                      "iifname") " ip daddr @subnets drop\n"
                                 "\t}\n",
              f);

        fputs("\tchain forward {\n"
              "\t\ttype filter hook forward priority filter; policy accept;\n",
              f);
        for (size_t i = 0; i < rs->n_bridges; i++)
                fprintf(f, "\t\tiifname \"%s\" oifname \"%s\" accept\n", rs->bridges[i].name,
                        rs->bridges[i].name);
        fputs(REJECT_RULES("iifname @bridges oifname @bridges"), f);
        /* Egress only with the environment's own source addresses: a container cannot put spoofed
         * packets on the outside network. */
        for (size_t i = 0; i < rs->n_bridges; i++)
                if (rs->bridges[i].egress)
                        fprintf(f, "\t\tiifname \"%s\" ip saddr %s accept\n", rs->bridges[i].name,
                                net_subnet_format(&rs->bridges[i].subnet, cidr));
        fputs(REJECT_RULES("iifname @bridges") "\t\toifname @bridges ct state established,related accept\n"
                                               "\t\toifname @bridges drop\n"
                                               "\t}\n",
              f);

        fputs("\tchain postrouting {\n"
              "\t\ttype nat hook postrouting priority srcnat; policy accept;\n",
              f);
        for (size_t i = 0; i < rs->n_bridges; i++)
                if (rs->bridges[i].egress)
                        fprintf(f, "\t\tip saddr %s " NET_NFT_NOT_A_BRIDGE("oifname") " masquerade\n",
                                net_subnet_format(&rs->bridges[i].subnet, cidr));
        fputs("\t}\n}\n", f);

        if (fflush(f) != 0 || ferror(f))
                return -ENOMEM;
        f = (fclose(f), NULL);
        *ret_script = TAKE_PTR(script);
        return 0;
}

static int nft_run(const char *script, bool quiet, char **ret_error) {
        _cleanup_(nft_ctx_freep) struct nft_ctx *ctx = NULL;
        int r;

        ctx = nft_ctx_new(NFT_CTX_DEFAULT);
        if (!ctx)
                return -ENOMEM;
        if (nft_ctx_buffer_output(ctx) < 0 || nft_ctx_buffer_error(ctx) < 0)
                return -ENOMEM;

        r = nft_run_cmd_from_buffer(ctx, script);
        if (r != 0) {
                if (ret_error && !quiet) {
                        const char *e = nft_ctx_get_error_buffer(ctx);
                        *ret_error = strdup(isempty(e) ? "nft failed without a message" : e);
                }
                return -EIO;
        }
        return 0;
}

int net_ruleset_apply(const NetRuleset *rs, char **ret_error) {
        _cleanup_free_ char *script = NULL;
        int r;

        r = net_ruleset_format(rs, &script);
        if (r < 0)
                return r;
        r = nft_run(script, false, ret_error);
        if (r < 0)
                return r;

        /* Only now, with the table in place, so turning forwarding on never opens a gap.  Each bridge
         * forwards what its containers send (IPv4 decides by the input interface): with forwarding off the
         * kernel would drop a packet for another environment silently, before the table's forward chain
         * answers it with a reset, and a blocked connect would hang until its timeout instead of being
         * refused.  That chain rejects everything a bridge forwards except to its own bridge and, with
         * egress, out; egress also needs the replies forwarded, hence "all". */
        bool egress = false;
        for (size_t i = 0; i < rs->n_bridges; i++) {
                r = net_ipv4_forwarding_set(rs->bridges[i].name, true);
                if (r < 0 && r != -ENOENT)
                        return r;
                egress = egress || rs->bridges[i].egress;
        }
        if (egress)
                return net_ipv4_forwarding_set("all", true);
        return 0;
}

int net_ruleset_remove(const char *table, char **ret_error) {
        _cleanup_free_ char *script = NULL;

        table = table ?: NET_NFT_TABLE_DEFAULT;
        if (!net_nft_table_name_valid(table))
                return -EINVAL;
        if (asprintf(&script, "table inet %s {}\ndelete table inet %s\n", table, table) < 0)
                return -ENOMEM;
        return nft_run(script, false, ret_error);
}

int net_ruleset_exists(const char *table) {
        _cleanup_free_ char *script = NULL;

        table = table ?: NET_NFT_TABLE_DEFAULT;
        if (!net_nft_table_name_valid(table))
                return -EINVAL;
        if (asprintf(&script, "list table inet %s\n", table) < 0)
                return -ENOMEM;
        return nft_run(script, true, NULL) < 0 ? 0 : 1;
}

static int strv_push(char ***l, size_t *n, char *s) {
        char **nl;

        if (!s)
                return -ENOMEM;
        nl = realloc(*l, (*n + 2) * sizeof **l);
        if (!nl) {
                free(s);
                return -ENOMEM;
        }
        nl[(*n)++] = s;
        nl[*n] = NULL;
        *l = nl;
        return 0;
}

/* One set's elements from nft's JSON listing: plain strings (ifname) or {"prefix": {addr, len}}. */
static int read_set(const char *table, const char *set, char ***ret) {
        _cleanup_(nft_ctx_freep) struct nft_ctx *ctx = NULL;
        _cleanup_free_ char *cmd = NULL;
        _cleanup_json_ json_t *doc = NULL;
        char **l = NULL;
        size_t n = 0, i;
        json_t *item;
        int r;

        ctx = nft_ctx_new(NFT_CTX_DEFAULT);
        if (!ctx || nft_ctx_buffer_output(ctx) < 0 || nft_ctx_buffer_error(ctx) < 0)
                return -ENOMEM;
        nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_JSON);
        if (asprintf(&cmd, "list set inet %s %s", table, set) < 0)
                return -ENOMEM;
        if (nft_run_cmd_from_buffer(ctx, cmd) != 0)
                return -ENOENT;
        doc = json_loads(nft_ctx_get_output_buffer(ctx) ?: "", 0, NULL);
        if (!doc)
                return -EBADMSG;
        l = calloc(1, sizeof *l);
        if (!l)
                return -ENOMEM;
        json_array_foreach(json_object_get(doc, "nftables"), i, item) {
                json_t *elems = json_object_get(json_object_get(item, "set"), "elem"), *e;
                size_t k;

                json_array_foreach(elems, k, e) {
                        json_t *prefix = json_object_get(e, "prefix");
                        char *v = NULL;

                        if (json_is_string(e))
                                v = strdup(json_string_value(e));
                        else if (prefix && json_is_string(json_object_get(prefix, "addr"))) {
                                if (asprintf(&v, "%s/%lld",
                                             json_string_value(json_object_get(prefix, "addr")),
                                             (long long) json_integer_value(
                                                     json_object_get(prefix, "len"))) < 0)
                                        v = NULL;
                        } else
                                continue;
                        r = strv_push(&l, &n, v);
                        if (r < 0) {
                                net_name_list_free(l);
                                return r;
                        }
                }
        }
        *ret = l;
        return 0;
}

int net_ruleset_read_sets(const char *table, char ***ret_bridges, char ***ret_subnets) {
        char **b = NULL, **s = NULL;
        int r;

        if (!net_nft_table_name_valid(table))
                return -EINVAL;
        r = read_set(table, "bridges", &b);
        if (r < 0)
                return r;
        r = read_set(table, "subnets", &s);
        if (r < 0) {
                net_name_list_free(b);
                return r;
        }
        *ret_bridges = b;
        *ret_subnets = s;
        return 0;
}
