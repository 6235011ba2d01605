/* Published ports and NAT with libnftables: one `inet berth` table, for
 * IPv4 and IPv6 alike.
 *
 * Every published port is an element of one of four maps, so the rule set
 * is fixed whatever the number of ports:
 *   pub_addr  host address . protocol . port -> container address . port
 *   pub_any   protocol . port                -> container address . port
 *   pub_addr6, pub_any6: the same for IPv6
 * consulted for traffic to a local address, arriving from outside
 * (prerouting) or made on the host itself (output, including loopback).
 * Sets name the networks: `nets` (subnets of non-internal networks, for
 * masquerade and hairpin; `nets6` for IPv6), `bridges` (every berth bridge) and `internal`
 * (bridges whose traffic must not be forwarded) and `same` (bridge . bridge,
 * traffic inside one network, which the forward hook sees when br_netfilter
 * is loaded and which is always allowed). */
#include <stdarg.h>
#include <string.h>

#include <nftables/libnftables.h>

#include "net/net-internal.h"

static const char table_def[] =
    "table inet berth {\n"
    "  map pub_addr { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }\n"
    "  map pub_any { type inet_proto . inet_service : ipv4_addr . inet_service; }\n"
    "  map pub_addr6 { type ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service; }\n"
    "  map pub_any6 { type inet_proto . inet_service : ipv6_addr . inet_service; }\n"
    "  set nets { type ipv4_addr; flags interval; }\n"
    "  set nets6 { type ipv6_addr; flags interval; }\n"
    "  set bridges { type ifname; }\n"
    "  set internal { type ifname; }\n"
    "  set same { type ifname . ifname; }\n"
    /* route_localnet on a bridge would let a container send packets to
     * 127.0.0.0/8 on the host and reach services bound to loopback only;
     * drop them as they arrive, before conntrack undoes any NAT (priority
     * raw), so that replies to the host's own loopback connections pass. */
    "  chain guard {\n"
    "    type filter hook prerouting priority raw; policy accept;\n"
    "    iifname @bridges ip daddr 127.0.0.0/8 drop\n"
    "  }\n"
    "  chain prerouting {\n"
    "    type nat hook prerouting priority dstnat; policy accept;\n"
    "    fib daddr type local goto publish\n"
    "  }\n"
    "  chain output {\n"
    "    type nat hook output priority -100; policy accept;\n"
    "    fib daddr type local goto publish\n"
    "  }\n"
    "  chain publish {\n"
    "    meta nfproto ipv4 dnat ip to ip daddr . meta l4proto . th dport map @pub_addr\n"
    "    meta nfproto ipv4 dnat ip to meta l4proto . th dport map @pub_any\n"
    "    meta nfproto ipv6 dnat ip6 to ip6 daddr . meta l4proto . th dport map @pub_addr6\n"
    "    meta nfproto ipv6 dnat ip6 to meta l4proto . th dport map @pub_any6\n"
    "  }\n"
    "  chain postrouting {\n"
    "    type nat hook postrouting priority srcnat; policy accept;\n"
    /* egress of non-internal networks */
    "    ip saddr @nets oifname != @bridges masquerade\n"
    "    ip6 saddr @nets6 oifname != @bridges masquerade\n"
    /* the host's loopback reaching a published port (route_localnet; IPv6
     * needs no switch, but ::1 must not reach the container as source) */
    "    ct status dnat ip saddr 127.0.0.0/8 masquerade\n"
    "    ct status dnat ip6 saddr ::1 masquerade\n"
    /* hairpin: a container reaching a published port of its own network */
    "    ct status dnat oifname @bridges ip saddr @nets masquerade\n"
    "    ct status dnat oifname @bridges ip6 saddr @nets6 masquerade\n"
    "  }\n"
    "  chain forward {\n"
    "    type filter hook forward priority filter; policy accept;\n"
    /* within one bridge (seen here when br_netfilter is loaded) */
    "    iifname . oifname @same accept\n"
    /* internal networks reach nothing else, published ports included */
    "    iifname @internal drop\n"
    "    oifname @internal drop\n"
    /* published ports are reachable from everywhere else (hairpin too) */
    "    ct status dnat accept\n"
    /* networks are isolated from each other, as Docker's are */
    "    iifname @bridges oifname @bridges drop\n"
    "  }\n"
    "}\n";

static char *
trim_msg(const char *s)
{
    /* libnftables repeats the command and a caret line; the first line says it. */
    if (!s || !*s)
        return xstrdup("nftables command failed");
    const char *nl = strchr(s, '\n');
    return nl ? xstrndup(s, (size_t)(nl - s)) : xstrdup(s);
}

void
net_nft_ctx_free(struct net_ctx *ctx)
{
    if (ctx->nft) {
        nft_ctx_free(ctx->nft);
        ctx->nft = NULL;
    }
}

/* One libnftables context per net_ctx: creating one costs more than most
 * commands berth runs with it. */
