/* The typed model: field tables, construction, release and lookups. */
#include <math.h>
#include <string.h>

#include "compose/model-internal.h"

#define SF(k, kind, m)                                                                             \
    {                                                                                              \
        k, COMPOSE_F_##kind, offsetof(struct compose_service, m)                                   \
    }
const struct compose_field compose_service_fields[] = {
    SF("annotations", KVS, annotations),
    SF("cap_add", STRV, cap_add),
    SF("cap_drop", STRV, cap_drop),
    SF("cgroup", STR, cgroup),
    SF("cgroup_parent", STR, cgroup_parent),
    SF("container_name", STR, container_name),
    SF("cpu_count", INT, cpu_count),
    SF("cpu_percent", INT, cpu_percent),
    SF("cpu_period", INT, cpu_period),
    SF("cpu_quota", INT, cpu_quota),
    SF("cpu_rt_period", USEC, cpu_rt_period),
    SF("cpu_rt_runtime", USEC, cpu_rt_runtime),
    SF("cpu_shares", INT, cpu_shares),
    SF("cpus", DOUBLE, cpus),
    SF("cpuset", STR, cpuset),
    SF("device_cgroup_rules", STRV, device_cgroup_rules),
    SF("dns", STRV, dns),
    SF("dns_opt", STRV, dns_opt),
    SF("dns_search", STRV, dns_search),
    SF("domainname", STR, domainname),
    SF("expose", STRV, expose),
    SF("external_links", STRV, external_links),
    SF("group_add", STRV, group_add),
    SF("hostname", STR, hostname),
    SF("image", STR, image),
    SF("init", TRI, init),
    SF("ipc", STR, ipc),
    SF("isolation", STR, isolation),
    SF("labels", KVS, labels),
    SF("links", STRV, links),
    SF("mac_address", STR, mac_address),
    SF("mem_limit", BYTES, mem_limit),
    SF("mem_reservation", BYTES, mem_reservation),
    SF("mem_swappiness", INT, mem_swappiness),
    SF("memswap_limit", BYTES, memswap_limit),
    SF("network_mode", STR, network_mode),
    SF("oom_kill_disable", BOOL, oom_kill_disable),
    SF("oom_score_adj", INT, oom_score_adj),
    SF("pid", STR, pid),
    SF("pids_limit", INT, pids_limit),
    SF("platform", STR, platform),
    SF("privileged", BOOL, privileged),
    SF("profiles", STRV, profiles),
    SF("pull_policy", STR, pull_policy),
    SF("read_only", BOOL, read_only),
    SF("restart", STR, restart),
    SF("runtime", STR, runtime),
    SF("scale", INT, scale),
    SF("security_opt", STRV, security_opt),
    SF("shm_size", BYTES, shm_size),
    SF("stdin_open", BOOL, stdin_open),
    SF("stop_grace_period", DURATION, stop_grace_period),
    SF("stop_signal", STR, stop_signal),
    SF("storage_opt", KVS, storage_opt),
    SF("sysctls", KVS, sysctls),
    SF("tmpfs", STRV, tmpfs),
    SF("tty", BOOL, tty),
    SF("user", STR, user),
    SF("userns_mode", STR, userns_mode),
    SF("uts", STR, uts),
    SF("volumes_from", STRV, volumes_from),
    SF("working_dir", STR, working_dir),
};
const size_t compose_service_n_fields = BT_ARRAY_SIZE(compose_service_fields);

#define NF(k, kind, m)                                                                             \
    {                                                                                              \
        k, COMPOSE_F_##kind, offsetof(struct compose_network, m)                                   \
    }
const struct compose_field compose_network_fields[] = {
    NF("attachable", BOOL, attachable),  NF("driver", STR, driver),
    NF("driver_opts", KVS, driver_opts), NF("enable_ipv4", TRI, enable_ipv4),
    NF("enable_ipv6", TRI, enable_ipv6), NF("internal", BOOL, internal),
    NF("labels", KVS, labels),           NF("name", STR, name),
};
const size_t compose_network_n_fields = BT_ARRAY_SIZE(compose_network_fields);

#define VF(k, kind, m)                                                                             \
    {                                                                                              \
        k, COMPOSE_F_##kind, offsetof(struct compose_volume, m)                                    \
    }
const struct compose_field compose_volume_fields[] = {
    VF("driver", STR, driver),
    VF("driver_opts", KVS, driver_opts),
    VF("labels", KVS, labels),
    VF("name", STR, name),
};
const size_t compose_volume_n_fields = BT_ARRAY_SIZE(compose_volume_fields);

#define OF(k, kind, m)                                                                             \
    {                                                                                              \
        k, COMPOSE_F_##kind, offsetof(struct compose_file_object, m)                               \
    }
