/* A container's whole networking in one call, all or nothing: netns,
 * resolution files, endpoints, published ports. */
#include <inttypes.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "net/net-internal.h"

static int64_t
now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct net_container_net *
net_container_net_free(struct net_container_net *cn)
{
    if (!cn)
        return NULL;
    free(cn->netns);
    free(cn->hosts_path);
    free(cn->resolv_path);
    free(cn->hostname_path);
    for (size_t i = 0; i < cn->nendpoints; i++)
        net_endpoint_done(&cn->endpoints[i]);
    free(cn->endpoints);
    net_port_set_free(cn->ports);
    free(cn);
    return NULL;
}
DEFINE_CLEANUP(struct net_container_net *, net_container_net_free)

int
net_container_teardown(struct net_ctx *ctx, const char *container_id, struct bt_err **err)
{
    int r = net_container_release(ctx, container_id, err);
    if (r == 0)
        r = net_netns_remove(ctx, container_id, err);
    return r;
}

/* The endpoint on the first non-internal network the container was
 * attached to (it has a gateway): the ports lead to its addresses, taken
 * from the endpoints just made rather than from the networks' state. */
static const struct net_endpoint *
publish_endpoint(const struct net_container_spec *spec, const struct net_container_net *cn,
                 struct bt_err **err)
{
    for (size_t i = 0; i < cn->nendpoints; i++) {
        if (cn->endpoints[i].gateway)
            return &cn->endpoints[i];
    }
    if (spec->nnetworks > 0)
        bt_err_set(err, EPERM, "network %s is internal: ports cannot be published",
                   spec->networks[0].network);
    else
        bt_err_set(err, EINVAL, "ports cannot be published without a network");
    return NULL;
}

/* Each endpoint's veth is made on a thread of its own, started as soon as
 * its address is recorded: the kernel's work for it overlaps with the
 * hosts files' rewrite and the ports' publishing on the command's thread. */
struct plug_job {
    struct net_attach *a;
    pthread_t thread;
    bool started;
    int r;
    struct bt_err *err;
};

static void *
plug_thread(void *arg)
{
    struct plug_job *job = arg;
    job->r = net_attach_plug(job->a, &job->err);
    return NULL;
}

static void
plug_start(struct plug_job *job)
{
    job->started = pthread_create(&job->thread, NULL, plug_thread, job) == 0;
    if (!job->started)
        plug_thread(job);
}

/* Waits for every started plug; returns the first failure in the order of
 * the networks, its error moved to *err (which must be empty). */
static int
plug_join(struct plug_job *jobs, size_t n, struct bt_err **err)
{
    int r = 0;
    for (size_t i = 0; i < n; i++) {
        if (jobs[i].started)
            pthread_join(jobs[i].thread, NULL);
        jobs[i].started = false;
        if (r == 0 && jobs[i].r < 0) {
            r = jobs[i].r;
            bt_err_move(err, &jobs[i].err);
        }
        jobs[i].err = bt_err_free(jobs[i].err);
    }
    return r;
}

struct plug_jobs {
    struct plug_job *v;
    size_t n;
};

/* On every way out: no thread may still be plugging when the caller tears
 * the container's networking down. */
static void
plug_jobs_done(struct plug_jobs *jobs)
{
    plug_join(jobs->v, jobs->n, NULL);
    for (size_t i = 0; i < jobs->n; i++)
        net_attach_free(jobs->v[i].a);
    free(jobs->v);
}

/* The resolution files are written while the namespace is made (nsjob,
 * finished here whatever happens). */
