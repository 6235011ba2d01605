/* The normalised project back out: JSON objects in the long syntax, keys
 * sorted, and canonical YAML through the node emitter, as `config` prints
 * them. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "compose/model-internal.h"

#define AT(obj, f, type) ((const type *)((const char *)(obj) + (f)->off))

static void
set_str(json_t *o, const char *key, const char *v)
{
    if (v)
        json_object_set_new(o, key, json_string(v));
}

static void
set_int(json_t *o, const char *key, int64_t v)
{
    if (v != COMPOSE_NO_INT)
        json_object_set_new(o, key, json_integer(v));
}

/* Sizes print as a string of bytes, as Compose prints them (the schema
 * takes only strings for some of them, deploy's memory among them). */
static void
set_bytes(json_t *o, const char *key, int64_t v)
{
    if (v != COMPOSE_NO_INT)
        json_object_set_new(o, key, json_sprintf("%lld", (long long)v));
}

static void
set_duration(json_t *o, const char *key, int64_t ns)
{
    if (ns == COMPOSE_NO_INT)
        return;
    _cleanup_free_ char *s = compose_duration_format(ns);
    json_object_set_new(o, key, json_string(s));
}

static void
set_true(json_t *o, const char *key, bool v)
{
    if (v)
        json_object_set_new(o, key, json_true());
}

static json_t *
strv_json(char *const *v)
{
    json_t *a = json_array();
    bt_strv_foreach (s, (char **)v)
        json_array_append_new(a, json_string(s));
    return a;
}

static void
set_strv(json_t *o, const char *key, char *const *v)
{
    if (v && v[0])
        json_object_set_new(o, key, strv_json(v));
}

static json_t *
kvs_json(const struct compose_kvs *kvs)
{
    json_t *o = json_object();
    for (size_t i = 0; i < kvs->n; i++)
        json_object_set_new(o, kvs->v[i].key,
                            kvs->v[i].value ? json_string(kvs->v[i].value) : json_null());
    return o;
}

static void
set_kvs(json_t *o, const char *key, const struct compose_kvs *kvs)
{
    if (kvs->n)
        json_object_set_new(o, key, kvs_json(kvs));
}

/* Adds the kept keys; mappings merge into the mappings already built (the
 * x-* extensions of nested mappings), other values are set. */
static void
merge_extra(json_t *o, const json_t *extra)
{
    const char *k;
    json_t *v;
    if (!extra)
        return;
    json_object_foreach ((json_t *)extra, k, v) {
        json_t *have = json_object_get(o, k);
        if (json_is_object(have) && json_is_object(v))
            merge_extra(have, v);
        else
            json_object_set(o, k, v);
    }
}

static void
fields_json(json_t *o, const void *obj, const struct compose_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct compose_field *fd = &f[i];
        switch (fd->kind) {
        case COMPOSE_F_STR:
            set_str(o, fd->key, *AT(obj, fd, char *));
            break;
        case COMPOSE_F_BOOL:
            set_true(o, fd->key, *AT(obj, fd, bool));
            break;
        case COMPOSE_F_TRI: {
            enum compose_tri t = *AT(obj, fd, enum compose_tri);
            if (t != COMPOSE_UNSET)
                json_object_set_new(o, fd->key, json_boolean(t == COMPOSE_TRUE));
            break;
        }
        case COMPOSE_F_INT:
        case COMPOSE_F_USEC:
            set_int(o, fd->key, *AT(obj, fd, int64_t));
            break;
        case COMPOSE_F_BYTES:
            set_bytes(o, fd->key, *AT(obj, fd, int64_t));
            break;
        case COMPOSE_F_DURATION:
            set_duration(o, fd->key, *AT(obj, fd, int64_t));
            break;
        case COMPOSE_F_DOUBLE: {
            double d = *AT(obj, fd, double);
            if (d != 0)
                json_object_set_new(o, fd->key, json_real(d));
            break;
        }
        case COMPOSE_F_STRV:
            set_strv(o, fd->key, *(char **const *)((const char *)obj + fd->off));
            break;
        case COMPOSE_F_KVS:
            set_kvs(o, fd->key, AT(obj, fd, struct compose_kvs));
            break;
        }
    }
}

