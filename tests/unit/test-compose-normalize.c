/* compose: the short-syntax parsers and normalisation into the typed model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "compose/model-internal.h"

/* ---- parsers ---- */

static int64_t
dur(const char *s)
{
    int64_t ns = -1;
    struct bt_err *err = NULL;
    assert_int_equal(compose_duration_parse(s, &ns, &err), 0);
    assert_null(err);
    return ns;
}

static void
test_durations(void **state)
{
    assert_int_equal(dur("1m30s"), 90LL * 1000000000);
    assert_int_equal(dur("10ms"), 10LL * 1000000);
    assert_int_equal(dur("1h"), 3600LL * 1000000000);
    assert_int_equal(dur("1.5s"), 1500LL * 1000000);
    assert_int_equal(dur("300us"), 300000);
    assert_int_equal(dur("2h45m"), (2 * 3600 + 45 * 60) * 1000000000LL);
    assert_int_equal(dur("0"), 0);
    assert_int_equal(dur("5ns"), 5);

    const char *bad[] = {"", "10", "1x", "m", "1m30", ".s", "--1s"};
    for (size_t i = 0; i < BT_ARRAY_SIZE(bad); i++) {
        struct bt_err *err = NULL;
        int64_t ns = 0;
        assert_int_equal(compose_duration_parse(bad[i], &ns, &err), -EINVAL);
        assert_non_null(err);
        assert_non_null(strstr(err->msg, "invalid duration"));
        bt_err_free(err);
    }

    struct {
        int64_t ns;
        const char *text;
    } fmt[] = {
        {0, "0s"},
        {90LL * 1000000000, "1m30s"},
        {10LL * 1000000, "10ms"},
        {3600LL * 1000000000, "1h0m0s"},
        {1500LL * 1000000, "1.5s"},
        {5, "5ns"},
        {1500, "1.5\xc2\xb5s"},
        {-2LL * 1000000000, "-2s"},
    };
    for (size_t i = 0; i < BT_ARRAY_SIZE(fmt); i++) {
        _cleanup_free_ char *s = compose_duration_format(fmt[i].ns);
        assert_string_equal(s, fmt[i].text);
    }
}

static void
test_bytes(void **state)
{
    struct {
        const char *in;
        int64_t out;
    } ok[] = {
        {"512m", 512LL << 20}, {"1gb", 1LL << 30},  {"2048k", 2048LL << 10},
        {"100", 100},          {"1.5g", 3LL << 29}, {"64MiB", 64LL << 20},
        {"10 MB", 10LL << 20}, {"-1", -1},          {"7b", 7},
    };
    for (size_t i = 0; i < BT_ARRAY_SIZE(ok); i++) {
        int64_t v = 0;
        struct bt_err *err = NULL;
        assert_int_equal(compose_bytes_parse(ok[i].in, &v, &err), 0);
        assert_int_equal(v, ok[i].out);
    }
    const char *bad[] = {"", "m", "12q", "1..5m", "-5m", "1mm"};
    for (size_t i = 0; i < BT_ARRAY_SIZE(bad); i++) {
        int64_t v = 0;
        struct bt_err *err = NULL;
        assert_true(compose_bytes_parse(bad[i], &v, &err) < 0);
        assert_non_null(strstr(err->msg, "invalid size"));
        bt_err_free(err);
    }
}

static void
test_shell_split(void **state)
{
    struct bt_err *err = NULL;
    _cleanup_strv_ char **v = NULL;
    assert_int_equal(
        compose_shell_split("sh -c 'echo \"hi there\"; exit 3'  x\\ y \"a\\\"b\"", &v, &err), 0);
    assert_int_equal(bt_strv_length(v), 5);
    assert_string_equal(v[0], "sh");
    assert_string_equal(v[1], "-c");
    assert_string_equal(v[2], "echo \"hi there\"; exit 3");
    assert_string_equal(v[3], "x y");
    assert_string_equal(v[4], "a\"b");

    _cleanup_strv_ char **empty = NULL;
    assert_int_equal(compose_shell_split("   ", &empty, &err), 0);
    assert_non_null(empty);
    assert_int_equal(bt_strv_length(empty), 0);

    char **bad = NULL;
    assert_int_equal(compose_shell_split("echo 'oops", &bad, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "unterminated single quote"));
    bt_err_free(err);
    err = NULL;
    assert_int_equal(compose_shell_split("echo \"oops", &bad, &err), -EINVAL);
    bt_err_free(err);
}

