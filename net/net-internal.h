/* net: private interfaces between the files of the module. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/common.h"
#include "net/net.h"

struct nl_sock;
struct nft_ctx;

struct net_ctx {
    char *root;          /* BERTH_ROOT */
    char *runroot;       /* BERTH_RUNROOT */
    char *config;        /* berth.json path, may be NULL */
    int lock_fd;         /* >= 0 while the state lock is held */
    struct nft_ctx *nft; /* libnftables context, made on first use */
    int lock_depth;
    /* conntrack deletions asked for under the lock, done by net_unlock
     * once it is released (a dump walks the kernel's whole table) */
    struct net_ct_match *ct_pending;
    size_t n_ct_pending;
};

/* Container and netns ids name files: [A-Za-z0-9_.-], not starting with
 * '.', at most 128 characters (netns.c). */
bool net_id_valid(const char *id);

/* net_netns_create in two halves: the namespace is made on a thread while
 * the caller goes on. Start fails at once for a bad id or a netns file
 * already there; finish waits for the thread and returns the path, or
 * NULL with the file gone again. Every started job must be finished. */
struct net_netns_job;
struct net_netns_job *net_netns_create_start(struct net_ctx *ctx, const char *id,
                                             struct bt_err **err);
char *net_netns_create_finish(struct net_netns_job *job, struct bt_err **err);

/* ---- netlink (nl.c) ---- */
/* Maps a libnl NLE_* code to an errno and sets *err with nl_geterror()'s
 * text after the formatted context. Returns -errno. */
int net_nl_err(struct bt_err **err, int nle, const char *fmt, ...) BT_PRINTF(3, 4);
/* A NETLINK_ROUTE socket in the current netns (netns == NULL) or in the
 * netns at that path. */
struct nl_sock *net_nl_open(const char *netns, struct bt_err **err);
void net_nl_close(struct nl_sock *sk);
DEFINE_CLEANUP(struct nl_sock *, net_nl_close)
#define _cleanup_nl_ _cleanup_(net_nl_closep)

/* Creates the bridge (or adopts an existing one of that name), sets MTU,
 * adds gw/len when not present, brings it up. */
int net_bridge_ensure(struct nl_sock *sk, const char *name, unsigned mtu, uint32_t gw, uint8_t len,
                      struct bt_err **err);
/* Deletes a link by name; a missing link is success. */
int net_link_delete(struct nl_sock *sk, const char *name, struct bt_err **err);
bool net_link_exists(struct nl_sock *sk, const char *name);
/* Creates a veth pair: host_name on the host, enslaved to bridge (of index
 * bridge_index, or looked up when 0) and up; its peer created directly
 * inside the netns at netns_path as ifname, with MAC address peer_mac
 * (6 bytes) unless NULL. */
int net_veth_create(struct nl_sock *sk, const char *host_name, const char *bridge, int bridge_index,
                    const char *netns_path, const char *ifname, unsigned mtu,
                    const unsigned char *peer_mac, struct bt_err **err);
/* Inside a netns (socket from net_nl_open(netns)) or on the host.
 * net_addr_del removes an address; one already gone is success. */
int net_addr_del(struct nl_sock *sk, const char *ifname, uint32_t addr, uint8_t len,
                 struct bt_err **err);
int net_route_add_default(struct nl_sock *sk, const char *ifname, uint32_t gw, struct bt_err **err);
/* IPv6 counterparts. Addresses are added without duplicate address
 * detection (the IPAM hands each out once), so they are usable at once. */
int net_addr6_add(struct nl_sock *sk, const char *ifname, const struct in6_addr *addr, uint8_t len,
                  struct bt_err **err);
int net_addr6_del(struct nl_sock *sk, const char *ifname, const struct in6_addr *addr, uint8_t len,
                  struct bt_err **err);
int net_route6_add_default(struct nl_sock *sk, const char *ifname, const struct in6_addr *gw,
                           struct bt_err **err);
/* All of the above for a container's end with one lookup of the link:
 * address, up, default route via gw (0 = none); with addr6, the IPv6
 * address and default route via gw6 (NULL = none). */
