/* Published ports' map elements, added and deleted with libnftnl on a
 * netfilter netlink socket: one batch per call, one NEWSETELEM (or
 * DELSETELEM) message per map, no reading of the ruleset first.
 * libnftables parses text and, on its first command in a process, reads
 * the table to learn the maps' key types; here the types are known (nft.c
 * defines the maps), so the elements are encoded directly, as nft encodes
 * them: each part of a concatenated key or value takes a whole number of
 * 32-bit registers, in network byte order, padded with zeros. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "net/net-internal.h"

/* The maps of nft.c's table, in port_map's order. */
static const char *const map_names[NET_NFT_NMAPS] = {"pub_addr", "pub_any", "pub_addr6",
                                                     "pub_any6"};

/* How long to wait for the kernel's answer before giving up: it answers at
 * once, this only keeps a broken socket from hanging a command. */
#define ACK_TIMEOUT_S 5
/* Elements per message: a message's attributes must fit in 64 KiB. */
#define ELEMS_PER_MSG 256

int
net_nft_port_map(const struct net_port_binding *pb)
{
    if (net_port_binding_is_v6(pb))
        return strcmp(pb->host_ip, "::") == 0 ? 3 : 2;
    return pb->host_ip[0] ? 0 : 1;
}

static void
put32(uint8_t *buf, size_t *off, const void *src, size_t len)
{
    memcpy(buf + *off, src, len);
    *off += (len + 3) & ~(size_t)3;
}

int
net_nft_port_elem(const struct net_port_binding *pb, struct net_nft_elem *out, struct bt_err **err)
{
    memset(out, 0, sizeof(*out));
    out->map = net_nft_port_map(pb);
    bool v6 = out->map >= 2;
    if (out->map == 0 || out->map == 2) {
        uint8_t a[16];
        if (inet_pton(v6 ? AF_INET6 : AF_INET, pb->host_ip, a) != 1)
            return bt_err_set(err, EINVAL, "bad host address '%s'", pb->host_ip);
        put32(out->key, &out->key_len, a, v6 ? 16 : 4);
    }
    uint8_t proto = pb->proto == NET_PROTO_UDP ? IPPROTO_UDP : IPPROTO_TCP;
    uint16_t hport = htons(pb->host_port);
    put32(out->key, &out->key_len, &proto, 1);
    put32(out->key, &out->key_len, &hport, 2);
    if (v6) {
        put32(out->data, &out->data_len, &pb->container_ip6, 16);
    } else {
        uint32_t cip = htonl(pb->container_ip);
        put32(out->data, &out->data_len, &cip, 4);
    }
    uint16_t cport = htons(pb->container_port);
    put32(out->data, &out->data_len, &cport, 2);
    return 0;
}

/* The elements of map from index first on, at most ELEMS_PER_MSG; *next is
 * where the next message starts. NULL when there are none. */
static struct nftnl_set *
elems_build(const struct net_nft_elem *elems, size_t n, int map, size_t first, bool add,
            size_t *next)
{
    struct nftnl_set *s = nftnl_set_alloc();
    if (!s)
        abort();
    nftnl_set_set_str(s, NFTNL_SET_TABLE, "berth");
    nftnl_set_set_str(s, NFTNL_SET_NAME, map_names[map]);
    size_t count = 0, i = first;
    for (; i < n && count < ELEMS_PER_MSG; i++) {
        if (elems[i].map != map)
            continue;
        struct nftnl_set_elem *e = nftnl_set_elem_alloc();
        if (!e)
            abort();
        nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, elems[i].key, elems[i].key_len);
        if (add)
            nftnl_set_elem_set(e, NFTNL_SET_ELEM_DATA, elems[i].data, elems[i].data_len);
        nftnl_set_elem_add(s, e);
        count++;
    }
    *next = i;
    if (count == 0)
        s = (nftnl_set_free(s), NULL);
    return s;
}

/* Reads the answers to nmsgs acknowledged messages; the first error wins
 * (the kernel answers every message of a failed batch, then undoes it).
 * An error for the batch's start (seq0: no permission, say) is the only
 * answer there will be. */