static json_t *
hosts_json(const struct compose_host_entry *h, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_sprintf("%s=%s", h[i].host, h[i].ip));
    return a;
}

static json_t *
build_json(const struct compose_build *b)
{
    json_t *o = json_object();
    set_str(o, "context", b->context);
    set_str(o, "dockerfile", b->dockerfile);
    set_str(o, "dockerfile_inline", b->dockerfile_inline);
    set_kvs(o, "args", &b->args);
    set_kvs(o, "labels", &b->labels);
    set_str(o, "target", b->target);
    set_str(o, "network", b->network);
    set_strv(o, "cache_from", b->cache_from);
    set_strv(o, "cache_to", b->cache_to);
    set_strv(o, "tags", b->tags);
    set_strv(o, "platforms", b->platforms);
    if (b->n_extra_hosts)
        json_object_set_new(o, "extra_hosts", hosts_json(b->extra_hosts, b->n_extra_hosts));
    set_bytes(o, "shm_size", b->shm_size);
    set_true(o, "no_cache", b->no_cache);
    set_true(o, "pull", b->pull);
    set_true(o, "privileged", b->privileged);
    merge_extra(o, b->extra);
    return o;
}

static json_t *
port_json(const struct compose_port *p)
{
    json_t *o = json_object();
    set_str(o, "name", p->name);
    set_str(o, "mode", p->mode);
    set_str(o, "host_ip", p->host_ip);
    json_object_set_new(o, "target", json_integer(p->target));
    set_str(o, "published", p->published);
    set_str(o, "protocol", p->protocol);
    set_str(o, "app_protocol", p->app_protocol);
    merge_extra(o, p->extra);
    return o;
}

static json_t *
mount_json(const struct compose_mount *m)
{
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string(compose_mount_type_name(m->type)));
    set_str(o, "source", m->source);
    set_str(o, "target", m->target);
    set_true(o, "read_only", m->read_only);
    set_str(o, "consistency", m->consistency);
    if (m->has_bind) {
        json_t *b = json_object();
        set_str(b, "propagation", m->bind.propagation);
        set_true(b, "create_host_path", m->bind.create_host_path);
        set_str(b, "selinux", m->bind.selinux);
        set_str(b, "recursive", m->bind.recursive);
        json_object_set_new(o, "bind", b);
    }
    if (m->has_volume) {
        json_t *v = json_object();
        set_true(v, "nocopy", m->volume.nocopy);
        set_str(v, "subpath", m->volume.subpath);
        set_kvs(v, "labels", &m->volume.labels);
        json_object_set_new(o, "volume", v);
    }
    if (m->has_tmpfs) {
        json_t *t = json_object();
        set_bytes(t, "size", m->tmpfs.size);
        /* Modes print in octal, as they are written. */
        if (m->tmpfs.mode != COMPOSE_NO_INT)
            json_object_set_new(t, "mode",
                                json_sprintf("%04llo", (unsigned long long)m->tmpfs.mode));
        json_object_set_new(o, "tmpfs", t);
    }
    if (m->image_subpath) {
        json_t *i = json_object();
        set_str(i, "subpath", m->image_subpath);
        json_object_set_new(o, "image", i);
    }
    merge_extra(o, m->extra);
    return o;
}

static json_t *
resources_json(const struct compose_resources *r)
{
    json_t *o = json_object();
    if (r->cpus != 0)
        json_object_set_new(o, "cpus", json_real(r->cpus));
    set_bytes(o, "memory", r->memory);
    set_int(o, "pids", r->pids);
    merge_extra(o, r->extra);
    return o;
}

static json_t *
deploy_json(const struct compose_deploy *d)
{
    json_t *o = json_object();
    set_str(o, "mode", d->mode);
    set_int(o, "replicas", d->replicas);
    set_kvs(o, "labels", &d->labels);
    json_t *lim = resources_json(&d->limits), *res = resources_json(&d->reservations);
    if (json_object_size(lim) || json_object_size(res)) {
        json_t *r = json_object();
        if (json_object_size(lim))
            json_object_set(r, "limits", lim);
        if (json_object_size(res))
            json_object_set(r, "reservations", res);
        json_object_set_new(o, "resources", r);
    }
    json_decref(lim);
    json_decref(res);
    if (d->restart_policy.present) {
        json_t *rp = json_object();
        set_str(rp, "condition", d->restart_policy.condition);
        set_duration(rp, "delay", d->restart_policy.delay);
        set_int(rp, "max_attempts", d->restart_policy.max_attempts);
        set_duration(rp, "window", d->restart_policy.window);
        json_object_set_new(o, "restart_policy", rp);
    }
    merge_extra(o, d->extra);
    return o;
}

