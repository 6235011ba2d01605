/* State of the net module: the context (where ROOT, RUNROOT and berth.json
 * are), the lock that serialises concurrent berth commands, and networks as
 * JSON files in ROOT/net/networks. */
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>

#include "net/net-internal.h"

static struct net_ctx *
ctx_make(const char *root, const char *runroot, const char *config)
{
    struct net_ctx *ctx = xcalloc(1, sizeof(*ctx));
    ctx->root = xstrdup(root);
    ctx->runroot = xstrdup(runroot);
    ctx->config = config ? xstrdup(config) : NULL;
    ctx->lock_fd = -1;
    return ctx;
}

struct net_ctx *
net_ctx_new_at(const char *root, const char *runroot, const char *config, struct bt_err **err)
{
    if (!root || root[0] != '/' || !runroot || runroot[0] != '/') {
        bt_err_set(err, EINVAL, "state directories must be absolute paths");
        return NULL;
    }
    return ctx_make(root, runroot, config);
}

struct net_ctx *
net_ctx_new(struct bt_err **err)
{
    const char *root = getenv("BERTH_ROOT");
    const char *runroot = getenv("BERTH_RUNROOT");
    const char *config = getenv("BERTH_CONFIG");
    return net_ctx_new_at(root && *root ? root : "/var/lib/berth",
                          runroot && *runroot ? runroot : "/run/berth",
                          config && *config ? config : "/etc/berth/berth.json", err);
}

struct net_ctx *
net_ctx_free(struct net_ctx *ctx)
{
    if (!ctx)
        return NULL;
    if (ctx->lock_fd >= 0)
        close(ctx->lock_fd);
    net_nft_ctx_free(ctx);
    free(ctx->ct_pending);
    free(ctx->root);
    free(ctx->runroot);
    free(ctx->config);
    free(ctx);
    return NULL;
}

int
net_lock(struct net_ctx *ctx, struct bt_err **err)
{
    if (ctx->lock_depth++ > 0)
        return 0;
    _cleanup_free_ char *path = xasprintf("%s/net/lock", ctx->root);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    /* The directories are made once, not checked at every lock (an attach
     * takes the lock several times). */
    _cleanup_free_ char *dir = xasprintf("%s/net/networks", ctx->root);
    if (fd >= 0 && !bt_path_is_dir(dir)) {
        close(fd);
        fd = -1;
        errno = ENOENT;
    }
    if (fd < 0 && errno == ENOENT) {
        int r = bt_mkdir_p(dir, 0700, err);
        if (r < 0) {
            ctx->lock_depth--;
            return r;
        }
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    }
    if (fd < 0) {
        ctx->lock_depth--;
        return bt_err_errno(err, errno, "open '%s'", path);
    }
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            int e = errno;
            close(fd);
            ctx->lock_depth--;
            return bt_err_errno(err, e, "lock '%s'", path);
        }
    }
    ctx->lock_fd = fd;
    return 0;
}

void
net_unlock(struct net_ctx *ctx)
{
    if (ctx->lock_depth == 0 || --ctx->lock_depth > 0)
        return;
    if (ctx->lock_fd >= 0) {
        close(ctx->lock_fd); /* releases the flock */
        ctx->lock_fd = -1;
    }
    if (ctx->n_ct_pending) {
        struct net_ct_match *m = TAKE_PTR(ctx->ct_pending);
        size_t n = ctx->n_ct_pending;
        ctx->n_ct_pending = 0;
        net_ct_flush_later(ctx, m, n);
        free(m);
    }
}

