/* Netlink with libnl-3 (route): bridges, veth pairs, addresses, routes.
 *
 * A socket is bound to the netns it was created in, so operations inside a
 * container's netns use a socket opened there (setns on this thread, socket,
 * setns back) and never move the thread for longer than that. */
#include <fcntl.h>
#include <linux/if.h>
#include <sched.h>
#include <stdarg.h>
#include <string.h>

#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>

#include "net/net-internal.h"

DEFINE_CLEANUP(struct rtnl_link *, rtnl_link_put)
DEFINE_CLEANUP(struct rtnl_addr *, rtnl_addr_put)
DEFINE_CLEANUP(struct rtnl_route *, rtnl_route_put)
DEFINE_CLEANUP(struct nl_addr *, nl_addr_put)
DEFINE_CLEANUP(struct nl_cache *, nl_cache_free)
#define _cleanup_link_   _cleanup_(rtnl_link_putp)
#define _cleanup_addr_   _cleanup_(rtnl_addr_putp)
#define _cleanup_route_  _cleanup_(rtnl_route_putp)
#define _cleanup_nladdr_ _cleanup_(nl_addr_putp)
#define _cleanup_cache_  _cleanup_(nl_cache_freep)

static int
nle_to_errno(int nle)
{
    switch (nle < 0 ? -nle : nle) {
    case NLE_SUCCESS:
        return 0;
    case NLE_INTR:
        return EINTR;
    case NLE_BAD_SOCK:
        return EBADF;
    case NLE_AGAIN:
        return EAGAIN;
    case NLE_NOMEM:
        return ENOMEM;
    case NLE_EXIST:
        return EEXIST;
    case NLE_INVAL:
    case NLE_MSGTYPE_NOSUPPORT:
    case NLE_PARSE_ERR:
        return EINVAL;
    case NLE_RANGE:
        return ERANGE;
    case NLE_MSGSIZE:
        return EMSGSIZE;
    case NLE_OPNOTSUPP:
        return EOPNOTSUPP;
    case NLE_AF_NOSUPPORT:
        return EAFNOSUPPORT;
    case NLE_OBJ_NOTFOUND:
        return ENOENT;
    case NLE_NOATTR:
        return ENODATA;
    case NLE_PROTO_MISMATCH:
        return EPROTONOSUPPORT;
    case NLE_NOACCESS:
        return EACCES;
    case NLE_PERM:
        return EPERM;
    case NLE_PKTLOC_FILE:
        return ENOENT;
    case NLE_NODEV:
        return ENODEV;
    case NLE_IMMUTABLE:
        return EROFS;
    case NLE_DUMP_INTR:
        return EINTR;
    case NLE_BUSY:
        return EBUSY;
    case NLE_NOADDR:
        return EADDRNOTAVAIL;
    case NLE_SEQ_MISMATCH:
    case NLE_MSG_OVERFLOW:
    case NLE_MSG_TRUNC:
    case NLE_MSG_TOOSHORT:
        return EPROTO;
    default:
        return EIO;
    }
}

int
net_nl_err(struct bt_err **err, int nle, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *ctx = xvasprintf(fmt, ap);
    va_end(ap);
    return bt_err_set(err, nle_to_errno(nle), "%s: %s", ctx, nl_geterror(nle));
}

static int
open_ns(const char *path, struct bt_err **err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bt_err_errno(err, errno, "open netns '%s'", path);
    return fd;
}