struct port_case {
    const char *spec;
    size_t n;
    const char *host_ip, *published, *protocol;
    unsigned target;
};

static void
ports_free(struct compose_port *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        compose_port_done(&p[i]);
    free(p);
}

static void
test_ports(void **state)
{
    const struct port_case cases[] = {
        {"80", 1, NULL, NULL, "tcp", 80},
        {"8080:80", 1, NULL, "8080", "tcp", 80},
        {"127.0.0.1:8080:80", 1, "127.0.0.1", "8080", "tcp", 80},
        {"127.0.0.1::80", 1, "127.0.0.1", NULL, "tcp", 80},
        {"[::1]:6001:6001", 1, "::1", "6001", "tcp", 6001},
        {"53:53/udp", 1, NULL, "53", "udp", 53},
        {"8000-8005:80", 1, NULL, "8000-8005", "tcp", 80},
        {"9090-9091:8080-8081", 2, NULL, "9090", "tcp", 8080},
        {"3000-3002", 3, NULL, NULL, "tcp", 3000},
        {"0.0.0.0:5000-5001:6000-6001/sctp", 2, "0.0.0.0", "5000", "sctp", 6000},
    };
    for (size_t i = 0; i < BT_ARRAY_SIZE(cases); i++) {
        const struct port_case *c = &cases[i];
        struct compose_port *p = NULL;
        size_t n = 0;
        struct bt_err *err = NULL;
        assert_int_equal(compose_port_parse(c->spec, &p, &n, &err), 0);
        assert_int_equal(n, c->n);
        assert_int_equal(p[0].target, c->target);
        if (c->host_ip)
            assert_string_equal(p[0].host_ip, c->host_ip);
        else
            assert_null(p[0].host_ip);
        if (c->published)
            assert_string_equal(p[0].published, c->published);
        else
            assert_null(p[0].published);
        assert_string_equal(p[0].protocol, c->protocol);
        assert_string_equal(p[0].mode, "ingress");
        if (n == 2 && c->published) {
            assert_int_equal(p[1].target, c->target + 1);
            _cleanup_free_ char *next = xasprintf("%d", atoi(c->published) + 1);
            assert_string_equal(p[1].published, next);
        }
        ports_free(p, n);
    }
    const char *bad[] = {
        "", "x", "0", "70000", "80/http", "1.2.3:80:80", "8080-8081:80-82", "8081-8080:80", "a:80"};
    for (size_t i = 0; i < BT_ARRAY_SIZE(bad); i++) {
        struct compose_port *p = NULL;
        size_t n = 0;
        struct bt_err *err = NULL;
        assert_true(compose_port_parse(bad[i], &p, &n, &err) < 0);
        assert_non_null(err);
        assert_non_null(strstr(err->msg, "invalid port"));
        bt_err_free(err);
        ports_free(p, n);
    }
}

