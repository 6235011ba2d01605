/* net: container networking for berth.
 *
 * What this module owns:
 *   - network namespaces as objects, bind-mounted at RUNROOT/netns/ID, so a
 *     restarted container keeps its namespace, addresses and ports; the
 *     runtime joins that path (OCI namespaces[].path). Joined modes
 *     (network_mode service:X / container:X) simply use X's path
 *     (net_netns_path) and bind-mount X's hosts, resolv.conf and hostname
 *     files; network_mode none is a container set up with no networks
 *     (loopback only); host mode uses none of this;
 *   - bridge networks (libnl-3 route): the bridge, its gateway address, MTU,
 *     veth pairs whose inner end is moved into a netns and named eth0, eth1…,
 *     addresses and the default route;
 *   - IPAM: subnets from berth.json's default-address-pools (never
 *     overlapping host routes, `bip` or another berth network), ipam.config
 *     subnet/gateway/ip_range, static addresses, leases released on detach;
 *     dual-stack networks (enable_ipv6) also get an IPv6 subnet (ipam.config
 *     or the IPv6 pools, default fd00:b37::/48 in /64s), and their
 *     containers an IPv6 address, default route and hosts entries;
 *   - published ports: one nftables table `inet berth` whose maps, keyed by
 *     address, protocol and port, serve every published port with a fixed
 *     set of rules; masquerade for egress, DNAT from other hosts and from the
 *     host's loopback, hairpin; the connection-tracking entries of a port
 *     that goes or points to another container, and of a released
 *     address, are deleted (ctnetlink), so that established flows follow;
 *   - name resolution: per-container hosts and resolv.conf files under
 *     RUNROOT/net/containers/ID/, rewritten in place (so bind mounts see the
 *     change) whenever a container joins or leaves one of its networks.
 *
 * State: networks (with their endpoints, i.e. IPAM leases) are JSON files in
 * ROOT/net/networks/ID.json; published ports in RUNROOT/net/ports.json.
 * Every change to them is made under an exclusive flock on ROOT/net/lock, so
 * concurrent berth commands never hand out one subnet, address or port
 * twice.
 *
 * Port reservation: a published host port is reserved by binding a socket to
 * it (without SO_REUSEADDR, so nobody else can bind it). net_ports_publish()
 * binds them when the container is created, to fail before anything is
 * made; net_ports_hold() binds them again when it starts, and the caller
 * hands them to the container's berth-monitor (fd inheritance at exec),
 * which keeps them open while the container runs, restarts included, and
 * closes them when it exits (stop, rm, down). A bound TCP socket that does
 * not listen and a bound UDP socket that nobody reads hold the port without
 * seeing its traffic: DNAT (prerouting, output) rewrites the destination
 * before local delivery. Conflicts with another berth container are found in
 * the ports registry and name that container even when nobody holds its
 * sockets.
 *
 * [::1] (the IPv6 loopback): the kernel does not route or NAT a connection
 * to ::1 out of another interface, so such bindings get no nftables
 * element; the monitor listens on the held socket and proxies to the
 * container (its IPv6 address on the publishing network, else its IPv4
 * one). A host without IPv6 loopback fails the publish with a clear error.
 *
 * For a container the engine calls net_container_setup() before starting it
 * and net_container_teardown() once it is removed (not when it merely
 * stops: a restart keeps everything).
 *
 * The nftables rules (table `inet berth`, both address families):
 *   guard (prerouting, raw): packets from a bridge to 127.0.0.0/8 are
 *            dropped (route_localnet must not open the host's loopback)
 *   prerouting/output (nat): traffic to a local address -> chain publish
 *   publish: dnat via map pub_addr (addr . proto . port), then pub_any
 *            (proto . port), both to container addr . port; pub_addr6 and
 *            pub_any6 likewise for IPv6. [::1] has no element: the
 *            monitor's userland proxy serves it
 *   postrouting (nat): masquerade egress of non-internal subnets (sets
 *            nets and nets6), DNATed
 *            traffic from 127.0.0.0/8 (route_localnet is set on bridges),
 *            and hairpin (DNATed traffic from a berth subnet to a bridge)
 *   forward (filter): traffic inside one bridge passes; traffic to or from
 *            an internal bridge is dropped; DNATed traffic passes; traffic
 *            between two berth bridges is dropped.
 *
 * Ownership: *_new / *_get / *_list return owned values released with the
 * matching *_free; `const char *` arguments are borrowed. Networks are IPv4,
 * or dual stack with enable_ipv6. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <netinet/in.h>

struct bt_err;

/* ---- context: where state lives ---- */
struct net_ctx;
/* From BERTH_ROOT (default /var/lib/berth), BERTH_RUNROOT (default
 * /run/berth) and BERTH_CONFIG (default /etc/berth/berth.json; a missing
 * file means defaults). */