static json_t *
file_refs_json(const struct compose_file_ref *r, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();
        set_str(o, "source", r[i].source);
        set_str(o, "target", r[i].target);
        set_str(o, "uid", r[i].uid);
        set_str(o, "gid", r[i].gid);
        if (r[i].mode != COMPOSE_NO_INT)
            json_object_set_new(o, "mode", json_sprintf("%04llo", (unsigned long long)r[i].mode));
        merge_extra(o, r[i].extra);
        json_array_append_new(a, o);
    }
    return a;
}

static int
cmp_str_p(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A copy of j with every object's keys inserted in sorted order (jansson
 * keeps insertion order when dumping). */
static json_t *
sorted(json_t *j)
{
    if (json_is_array(j)) {
        json_t *a = json_array();
        size_t i;
        json_t *v;
        json_array_foreach (j, i, v)
            json_array_append_new(a, sorted(v));
        return a;
    }
    if (!json_is_object(j))
        return json_incref(j);
    size_t n = json_object_size(j), i = 0;
    _cleanup_free_ const char **keys = xcalloc(n ? n : 1, sizeof(char *));
    const char *k;
    json_t *v;
    json_object_foreach (j, k, v)
        keys[i++] = k;
    qsort(keys, n, sizeof(*keys), cmp_str_p);
    json_t *o = json_object();
    for (i = 0; i < n; i++)
        json_object_set_new(o, keys[i], sorted(json_object_get(j, keys[i])));
    return o;
}

static json_t *
blkio_list_json(const struct compose_blkio_device *d, size_t n, const char *value_key, bool bytes)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();
        set_str(o, "path", d[i].path);
        if (bytes)
            set_bytes(o, value_key, d[i].value);
        else
            set_int(o, value_key, d[i].value);
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *
blkio_json(const struct compose_blkio *b)
{
    json_t *o = json_object();
    set_int(o, "weight", b->weight);
    struct {
        const char *key, *value_key;
        const struct compose_blkio_device *d;
        size_t n;
        bool bytes;
    } lists[] = {
        {"weight_device", "weight", b->weight_device, b->n_weight_device, false},
        {"device_read_bps", "rate", b->device_read_bps, b->n_device_read_bps, true},
        {"device_read_iops", "rate", b->device_read_iops, b->n_device_read_iops, false},
        {"device_write_bps", "rate", b->device_write_bps, b->n_device_write_bps, true},
        {"device_write_iops", "rate", b->device_write_iops, b->n_device_write_iops, false},
    };
    for (size_t i = 0; i < BT_ARRAY_SIZE(lists); i++)
        if (lists[i].n)
            json_object_set_new(
                o, lists[i].key,
                blkio_list_json(lists[i].d, lists[i].n, lists[i].value_key, lists[i].bytes));
    return o;
}