static void
test_volumes(void **state)
{
    struct compose_mount m;
    struct bt_err *err = NULL;

    assert_int_equal(compose_volume_parse("./data:/data:ro,z", &m, &err), 0);
    assert_int_equal(m.type, COMPOSE_MOUNT_BIND);
    assert_string_equal(m.source, "./data");
    assert_string_equal(m.target, "/data");
    assert_true(m.read_only);
    assert_true(m.has_bind);
    assert_true(m.bind.create_host_path);
    assert_string_equal(m.bind.selinux, "z");
    compose_mount_done(&m);

    assert_int_equal(compose_volume_parse("/srv:/srv:rshared", &m, &err), 0);
    assert_int_equal(m.type, COMPOSE_MOUNT_BIND);
    assert_string_equal(m.bind.propagation, "rshared");
    assert_false(m.read_only);
    compose_mount_done(&m);

    assert_int_equal(compose_volume_parse("db:/var/lib/db:nocopy", &m, &err), 0);
    assert_int_equal(m.type, COMPOSE_MOUNT_VOLUME);
    assert_string_equal(m.source, "db");
    assert_true(m.has_volume);
    assert_true(m.volume.nocopy);
    compose_mount_done(&m);

    assert_int_equal(compose_volume_parse("/cache", &m, &err), 0);
    assert_int_equal(m.type, COMPOSE_MOUNT_VOLUME);
    assert_null(m.source);
    assert_string_equal(m.target, "/cache");
    compose_mount_done(&m);

    assert_int_equal(compose_volume_parse("~/x:/x:rw", &m, &err), 0);
    assert_int_equal(m.type, COMPOSE_MOUNT_BIND);
    compose_mount_done(&m);

    const char *bad[] = {
        "",   "a:b:c:d", "data:relative", "db:/x:z", "/h:/x:nocopy", "/h:/x:bogus", "bad name:/x",
        ":/x"};
    for (size_t i = 0; i < BT_ARRAY_SIZE(bad); i++) {
        err = NULL;
        assert_true(compose_volume_parse(bad[i], &m, &err) < 0);
        assert_non_null(strstr(err->msg, "invalid volume"));
        bt_err_free(err);
        compose_mount_done(&m);
    }
}

/* ---- normalisation ---- */

static struct compose_project *
load(const char *yaml, char *const *env, struct bt_err **err)
{
    _cleanup_cnode_ struct cnode *root =
        compose_yaml_parse(yaml, strlen(yaml), "compose.yaml", err);
    assert_non_null(root);
    return compose_project_from_tree(root, "demo", "/srv/demo", env, err);
}

