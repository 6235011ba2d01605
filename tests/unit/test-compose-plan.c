/* compose: the plan (desired vs actual, as Compose decides) and the
 * translation of a service into the engine's container config. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "compose/compose.h"
#include "compose/orchestrate.h"
#include "image/image.h"

static char dir[64];

static struct compose_project *
load(const char *yaml)
{
    _cleanup_free_ char *path = bt_path_join(dir, "compose.yaml");
    struct bt_err *err = NULL;
    assert_int_equal(bt_file_write_atomic(path, yaml, strlen(yaml), 0644, &err), 0);
    char *env[] = {NULL};
    struct compose_options opts = {.workdir = dir, .environ = env};
    struct compose_project *p = compose_project_load(&opts, &err);
    if (err)
        fail_msg("%s", err->msg);
    assert_non_null(p);
    return p;
}

static int
setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/berth-plan-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int
teardown(void **state)
{
    assert_int_equal(bt_rm_rf(dir, NULL), 0);
    return 0;
}

/* A container as compose_actual_load would report it. */
static void
actual_add(struct compose_actual *a, const struct compose_project *p, const char *service,
           int number, const char *state, const char *hash)
{
    a->containers = xreallocarray(a->containers, a->n_containers + 1, sizeof(*a->containers));
    struct compose_container *c = &a->containers[a->n_containers++];
    memset(c, 0, sizeof(*c));
    c->id = xasprintf("%s%d", service, number);
    c->name = xasprintf("%s-%s-%d", p->name, service, number);
    c->project = xstrdup(p->name);
    c->service = xstrdup(service);
    c->number = number;
    c->state = xstrdup(state);
    c->health = xstrdup("");
    const struct compose_service *s = compose_project_service(p, service);
    c->config_hash = hash ? xstrdup(hash) : s ? compose_service_hash(s) : xstrdup("x");
    c->labels = json_pack("{s:s}", COMPOSE_LABEL_IMAGE, "sha256:old");
    c->ports = xcalloc(1, sizeof(char *));
}

static const struct compose_action *
find(const struct compose_plan *plan, const char *name)
{
    for (size_t i = 0; i < plan->n_actions; i++)
        if (strcmp(plan->actions[i].name, name) == 0)
            return &plan->actions[i];
    return NULL;
}

static void
test_fresh_project_creates_in_dependency_order(void **state)
{
    _cleanup_project_ struct compose_project *p = load("name: demo\nservices:\n"
                                                       "  web: {image: busybox, depends_on: [db]}\n"
                                                       "  db: {image: busybox}\n");
    struct compose_actual a = {0};
    struct compose_plan plan;
    assert_int_equal(compose_plan_make(p, &a, NULL, &plan, NULL), 0);
    assert_int_equal(plan.n_actions, 2);
    assert_string_equal(plan.actions[0].name, "demo-db-1");
    assert_int_equal(plan.actions[0].kind, COMPOSE_ACTION_CREATE);
    assert_string_equal(plan.actions[1].name, "demo-web-1");
    assert_null(plan.actions[1].id);
    compose_plan_done(&plan);
}