struct net_ctx *net_ctx_new(struct bt_err **err);
/* Explicit paths; config may be NULL (defaults). */
struct net_ctx *net_ctx_new_at(const char *root, const char *runroot, const char *config,
                               struct bt_err **err);
struct net_ctx *net_ctx_free(struct net_ctx *ctx);

/* ---- IPv4 prefixes (host byte order) ---- */
struct net_prefix {
    uint32_t addr;
    uint8_t len;
};
/* "10.0.0.0/24" (len required unless allow_host, then "10.0.0.1" = /32). */
bool net_prefix_parse(const char *s, bool allow_host, struct net_prefix *out);
bool net_addr_parse(const char *s, uint32_t *out);
/* IPv6 prefixes; net_prefix6_fmt needs INET6_ADDRSTRLEN + 4 bytes. */
struct net_prefix6 {
    struct in6_addr addr;
    uint8_t len;
};
bool net_prefix6_parse(const char *s, bool allow_host, struct net_prefix6 *out);
bool net_addr6_parse(const char *s, struct in6_addr *out);
const char *net_prefix6_fmt(const struct net_prefix6 *p, char *buf);
const char *net_addr6_fmt(const struct in6_addr *a, char *buf);
/* Formats into buf (at least 20 bytes): "10.0.0.0/24" or "10.0.0.1". */
const char *net_prefix_fmt(const struct net_prefix *p, char *buf);
const char *net_addr_fmt(uint32_t addr, char *buf);

/* ---- network namespaces ---- */
/* Creates a new network namespace with its loopback up and bind-mounts it at
 * RUNROOT/netns/ID. Returns the path (owned). EEXIST if it already exists. */
char *net_netns_create(struct net_ctx *ctx, const char *id, struct bt_err **err);
/* Unmounts and unlinks RUNROOT/netns/ID; a missing one is success. */
int net_netns_remove(struct net_ctx *ctx, const char *id, struct bt_err **err);
/* RUNROOT/netns/ID (owned), whether or not it exists. */
char *net_netns_path(struct net_ctx *ctx, const char *id);

/* ---- networks ---- */
struct net_network_opts {
    const char *name;      /* required: [a-zA-Z0-9][a-zA-Z0-9_.-]* */
    const char *subnet;    /* ipam.config[0].subnet, NULL = from the pools */
    const char *gateway;   /* ipam.config[0].gateway, NULL = first address */
    const char *ip_range;  /* ipam.config[0].ip_range, NULL = whole subnet */
    bool internal;         /* no route out, no published ports */
    json_t *labels;        /* object of strings, borrowed, may be NULL */
    json_t *driver_opts;   /* object of strings, borrowed, may be NULL:
                            * com.docker.network.bridge.name,
                            * com.docker.network.driver.mtu */
    const char *driver;    /* NULL or "bridge" */
    json_t *aux_addresses; /* ipam.config[0].aux_addresses: object name -> IPv4,
                            * addresses never given to a container; may be NULL */
    bool enable_ipv6;      /* dual stack: an IPv6 subnet as well */
    const char *subnet6;   /* IPv6 ipam.config subnet, NULL = from the IPv6 pools */
    const char *gateway6;  /* IPv6 ipam.config gateway, NULL = first address */
};