static void
test_service_model(void **state)
{
    char *env[] = {"FROM_HOST=hostvalue", "HOME=/home/u", NULL};
    struct bt_err *err = NULL;
    _cleanup_project_ struct compose_project *p =
        load("services:\n"
             "  web:\n"
             "    image: nginx:1.25\n"
             "    command: nginx -g 'daemon off;'\n"
             "    entrypoint: [\"/docker-entrypoint.sh\"]\n"
             "    environment:\n"
             "      - A=1\n"
             "      - FROM_HOST\n"
             "      - MISSING\n"
             "      - EMPTY=\n"
             "    ports: [\"8080:80\", 443, {target: 9000, published: \"9000-9001\", "
             "host_ip: 127.0.0.1}]\n"
             "    volumes:\n"
             "      - ./html:/usr/share/nginx/html:ro\n"
             "      - data:/data\n"
             "      - ~/cache:/cache\n"
             "      - type: tmpfs\n"
             "        target: /tmp\n"
             "        tmpfs: {size: 64m, mode: 1777}\n"
             "    depends_on: [db]\n"
             "    healthcheck:\n"
             "      test: curl -f http://localhost/\n"
             "      interval: 1m30s\n"
             "      timeout: 10s\n"
             "      retries: 3\n"
             "    mem_limit: 512m\n"
             "    shm_size: 1gb\n"
             "    cpus: 0.5\n"
             "    ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 65535}\n"
             "    extra_hosts: [\"somehost=162.242.195.82\", \"other:10.0.0.1\"]\n"
             "    labels: [\"com.example.a=b\", \"flag\"]\n"
             "    sysctls: {net.core.somaxconn: 1024}\n"
             "    stop_grace_period: 1m\n"
             "    init: true\n"
             "    tty: true\n"
             "    devices: [\"/dev/fuse\"]\n"
             "    x-custom: {a: 1}\n"
             "  db:\n"
             "    image: postgres\n"
             "    network_mode: none\n"
             "volumes:\n"
             "  data: {}\n",
             env, &err);
    if (err)
        fail_msg("%s", err->msg);
    assert_non_null(p);
    assert_int_equal(p->n_services, 2);
    assert_string_equal(p->services[0].name, "db"); /* sorted */
    const struct compose_service *s = compose_project_service(p, "web");
    assert_non_null(s);
    assert_string_equal(s->image, "nginx:1.25");
    assert_int_equal(bt_strv_length(s->command), 3);
    assert_string_equal(s->command[2], "daemon off;");
    assert_string_equal(s->entrypoint[0], "/docker-entrypoint.sh");

    assert_string_equal(compose_kvs_get(&s->environment, "A"), "1");
    assert_string_equal(compose_kvs_get(&s->environment, "FROM_HOST"), "hostvalue");
    assert_null(compose_kvs_get(&s->environment, "MISSING"));
    assert_int_equal(s->environment.n, 4);
    assert_string_equal(compose_kvs_get(&s->environment, "EMPTY"), "");

    assert_int_equal(s->n_ports, 3);
    assert_string_equal(s->ports[0].published, "8080");
    assert_int_equal(s->ports[1].target, 443);
    assert_null(s->ports[1].published);
    assert_string_equal(s->ports[2].published, "9000-9001");
    assert_string_equal(s->ports[2].host_ip, "127.0.0.1");
    assert_string_equal(s->ports[2].protocol, "tcp");

    assert_int_equal(s->n_volumes, 4);
    assert_string_equal(s->volumes[0].source, "/srv/demo/html");
    assert_true(s->volumes[0].read_only);
    assert_int_equal(s->volumes[1].type, COMPOSE_MOUNT_VOLUME);
    assert_string_equal(s->volumes[2].source, "/home/u/cache");
    assert_int_equal(s->volumes[3].type, COMPOSE_MOUNT_TMPFS);
    assert_int_equal(s->volumes[3].tmpfs.size, 64LL << 20);
    assert_int_equal(s->volumes[3].tmpfs.mode, 01777);

    assert_int_equal(s->n_depends_on, 1);
    assert_string_equal(s->depends_on[0].condition, "service_started");
    assert_true(s->depends_on[0].required);

    assert_non_null(s->healthcheck);
    assert_string_equal(s->healthcheck->test[0], "CMD-SHELL");
    assert_string_equal(s->healthcheck->test[1], "curl -f http://localhost/");
    assert_int_equal(s->healthcheck->interval, 90LL * 1000000000);
    assert_int_equal(s->healthcheck->retries, 3);
    assert_int_equal(s->healthcheck->start_period, COMPOSE_NO_INT);

    assert_int_equal(s->mem_limit, 512LL << 20);
    assert_int_equal(s->shm_size, 1LL << 30);
    assert_int_equal(s->memswap_limit, COMPOSE_NO_INT);
    assert_true(s->cpus == 0.5);
    assert_int_equal(s->n_ulimits, 2);
    assert_string_equal(s->ulimits[0].name, "nofile");
    assert_int_equal(s->ulimits[0].soft, 1024);
    assert_int_equal(s->ulimits[0].hard, 2048);
    assert_int_equal(s->ulimits[1].soft, 65535);
    assert_int_equal(s->ulimits[1].hard, 65535);
    assert_int_equal(s->n_extra_hosts, 2);
    assert_string_equal(s->extra_hosts[1].host, "other");
    assert_string_equal(s->extra_hosts[1].ip, "10.0.0.1");
    assert_string_equal(compose_kvs_get(&s->labels, "com.example.a"), "b");
    assert_string_equal(compose_kvs_get(&s->labels, "flag"), "");
    assert_string_equal(compose_kvs_get(&s->sysctls, "net.core.somaxconn"), "1024");
    assert_int_equal(s->stop_grace_period, 60LL * 1000000000);
    assert_int_equal(s->init, COMPOSE_TRUE);
    assert_true(s->tty);
    assert_false(s->privileged);
    assert_string_equal(s->devices[0].target, "/dev/fuse");
    assert_string_equal(s->devices[0].permissions, "rwm");
    assert_non_null(json_object_get(s->extra, "x-custom"));

    /* The default network: added to web (no networks, no network_mode), not
     * to db (network_mode), and created at the top level. */
    assert_int_equal(s->n_networks, 1);
    assert_string_equal(s->networks[0].name, "default");
    assert_int_equal(compose_project_service(p, "db")->n_networks, 0);
    const struct compose_network *def = compose_project_network(p, "default");
    assert_non_null(def);
    assert_string_equal(def->name, "demo_default");
    assert_string_equal(compose_project_volume(p, "data")->name, "demo_data");

    /* Graph: db before web. */
    assert_int_equal(p->n_layers, 2);
    assert_string_equal(p->services[p->order[0]].name, "db");
}