json_t *
net_json_load(const char *path, struct bt_err **err)
{
    size_t len;
    _cleanup_free_ char *data = bt_file_read_all(path, &len, err);
    if (!data)
        return NULL;
    json_error_t jerr;
    json_t *j = json_loadb(data, len, 0, &jerr);
    if (!j)
        bt_err_set(err, EINVAL, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
    return j;
}

char *
net_random_hex(size_t nbytes)
{
    unsigned char buf[64];
    if (nbytes > sizeof(buf))
        nbytes = sizeof(buf);
    size_t got = 0;
    while (got < nbytes) {
        ssize_t n = getrandom(buf + got, nbytes - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "berth: getrandom: %s\n", strerror(errno));
            abort();
        }
        got += (size_t)n;
    }
    char *s = xmalloc(nbytes * 2 + 1);
    for (size_t i = 0; i < nbytes; i++)
        sprintf(s + 2 * i, "%02x", buf[i]);
    return s;
}

struct net_network *
net_network_free(struct net_network *nw)
{
    if (!nw)
        return NULL;
    free(nw->id);
    free(nw->name);
    free(nw->driver);
    free(nw->bridge);
    free(nw->created);
    if (nw->labels)
        json_decref(nw->labels);
    if (nw->options)
        json_decref(nw->options);
    if (nw->endpoints)
        json_decref(nw->endpoints);
    if (nw->previous)
        json_decref(nw->previous);
    if (nw->aux)
        json_decref(nw->aux);
    free(nw);
    return NULL;
}

static json_t *
obj_or_empty(json_t *j)
{
    return json_is_object(j) ? json_deep_copy(j) : json_object();
}

struct net_network *
net_network_from_json(json_t *j, struct bt_err **err)
{
    const char *id = bt_json_str(j, "id"), *name = bt_json_str(j, "name");
    const char *bridge = bt_json_str(j, "bridge");
    struct net_network *nw = xcalloc(1, sizeof(*nw));
    if (!id || !name || !bridge ||
        !net_prefix_parse(bt_json_str(j, "subnet"), false, &nw->subnet) ||
        !net_addr_parse(bt_json_str(j, "gateway"), &nw->gateway) ||
        !net_prefix_parse(bt_json_str(j, "ip_range"), false, &nw->ip_range)) {
        free(nw);
        bt_err_set(err, EINVAL, "network state is incomplete");
        return NULL;
    }
    nw->id = xstrdup(id);
    nw->name = xstrdup(name);
    nw->bridge = xstrdup(bridge);
    nw->driver = xstrdup(bt_json_str(j, "driver") ? bt_json_str(j, "driver") : "bridge");
    nw->created = xstrdup(bt_json_str(j, "created") ? bt_json_str(j, "created") : "");
    nw->mtu = (unsigned)json_integer_value(json_object_get(j, "mtu"));
    nw->internal = json_is_true(json_object_get(j, "internal"));
    nw->bridge_adopted = json_is_true(json_object_get(j, "bridge_adopted"));
    nw->labels = obj_or_empty(json_object_get(j, "labels"));
    nw->options = obj_or_empty(json_object_get(j, "options"));
    nw->endpoints = obj_or_empty(json_object_get(j, "endpoints"));
    nw->previous = obj_or_empty(json_object_get(j, "previous"));
    nw->aux = obj_or_empty(json_object_get(j, "aux_addresses"));
    const char *sub6 = bt_json_str(j, "subnet6");
    if (sub6) {
        if (!net_prefix6_parse(sub6, false, &nw->subnet6) ||
            !net_addr6_parse(bt_json_str(j, "gateway6"), &nw->gateway6)) {
            net_network_free(nw);
            bt_err_set(err, EINVAL, "network state is incomplete");
            return NULL;
        }
        nw->ipv6 = true;
    }
    return nw;
}

