/* berth network: ls, create, inspect, rm, prune, and the plumbing that sets
 * up or tears down one container's network namespace (setup, teardown). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "net/net.h"

DEFINE_CLEANUP(struct net_ctx *, net_ctx_free)
#define _cleanup_net_ctx_ _cleanup_(net_ctx_freep)

static void
network_usage(FILE *out)
{
    fprintf(out, "Usage:  berth network COMMAND\n\n"
                 "Manage networks\n\n"
                 "Commands:\n"
                 "  connect     Connect a container to a network\n"
                 "  create      Create a network\n"
                 "  disconnect  Disconnect a container from a network\n"
                 "  inspect     Display detailed information on one or more networks\n"
                 "  ls          List networks\n"
                 "  prune       Remove all unused networks\n"
                 "  rm          Remove one or more networks\n\n"
                 "Plumbing (what the runtime does for a container, for scripts and debugging):\n"
                 "  setup       Create the netns RUNROOT/netns/ID and plug it into networks\n"
                 "  teardown    Unplug a container and remove its netns\n");
}

/* "k=v" into an object; false on a missing '='. */
static bool
kv_set(json_t *obj, const char *s)
{
    const char *eq = strchr(s, '=');
    if (!eq || eq == s)
        return false;
    _cleanup_free_ char *k = xstrndup(s, (size_t)(eq - s));
    json_object_set_new(obj, k, json_string(eq + 1));
    return true;
}

