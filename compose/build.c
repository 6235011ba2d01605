/* compose: `build:` sections — the Dockerfile build of a service's image.
 *
 * RUN steps run in a container of the runtime core: the stage's layers
 * under an overlay with the step's upper directory, Docker's default
 * capabilities and seccomp profile, new pid, ipc, uts, mount and cgroup
 * namespaces, and the host's network namespace (as `docker build` uses its
 * default network). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/json-strv.h"
#include "compose/build.h"
#include "compose/compose.h"
#include "engine/engine.h"
#include "image/build.h"
#include "image/image.h"

/* Ctrl-C (or SIGTERM, SIGHUP) during a step kills the step's container,
 * which does not die with berth by itself, and fails the build so that
 * it cleans up. */
static volatile pid_t step_pid;
static volatile sig_atomic_t step_signal;

static void
on_step_signal(int sig)
{
    step_signal = sig;
    if (step_pid > 0)
        kill(step_pid, SIGKILL);
}

static const int step_signals[] = {SIGINT, SIGTERM, SIGHUP};

static void
step_signals_catch(struct sigaction *old)
{
    struct sigaction sa = {.sa_handler = on_step_signal};
    sigemptyset(&sa.sa_mask);
    step_signal = 0;
    for (size_t i = 0; i < BT_ARRAY_SIZE(step_signals); i++)
        sigaction(step_signals[i], &sa, &old[i]);
}

static void
step_signals_restore(const struct sigaction *old)
{
    for (size_t i = 0; i < BT_ARRAY_SIZE(step_signals); i++)
        sigaction(step_signals[i], &old[i], NULL);
    step_pid = 0;
}

static int
run_step(void *data, const struct image_build_step *st, struct bt_err **err)
{
    unsigned *seq = data;
    _cleanup_json_ json_t *spec = engine_spec_default(false);
    json_t *proc = json_object_get(spec, "process");
    json_object_set_new(proc, "terminal", json_false());
    json_object_set_new(proc, "args", bt_json_from_strv(st->argv));
    json_object_set_new(proc, "env", bt_json_from_strv(st->env));
    json_object_set_new(proc, "cwd", json_string(st->cwd));
    json_object_set_new(
        proc, "user",
        json_pack("{s:I, s:I}", "uid", (json_int_t)st->uid, "gid", (json_int_t)st->gid));
    json_object_set_new(json_object_get(spec, "root"), "path", json_string(st->rootfs));
    json_object_set_new(spec, "hostname", json_string("berth-build"));
    /* the host's network namespace, unless the step has no network (a new
     * namespace with only lo) */
    json_t *nss = json_object_get(json_object_get(spec, "linux"), "namespaces");
    for (size_t i = json_array_size(nss); i > 0 && !st->no_network; i--)
        if (bt_streq_null(bt_json_str(json_array_get(nss, i - 1), "type"), "network"))
            json_array_remove(nss, i - 1);
    _cleanup_free_ char *state = bt_path_dirname(st->upper);
    struct rt_spec *rs = engine_spec_parse(spec, state, err);
    if (!rs)
        return bt_err_ret(err);
    struct bt_buf ov = {0};
    bt_buf_puts(&ov, "lowerdir=");
    size_t n = 0;
    bt_strv_foreach (l, (char **)st->lowerdirs)
        bt_buf_printf(&ov, "%s%s", n++ ? ":" : "", l);
    if (n == 0) {
        /* FROM scratch: an empty bottom layer */
        _cleanup_free_ char *empty = bt_path_join(state, "empty");
        mkdir(empty, 0755);
        bt_buf_puts(&ov, empty);
    }
    bt_buf_printf(&ov, ",upperdir=%s,workdir=%s", st->upper, st->work);
    _cleanup_free_ char *id = xasprintf("berth-build-%d-%u", (int)getpid(), (*seq)++);
    _cleanup_close_ int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    struct engine_init_opts io = {
        .id = id, .state_dir = state, .stdio = {null, st->out_fd, st->out_fd}, .overlay = ov.data};
    struct engine_init init;
    struct sigaction old[BT_ARRAY_SIZE(step_signals)];
    step_signals_catch(old);
    int r = engine_init_create(rs, &io, &init, err);
    bt_buf_done(&ov);
    engine_spec_free(rs);
    if (r < 0) {
        step_signals_restore(old);
        return r;
    }
    step_pid = init.pid;
    if (step_signal)
        kill(init.pid, SIGKILL);
    r = engine_init_start(&init, err);
    int code = r < 0 ? r : engine_wait_exit(init.pid, err);
    if (r < 0) {
        kill(init.pid, SIGKILL);
        engine_wait_exit(init.pid, NULL);
    }
    step_signals_restore(old);
    if (code >= 0 && step_signal)
        code = bt_err_set(err, EINTR, "interrupted by %s", strsignal(step_signal));
    struct bt_err *e2 = NULL; /* the step's own result matters more */
    if (engine_cgroup_destroy(init.cgroup, &e2) < 0)
        bt_debug("build step cgroup: %s", e2->msg);
    bt_err_free(e2);
    engine_init_done(&init);
    return code;
}

