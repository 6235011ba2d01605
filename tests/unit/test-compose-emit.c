/* compose: the canonical YAML and JSON `config` prints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "compose/model-internal.h"

static struct compose_project *
load(const char *yaml, struct bt_err **err)
{
    char *env[] = {"TAG=1.25", NULL};
    _cleanup_cnode_ struct cnode *root =
        compose_yaml_parse(yaml, strlen(yaml), "compose.yaml", err);
    assert_non_null(root);
    return compose_project_from_tree(root, "demo", "/srv/demo", env, err);
}

static const char *const input =
    "x-top: {b: 2, a: 1}\n"
    "volumes:\n"
    "  data:\n"
    "services:\n"
    "  web:\n"
    "    image: nginx\n"
    "    ports: [\"8080:80\", \"127.0.0.1::443/udp\"]\n"
    "    volumes: [\"./html:/html:ro\", \"data:/data\", \"/anon\"]\n"
    "    environment: [TAG, \"NUM=007\", \"YES=true\", UNSET_ONE]\n"
    "    command: [\"nginx\", \"-g\", \"daemon off;\"]\n"
    "    entrypoint: []\n"
    "    healthcheck: {test: \"curl -f http://localhost\", interval: 90s, retries: 3}\n"
    "    stop_grace_period: 1500ms\n"
    "    mem_limit: 1g\n"
    "    cpus: 1.5\n"
    "    init: false\n"
    "    read_only: true\n"
    "    depends_on: [db]\n"
    "    ulimits: {nofile: {soft: 1, hard: 2}, core: 0}\n"
    "    labels: {z: last, a: first}\n"
    "  db:\n"
    "    image: postgres\n"
    "    network_mode: none\n";

static const char *const expected_yaml = "name: demo\n"
                                         "services:\n"
                                         "  db:\n"
                                         "    image: postgres\n"
                                         "    network_mode: none\n"
                                         "  web:\n"
                                         "    command:\n"
                                         "    - nginx\n"
                                         "    - -g\n"
                                         "    - daemon off;\n"
                                         "    cpus: 1.5\n"
                                         "    depends_on:\n"
                                         "      db:\n"
                                         "        condition: service_started\n"
                                         "        required: true\n"
                                         "    entrypoint: []\n"
                                         "    environment:\n"
                                         "      NUM: \"007\"\n"
                                         "      TAG: \"1.25\"\n"
                                         "      UNSET_ONE: null\n"
                                         "      YES: \"true\"\n"
                                         "    healthcheck:\n"
                                         "      interval: 1m30s\n"
                                         "      retries: 3\n"
                                         "      test:\n"
                                         "      - CMD-SHELL\n"
                                         "      - curl -f http://localhost\n"
                                         "    image: nginx\n"
                                         "    init: false\n"
                                         "    labels:\n"
                                         "      a: first\n"
                                         "      z: last\n"
                                         "    mem_limit: \"1073741824\"\n"
                                         "    networks:\n"
                                         "      default: null\n"
                                         "    ports:\n"
                                         "    - mode: ingress\n"
                                         "      protocol: tcp\n"
                                         "      published: \"8080\"\n"
                                         "      target: 80\n"
                                         "    - host_ip: 127.0.0.1\n"
                                         "      mode: ingress\n"
                                         "      protocol: udp\n"
                                         "      target: 443\n"
                                         "    read_only: true\n"
                                         "    stop_grace_period: 1.5s\n"
                                         "    ulimits:\n"
                                         "      core: 0\n"
                                         "      nofile:\n"
                                         "        hard: 2\n"
                                         "        soft: 1\n"
                                         "    volumes:\n"
                                         "    - bind:\n"
                                         "        create_host_path: true\n"
                                         "      read_only: true\n"
                                         "      source: /srv/demo/html\n"
                                         "      target: /html\n"
                                         "      type: bind\n"
                                         "    - source: data\n"
                                         "      target: /data\n"
                                         "      type: volume\n"
                                         "      volume: {}\n"
                                         "    - target: /anon\n"
                                         "      type: volume\n"
                                         "      volume: {}\n"
                                         "networks:\n"
                                         "  default:\n"
                                         "    name: demo_default\n"
                                         "volumes:\n"
                                         "  data:\n"
                                         "    name: demo_data\n"
                                         "x-top:\n"
                                         "  a: 1\n"
                                         "  b: 2\n";

static void
test_yaml_exact(void **state)
{
    struct bt_err *err = NULL;
    _cleanup_project_ struct compose_project *p = load(input, &err);
    if (err)
        fail_msg("%s", err->msg);
    _cleanup_free_ char *y = compose_project_to_yaml(p);
    if (strcmp(y, expected_yaml) != 0)
        fail_msg("got:\n%s", y);
}

/* config's output is itself a compose file that normalises to the same
 * output: a fixed point. */
