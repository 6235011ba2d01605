/* compose: merging several files with the Compose merge rules, !reset and
 * !override, and loading files. Table-driven: each case merges YAML texts
 * through compose_files_load and compares the emitted result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "compose/load-internal.h"

static char tmpdir[] = "/tmp/berth-test-merge-XXXXXX";

static int
setup(void **state)
{
    (void)state;
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    return bt_rm_rf(tmpdir, NULL);
}

/* Writes texts as files 0.yaml, 1.yaml, ... and loads them merged. */
static struct cnode *
load_texts(const char *const *texts, char *const *env, struct bt_err **err)
{
    struct compose_sources src = {.project_dir = xstrdup(tmpdir), .env = bt_strv_copy(env)};
    for (size_t i = 0; texts[i]; i++) {
        char *p = xasprintf("%s/%zu.yaml", tmpdir, i);
        assert_int_equal(bt_file_write_atomic(p, texts[i], strlen(texts[i]), 0644, NULL), 0);
        src.files = bt_strv_push_take(src.files, p);
    }
    struct cnode *n = compose_files_load(&src, true, err);
    compose_sources_done(&src);
    return n;
}

struct merge_case {
    const char *name;
    const char *files[4];
    const char *want;
};

static const struct merge_case cases[] = {
    {"mappings merge, scalars replace",
     {"services:\n  web:\n    image: a\n    restart: always\n",
      "services:\n  web:\n    image: b\n  db:\n    image: c\n"},
     "services:\n  web:\n    image: b\n    restart: always\n  db:\n    image: c\n"},
    {"command, entrypoint and healthcheck.test replace",
     {"services:\n  web:\n    command: [a, b]\n    entrypoint: [x]\n"
      "    healthcheck:\n      test: [CMD, a]\n      interval: 5s\n",
      "services:\n  web:\n    command: [c]\n    entrypoint: y\n"
      "    healthcheck:\n      test: [CMD, b]\n"},
     "services:\n  web:\n    command:\n    - c\n    entrypoint: y\n    healthcheck:\n"
     "      test:\n      - CMD\n      - b\n      interval: 5s\n"},
    {"ports append and dedupe by binding",
     {"services:\n  web:\n    ports: [\"80:80\", \"443:443\", 9000]\n",
      "services:\n  web:\n    ports: [\"8080:8080\", \"80:80\", 9000]\n"},
     "services:\n  web:\n    ports:\n    - 80:80\n    - 443:443\n    - 9000\n    - 8080:8080\n"},
    {"long-form ports dedupe by host ip, published, target and protocol",
     {"services:\n  web:\n    ports:\n    - target: 80\n      published: 8080\n",
      "services:\n  web:\n    ports:\n    - target: 80\n      published: 8080\n      mode: host\n"
      "    - target: 80\n      published: 8080\n      protocol: udp\n"},
     "services:\n  web:\n    ports:\n    - target: 80\n      published: 8080\n      mode: host\n"
     "    - target: 80\n      published: 8080\n      protocol: udp\n"},
    {"volumes merge by target, later wins in place",
     {"services:\n  web:\n    volumes: [\"./a:/data\", \"logs:/logs\"]\n",
      "services:\n  web:\n    volumes:\n    - ./b:/data:ro\n    - type: volume\n"
      "      source: cache\n      target: /cache\n"},
     "services:\n  web:\n    volumes:\n    - ./b:/data:ro\n    - logs:/logs\n    - type: volume\n"
     "      source: cache\n      target: /cache\n"},
    {"environment merges by name across map and list forms",
     {"services:\n  web:\n    environment:\n      A: \"1\"\n      B: \"2\"\n",
      "services:\n  web:\n    environment:\n    - B=3\n    - C=4\n"},
     "services:\n  web:\n    environment:\n    - A=1\n    - B=3\n    - C=4\n"},
    {"environment maps merge as maps, null replaces",
     {"services:\n  web:\n    environment:\n      A: \"1\"\n      B: \"2\"\n",
      "services:\n  web:\n    environment:\n      B:\n      C: \"3\"\n"},
     "services:\n  web:\n    environment:\n      A: \"1\"\n      B:\n      C: \"3\"\n"},
    {"labels and build args merge by key",
     {"services:\n  web:\n    labels: [a=1, b=2]\n    build:\n      context: .\n"
      "      args: [X=1]\n",
      "services:\n  web:\n    labels: [b=3]\n    build:\n      args:\n        Y: \"2\"\n"},
     "services:\n  web:\n    labels:\n    - a=1\n    - b=3\n    build:\n      context: .\n"
     "      args:\n      - X=1\n      - Y=2\n"},
    {"dns, dns_search, env_file: string or list, appended, deduped",
     {"services:\n  web:\n    dns: 8.8.8.8\n    dns_search: a.example\n    env_file: a.env\n",
      "services:\n  web:\n    dns: [1.1.1.1, 8.8.8.8]\n    dns_search: b.example\n"
      "    env_file: [b.env, a.env]\n"},
     "services:\n  web:\n    dns:\n    - 8.8.8.8\n    - 1.1.1.1\n    dns_search:\n    - a.example\n"
     "    - b.example\n    env_file:\n    - a.env\n    - b.env\n"},
    {"expose, cap_add, extra_hosts, secrets and configs dedupe",
     {"services:\n  web:\n    expose: [\"80\", \"81\"]\n    cap_add: [NET_ADMIN]\n"
      "    extra_hosts: [\"a=1.1.1.1\"]\n    secrets: [s1]\n    configs: [c1]\n",
      "services:\n  web:\n    expose: [\"81\", \"82\"]\n    cap_add: [NET_ADMIN, SYS_TIME]\n"
      "    extra_hosts:\n      a: 1.1.1.1\n      b: 2.2.2.2\n"
      "    secrets:\n    - source: s1\n      mode: 0400\n    configs: [c1, c2]\n"},
     "services:\n  web:\n    expose:\n    - \"80\"\n    - \"81\"\n    - \"82\"\n    cap_add:\n"
     "    - NET_ADMIN\n    - SYS_TIME\n    extra_hosts:\n    - a=1.1.1.1\n    - b=2.2.2.2\n"
     "    secrets:\n    - source: s1\n      mode: 0400\n    configs:\n    - c1\n    - c2\n"},
    {"depends_on list and map forms merge as a map",
     {"services:\n  web:\n    depends_on: [db]\n",
      "services:\n  web:\n    depends_on:\n      cache:\n        condition: service_healthy\n"},
     "services:\n  web:\n    depends_on:\n      db:\n        condition: service_started\n"
     "        required: true\n      cache:\n        condition: service_healthy\n"},
    {"service networks list and map forms merge",
     {"services:\n  web:\n    networks: [front]\n",
      "services:\n  web:\n    networks:\n      front:\n        aliases: [w]\n      back:\n"},
     "services:\n  web:\n    networks:\n      front:\n        aliases:\n        - w\n      "
     "back:\n"},
    {"build as a string merges with build as a mapping",
     {"services:\n  web:\n    build: ./app\n",
      "services:\n  web:\n    build:\n      dockerfile: Dockerfile.dev\n"},
     "services:\n  web:\n    build:\n      context: ./app\n      dockerfile: Dockerfile.dev\n"},
    {"logging with another driver replaces, same driver merges",
     {"services:\n  a:\n    logging:\n      driver: json-file\n      options:\n        max-size: "
      "1m\n"
      "  b:\n    logging:\n      driver: json-file\n      options:\n        max-size: 1m\n",
      "services:\n  a:\n    logging:\n      driver: syslog\n"
      "  b:\n    logging:\n      options:\n        max-file: \"3\"\n"},
     "services:\n  a:\n    logging:\n      driver: syslog\n  b:\n    logging:\n"
     "      driver: json-file\n      options:\n        max-size: 1m\n        max-file: \"3\"\n"},
    {"ulimits: a number replaces, mappings merge",
     {"services:\n  web:\n    ulimits:\n      nofile:\n        soft: 1\n        hard: 2\n"
      "      nproc: 10\n",
      "services:\n  web:\n    ulimits:\n      nofile:\n        soft: 5\n      nproc:\n"
      "        soft: 1\n        hard: 2\n"},
     "services:\n  web:\n    ulimits:\n      nofile:\n        soft: 5\n        hard: 2\n"
     "      nproc:\n        soft: 1\n        hard: 2\n"},
    {"other sequences append",
     {"services:\n  web:\n    volumes_from: [a]\n", "services:\n  web:\n    volumes_from: [b]\n"},
     "services:\n  web:\n    volumes_from:\n    - a\n    - b\n"},
    {"null in a later file keeps the value",
     {"services:\n  web:\n    image: a\n", "services:\n  web:\n    image:\n"},
     "services:\n  web:\n    image: a\n"},
    {"!reset removes, in the override or the first file",
     {"services:\n  web:\n    image: a\n    ports: [\"80\"]\n    dns: !reset []\n"
      "    environment:\n      A: \"1\"\n",
      "services:\n  web:\n    ports: !reset []\n    environment: !reset {}\n"},
     "services:\n  web:\n    image: a\n"},
    {"a later file sets what an earlier one reset",
     {"services:\n  web:\n    image: a\n", "services:\n  web:\n    image: !reset null\n",
      "services:\n  web:\n    image: c\n"},
     "services:\n  web:\n    image: c\n"},
    {"!override replaces whole",
     {"services:\n  web:\n    ports: [\"80\"]\n    environment:\n      A: \"1\"\n",
      "services:\n  web:\n    ports: !override [\"81\"]\n"
      "    environment: !override\n      B: \"2\"\n"},
     "services:\n  web:\n    ports:\n    - \"81\"\n    environment:\n      B: \"2\"\n"},
    {"x- extensions merge like any mapping",
     {"x-a:\n  k: 1\n  j: 2\nservices:\n  web:\n    x-b: [1]\n",
      "x-a:\n  k: 3\nservices:\n  web:\n    x-b: [2]\n"},
     "x-a:\n  k: 3\n  j: 2\nservices:\n  web:\n    x-b:\n    - 1\n    - 2\n"},
    {"models merge as a mapping",
     {"services:\n  web:\n    models: [m1]\n",
      "services:\n  web:\n    models:\n      m2:\n        endpoint_var: URL\n"},
     "services:\n  web:\n    models:\n      m1:\n      m2:\n        endpoint_var: URL\n"},
    {"ipam config merges by subnet",
     {"networks:\n  n:\n    ipam:\n      config:\n      - subnet: 10.0.0.0/24\n"
      "        gateway: 10.0.0.1\n",
      "networks:\n  n:\n    ipam:\n      config:\n      - subnet: 10.0.0.0/24\n"
      "        ip_range: 10.0.0.0/25\n      - subnet: 10.1.0.0/24\n"},
     "networks:\n  n:\n    ipam:\n      config:\n      - subnet: 10.0.0.0/24\n"
     "        gateway: 10.0.0.1\n        ip_range: 10.0.0.0/25\n      - subnet: 10.1.0.0/24\n"},
    {"duplicates in one file collapse too",
     {"services:\n  web:\n    ports: [\"80:80\", \"80:80\"]\n    cap_add: [A, A]\n"},
     "services:\n  web:\n    ports:\n    - 80:80\n    cap_add:\n    - A\n"},
};