int net_link_configure(struct nl_sock *sk, const char *ifname, uint32_t addr, uint8_t len,
                       uint32_t gw, const struct in6_addr *addr6, uint8_t len6,
                       const struct in6_addr *gw6, struct bt_err **err);
/* Lists the prefixes of the main routing table that are not default
 * routes. *out is owned. */
int net_routes_list(struct nl_sock *sk, struct net_prefix **out, size_t *n, struct bt_err **err);

/* ---- IPAM, pure (ipam.c) ---- */
struct net_pool {
    struct net_prefix base;
    uint8_t size;
};
bool net_prefix_overlaps(const struct net_prefix *a, const struct net_prefix *b);
bool net_prefix_contains(const struct net_prefix *p, uint32_t addr);
uint32_t net_prefix_mask(uint8_t len);
/* First subnet of the pools, in order, overlapping none of `used`. ENOSPC
 * when the pools are exhausted. */
int net_ipam_pick_subnet(const struct net_pool *pools, size_t npools, const struct net_prefix *used,
                         size_t nused, struct net_prefix *out);
/* Lowest address of range (inside subnet) that is not the network or
 * broadcast address, the gateway or one of `used`. ENOSPC when full. */
int net_ipam_pick_addr(const struct net_prefix *subnet, const struct net_prefix *range,
                       uint32_t gateway, const uint32_t *used, size_t nused, uint32_t *out);
/* Docker's defaults: 172.17-31.0.0/16 then 192.168.0.0/16 in /20s. */
size_t net_ipam_default_pools(struct net_pool *out, size_t max);
/* Reads default-address-pools and bip from berth.json. *pools owned. */
int net_config_load(const char *path, struct net_pool **pools, size_t *npools,
                    struct net_prefix *bip, bool *has_bip, unsigned *mtu, char ***dns,
                    struct bt_err **err);

/* ---- IPAM for IPv6, pure (ipam6.c) ---- */
struct net_pool6 {
    struct net_prefix6 base;
    uint8_t size;
};
/* Clears the host bits of a beyond len. */
void net_in6_mask(struct in6_addr *a, uint8_t len);
bool net_prefix6_contains(const struct net_prefix6 *p, const struct in6_addr *a);
bool net_prefix6_overlaps(const struct net_prefix6 *a, const struct net_prefix6 *b);
int net_ipam6_pick_subnet(const struct net_pool6 *pools, size_t npools,
                          const struct net_prefix6 *used, size_t nused, struct net_prefix6 *out);
/* Lowest address of subnet after the subnet-router anycast one that is
 * neither the gateway nor one of `used`. */
int net_ipam6_pick_addr(const struct net_prefix6 *subnet, const struct in6_addr *gateway,
                        const struct in6_addr *used, size_t nused, struct in6_addr *out);
/* fd00:b37::/48 in /64s. */
size_t net_ipam6_default_pools(struct net_pool6 *out, size_t max);
/* The IPv6 entries of default-address-pools, else the default pool. */
int net_config_load_pools6(const char *path, struct net_pool6 **pools, size_t *npools,
                           struct bt_err **err);

/* ---- endpoints, pure (network.c) ---- */
struct net_endpoint_plan {
    char ifname[16];    /* first ethN the namespace lacks */
    uint32_t ipv4;      /* static address after checks, or the lowest free one */
    bool default_route; /* first non-internal network of the namespace */
    bool has_ipv6;      /* the network has IPv6 */
    struct in6_addr ipv6;
};
/* Plans attaching o->container_id (netns o->netns whose nsfs inode is
 * ns_ino) to nw, given every network (endpoints of other namespaces and of
 * vanished ones are ignored). Without a static address, `prefer` (the
 * container's address before its namespace vanished, or 0) is taken when
 * it is still free. */
int net_endpoint_plan(struct net_network *const *all, size_t n, const struct net_network *nw,
                      const struct net_endpoint_opts *o, int64_t ns_ino, uint32_t prefer,
                      struct net_endpoint_plan *out, struct bt_err **err);

/* An attach in two halves, for a caller that does other work while the
 * veth is made (net_container_setup publishes the ports meanwhile);
 * net_endpoint_attach is reserve then plug. */