struct nl_sock *
net_nl_open(const char *netns, struct bt_err **err)
{
    _cleanup_close_ int self = -1;
    _cleanup_close_ int target = -1;
    if (netns) {
        self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (self < 0) {
            bt_err_errno(err, errno, "open own netns");
            return NULL;
        }
        target = open_ns(netns, err);
        if (target < 0)
            return NULL;
        if (setns(target, CLONE_NEWNET) < 0) {
            bt_err_errno(err, errno, "enter netns '%s'", netns);
            return NULL;
        }
    }
    struct nl_sock *sk = nl_socket_alloc();
    if (!sk) {
        fprintf(stderr, "berth: out of memory\n");
        abort();
    }
    int r = nl_connect(sk, NETLINK_ROUTE);
    if (self >= 0 && setns(self, CLONE_NEWNET) < 0) {
        /* A thread stuck in a container's netns must not go on. */
        fprintf(stderr, "berth: cannot return to own netns: %s\n", strerror(errno));
        abort();
    }
    if (r < 0) {
        nl_socket_free(sk);
        net_nl_err(err, r, "netlink connect");
        return NULL;
    }
    return sk;
}

void
net_nl_close(struct nl_sock *sk)
{
    if (sk)
        nl_socket_free(sk);
}

static struct rtnl_link *
link_get(struct nl_sock *sk, const char *name, struct bt_err **err)
{
    struct rtnl_link *link = NULL;
    int r = rtnl_link_get_kernel(sk, 0, name, &link);
    if (r < 0) {
        net_nl_err(err, r, "link '%s'", name);
        return NULL;
    }
    return link;
}

bool
net_link_exists(struct nl_sock *sk, const char *name)
{
    _cleanup_link_ struct rtnl_link *link = NULL;
    return rtnl_link_get_kernel(sk, 0, name, &link) == 0;
}

static int
link_change_obj(struct nl_sock *sk, struct rtnl_link *orig, const char *name, unsigned mtu, bool up,
                struct bt_err **err)
{
    _cleanup_link_ struct rtnl_link *change = rtnl_link_alloc();
    if (mtu)
        rtnl_link_set_mtu(change, mtu);
    if (up)
        rtnl_link_set_flags(change, IFF_UP);
    int r = rtnl_link_change(sk, orig, change, 0);
    if (r < 0)
        return net_nl_err(err, r, "set link '%s'%s", name, up ? " up" : "");
    return 0;
}

static int
link_change(struct nl_sock *sk, const char *name, unsigned mtu, bool up, struct bt_err **err)
{
    _cleanup_link_ struct rtnl_link *orig = link_get(sk, name, err);
    if (!orig)
        return bt_err_ret(err);
    return link_change_obj(sk, orig, name, mtu, up, err);
}

static struct nl_addr *
nladdr_v4(uint32_t addr, uint8_t len)
{
    uint32_t be = htonl(addr);
    struct nl_addr *a = nl_addr_build(AF_INET, &be, sizeof(be));
    if (!a) {
        fprintf(stderr, "berth: out of memory\n");
        abort();
    }
    nl_addr_set_prefixlen(a, len);
    return a;
}

static int
addr_add_idx(struct nl_sock *sk, int ifindex, const char *ifname, uint32_t addr, uint8_t len,
             bool exist_ok, struct bt_err **err)
{
    _cleanup_addr_ struct rtnl_addr *ra = rtnl_addr_alloc();
    _cleanup_nladdr_ struct nl_addr *local = nladdr_v4(addr, len);
    rtnl_addr_set_ifindex(ra, ifindex);
    rtnl_addr_set_family(ra, AF_INET);
    int r = rtnl_addr_set_local(ra, local);
    if (r == 0 && len < 31) {
        uint32_t bcast = addr | ~net_prefix_mask(len);
        _cleanup_nladdr_ struct nl_addr *b = nladdr_v4(bcast, 32);
        r = rtnl_addr_set_broadcast(ra, b);
    }
    if (r == 0)
        r = rtnl_addr_add(sk, ra, exist_ok ? NLM_F_REPLACE : 0);
    if (r < 0) {
        char buf[20];
        return net_nl_err(err, r, "add address %s/%u to '%s'", net_addr_fmt(addr, buf), len,
                          ifname);
    }
    return 0;
}

/* Removes local (an address of family) from ifname; a link or address
 * already gone is success. shown: the address as messages print it. */