static void
test_top_level(void **state)
{
    struct bt_err *err = NULL;
    _cleanup_project_ struct compose_project *p =
        load("services:\n"
             "  app:\n"
             "    build: ./app\n"
             "    networks:\n"
             "      front:\n"
             "        aliases: [web]\n"
             "        ipv4_address: 172.30.0.10\n"
             "        priority: 10\n"
             "      back:\n"
             "    secrets: [token, {source: cert, target: /etc/cert.pem, mode: 0440}]\n"
             "    configs: [cfg]\n"
             "    deploy:\n"
             "      replicas: 2\n"
             "      resources:\n"
             "        limits: {cpus: '1.5', memory: 256M, pids: 100}\n"
             "      restart_policy: {condition: on-failure, delay: 5s, max_attempts: 3}\n"
             "networks:\n"
             "  front:\n"
             "    ipam:\n"
             "      config: [{subnet: 172.30.0.0/24, gateway: 172.30.0.1}]\n"
             "  back:\n"
             "    external: true\n"
             "  named:\n"
             "    name: custom-net\n"
             "volumes:\n"
             "  ext: {external: true}\n"
             "secrets:\n"
             "  token: {file: ./token.txt}\n"
             "  cert: {environment: CERT}\n"
             "configs:\n"
             "  cfg: {content: hello}\n"
             "x-top: 1\n",
             NULL, &err);
    if (err)
        fail_msg("%s", err->msg);
    const struct compose_service *s = &p->services[0];
    assert_string_equal(s->build->context, "/srv/demo/app");
    assert_string_equal(s->build->dockerfile, "Dockerfile");
    assert_int_equal(s->n_networks, 2);
    assert_string_equal(s->networks[0].name, "back"); /* sorted */
    assert_false(s->networks[0].has_config);
    assert_string_equal(s->networks[1].aliases[0], "web");
    assert_string_equal(s->networks[1].ipv4_address, "172.30.0.10");
    assert_int_equal(s->networks[1].priority, 10);
    assert_int_equal(s->n_secrets, 2);
    assert_string_equal(s->secrets[1].target, "/etc/cert.pem");
    assert_int_equal(s->secrets[1].mode, 0440);
    assert_int_equal(s->deploy->replicas, 2);
    assert_true(s->deploy->limits.cpus == 1.5);
    assert_int_equal(s->deploy->limits.memory, 256LL << 20);
    assert_int_equal(s->deploy->limits.pids, 100);
    assert_string_equal(s->deploy->restart_policy.condition, "on-failure");
    assert_int_equal(s->deploy->restart_policy.delay, 5LL * 1000000000);

    assert_null(compose_project_network(p, "default"));
    assert_string_equal(compose_project_network(p, "front")->name, "demo_front");
    assert_string_equal(compose_project_network(p, "front")->ipam.config[0].subnet,
                        "172.30.0.0/24");
    assert_string_equal(compose_project_network(p, "back")->name, "back");
    assert_string_equal(compose_project_network(p, "named")->name, "custom-net");
    assert_string_equal(compose_project_volume(p, "ext")->name, "ext");
    assert_string_equal(p->secrets[1].file, "/srv/demo/token.txt");
    assert_string_equal(p->secrets[1].name, "demo_token");
    assert_string_equal(p->configs[0].content, "hello");
    assert_non_null(json_object_get(p->extra, "x-top"));
}