struct net_attach;
/* Under the store's lock: plans the endpoint, records it (its address is
 * taken from then on) and rewrites the hosts files. Caller owns. With
 * hold, the hosts files are left to net_attach_hosts and the lock is still
 * held on success, so that the veth can be made meanwhile; on failure
 * nothing is recorded and the lock is released. */
struct net_attach *net_attach_reserve(struct net_ctx *ctx, const struct net_endpoint_opts *opts,
                                      bool hold, struct bt_err **err);
/* After net_attach_reserve(hold): rewrites the hosts files of the
 * network's containers and releases the lock. On failure the endpoint
 * stays recorded, for the caller's teardown. */
int net_attach_hosts(struct net_ctx *ctx, struct net_attach *a, struct bt_err **err);
/* Makes the veth and configures the container's end. Uses no net_ctx, so
 * it may run on another thread. On failure the veth is gone again and the
 * endpoint still recorded (net_attach_unreserve, or a release of the
 * container). */
int net_attach_plug(const struct net_attach *a, struct bt_err **err);
/* Removes the endpoint net_attach_reserve recorded. */
void net_attach_unreserve(struct net_ctx *ctx, const struct net_attach *a);
/* The endpoint, as net_endpoint_attach reports it (out's strings owned). */
void net_attach_result(const struct net_attach *a, struct net_endpoint *out);
struct net_attach *net_attach_free(struct net_attach *a);
DEFINE_CLEANUP(struct net_attach *, net_attach_free)

/* Detaches cid from nw (veth, lease, state); the containers whose hosts
 * files change (cid and the network's other endpoints) are added to
 * `touched`. Not attached is success. Call under the lock. */
int net_network_detach_endpoint(struct net_ctx *ctx, struct net_network *nw, const char *cid,
                                json_t *touched, struct bt_err **err);

/* ---- state and lock (store.c) ---- */
int net_lock(struct net_ctx *ctx, struct bt_err **err);
void net_unlock(struct net_ctx *ctx);
int net_network_save(struct net_ctx *ctx, const struct net_network *nw, struct bt_err **err);
/* net_network_get within a list already read (borrowed result). */
struct net_network *net_network_find(struct net_network *const *list, size_t n, const char *ref,
                                     struct bt_err **err);
struct net_network *net_network_from_json(json_t *j, struct bt_err **err);
char *net_random_hex(size_t nbytes);
/* bt_json_load_file, reading the file in one go: jansson reads a FILE a
 * character at a time, and an attach reads every network's state and the
 * resolution settings of each container on the network. A missing file is
 * ENOENT. */
json_t *net_json_load(const char *path, struct bt_err **err);

/* net_ports_publish to an endpoint just made (its addresses), without
 * reading the network's state again. */
int net_ports_publish_at(struct net_ctx *ctx, const char *container_id, const char *container_name,
                         const struct net_endpoint *ep, const struct net_port_spec *specs,
                         size_t nspecs, struct net_port_set **out, struct bt_err **err);

/* ---- nftables (nft.c) ---- */
void net_nft_ctx_free(struct net_ctx *ctx);
/* Creates the berth table with its maps and fixed rules if missing. */
int net_nft_ensure(struct net_ctx *ctx, struct bt_err **err);
/* Deletes the berth table if present. */
int net_nft_remove_table(struct net_ctx *ctx, struct bt_err **err);
int net_nft_network_add(struct net_ctx *ctx, const struct net_network *nw, struct bt_err **err);
int net_nft_network_del(struct net_ctx *ctx, const struct net_network *nw, struct bt_err **err);
/* Adds (with their targets) or deletes the map elements of these bindings
 * in one transaction; deleting tolerates elements already gone. */
int net_nft_ports_apply(struct net_ctx *ctx, const struct net_port_binding *v, size_t n, bool add,
                        struct bt_err **err);

/* ---- published ports' map elements (nft-elems.c) ---- */
#define NET_NFT_NMAPS 4
/* One element as the kernel stores it: key and value, each part padded to
 * 32 bits, in network byte order. */
struct net_nft_elem {
    int map; /* net_nft_port_map */
    uint8_t key[24];
    size_t key_len;
    uint8_t data[20];
    size_t data_len;
};
/* Which map holds a binding: 0 pub_addr, 1 pub_any, 2 pub_addr6, 3 pub_any6. */
int net_nft_port_map(const struct net_port_binding *pb);
/* Encodes a binding's element (EINVAL for a host address that does not
 * parse). */