static int
addr_del(struct nl_sock *sk, const char *ifname, int family, struct nl_addr *local,
         const char *shown, uint8_t len, struct bt_err **err)
{
    _cleanup_link_ struct rtnl_link *link = NULL;
    int r = rtnl_link_get_kernel(sk, 0, ifname, &link);
    if (r == -NLE_NODEV || r == -NLE_OBJ_NOTFOUND)
        return 0;
    if (r < 0)
        return net_nl_err(err, r, "link '%s'", ifname);
    _cleanup_addr_ struct rtnl_addr *ra = rtnl_addr_alloc();
    rtnl_addr_set_ifindex(ra, rtnl_link_get_ifindex(link));
    rtnl_addr_set_family(ra, family);
    r = rtnl_addr_set_local(ra, local);
    if (r == 0)
        r = rtnl_addr_delete(sk, ra, 0);
    if (r < 0 && r != -NLE_NOADDR && r != -NLE_OBJ_NOTFOUND)
        return net_nl_err(err, r, "remove address %s/%u from '%s'", shown, len, ifname);
    return 0;
}

int
net_addr_del(struct nl_sock *sk, const char *ifname, uint32_t addr, uint8_t len,
             struct bt_err **err)
{
    _cleanup_nladdr_ struct nl_addr *local = nladdr_v4(addr, len);
    char buf[20];
    return addr_del(sk, ifname, AF_INET, local, net_addr_fmt(addr, buf), len, err);
}

int
net_bridge_ensure(struct nl_sock *sk, const char *name, unsigned mtu, uint32_t gw, uint8_t len,
                  struct bt_err **err)
{
    if (!net_link_exists(sk, name)) {
        _cleanup_link_ struct rtnl_link *br = rtnl_link_bridge_alloc();
        rtnl_link_set_name(br, name);
        if (mtu)
            rtnl_link_set_mtu(br, mtu);
        int r = rtnl_link_add(sk, br, NLM_F_CREATE | NLM_F_EXCL);
        if (r < 0)
            return net_nl_err(err, r, "create bridge '%s'", name);
    }
    _cleanup_link_ struct rtnl_link *link = link_get(sk, name, err);
    if (!link)
        return bt_err_ret(err);
    if (!rtnl_link_is_bridge(link))
        return bt_err_set(err, EEXIST, "link '%s' exists and is not a bridge", name);
    int r = addr_add_idx(sk, rtnl_link_get_ifindex(link), name, gw, len, true, err);
    if (r < 0)
        return r;
    return link_change(sk, name, mtu, true, err);
}

int
net_link_delete(struct nl_sock *sk, const char *name, struct bt_err **err)
{
    _cleanup_link_ struct rtnl_link *link = NULL;
    int r = rtnl_link_get_kernel(sk, 0, name, &link);
    if (r == -NLE_NODEV || r == -NLE_OBJ_NOTFOUND)
        return 0;
    if (r < 0)
        return net_nl_err(err, r, "link '%s'", name);
    r = rtnl_link_delete(sk, link);
    if (r < 0 && r != -NLE_NODEV && r != -NLE_OBJ_NOTFOUND)
        return net_nl_err(err, r, "delete link '%s'", name);
    return 0;
}

/* Hairpin mode on a bridge port lets a frame leave by the port it came in.
 * With br_netfilter loaded, a container reaching its own published port is
 * DNATed back to itself and bridged out of its own port; without hairpin
 * the bridge drops that frame. */
static int
link_set_hairpin(struct nl_sock *sk, const char *name, int ifindex, struct bt_err **err)
{
    if (ifindex <= 0) {
        _cleanup_link_ struct rtnl_link *orig = link_get(sk, name, err);
        if (!orig)
            return bt_err_ret(err);
        ifindex = rtnl_link_get_ifindex(orig);
    }
    _cleanup_link_ struct rtnl_link *change = rtnl_link_alloc();
    rtnl_link_set_ifindex(change, ifindex);
    rtnl_link_set_family(change, AF_BRIDGE);
    int r = rtnl_link_bridge_set_flags(change, RTNL_BRIDGE_HAIRPIN_MODE);
    /* libnl refuses a change of family, so the AF_BRIDGE request is its
     * own original. */
    if (r == 0)
        r = rtnl_link_change(sk, change, change, 0);
    if (r < 0)
        return net_nl_err(err, r, "set hairpin mode on '%s'", name);
    return 0;
}