static void
test_unchanged_is_kept_changed_is_recreated_with_reason(void **state)
{
    _cleanup_project_ struct compose_project *p = load("name: demo\nservices:\n"
                                                       "  web: {image: busybox}\n"
                                                       "  db: {image: busybox}\n"
                                                       "  cache: {image: busybox}\n");
    struct compose_actual a = {0};
    actual_add(&a, p, "web", 1, "running", NULL);
    actual_add(&a, p, "db", 1, "running", "an-older-hash");
    actual_add(&a, p, "cache", 1, "exited", NULL);
    struct compose_plan plan;
    assert_int_equal(compose_plan_make(p, &a, NULL, &plan, NULL), 0);
    assert_int_equal(find(&plan, "demo-web-1")->kind, COMPOSE_ACTION_KEEP);
    const struct compose_action *db = find(&plan, "demo-db-1");
    assert_int_equal(db->kind, COMPOSE_ACTION_RECREATE);
    assert_string_equal(db->reason, "configuration changed");
    assert_string_equal(db->id, "db1");
    assert_int_equal(find(&plan, "demo-cache-1")->kind, COMPOSE_ACTION_START);
    compose_plan_done(&plan);

    /* --no-recreate keeps the changed one; --force-recreate takes all */
    struct compose_plan_opts o = {.no_recreate = true};
    assert_int_equal(compose_plan_make(p, &a, &o, &plan, NULL), 0);
    assert_int_equal(find(&plan, "demo-db-1")->kind, COMPOSE_ACTION_KEEP);
    compose_plan_done(&plan);
    o = (struct compose_plan_opts){.force_recreate = true};
    assert_int_equal(compose_plan_make(p, &a, &o, &plan, NULL), 0);
    assert_int_equal(find(&plan, "demo-web-1")->kind, COMPOSE_ACTION_RECREATE);
    assert_string_equal(find(&plan, "demo-web-1")->reason, "forced");
    compose_plan_done(&plan);

    /* a new image is a reason too */
    struct compose_kvs ids = {0};
    compose_kvs_set(&ids, "web", "sha256:new");
    o = (struct compose_plan_opts){.image_ids = &ids};
    assert_int_equal(compose_plan_make(p, &a, &o, &plan, NULL), 0);
    assert_int_equal(find(&plan, "demo-web-1")->kind, COMPOSE_ACTION_RECREATE);
    assert_string_equal(find(&plan, "demo-web-1")->reason, "image changed");
    compose_plan_done(&plan);
    compose_kvs_done(&ids);
    compose_actual_done(&a);
}

static void
test_scale_up_and_down_highest_first(void **state)
{
    _cleanup_project_ struct compose_project *p =
        load("name: demo\nservices:\n  web: {image: busybox, scale: 3}\n");
    struct compose_actual a = {0};
    actual_add(&a, p, "web", 1, "running", NULL);
    struct compose_plan plan;
    assert_int_equal(compose_plan_make(p, &a, NULL, &plan, NULL), 0);
    assert_int_equal(plan.n_actions, 3);
    assert_int_equal(plan.actions[0].kind, COMPOSE_ACTION_KEEP);
    assert_string_equal(plan.actions[1].name, "demo-web-2");
    assert_int_equal(plan.actions[1].kind, COMPOSE_ACTION_CREATE);
    assert_string_equal(plan.actions[2].name, "demo-web-3");
    compose_plan_done(&plan);

    actual_add(&a, p, "web", 2, "running", NULL);
    actual_add(&a, p, "web", 3, "running", NULL);
    struct compose_kvs scale = {0};
    compose_kvs_set(&scale, "web", "1");
    struct compose_plan_opts o = {.scale = &scale};
    assert_int_equal(compose_plan_make(p, &a, &o, &plan, NULL), 0);
    assert_int_equal(plan.n_actions, 3);
    assert_int_equal(plan.actions[0].kind, COMPOSE_ACTION_REMOVE);
    assert_string_equal(plan.actions[0].name, "demo-web-3");
    assert_string_equal(plan.actions[0].reason, "scale 3 -> 1");
    assert_string_equal(plan.actions[1].name, "demo-web-2");
    assert_int_equal(plan.actions[2].kind, COMPOSE_ACTION_KEEP);
    compose_plan_done(&plan);
    compose_kvs_done(&scale);
    compose_actual_done(&a);
}

static void
test_orphans_warned_or_removed(void **state)
{
    _cleanup_project_ struct compose_project *p =
        load("name: demo\nservices:\n  web: {image: busybox}\n");
    struct compose_actual a = {0};
    actual_add(&a, p, "old", 1, "running", "h");
    struct compose_plan plan;
    assert_int_equal(compose_plan_make(p, &a, NULL, &plan, NULL), 0);
    assert_int_equal(bt_strv_length(plan.orphans), 1);
    assert_string_equal(plan.orphans[0], "demo-old-1");
    assert_null(find(&plan, "demo-old-1"));
    compose_plan_done(&plan);
    struct compose_plan_opts o = {.remove_orphans = true};
    assert_int_equal(compose_plan_make(p, &a, &o, &plan, NULL), 0);
    assert_int_equal(find(&plan, "demo-old-1")->kind, COMPOSE_ACTION_REMOVE);
    compose_plan_done(&plan);
    compose_actual_done(&a);
}