static int
read_acks(struct mnl_socket *nl, uint32_t seq0, size_t nmsgs, int *kerr)
{
    uint32_t portid = mnl_socket_get_portid(nl);
    _cleanup_free_ char *buf = xmalloc(MNL_SOCKET_BUFFER_SIZE);
    size_t got = 0;
    *kerr = 0;
    while (got < nmsgs) {
        ssize_t len = mnl_socket_recvfrom(nl, buf, MNL_SOCKET_BUFFER_SIZE);
        if (len < 0)
            return *kerr ? 0 : -errno;
        int rest = (int)len;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; mnl_nlmsg_ok(h, rest);
             h = mnl_nlmsg_next(h, &rest)) {
            if (h->nlmsg_pid != portid || h->nlmsg_seq < seq0 || h->nlmsg_type != NLMSG_ERROR)
                continue;
            const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);
            if (e->error < 0 && *kerr == 0)
                *kerr = -e->error;
            if (e->error < 0 && h->nlmsg_seq == seq0)
                return 0;
            got++;
        }
    }
    return 0;
}

int
net_nft_elems_apply(const struct net_nft_elem *elems, size_t n, bool add, struct bt_err **err)
{
    if (n == 0)
        return 0;
    /* Key and value of an element with their attribute headers, plus the
     * headers of each message. */
    size_t bufsiz = n * (sizeof(elems[0].key) + sizeof(elems[0].data) + 64) +
                    (n / ELEMS_PER_MSG + NET_NFT_NMAPS + 2) * 256;
    _cleanup_free_ char *buf = xmalloc(bufsiz);
    struct mnl_nlmsg_batch *batch = mnl_nlmsg_batch_start(buf, bufsiz);
    uint32_t seq = (uint32_t)time(NULL);
    uint32_t seq0 = seq;
    nftnl_batch_begin(mnl_nlmsg_batch_current(batch), seq++);
    mnl_nlmsg_batch_next(batch);
    size_t nmsgs = 0;
    for (int m = 0; m < NET_NFT_NMAPS; m++) {
        for (size_t i = 0; i < n;) {
            struct nftnl_set *s = elems_build(elems, n, m, i, add, &i);
            if (!s)
                break;
            struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(
                mnl_nlmsg_batch_current(batch), add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM,
                NFPROTO_INET, (add ? NLM_F_CREATE : 0) | NLM_F_ACK, seq++);
            nftnl_set_elems_nlmsg_build_payload(nlh, s);
            nftnl_set_free(s);
            mnl_nlmsg_batch_next(batch);
            nmsgs++;
        }
    }
    nftnl_batch_end(mnl_nlmsg_batch_current(batch), seq++);
    mnl_nlmsg_batch_next(batch);
    size_t len = mnl_nlmsg_batch_size(batch);
    void *head = mnl_nlmsg_batch_head(batch);
    mnl_nlmsg_batch_stop(batch);

    struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
    if (!nl)
        return bt_err_errno(err, errno, "nftables: open a netlink socket");
    int r = 0;
    int one = 1;
    struct timeval tv = {.tv_sec = ACK_TIMEOUT_S};
    /* Errors come back without the request echoed; a large batch needs a
     * send buffer as large (root may raise it past the default). */
    if (mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one)) < 0 ||
        setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
        mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        r = bt_err_errno(err, errno, "nftables: set up a netlink socket");
    } else {
        int sz = (int)len;
        if (len > 128 * 1024)
            setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz));
        int kerr = 0;
        if (mnl_socket_sendto(nl, head, len) < 0)
            r = bt_err_errno(err, errno, "nftables: send %zu bytes", len);
        else if ((r = read_acks(nl, seq0, nmsgs, &kerr)) < 0)
            bt_err_errno(err, -r, "nftables: read the answer");
        else if (kerr != 0) {
            /* An existing key with another value is EBUSY on newer kernels. */
            if (add && kerr == EBUSY)
                kerr = EEXIST;
            r = bt_err_errno(err, kerr, "nftables: %s map elements", add ? "add" : "delete");
        }
    }
    mnl_socket_close(nl);
    return r;
}