static int
on_echoed_link(struct nl_msg *msg, void *arg)
{
    struct nlmsghdr *h = nlmsg_hdr(msg);
    if (h->nlmsg_type == RTM_NEWLINK && h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct ifinfomsg)))
        *(int *)arg = ((struct ifinfomsg *)nlmsg_data(h))->ifi_index;
    return NL_OK;
}

/* rtnl_link_add with NLM_F_ECHO: the kernel (Linux 6.3 and later) sends
 * the new link back before its acknowledgement, so its index is known
 * without a lookup by name. *ifindex stays 0 on older kernels. */
static int
link_add_echo(struct nl_sock *sk, struct rtnl_link *link, int *ifindex)
{
    struct nl_msg *msg = NULL;
    int r = rtnl_link_build_add_request(link, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ECHO, &msg);
    if (r < 0)
        return r;
    r = nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, on_echoed_link, ifindex);
    if (r == 0) {
        r = nl_send_auto(sk, msg);
        if (r >= 0)
            r = nl_wait_for_ack(sk);
        nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_DEFAULT, NULL, NULL);
    }
    nlmsg_free(msg);
    return r < 0 ? r : 0;
}

int
net_veth_create(struct nl_sock *sk, const char *host_name, const char *bridge, int bridge_index,
                const char *netns_path, const char *ifname, unsigned mtu,
                const unsigned char *peer_mac, struct bt_err **err)
{
    if (bridge_index <= 0) {
        _cleanup_link_ struct rtnl_link *br = link_get(sk, bridge, err);
        if (!br)
            return bt_err_ret(err);
        bridge_index = rtnl_link_get_ifindex(br);
    }
    _cleanup_close_ int nsfd = open_ns(netns_path, err);
    if (nsfd < 0)
        return nsfd;
    _cleanup_link_ struct rtnl_link *veth = rtnl_link_veth_alloc();
    if (!veth) {
        fprintf(stderr, "berth: out of memory\n");
        abort();
    }
    struct rtnl_link *peer = rtnl_link_veth_get_peer(veth);
    rtnl_link_set_name(veth, host_name);
    rtnl_link_set_master(veth, bridge_index);
    rtnl_link_set_name(peer, ifname);
    rtnl_link_set_ns_fd(peer, nsfd);
    if (mtu) {
        rtnl_link_set_mtu(veth, mtu);
        rtnl_link_set_mtu(peer, mtu);
    }
    /* The host end comes up with the request that makes it, not with a
     * lookup and a change afterwards. (libnl 3.7 fails the request when
     * the peer's flags are set too.) */
    rtnl_link_set_flags(veth, IFF_UP);
    if (peer_mac) {
        _cleanup_nladdr_ struct nl_addr *a = nl_addr_build(AF_LLC, peer_mac, 6);
        rtnl_link_set_addr(peer, a);
    }
    int ifindex = 0;
    int r = link_add_echo(sk, veth, &ifindex);
    rtnl_link_put(peer);
    if (r < 0)
        return net_nl_err(err, r, "create veth '%s' with '%s' in '%s'", host_name, ifname,
                          netns_path);
    r = link_set_hairpin(sk, host_name, ifindex, err);
    if (r < 0) {
        struct bt_err *ignored = NULL;
        /* Deleting one end deletes the pair; the first error is the one to report. */
        net_link_delete(sk, host_name, &ignored);
        ignored = bt_err_free(ignored);
    }
    return r;
}