struct net_network {
    char *id;   /* 64 hex digits */
    char *name; /* user-visible name (PROJECT_NAME for compose) */
    char *driver;
    char *bridge;  /* bridge interface name */
    char *created; /* RFC 3339 */
    struct net_prefix subnet;
    uint32_t gateway;
    struct net_prefix ip_range; /* == subnet when not restricted */
    unsigned mtu;
    bool internal;
    bool bridge_adopted; /* the bridge existed before: left in place on removal */
    json_t *labels;      /* owned object */
    json_t *options;     /* owned object: driver_opts as given */
    json_t *aux;         /* owned object: aux_addresses, name -> IPv4 */
    json_t *endpoints;   /* owned object: container id -> endpoint (see inspect) */
    json_t *previous;    /* owned object: container id -> address it had when its
                          * namespace vanished (offered again, not reserved) */
    bool ipv6;           /* enable_ipv6: subnet6 and gateway6 are set */
    struct net_prefix6 subnet6;
    struct in6_addr gateway6;
};

/* Creates the network: state, bridge (up, gateway address, MTU) and its
 * nftables elements. Nothing is left behind on failure. */
struct net_network *net_network_create(struct net_ctx *ctx, const struct net_network_opts *opts,
                                       struct bt_err **err);
/* Makes a recorded network's bridge (gateway address, MTU) and nftables
 * elements again, as after a host reboot; what exists already is kept. */
int net_network_restore(struct net_ctx *ctx, const char *ref, struct bt_err **err);
/* By exact name, full id or unique id prefix. NULL without error when not
 * found. */
struct net_network *net_network_get(struct net_ctx *ctx, const char *ref, struct bt_err **err);
/* All networks sorted by name; *n is set. Free with net_network_list_free. */
struct net_network **net_network_list(struct net_ctx *ctx, size_t *n, struct bt_err **err);
void net_network_list_free(struct net_network **list, size_t n);
/* Removes bridge, nft elements and state. EBUSY (naming the containers) when
 * endpoints remain. */
int net_network_remove(struct net_ctx *ctx, const char *ref, struct bt_err **err);
struct net_network *net_network_free(struct net_network *nw);
/* Docker-shaped `network inspect` object (Name, Id, Created, Driver, IPAM,
 * Internal, Options, Labels, Containers). New reference. */
json_t *net_network_to_json(const struct net_network *nw);

/* ---- endpoints: a container on a network ---- */
struct net_endpoint_opts {
    const char *network;        /* name or id */
    const char *container_id;   /* required */
    const char *container_name; /* e.g. demo-web-1; listed in /etc/hosts */
    const char *service;        /* compose service name, NULL if none */
    const char *netns;          /* path of the netns to plug (net_netns_create) */
    const char *ipv4_address;   /* static address, NULL = next free */
    const char *ipv6_address;   /* static, IPv6 networks only; NULL = next free */
    char *const *aliases;       /* NULL-terminated, may be NULL */
    const char *hostname;       /* container's hostname, NULL = first 12 of id */
};

struct net_endpoint {
    char *network_id;
    char *network_name;
    char *ifname;      /* inside the netns: eth0, eth1, … */
    char *host_ifname; /* veth end on the bridge */
    char *mac;
    uint32_t ipv4;
    uint8_t prefix_len;
    uint32_t gateway; /* 0 on internal networks */
    bool has_ipv6;    /* the network has IPv6: ipv6/prefix6_len are set */
    struct in6_addr ipv6;
    uint8_t prefix6_len;
};
void net_endpoint_done(struct net_endpoint *ep);

/* Allocates an address, records the lease and rewrites the hosts files of
 * every container sharing the network (under the state lock), then creates
 * the veth pair (inner end named ethN inside the netns, MAC 02:42 and the
 * IPv4 address, addressed, up; default route via this network's gateway
 * when it is the first non-internal network of the container); if that
 * fails the lease goes again. out may be NULL. */
int net_endpoint_attach(struct net_ctx *ctx, const struct net_endpoint_opts *opts,
                        struct net_endpoint *out, struct bt_err **err);
/* Removes the veth, the lease, the conntrack entries of its address and
 * this container from others' hosts files. A container that is not
 * attached is success. */
int net_endpoint_detach(struct net_ctx *ctx, const char *network, const char *container_id,
                        struct bt_err **err);