static void
test_cases(void **state)
{
    (void)state;
    char *env[] = {NULL};
    int failed = 0;
    for (size_t i = 0; i < BT_ARRAY_SIZE(cases); i++) {
        struct bt_err *err = NULL;
        _cleanup_cnode_ struct cnode *n = load_texts(cases[i].files, env, &err);
        if (!n)
            fail_msg("%s: %s", cases[i].name, err->msg);
        _cleanup_free_ char *got = compose_yaml_emit(n);
        _cleanup_free_ char *want = xstrdup(cases[i].want);
        if (strcmp(got, want) != 0)
            print_error("%s:\n--- got\n%s--- want\n%s", cases[i].name, got, want);
        failed += strcmp(got, want) != 0;
    }
    assert_int_equal(failed, 0);
}

static void
test_kind_mismatch_is_an_error(void **state)
{
    (void)state;
    const char *files[] = {"services:\n  web:\n    ports: [\"80\"]\n",
                           "services:\n  web:\n    ports:\n      a: b\n", NULL};
    struct bt_err *err = NULL;
    struct cnode *n = load_texts(files, NULL, &err);
    assert_null(n);
    assert_non_null(strstr(err->msg, "/1.yaml:4:7: services.web.ports: cannot merge a mapping "
                                     "into a sequence"));
    bt_err_free(err);
}