static int
run(struct net_ctx *ctx, const char *cmd, bool enoent_ok, struct bt_err **err)
{
    if (!ctx->nft) {
        ctx->nft = nft_ctx_new(NFT_CTX_DEFAULT);
        if (!ctx->nft)
            return bt_err_set(err, ENOMEM, "nftables: cannot create a context");
        nft_ctx_buffer_output(ctx->nft);
        nft_ctx_buffer_error(ctx->nft);
    }
    struct nft_ctx *nft = ctx->nft;
    int r = nft_run_cmd_from_buffer(nft, cmd);
    /* Reading a buffer clears it, so the next command starts empty. */
    nft_ctx_get_output_buffer(nft);
    const char *e = nft_ctx_get_error_buffer(nft);
    int ret = 0;
    if (r != 0) {
        int code = EIO;
        if (e && strstr(e, "No such file or directory"))
            code = ENOENT;
        else if (e && strstr(e, "File exists"))
            code = EEXIST;
        else if (e && strstr(e, "Operation not permitted"))
            code = EPERM;
        if (!(code == ENOENT && enoent_ok)) {
            _cleanup_free_ char *m = trim_msg(e);
            ret = bt_err_set(err, code, "nftables: %s", m);
        }
    }
    return ret;
}

int
net_nft_ensure(struct net_ctx *ctx, struct bt_err **err)
{
    /* Listing a chain of two rules is cheap; the table with its maps is not. */
    if (run(ctx, "list chain inet berth publish", false, NULL) == 0)
        return 0;
    return run(ctx, table_def, false, err);
}

int
net_nft_remove_table(struct net_ctx *ctx, struct bt_err **err)
{
    return run(ctx, "delete table inet berth", true, err);
}

int
net_nft_network_add(struct net_ctx *ctx, const struct net_network *nw, struct bt_err **err)
{
    int r = net_nft_ensure(ctx, err);
    if (r < 0)
        return r;
    char sub[20];
    _cleanup_free_ char *cmd =
        nw->internal
            ? xasprintf("add element inet berth bridges { \"%s\" }\n"
                        "add element inet berth same { \"%s\" . \"%s\" }\n"
                        "add element inet berth internal { \"%s\" }\n",
                        nw->bridge, nw->bridge, nw->bridge, nw->bridge)
            : xasprintf("add element inet berth bridges { \"%s\" }\n"
                        "add element inet berth same { \"%s\" . \"%s\" }\n"
                        "add element inet berth nets { %s }\n",
                        nw->bridge, nw->bridge, nw->bridge, net_prefix_fmt(&nw->subnet, sub));
    r = run(ctx, cmd, false, err);
    if (r == 0 && nw->ipv6 && !nw->internal) {
        char sub6[INET6_ADDRSTRLEN + 4];
        _cleanup_free_ char *c6 =
            xasprintf("add element inet berth nets6 { %s }\n", net_prefix6_fmt(&nw->subnet6, sub6));
        r = run(ctx, c6, false, err);
    }
    return r;
}

int
net_nft_network_del(struct net_ctx *ctx, const struct net_network *nw, struct bt_err **err)
{
    char sub[20];
    /* One command per element, so that one already gone does not keep the
     * others. */
    _cleanup_free_ char *c1 = xasprintf("delete element inet berth bridges { \"%s\" }", nw->bridge);
    _cleanup_free_ char *c2 =
        nw->internal
            ? xasprintf("delete element inet berth internal { \"%s\" }", nw->bridge)
            : xasprintf("delete element inet berth nets { %s }", net_prefix_fmt(&nw->subnet, sub));
    _cleanup_free_ char *c3 =
        xasprintf("delete element inet berth same { \"%s\" . \"%s\" }", nw->bridge, nw->bridge);
    int r = run(ctx, c1, true, err);
    if (r == 0)
        r = run(ctx, c2, true, err);
    if (r == 0)
        r = run(ctx, c3, true, err);
    if (r == 0 && nw->ipv6 && !nw->internal) {
        char sub6[INET6_ADDRSTRLEN + 4];
        _cleanup_free_ char *c4 = xasprintf("delete element inet berth nets6 { %s }",
                                            net_prefix6_fmt(&nw->subnet6, sub6));
        r = run(ctx, c4, true, err);
    }
    return r;
}

int
net_nft_ports_apply(struct net_ctx *ctx, const struct net_port_binding *v, size_t n, bool add,
                    struct bt_err **err)
{
    if (n == 0)
        return 0;
    _cleanup_free_ struct net_nft_elem *elems = xcalloc(n, sizeof(*elems));
    for (size_t i = 0; i < n; i++) {
        int r = net_nft_port_elem(&v[i], &elems[i], err);
        if (r < 0)
            return r;
    }
    int r = net_nft_elems_apply(elems, n, add, add ? err : NULL);
    if (add && r == -ENOENT) {
        /* The table is made on first use and is gone after a reboot: it is
         * not checked on every publish but only when the elements cannot
         * be added. */
        if (err)
            *err = bt_err_free(*err);
        r = net_nft_ensure(ctx, err);
        if (r == 0)
            r = net_nft_elems_apply(elems, n, true, err);
    }
    if (r == 0 || (add && r != -EEXIST))
        return r;
    /* Deleting: some element was already gone. Adding: an element is left
     * from a berth command that died before it recorded the port; the
     * registry, read under the lock, says the port is free, so it goes. */
    if (add && err)
        *err = bt_err_free(*err);
    for (size_t i = 0; i < n; i++) {
        struct bt_err *one = NULL;
        r = net_nft_elems_apply(&elems[i], 1, false, &one);
        if (r == -ENOENT) {
            one = bt_err_free(one); /* already gone: what deleting wants */
            continue;
        }
        if (r < 0) {
            bt_err_move(err, &one);
            return r;
        }
    }
    return add ? net_nft_elems_apply(elems, n, true, err) : 0;
}
