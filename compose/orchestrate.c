/* compose: the executor — one libuv loop runs a project's services as the
 * nodes of their dependency graph; the blocking work of a node (engine,
 * network and volume calls) runs in libuv's thread pool. */
#include <assert.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "compose/compose.h"
#include "compose/build.h"
#include "compose/orchestrate.h"
#include "compose/secrets-internal.h"
#include "engine/container.h"
#include "engine/engine.h"
#include "engine/oci-runtime.h"
#include "image/image.h"
#include "net/net.h"
#include "volumes/volumes.h"

char *
compose_monitor_path(void)
{
    const char *env = getenv("BERTH_MONITOR");
    if (env && env[0])
        return xstrdup(env);
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return xstrdup("berth-monitor");
    self[n] = '\0';
    return xasprintf("%s/berth-monitor", dirname(self));
}

static char *
berth_root(void)
{
    const char *r = getenv("BERTH_ROOT");
    return xstrdup(r && r[0] ? r : "/var/lib/berth");
}

static char *
project_lock_path(const char *project)
{
    const char *rr = getenv("BERTH_RUNROOT");
    _cleanup_free_ char *name = xasprintf("compose/%s.lock", project);
    return bt_path_join(rr && rr[0] ? rr : "/run/berth", name);
}

/* Commands that change a project are serialised by an exclusive flock on
 * RUNROOT/compose/PROJECT.lock, so two `up`s, or an `up` and a `down`,
 * never interleave. Returns the fd (closing it releases the lock).
 *
 * `down` unlinks the file, with the lock held, once nothing of the project
 * remains. A command that opened the file before that and then got the
 * lock holds a lock on a file no longer at the path, which serialises
 * nothing: so after locking, the file at the path must still be the one
 * locked, or the lock is taken again on the file now there. */
static int
project_lock(const char *project, struct bt_err **err)
{
    _cleanup_free_ char *path = project_lock_path(project);
    _cleanup_free_ char *dir = xstrdup(path);
    *strrchr(dir, '/') = '\0';
    if (bt_mkdir_p(dir, 0700, err) < 0)
        return bt_err_ret(err);
    for (;;) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
            return bt_err_errno(err, errno, "open %s", path);
        while (flock(fd, LOCK_EX) < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            return bt_err_errno(err, e, "lock %s", path);
        }
        struct stat held, now;
        if (fstat(fd, &held) < 0) {
            int e = errno;
            close(fd);
            return bt_err_errno(err, e, "stat %s", path);
        }
        int sr = stat(path, &now);
        if (sr == 0 && now.st_dev == held.st_dev && now.st_ino == held.st_ino)
            return fd;
        if (sr < 0 && errno != ENOENT) {
            int e = errno;
            close(fd);
            return bt_err_errno(err, e, "stat %s", path);
        }
        close(fd); /* unlinked by a `down` meanwhile: lock the new file */
    }
}

/* With the project's lock held (fd): removes the lock file when nothing of
 * the project remains, so that `down` leaves nothing behind in RUNROOT. */
static void
project_lock_drop(const char *project, int fd)
{
    struct compose_actual a;
    if (compose_actual_load(project, true, &a, NULL) < 0)
        return; /* cannot tell: the file stays, which is harmless */
    bool empty = a.n_containers == 0 && !a.networks[0] && !a.volumes[0];
    compose_actual_done(&a);
    if (!empty)
        return;
    _cleanup_free_ char *path = project_lock_path(project);
    struct stat held, now;
    /* only the file this process holds locked */
    if (fstat(fd, &held) == 0 && stat(path, &now) == 0 && now.st_dev == held.st_dev &&
        now.st_ino == held.st_ino)
        unlink(path);
}

static char *
new_id(void)
{
    unsigned char b[32];
    size_t got = 0;
    while (got < sizeof(b)) {
        ssize_t r = getrandom(b + got, sizeof(b) - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            /* no entropy source: time and pid still make a unique id here */
            for (size_t i = got; i < sizeof(b); i++)
                b[i] = (unsigned char)((unsigned)time(NULL) * 31u + (unsigned)getpid() + i * 7u);
            break;
        }
        got += (size_t)r;
    }
    char *hex = xmalloc(65);
    for (size_t i = 0; i < sizeof(b); i++)
        snprintf(hex + 2 * i, 3, "%02x", b[i]);
    return hex;
}

static void emit(compose_event_fn fn, void *data, const char *kind, const char *name,
                 enum compose_event_status st, const char *fmt, ...) BT_PRINTF(6, 7);
static void
emit(compose_event_fn fn, void *data, const char *kind, const char *name,
     enum compose_event_status st, const char *fmt, ...)
{
    if (!fn)
        return;
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *text = xvasprintf(fmt, ap);
    va_end(ap);
    fn(data, kind, name, st, text);
}

/* ---- removing a container with everything it holds ---- */