static int
cmd_create(int argc, char **argv)
{
    static const struct option opts[] = {
        {"driver", required_argument, NULL, 'd'},
        {"subnet", required_argument, NULL, 's'},
        {"gateway", required_argument, NULL, 'g'},
        {"ip-range", required_argument, NULL, 'r'},
        {"internal", no_argument, NULL, 'i'},
        {"label", required_argument, NULL, 'l'},
        {"opt", required_argument, NULL, 'o'},
        {"aux-address", required_argument, NULL, 'x'},
        {"ipv6", no_argument, NULL, '6'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct net_network_opts o = {0};
    _cleanup_json_ json_t *labels = json_object();
    _cleanup_json_ json_t *dopts = json_object();
    _cleanup_json_ json_t *aux = json_object();
    int c;
    while ((c = getopt_long(argc, argv, "d:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            o.driver = optarg;
            break;
        case 's':
            /* As docker's: one IPv4 and one IPv6 --subnet and --gateway. */
            if (strchr(optarg, ':'))
                o.subnet6 = optarg;
            else
                o.subnet = optarg;
            break;
        case 'g':
            if (strchr(optarg, ':'))
                o.gateway6 = optarg;
            else
                o.gateway = optarg;
            break;
        case 'r':
            o.ip_range = optarg;
            break;
        case 'i':
            o.internal = true;
            break;
        case 'l':
            if (!kv_set(labels, optarg))
                return cli_usage_error("network create", "--label takes KEY=VALUE");
            break;
        case 'o':
            if (!kv_set(dopts, optarg))
                return cli_usage_error("network create", "--opt takes KEY=VALUE");
            break;
        case 'x':
            if (!kv_set(aux, optarg))
                return cli_usage_error("network create", "--aux-address takes NAME=IP");
            break;
        case '6':
            o.enable_ipv6 = true;
            break;
        case 'h':
            printf("Usage:  berth network create [OPTIONS] NETWORK\n\n"
                   "  -d, --driver DRIVER        bridge (the default and only driver)\n"
                   "      --subnet CIDR          Subnet (default: from default-address-pools)\n"
                   "      --gateway IP           Gateway (default: first address)\n"
                   "      --ip-range CIDR        Allocate container addresses from this range\n"
                   "      --aux-address NAME=IP  Keep an address from containers\n"
                   "      --ipv6                 Dual stack: an IPv6 subnet too (--subnet and\n"
                   "                             --gateway take one IPv4 and one IPv6 value)\n"
                   "      --internal             No route out, no published ports\n"
                   "      --label KEY=VALUE      Set metadata\n"
                   "  -o, --opt KEY=VALUE        Driver options: com.docker.network.bridge.name,\n"
                   "                             com.docker.network.driver.mtu\n");
            return CLI_EXIT_OK;
        default:
            return cli_usage_error("network create", "unknown option");
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error("network create", "takes exactly one network name");
    o.name = argv[optind];
    o.labels = labels;
    o.driver_opts = dopts;
    o.aux_addresses = aux;
    struct bt_err *err = NULL;
    _cleanup_net_ctx_ struct net_ctx *ctx = net_ctx_new(&err);
    struct net_network *nw = ctx ? net_network_create(ctx, &o, &err) : NULL;
    if (!nw)
        return cli_fail(&err, "network create");
    printf("%s\n", nw->id);
    net_network_free(nw);
    return CLI_EXIT_OK;
}

/* docker network ls --filter: name=SUBSTRING, id=PREFIX, label=KEY[=VALUE],
 * driver=NAME, dangling=true|false (no containers). Several filters of one
 * kind match any of them; filters of different kinds must all match. */
struct ls_filter {
    char kind[16];
    const char *value; /* borrowed from argv */
};

static bool
filter_one(const struct net_network *nw, const char *kind, const char *value)
{
    if (strcmp(kind, "name") == 0)
        return strstr(nw->name, value) != NULL;
    if (strcmp(kind, "id") == 0)
        return bt_str_startswith(nw->id, value);
    if (strcmp(kind, "driver") == 0)
        return strcmp(nw->driver, value) == 0;
    if (strcmp(kind, "dangling") == 0)
        return (json_object_size(nw->endpoints) == 0) == (strcmp(value, "true") == 0);
    /* label */
    const char *eq = strchr(value, '=');
    _cleanup_free_ char *key = eq ? xstrndup(value, (size_t)(eq - value)) : xstrdup(value);
    const char *have = bt_json_str(nw->labels, key);
    return have && (!eq || strcmp(have, eq + 1) == 0);
}

static bool
filter_match(const struct net_network *nw, const struct ls_filter *f, size_t n)
{
    static const char *const kinds[] = {"name", "id", "label", "driver", "dangling"};
    for (size_t k = 0; k < BT_ARRAY_SIZE(kinds); k++) {
        bool seen = false, any = false;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(f[i].kind, kinds[k]) != 0)
                continue;
            seen = true;
            any = any || filter_one(nw, f[i].kind, f[i].value);
        }
        if (seen && !any)
            return false;
    }
    return true;
}

static int
cmd_ls(int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'}, {"quiet", no_argument, NULL, 'q'},
        {"no-trunc", no_argument, NULL, 'n'},     {"filter", required_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},         {0},
    };
    const char *format = "table";
    bool quiet = false, no_trunc = false;
    struct ls_filter filters[32];
    size_t nfilters = 0;
    int c;
    while ((c = getopt_long(argc, argv, "f:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'F': {
            const char *eq = strchr(optarg, '=');
            char kind[16] = "";
            if (eq && (size_t)(eq - optarg) < sizeof(kind))
                memcpy(kind, optarg, (size_t)(eq - optarg));
            static const char *const kinds[] = {"name", "id", "label", "driver", "dangling"};
            bool known = false;
            for (size_t k = 0; k < BT_ARRAY_SIZE(kinds); k++)
                known = known || strcmp(kind, kinds[k]) == 0;
            if (!known || !eq[1])
                return cli_usage_error("network ls", "--filter takes name=, id=, label=, "
                                                     "driver= or dangling= with a value");
            if (strcmp(kind, "dangling") == 0 && strcmp(eq + 1, "true") && strcmp(eq + 1, "false"))
                return cli_usage_error("network ls", "--filter dangling takes true or false");
            if (nfilters == BT_ARRAY_SIZE(filters))
                return cli_usage_error("network ls", "too many filters");
            memcpy(filters[nfilters].kind, kind, sizeof(kind));
            filters[nfilters].value = eq + 1;
            nfilters++;
            break;
        }
        case 'f':
            format = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'n':
            no_trunc = true;
            break;
        case 'h':
            printf("Usage:  berth network ls [--format table|json] [-q] [--no-trunc]\n"
                   "                         [--filter name=|id=|label=K[=V]|driver=|dangling=]\n");
            return CLI_EXIT_OK;
        default:
            return cli_usage_error("network ls", "unknown option");
        }
    }
    if (strcmp(format, "table") && strcmp(format, "json"))
        return cli_usage_error("network ls", "--format takes table or json");
    if (optind != argc)
        return cli_usage_error("network ls", "takes no arguments");
    struct bt_err *err = NULL;
    _cleanup_net_ctx_ struct net_ctx *ctx = net_ctx_new(&err);
    size_t n = 0;
    struct net_network **list = ctx ? net_network_list(ctx, &n, &err) : NULL;
    if (!list)
        return cli_fail(&err, "network ls");
    if (!quiet && strcmp(format, "table") == 0)
        printf("%-14s %-30s %-8s %s\n", "NETWORK ID", "NAME", "DRIVER", "SCOPE");
    for (size_t i = 0; i < n; i++) {
        const struct net_network *nw = list[i];
        if (!filter_match(nw, filters, nfilters))
            continue;
        int idlen = no_trunc ? 64 : 12;
        if (quiet) {
            printf("%.*s\n", idlen, nw->id);
        } else if (strcmp(format, "json") == 0) {
            _cleanup_json_ json_t *j =
                json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:O}", "ID", nw->id, "Name",
                          nw->name, "Driver", nw->driver, "Scope", "local", "IPv6",
                          nw->ipv6 ? "true" : "false", "Internal", nw->internal ? "true" : "false",
                          "CreatedAt", nw->created, "Labels", nw->labels);
            _cleanup_free_ char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
            printf("%s\n", s);
        } else {
            printf("%-14.*s %-30s %-8s %s\n", idlen, nw->id, nw->name, nw->driver, "local");
        }
    }
    net_network_list_free(list, n);
    return CLI_EXIT_OK;
}