static json_t *
hooks_json(const struct compose_hook *h, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "command", strv_json(h[i].command));
        set_str(o, "user", h[i].user);
        set_str(o, "working_dir", h[i].working_dir);
        set_true(o, "privileged", h[i].privileged);
        set_kvs(o, "environment", &h[i].environment);
        merge_extra(o, h[i].extra);
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *
service_json_unsorted(const struct compose_service *s)
{
    json_t *o = json_object();
    fields_json(o, s, compose_service_fields, compose_service_n_fields);
    if (s->build)
        json_object_set_new(o, "build", build_json(s->build));
    if (s->command)
        json_object_set_new(o, "command", strv_json(s->command));
    if (s->entrypoint)
        json_object_set_new(o, "entrypoint", strv_json(s->entrypoint));
    set_kvs(o, "environment", &s->environment);
    if (s->n_env_files) {
        json_t *a = json_array();
        for (size_t i = 0; i < s->n_env_files; i++) {
            json_t *e = json_object();
            set_str(e, "path", s->env_files[i].path);
            json_object_set_new(e, "required", json_boolean(s->env_files[i].required));
            set_str(e, "format", s->env_files[i].format);
            json_array_append_new(a, e);
        }
        json_object_set_new(o, "env_file", a);
    }
    set_strv(o, "label_file", s->label_files);
    if (s->n_ports) {
        json_t *a = json_array();
        for (size_t i = 0; i < s->n_ports; i++)
            json_array_append_new(a, port_json(&s->ports[i]));
        json_object_set_new(o, "ports", a);
    }
    if (s->n_volumes) {
        json_t *a = json_array();
        for (size_t i = 0; i < s->n_volumes; i++)
            json_array_append_new(a, mount_json(&s->volumes[i]));
        json_object_set_new(o, "volumes", a);
    }
    if (s->n_networks) {
        json_t *nets = json_object();
        for (size_t i = 0; i < s->n_networks; i++) {
            const struct compose_service_network *sn = &s->networks[i];
            if (!sn->has_config) {
                json_object_set_new(nets, sn->name, json_null());
                continue;
            }
            json_t *c = json_object();
            set_strv(c, "aliases", sn->aliases);
            set_str(c, "ipv4_address", sn->ipv4_address);
            set_str(c, "ipv6_address", sn->ipv6_address);
            set_strv(c, "link_local_ips", sn->link_local_ips);
            set_str(c, "mac_address", sn->mac_address);
            set_str(c, "interface_name", sn->interface_name);
            set_kvs(c, "driver_opts", &sn->driver_opts);
            set_int(c, "priority", sn->priority);
            set_int(c, "gw_priority", sn->gw_priority);
            json_object_set_new(nets, sn->name, c);
        }
        json_object_set_new(o, "networks", nets);
    }
    if (s->n_depends_on) {
        json_t *d = json_object();
        for (size_t i = 0; i < s->n_depends_on; i++) {
            json_t *c = json_object();
            set_str(c, "condition", s->depends_on[i].condition);
            json_object_set_new(c, "required", json_boolean(s->depends_on[i].required));
            set_true(c, "restart", s->depends_on[i].restart);
            json_object_set_new(d, s->depends_on[i].service, c);
        }
        json_object_set_new(o, "depends_on", d);
    }
    if (s->healthcheck) {
        const struct compose_healthcheck *h = s->healthcheck;
        json_t *c = json_object();
        if (h->test)
            json_object_set_new(c, "test", strv_json(h->test));
        set_duration(c, "interval", h->interval);
        set_duration(c, "timeout", h->timeout);
        set_duration(c, "start_period", h->start_period);
        set_duration(c, "start_interval", h->start_interval);
        set_int(c, "retries", h->retries);
        set_true(c, "disable", h->disable);
        json_object_set_new(o, "healthcheck", c);
    }
    if (s->deploy)
        json_object_set_new(o, "deploy", deploy_json(s->deploy));
    if (s->blkio)
        json_object_set_new(o, "blkio_config", blkio_json(s->blkio));
    if (s->n_post_start)
        json_object_set_new(o, "post_start", hooks_json(s->post_start, s->n_post_start));
    if (s->n_pre_stop)
        json_object_set_new(o, "pre_stop", hooks_json(s->pre_stop, s->n_pre_stop));
    if (s->n_ulimits) {
        json_t *u = json_object();
        for (size_t i = 0; i < s->n_ulimits; i++) {
            const struct compose_ulimit *l = &s->ulimits[i];
            /* One number when soft and hard agree, unless extensions need a
             * mapping to live in. */
            json_t *ext = json_object_get(json_object_get(s->extra, "ulimits"), l->name);
            if (l->soft == l->hard && !ext)
                json_object_set_new(u, l->name, json_integer(l->soft));
            else
                json_object_set_new(
                    u, l->name,
                    json_pack("{sIsI}", "soft", (json_int_t)l->soft, "hard", (json_int_t)l->hard));
        }
        json_object_set_new(o, "ulimits", u);
    }
    if (s->n_devices) {
        json_t *a = json_array();
        for (size_t i = 0; i < s->n_devices; i++) {
            json_t *d = json_object();
            set_str(d, "source", s->devices[i].source);
            set_str(d, "target", s->devices[i].target);
            set_str(d, "permissions", s->devices[i].permissions);
            merge_extra(d, s->devices[i].extra);
            json_array_append_new(a, d);
        }
        json_object_set_new(o, "devices", a);
    }
    if (s->n_extra_hosts)
        json_object_set_new(o, "extra_hosts", hosts_json(s->extra_hosts, s->n_extra_hosts));
    if (s->logging.driver || s->logging.options.n) {
        json_t *l = json_object();
        set_str(l, "driver", s->logging.driver);
        set_kvs(l, "options", &s->logging.options);
        json_object_set_new(o, "logging", l);
    }
    if (s->n_secrets)
        json_object_set_new(o, "secrets", file_refs_json(s->secrets, s->n_secrets));
    if (s->n_configs)
        json_object_set_new(o, "configs", file_refs_json(s->configs, s->n_configs));
    merge_extra(o, s->extra);
    return o;
}