const struct compose_field compose_file_object_fields[] = {
    OF("content", STR, content),
    OF("driver", STR, driver),
    OF("driver_opts", KVS, driver_opts),
    OF("environment", STR, environment),
    OF("labels", KVS, labels),
    OF("name", STR, name),
    OF("template_driver", STR, template_driver),
};
const size_t compose_file_object_n_fields = BT_ARRAY_SIZE(compose_file_object_fields);

#define AT(obj, f, type) ((type *)((char *)(obj) + (f)->off))

void
compose_fields_init(void *obj, const struct compose_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (f[i].kind) {
        case COMPOSE_F_INT:
        case COMPOSE_F_BYTES:
        case COMPOSE_F_DURATION:
        case COMPOSE_F_USEC:
            *AT(obj, &f[i], int64_t) = COMPOSE_NO_INT;
            break;
        default:
            break;
        }
    }
}

void
compose_fields_done(void *obj, const struct compose_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (f[i].kind) {
        case COMPOSE_F_STR:
            free(*AT(obj, &f[i], char *));
            *AT(obj, &f[i], char *) = NULL;
            break;
        case COMPOSE_F_STRV:
            *AT(obj, &f[i], char **) = bt_strv_free(*AT(obj, &f[i], char **));
            break;
        case COMPOSE_F_KVS:
            compose_kvs_done(AT(obj, &f[i], struct compose_kvs));
            break;
        default:
            break;
        }
    }
}

const struct compose_field *
compose_field_find(const struct compose_field *f, size_t n, const char *key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(f[mid].key, key);
        if (c == 0)
            return &f[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

struct compose_project *
compose_project_new(void)
{
    return xcalloc(1, sizeof(struct compose_project));
}

static void
json_put(json_t **j)
{
    if (*j)
        json_decref(*j);
    *j = NULL;
}

static void
host_entries_free(struct compose_host_entry *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(h[i].host);
        free(h[i].ip);
    }
    free(h);
}

static void
build_free(struct compose_build *b)
{
    if (!b)
        return;
    free(b->context);
    free(b->dockerfile);
    free(b->dockerfile_inline);
    compose_kvs_done(&b->args);
    compose_kvs_done(&b->labels);
    free(b->target);
    free(b->network);
    bt_strv_free(b->cache_from);
    bt_strv_free(b->cache_to);
    bt_strv_free(b->tags);
    bt_strv_free(b->platforms);
    host_entries_free(b->extra_hosts, b->n_extra_hosts);
    json_put(&b->extra);
    free(b);
}

static void
file_refs_free(struct compose_file_ref *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(r[i].source);
        free(r[i].target);
        free(r[i].uid);
        free(r[i].gid);
        json_put(&r[i].extra);
    }
    free(r);
}

void
compose_service_done(struct compose_service *s)
{
    free(s->name);
    compose_fields_done(s, compose_service_fields, compose_service_n_fields);
    build_free(s->build);
    bt_strv_free(s->command);
    bt_strv_free(s->entrypoint);
    compose_kvs_done(&s->environment);
    for (size_t i = 0; i < s->n_env_files; i++) {
        free(s->env_files[i].path);
        free(s->env_files[i].format);
    }
    free(s->env_files);
    bt_strv_free(s->label_files);
    for (size_t i = 0; i < s->n_ports; i++)
        compose_port_done(&s->ports[i]);
    free(s->ports);
    for (size_t i = 0; i < s->n_volumes; i++)
        compose_mount_done(&s->volumes[i]);
    free(s->volumes);
    for (size_t i = 0; i < s->n_networks; i++) {
        struct compose_service_network *n = &s->networks[i];
        free(n->name);
        bt_strv_free(n->aliases);
        free(n->ipv4_address);
        free(n->ipv6_address);
        bt_strv_free(n->link_local_ips);
        free(n->mac_address);
        free(n->interface_name);
        compose_kvs_done(&n->driver_opts);
    }
    free(s->networks);
    for (size_t i = 0; i < s->n_depends_on; i++) {
        free(s->depends_on[i].service);
        free(s->depends_on[i].condition);
    }
    free(s->depends_on);
    if (s->healthcheck) {
        bt_strv_free(s->healthcheck->test);
        free(s->healthcheck);
    }
    if (s->deploy) {
        free(s->deploy->mode);
        compose_kvs_done(&s->deploy->labels);
        free(s->deploy->restart_policy.condition);
        json_put(&s->deploy->limits.extra);
        json_put(&s->deploy->reservations.extra);
        json_put(&s->deploy->extra);
        free(s->deploy);
    }
    for (size_t i = 0; i < s->n_ulimits; i++)
        free(s->ulimits[i].name);
    free(s->ulimits);
    for (size_t i = 0; i < s->n_devices; i++) {
        free(s->devices[i].source);
        free(s->devices[i].target);
        free(s->devices[i].permissions);
        json_put(&s->devices[i].extra);
    }
    free(s->devices);
    host_entries_free(s->extra_hosts, s->n_extra_hosts);
    free(s->logging.driver);
    compose_kvs_done(&s->logging.options);
    file_refs_free(s->secrets, s->n_secrets);
    file_refs_free(s->configs, s->n_configs);
    json_put(&s->extra);
    memset(s, 0, sizeof(*s));
}

