/* The normalised project back out: JSON objects in the long syntax, keys
 * sorted, and canonical YAML through the node emitter, as `config` prints
 * them. */
#include <stdio.h>
#include <string.h>

#include <yaml.h>

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
            json_t *d = json_pack("{ssssss}", "source", s->devices[i].source, "target",
                                  s->devices[i].target, "permissions", s->devices[i].permissions);
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

/* ---- YAML straight from JSON with libyaml, keeping object order ---- */

static int
yaml_write(void *data, unsigned char *buf, size_t size)
{
    bt_buf_append(data, (const char *)buf, size);
    return 1;
}

static bool
yaml_scalar(yaml_emitter_t *em, const char *text, bool is_string)
{
    yaml_event_t ev;
    yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
    if (is_string) {
        /* A string that would read back as null, a boolean or a number is
         * quoted; multi-line strings use the literal style. */
        struct cnode plain = {.kind = CNODE_SCALAR, .value = (char *)text};
        /* Only these can start a null, boolean or number. */
        bool maybe = !*text || strchr("~nNtTfF0123456789+-.", *text);
        if (maybe && cnode_type(&plain) != CNODE_T_STRING)
            style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
        else if (strchr(text, '\n'))
            style = YAML_LITERAL_SCALAR_STYLE;
    }
    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)strlen(text),
                                 style == YAML_ANY_SCALAR_STYLE, 1, style);
    return yaml_emitter_emit(em, &ev);
}

static bool yaml_json(yaml_emitter_t *em, json_t *j, bool sort);

/* A mapping, its keys sorted unless they are in the order wanted. */
static bool
yaml_object(yaml_emitter_t *em, json_t *j, bool sort)
{
    yaml_event_t ev;
    yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
    if (!yaml_emitter_emit(em, &ev))
        return false;
    size_t n = json_object_size(j), i = 0;
    _cleanup_free_ const char **keys = xcalloc(n ? n : 1, sizeof(char *));
    const char *k;
    json_t *v;
    json_object_foreach (j, k, v)
        keys[i++] = k;
    if (sort)
        qsort(keys, n, sizeof(*keys), cmp_str_p);
    for (i = 0; i < n; i++) {
        if (!yaml_scalar(em, keys[i], true) || !yaml_json(em, json_object_get(j, keys[i]), true))
            return false;
    }
    yaml_mapping_end_event_initialize(&ev);
    return yaml_emitter_emit(em, &ev);
}

static bool
yaml_json(yaml_emitter_t *em, json_t *j, bool sort)
{
    yaml_event_t ev;
    if (json_is_object(j))
        return yaml_object(em, j, sort);
    if (json_is_array(j)) {
        yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
        if (!yaml_emitter_emit(em, &ev))
            return false;
        size_t i;
        json_t *v;
        json_array_foreach (j, i, v) {
            if (!yaml_json(em, v, true))
                return false;
        }
        yaml_sequence_end_event_initialize(&ev);
        return yaml_emitter_emit(em, &ev);
    }
    if (json_is_string(j))
        return yaml_scalar(em, json_string_value(j), true);
    if (json_is_null(j))
        return yaml_scalar(em, "null", false);
    if (json_is_boolean(j))
        return yaml_scalar(em, json_is_true(j) ? "true" : "false", false);
    char num[64];
    if (json_is_integer(j))
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
    else
        snprintf(num, sizeof(num), "%.17g", json_real_value(j));
    /* Shortest text that reads back to the same double. */
    if (json_is_real(j)) {
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(num, sizeof(num), "%.*g", prec, json_real_value(j));
            if (strtod(num, NULL) == json_real_value(j))
                break;
        }
        if (!strpbrk(num, ".eEn"))
            strcat(num, ".0");
    }
    return yaml_scalar(em, num, false);
}

char *
compose_project_to_yaml(const struct compose_project *p)
{
    _cleanup_json_ json_t *j = project_json(p, false);
    struct bt_buf out = {0};
    yaml_emitter_t em;
    yaml_event_t ev;
    yaml_emitter_initialize(&em);
    yaml_emitter_set_output(&em, yaml_write, &out);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, -1);
    yaml_emitter_set_indent(&em, 2);
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    bool ok = yaml_emitter_emit(&em, &ev);
    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
    ok = ok && yaml_emitter_emit(&em, &ev);
    ok = ok && yaml_json(&em, j, false);
    yaml_document_end_event_initialize(&ev, 1);
    ok = ok && yaml_emitter_emit(&em, &ev);
    yaml_stream_end_event_initialize(&ev);
    ok = ok && yaml_emitter_emit(&em, &ev);
    ok = ok && yaml_emitter_flush(&em);
    yaml_emitter_delete(&em);
    /* The emitter fails only on events it cannot represent, which this
     * function never builds. */
    if (!ok)
        abort();
    return bt_buf_steal(&out);
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