json_t *
compose_service_to_json(const struct compose_service *s)
{
    _cleanup_json_ json_t *o = service_json_unsorted(s);
    return sorted(o);
}

static json_t *
network_json(const struct compose_network *n)
{
    json_t *o = json_object();
    fields_json(o, n, compose_network_fields, compose_network_n_fields);
    set_true(o, "external", n->external);
    if (n->ipam.driver || n->ipam.n_config || n->ipam.options.n) {
        json_t *ipam = json_object();
        set_str(ipam, "driver", n->ipam.driver);
        if (n->ipam.n_config) {
            json_t *a = json_array();
            for (size_t i = 0; i < n->ipam.n_config; i++) {
                const struct compose_ipam_config *c = &n->ipam.config[i];
                json_t *co = json_object();
                set_str(co, "subnet", c->subnet);
                set_str(co, "ip_range", c->ip_range);
                set_str(co, "gateway", c->gateway);
                set_kvs(co, "aux_addresses", &c->aux_addresses);
                merge_extra(co, c->extra);
                json_array_append_new(a, co);
            }
            json_object_set_new(ipam, "config", a);
        }
        set_kvs(ipam, "options", &n->ipam.options);
        json_object_set_new(o, "ipam", ipam);
    }
    merge_extra(o, n->extra);
    return o;
}

static json_t *
volume_json(const struct compose_volume *v)
{
    json_t *o = json_object();
    fields_json(o, v, compose_volume_fields, compose_volume_n_fields);
    set_true(o, "external", v->external);
    merge_extra(o, v->extra);
    return o;
}

json_t *
compose_network_to_json(const struct compose_network *n)
{
    _cleanup_json_ json_t *o = network_json(n);
    return sorted(o);
}

json_t *
compose_volume_to_json(const struct compose_volume *v)
{
    _cleanup_json_ json_t *o = volume_json(v);
    return sorted(o);
}

static json_t *
file_object_json(const struct compose_file_object *f)
{
    json_t *o = json_object();
    fields_json(o, f, compose_file_object_fields, compose_file_object_n_fields);
    set_str(o, "file", f->file);
    set_true(o, "external", f->external);
    merge_extra(o, f->extra);
    return o;
}

/* The project in insertion order (name, services, networks, volumes,
 * secrets, configs, extensions); with sort, every mapping below the top is
 * rebuilt with its keys sorted. */
/* Takes o; returns it, or a copy with keys sorted at every level. */
static json_t *
sorted_take(json_t *o, bool sort)
{
    if (!sort)
        return o;
    json_t *c = sorted(o);
    json_decref(o);
    return c;
}