static int
cmd_inspect(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            printf("Usage:  berth network inspect NETWORK [NETWORK...]\n");
            return CLI_EXIT_OK;
        }
        return cli_usage_error("network inspect", "unknown option");
    }
    if (optind >= argc)
        return cli_usage_error("network inspect", "needs at least one network");
    struct bt_err *err = NULL;
    _cleanup_net_ctx_ struct net_ctx *ctx = net_ctx_new(&err);
    if (!ctx)
        return cli_fail(&err, "network inspect");
    _cleanup_json_ json_t *out = json_array();
    int rc = CLI_EXIT_OK;
    for (int i = optind; i < argc; i++) {
        struct net_network *nw = net_network_get(ctx, argv[i], &err);
        if (!nw) {
            if (!err)
                bt_err_set(&err, ENOENT, "network %s not found", argv[i]);
            rc = cli_fail(&err, "network inspect");
            continue;
        }
        json_array_append_new(out, net_network_to_json(nw));
        net_network_free(nw);
    }
    if (json_array_size(out) > 0 || rc == CLI_EXIT_OK) {
        _cleanup_free_ char *s = json_dumps(out, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
        printf("%s\n", s);
    }
    return rc;
}

static int
cmd_rm(int argc, char **argv)
{
    static const struct option opts[] = {
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    bool force = false;
    int c;
    while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
        if (c == 'f') {
            force = true;
            continue;
        }
        if (c == 'h') {
            printf("Usage:  berth network rm [-f] NETWORK [NETWORK...]\n");
            return CLI_EXIT_OK;
        }
        return cli_usage_error("network rm", "unknown option");
    }
    if (optind >= argc)
        return cli_usage_error("network rm", "needs at least one network");
    struct bt_err *err = NULL;
    _cleanup_net_ctx_ struct net_ctx *ctx = net_ctx_new(&err);
    if (!ctx)
        return cli_fail(&err, "network rm");
    int rc = CLI_EXIT_OK;
    for (int i = optind; i < argc; i++) {
        int r = net_network_remove(ctx, argv[i], &err);
        if (r == -ENOENT && force) {
            err = bt_err_free(err); /* -f: a missing network is not an error */
            continue;
        }
        if (r < 0)
            rc = cli_fail(&err, "network rm");
        else
            printf("%s\n", argv[i]);
    }
    return rc;
}