struct bad_case {
    const char *yaml;
    const char *msg;
};

static void
test_errors_have_positions(void **state)
{
    const struct bad_case cases[] = {
        {"services:\n  web:\n    image: x\n    ports: [\"80\", \"99999:80\"]\n",
         "compose.yaml:4:19: services.web.ports[1]: invalid port '99999:80'"},
        {"services:\n  web:\n    image: x\n    mem_limit: lots\n",
         "compose.yaml:4:16: services.web.mem_limit: invalid size 'lots'"},
        {"services:\n  web:\n    image: x\n    healthcheck:\n      interval: 10\n",
         "compose.yaml:5:17: services.web.healthcheck.interval: invalid duration '10'"},
        {"services:\n  web:\n    image: x\n    volumes: [\"db:/data\"]\n",
         "compose.yaml:4:15: services.web.volumes[0]: service 'web' refers to undefined volume "
         "'db'"},
        {"services:\n  web:\n    image: x\n    networks: [front]\n",
         "compose.yaml:4:16: services.web.networks[0]: service 'web' refers to undefined "
         "network 'front'"},
        {"services:\n  web:\n    image: x\n    secrets: [s]\n",
         "compose.yaml:4:15: services.web.secrets[0]: service 'web' refers to undefined "
         "secret 's'"},
        {"services:\n  web:\n    image: x\n    command: \"echo 'unterminated\"\n",
         "compose.yaml:4:14: services.web.command: unterminated single quote"},
        {"services:\n  web:\n    build: {}\n    image: x\n    tty: maybe\n",
         "compose.yaml:5:10: services.web.tty: expected true or false, got a string 'maybe'"},
        {"services:\n  web:\n    restart: always\n",
         "compose.yaml:3:5: services.web: service 'web' has neither an image nor a build"},
        {"services:\n  web:\n    image: x\n    ulimits: {nofile: {soft: 10, hard: 5}}\n",
         "compose.yaml:4:23: services.web.ulimits.nofile: soft limit 10 is above hard limit 5"},
        {"services:\n  web:\n    image: x\n    network_mode: host\n    networks: [default]\n",
         "services.web: service 'web' declares both network_mode and networks"},
        {"services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n"
         "    depends_on: [c]\n  c:\n    image: x\n    depends_on: [a]\n",
         "dependency cycle between services: a -> b -> c -> a"},
        {"services:\n  a:\n    image: x\n    depends_on: [ghost]\n",
         "service 'a' depends on undefined service 'ghost'"},
    };
    for (size_t i = 0; i < BT_ARRAY_SIZE(cases); i++) {
        struct bt_err *err = NULL;
        struct compose_project *p = load(cases[i].yaml, NULL, &err);
        assert_null(p);
        assert_non_null(err);
        if (!strstr(err->msg, cases[i].msg))
            fail_msg("case %zu: got '%s', want '%s'", i, err->msg, cases[i].msg);
        bt_err_free(err);
    }
}

