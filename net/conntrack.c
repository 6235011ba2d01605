/* Connection tracking entries that outlive a published port's target.
 *
 * NAT decides once per connection: the first packet of a flow goes through
 * the publish chain's DNAT and the kernel's conntrack entry then carries
 * every later packet of that flow to the address chosen then. A UDP client
 * that keeps sending from one source port (DNS, syslog, game or VoIP
 * traffic) therefore keeps reaching a container that is gone, or the host
 * itself when it sent while nothing was published, until the entry times
 * out, which never happens while it keeps sending. So, as Docker does,
 * the entries are deleted over ctnetlink (libnl-nf) when a binding goes
 * away or points somewhere new, and when a container's address is
 * released. The dump covers the current netns, where the NAT happens. */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include <netlink/addr.h>
#include <netlink/errno.h>
#include <netlink/netfilter/ct.h>
#include <netlink/netfilter/nfnl.h>
#include <netlink/netlink.h>

#include "net/net-internal.h"

DEFINE_CLEANUP(struct nl_cache *, nl_cache_free)
DEFINE_CLEANUP(struct nl_sock *, nl_socket_free)

/* An address of an entry's tuple equals a: same family and bytes. */
static bool
addr_is(struct nl_addr *na, const struct net_ct_addr *a)
{
    if (!na || nl_addr_get_family(na) != a->family)
        return false;
    size_t len = a->family == AF_INET ? 4 : 16;
    return nl_addr_get_len(na) == len && memcmp(nl_addr_get_binary_addr(na), &a->u, len) == 0;
}

static bool
match_one(struct nfnl_ct *ct, const struct net_ct_match *m)
{
    if (nfnl_ct_get_family(ct) != m->target.family)
        return false;
    struct nl_addr *reply_src = nfnl_ct_get_src(ct, 1);
    if (nfnl_ct_get_proto(ct) != m->proto || !nfnl_ct_test_dst_port(ct, 0) ||
        nfnl_ct_get_dst_port(ct, 0) != m->host_port)
        return false;
    if (m->host_addr.family && !addr_is(nfnl_ct_get_dst(ct, 0), &m->host_addr))
        return false;
    bool to_target = addr_is(reply_src, &m->target) && nfnl_ct_test_src_port(ct, 1) &&
                     nfnl_ct_get_src_port(ct, 1) == m->target_port;
    return m->kind == NET_CT_TO_TARGET ? to_target : !to_target;
}

struct sweep {
    const struct net_ct_match *m;
    size_t n;
    struct nfnl_ct **doomed;
    size_t ndoomed;
};

static void
on_entry(struct nl_object *obj, void *arg)
{
    struct sweep *s = arg;
    struct nfnl_ct *ct = (struct nfnl_ct *)obj;
    for (size_t i = 0; i < s->n; i++) {
        if (match_one(ct, &s->m[i])) {
            nl_object_get(obj);
            s->doomed = xreallocarray(s->doomed, s->ndoomed + 1, sizeof(*s->doomed));
            s->doomed[s->ndoomed++] = ct;
            return;
        }
    }
}

/* The number of entries of the current netns; -1 when unknown. */
static long
ct_count(void)
{
    _cleanup_fclose_ FILE *f = fopen("/proc/sys/net/netfilter/nf_conntrack_count", "re");
    long v;
    if (!f || fscanf(f, "%ld", &v) != 1)
        return -1;
    return v;
}

int
net_ct_flush(const struct net_ct_match *m, size_t n, struct bt_err **err)
{
    /* A dump walks every bucket of the kernel's table, shared by all
     * namespaces (262144 buckets here: about 9 ms of CPU however few the
     * entries), so an empty table is not listed. */
    if (n == 0 || ct_count() == 0)
        return 0;
    _cleanup_(nl_socket_freep) struct nl_sock *sk = nl_socket_alloc();
    if (!sk) {
        fprintf(stderr, "berth: out of memory\n");
        abort();
    }
    int r = nfnl_connect(sk);
    if (r < 0)
        return net_nl_err(err, r, "conntrack: connect to netfilter netlink");
    _cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;
    r = nfnl_ct_alloc_cache(sk, &cache);
    /* Without the conntrack module there is no table, so nothing to flush. */
    if (r == -NLE_OBJ_NOTFOUND || r == -NLE_OPNOTSUPP || r == -NLE_PROTO_MISMATCH)
        return 0;
    if (r < 0)
        return net_nl_err(err, r, "conntrack: list entries");
    struct sweep s = {.m = m, .n = n};
    nl_cache_foreach(cache, on_entry, &s);
    int ret = 0;
    for (size_t i = 0; i < s.ndoomed; i++) {
        r = nfnl_ct_del(sk, s.doomed[i], 0);
        /* An entry that expired since the dump is what we wanted. */
        if (r < 0 && r != -NLE_OBJ_NOTFOUND && ret == 0)
            ret = net_nl_err(err, r, "conntrack: delete entry");
        nfnl_ct_put(s.doomed[i]);
    }
    free(s.doomed);
    return ret;
}

static void
binding_match(const struct net_port_binding *b, enum net_ct_kind kind, struct net_ct_match *m)
{
    memset(m, 0, sizeof(*m));
    m->kind = kind;
    m->proto = (uint8_t)b->proto;
    m->host_port = b->host_port;
    m->target_port = b->container_port;
    if (net_port_binding_is_v6(b)) {
        m->target.family = AF_INET6;
        m->target.u.v6 = b->container_ip6;
        if (strcmp(b->host_ip, "::") != 0 &&
            inet_pton(AF_INET6, b->host_ip, &m->host_addr.u.v6) == 1)
            m->host_addr.family = AF_INET6;
    } else {
        m->target.family = AF_INET;
        m->target.u.v4 = htonl(b->container_ip);
        if (b->host_ip[0] && inet_pton(AF_INET, b->host_ip, &m->host_addr.u.v4) == 1)
            m->host_addr.family = AF_INET;
    }
}

void
net_ct_flush_bindings(struct net_ctx *ctx, const struct net_port_binding *v, size_t n,
                      enum net_ct_kind kind)
{
    _cleanup_free_ struct net_ct_match *m = xcalloc(n + 1, sizeof(*m));
    for (size_t i = 0; i < n; i++)
        binding_match(&v[i], kind, &m[i]);
    net_ct_flush_later(ctx, m, n);
}

void
net_ct_flush_udp(struct net_ctx *ctx, const struct net_port_binding *v, size_t n)
{
    _cleanup_free_ struct net_ct_match *m = xcalloc(n + 1, sizeof(*m));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i].proto == NET_PROTO_UDP)
            binding_match(&v[i], NET_CT_NOT_TO_TARGET, &m[k++]);
    }
    net_ct_flush_later(ctx, m, k);
}

void
net_ct_flush_later(struct net_ctx *ctx, const struct net_ct_match *m, size_t n)
{
    if (n == 0)
        return;
    if (ctx->lock_depth > 0) {
        ctx->ct_pending =
            xreallocarray(ctx->ct_pending, ctx->n_ct_pending + n, sizeof(*ctx->ct_pending));
        memcpy(ctx->ct_pending + ctx->n_ct_pending, m, n * sizeof(*m));
        ctx->n_ct_pending += n;
        return;
    }
    struct bt_err *err = NULL;
    net_ct_flush(m, n, &err);
    net_ct_err_done(&err);
}

void
net_ct_err_done(struct bt_err **err)
{
    if (*err)
        bt_debug("net: %s (not fatal: the entries left expire on their own)", (*err)->msg);
    *err = bt_err_free(*err);
}