static void
test_restart_true_follows_a_recreated_dependency(void **state)
{
    _cleanup_project_ struct compose_project *p = load(
        "name: demo\nservices:\n"
        "  web: {image: busybox, depends_on: {db: {condition: service_started, restart: true}}}\n"
        "  db: {image: busybox}\n");
    struct compose_actual a = {0};
    actual_add(&a, p, "web", 1, "running", NULL);
    actual_add(&a, p, "db", 1, "running", "stale");
    struct compose_plan plan;
    assert_int_equal(compose_plan_make(p, &a, NULL, &plan, NULL), 0);
    assert_int_equal(find(&plan, "demo-db-1")->kind, COMPOSE_ACTION_RECREATE);
    assert_int_equal(find(&plan, "demo-web-1")->kind, COMPOSE_ACTION_RESTART);
    compose_plan_done(&plan);
    compose_actual_done(&a);
}

static void
test_depends_on_label_has_every_edge(void **state)
{
    _cleanup_project_ struct compose_project *p =
        load("name: demo\nservices:\n"
             "  web: {image: busybox, network_mode: 'service:infra',\n"
             "        depends_on: {db: {condition: service_healthy, restart: true}}}\n"
             "  infra: {image: busybox}\n"
             "  db: {image: busybox, healthcheck: {test: [CMD, 'true']}}\n");
    _cleanup_free_ char *l = compose_depends_on_label(compose_project_service(p, "web"));
    assert_string_equal(l, "db:service_healthy:true,infra:service_started:false");
    _cleanup_free_ char *none = compose_depends_on_label(compose_project_service(p, "db"));
    assert_string_equal(none, "");
}

static void
test_joined_service_follows_its_owner(void **state)
{
    _cleanup_project_ struct compose_project *p =
        load("name: demo\nservices:\n"
             "  web: {image: busybox, network_mode: 'service:infra'}\n"
             "  files: {image: busybox, volumes_from: ['infra:ro']}\n"
             "  infra: {image: busybox}\n");
    struct compose_actual a = {0};
    actual_add(&a, p, "web", 1, "running", NULL);
    actual_add(&a, p, "files", 1, "running", NULL);
    actual_add(&a, p, "infra", 1, "running", "stale");
    struct compose_plan plan;
    assert_int_equal(compose_plan_make(p, &a, NULL, &plan, NULL), 0);
    assert_int_equal(find(&plan, "demo-infra-1")->kind, COMPOSE_ACTION_RECREATE);
    assert_int_equal(find(&plan, "demo-web-1")->kind, COMPOSE_ACTION_RECREATE);
    assert_string_equal(find(&plan, "demo-web-1")->reason, "infra was recreated");
    assert_int_equal(find(&plan, "demo-files-1")->kind, COMPOSE_ACTION_RECREATE);
    compose_plan_done(&plan);
    compose_actual_done(&a);
}

static void
test_container_name_cannot_scale(void **state)
{
    _cleanup_project_ struct compose_project *p =
        load("name: demo\nservices:\n  web: {image: busybox, container_name: solo, scale: 2}\n");
    struct compose_actual a = {0};
    struct compose_plan plan;
    struct bt_err *err = NULL;
    assert_int_equal(compose_plan_make(p, &a, NULL, &plan, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "container_name"));
    bt_err_free(err);
}