static void
test_interpolation_and_errors_carry_position(void **state)
{
    (void)state;
    const char *files[] = {"services:\n  web:\n    image: ${IMG}\n", NULL};
    char *env[] = {"IMG=busybox", NULL};
    struct bt_err *err = NULL;
    _cleanup_cnode_ struct cnode *n = load_texts(files, env, &err);
    assert_non_null(n);
    struct cnode *img = cnode_map_get(cnode_map_get(cnode_map_get(n, "services"), "web"), "image");
    assert_string_equal(img->value, "busybox");
    assert_int_equal(img->line, 3);
    assert_true(bt_str_endswith(img->file, "/0.yaml"));

    const char *bad[] = {"services:\n  web:\n    image: [unclosed\n", NULL};
    assert_null(load_texts(bad, env, &err));
    assert_non_null(strstr(err->msg, "/0.yaml:"));
    bt_err_free(err);
    err = NULL;
    const char *notmap[] = {"- a\n- b\n", NULL};
    assert_null(load_texts(notmap, env, &err));
    assert_non_null(strstr(err->msg, "/0.yaml:1:1: the top level of a compose file must be a "
                                     "mapping, not a sequence"));
    bt_err_free(err);
}

static void
test_file_load(void **state)
{
    (void)state;
    struct bt_err *err = NULL;
    _cleanup_free_ char *p = xasprintf("%s/f.yaml", tmpdir);
    const char *y = "services:\n  web:\n    image: \"${X:-dflt}\"\n";
    assert_int_equal(bt_file_write_atomic(p, y, strlen(y), 0644, NULL), 0);
    _cleanup_cnode_ struct cnode *a = compose_file_load(p, NULL, true, &err);
    assert_non_null(a);
    struct cnode *img = cnode_map_get(cnode_map_get(cnode_map_get(a, "services"), "web"), "image");
    assert_string_equal(img->value, "dflt");
    /* --no-interpolate keeps the text. */
    _cleanup_cnode_ struct cnode *b = compose_file_load(p, NULL, false, &err);
    img = cnode_map_get(cnode_map_get(cnode_map_get(b, "services"), "web"), "image");
    assert_string_equal(img->value, "${X:-dflt}");
    _cleanup_free_ char *missing = xasprintf("%s/missing.yaml", tmpdir);
    assert_null(compose_file_load(missing, NULL, true, &err));
    assert_int_equal(err->code, ENOENT);
    assert_non_null(strstr(err->msg, "missing.yaml"));
    bt_err_free(err);
}