static int
setup(struct net_ctx *ctx, const struct net_container_spec *spec, struct net_netns_job *nsjob,
      struct net_container_net *cn, struct bt_err **err)
{
    const char *id = spec->container_id;
    int64_t t0 = now_us();
    int r = spec->nnetworks > 0 ? net_resolv_setup_files(ctx, id, &spec->dns, err)
                                : net_resolv_setup(ctx, id, &spec->dns, err);
    int64_t t1 = now_us();
    struct bt_err *ns_err = NULL;
    cn->netns = net_netns_create_finish(nsjob, &ns_err);
    if (r < 0) {
        ns_err = bt_err_free(ns_err); /* the files' error came first */
        return r;
    }
    if (!cn->netns) {
        bt_err_move(err, &ns_err);
        return bt_err_ret(err);
    }
    int64_t tn = now_us();
    cn->hosts_path = net_resolv_hosts_path(ctx, id);
    cn->resolv_path = net_resolv_conf_path(ctx, id);
    cn->hostname_path = xasprintf("%s/net/containers/%s/hostname", ctx->runroot, id);
    cn->endpoints = xcalloc(spec->nnetworks + 1, sizeof(*cn->endpoints));
    /* A failure leaves the endpoints recorded so far to the caller's
     * teardown. */
    _cleanup_(plug_jobs_done) struct plug_jobs jobs = {
        .v = xcalloc(spec->nnetworks + 1, sizeof(*jobs.v))};
    for (size_t i = 0; i < spec->nnetworks; i++) {
        const struct net_attach_spec *a = &spec->networks[i];
        struct net_endpoint_opts eo = {.network = a->network,
                                       .container_id = id,
                                       .container_name = spec->container_name,
                                       .service = spec->service,
                                       .netns = cn->netns,
                                       .ipv4_address = a->ipv4_address,
                                       .ipv6_address = a->ipv6_address,
                                       .aliases = a->aliases,
                                       .hostname = spec->dns.hostname};
        struct plug_job *job = &jobs.v[jobs.n];
        job->a = net_attach_reserve(ctx, &eo, true, err);
        if (!job->a)
            return bt_err_ret(err);
        jobs.n++;
        net_attach_result(job->a, &cn->endpoints[i]);
        cn->nendpoints++;
        plug_start(job);
        r = net_attach_hosts(ctx, job->a, err);
        if (r < 0)
            return r;
    }
    int64_t t2 = now_us();
    if (spec->nports > 0) {
        const struct net_endpoint *ep = publish_endpoint(spec, cn, err);
        r = ep ? net_ports_publish_at(ctx, id, spec->container_name, ep, spec->ports, spec->nports,
                                      &cn->ports, err)
               : bt_err_ret(err);
    }
    int64_t t3 = now_us();
    /* Plugging comes first in the order of the work, so its error does. */
    struct bt_err *plug_err = NULL;
    int pr = plug_join(jobs.v, jobs.n, &plug_err);
    if (pr < 0) {
        if (err)
            *err = bt_err_free(*err);
        bt_err_move(err, &plug_err);
        return pr;
    }
    if (r < 0)
        return r;
    int64_t t5 = now_us();
    bt_debug("net: %s: resolution files %" PRId64 " us, netns wait %" PRId64
             " us, %zu network(s) %" PRId64 " us, %zu port(s) %" PRId64 " us, veth wait %" PRId64
             " us",
             id, t1 - t0, tn - t1, spec->nnetworks, t2 - tn, spec->nports, t3 - t2, t5 - t3);
    return 0;
}

int
net_container_setup(struct net_ctx *ctx, const struct net_container_spec *spec,
                    struct net_container_net **out, struct bt_err **err)
{
    *out = NULL;
    const char *id = spec->container_id;
    int64_t t0 = now_us();
    /* The namespace is made on a thread meanwhile: creating one is most of
     * a millisecond of kernel work. */
    struct bt_err *ns_err = NULL;
    struct net_netns_job *job = net_netns_create_start(ctx, id, &ns_err);
    /* A taken port fails before anything is kept. */
    int r = net_ports_check(ctx, id, spec->container_name, spec->ports, spec->nports, err);
    int64_t t1 = now_us();
    if (r < 0 || !job) {
        if (job) {
            struct bt_err *ignored = NULL;
            _cleanup_free_ char *ns = net_netns_create_finish(job, &ignored);
            if (ns)
                net_netns_remove(ctx, id, &ignored);
            ignored = bt_err_free(ignored); /* undo after a failure: the first error is reported */
        }
        if (r < 0) {
            ns_err = bt_err_free(ns_err); /* the port's error came first */
            return r;
        }
        bt_err_move(err, &ns_err);
        return bt_err_ret(err);
    }
    _cleanup_(net_container_net_freep) struct net_container_net *cn = xcalloc(1, sizeof(*cn));
    r = setup(ctx, spec, job, cn, err);
    if (r < 0) {
        struct bt_err *ignored = NULL;
        net_container_teardown(ctx, id, &ignored);
        ignored = bt_err_free(ignored); /* undo after a failure: the first error is reported */
        return r;
    }
    bt_debug("net: %s: port check %" PRId64 " us; attached in %" PRId64 " us", id, t1 - t0,
             now_us() - t0);
    *out = TAKE_PTR(cn);
    return 0;
}