static json_t *
project_json(const struct compose_project *p, bool sort)
{
    json_t *top = json_object();
    json_object_set_new(top, "name", json_string(p->name));
    json_t *svcs = json_object();
    for (size_t i = 0; i < p->n_services; i++)
        json_object_set_new(svcs, p->services[i].name, service_json_unsorted(&p->services[i]));
    json_object_set_new(top, "services", sorted_take(svcs, sort));
    if (p->n_networks) {
        json_t *o = json_object();
        for (size_t i = 0; i < p->n_networks; i++)
            json_object_set_new(o, p->networks[i].key, network_json(&p->networks[i]));
        json_object_set_new(top, "networks", sorted_take(o, sort));
    }
    if (p->n_volumes) {
        json_t *o = json_object();
        for (size_t i = 0; i < p->n_volumes; i++)
            json_object_set_new(o, p->volumes[i].key, volume_json(&p->volumes[i]));
        json_object_set_new(top, "volumes", sorted_take(o, sort));
    }
    if (p->n_secrets) {
        json_t *o = json_object();
        for (size_t i = 0; i < p->n_secrets; i++)
            json_object_set_new(o, p->secrets[i].key, file_object_json(&p->secrets[i]));
        json_object_set_new(top, "secrets", sorted_take(o, sort));
    }
    if (p->n_configs) {
        json_t *o = json_object();
        for (size_t i = 0; i < p->n_configs; i++)
            json_object_set_new(o, p->configs[i].key, file_object_json(&p->configs[i]));
        json_object_set_new(top, "configs", sorted_take(o, sort));
    }
    if (p->extra) {
        /* Extensions go last, in key order. */
        _cleanup_json_ json_t *x = sorted(p->extra);
        merge_extra(top, x);
    }
    return top;
}

json_t *
compose_project_to_json(const struct compose_project *p)
{
    return project_json(p, true);
}

/* ---- YAML straight from JSON ----
 *
 * Block style, two spaces, sequences under a key not indented (as libyaml
 * and Compose print them). A string is written plain only when it cannot
 * read back as anything else: not null, a boolean or a number under YAML
 * 1.2 (nor yes/no/on/off, which YAML 1.1 readers take for booleans), and
 * free of the characters and sequences that mean something in plain
 * scalars; otherwise double-quoted with escapes. Written by hand because a
 * generic emitter spent most of `config`'s time analysing each scalar. */

static bool
yaml11_bool(const char *s, size_t len)
{
    static const char *const words[] = {"y", "n", "yes", "no", "on", "off"};
    if (len > 3)
        return false;
    for (size_t i = 0; i < BT_ARRAY_SIZE(words); i++)
        if (strcasecmp(s, words[i]) == 0)
            return true;
    return false;
}

static bool
plain_ok(const char *s, size_t len)
{
    if (!len || s[0] == ' ' || s[len - 1] == ' ' || s[len - 1] == ':')
        return false;
    if (strchr("-?:,[]{}#&*!|>'\"%@`", s[0]) && !(s[0] == '-' && len > 1 && s[1] != ' '))
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return false;
        if (*p == ':' && p[1] == ' ')
            return false;
        if (*p == ' ' && p[1] == '#')
            return false;
    }
    if (cnode_plain_type(s) != CNODE_T_STRING)
        return false;
    return !yaml11_bool(s, len);
}

static void
put_string(struct bt_buf *b, const char *s)
{
    size_t len = strlen(s);
    if (plain_ok(s, len)) {
        bt_buf_append(b, s, len);
        return;
    }
    bt_buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            bt_buf_puts(b, "\\\"");
            break;
        case '\\':
            bt_buf_puts(b, "\\\\");
            break;
        case '\n':
            bt_buf_puts(b, "\\n");
            break;
        case '\t':
            bt_buf_puts(b, "\\t");
            break;
        case '\r':
            bt_buf_puts(b, "\\r");
            break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                bt_buf_printf(b, "\\x%02x", *p);
            else
                bt_buf_putc(b, (char)*p);
        }
    }
    bt_buf_putc(b, '"');
}

/* A scalar, an empty collection, or false when j is a non-empty one. */
static bool
put_scalar(struct bt_buf *b, json_t *j)
{
    char num[64];
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        if (json_object_size(j))
            return false;
        bt_buf_puts(b, "{}");
        return true;
    case JSON_ARRAY:
        if (json_array_size(j))
            return false;
        bt_buf_puts(b, "[]");
        return true;
    case JSON_STRING:
        put_string(b, json_string_value(j));
        return true;
    case JSON_INTEGER:
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        bt_buf_puts(b, num);
        return true;
    case JSON_REAL:
        /* The shortest text that reads back to the same double. */
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(num, sizeof(num), "%.*g", prec, json_real_value(j));
            if (strtod(num, NULL) == json_real_value(j))
                break;
        }
        if (!strpbrk(num, ".eEn"))
            strcat(num, ".0");
        bt_buf_puts(b, num);
        return true;
    case JSON_TRUE:
        bt_buf_puts(b, "true");
        return true;
    case JSON_FALSE:
        bt_buf_puts(b, "false");
        return true;
    case JSON_NULL:
        bt_buf_puts(b, "null");
        return true;
    }
    return true;
}