static void
test_version_is_dropped_with_a_warning(void **state)
{
    (void)state;
    const char *files[] = {"version: \"3.8\"\nservices:\n  web:\n    image: a\n", NULL};
    char log[] = "/tmp/berth-test-merge-log-XXXXXX";
    int fd = mkstemp(log);
    assert_true(fd >= 0);
    bt_log_set_fd(fd);
    struct bt_err *err = NULL;
    _cleanup_cnode_ struct cnode *n = load_texts(files, NULL, &err);
    bt_log_set_fd(-1);
    close(fd);
    assert_non_null(n);
    assert_null(cnode_map_get(n, "version"));
    _cleanup_free_ char *text = bt_file_read_all(log, NULL, NULL);
    unlink(log);
    assert_non_null(strstr(text, "/0.yaml: the attribute `version` is obsolete, it will be "
                                 "ignored, please remove it to avoid potential confusion\n"));
}

static void
test_merge_take_roots(void **state)
{
    (void)state;
    struct bt_err *err = NULL;
    const char *a = "services:\n  a:\n    image: x\n";
    const char *b = "services:\n  b:\n    image: y\n";
    _cleanup_cnode_ struct cnode *base = compose_yaml_parse(a, strlen(a), "a.yaml", &err);
    struct cnode *over = compose_yaml_parse(b, strlen(b), "b.yaml", &err);
    assert_int_equal(compose_merge_take(base, over, &err), 0);
    struct cnode *svcs = cnode_map_get(base, "services");
    assert_int_equal(svcs->n, 2);
    /* Each node keeps the file it came from. */
    assert_string_equal(cnode_map_get(svcs, "b")->file, "b.yaml");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_kind_mismatch_is_an_error),
        cmocka_unit_test(test_interpolation_and_errors_carry_position),
        cmocka_unit_test(test_file_load),
        cmocka_unit_test(test_version_is_dropped_with_a_warning),
        cmocka_unit_test(test_merge_take_roots),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