/* `network connect`: attaches a container that is already on some network
 * (found by id, unique id prefix or container name; its namespace, names
 * and hostname come from there) to one more network. */
int net_container_connect(struct net_ctx *ctx, const char *network, const char *container,
                          const char *ipv4_address, char *const *aliases, struct net_endpoint *out,
                          struct bt_err **err);
/* Docker's NetworkSettings of a container's inspect object: IPAddress,
 * IPPrefixLen, Gateway and MacAddress of the network that carries its
 * default route (or its first network), and Networks: network name ->
 * {NetworkID, EndpointID, Gateway, IPAddress, IPPrefixLen, MacAddress,
 * Aliases, DNSNames}. Empty fields for a container on no network. New
 * reference. */
json_t *net_container_settings_json(struct net_ctx *ctx, const char *container_id,
                                    struct bt_err **err);
/* `network disconnect`: detaches it from one network; if that one carried
 * the default route, the next non-internal network takes it over. EBUSY
 * when the container's published ports lead through that network. */
int net_container_disconnect(struct net_ctx *ctx, const char *network, const char *container,
                             struct bt_err **err);
/* Detaches a container from every network, unpublishes its ports and removes
 * its resolution files (not its netns). */
int net_container_release(struct net_ctx *ctx, const char *container_id, struct bt_err **err);

/* ---- published ports ---- */
enum net_proto { NET_PROTO_TCP = 6, NET_PROTO_UDP = 17 };

/* One port mapping as compose describes it. host_port 0 = ephemeral; a
 * range maps host_port..host_port_end onto container_port..container_port_end
 * (same length, or one container port for a host range). */
struct net_port_spec {
    char host_ip[INET6_ADDRSTRLEN]; /* "" = every address (both families when the
                                     * container has IPv6), "::" = every IPv6 one */
    uint16_t host_port, host_port_end;
    uint16_t container_port, container_port_end;
    enum net_proto proto;
};
/* Parses the docker -p / compose short syntax:
 * [[HOST_IP:][HOST_PORT[-END]]:]CONTAINER_PORT[-END][/tcp|udp]. */
int net_port_spec_parse(const char *s, struct net_port_spec *out, struct bt_err **err);

struct net_port_binding {
    char host_ip[INET6_ADDRSTRLEN]; /* "" = every IPv4 address, "::" = every IPv6 one */
    uint16_t host_port;
    uint16_t container_port;
    enum net_proto proto;
    uint32_t container_ip;         /* IPv4 bindings */
    struct in6_addr container_ip6; /* IPv6 bindings (host_ip has a ':') */
};
/* An IPv6 binding: host_ip is an IPv6 address or "::". */
bool net_port_binding_is_v6(const struct net_port_binding *b);
/* A [::1] binding, served by the monitor's userland proxy rather than DNAT;
 * its container_ip6 is unset (all zero) when the container has no IPv6
 * address, and container_ip is then the target. */
bool net_port_binding_is_proxied(const struct net_port_binding *b);
/* The container address the binding leads to, formatted into buf
 * (INET6_ADDRSTRLEN bytes). */
const char *net_port_binding_target(const struct net_port_binding *b, char *buf);

struct net_port_set {
    struct net_port_binding *bindings;
    size_t n;
    int *fds; /* one bound socket per binding, owned */
};
/* Reserves every host port (failing before anything is published if one is
 * taken, naming the port and the berth container holding it), then adds the
 * nftables map elements towards the container's address on `network`.
 * Replaces what the container published before. UDP flows to these host
 * ports that conntrack still sends elsewhere are cut, so that their next
 * datagram reaches this container. EPERM on an internal network, ENOENT
 * when the container is not on it. *out receives the set. */
int net_ports_publish(struct net_ctx *ctx, const char *container_id, const char *container_name,
                      const char *network, const struct net_port_spec *specs, size_t nspecs,
                      struct net_port_set **out, struct bt_err **err);
/* Checks, without keeping anything, that every host port of specs could be
 * reserved now (the container's own earlier ports do not count): for `up`
 * to fail on a taken port before it creates or starts anything. */
int net_ports_check(struct net_ctx *ctx, const char *container_id, const char *container_name,
                    const struct net_port_spec *specs, size_t nspecs, struct bt_err **err);