static int
cmd_prune(int argc, char **argv)
{
    static const struct option opts[] = {
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    bool force = false;
    int c;
    while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
        if (c == 'f') {
            force = true;
            continue;
        }
        if (c == 'h') {
            printf("Usage:  berth network prune [-f]\n");
            return CLI_EXIT_OK;
        }
        return cli_usage_error("network prune", "unknown option");
    }
    if (!force && !cli_confirm("This will remove all custom networks not used by at least "
                               "one container."))
        return CLI_EXIT_OK;
    struct bt_err *err = NULL;
    _cleanup_net_ctx_ struct net_ctx *ctx = net_ctx_new(&err);
    size_t n = 0;
    struct net_network **list = ctx ? net_network_list(ctx, &n, &err) : NULL;
    if (!list)
        return cli_fail(&err, "network prune");
    int rc = CLI_EXIT_OK;
    bool header = false;
    for (size_t i = 0; i < n; i++) {
        if (json_object_size(list[i]->endpoints) > 0)
            continue;
        if (net_network_remove(ctx, list[i]->id, &err) < 0) {
            /* Taken by a container meanwhile: not unused any more. */
            if (err->code == EBUSY) {
                err = bt_err_free(err);
                continue;
            }
            rc = cli_fail(&err, "network prune");
            continue;
        }
        if (!header)
            printf("Deleted Networks:\n");
        header = true;
        printf("%s\n", list[i]->name);
    }
    net_network_list_free(list, n);
    return rc;
}

static int
cmd_connect(int argc, char **argv)
{
    static const struct option opts[] = {
        {"ip", required_argument, NULL, 'i'},
        {"alias", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const char *ip = NULL;
    _cleanup_strv_ char **aliases = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            ip = optarg;
            break;
        case 'a':
            aliases = bt_strv_push(aliases, optarg);
            break;
        case 'h':
            printf("Usage:  berth network connect [--ip ADDR] [--alias NAME]... NETWORK "
                   "CONTAINER\n");
            return CLI_EXIT_OK;
        default:
            return cli_usage_error("network connect", "unknown option");
        }
    }
    if (optind + 2 != argc)
        return cli_usage_error("network connect", "takes a network and a container");
    struct bt_err *err = NULL;
    _cleanup_net_ctx_ struct net_ctx *ctx = net_ctx_new(&err);
    if (!ctx ||
        net_container_connect(ctx, argv[optind], argv[optind + 1], ip, aliases, NULL, &err) < 0)
        return cli_fail(&err, "network connect");
    return CLI_EXIT_OK;
}

static int
cmd_disconnect(int argc, char **argv)
{
    static const struct option opts[] = {
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    bool force = false;
    int c;
    while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
        if (c == 'f') {
            force = true;
            continue;
        }
        if (c == 'h') {
            printf("Usage:  berth network disconnect [-f] NETWORK CONTAINER\n");
            return CLI_EXIT_OK;
        }
        return cli_usage_error("network disconnect", "unknown option");
    }
    if (optind + 2 != argc)
        return cli_usage_error("network disconnect", "takes a network and a container");
    struct bt_err *err = NULL;
    _cleanup_net_ctx_ struct net_ctx *ctx = net_ctx_new(&err);
    int r = ctx ? net_container_disconnect(ctx, argv[optind], argv[optind + 1], &err)
                : bt_err_ret(&err);
    if (r == -ENOENT && force) {
        err = bt_err_free(err); /* -f: not connected is not an error */
        return CLI_EXIT_OK;
    }
    if (r < 0)
        return cli_fail(&err, "network disconnect");
    return CLI_EXIT_OK;
}

/* ---- plumbing ---- */

struct setup_net {
    char *name;
    char *ip;
    char *ip6;
    char **aliases;
};