static void
test_yaml_round_trip(void **state)
{
    struct bt_err *err = NULL;
    _cleanup_project_ struct compose_project *p = load(input, &err);
    _cleanup_free_ char *y1 = compose_project_to_yaml(p);
    _cleanup_project_ struct compose_project *q = load(y1, &err);
    if (err)
        fail_msg("%s", err->msg);
    _cleanup_free_ char *y2 = compose_project_to_yaml(q);
    assert_string_equal(y1, y2);
}

static void
test_json(void **state)
{
    struct bt_err *err = NULL;
    _cleanup_project_ struct compose_project *p = load(input, &err);
    _cleanup_free_ char *text = compose_project_to_json_text(p);
    assert_true(bt_str_startswith(text, "{\n  \"name\": \"demo\",\n  \"services\": {\n"));
    assert_true(bt_str_endswith(text, "}\n"));
    json_error_t jerr;
    _cleanup_json_ json_t *j = json_loads(text, 0, &jerr);
    assert_non_null(j);
    json_t *web = json_object_get(json_object_get(j, "services"), "web");
    assert_string_equal(json_string_value(json_object_get(web, "mem_limit")), "1073741824");
    assert_true(json_is_null(json_object_get(json_object_get(web, "environment"), "UNSET_ONE")));
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(web, "ports"), 0), "published")),
                        "8080");
    assert_true(json_is_false(json_object_get(web, "init")));
    /* Top-level order: name, services, networks, volumes, then extensions. */
    const char *order[] = {"name", "services", "networks", "volumes", "x-top"};
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach (j, k, v) {
        assert_true(i < BT_ARRAY_SIZE(order));
        assert_string_equal(k, order[i++]);
    }
}

static void
test_strings_that_look_like_other_types(void **state)
{
    struct bt_err *err = NULL;
    _cleanup_project_ struct compose_project *p =
        load("services:\n"
             "  s:\n"
             "    image: \"123\"\n"
             "    user: \"null\"\n"
             "    hostname: \"multi\\nline\"\n"
             "    labels: {\"on\": \"yes\", n: \"1e3\"}\n",
             &err);
    if (err)
        fail_msg("%s", err->msg);
    _cleanup_free_ char *y = compose_project_to_yaml(p);
    assert_non_null(strstr(y, "    image: \"123\"\n"));
    assert_non_null(strstr(y, "    user: \"null\"\n"));
    assert_non_null(strstr(y, "      n: \"1e3\"\n"));
    /* Read back, every one is still the same string. */
    _cleanup_project_ struct compose_project *q = load(y, &err);
    if (err)
        fail_msg("%s", err->msg);
    assert_string_equal(q->services[0].image, "123");
    assert_string_equal(q->services[0].user, "null");
    assert_string_equal(q->services[0].hostname, "multi\nline");
    assert_string_equal(compose_kvs_get(&q->services[0].labels, "n"), "1e3");
}

int
main(void)
{
    bt_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yaml_exact),
        cmocka_unit_test(test_yaml_round_trip),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_strings_that_look_like_other_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