static json_t *
config_of(const struct compose_project *p, const char *service, struct image_config *img,
          struct bt_err **err)
{
    static const char id[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    _cleanup_json_ json_t *mounts = json_array();
    struct compose_container_input in = {
        .project = p,
        .service = compose_project_service(p, service),
        .image = img,
        .id = id,
        .name = "demo-web-1",
        .number = 1,
        .netns = "/run/berth/netns/x",
        .hosts_path = "/run/hosts",
        .mounts = mounts,
        .upper = "/u",
        .work = "/w",
    };
    return compose_container_config(&in, err);
}

static bool
has_string(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach (arr, i, v)
        if (bt_streq_null(json_string_value(v), s))
            return true;
    return false;
}

static void
test_service_to_container_config(void **state)
{
    _cleanup_project_ struct compose_project *p =
        load("name: demo\nservices:\n"
             "  web:\n"
             "    image: busybox\n"
             "    command: [httpd, -f]\n"
             "    environment: {FROM_SERVICE: yes, SHARED: service}\n"
             "    working_dir: /srv\n"
             "    cap_add: [NET_ADMIN]\n"
             "    cap_drop: [CHOWN]\n"
             "    mem_limit: 64m\n"
             "    memswap_limit: -1\n"
             "    cpus: 0.5\n"
             "    pids_limit: 100\n"
             "    read_only: true\n"
             "    tmpfs: [/run:size=1m]\n"
             "    ulimits: {nofile: {soft: 2000, hard: 4000}}\n"
             "    sysctls: {net.ipv4.ip_forward: 1}\n"
             "    stop_signal: SIGINT\n"
             "    stop_grace_period: 3s\n"
             "    restart: unless-stopped\n"
             "    labels: {app: shop}\n"
             "    healthcheck: {test: [CMD, 'true'], interval: 2s, retries: 5}\n"
             "    logging: {driver: json-file, options: {max-size: 1m, max-file: '3'}}\n");
    char *env[] = {"PATH=/img/bin", "SHARED=image", "FROM_IMAGE=1", NULL};
    char *entry[] = {"/entry.sh", NULL};
    char *cmd[] = {"default", NULL};
    char *lower[] = {"/layers/2", "/layers/1", NULL};
    struct image_config img = {.id = "sha256:abc",
                               .env = env,
                               .entrypoint = entry,
                               .cmd = cmd,
                               .lowerdirs = lower,
                               .healthcheck = {.test = NULL}};
    struct bt_err *err = NULL;
    _cleanup_json_ json_t *cfg = config_of(p, "web", &img, &err);
    if (!cfg)
        fail_msg("%s", err->msg);
    json_t *spec = json_object_get(cfg, "spec");
    json_t *proc = json_object_get(spec, "process");
    json_t *args = json_object_get(proc, "args");
    /* the image entrypoint stays, the service command replaces the image's */
    assert_int_equal(json_array_size(args), 3);
    assert_string_equal(json_string_value(json_array_get(args, 0)), "/entry.sh");
    assert_string_equal(json_string_value(json_array_get(args, 1)), "httpd");
    json_t *envj = json_object_get(proc, "env");
    assert_true(has_string(envj, "PATH=/img/bin"));
    assert_true(has_string(envj, "SHARED=service"));
    assert_true(has_string(envj, "FROM_IMAGE=1"));
    assert_true(has_string(envj, "FROM_SERVICE=yes"));
    assert_false(has_string(envj, "SHARED=image"));
    assert_string_equal(bt_json_str(proc, "cwd"), "/srv");
    json_t *caps = json_object_get(json_object_get(proc, "capabilities"), "bounding");
    assert_true(has_string(caps, "CAP_NET_ADMIN"));
    assert_true(has_string(caps, "CAP_KILL"));
    assert_false(has_string(caps, "CAP_CHOWN"));
    assert_false(has_string(caps, "CAP_SYS_ADMIN"));
    json_t *lx = json_object_get(spec, "linux");
    assert_non_null(json_object_get(lx, "seccomp"));
    json_t *res = json_object_get(lx, "resources");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(res, "memory"), "limit")),
                     64 << 20);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(res, "memory"), "swap")),
                     -1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(res, "cpu"), "quota")),
                     50000);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(res, "pids"), "limit")),
                     100);
    assert_true(json_is_true(json_object_get(json_object_get(spec, "root"), "readonly")));
    assert_string_equal(bt_json_str(json_object_get(lx, "sysctl"), "net.ipv4.ip_forward"), "1");
    json_t *rl = json_array_get(json_object_get(proc, "rlimits"), 0);
    assert_string_equal(bt_json_str(rl, "type"), "RLIMIT_NOFILE");
    assert_int_equal(json_integer_value(json_object_get(rl, "hard")), 4000);
    /* the network namespace is joined by path */
    size_t i;
    json_t *ns;
    bool joined = false;
    json_array_foreach (json_object_get(lx, "namespaces"), i, ns)
        if (bt_streq_null(bt_json_str(ns, "type"), "network"))
            joined = bt_streq_null(bt_json_str(ns, "path"), "/run/berth/netns/x");
    assert_true(joined);
    bool tmpfs = false, hosts = false;
    json_t *m;
    json_array_foreach (json_object_get(spec, "mounts"), i, m) {
        if (bt_streq_null(bt_json_str(m, "destination"), "/run"))
            tmpfs = bt_streq_null(bt_json_str(m, "type"), "tmpfs");
        if (bt_streq_null(bt_json_str(m, "destination"), "/etc/hosts"))
            hosts = bt_streq_null(bt_json_str(m, "source"), "/run/hosts");
    }
    assert_true(tmpfs);
    assert_true(hosts);
    /* the container around the spec */
    assert_string_equal(bt_json_str(cfg, "restart"), "unless-stopped");
    assert_string_equal(bt_json_str(cfg, "stop_signal"), "SIGINT");
    assert_int_equal(json_integer_value(json_object_get(cfg, "stop_timeout")), 3);
    json_t *hc = json_object_get(cfg, "healthcheck");
    assert_string_equal(json_string_value(json_array_get(json_object_get(hc, "test"), 1)), "true");
    assert_int_equal(json_integer_value(json_object_get(hc, "retries")), 5);
    assert_true(json_real_value(json_object_get(hc, "interval")) == 2.0);
    json_t *log = json_object_get(cfg, "log");
    assert_int_equal(json_integer_value(json_object_get(log, "max_size")), 1 << 20);
    assert_int_equal(json_integer_value(json_object_get(log, "max_file")), 3);
    json_t *rootfs = json_object_get(cfg, "rootfs");
    assert_string_equal(json_string_value(json_array_get(json_object_get(rootfs, "lower"), 0)),
                        "/layers/2");
    assert_string_equal(bt_json_str(rootfs, "upper"), "/u");
    json_t *labels = json_object_get(cfg, "labels");
    assert_string_equal(bt_json_str(labels, "app"), "shop");
    assert_string_equal(bt_json_str(labels, COMPOSE_LABEL_PROJECT), "demo");
    assert_string_equal(bt_json_str(labels, COMPOSE_LABEL_SERVICE), "web");
    assert_string_equal(bt_json_str(labels, COMPOSE_LABEL_NUMBER), "1");
    assert_string_equal(bt_json_str(labels, COMPOSE_LABEL_ONEOFF), "False");
    assert_string_equal(bt_json_str(labels, COMPOSE_LABEL_IMAGE), "sha256:abc");
    _cleanup_free_ char *hash = compose_service_hash(compose_project_service(p, "web"));
    assert_string_equal(bt_json_str(labels, COMPOSE_LABEL_HASH), hash);
}