struct compose_project *
compose_project_free(struct compose_project *p)
{
    if (!p)
        return NULL;
    free(p->name);
    free(p->working_dir);
    bt_strv_free(p->config_files);
    bt_strv_free(p->environment);
    for (size_t i = 0; i < p->n_services; i++)
        compose_service_done(&p->services[i]);
    free(p->services);
    for (size_t i = 0; i < p->n_networks; i++) {
        struct compose_network *n = &p->networks[i];
        free(n->key);
        compose_fields_done(n, compose_network_fields, compose_network_n_fields);
        free(n->ipam.driver);
        for (size_t j = 0; j < n->ipam.n_config; j++) {
            free(n->ipam.config[j].subnet);
            free(n->ipam.config[j].ip_range);
            free(n->ipam.config[j].gateway);
            compose_kvs_done(&n->ipam.config[j].aux_addresses);
            json_put(&n->ipam.config[j].extra);
        }
        free(n->ipam.config);
        compose_kvs_done(&n->ipam.options);
        json_put(&n->extra);
    }
    free(p->networks);
    for (size_t i = 0; i < p->n_volumes; i++) {
        free(p->volumes[i].key);
        compose_fields_done(&p->volumes[i], compose_volume_fields, compose_volume_n_fields);
        json_put(&p->volumes[i].extra);
    }
    free(p->volumes);
    struct compose_file_object *objs[2] = {p->secrets, p->configs};
    size_t counts[2] = {p->n_secrets, p->n_configs};
    for (size_t k = 0; k < 2; k++) {
        for (size_t i = 0; i < counts[k]; i++) {
            free(objs[k][i].key);
            free(objs[k][i].file);
            compose_fields_done(&objs[k][i], compose_file_object_fields,
                                compose_file_object_n_fields);
            json_put(&objs[k][i].extra);
        }
        free(objs[k]);
    }
    bt_strv_free(p->profiles);
    bt_strv_free(p->disabled_services);
    json_put(&p->extra);
    free(p->order);
    free(p->layer_start);
    free(p);
    return NULL;
}

const struct compose_service *
compose_project_service(const struct compose_project *p, const char *name)
{
    size_t lo = 0, hi = p->n_services;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(p->services[mid].name, name);
        if (c == 0)
            return &p->services[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const struct compose_network *
compose_project_network(const struct compose_project *p, const char *key)
{
    for (size_t i = 0; i < p->n_networks; i++)
        if (strcmp(p->networks[i].key, key) == 0)
            return &p->networks[i];
    return NULL;
}

const struct compose_volume *
compose_project_volume(const struct compose_project *p, const char *key)
{
    for (size_t i = 0; i < p->n_volumes; i++)
        if (strcmp(p->volumes[i].key, key) == 0)
            return &p->volumes[i];
    return NULL;
}

json_t *
compose_cnode_to_json(const struct cnode *n)
{
    if (!n)
        return json_null();
    switch (n->kind) {
    case CNODE_MAP: {
        json_t *o = json_object();
        for (size_t i = 0; i < n->n; i++)
            json_object_set_new(o, n->keys[i]->value, compose_cnode_to_json(n->items[i]));
        return o;
    }
    case CNODE_SEQ: {
        json_t *a = json_array();
        for (size_t i = 0; i < n->n; i++)
            json_array_append_new(a, compose_cnode_to_json(n->items[i]));
        return a;
    }
    case CNODE_SCALAR:
        break;
    }
    switch (cnode_type(n)) {
    case CNODE_T_NULL:
        return json_null();
    case CNODE_T_BOOL: {
        bool b = false;
        cnode_get_bool(n, &b);
        return json_boolean(b);
    }
    case CNODE_T_INT: {
        int64_t v = 0;
        if (cnode_get_int(n, &v))
            return json_integer(v);
        return json_string(n->value);
    }
    case CNODE_T_FLOAT: {
        double d = strtod(n->value, NULL);
        if (isfinite(d))
            return json_real(d);
        return json_string(n->value);
    }
    case CNODE_T_STRING:
        break;
    }
    return json_string(n->value);
}