/* Adds the default route of family through gw (dst: the family's
 * any-address, via: gw) on ifindex. shown: gw as messages print it. */
static int
default_route_add(struct nl_sock *sk, int family, struct nl_addr *dst, struct nl_addr *via,
                  int ifindex, const char *ifname, const char *shown, struct bt_err **err)
{
    _cleanup_route_ struct rtnl_route *route = rtnl_route_alloc();
    rtnl_route_set_family(route, family);
    rtnl_route_set_table(route, RT_TABLE_MAIN);
    rtnl_route_set_protocol(route, RTPROT_BOOT);
    rtnl_route_set_scope(route, RT_SCOPE_UNIVERSE);
    rtnl_route_set_type(route, RTN_UNICAST);
    int r = rtnl_route_set_dst(route, dst);
    if (r == 0) {
        struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
        rtnl_route_nh_set_ifindex(nh, ifindex);
        rtnl_route_nh_set_gateway(nh, via);
        rtnl_route_add_nexthop(route, nh); /* the route owns nh now */
        r = rtnl_route_add(sk, route, NLM_F_EXCL);
    }
    if (r < 0)
        return net_nl_err(err, r, "add %sdefault route via %s dev '%s'",
                          family == AF_INET6 ? "IPv6 " : "", shown, ifname);
    return 0;
}

static int
route_add_default_idx(struct nl_sock *sk, int ifindex, const char *ifname, uint32_t gw,
                      struct bt_err **err)
{
    _cleanup_nladdr_ struct nl_addr *dst = nladdr_v4(0, 0);
    _cleanup_nladdr_ struct nl_addr *via = nladdr_v4(gw, 32);
    char buf[20];
    return default_route_add(sk, AF_INET, dst, via, ifindex, ifname, net_addr_fmt(gw, buf), err);
}

int
net_route_add_default(struct nl_sock *sk, const char *ifname, uint32_t gw, struct bt_err **err)
{
    _cleanup_link_ struct rtnl_link *link = link_get(sk, ifname, err);
    if (!link)
        return bt_err_ret(err);
    return route_add_default_idx(sk, rtnl_link_get_ifindex(link), ifname, gw, err);
}

struct route_walk {
    struct net_prefix *v;
    size_t n;
};

static void
on_route(struct nl_object *obj, void *arg)
{
    struct route_walk *w = arg;
    struct rtnl_route *r = (struct rtnl_route *)obj;
    if (rtnl_route_get_family(r) != AF_INET || rtnl_route_get_table(r) != RT_TABLE_MAIN)
        return;
    struct nl_addr *dst = rtnl_route_get_dst(r);
    if (!dst || nl_addr_get_prefixlen(dst) == 0 || nl_addr_get_len(dst) != 4)
        return;
    uint32_t be;
    memcpy(&be, nl_addr_get_binary_addr(dst), 4);
    w->v = xreallocarray(w->v, w->n + 1, sizeof(*w->v));
    w->v[w->n].len = (uint8_t)nl_addr_get_prefixlen(dst);
    w->v[w->n].addr = ntohl(be) & net_prefix_mask(w->v[w->n].len);
    w->n++;
}

int
net_routes_list(struct nl_sock *sk, struct net_prefix **out, size_t *n, struct bt_err **err)
{
    _cleanup_cache_ struct nl_cache *cache = NULL;
    int r = rtnl_route_alloc_cache(sk, AF_INET, 0, &cache);
    if (r < 0)
        return net_nl_err(err, r, "list routes");
    struct route_walk w = {0};
    nl_cache_foreach(cache, on_route, &w);
    *out = w.v;
    *n = w.n;
    return 0;
}

static struct nl_addr *
nladdr_v6(const struct in6_addr *addr, uint8_t len)
{
    struct nl_addr *a = nl_addr_build(AF_INET6, addr, sizeof(*addr));
    if (!a) {
        fprintf(stderr, "berth: out of memory\n");
        abort();
    }
    nl_addr_set_prefixlen(a, len);
    return a;
}