static json_t *
network_state_json(const struct net_network *nw)
{
    char sub[20], gw[20], range[20];
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", nw->id, "name", nw->name, "driver",
                          nw->driver, "bridge", nw->bridge, "created", nw->created);
    json_object_set_new(j, "subnet", json_string(net_prefix_fmt(&nw->subnet, sub)));
    json_object_set_new(j, "gateway", json_string(net_addr_fmt(nw->gateway, gw)));
    json_object_set_new(j, "ip_range", json_string(net_prefix_fmt(&nw->ip_range, range)));
    json_object_set_new(j, "mtu", json_integer(nw->mtu));
    json_object_set_new(j, "internal", json_boolean(nw->internal));
    json_object_set_new(j, "bridge_adopted", json_boolean(nw->bridge_adopted));
    json_object_set(j, "labels", nw->labels);
    json_object_set(j, "options", nw->options);
    json_object_set(j, "endpoints", nw->endpoints);
    json_object_set(j, "previous", nw->previous);
    json_object_set(j, "aux_addresses", nw->aux);
    if (nw->ipv6) {
        char sub6[INET6_ADDRSTRLEN + 4], gw6[INET6_ADDRSTRLEN];
        json_object_set_new(j, "subnet6", json_string(net_prefix6_fmt(&nw->subnet6, sub6)));
        json_object_set_new(j, "gateway6", json_string(net_addr6_fmt(&nw->gateway6, gw6)));
    }
    return j;
}

int
net_network_save(struct net_ctx *ctx, const struct net_network *nw, struct bt_err **err)
{
    _cleanup_free_ char *path = xasprintf("%s/net/networks/%s.json", ctx->root, nw->id);
    _cleanup_json_ json_t *j = network_state_json(nw);
    return bt_json_write_atomic(path, j, err);
}

void
net_network_list_free(struct net_network **list, size_t n)
{
    for (size_t i = 0; list && i < n; i++)
        net_network_free(list[i]);
    free(list);
}

static int
cmp_network(const void *a, const void *b)
{
    const struct net_network *x = *(struct net_network *const *)a;
    const struct net_network *y = *(struct net_network *const *)b;
    return strcmp(x->name, y->name);
}

struct net_network **
net_network_list(struct net_ctx *ctx, size_t *n, struct bt_err **err)
{
    *n = 0;
    _cleanup_free_ char *dir = xasprintf("%s/net/networks", ctx->root);
    struct net_network **list = xcalloc(1, sizeof(*list));
    _cleanup_dir_ DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return list;
        free(list);
        bt_err_errno(err, errno, "open '%s'", dir);
        return NULL;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !bt_str_endswith(de->d_name, ".json"))
            continue;
        _cleanup_free_ char *path = bt_path_join(dir, de->d_name);
        struct bt_err *lerr = NULL;
        _cleanup_json_ json_t *j = net_json_load(path, &lerr);
        if (!j && lerr->code == ENOENT) {
            /* Removed since readdir saw it (readers do not take the lock). */
            bt_err_free(lerr);
            continue;
        }
        bt_err_move(err, &lerr);
        struct net_network *nw = j ? net_network_from_json(j, err) : NULL;
        if (!nw) {
            bt_err_prefix(err, "network state '%s'", path);
            net_network_list_free(list, *n);
            *n = 0;
            return NULL;
        }
        list = xreallocarray(list, *n + 2, sizeof(*list));
        list[(*n)++] = nw;
    }
    qsort(list, *n, sizeof(*list), cmp_network);
    return list;
}

struct net_network *
net_network_find(struct net_network *const *list, size_t n, const char *ref, struct bt_err **err)
{
    size_t prefix_hits = 0;
    struct net_network *by_prefix = NULL;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i]->name, ref) == 0 || strcmp(list[i]->id, ref) == 0)
            return list[i];
        if (strlen(ref) >= 1 && bt_str_startswith(list[i]->id, ref)) {
            prefix_hits++;
            by_prefix = list[i];
        }
    }
    if (prefix_hits == 1)
        return by_prefix;
    if (prefix_hits > 1)
        bt_err_set(err, EINVAL, "network '%s' is ambiguous: %zu ids start with it", ref,
                   prefix_hits);
    return NULL;
}

struct net_network *
net_network_get(struct net_ctx *ctx, const char *ref, struct bt_err **err)
{
    size_t n;
    struct net_network **list = net_network_list(ctx, &n, err);
    if (!list)
        return NULL;
    struct net_network *found = net_network_find(list, n, ref, err);
    for (size_t i = 0; i < n; i++) {
        if (list[i] != found)
            net_network_free(list[i]);
    }
    free(list);
    return found;
}