/* Removes the container's map elements and registry entries, and the
 * conntrack entries of those ports whose replies come from the container. */
int net_ports_unpublish(struct net_ctx *ctx, const char *container_id, struct bt_err **err);
/* The container's bindings from the registry (for `berth port`). */
struct net_port_set *net_ports_list(struct net_ctx *ctx, const char *container_id,
                                    struct bt_err **err);
/* Binds the host ports the registry records for the container (as
 * net_ports_publish made them) and returns them in *out (an empty set when
 * it has none): for the monitor to hold while the container runs.
 * EADDRINUSE, naming the port, when another process took one since. */
int net_ports_hold(struct net_ctx *ctx, const char *container_id, struct net_port_set **out,
                   struct bt_err **err);
/* The bound sockets, borrowed; *n set (-1 for a binding reserved without
 * a socket). */
const int *net_port_set_fds(const struct net_port_set *set, size_t *n);
/* "0.0.0.0:8080->80/tcp" or "[::]:8080->80/tcp", as `ps` shows a
 * binding; buf of 80 bytes is enough. */
const char *net_port_binding_fmt(const struct net_port_binding *b, char *buf, size_t size);
/* Closes the sockets (if still owned) and frees. */
struct net_port_set *net_port_set_free(struct net_port_set *set);

/* ---- name resolution ---- */
struct net_dns_opts {
    char *const *dns;         /* nameservers, NULL-terminated or NULL */
    char *const *dns_search;  /* search domains */
    char *const *dns_opt;     /* resolver options */
    char *const *extra_hosts; /* "name:ip" or "name=ip" */
    const char *hostname;     /* NULL = first 12 chars of the id */
    const char *domainname;
};
/* Writes RUNROOT/net/containers/ID/{hosts,resolv.conf,hostname} for the
 * container and remembers opts for later rewrites of its hosts file. Call
 * before starting the container; the engine bind-mounts the files. */
int net_resolv_setup(struct net_ctx *ctx, const char *container_id, const struct net_dns_opts *opts,
                     struct bt_err **err);
/* Paths of the files (owned). */
char *net_resolv_hosts_path(struct net_ctx *ctx, const char *container_id);
char *net_resolv_conf_path(struct net_ctx *ctx, const char *container_id);

/* ---- one container, all at once (what the engine calls) ---- */
struct net_attach_spec {
    const char *network;      /* name or id */
    const char *ipv4_address; /* static, or NULL */
    const char *ipv6_address; /* static, or NULL */
    char *const *aliases;     /* per-network aliases, may be NULL */
};

struct net_container_spec {
    const char *container_id; /* also the netns id */
    const char *container_name;
    const char *service;
    const struct net_attach_spec *networks; /* eth0, eth1, … in this order */
    size_t nnetworks;                       /* 0 = network_mode: none (loopback only) */
    const struct net_port_spec *ports;      /* published on the first non-internal network */
    size_t nports;
    struct net_dns_opts dns;
};

struct net_container_net {
    char *netns;         /* join this path (OCI namespaces[].path) */
    char *hosts_path;    /* bind-mount onto /etc/hosts */
    char *resolv_path;   /* bind-mount onto /etc/resolv.conf */
    char *hostname_path; /* bind-mount onto /etc/hostname */
    struct net_endpoint *endpoints;
    size_t nendpoints;
    struct net_port_set *ports; /* the bindings made, NULL when none; its sockets
                                 * only reserve the ports until it is freed:
                                 * the monitor gets its own (net_ports_hold) */
};

/* Checks the host ports (net_ports_check), then creates the netns
 * RUNROOT/netns/ID, writes the resolution files, attaches every network and
 * publishes the ports. All or nothing: on failure every step already made
 * is undone. */
int net_container_setup(struct net_ctx *ctx, const struct net_container_spec *spec,
                        struct net_container_net **out, struct bt_err **err);
struct net_container_net *net_container_net_free(struct net_container_net *cn);
/* net_container_release() and net_netns_remove(): nothing of the container's
 * networking is left. */
int net_container_teardown(struct net_ctx *ctx, const char *container_id, struct bt_err **err);