static void
test_entrypoint_drops_image_command_and_privileged(void **state)
{
    _cleanup_project_ struct compose_project *p =
        load("name: demo\nservices:\n"
             "  web: {image: busybox, entrypoint: [/bin/sh, -c, 'echo hi'], privileged: true,\n"
             "        healthcheck: {disable: true}, security_opt: [no-new-privileges]}\n");
    char *cmd[] = {"default", NULL};
    char *test[] = {"CMD-SHELL", "true", NULL};
    char *lower[] = {"/layers/1", NULL};
    struct image_config img = {.cmd = cmd, .lowerdirs = lower, .healthcheck = {.test = test}};
    struct bt_err *err = NULL;
    _cleanup_json_ json_t *cfg = config_of(p, "web", &img, &err);
    if (!cfg)
        fail_msg("%s", err->msg);
    json_t *spec = json_object_get(cfg, "spec");
    json_t *proc = json_object_get(spec, "process");
    assert_int_equal(json_array_size(json_object_get(proc, "args")), 3);
    assert_true(json_is_true(json_object_get(proc, "noNewPrivileges")));
    assert_true(has_string(json_object_get(json_object_get(proc, "capabilities"), "bounding"),
                           "CAP_SYS_ADMIN"));
    assert_null(json_object_get(json_object_get(spec, "linux"), "seccomp"));
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(json_object_get(cfg, "healthcheck"), "test"), 0)),
                        "NONE");
}