static void
pad(struct bt_buf *b, int n)
{
    static const char spaces[] = "                                ";
    for (; n > 0; n -= (int)sizeof(spaces) - 1)
        bt_buf_append(b, spaces, n < (int)sizeof(spaces) - 1 ? (size_t)n : sizeof(spaces) - 1);
}

static void put_seq(struct bt_buf *b, json_t *a, int indent, bool inline_first);

/* A mapping's entries with keys at column indent; the first one follows
 * what is already on the line ("- ") when inline_first. */
struct entry {
    const char *key;
    json_t *value;
};

static int
cmp_entry(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->key, ((const struct entry *)b)->key);
}

static void
put_map(struct bt_buf *b, json_t *o, int indent, bool inline_first, bool sort)
{
    size_t n = json_object_size(o), i = 0;
    _cleanup_free_ struct entry *e = xcalloc(n ? n : 1, sizeof(*e));
    const char *k;
    json_t *v;
    json_object_foreach (o, k, v)
        e[i++] = (struct entry){k, v};
    if (sort)
        qsort(e, n, sizeof(*e), cmp_entry);
    for (i = 0; i < n; i++) {
        if (i > 0 || !inline_first)
            pad(b, indent);
        put_string(b, e[i].key);
        bt_buf_putc(b, ':');
        v = e[i].value;
        size_t mark = b->len;
        bt_buf_putc(b, ' ');
        if (put_scalar(b, v)) {
            bt_buf_putc(b, '\n');
            continue;
        }
        b->len = mark;
        b->data[mark] = '\0';
        bt_buf_putc(b, '\n');
        if (json_is_object(v))
            put_map(b, v, indent + 2, false, true);
        else
            put_seq(b, v, indent, false);
    }
}

/* A sequence's items with their "- " at column indent. */
static void
put_seq(struct bt_buf *b, json_t *a, int indent, bool inline_first)
{
    size_t i;
    json_t *v;
    json_array_foreach (a, i, v) {
        if (i > 0 || !inline_first)
            pad(b, indent);
        bt_buf_puts(b, "- ");
        if (put_scalar(b, v))
            bt_buf_putc(b, '\n');
        else if (json_is_object(v))
            put_map(b, v, indent + 2, true, true);
        else
            put_seq(b, v, indent + 2, true);
    }
}

static char *
yaml_text(const struct compose_project *p)
{
    _cleanup_json_ json_t *j = project_json(p, false);
    struct bt_buf b = {0};
    put_map(&b, j, 0, false, false);
    return bt_buf_steal(&b);
}

char *
compose_project_to_yaml(const struct compose_project *p)
{
    return yaml_text(p);
}

int
compose_project_print(const struct compose_project *p, bool json, FILE *f, struct bt_err **err)
{
    bool ok;
    if (json) {
        _cleanup_json_ json_t *j = project_json(p, true);
        ok = json_dumpf(j, f, JSON_INDENT(2)) == 0 && fputc('\n', f) != EOF;
    } else {
        _cleanup_free_ char *text = yaml_text(p);
        size_t len = strlen(text);
        ok = fwrite(text, 1, len, f) == len;
    }
    if (!ok || fflush(f) == EOF || ferror(f))
        return bt_err_errno(err, errno ? errno : EIO, "write the configuration");
    return 0;
}

char *
compose_project_to_json_text(const struct compose_project *p)
{
    _cleanup_json_ json_t *j = compose_project_to_json(p);
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!s)
        abort(); /* only on out-of-memory, which xmalloc already aborts on */
    size_t l = strlen(s);
    s = xrealloc(s, l + 2);
    s[l] = '\n';
    s[l + 1] = '\0';
    return s;
}