int
compose_container_remove(const char *id, bool anon_volumes, struct bt_err **err)
{
    _cleanup_json_ json_t *cfg = engine_container_config_load(id, err);
    if (!cfg)
        return bt_err_ret(err);
    json_t *labels = json_object_get(cfg, "labels");
    /* The monitor replies to stop before it exits; hold a pidfd so that
     * removal returns only once it is gone (down leaves no process). */
    _cleanup_json_ json_t *st = engine_container_state_load(id, NULL);
    pid_t mon = (pid_t)json_integer_value(json_object_get(st, "MonitorPid"));
    _cleanup_close_ int pidfd = mon > 0 ? (int)syscall(SYS_pidfd_open, mon, 0) : -1;
    uint64_t mon_start = (uint64_t)json_integer_value(json_object_get(st, "MonitorStart"));
    if (pidfd >= 0 && engine_pid_starttime(mon) != mon_start) {
        /* that pid is another process now */
        close(pidfd);
        pidfd = -1;
    }
    if (engine_container_remove(id, true, err) < 0)
        return bt_err_ret(err);
    if (pidfd >= 0) {
        struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
        /* bounded: a monitor that hangs is not worth hanging down for */
        while (poll(&pfd, 1, 3000) < 0 && errno == EINTR)
            ;
    }
    if (compose_secrets_cleanup(id, err) < 0)
        return bt_err_ret(err);
    struct bt_err *e = NULL;
    struct net_ctx *ctx = net_ctx_new(&e);
    if (ctx && net_container_teardown(ctx, id, &e) < 0) {
        net_ctx_free(ctx);
        bt_err_move(err, &e);
        return bt_err_ret(err);
    }
    net_ctx_free(ctx);
    if (e) {
        bt_err_move(err, &e);
        return bt_err_ret(err);
    }
    _cleanup_free_ char *root = berth_root();
    struct vol_store *vs = vol_store_open(root, err);
    if (!vs)
        return bt_err_ret(err);
    int rc = vol_container_release_all(vs, id, err);
    const char *project = bt_json_str(labels, COMPOSE_LABEL_PROJECT);
    if (rc >= 0 && anon_volumes && project) {
        struct vol_anon_owner owner = {
            .project = project,
            .service = bt_json_str(labels, COMPOSE_LABEL_SERVICE),
            .container_number = bt_json_str(labels, COMPOSE_LABEL_NUMBER),
        };
        if (owner.service && owner.container_number)
            rc = vol_anon_remove(vs, &owner, NULL, err);
    }
    vol_store_free(vs);
    if (rc < 0)
        return rc;
    const char *image_id = bt_json_str(labels, COMPOSE_LABEL_IMAGE);
    if (image_id) {
        struct image_store *is = image_store_open(NULL, err);
        if (!is)
            return bt_err_ret(err);
        rc = image_store_release(is, image_id, id, err);
        image_store_free(is);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- one container of a service: create ---- */

struct up_ctx {
    const struct compose_project *p;
    const struct compose_up_opts *o;
    struct compose_kvs image_ids; /* service -> image id */
    char *monitor;
    pthread_mutex_t lock; /* guards the ids below */
    json_t *service_ids;  /* service -> [container ids] made or kept by this run */
    bool oneoff;          /* a `run` container */
    char *const *extra_env;
};

static void
record_id(struct up_ctx *u, const char *service, const char *id)
{
    pthread_mutex_lock(&u->lock);
    json_t *a = json_object_get(u->service_ids, service);
    if (!a) {
        a = json_array();
        json_object_set_new(u->service_ids, service, a);
    }
    json_array_append_new(a, json_string(id));
    pthread_mutex_unlock(&u->lock);
}

/* The names other services give `service` with `links: [SERVICE:ALIAS]`.
 * Docker scopes a link's alias to the linking container; with hosts files
 * berth adds it to the service's aliases on its networks, so the linking
 * container (and any other on those networks) resolves ALIAS to it. */
static char **
link_aliases(const struct compose_project *p, const char *service)
{
    char **out = NULL;
    for (size_t i = 0; i < p->n_services; i++)
        bt_strv_foreach (l, p->services[i].links) {
            const char *colon = strchr(l, ':');
            if (!colon || (size_t)(colon - l) != strlen(service) ||
                strncmp(l, service, (size_t)(colon - l)) != 0)
                continue;
            const char *alias = colon + 1;
            if (*alias && strcmp(alias, service) != 0 && !bt_strv_contains(out, alias))
                out = bt_strv_push(out, alias);
        }
    return out;
}

/* The first container id of service in this run, or of the project. */
static char *
service_container(struct up_ctx *u, const char *service)
{
    pthread_mutex_lock(&u->lock);
    json_t *a = json_object_get(u->service_ids, service);
    const char *id = json_string_value(json_array_get(a, 0));
    char *out = id ? xstrdup(id) : NULL;
    pthread_mutex_unlock(&u->lock);
    if (out)
        return out;
    /* not part of this run (--no-deps): the project's running container */
    struct compose_actual actual;
    if (compose_actual_load(u->p->name, false, &actual, NULL) < 0)
        return NULL;
    for (size_t i = 0; i < actual.n_containers && !out; i++)
        if (strcmp(actual.containers[i].service, service) == 0 &&
            strcmp(actual.containers[i].state, "running") == 0)
            out = xstrdup(actual.containers[i].id);
    compose_actual_done(&actual);
    return out;
}

static int
ports_specs(const struct compose_service *s, struct net_port_spec **out, size_t *n,
            struct bt_err **err)
{
    *out = xcalloc(s->n_ports + 1, sizeof(**out));
    *n = 0;
    for (size_t i = 0; i < s->n_ports; i++) {
        const struct compose_port *pt = &s->ports[i];
        if (pt->mode && strcmp(pt->mode, "host") != 0 && strcmp(pt->mode, "ingress") != 0)
            return bt_err_set(err, EINVAL, "ports[%zu]: unknown mode '%s'", i, pt->mode);
        struct bt_buf b = {0};
        if (pt->host_ip)
            bt_buf_printf(&b, strchr(pt->host_ip, ':') ? "[%s]:" : "%s:", pt->host_ip);
        if (pt->published || pt->host_ip)
            bt_buf_printf(&b, "%s:", pt->published ? pt->published : "");
        bt_buf_printf(&b, "%u/%s", pt->target, pt->protocol ? pt->protocol : "tcp");
        _cleanup_free_ char *spec = bt_buf_steal(&b);
        bt_buf_done(&b);
        if (net_port_spec_parse(spec, &(*out)[*n], err) < 0) {
            bt_err_prefix(err, "ports '%s'", spec);
            return bt_err_ret(err);
        }
        (*n)++;
    }
    return 0;
}

/* The topmost lowerdir of img that has path, opened as a directory. */
static int
image_dir_with(const struct image_config *img, const char *path)
{
    for (size_t i = 0; img->lowerdirs && img->lowerdirs[i]; i++) {
        _cleanup_free_ char *full = bt_path_join(img->lowerdirs[i], path);
        if (bt_path_exists(full))
            return open(img->lowerdirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    return -1;
}

/* Mounts of the service's volumes; acquires the volumes for id. */
static int
service_mounts(struct up_ctx *u, const struct compose_service *s, const char *id, const char *name,
               int number, const struct image_config *img, struct vol_store *vs, json_t *mounts,
               struct bt_err **err)
{
    _cleanup_free_ char *num = xasprintf("%d", number);
    struct vol_anon_owner owner = {
        .project = u->p->name, .service = s->name, .container_number = num};
    char **own = NULL;
    for (size_t i = 0; i < s->n_volumes; i++) {
        const struct compose_mount *m = &s->volumes[i];
        struct vol_mount_request req = {
            .target = m->target, .read_only = m->read_only, .long_syntax = true};
        switch (m->type) {
        case COMPOSE_MOUNT_BIND:
            req.type = VOL_MOUNT_BIND;
            req.source = m->source;
            req.create_host_path = m->bind.create_host_path;
            req.propagation = m->bind.propagation;
            req.selinux = m->bind.selinux;
            break;
        case COMPOSE_MOUNT_VOLUME: {
            req.type = VOL_MOUNT_VOLUME;
            const struct compose_volume *v =
                m->source ? compose_project_volume(u->p, m->source) : NULL;
            req.source = v ? v->name : m->source;
            req.nocopy = m->volume.nocopy;
            req.subpath = m->volume.subpath;
            break;
        }
        case COMPOSE_MOUNT_TMPFS:
            req.type = VOL_MOUNT_TMPFS;
            if (m->tmpfs.size != COMPOSE_NO_INT && m->tmpfs.size > 0)
                req.tmpfs_size = (uint64_t)m->tmpfs.size;
            if (m->tmpfs.mode != COMPOSE_NO_INT) {
                req.tmpfs_mode = (uint32_t)m->tmpfs.mode;
                req.tmpfs_mode_set = true;
            }
            break;
        default:
            bt_strv_free(own);
            return bt_err_set(err, ENOTSUP, "volumes: type '%s' is not supported",
                              compose_mount_type_name(m->type));
        }
        struct vol_mount_plan plan;
        if (vol_mount_resolve(vs, &req, &owner, &plan, err) < 0) {
            bt_strv_free(own);
            bt_err_prefix(err, "volume '%s'", m->target);
            return bt_err_ret(err);
        }
        int rc = 0;
        if (plan.volume)
            rc = vol_volume_acquire(vs, plan.volume, id, name, err);
        if (rc >= 0 && plan.volume && plan.copy_up) {
            _cleanup_close_ int rootfd = image_dir_with(img, m->target);
            if (rootfd >= 0)
                rc = vol_volume_copy_up(vs, plan.volume, rootfd, m->target, err);
        }
        if (rc < 0) {
            vol_mount_plan_done(&plan);
            bt_strv_free(own);
            return rc;
        }
        json_array_append_new(mounts, vol_oci_mount_to_json(&plan.mount));
        own = bt_strv_push(own, plan.mount.destination);
        vol_mount_plan_done(&plan);
    }
    /* volumes_from: the mounts of another service's (or container's) first
     * container */
    bt_strv_foreach (from, s->volumes_from) {
        struct vol_volumes_from vf;
        if (vol_volumes_from_parse(from, &vf, err) < 0) {
            bt_strv_free(own);
            return bt_err_ret(err);
        }
        _cleanup_free_ char *src_id = vf.kind == VOL_FROM_SERVICE
                                          ? service_container(u, vf.name)
                                          : engine_container_resolve(vf.name, NULL);
        if (!src_id) {
            bt_err_set(err, ENOENT, "volumes_from '%s': no such %s", from,
                       vf.kind == VOL_FROM_SERVICE ? "service container" : "container");
            vol_volumes_from_done(&vf);
            bt_strv_free(own);
            return -ENOENT;
        }
        _cleanup_json_ json_t *scfg = engine_container_config_load(src_id, err);
        if (!scfg) {
            vol_volumes_from_done(&vf);
            bt_strv_free(own);
            return bt_err_ret(err);
        }
        json_t *sm = json_object_get(json_object_get(scfg, "spec"), "mounts");
        size_t n_src = json_array_size(sm), k;
        struct vol_oci_mount *src = xcalloc(n_src + 1, sizeof(*src));
        json_t *mj;
        json_array_foreach (sm, k, mj) {
            src[k].destination = xstrdup(bt_json_str(mj, "destination") ?: "");
            src[k].type = xstrdup(bt_json_str(mj, "type") ?: "");
            src[k].source = xstrdup(bt_json_str(mj, "source") ?: "");
            const char *sr = bt_json_str(mj, "x-berth-source-root");
            src[k].source_root = sr ? xstrdup(sr) : NULL;
            size_t q;
            json_t *opt;
            json_array_foreach (json_object_get(mj, "options"), q, opt)
                src[k].options = bt_strv_push(src[k].options, json_string_value(opt) ?: "");
        }
        struct vol_mount_plan *plans = NULL;
        size_t n_plans = 0;
        int rc = vol_mounts_from(vs, src, n_src, vf.mode, own, &plans, &n_plans, err);
        for (k = 0; k < n_src; k++)
            vol_oci_mount_done(&src[k]);
        free(src);
        vol_volumes_from_done(&vf);
        for (size_t q = 0; rc >= 0 && q < n_plans; q++) {
            if (plans[q].volume)
                rc = vol_volume_acquire(vs, plans[q].volume, id, name, err);
            /* the engine's own files (hosts, resolv.conf) stay per container */
            const char *d = plans[q].mount.destination;
            if (strcmp(d, "/etc/hosts") == 0 || strcmp(d, "/etc/resolv.conf") == 0 ||
                strcmp(d, "/etc/hostname") == 0)
                continue;
            if (rc >= 0 && plans[q].mount.type && strcmp(plans[q].mount.type, "bind") == 0)
                json_array_append_new(mounts, vol_oci_mount_to_json(&plans[q].mount));
        }
        vol_mount_plans_free(plans, n_plans);
        if (rc < 0) {
            bt_strv_free(own);
            return rc;
        }
    }
    bt_strv_free(own);
    (void)img;
    return 0;
}

/* Creates container `number` of s; its id goes to *id_out (caller owns).
 * All or nothing: on failure nothing of it is left. */
static int
container_create(struct up_ctx *u, const struct compose_service *s, int number, const char *name,
                 char **id_out, struct bt_err **err)
{
    const char *image_id = compose_kvs_get(&u->image_ids, s->name);
    _cleanup_free_ char *id = new_id();
    _cleanup_free_ char *root = berth_root();
    struct image_store *is = image_store_open(NULL, err);
    if (!is)
        return bt_err_ret(err);
    struct image_config img;
    if (image_config_get(is, image_id, &img, err) < 0) {
        image_store_free(is);
        return bt_err_ret(err);
    }
    struct net_ctx *ctx = NULL;
    struct vol_store *vs = NULL;
    struct net_container_net *cn = NULL;
    json_t *cfg = NULL;
    _cleanup_json_ json_t *netrec = NULL;
    _cleanup_json_ json_t *mounts = json_array();
    _cleanup_free_ struct net_port_spec *specs = NULL;
    _cleanup_free_ char *netns = NULL, *hosts = NULL, *resolv = NULL, *join = NULL;
    _cleanup_free_ char *cid = NULL, *upper = NULL, *work = NULL;
    size_t nspecs = 0;
    int rc = 0;
    bool net_made = false;

    ctx = net_ctx_new(err);
    vs = ctx ? vol_store_open(root, err) : NULL;
    if (!vs)
        rc = bt_err_ret(err);

    /* networking */
    const char *mode = s->network_mode;
    if (rc >= 0 && mode &&
        (bt_str_startswith(mode, "service:") || bt_str_startswith(mode, "container:"))) {
        bool svc = bt_str_startswith(mode, "service:");
        const char *target = strchr(mode, ':') + 1;
        join = svc ? service_container(u, target) : engine_container_resolve(target, NULL);
        if (!join)
            rc = bt_err_set(err, ENOENT, "network_mode %s: it has no container", mode);
        else {
            netns = net_netns_path(ctx, join);
            hosts = net_resolv_hosts_path(ctx, join);
            resolv = net_resolv_conf_path(ctx, join);
        }
    } else if (rc >= 0 && !(mode && strcmp(mode, "host") == 0)) {
        bool none = mode && strcmp(mode, "none") == 0;
        size_t nn = none ? 0 : s->n_networks;
        struct net_attach_spec *att = xcalloc(nn + 1, sizeof(*att));
        _cleanup_strv_ char **links = link_aliases(u->p, s->name);
        char ***aliases = xcalloc(nn + 1, sizeof(*aliases));
        for (size_t i = 0; i < nn; i++) {
            const struct compose_network *net = compose_project_network(u->p, s->networks[i].name);
            att[i].network = net ? net->name : s->networks[i].name;
            att[i].ipv4_address = s->networks[i].ipv4_address;
            att[i].ipv6_address = s->networks[i].ipv6_address;
            aliases[i] = bt_strv_copy(s->networks[i].aliases);
            bt_strv_foreach (a, links)
                if (!bt_strv_contains(aliases[i], a))
                    aliases[i] = bt_strv_push(aliases[i], a);
            att[i].aliases = aliases[i];
        }
        if (rc >= 0 && !none)
            rc = ports_specs(s, &specs, &nspecs, err);
        char **extra_hosts = NULL;
        for (size_t i = 0; i < s->n_extra_hosts; i++)
            extra_hosts = bt_strv_push_take(
                extra_hosts, xasprintf("%s:%s", s->extra_hosts[i].host, s->extra_hosts[i].ip));
        struct net_container_spec spec = {
            .container_id = id,
            .container_name = name,
            .service = s->name,
            .networks = att,
            .nnetworks = nn,
            .ports = specs,
            .nports = nspecs,
            .dns = {.dns = s->dns,
                    .dns_search = s->dns_search,
                    .dns_opt = s->dns_opt,
                    .extra_hosts = extra_hosts,
                    .hostname = s->hostname,
                    .domainname = s->domainname},
        };
        if (rc >= 0)
            rc = net_container_setup(ctx, &spec, &cn, err);
        if (rc >= 0)
            netrec = compose_net_record(&spec, cn);
        bt_strv_free(extra_hosts);
        for (size_t i = 0; i < nn; i++)
            bt_strv_free(aliases[i]);
        free(aliases);
        free(att);
        if (rc >= 0) {
            net_made = true;
            netns = xstrdup(cn->netns);
            hosts = xstrdup(cn->hosts_path);
            resolv = xstrdup(cn->resolv_path);
        }
    }

    if (rc >= 0)
        rc = service_mounts(u, s, id, name, number, &img, vs, mounts, err);
    if (rc >= 0)
        rc = compose_secrets_mounts(u->p, s, id, mounts, err);
    if (rc >= 0) {
        _cleanup_free_ char *dir = engine_container_dir(id);
        upper = bt_path_join(dir, "upper");
        work = bt_path_join(dir, "work");
        struct compose_container_input in = {
            .project = u->p,
            .service = s,
            .image = &img,
            .id = id,
            .name = name,
            .number = number,
            .netns = netns,
            .hosts_path = hosts,
            .resolv_path = resolv,
            .hostname_path = cn ? cn->hostname_path : NULL,
            .mounts = mounts,
            .upper = upper,
            .work = work,
            .oneoff = u->oneoff,
            .extra_env = u->extra_env,
        };
        cfg = compose_container_config(&in, err);
        if (!cfg)
            rc = bt_err_ret(err);
        if (cfg && join && !s->hostname) {
            /* a joined network namespace shows the owner's hostname, as
             * Docker's container network mode does */
            _cleanup_json_ json_t *jcfg = engine_container_config_load(join, NULL);
            const char *h = bt_json_str(json_object_get(jcfg, "spec"), "hostname");
            json_t *spec = json_object_get(cfg, "spec");
            if (h) {
                json_object_set_new(spec, "hostname", json_string(h));
                _cleanup_free_ char *kv = xasprintf("HOSTNAME=%s", h);
                json_t *env = json_object_get(json_object_get(spec, "process"), "env");
                size_t k;
                json_t *e;
                json_array_foreach (env, k, e)
                    if (bt_str_startswith(json_string_value(e), "HOSTNAME="))
                        json_array_set_new(env, k, json_string(kv));
            }
        }
    }
    if (rc >= 0 && netrec)
        json_object_set(cfg, "net", netrec);
    if (rc >= 0) {
        cid = engine_container_create(cfg, err);
        if (!cid)
            rc = bt_err_ret(err);
    }
    if (rc >= 0 && (bt_mkdir_p(upper, 0755, err) < 0 || bt_mkdir_p(work, 0700, err) < 0))
        rc = bt_err_ret(err);
    if (rc >= 0)
        rc = image_store_use(is, img.id, id, err);
    if (rc < 0) {
        /* undo: nothing of this container may stay */
        if (cid)
            engine_container_remove(cid, true, NULL);
        compose_secrets_cleanup(id, NULL);
        if (net_made)
            net_container_teardown(ctx, id, NULL);
        if (vs)
            vol_container_release_all(vs, id, NULL);
    } else {
        record_id(u, s->name, id);
        *id_out = TAKE_PTR(id);
    }
    json_decref(cfg);
    net_container_net_free(cn);
    vol_store_free(vs);
    net_ctx_free(ctx);
    image_config_done(&img);
    image_store_free(is);
    return rc;
}

/* ---- the graph executor ---- */

enum node_state { NODE_PENDING, NODE_RUNNING, NODE_DONE, NODE_FAILED, NODE_SKIPPED };

struct node_dep {
    size_t node;
    const char *condition; /* NULL: order only */
    bool required;
    bool waiting_shown, ready_shown;
};

struct run;
struct node {
    struct run *run;
    const char *service; /* borrowed */
    struct node_dep *deps;
    size_t n_deps;
    enum node_state state;
    uv_work_t req;
    struct bt_err *err;
    void *arg;
};

typedef void (*node_work_fn)(struct node *n);

struct run {
    volatile int *cancel; /* may be NULL */
    uv_loop_t loop;
    uv_timer_t timer;
    struct node *nodes;
    size_t n;
    size_t running;
    node_work_fn work;
    void *data;
    bool failed;
    struct bt_err *err; /* the first failure */
    compose_event_fn event;
    void *event_data;
    /* for conditions: the containers of a node (ids), read on the loop */
    char **(*ids_of)(struct run *r, size_t node);
};

static void
on_work(uv_work_t *req)
{
    struct node *n = req->data;
    n->run->work(n);
}

static void schedule(struct run *r);

static void
fail_run(struct run *r, struct bt_err **e)
{
    if (!r->failed) {
        r->failed = true;
        bt_err_move(&r->err, e);
    } else {
        *e = bt_err_free(*e);
    }
}

static void
on_after_work(uv_work_t *req, int status)
{
    struct node *n = req->data;
    struct run *r = n->run;
    r->running--;
    if (n->err || status < 0) {
        n->state = NODE_FAILED;
        if (!n->err)
            bt_err_set(&n->err, ECANCELED, "service '%s': cancelled", n->service);
        struct bt_err *copy = NULL;
        bt_err_set(&copy, n->err->code, "%s", n->err->msg);
        fail_run(r, &copy);
    } else {
        n->state = NODE_DONE;
    }
    schedule(r);
}

/* Whether dependency d of n is satisfied: 1 yes, 0 not yet, -1 never
 * (*why says why). */
static int
dep_check(struct run *r, const struct node_dep *d, char **why)
{
    struct node *dn = &r->nodes[d->node];
    if (dn->state == NODE_FAILED || dn->state == NODE_SKIPPED) {
        *why = xasprintf("%s failed to start", dn->service);
        return -1;
    }
    if (dn->state != NODE_DONE)
        return 0;
    if (!d->condition || strcmp(d->condition, "service_started") == 0)
        return 1;
    _cleanup_strv_ char **ids = r->ids_of ? r->ids_of(r, d->node) : NULL;
    bool healthy = strcmp(d->condition, "service_healthy") == 0;
    bt_strv_foreach (id, ids) {
        _cleanup_json_ json_t *cfg = engine_container_config_load(id, NULL);
        _cleanup_json_ json_t *st = engine_container_state(id, NULL);
        if (!st)
            return 0; /* not readable at this moment: look again, never assume */
        const char *cname = bt_json_str(cfg, "name") ?: id;
        const char *status = bt_json_str(st, "Status") ?: "";
        int code = (int)json_integer_value(json_object_get(st, "ExitCode"));
        bool exited = strcmp(status, "exited") == 0 || strcmp(status, "dead") == 0;
        if (healthy) {
            json_t *h = json_object_get(st, "Health");
            const char *hs = bt_json_str(h, "Status") ?: "";
            if (strcmp(hs, "healthy") == 0)
                continue;
            if (strcmp(hs, "unhealthy") == 0) {
                json_t *log = json_object_get(h, "Log");
                json_t *last = json_array_get(log, json_array_size(log) - 1);
                const char *out = bt_json_str(last, "Output") ?: "";
                _cleanup_free_ char *trim = xstrdup(out);
                size_t l = strlen(trim);
                while (l && (trim[l - 1] == '\n' || trim[l - 1] == ' '))
                    trim[--l] = '\0';
                *why = xasprintf("%s is unhealthy: last check exited %d%s%s", cname,
                                 (int)json_integer_value(json_object_get(last, "ExitCode")),
                                 l ? ": " : "", trim);
                return -1;
            }
            if (exited) {
                *why = xasprintf("%s exited with code %d before it became healthy", cname, code);
                return -1;
            }
            return 0;
        }
        /* service_completed_successfully */
        if (!exited)
            return 0;
        if (code != 0) {
            *why = xasprintf("%s didn't complete successfully: exit %d", cname, code);
            return -1;
        }
    }
    return 1;
}

/* Compose's "Waiting" / "Healthy" lines for the containers a dependent
 * waits on. */
static void
dep_show(struct run *r, struct node_dep *d, int c)
{
    if (!d->condition || strcmp(d->condition, "service_started") == 0 || !r->ids_of ||
        r->nodes[d->node].state != NODE_DONE)
        return;
    bool healthy = strcmp(d->condition, "service_healthy") == 0;
    const char *text = NULL;
    enum compose_event_status st = COMPOSE_EVENT_WORKING;
    if (c == 0 && !d->waiting_shown) {
        d->waiting_shown = true;
        text = "Waiting";
    } else if (c == 1 && !d->ready_shown) {
        d->ready_shown = true;
        text = healthy ? "Healthy" : "Exited";
        st = COMPOSE_EVENT_DONE;
    }
    if (!text)
        return;
    _cleanup_strv_ char **ids = r->ids_of(r, d->node);
    bt_strv_foreach (id, ids) {
        _cleanup_json_ json_t *cfg = engine_container_config_load(id, NULL);
        const char *name = bt_json_str(cfg, "name");
        if (name)
            emit(r->event, r->event_data, "Container", name, st, "%s", text);
    }
}

static bool
run_busy(struct run *r)
{
    if (r->running)
        return true;
    for (size_t i = 0; i < r->n; i++)
        if (r->nodes[i].state == NODE_PENDING)
            return true;
    return false;
}

static void
schedule(struct run *r)
{
    if (r->cancel && *r->cancel && !r->failed) {
        struct bt_err *e = NULL;
        bt_err_set(&e, ECANCELED, "interrupted: nothing more is started");
        fail_run(r, &e);
    }
    bool progress = true;
    while (progress) {
        progress = false;
        for (size_t i = 0; i < r->n; i++) {
            struct node *n = &r->nodes[i];
            if (n->state != NODE_PENDING)
                continue;
            if (r->failed) {
                n->state = NODE_SKIPPED;
                progress = true;
                continue;
            }
            int ready = 1;
            for (size_t k = 0; k < n->n_deps && ready == 1; k++) {
                _cleanup_free_ char *why = NULL;
                int c = dep_check(r, &n->deps[k], &why);
                dep_show(r, &n->deps[k], c);
                if (c < 0 && !n->deps[k].required) {
                    emit(r->event, r->event_data, "Service", n->service, COMPOSE_EVENT_WARNING,
                         "optional dependency %s: %s", r->nodes[n->deps[k].node].service,
                         why ? why : "failed");
                    n->deps[k].condition = NULL;
                    n->deps[k].required = true;
                    r->nodes[n->deps[k].node].state = NODE_DONE; /* do not report again */
                    c = 1;
                }
                if (c < 0) {
                    struct bt_err *e = NULL;
                    bt_err_set(&e, EIO, "service '%s': dependency failed to start: %s", n->service,
                               why ? why : "unknown");
                    emit(r->event, r->event_data, "Service", n->service, COMPOSE_EVENT_ERROR,
                         "Error: dependency %s", why ? why : "failed");
                    n->state = NODE_FAILED;
                    fail_run(r, &e);
                    ready = -1;
                    progress = true;
                } else if (c == 0) {
                    ready = 0;
                }
            }
            if (ready != 1)
                continue;
            n->state = NODE_RUNNING;
            n->req.data = n;
            r->running++;
            int rc = uv_queue_work(&r->loop, &n->req, on_work, on_after_work);
            if (rc < 0) {
                r->running--;
                n->state = NODE_FAILED;
                struct bt_err *e = NULL;
                bt_err_set(&e, -rc, "service '%s': %s", n->service, uv_strerror(rc));
                fail_run(r, &e);
            }
            progress = true;
        }
    }
    if (!run_busy(r))
        uv_timer_stop(&r->timer);
}

static void
on_tick(uv_timer_t *t)
{
    schedule(t->data);
}

/* Most of a node's work waits (on a monitor, a lock, the kernel) rather
 * than computes: more threads than libuv's default 4 let more services
 * proceed at once. Must run before libuv starts its pool. */
static void
threadpool_size(void)
{
    setenv("UV_THREADPOOL_SIZE", "16", 0);
}

/* Runs every node; returns the first failure. */
static int
run_graph(struct run *r, struct bt_err **err)
{
    threadpool_size();
    int rc = uv_loop_init(&r->loop);
    if (rc < 0)
        return bt_err_set(err, -rc, "event loop: %s", uv_strerror(rc));
    uv_timer_init(&r->loop, &r->timer);
    r->timer.data = r;
    for (size_t i = 0; i < r->n; i++)
        r->nodes[i].run = r;
    uv_timer_start(&r->timer, on_tick, 100, 100);
    schedule(r);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&r->timer, NULL);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    uv_loop_close(&r->loop);
    for (size_t i = 0; i < r->n; i++) {
        bt_err_free(r->nodes[i].err);
        free(r->nodes[i].deps);
    }
    if (r->failed) {
        bt_err_move(err, &r->err);
        return bt_err_ret(err);
    }
    return 0;
}

/* ---- up ---- */

struct up_node {
    struct up_ctx *u;
    const struct compose_service *s;
    const struct compose_plan *plan;
};

static int
start_one(struct up_ctx *u, const char *id, const char *name, struct bt_err **err)
{
    if (u->o->no_start)
        return 0;
    emit(u->o->event, u->o->event_data, "Container", name, COMPOSE_EVENT_WORKING, "Starting");
    if (compose_container_start(id, u->monitor, err) < 0) {
        bt_err_prefix(err, "start %s", name);
        return bt_err_ret(err);
    }
    emit(u->o->event, u->o->event_data, "Container", name, COMPOSE_EVENT_DONE, "Started");
    return 0;
}

static void
up_work(struct node *n)
{
    struct up_node *un = n->arg;
    struct up_ctx *u = un->u;
    const struct compose_up_opts *o = u->o;
    struct bt_err **err = &n->err;
    for (size_t i = 0; i < un->plan->n_actions; i++) {
        const struct compose_action *a = &un->plan->actions[i];
        if (strcmp(a->service, un->s->name) != 0)
            continue;
        int rc = 0;
        switch (a->kind) {
        case COMPOSE_ACTION_KEEP:
            record_id(u, a->service, a->id);
            emit(o->event, o->event_data, "Container", a->name, COMPOSE_EVENT_DONE, "Running");
            break;
        case COMPOSE_ACTION_REMOVE:
            if (a->removed)
                break; /* with its network */
            emit(o->event, o->event_data, "Container", a->name, COMPOSE_EVENT_WORKING, "Stopping");
            rc = engine_container_stop(a->id, o->timeout, err);
            if (rc >= 0)
                rc = compose_container_remove(a->id, false, err);
            if (rc >= 0)
                emit(o->event, o->event_data, "Container", a->name, COMPOSE_EVENT_DONE, "Removed");
            break;
        case COMPOSE_ACTION_START:
            record_id(u, a->service, a->id);
            rc = start_one(u, a->id, a->name, err);
            break;
        case COMPOSE_ACTION_RESTART:
            record_id(u, a->service, a->id);
            emit(o->event, o->event_data, "Container", a->name, COMPOSE_EVENT_WORKING,
                 "Restarting (%s)", a->reason ? a->reason : "");
            rc = engine_container_stop(a->id, o->timeout, err);
            if (rc >= 0)
                rc = start_one(u, a->id, a->name, err);
            break;
        case COMPOSE_ACTION_RECREATE:
            emit(o->event, o->event_data, "Container", a->name, COMPOSE_EVENT_WORKING,
                 "Recreate (%s)", a->reason ? a->reason : "changed");
            if (!a->removed)
                rc = engine_container_stop(a->id, o->timeout, err);
            if (rc >= 0 && !a->removed)
                rc = compose_container_remove(a->id, o->renew_anon_volumes, err);
            if (rc >= 0) {
                _cleanup_free_ char *id = NULL;
                rc = container_create(u, un->s, a->number, a->name, &id, err);
                if (rc >= 0) {
                    emit(o->event, o->event_data, "Container", a->name, COMPOSE_EVENT_DONE,
                         "Recreated");
                    rc = start_one(u, id, a->name, err);
                }
            }
            break;
        case COMPOSE_ACTION_CREATE: {
            emit(o->event, o->event_data, "Container", a->name, COMPOSE_EVENT_WORKING, "Creating");
            _cleanup_free_ char *id = NULL;
            rc = container_create(u, un->s, a->number, a->name, &id, err);
            if (rc >= 0) {
                emit(o->event, o->event_data, "Container", a->name, COMPOSE_EVENT_DONE, "Created");
                rc = start_one(u, id, a->name, err);
            }
            break;
        }
        }
        if (rc < 0) {
            emit(o->event, o->event_data, "Container", a->name, COMPOSE_EVENT_ERROR, "Error");
            bt_err_prefix(err, "service '%s'", a->service);
            return;
        }
    }
}

static char **
up_ids_of(struct run *r, size_t node)
{
    struct up_node *un = r->nodes[node].arg;
    struct up_ctx *u = un->u;
    char **out = xcalloc(1, sizeof(char *));
    pthread_mutex_lock(&u->lock);
    size_t i;
    json_t *v;
    json_array_foreach (json_object_get(u->service_ids, un->s->name), i, v)
        out = bt_strv_push(out, json_string_value(v));
    pthread_mutex_unlock(&u->lock);
    return out;
}

static bool
has_healthcheck(const struct compose_service *s, struct image_store *is, const char *image_id)
{
    if (s->healthcheck) {
        if (s->healthcheck->disable)
            return false;
        if (s->healthcheck->test)
            return !(s->healthcheck->test[0] && strcmp(s->healthcheck->test[0], "NONE") == 0);
    }
    struct image_config img;
    if (!image_id || image_config_get(is, image_id, &img, NULL) < 0)
        return false;
    bool has = img.healthcheck.test && img.healthcheck.test[0] &&
               strcmp(img.healthcheck.test[0], "NONE") != 0;
    image_config_done(&img);
    return has;
}

/* Images pulled in parallel, one thread-pool job each. */
struct pull_job {
    uv_work_t req;
    struct compose_pull *item;
    compose_event_fn event;
    compose_layer_fn layer;
    void *data;
};

static void
on_pull_layer(void *data, const char *id, enum image_layer_state st, int64_t current, int64_t total)
{
    struct pull_job *j = data;
    enum compose_event_status status = st == IMAGE_LAYER_FAILED ? COMPOSE_EVENT_ERROR
                                       : st == IMAGE_LAYER_EXISTS || st == IMAGE_LAYER_COMPLETE
                                           ? COMPOSE_EVENT_DONE
                                           : COMPOSE_EVENT_WORKING;
    const struct compose_pull *it = j->item;
    j->layer(j->data, it->service ? "" : "Image", it->service ? it->service : it->image, id, status,
             image_layer_state_text(st), current, total);
}

static void
on_pull(uv_work_t *req)
{
    struct pull_job *j = req->data;
    struct compose_pull *it = j->item;
    struct image_store *is = image_store_open(NULL, &it->err);
    if (!is)
        return;
    const char *kind = it->service ? "" : "Image", *name = it->service ? it->service : it->image;
    emit(j->event, j->data, kind, name, COMPOSE_EVENT_WORKING, "Pulling");
    struct image_pull_opts po = {.quiet = true};
    if (j->layer) {
        po.layer = on_pull_layer;
        po.layer_data = j;
    }
    if (image_pull(is, it->image, &po, &it->id, &it->err) < 0)
        emit(j->event, j->data, kind, name, COMPOSE_EVENT_ERROR, "Error");
    else
        emit(j->event, j->data, kind, name, COMPOSE_EVENT_DONE, "Pulled");
    image_store_free(is);
}

static void
on_pulled(uv_work_t *req, int status)
{
    struct pull_job *j = req->data;
    if (status < 0 && !j->item->err)
        bt_err_set(&j->item->err, ECANCELED, "cancelled");
}

int
compose_images_pull(struct compose_pull *items, size_t n, compose_event_fn event,
                    compose_layer_fn layer, void *data, struct bt_err **err)
{
    threadpool_size();
    uv_loop_t loop;
    int rc = uv_loop_init(&loop);
    if (rc < 0)
        return bt_err_set(err, -rc, "event loop: %s", uv_strerror(rc));
    struct pull_job *jobs = xcalloc(n + 1, sizeof(*jobs));
    for (size_t i = 0; i < n; i++) {
        jobs[i] =
            (struct pull_job){.item = &items[i], .event = event, .layer = layer, .data = data};
        jobs[i].req.data = &jobs[i];
        rc = uv_queue_work(&loop, &jobs[i].req, on_pull, on_pulled);
        if (rc < 0)
            bt_err_set(&items[i].err, -rc, "%s", uv_strerror(rc));
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(&loop);
    assert(rc == 0); /* every job's request has completed */
    free(jobs);
    return 0;
}

/* A service with a build section: builds its image with --build, with
 * pull_policy build, or when it is missing (unless --no-build); *id gets
 * the image id, or stays NULL when the image is to be pulled. */
static int
up_build(struct up_ctx *u, struct image_store *is, const struct compose_service *s,
         const char *policy, char **id, struct bt_err **err)
{
    const struct compose_up_opts *o = u->o;
    _cleanup_free_ char *name = compose_service_image_name(u->p, s);
    if (!o->build && strcmp(policy, "build") != 0) {
        if (s->image && strcmp(policy, "always") == 0)
            return 0; /* pulled like any image */
        *id = image_store_resolve(is, name, err);
        if (*id || *err)
            return *err ? bt_err_ret(err) : 0;
        if (o->no_build)
            return bt_err_set(err, ENOENT,
                              "service '%s': image %s is missing and --no-build was given", s->name,
                              name);
    }
    struct compose_build_opts bo = {.quiet = o->quiet_pull};
    return compose_service_build(u->p, s, &bo, id, err);
}

/* Resolves (and pulls, per pull policy) the image of every selected service. */
static int
up_images(struct up_ctx *u, char *const *services, struct bt_err **err)
{
    const struct compose_up_opts *o = u->o;
    _cleanup_(image_store_freep) struct image_store *is = image_store_open(NULL, err);
    if (!is)
        return bt_err_ret(err);
    _cleanup_strv_ char **to_pull = NULL;
    _cleanup_strv_ char **pull_by = NULL; /* the service each pull is shown under */
    for (size_t i = 0; i < u->p->n_services; i++) {
        const struct compose_service *s = &u->p->services[i];
        if (!bt_strv_contains(services, s->name))
            continue;
        const char *policy = o->pull ? o->pull : s->pull_policy ? s->pull_policy : "missing";
        if (strcmp(policy, "if_not_present") == 0)
            policy = "missing";
        _cleanup_free_ char *id = NULL;
        if (s->build) {
            int r = up_build(u, is, s, policy, &id, err);
            if (r < 0)
                return r;
            if (id) {
                compose_kvs_set(&u->image_ids, s->name, id);
                continue;
            }
        }
        if (strcmp(policy, "always") != 0) {
            id = image_store_resolve(is, s->image, err);
            if (!id && *err)
                return bt_err_ret(err);
        }
        if (!id && strcmp(policy, "never") == 0)
            return bt_err_set(err, ENOENT,
                              "service '%s': image %s is not in the store and pull_policy is "
                              "never",
                              s->name, s->image);
        if (!id && strcmp(policy, "build") == 0)
            return bt_err_set(err, EINVAL, "service '%s': pull_policy build needs a build section",
                              s->name);
        if (id) {
            compose_kvs_set(&u->image_ids, s->name, id);
            continue;
        }
        size_t k = 0;
        while (to_pull && to_pull[k] && strcmp(to_pull[k], s->image) != 0)
            k++;
        if (to_pull && to_pull[k]) {
            emit(o->event, o->event_data, "", s->name, COMPOSE_EVENT_DONE,
                 "Skipped - Image is already being pulled by %s", pull_by[k]);
            continue;
        }
        to_pull = bt_strv_push(to_pull, s->image);
        pull_by = bt_strv_push(pull_by, s->name);
    }
    if (to_pull) {
        size_t n = bt_strv_length(to_pull);
        struct compose_pull *items = xcalloc(n + 1, sizeof(*items));
        for (size_t k = 0; k < n; k++) {
            items[k].image = to_pull[k];
            items[k].service = pull_by[k];
        }
        int rc = compose_images_pull(items, n, o->event, o->quiet_pull ? NULL : o->layer_event,
                                     o->event_data, err);
        for (size_t i = 0; rc >= 0 && i < u->p->n_services; i++) {
            const struct compose_service *s = &u->p->services[i];
            if (!bt_strv_contains(services, s->name) || compose_kvs_get(&u->image_ids, s->name))
                continue;
            for (size_t k = 0; k < n; k++)
                if (s->image && strcmp(items[k].image, s->image) == 0) {
                    if (items[k].err) {
                        bt_err_set(err, items[k].err->code, "service '%s': pull %s: %s", s->name,
                                   s->image, items[k].err->msg);
                        rc = -items[k].err->code;
                    } else {
                        compose_kvs_set(&u->image_ids, s->name, items[k].id);
                    }
                    break;
                }
        }
        for (size_t k = 0; k < n; k++) {
            free(items[k].id);
            bt_err_free(items[k].err);
        }
        free(items);
        if (rc < 0)
            return rc;
    }
    /* service_healthy needs a healthcheck on the dependency */
    for (size_t i = 0; i < u->p->n_services; i++) {
        const struct compose_service *s = &u->p->services[i];
        if (!bt_strv_contains(services, s->name))
            continue;
        for (size_t d = 0; d < s->n_depends_on; d++) {
            const struct compose_dependency *dep = &s->depends_on[d];
            if (!bt_streq_null(dep->condition, "service_healthy") ||
                !bt_strv_contains(services, dep->service))
                continue;
            const struct compose_service *ds = compose_project_service(u->p, dep->service);
            if (ds && !has_healthcheck(ds, is, compose_kvs_get(&u->image_ids, ds->name)))
                return bt_err_set(err, EINVAL,
                                  "service '%s' depends on '%s' being healthy, but '%s' has no "
                                  "healthcheck",
                                  s->name, dep->service, dep->service);
        }
    }
    return 0;
}

/* Whether a selected service is on the project's network key. */
static bool
network_used(const struct compose_project *p, char *const *services, const char *key)
{
    for (size_t k = 0; k < p->n_services; k++) {
        const struct compose_service *s = &p->services[k];
        if (!bt_strv_contains(services, s->name))
            continue;
        for (size_t j = 0; j < s->n_networks; j++)
            if (strcmp(s->networks[j].name, key) == 0)
                return true;
    }
    return false;
}

/* A network of the project whose definition changed: up removes it with
 * the containers on it and makes both again, as Compose does. */
struct net_change {
    const struct compose_network *n;
    char *reason;
    char **containers; /* ids of the containers attached; never NULL */
};

static void
net_changes_free(struct net_change *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].reason);
        bt_strv_free(v[i].containers);
    }
    free(v);
}

static const struct compose_container *
actual_by_id(const struct compose_actual *a, const char *id)
{
    for (size_t i = 0; i < a->n_containers; i++)
        if (strcmp(a->containers[i].id, id) == 0)
            return &a->containers[i];
    return NULL;
}

/* Finds the project's networks (of the selected services) whose definition
 * no longer matches the existing network. Their containers must go with
 * them: services not selected that have containers on one join the
 * selection (*services grows); a container that up cannot make again (a
 * `run` container, another project's, an orphan without remove_orphans)
 * is an error before anything is touched. */
static int
up_networks_check(struct up_ctx *u, const struct compose_actual *actual, char ***services,
                  struct net_change **out, size_t *n_out, struct bt_err **err)
{
    const struct compose_project *p = u->p;
    *out = NULL;
    *n_out = 0;
    if (!p->n_networks)
        return 0;
    struct net_ctx *ctx = net_ctx_new(err);
    if (!ctx)
        return bt_err_ret(err);
    int rc = 0;
    for (size_t i = 0; rc >= 0 && i < p->n_networks; i++) {
        const struct compose_network *n = &p->networks[i];
        if (n->external || !network_used(p, *services, n->key))
            continue;
        struct net_network *got = net_network_get(ctx, n->name, err);
        if (!got) {
            rc = *err ? bt_err_ret(err) : 0;
            continue;
        }
        _cleanup_json_ json_t *inspect = net_network_to_json(got);
        char *reason = compose_network_diverged(n, inspect);
        if (!reason) {
            net_network_free(got);
            continue;
        }
        *out = xreallocarray(*out, *n_out + 1, sizeof(**out));
        struct net_change *c = &(*out)[(*n_out)++];
        *c =
            (struct net_change){.n = n, .reason = reason, .containers = xcalloc(1, sizeof(char *))};
        const char *id;
        json_t *ep;
        json_object_foreach (got->endpoints, id, ep) {
            const struct compose_container *ct = actual_by_id(actual, id);
            const char *name = bt_json_str(ep, "name") ?: id;
            if (!ct)
                rc = bt_err_set(err, EBUSY,
                                "network %s: %s, but container %s, which up does not manage, "
                                "is attached to it: remove or disconnect it first",
                                n->name, reason, name);
            else if (!compose_project_service(p, ct->service) && !u->o->remove_orphans)
                rc = bt_err_set(err, EBUSY,
                                "network %s: %s, but the orphan container %s is attached to it: "
                                "run up with --remove-orphans or remove it first",
                                n->name, reason, name);
            if (rc < 0)
                break;
            c->containers = bt_strv_push(c->containers, id);
            if (compose_project_service(p, ct->service) &&
                !bt_strv_contains(*services, ct->service))
                *services = bt_strv_push(*services, ct->service);
        }
        net_network_free(got);
    }
    net_ctx_free(ctx);
    if (rc < 0) {
        net_changes_free(*out, *n_out);
        *out = NULL;
        *n_out = 0;
    }
    return rc;
}

/* 1 + the position of service in the start order; 0 for a service the
 * project does not have (an orphan, which nothing depends on). */
static size_t
start_position(const struct compose_project *p, const char *service)
{
    for (size_t oi = 0; oi < p->n_services; oi++) {
        const struct compose_service *s = &p->services[p->order ? p->order[oi] : oi];
        if (strcmp(s->name, service) == 0)
            return oi + 1;
    }
    return 0;
}

/* Stops and removes the containers on the changed networks, dependents
 * first, then the networks themselves; up_networks_volumes makes the
 * networks again and the plan's RECREATE actions the containers. */
static int
up_networks_recreate(struct up_ctx *u, const struct compose_actual *actual,
                     struct compose_plan *plan, const struct net_change *changes, size_t n,
                     struct bt_err **err)
{
    const struct compose_up_opts *o = u->o;
    const struct compose_project *p = u->p;
    if (!n)
        return 0;
    /* the containers to remove, latest in start order first */
    _cleanup_strv_ char **ids = NULL;
    for (size_t i = 0; i < n; i++) {
        emit(o->event, o->event_data, "Network", changes[i].n->name, COMPOSE_EVENT_WORKING,
             "Recreate: %s", changes[i].reason);
        bt_strv_foreach (id, changes[i].containers)
            if (!bt_strv_contains(ids, id))
                ids = bt_strv_push(ids, id);
    }
    size_t n_ids = bt_strv_length(ids);
    for (size_t i = 1; i < n_ids; i++)
        for (size_t k = i; k > 0; k--) {
            const struct compose_container *a = actual_by_id(actual, ids[k - 1]);
            const struct compose_container *b = actual_by_id(actual, ids[k]);
            size_t pa = start_position(p, a->service), pb = start_position(p, b->service);
            if (pa > pb || (pa == pb && a->number >= b->number))
                break;
            char *t = ids[k - 1];
            ids[k - 1] = ids[k];
            ids[k] = t;
        }
    int rc = 0;
    for (size_t i = 0; rc >= 0 && i < n_ids; i++) {
        const struct compose_container *c = actual_by_id(actual, ids[i]);
        emit(o->event, o->event_data, "Container", c->name, COMPOSE_EVENT_WORKING, "Stopping");
        rc = engine_container_stop(c->id, o->timeout, err);
        if (rc >= 0)
            rc = compose_container_remove(c->id, o->renew_anon_volumes, err);
        if (rc < 0) {
            emit(o->event, o->event_data, "Container", c->name, COMPOSE_EVENT_ERROR, "Error");
            bt_err_prefix(err, "network %s changed: remove container %s", changes[0].n->name,
                          c->name);
            return rc;
        }
        emit(o->event, o->event_data, "Container", c->name, COMPOSE_EVENT_DONE, "Removed");
        for (size_t k = 0; k < plan->n_actions; k++) {
            struct compose_action *a = &plan->actions[k];
            if (!a->id || strcmp(a->id, c->id) != 0)
                continue;
            a->removed = true;
            if (a->kind != COMPOSE_ACTION_REMOVE && a->kind != COMPOSE_ACTION_RECREATE) {
                /* on the network, though no longer in the file (--no-recreate) */
                a->kind = COMPOSE_ACTION_RECREATE;
                free(a->reason);
                a->reason = xasprintf("network %s changed", changes[0].n->name);
            }
        }
    }
    struct net_ctx *ctx = net_ctx_new(err);
    if (!ctx)
        return bt_err_ret(err);
    for (size_t i = 0; rc >= 0 && i < n; i++) {
        const char *name = changes[i].n->name;
        rc = net_network_remove(ctx, name, err);
        if (rc < 0) {
            emit(o->event, o->event_data, "Network", name, COMPOSE_EVENT_ERROR, "Error");
            bt_err_prefix(err, "network %s", name);
        } else {
            emit(o->event, o->event_data, "Network", name, COMPOSE_EVENT_DONE, "Removed");
        }
    }
    net_ctx_free(ctx);
    return rc;
}

/* A named volume whose definition changed is an error, as with Compose
 * when it may not ask: making it again would lose its data, which only the
 * user may decide. A volume without the hash label is taken as it is. */
static int
up_volumes_check(const struct compose_project *p, struct bt_err **err)
{
    if (!p->n_volumes)
        return 0;
    _cleanup_free_ char *root = berth_root();
    struct vol_store *vs = vol_store_open(root, err);
    if (!vs)
        return bt_err_ret(err);
    int rc = 0;
    for (size_t i = 0; rc >= 0 && i < p->n_volumes; i++) {
        const struct compose_volume *v = &p->volumes[i];
        struct vol_volume *got = NULL;
        if (v->external || (rc = vol_volume_get(vs, v->name, &got, err)) <= 0)
            continue;
        const char *have = vol_volume_label(got, COMPOSE_LABEL_HASH);
        _cleanup_free_ char *want = compose_volume_hash(v);
        if (have && *have && strcmp(have, want) != 0)
            rc = bt_err_set(err, EEXIST,
                            "volume \"%s\" exists but doesn't match configuration in compose "
                            "file; making it again loses its data: remove it (berth volume rm "
                            "%s, or down -v) and run up again",
                            v->name, v->name);
        vol_volume_free(got);
    }
    vol_store_free(vs);
    return rc < 0 ? rc : 0;
}

static int
up_networks_volumes(struct up_ctx *u, char *const *services, struct bt_err **err)
{
    const struct compose_up_opts *o = u->o;
    const struct compose_project *p = u->p;
    struct net_ctx *ctx = net_ctx_new(err);
    if (!ctx)
        return bt_err_ret(err);
    int rc = 0;
    for (size_t i = 0; rc >= 0 && i < p->n_networks; i++) {
        const struct compose_network *n = &p->networks[i];
        if (!network_used(p, services, n->key))
            continue;
        struct net_network *got = net_network_get(ctx, n->name, err);
        if (!got && *err) {
            rc = bt_err_ret(err);
            break;
        }
        if (got) {
            net_network_free(got);
            continue;
        }
        if (n->external) {
            rc = bt_err_set(err, ENOENT, "network %s declared as external, but could not be found",
                            n->name);
            break;
        }
        emit(o->event, o->event_data, "Network", n->name, COMPOSE_EVENT_WORKING, "Creating");
        _cleanup_free_ char *hash = compose_network_hash(n);
        _cleanup_json_ json_t *labels = json_object();
        for (size_t k = 0; k < n->labels.n; k++)
            json_object_set_new(labels, n->labels.v[k].key,
                                json_string(n->labels.v[k].value ?: ""));
        json_object_set_new(labels, COMPOSE_LABEL_PROJECT, json_string(p->name));
        json_object_set_new(labels, COMPOSE_LABEL_NETWORK, json_string(n->key));
        json_object_set_new(labels, COMPOSE_LABEL_VERSION, json_string(COMPOSE_VERSION));
        json_object_set_new(labels, COMPOSE_LABEL_HASH, json_string(hash));
        _cleanup_json_ json_t *dopts = json_object();
        for (size_t k = 0; k < n->driver_opts.n; k++)
            json_object_set_new(dopts, n->driver_opts.v[k].key,
                                json_string(n->driver_opts.v[k].value ?: ""));
        _cleanup_json_ json_t *aux = json_object();
        /* ipam.config holds one IPv4 and, for enable_ipv6, one IPv6 entry;
         * an entry without a subnet configures IPv4. */
        const struct compose_ipam_config *ic = NULL, *ic6 = NULL;
        for (size_t k = 0; k < n->ipam.n_config; k++) {
            const struct compose_ipam_config *c = &n->ipam.config[k];
            if (c->subnet && strchr(c->subnet, ':')) {
                if (!ic6)
                    ic6 = c;
            } else if (!ic) {
                ic = c;
            }
        }
        for (size_t k = 0; ic && k < ic->aux_addresses.n; k++)
            json_object_set_new(aux, ic->aux_addresses.v[k].key,
                                json_string(ic->aux_addresses.v[k].value ?: ""));
        struct net_network_opts no = {
            .name = n->name,
            .subnet = ic ? ic->subnet : NULL,
            .gateway = ic ? ic->gateway : NULL,
            .ip_range = ic ? ic->ip_range : NULL,
            .internal = n->internal,
            .labels = labels,
            .driver_opts = dopts,
            .driver = n->driver,
            .aux_addresses = aux,
            .enable_ipv6 = n->enable_ipv6 == COMPOSE_TRUE,
            .subnet6 = ic6 ? ic6->subnet : NULL,
            .gateway6 = ic6 ? ic6->gateway : NULL,
        };
        struct net_network *made = net_network_create(ctx, &no, err);
        if (!made) {
            emit(o->event, o->event_data, "Network", n->name, COMPOSE_EVENT_ERROR, "Error");
            bt_err_prefix(err, "network %s", n->name);
            rc = bt_err_ret(err);
            break;
        }
        net_network_free(made);
        emit(o->event, o->event_data, "Network", n->name, COMPOSE_EVENT_DONE, "Created");
    }
    net_ctx_free(ctx);
    if (rc < 0)
        return rc;

    _cleanup_free_ char *root = berth_root();
    struct vol_store *vs = vol_store_open(root, err);
    if (!vs)
        return bt_err_ret(err);
    for (size_t i = 0; rc >= 0 && i < p->n_volumes; i++) {
        const struct compose_volume *v = &p->volumes[i];
        struct vol_volume *got = NULL;
        if (v->external) {
            rc = vol_volume_get_external(vs, v->name, p->name, &got, err);
            if (rc < 0)
                bt_err_prefix(err, "volume %s declared as external", v->name);
            vol_volume_free(got);
            continue;
        }
        char **labels = NULL, **opts = NULL;
        for (size_t k = 0; k < v->labels.n; k++)
            labels = bt_strv_push_take(
                labels, xasprintf("%s=%s", v->labels.v[k].key, v->labels.v[k].value ?: ""));
        labels = bt_strv_push_take(labels, xasprintf("%s=%s", COMPOSE_LABEL_PROJECT, p->name));
        labels = bt_strv_push_take(labels, xasprintf("%s=%s", COMPOSE_LABEL_VOLUME, v->key));
        labels =
            bt_strv_push_take(labels, xasprintf("%s=%s", COMPOSE_LABEL_VERSION, COMPOSE_VERSION));
        _cleanup_free_ char *hash = compose_volume_hash(v);
        labels = bt_strv_push_take(labels, xasprintf("%s=%s", COMPOSE_LABEL_HASH, hash));
        for (size_t k = 0; k < v->driver_opts.n; k++)
            opts = bt_strv_push_take(
                opts, xasprintf("%s=%s", v->driver_opts.v[k].key, v->driver_opts.v[k].value ?: ""));
        struct vol_create_opts co = {
            .name = v->name, .driver = v->driver, .labels = labels, .driver_opts = opts};
        bool created = false;
        rc = vol_volume_create(vs, &co, &got, &created, err);
        bt_strv_free(labels);
        bt_strv_free(opts);
        if (rc < 0) {
            bt_err_prefix(err, "volume %s", v->name);
            break;
        }
        vol_volume_free(got);
        if (created)
            emit(o->event, o->event_data, "Volume", v->name, COMPOSE_EVENT_DONE, "Created");
    }
    vol_store_free(vs);
    return rc < 0 ? rc : 0;
}

/* Ports of the containers to be made must be free before anything starts. */
static int
up_ports_check(struct up_ctx *u, const struct compose_plan *plan, struct bt_err **err)
{
    struct net_ctx *ctx = NULL;
    int rc = 0;
    for (size_t i = 0; rc >= 0 && i < plan->n_actions; i++) {
        const struct compose_action *a = &plan->actions[i];
        if (a->kind != COMPOSE_ACTION_CREATE && a->kind != COMPOSE_ACTION_RECREATE)
            continue;
        const struct compose_service *s = compose_project_service(u->p, a->service);
        if (!s || !s->n_ports || (s->network_mode && strcmp(s->network_mode, "none") == 0))
            continue;
        if (!ctx && !(ctx = net_ctx_new(err)))
            return bt_err_ret(err);
        _cleanup_free_ struct net_port_spec *specs = NULL;
        size_t n = 0;
        rc = ports_specs(s, &specs, &n, err);
        if (rc >= 0)
            rc = net_ports_check(ctx, a->id ? a->id : "", a->name, specs, n, err);
        if (rc < 0)
            bt_err_prefix(err, "service '%s'", s->name);
    }
    net_ctx_free(ctx);
    return rc;
}

/* The selected services with their dependencies (unless no_deps). */
static char **
up_services(const struct compose_project *p, const struct compose_up_opts *o)
{
    char **out = xcalloc(1, sizeof(char *));
    if (!o->services || !o->services[0]) {
        for (size_t i = 0; i < p->n_services; i++)
            out = bt_strv_push(out, p->services[i].name);
        return out;
    }
    for (size_t i = 0; o->services[i]; i++)
        if (!bt_strv_contains(out, o->services[i]))
            out = bt_strv_push(out, o->services[i]);
    if (o->no_deps)
        return out;
    for (size_t i = 0; out[i]; i++) {
        const struct compose_service *s = compose_project_service(p, out[i]);
        _cleanup_strv_ char **deps = s ? compose_service_dependencies(s) : NULL;
        bt_strv_foreach (d, deps)
            if (!bt_strv_contains(out, d))
                out = bt_strv_push(out, d);
    }
    return out;
}

/* --wait: every container running (and healthy when it has a check), or
 * exited 0 for one-shot services. 1 done, 0 not yet, -1 failed. */
static int
wait_check(json_t *ids, struct bt_err **err)
{
    const char *svc;
    json_t *arr;
    int all = 1;
    json_object_foreach (ids, svc, arr) {
        size_t i;
        json_t *v;
        json_array_foreach (arr, i, v) {
            const char *id = json_string_value(v);
            _cleanup_json_ json_t *cfg = engine_container_config_load(id, NULL);
            _cleanup_json_ json_t *st = engine_container_state(id, NULL);
            const char *name = bt_json_str(cfg, "name") ?: id;
            const char *status = bt_json_str(st, "Status") ?: "";
            const char *health = bt_json_str(json_object_get(st, "Health"), "Status");
            int code = (int)json_integer_value(json_object_get(st, "ExitCode"));
            if (strcmp(status, "exited") == 0 || strcmp(status, "dead") == 0) {
                if (code != 0) {
                    bt_err_set(err, EIO, "container %s exited (%d)", name, code);
                    return -1;
                }
                continue;
            }
            if (health && strcmp(health, "unhealthy") == 0) {
                bt_err_set(err, EIO, "container %s is unhealthy", name);
                return -1;
            }
            if (strcmp(status, "running") != 0 || (health && strcmp(health, "healthy") != 0))
                all = 0;
        }
    }
    return all;
}

struct waiter {
    uv_loop_t loop;
    uv_timer_t timer;
    json_t *ids;
    uint64_t deadline; /* loop time in ms; 0: none */
    int result;
    int ready_ticks;
    struct bt_err *err;
};

static void
on_wait_tick(uv_timer_t *t)
{
    struct waiter *w = t->data;
    int c = wait_check(w->ids, &w->err);
    /* Ready must hold for a few ticks: a one-shot that fails at once is
     * still "running" right after it started. */
    if (c == 1 && ++w->ready_ticks < 4)
        c = 0;
    else if (c != 1)
        w->ready_ticks = 0;
    if (c == 0 && w->deadline && uv_now(&w->loop) >= w->deadline) {
        bt_err_set(&w->err, ETIMEDOUT,
                   "timed out waiting for the services to be running and "
                   "healthy");
        c = -1;
    }
    if (c != 0) {
        w->result = c;
        uv_timer_stop(t);
    }
}

static int
up_wait(struct up_ctx *u, struct bt_err **err)
{
    struct waiter w = {.ids = u->service_ids};
    int rc = uv_loop_init(&w.loop);
    if (rc < 0)
        return bt_err_set(err, -rc, "event loop: %s", uv_strerror(rc));
    uv_timer_init(&w.loop, &w.timer);
    w.timer.data = &w;
    if (u->o->wait_timeout_ms > 0)
        w.deadline = uv_now(&w.loop) + (uint64_t)u->o->wait_timeout_ms;
    uv_timer_start(&w.timer, on_wait_tick, 0, 100);
    uv_run(&w.loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&w.timer, NULL);
    uv_run(&w.loop, UV_RUN_DEFAULT);
    uv_loop_close(&w.loop);
    if (w.result < 0) {
        bt_err_move(err, &w.err);
        return bt_err_ret(err);
    }
    return 0;
}

int
compose_project_up(const struct compose_project *p, const struct compose_up_opts *o,
                   struct bt_err **err)
{
    _cleanup_close_ int lock = project_lock(p->name, err);
    if (lock < 0)
        return lock;
    struct up_ctx u = {
        .p = p, .o = o, .monitor = compose_monitor_path(), .service_ids = json_object()};
    pthread_mutex_init(&u.lock, NULL);
    _cleanup_strv_ char **services = up_services(p, o);
    struct compose_actual actual = {0};
    struct compose_plan plan = {0};
    struct run r = {.cancel = o->cancel,
                    .event = o->event,
                    .event_data = o->event_data,
                    .work = up_work,
                    .ids_of = up_ids_of};
    struct up_node *uns = NULL;
    int rc = 0;

    bt_strv_foreach (s, services)
        if (!compose_project_service(p, s)) {
            rc = bt_err_set(err, ENOENT, "no such service: %s", s);
            break;
        }
    if (rc >= 0)
        rc = compose_secrets_check(p, services, err);
    if (rc >= 0)
        rc = compose_actual_load(p->name, false, &actual, err);
    struct net_change *changes = NULL;
    size_t n_changes = 0;
    _cleanup_strv_ char **changed_keys = NULL;
    if (rc >= 0)
        rc = up_volumes_check(p, err);
    if (rc >= 0)
        rc = up_networks_check(&u, &actual, &services, &changes, &n_changes, err);
    for (size_t i = 0; i < n_changes; i++)
        changed_keys = bt_strv_push(changed_keys, changes[i].n->key);
    if (rc >= 0)
        rc = up_images(&u, services, err);
    struct compose_plan_opts po = {
        .networks_recreated = changed_keys,
        .services = services,
        .force_recreate = o->force_recreate,
        .no_recreate = o->no_recreate,
        .remove_orphans = o->remove_orphans,
        .scale = o->scale,
        .image_ids = &u.image_ids,
    };
    if (rc >= 0)
        rc = compose_plan_make(p, &actual, &po, &plan, err);
    if (rc >= 0)
        rc = up_ports_check(&u, &plan, err);
    if (rc >= 0 && plan.orphans[0] && !o->remove_orphans) {
        _cleanup_free_ char *names = bt_strv_join(plan.orphans, ", ");
        emit(o->event, o->event_data, "Project", p->name, COMPOSE_EVENT_WARNING,
             "Found orphan containers (%s) for this project. If you removed or renamed this "
             "service in your compose file, you can run this command with the --remove-orphans "
             "flag to clean it up.",
             names);
    }
    if (rc >= 0)
        rc = up_networks_recreate(&u, &actual, &plan, changes, n_changes, err);
    net_changes_free(changes, n_changes);
    if (rc >= 0)
        rc = up_networks_volumes(&u, services, err);
    /* orphans first, when asked */
    for (size_t i = 0; rc >= 0 && i < plan.n_actions; i++) {
        const struct compose_action *a = &plan.actions[i];
        if (a->kind != COMPOSE_ACTION_REMOVE || !a->reason || strcmp(a->reason, "orphan") != 0 ||
            a->removed)
            continue;
        emit(o->event, o->event_data, "Container", a->name, COMPOSE_EVENT_WORKING, "Removing");
        rc = engine_container_stop(a->id, o->timeout, err);
        if (rc >= 0)
            rc = compose_container_remove(a->id, false, err);
        if (rc >= 0)
            emit(o->event, o->event_data, "Container", a->name, COMPOSE_EVENT_DONE, "Removed");
    }
    if (rc >= 0) {
        size_t n = bt_strv_length(services);
        r.nodes = xcalloc(n + 1, sizeof(*r.nodes));
        uns = xcalloc(n + 1, sizeof(*uns));
        for (size_t oi = 0; oi < p->n_services; oi++) {
            const struct compose_service *s = &p->services[p->order ? p->order[oi] : oi];
            if (!bt_strv_contains(services, s->name))
                continue;
            uns[r.n] = (struct up_node){.u = &u, .s = s, .plan = &plan};
            r.nodes[r.n] = (struct node){.service = s->name, .arg = &uns[r.n]};
            r.n++;
        }
        for (size_t i = 0; i < r.n; i++) {
            const struct compose_service *s = uns[i].s;
            _cleanup_strv_ char **deps = compose_service_dependencies(s);
            bt_strv_foreach (d, deps) {
                size_t k = 0;
                while (k < r.n && strcmp(r.nodes[k].service, d) != 0)
                    k++;
                if (k == r.n)
                    continue; /* --no-deps: not part of this run */
                const struct compose_dependency *dep = NULL;
                for (size_t j = 0; j < s->n_depends_on; j++)
                    if (strcmp(s->depends_on[j].service, d) == 0)
                        dep = &s->depends_on[j];
                struct node *nd = &r.nodes[i];
                nd->deps = xreallocarray(nd->deps, nd->n_deps + 1, sizeof(*nd->deps));
                nd->deps[nd->n_deps++] = (struct node_dep){
                    .node = k,
                    .condition = dep && !o->no_start ? dep->condition : NULL,
                    .required = dep ? dep->required : true,
                };
            }
        }
        rc = run_graph(&r, err);
    }
    if (rc >= 0 && o->wait && !o->no_start)
        rc = up_wait(&u, err);
    free(r.nodes);
    free(uns);
    compose_plan_done(&plan);
    compose_actual_done(&actual);
    compose_kvs_done(&u.image_ids);
    json_decref(u.service_ids);
    free(u.monitor);
    pthread_mutex_destroy(&u.lock);
    return rc < 0 ? rc : 0;
}

/* ---- operations on existing containers: down, stop, start, ... ---- */

struct op_ctx {
    struct compose_actual *a;
    enum compose_op op;
    const struct compose_op_opts *o;
    bool remove; /* down: remove after stopping */
    bool anon_volumes;
    char **only; /* container names to act on (NULL: all of the service) */
    char *monitor;
};

static void
op_work(struct node *n)
{
    struct op_ctx *c = n->arg;
    const struct compose_op_opts *o = c->o;
    struct bt_err **err = &n->err;
    _cleanup_free_ struct compose_container **cs = compose_actual_service(c->a, n->service);
    for (size_t i = 0; cs[i]; i++) {
        struct compose_container *ct = cs[i];
        if (c->only && !bt_strv_contains(c->only, ct->name))
            continue;
        int rc = 0;
        bool running = strcmp(ct->state, "running") == 0 || strcmp(ct->state, "paused") == 0 ||
                       strcmp(ct->state, "restarting") == 0;
        switch (c->op) {
        case COMPOSE_OP_START:
            if (running)
                break;
            emit(o->event, o->event_data, "Container", ct->name, COMPOSE_EVENT_WORKING, "Starting");
            rc = compose_container_start(ct->id, c->monitor, err);
            if (rc >= 0)
                emit(o->event, o->event_data, "Container", ct->name, COMPOSE_EVENT_DONE, "Started");
            break;
        case COMPOSE_OP_STOP:
        case COMPOSE_OP_REMOVE:
            /* rm removes only what is stopped (rm -s stops first); down
             * stops and removes */
            if (running && (c->op == COMPOSE_OP_STOP || c->remove)) {
                emit(o->event, o->event_data, "Container", ct->name, COMPOSE_EVENT_WORKING,
                     "Stopping");
                rc = engine_container_stop(ct->id, o->timeout, err);
                if (rc >= 0)
                    emit(o->event, o->event_data, "Container", ct->name, COMPOSE_EVENT_DONE,
                         "Stopped");
                running = false;
            }
            if (rc >= 0 && c->op == COMPOSE_OP_REMOVE && !running) {
                emit(o->event, o->event_data, "Container", ct->name, COMPOSE_EVENT_WORKING,
                     "Removing");
                rc = compose_container_remove(ct->id, c->anon_volumes, err);
                if (rc >= 0)
                    emit(o->event, o->event_data, "Container", ct->name, COMPOSE_EVENT_DONE,
                         "Removed");
            }
            break;
        case COMPOSE_OP_RESTART:
            emit(o->event, o->event_data, "Container", ct->name, COMPOSE_EVENT_WORKING,
                 "Restarting");
            if (running)
                rc = engine_container_stop(ct->id, o->timeout, err);
            if (rc >= 0)
                rc = compose_container_start(ct->id, c->monitor, err);
            if (rc >= 0)
                emit(o->event, o->event_data, "Container", ct->name, COMPOSE_EVENT_DONE, "Started");
            break;
        case COMPOSE_OP_KILL: {
            if (!running)
                break;
            int sig = SIGKILL;
            if (o->signal) {
                const char *nm = bt_str_startswith(o->signal, "SIG") ? o->signal + 3 : o->signal;
                int64_t num;
                if (bt_parse_int64(nm, &num) && num > 0 && num < 65) {
                    sig = (int)num;
                } else {
                    sig = 0;
                    for (int k = 1; k < 65; k++) {
                        const char *abbr = sigabbrev_np(k);
                        if (abbr && strcasecmp(abbr, nm) == 0) {
                            sig = k;
                            break;
                        }
                    }
                }
                if (!sig) {
                    rc = bt_err_set(err, EINVAL, "invalid signal '%s'", o->signal);
                    break;
                }
            }
            emit(o->event, o->event_data, "Container", ct->name, COMPOSE_EVENT_WORKING, "Killing");
            rc = engine_container_kill(ct->id, sig, err);
            if (rc >= 0)
                emit(o->event, o->event_data, "Container", ct->name, COMPOSE_EVENT_DONE, "Killed");
            break;
        }
        case COMPOSE_OP_PAUSE:
        case COMPOSE_OP_UNPAUSE: {
            bool pause = c->op == COMPOSE_OP_PAUSE;
            if (!running)
                break;
            rc = engine_container_pause(ct->id, pause, err);
            if (rc >= 0)
                emit(o->event, o->event_data, "Container", ct->name, COMPOSE_EVENT_DONE,
                     pause ? "Paused" : "Unpaused");
            break;
        }
        }
        if (rc < 0) {
            emit(o->event, o->event_data, "Container", ct->name, COMPOSE_EVENT_ERROR, "Error");
            bt_err_prefix(err, "%s", ct->name);
            return;
        }
    }
}

/* Service dependencies from the depends_on labels of their containers. */
static char **
label_deps(const struct compose_actual *a, const char *service)
{
    char **out = xcalloc(1, sizeof(char *));
    for (size_t i = 0; i < a->n_containers; i++) {
        if (strcmp(a->containers[i].service, service) != 0)
            continue;
        const char *l = bt_json_str(a->containers[i].labels, COMPOSE_LABEL_DEPENDS_ON);
        _cleanup_strv_ char **parts = l && l[0] ? bt_strv_split(l, ",") : NULL;
        bt_strv_foreach (part, parts) {
            char *colon = strchr(part, ':');
            if (colon)
                *colon = '\0';
            if (part[0] && !bt_strv_contains(out, part))
                out = bt_strv_push(out, part);
        }
    }
    return out;
}

/* Runs op over the services of a (forward: dependencies first; otherwise
 * dependents first). */
static int
op_graph(struct compose_actual *a, struct op_ctx *c, char *const *services, bool forward,
         compose_event_fn event, void *data, struct bt_err **err)
{
    char **names = xcalloc(1, sizeof(char *));
    for (size_t i = 0; i < a->n_containers; i++) {
        const char *s = a->containers[i].service;
        if ((!services || !services[0] || bt_strv_contains(services, s)) &&
            !bt_strv_contains(names, s))
            names = bt_strv_push(names, s);
    }
    size_t n = bt_strv_length(names);
    struct run r = {.event = event, .event_data = data, .work = op_work};
    r.nodes = xcalloc(n + 1, sizeof(*r.nodes));
    r.n = n;
    for (size_t i = 0; i < n; i++)
        r.nodes[i] = (struct node){.service = names[i], .arg = c};
    for (size_t i = 0; i < n; i++) {
        _cleanup_strv_ char **deps = label_deps(a, names[i]);
        bt_strv_foreach (d, deps) {
            size_t k = 0;
            while (k < n && strcmp(names[k], d) != 0)
                k++;
            if (k == n || k == i)
                continue;
            /* forward: i waits for k; backward: k waits for i */
            struct node *waiter = forward ? &r.nodes[i] : &r.nodes[k];
            size_t on = forward ? k : i;
            waiter->deps = xreallocarray(waiter->deps, waiter->n_deps + 1, sizeof(*waiter->deps));
            waiter->deps[waiter->n_deps++] = (struct node_dep){.node = on, .required = true};
        }
    }
    int rc = run_graph(&r, err);
    free(r.nodes);
    bt_strv_free(names);
    return rc;
}

int
compose_project_op(const char *project, enum compose_op op, const struct compose_op_opts *o,
                   struct bt_err **err)
{
    /* kill takes no lock: it must reach a project whose graceful stop is
     * still waiting (the second Ctrl-C of an attached up) */
    _cleanup_close_ int lock = op == COMPOSE_OP_KILL ? -1 : project_lock(project, err);
    if (lock < 0 && op != COMPOSE_OP_KILL)
        return lock;
    struct compose_actual a;
    if (compose_actual_load(project, op != COMPOSE_OP_START, &a, err) < 0)
        return bt_err_ret(err);
    struct op_ctx c = {
        .a = &a, .op = op, .o = o, .anon_volumes = o->volumes, .monitor = compose_monitor_path()};
    if (op == COMPOSE_OP_REMOVE && !o->force && o->stopped_only) {
        /* rm without -f/-s: only what is already stopped */
        for (size_t i = 0; i < a.n_containers; i++) {
            const char *st = a.containers[i].state;
            if (strcmp(st, "running") && strcmp(st, "paused") && strcmp(st, "restarting"))
                c.only = bt_strv_push(c.only, a.containers[i].name);
        }
        if (!c.only)
            c.only = xcalloc(1, sizeof(char *));
    }
    bool forward = op == COMPOSE_OP_START || op == COMPOSE_OP_UNPAUSE;
    int rc = op_graph(&a, &c, o->services, forward, o->event, o->event_data, err);
    bt_strv_free(c.only);
    free(c.monitor);
    compose_actual_done(&a);
    return rc;
}

int
compose_project_down(const char *project, const struct compose_project *p,
                     const struct compose_down_opts *o, struct bt_err **err)
{
    _cleanup_close_ int lock = project_lock(project, err);
    if (lock < 0)
        return lock;
    struct compose_actual a;
    if (compose_actual_load(project, true, &a, err) < 0)
        return bt_err_ret(err);
    struct compose_op_opts oo = {.timeout = o->timeout,
                                 .force = true,
                                 .volumes = o->volumes,
                                 .event = o->event,
                                 .event_data = o->event_data};
    struct op_ctx c = {.a = &a,
                       .op = COMPOSE_OP_REMOVE,
                       .o = &oo,
                       .remove = true,
                       .anon_volumes = o->volumes,
                       .monitor = compose_monitor_path()};
    char **services = NULL;
    if (p) {
        /* the project's services; orphans only with --remove-orphans */
        char **orphans = NULL;
        for (size_t i = 0; i < a.n_containers; i++) {
            const struct compose_container *ct = &a.containers[i];
            bool known = compose_project_service(p, ct->service) ||
                         bt_strv_contains(p->disabled_services, ct->service);
            if ((known || o->remove_orphans) && !bt_strv_contains(services, ct->service))
                services = bt_strv_push(services, ct->service);
            if (!known && !ct->oneoff && !bt_strv_contains(orphans, ct->name))
                orphans = bt_strv_push(orphans, ct->name);
        }
        if (orphans && !o->remove_orphans) {
            _cleanup_free_ char *names = bt_strv_join(orphans, ", ");
            emit(o->event, o->event_data, "Project", project, COMPOSE_EVENT_WARNING,
                 "Found orphan containers (%s) for this project. If you removed or renamed this "
                 "service in your compose file, you can run this command with the "
                 "--remove-orphans flag to clean it up.",
                 names);
        }
        bt_strv_free(orphans);
        if (!services)
            services = xcalloc(1, sizeof(char *));
    }
    int rc = 0;
    if (!services || services[0])
        rc = op_graph(&a, &c, services, false, o->event, o->event_data, err);
    bt_strv_free(services);
    free(c.monitor);

    /* networks: the project's, those of its file that are not external */
    struct net_ctx *ctx = rc >= 0 ? net_ctx_new(err) : NULL;
    if (rc >= 0 && !ctx)
        rc = bt_err_ret(err);
    bt_strv_foreach (net, a.networks) {
        if (rc < 0)
            break;
        if (p) {
            bool declared = false;
            for (size_t i = 0; i < p->n_networks; i++)
                if (strcmp(p->networks[i].name, net) == 0 && !p->networks[i].external)
                    declared = true;
            if (!declared)
                continue;
        }
        emit(o->event, o->event_data, "Network", net, COMPOSE_EVENT_WORKING, "Removing");
        rc = net_network_remove(ctx, net, err);
        if (rc >= 0) {
            emit(o->event, o->event_data, "Network", net, COMPOSE_EVENT_DONE, "Removed");
        } else if (rc == -EBUSY) {
            /* containers the user chose to keep (orphans) still use it:
             * not a failure of down, as with Compose */
            emit(o->event, o->event_data, "Network", net, COMPOSE_EVENT_WARNING,
                 "Resource is still in use");
            *err = bt_err_free(*err);
            rc = 0;
        } else {
            emit(o->event, o->event_data, "Network", net, COMPOSE_EVENT_ERROR, "Error");
        }
    }
    net_ctx_free(ctx);

    if (rc >= 0 && o->volumes) {
        _cleanup_free_ char *root = berth_root();
        struct vol_store *vs = vol_store_open(root, err);
        if (!vs)
            rc = bt_err_ret(err);
        struct vol_rm_opts ro = {.project = project};
        bt_strv_foreach (v, a.volumes) {
            if (rc < 0)
                break;
            rc = vol_volume_remove(vs, v, &ro, err);
            if (rc > 0)
                emit(o->event, o->event_data, "Volume", v, COMPOSE_EVENT_DONE, "Removed");
        }
        if (rc >= 0 && vs) {
            struct vol_anon_owner owner = {.project = project};
            _cleanup_strv_ char **removed = NULL;
            rc = vol_anon_remove(vs, &owner, &removed, err);
        }
        vol_store_free(vs);
    }

    if (rc >= 0 && o->rmi) {
        bool all = strcmp(o->rmi, "all") == 0;
        struct image_store *is = image_store_open(NULL, err);
        if (!is)
            rc = bt_err_ret(err);
        char **images = NULL;
        for (size_t i = 0; p && i < p->n_services; i++) {
            const struct compose_service *s = &p->services[i];
            /* local: images without a custom tag, i.e. the ones a build made */
            _cleanup_free_ char *img =
                s->image || s->build ? compose_service_image_name(p, s) : NULL;
            if (img && (all || (s->build && !s->image)) && !bt_strv_contains(images, img))
                images = bt_strv_push(images, img);
        }
        for (size_t i = 0; !p && all && i < a.n_containers; i++)
            if (a.containers[i].image[0] && !bt_strv_contains(images, a.containers[i].image))
                images = bt_strv_push(images, a.containers[i].image);
        bt_strv_foreach (img, images) {
            if (rc < 0)
                break;
            _cleanup_free_ char *id = image_store_resolve(is, img, NULL);
            if (!id)
                continue;
            rc = image_store_remove(is, img, false, NULL, NULL, err);
            if (rc >= 0)
                emit(o->event, o->event_data, "Image", img, COMPOSE_EVENT_DONE, "Removed");
        }
        bt_strv_free(images);
        image_store_free(is);
    }
    compose_actual_done(&a);
    if (rc >= 0)
        project_lock_drop(project, lock);
    return rc < 0 ? rc : 0;
}

/* ---- a one-off container (berth run) ---- */

int
compose_service_run_create(const struct compose_project *p, const struct compose_service *s,
                           const char *name, char *const *extra_env, const char *pull,
                           char **id_out, struct bt_err **err)
{
    struct compose_up_opts o = {.pull = pull, .timeout = -1};
    struct up_ctx u = {.p = p,
                       .o = &o,
                       .monitor = compose_monitor_path(),
                       .service_ids = json_object(),
                       .oneoff = true,
                       .extra_env = extra_env};
    pthread_mutex_init(&u.lock, NULL);
    char *services[] = {(char *)s->name, NULL};
    /* network_mode service:x and volumes_from find x's running container */
    struct compose_actual actual = {0};
    int rc = compose_actual_load(p->name, false, &actual, err);
    for (size_t i = 0; rc >= 0 && i < actual.n_containers; i++)
        if (strcmp(actual.containers[i].state, "running") == 0)
            record_id(&u, actual.containers[i].service, actual.containers[i].id);
    if (rc >= 0)
        rc = up_images(&u, services, err);
    if (rc >= 0)
        rc = up_networks_volumes(&u, services, err);
    if (rc >= 0)
        rc = container_create(&u, s, 1, name, id_out, err);
    compose_actual_done(&actual);
    compose_kvs_done(&u.image_ids);
    json_decref(u.service_ids);
    free(u.monitor);
    pthread_mutex_destroy(&u.lock);
    return rc < 0 ? rc : 0;
}