static void
test_bad_input_is_a_clear_error(void **state)
{
    _cleanup_project_ struct compose_project *p =
        load("name: demo\nservices:\n"
             "  a: {image: busybox, cap_add: [NOT_A_CAP]}\n"
             "  b: {image: busybox, logging: {driver: syslog}}\n"
             "  c: {image: busybox}\n");
    char *lower[] = {"/layers/1", NULL};
    char *cmd[] = {"sh", NULL};
    struct image_config img = {.lowerdirs = lower, .cmd = cmd};
    struct bt_err *err = NULL;
    assert_null(config_of(p, "a", &img, &err));
    assert_non_null(strstr(err->msg, "NOT_A_CAP"));
    err = bt_err_free(err);
    assert_null(config_of(p, "b", &img, &err));
    assert_non_null(strstr(err->msg, "syslog"));
    err = bt_err_free(err);
    img.cmd = NULL;
    assert_null(config_of(p, "c", &img, &err));
    assert_non_null(strstr(err->msg, "no command"));
    bt_err_free(err);
}

/* The inspect object of a network made from n as berth makes it: its hash
 * label and what the net module reports. */
static json_t *
inspect_of(const struct compose_network *n, const char *subnet)
{
    _cleanup_free_ char *hash = compose_network_hash(n);
    return json_pack("{s:s, s:b, s:b, s:{s:[{s:s, s:s}]}, s:{}, s:{s:s, s:s, s:s, s:s}}", "Driver",
                     "bridge", "Internal", n->internal, "EnableIPv6", false, "IPAM", "Config",
                     "Subnet", subnet, "Gateway", "172.28.0.1", "Options", "Labels",
                     COMPOSE_LABEL_HASH, hash, COMPOSE_LABEL_PROJECT, "demo", COMPOSE_LABEL_NETWORK,
                     n->key, "tier", "db");
}

static void
test_network_diverged_names_the_keys(void **state)
{
    _cleanup_project_ struct compose_project *p =
        load("name: demo\nservices:\n  db: {image: busybox, networks: [back]}\n"
             "networks:\n  back:\n    labels: {tier: db}\n"
             "    ipam: {config: [{subnet: 172.28.0.0/24}]}\n");
    _cleanup_project_ struct compose_project *q =
        load("name: demo\nservices:\n  db: {image: busybox, networks: [back]}\n"
             "networks:\n  back:\n    labels: {tier: web}\n    internal: true\n"
             "    driver_opts: {com.docker.network.driver.mtu: '1400'}\n"
             "    ipam: {config: [{subnet: 172.29.0.0/24}]}\n");
    const struct compose_network *n = compose_project_network(p, "back");
    const struct compose_network *m = compose_project_network(q, "back");
    _cleanup_free_ char *h1 = compose_network_hash(n);
    _cleanup_free_ char *h2 = compose_network_hash(m);
    assert_int_equal(strlen(h1), 64);
    assert_string_not_equal(h1, h2);
    /* made from n: n matches, m does not, and the keys are named */
    _cleanup_json_ json_t *have = inspect_of(n, "172.28.0.0/24");
    assert_null(compose_network_diverged(n, have));
    _cleanup_free_ char *why = compose_network_diverged(m, have);
    assert_non_null(why);
    assert_string_equal(why, "configuration changed (driver_opts.com.docker.network.driver.mtu, "
                             "internal, ipam.config[0].subnet, labels.tier)");
    /* a network without the hash label (made before it was recorded) and
     * an external one are taken as they are */
    json_object_del(json_object_get(have, "Labels"), COMPOSE_LABEL_HASH);
    assert_null(compose_network_diverged(m, have));
    /* a change the network does not show still counts, without keys */
    _cleanup_project_ struct compose_project *r =
        load("name: demo\nservices:\n  db: {image: busybox, networks: [back]}\n"
             "networks:\n  back:\n    labels: {tier: db}\n    attachable: true\n"
             "    ipam: {config: [{subnet: 172.28.0.0/24}]}\n");
    _cleanup_json_ json_t *have2 = inspect_of(n, "172.28.0.0/24");
    _cleanup_free_ char *why2 = compose_network_diverged(compose_project_network(r, "back"), have2);
    assert_string_equal(why2, "configuration changed");
}