int
compose_dockerfile_build(const struct image_build_opts *o, char **id_out, struct bt_err **err)
{
    _cleanup_(image_store_freep) struct image_store *is = image_store_open(NULL, err);
    if (!is)
        return bt_err_ret(err);
    unsigned seq = 0;
    struct image_build_opts bo = *o;
    bo.run = run_step;
    bo.run_data = &seq;
    return image_build(is, &bo, id_out, err);
}

char *
compose_service_image_name(const struct compose_project *p, const struct compose_service *s)
{
    if (s->image)
        return xstrdup(s->image);
    return xasprintf("%s-%s", p->name, s->name);
}

/* What berth builds and what it refuses or ignores. */
static int
check_build(const struct compose_service *s, FILE *out, struct bt_err **err)
{
    const struct compose_build *b = s->build;
    if (strstr(b->context, "://") || bt_str_startswith(b->context, "git@") ||
        bt_str_startswith(b->context, "github.com/"))
        return bt_err_set(err, ENOTSUP,
                          "build.context: remote contexts (%s) are not supported; clone it and "
                          "use a local directory",
                          b->context);
    static const char *const refused[] = {"ssh", "secrets", "additional_contexts", "isolation"};
    for (size_t i = 0; i < BT_ARRAY_SIZE(refused); i++)
        if (json_object_get(b->extra, refused[i]))
            return bt_err_set(err, ENOTSUP, "build.%s is not supported", refused[i]);
    const char *host = image_build_platform();
    bt_strv_foreach (pl, b->platforms) {
        if (strcmp(pl, host) != 0)
            return bt_err_set(err, ENOTSUP, "build.platforms: only %s can be built here", host);
    }
    if (b->network && strcmp(b->network, "host") != 0 && strcmp(b->network, "default") != 0 &&
        strcmp(b->network, "none") != 0)
        return bt_err_set(err, ENOTSUP,
                          "build.network '%s': RUN steps use the host's network or none",
                          b->network);
    if (b->privileged)
        return bt_err_set(err, ENOTSUP, "build.privileged is not supported");
    if (b->cache_from || b->cache_to)
        fprintf(out, "warning: service '%s': build.cache_from and build.cache_to are ignored\n",
                s->name);
    if (b->n_extra_hosts || b->shm_size != COMPOSE_NO_INT)
        fprintf(out, "warning: service '%s': build.extra_hosts and build.shm_size are ignored\n",
                s->name);
    return 0;
}

int
compose_service_build(const struct compose_project *p, const struct compose_service *s,
                      const struct compose_build_opts *o, char **id_out, struct bt_err **err)
{
    FILE *out = o->out ? o->out : stderr;
    if (!s->build)
        return bt_err_set(err, EINVAL, "service '%s' has no build section", s->name);
    int r = check_build(s, out, err);
    if (r < 0) {
        bt_err_prefix(err, "service '%s'", s->name);
        return r;
    }
    const struct compose_build *b = s->build;
    _cleanup_strv_ char **args = NULL, **labels = NULL, **tags = NULL;
    for (size_t i = 0; i < b->args.n; i++) {
        if (b->args.v[i].value)
            args =
                bt_strv_push_take(args, xasprintf("%s=%s", b->args.v[i].key, b->args.v[i].value));
    }
    bt_strv_foreach (a, (char **)o->build_args)
        args = bt_strv_push(args, a);
    for (size_t i = 0; i < b->labels.n; i++)
        labels =
            bt_strv_push_take(labels, xasprintf("%s=%s", b->labels.v[i].key,
                                                b->labels.v[i].value ? b->labels.v[i].value : ""));
    tags = bt_strv_push_take(tags, compose_service_image_name(p, s));
    bt_strv_foreach (t, b->tags)
        tags = bt_strv_push(tags, t);
    struct image_build_opts bo = {.context = b->context,
                                  .dockerfile = b->dockerfile_inline ? NULL : b->dockerfile,
                                  .dockerfile_inline = b->dockerfile_inline,
                                  .build_args = args,
                                  .labels = labels,
                                  .target = b->target,
                                  .tags = tags,
                                  .no_cache = o->no_cache || b->no_cache,
                                  .pull = o->pull || b->pull,
                                  .quiet = o->quiet,
                                  .no_network = bt_streq_null(b->network, "none"),
                                  .out = out};
    if (!o->quiet)
        fprintf(out, "Building %s (service %s)\n", tags[0], s->name);
    r = compose_dockerfile_build(&bo, id_out, err);
    if (r < 0)
        bt_err_prefix(err, "service '%s': build", s->name);
    else if (!o->quiet)
        fprintf(out, "Built %s\n", tags[0]);
    return r;
}

int
compose_project_build(const struct compose_project *p, const struct compose_build_opts *o,
                      struct bt_err **err)
{
    bt_strv_foreach (name, (char **)o->services) {
        const struct compose_service *s = compose_project_service(p, name);
        if (!s)
            return bt_err_set(err, ENOENT, "no such service: %s", name);
    }
    for (size_t i = 0; i < p->n_services; i++) {
        const struct compose_service *s = &p->services[i];
        if (!s->build || (o->services && !bt_strv_contains(o->services, s->name)))
            continue;
        int r = compose_service_build(p, s, o, NULL, err);
        if (r < 0)
            return r;
    }
    return 0;
}