int net_nft_port_elem(const struct net_port_binding *pb, struct net_nft_elem *out,
                      struct bt_err **err);
/* Adds (with their values) or deletes the elements in one transaction:
 * all or none. ENOENT when the table or a map is missing or, deleting, an
 * element is; EEXIST when adding a key that is there already. */
int net_nft_elems_apply(const struct net_nft_elem *elems, size_t n, bool add, struct bt_err **err);

/* ---- connection tracking (conntrack.c) ---- */
struct net_ct_addr {
    int family; /* AF_INET, AF_INET6, 0 = none */
    union {
        uint32_t v4; /* network byte order */
        struct in6_addr v6;
    } u;
};
enum net_ct_kind {
    /* Entries of the published port (proto, host port, host address when
     * set) whose reply comes from target:target_port. */
    NET_CT_TO_TARGET,
    /* Entries of the published port whose reply comes from anywhere else
     * (an earlier target, or the host itself while nothing was published). */
    NET_CT_NOT_TO_TARGET,
};
struct net_ct_match {
    enum net_ct_kind kind;
    struct net_ct_addr target;
    uint16_t target_port;
    uint8_t proto;
    uint16_t host_port;
    struct net_ct_addr host_addr; /* family 0 = any local address */
};
/* Deletes the conntrack entries of the current netns that match any of m
 * (one dump, then one delete per entry). No conntrack table is success. */
int net_ct_flush(const struct net_ct_match *m, size_t n, struct bt_err **err);
/* net_ct_flush once the store's lock is released (at once when it is not
 * held): the dump costs milliseconds, which no other command should wait
 * for. Errors are logged at debug level, as for every flush. */
void net_ct_flush_later(struct net_ctx *ctx, const struct net_ct_match *m, size_t n);
/* The same (through net_ct_flush_later) for published bindings: kind
 * NET_CT_TO_TARGET or NET_CT_NOT_TO_TARGET, target = the binding's
 * container address. */
void net_ct_flush_bindings(struct net_ctx *ctx, const struct net_port_binding *v, size_t n,
                           enum net_ct_kind kind);
/* After publishing: NET_CT_NOT_TO_TARGET for the UDP bindings of v. A UDP
 * client keeps its source port, so its flow would stay with an earlier
 * target; a TCP client opens each connection from a new port, and the
 * flows of a removed container were flushed when it went. */
void net_ct_flush_udp(struct net_ctx *ctx, const struct net_port_binding *v, size_t n);
/* Consumes the error of a flush: a failure is logged at debug level and
 * not passed on. The ports or addresses have changed already; the entries
 * left behind expire on their own, and a setup or removal must not fail
 * half way for them (as with Docker, where kernels without ctnetlink lose
 * nothing else). */
void net_ct_err_done(struct bt_err **err);

/* ---- resolution (resolv.c) ---- */
/* Rewrites the hosts files of the containers that are keys of `only` (an
 * object), or of every container when only is NULL. */
int net_hosts_refresh(struct net_ctx *ctx, json_t *only, struct bt_err **err);
/* The same from networks already read under the lock (all, n: every
 * network, as they are now). */
int net_hosts_refresh_from(struct net_ctx *ctx, json_t *only, struct net_network *const *all,
                           size_t n, struct bt_err **err);
/* net_resolv_setup without the hosts file, for a container about to be
 * attached to a network: the attach writes it (with the container's
 * address) under the same lock as the others'. */
int net_resolv_setup_files(struct net_ctx *ctx, const char *container_id,
                           const struct net_dns_opts *opts, struct bt_err **err);
/* Pure renderers, unit-tested. */
/* resolv.conf from the host's: loopback nameservers dropped; dns, search
 * and opts replace the host's when given; fallback_dns (berth.json dns),
 * then 8.8.8.8/8.8.4.4, when no nameserver is left. */
char *net_resolv_conf_render(const char *host_resolv, char *const *dns, char *const *search,
                             char *const *opts, char *const *fallback_dns);
/* hosts for container cid from its dns.json (conf) and every network. */
char *net_hosts_render(const char *cid, json_t *conf, struct net_network *const *all, size_t n);