static void
test_containers_on_a_recreated_network_are_recreated(void **state)
{
    _cleanup_project_ struct compose_project *p =
        load("name: demo\nservices:\n  db: {image: busybox, networks: [back]}\n"
             "  web: {image: busybox, networks: [front]}\n"
             "networks:\n  back: {}\n  front: {}\n");
    struct compose_actual a = {0};
    actual_add(&a, p, "db", 1, "running", NULL);
    actual_add(&a, p, "web", 1, "running", NULL);
    char *keys[] = {"back", NULL};
    /* even with --no-recreate: the container's network goes away */
    struct compose_plan_opts o = {.networks_recreated = keys, .no_recreate = true};
    struct compose_plan plan;
    struct bt_err *err = NULL;
    assert_int_equal(compose_plan_make(p, &a, &o, &plan, &err), 0);
    const struct compose_action *db = find(&plan, "demo-db-1");
    assert_int_equal(db->kind, COMPOSE_ACTION_RECREATE);
    assert_string_equal(db->reason, "network demo_back changed");
    assert_int_equal(find(&plan, "demo-web-1")->kind, COMPOSE_ACTION_KEEP);
    compose_plan_done(&plan);
    compose_actual_done(&a);
}

static void
test_volume_hash_follows_the_definition(void **state)
{
    _cleanup_project_ struct compose_project *p = load(
        "name: demo\nservices:\n  db: {image: busybox}\nvolumes:\n  data: {labels: {a: '1'}}\n");
    _cleanup_project_ struct compose_project *q = load(
        "name: demo\nservices:\n  db: {image: busybox}\nvolumes:\n  data: {labels: {a: '2'}}\n");
    _cleanup_project_ struct compose_project *r = load(
        "name: demo\nservices:\n  db: {image: busybox}\nvolumes:\n  data:\n    labels: [a=1]\n");
    _cleanup_free_ char *h1 = compose_volume_hash(&p->volumes[0]);
    _cleanup_free_ char *h2 = compose_volume_hash(&q->volumes[0]);
    _cleanup_free_ char *h3 = compose_volume_hash(&r->volumes[0]);
    assert_string_not_equal(h1, h2);
    assert_string_equal(h1, h3); /* spelling does not matter */
}

int
main(void)
{
    bt_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh_project_creates_in_dependency_order),
        cmocka_unit_test(test_unchanged_is_kept_changed_is_recreated_with_reason),
        cmocka_unit_test(test_scale_up_and_down_highest_first),
        cmocka_unit_test(test_orphans_warned_or_removed),
        cmocka_unit_test(test_restart_true_follows_a_recreated_dependency),
        cmocka_unit_test(test_depends_on_label_has_every_edge),
        cmocka_unit_test(test_joined_service_follows_its_owner),
        cmocka_unit_test(test_container_name_cannot_scale),
        cmocka_unit_test(test_service_to_container_config),
        cmocka_unit_test(test_entrypoint_drops_image_command_and_privileged),
        cmocka_unit_test(test_bad_input_is_a_clear_error),
        cmocka_unit_test(test_network_diverged_names_the_keys),
        cmocka_unit_test(test_containers_on_a_recreated_network_are_recreated),
        cmocka_unit_test(test_volume_hash_follows_the_definition),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