static int
addr6_add_idx(struct nl_sock *sk, int ifindex, const char *ifname, const struct in6_addr *addr,
              uint8_t len, struct bt_err **err)
{
    _cleanup_addr_ struct rtnl_addr *ra = rtnl_addr_alloc();
    _cleanup_nladdr_ struct nl_addr *local = nladdr_v6(addr, len);
    rtnl_addr_set_ifindex(ra, ifindex);
    rtnl_addr_set_family(ra, AF_INET6);
    /* Without NODAD the address stays tentative for a second or more and
     * nothing can bind or route through it. */
    rtnl_addr_set_flags(ra, IFA_F_NODAD);
    int r = rtnl_addr_set_local(ra, local);
    if (r == 0)
        r = rtnl_addr_add(sk, ra, NLM_F_REPLACE);
    if (r < 0) {
        char buf[INET6_ADDRSTRLEN];
        return net_nl_err(err, r, "add address %s/%u to '%s'", net_addr6_fmt(addr, buf), len,
                          ifname);
    }
    return 0;
}

int
net_addr6_add(struct nl_sock *sk, const char *ifname, const struct in6_addr *addr, uint8_t len,
              struct bt_err **err)
{
    _cleanup_link_ struct rtnl_link *link = link_get(sk, ifname, err);
    if (!link)
        return bt_err_ret(err);
    return addr6_add_idx(sk, rtnl_link_get_ifindex(link), ifname, addr, len, err);
}

int
net_addr6_del(struct nl_sock *sk, const char *ifname, const struct in6_addr *addr, uint8_t len,
              struct bt_err **err)
{
    _cleanup_nladdr_ struct nl_addr *local = nladdr_v6(addr, len);
    char buf[INET6_ADDRSTRLEN];
    return addr_del(sk, ifname, AF_INET6, local, net_addr6_fmt(addr, buf), len, err);
}

static int
route6_add_default_idx(struct nl_sock *sk, int ifindex, const char *ifname,
                       const struct in6_addr *gw, struct bt_err **err)
{
    struct in6_addr any = IN6ADDR_ANY_INIT;
    _cleanup_nladdr_ struct nl_addr *dst = nladdr_v6(&any, 0);
    _cleanup_nladdr_ struct nl_addr *via = nladdr_v6(gw, 128);
    char buf[INET6_ADDRSTRLEN];
    return default_route_add(sk, AF_INET6, dst, via, ifindex, ifname, net_addr6_fmt(gw, buf), err);
}

int
net_route6_add_default(struct nl_sock *sk, const char *ifname, const struct in6_addr *gw,
                       struct bt_err **err)
{
    _cleanup_link_ struct rtnl_link *link = link_get(sk, ifname, err);
    if (!link)
        return bt_err_ret(err);
    return route6_add_default_idx(sk, rtnl_link_get_ifindex(link), ifname, gw, err);
}

int
net_link_configure(struct nl_sock *sk, const char *ifname, uint32_t addr, uint8_t len, uint32_t gw,
                   const struct in6_addr *addr6, uint8_t len6, const struct in6_addr *gw6,
                   struct bt_err **err)
{
    _cleanup_link_ struct rtnl_link *link = link_get(sk, ifname, err);
    if (!link)
        return bt_err_ret(err);
    int idx = rtnl_link_get_ifindex(link);
    int r = addr_add_idx(sk, idx, ifname, addr, len, false, err);
    if (r == 0)
        r = link_change_obj(sk, link, ifname, 0, true, err);
    if (r == 0 && gw)
        r = route_add_default_idx(sk, idx, ifname, gw, err);
    if (r == 0 && addr6)
        r = addr6_add_idx(sk, idx, ifname, addr6, len6, err);
    if (r == 0 && addr6 && gw6)
        r = route6_add_default_idx(sk, idx, ifname, gw6, err);
    return r;
}