static void
test_env_file(void **state)
{
    char dir[] = "/tmp/berth-norm-XXXXXX";
    assert_non_null(mkdtemp(dir));
    _cleanup_free_ char *envf = bt_path_join(dir, "web.env");
    const char *text = "# comment\nFROM_FILE=file\nOVERRIDDEN=file\nQUOTED=\"a b\"\n";
    struct bt_err *err = NULL;
    assert_int_equal(bt_file_write_atomic(envf, text, strlen(text), 0644, &err), 0);
    _cleanup_free_ char *yaml =
        xasprintf("services:\n"
                  "  web:\n"
                  "    image: x\n"
                  "    env_file: [web.env, {path: ./absent.env, required: false}]\n"
                  "    environment: {OVERRIDDEN: service}\n");
    _cleanup_cnode_ struct cnode *root = compose_yaml_parse(yaml, strlen(yaml), "c.yaml", &err);
    _cleanup_project_ struct compose_project *p =
        compose_project_from_tree(root, "demo", dir, NULL, &err);
    if (err)
        fail_msg("%s", err->msg);
    const struct compose_service *s = &p->services[0];
    assert_string_equal(compose_kvs_get(&s->environment, "FROM_FILE"), "file");
    assert_string_equal(compose_kvs_get(&s->environment, "OVERRIDDEN"), "service");
    assert_string_equal(compose_kvs_get(&s->environment, "QUOTED"), "a b");
    assert_int_equal(s->n_env_files, 2);
    assert_string_equal(s->env_files[0].path, envf);
    assert_false(s->env_files[1].required);

    /* A required env_file that is missing is an error with a position. */
    const char *missing = "services:\n  web:\n    image: x\n    env_file: nope.env\n";
    _cleanup_cnode_ struct cnode *r2 = compose_yaml_parse(missing, strlen(missing), "c.yaml", &err);
    assert_null(compose_project_from_tree(r2, "demo", dir, NULL, &err));
    assert_non_null(err);
    assert_non_null(strstr(err->msg, "c.yaml:4:15: services.web.env_file"));
    bt_err_free(err);
    assert_int_equal(bt_rm_rf(dir, NULL), 0);
}

/* Malformed input never crashes normalisation: every node of the full
 * fixture replaced by a mapping, a list or null gives a project or an
 * error, nothing else. */
static void
collect_slots(struct cnode *n, struct cnode ****slots, size_t *ns)
{
    for (size_t i = 0; i < n->n; i++) {
        *slots = xreallocarray(*slots, *ns + 1, sizeof(**slots));
        (*slots)[(*ns)++] = &n->items[i];
        collect_slots(n->items[i], slots, ns);
    }
}

static void
test_mutations_never_crash(void **state)
{
    struct bt_err *err = NULL;
    size_t len = 0;
    const char *srcdir = getenv("BERTH_SOURCE_DIR");
    _cleanup_free_ char *path =
        bt_path_join(srcdir ? srcdir : ".", "tests/fixtures/compose/model/full/compose.yaml");
    _cleanup_free_ char *text = bt_file_read_all(path, &len, &err);
    _cleanup_free_ char *dir = bt_path_dirname(path);
    if (!text)
        fail_msg("%s", err->msg);
    _cleanup_cnode_ struct cnode *root = compose_yaml_parse(text, len, "full.yaml", &err);
    assert_non_null(root);
    _cleanup_free_ struct cnode ***slots = NULL;
    size_t ns = 0;
    collect_slots(root, &slots, &ns);
    assert_true(ns > 300);
    size_t ok = 0, failed = 0;
    for (size_t i = 0; i < ns; i++) {
        struct cnode *orig = *slots[i];
        /* One replacement per node, rotating, keeps the test fast. */
        struct cnode *mutant = i % 3 == 0   ? cnode_new(CNODE_MAP, "m.yaml", 1, 1)
                               : i % 3 == 1 ? cnode_new(CNODE_SEQ, "m.yaml", 1, 1)
                                            : cnode_new_scalar("", false, orig);
        *slots[i] = mutant;
        struct compose_project *p = compose_project_from_tree(root, "m", dir, NULL, &err);
        if (p) {
            /* Printing what was accepted must work too (a sample). */
            if (ok++ % 8 == 0) {
                _cleanup_free_ char *y = compose_project_to_yaml(p);
                assert_non_null(y);
            }
            compose_project_free(p);
        } else {
            assert_non_null(err);
            assert_true(err->code > 0);
            failed++;
            err = bt_err_free(err);
        }
        cnode_free(mutant);
        *slots[i] = orig;
    }
    assert_true(ok > 0);
    assert_true(failed > 0);
}

int
main(void)
{
    bt_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations),   cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_shell_split), cmocka_unit_test(test_ports),
        cmocka_unit_test(test_volumes),     cmocka_unit_test(test_service_model),
        cmocka_unit_test(test_top_level),   cmocka_unit_test(test_errors_have_positions),
        cmocka_unit_test(test_env_file),    cmocka_unit_test(test_mutations_never_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