static int
cmd_setup(int argc, char **argv)
{
    static const struct option opts[] = {
        {"network", required_argument, NULL, 'n'},
        {"ip", required_argument, NULL, 'i'},
        {"ip6", required_argument, NULL, '6'},
        {"alias", required_argument, NULL, 'a'},
        {"name", required_argument, NULL, 'N'},
        {"service", required_argument, NULL, 'S'},
        {"publish", required_argument, NULL, 'p'},
        {"hostname", required_argument, NULL, 'H'},
        {"domainname", required_argument, NULL, 'D'},
        {"dns", required_argument, NULL, 'd'},
        {"dns-search", required_argument, NULL, 's'},
        {"dns-option", required_argument, NULL, 'o'},
        {"add-host", required_argument, NULL, 'x'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct setup_net nets[16] = {0};
    size_t nnets = 0;
    const char *cname = NULL, *service = NULL, *hostname = NULL, *domainname = NULL;
    _cleanup_strv_ char **publish = NULL;
    _cleanup_strv_ char **dns = NULL;
    _cleanup_strv_ char **search = NULL;
    _cleanup_strv_ char **dopts = NULL;
    _cleanup_strv_ char **hosts = NULL;
    int rc = CLI_EXIT_OK;
    int c;
    while (rc == CLI_EXIT_OK && (c = getopt_long(argc, argv, "p:h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (nnets == BT_ARRAY_SIZE(nets))
                rc = cli_usage_error("network setup", "too many networks");
            else
                nets[nnets++].name = optarg;
            break;
        case 'i':
        case '6':
        case 'a':
            if (nnets == 0) {
                rc = cli_usage_error("network setup", "--ip, --ip6 and --alias follow a --network");
            } else if (c == 'i') {
                nets[nnets - 1].ip = optarg;
            } else if (c == '6') {
                nets[nnets - 1].ip6 = optarg;
            } else {
                nets[nnets - 1].aliases = bt_strv_push(nets[nnets - 1].aliases, optarg);
            }
            break;
        case 'N':
            cname = optarg;
            break;
        case 'S':
            service = optarg;
            break;
        case 'p':
            publish = bt_strv_push(publish, optarg);
            break;
        case 'H':
            hostname = optarg;
            break;
        case 'D':
            domainname = optarg;
            break;
        case 'd':
            dns = bt_strv_push(dns, optarg);
            break;
        case 's':
            search = bt_strv_push(search, optarg);
            break;
        case 'o':
            dopts = bt_strv_push(dopts, optarg);
            break;
        case 'x':
            hosts = bt_strv_push(hosts, optarg);
            break;
        case 'h':
            printf("Usage:  berth network setup [OPTIONS] ID\n\n"
                   "Creates the network namespace RUNROOT/netns/ID, plugs it into each\n"
                   "--network (eth0, eth1, … in order), publishes ports on the first network\n"
                   "and writes the container's hosts and resolv.conf.\n\n"
                   "  --network NET [--ip ADDR] [--ip6 ADDR] [--alias NAME]...  (repeatable)\n"
                   "  --name NAME  --service NAME  --hostname NAME  --domainname NAME\n"
                   "  -p, --publish [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]\n"
                   "  --dns IP  --dns-search DOMAIN  --dns-option OPT  --add-host HOST:IP\n");
            for (size_t i = 0; i < nnets; i++)
                bt_strv_free(nets[i].aliases);
            return CLI_EXIT_OK;
        default:
            rc = cli_usage_error("network setup", "unknown option");
        }
    }
    if (rc == CLI_EXIT_OK && optind + 1 != argc)
        rc = cli_usage_error("network setup", "takes exactly one container id");
    if (rc == CLI_EXIT_OK && publish && nnets == 0)
        rc = cli_usage_error("network setup", "publishing ports needs a --network");
    size_t nspecs = bt_strv_length(publish);
    _cleanup_free_ struct net_port_spec *specs = xcalloc(nspecs + 1, sizeof(*specs));
    struct bt_err *err = NULL;
    for (size_t i = 0; rc == CLI_EXIT_OK && i < nspecs; i++) {
        if (net_port_spec_parse(publish[i], &specs[i], &err) < 0)
            rc = cli_fail(&err, "network setup");
    }
    struct net_attach_spec attach[BT_ARRAY_SIZE(nets)];
    for (size_t i = 0; i < nnets; i++)
        attach[i] = (struct net_attach_spec){.network = nets[i].name,
                                             .ipv4_address = nets[i].ip,
                                             .ipv6_address = nets[i].ip6,
                                             .aliases = nets[i].aliases};
    struct net_container_spec spec = {
        .container_id = rc == CLI_EXIT_OK ? argv[optind] : NULL,
        .container_name = cname,
        .service = service,
        .networks = attach,
        .nnetworks = nnets,
        .ports = specs,
        .nports = nspecs,
        .dns = {.dns = dns,
                .dns_search = search,
                .dns_opt = dopts,
                .extra_hosts = hosts,
                .hostname = hostname,
                .domainname = domainname},
    };
    _cleanup_net_ctx_ struct net_ctx *ctx = rc == CLI_EXIT_OK ? net_ctx_new(&err) : NULL;
    struct net_container_net *cn = NULL;
    if (rc == CLI_EXIT_OK && (!ctx || net_container_setup(ctx, &spec, &cn, &err) < 0))
        rc = cli_fail(&err, "network setup");
    for (size_t i = 0; cn && i < cn->nendpoints; i++) {
        const struct net_endpoint *ep = &cn->endpoints[i];
        char a[20];
        printf("%s %s %s/%u", ep->network_name, ep->ifname, net_addr_fmt(ep->ipv4, a),
               ep->prefix_len);
        if (ep->has_ipv6) {
            char a6[INET6_ADDRSTRLEN];
            printf(" %s/%u", net_addr6_fmt(&ep->ipv6, a6), ep->prefix6_len);
        }
        putchar('\n');
    }
    for (size_t i = 0; cn && cn->ports && i < cn->ports->n; i++) {
        const struct net_port_binding *b = &cn->ports->bindings[i];
        bool v6 = strchr(b->host_ip, ':') != NULL;
        printf("%u/%s -> %s%s%s:%u\n", b->container_port, b->proto == NET_PROTO_UDP ? "udp" : "tcp",
               v6 ? "[" : "", b->host_ip[0] ? b->host_ip : "0.0.0.0", v6 ? "]" : "", b->host_port);
    }
    /* This command exits now and closes the reserved sockets; the registry
     * keeps the ports berth's (the runtime hands the sockets to the
     * container's monitor instead). */
    net_container_net_free(cn);
    for (size_t i = 0; i < nnets; i++)
        bt_strv_free(nets[i].aliases);
    return rc;
}

static int
cmd_teardown(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        printf("Usage:  berth network teardown ID\n\n"
               "Unpublishes the container's ports, unplugs it from every network, removes\n"
               "its hosts/resolv.conf and the network namespace RUNROOT/netns/ID.\n");
        return CLI_EXIT_OK;
    }
    if (argc != 2)
        return cli_usage_error("network teardown", "takes exactly one container id");
    struct bt_err *err = NULL;
    _cleanup_net_ctx_ struct net_ctx *ctx = net_ctx_new(&err);
    if (!ctx || net_container_teardown(ctx, argv[1], &err) < 0)
        return cli_fail(&err, "network teardown");
    return CLI_EXIT_OK;
}

int
cli_cmd_network(struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } subs[] = {
        {"create", cmd_create},
        {"ls", cmd_ls},
        {"list", cmd_ls},
        {"inspect", cmd_inspect},
        {"rm", cmd_rm},
        {"remove", cmd_rm},
        {"prune", cmd_prune},
        {"connect", cmd_connect},
        {"disconnect", cmd_disconnect},
        {"setup", cmd_setup},
        {"teardown", cmd_teardown},
    };
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        network_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    for (size_t i = 0; i < BT_ARRAY_SIZE(subs); i++) {
        if (strcmp(argv[1], subs[i].name) == 0) {
            optind = 0;
            return subs[i].fn(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "berth network: unknown command '%s'\n", argv[1]);
    network_usage(stderr);
    return CLI_EXIT_USAGE;
}
