/* compose: the per-service config hash (what decides whether `up`
 * recreates a container). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "compose/model-internal.h"

static char *
hash_of(const char *service_body)
{
    _cleanup_free_ char *yaml = xasprintf("services:\n"
                                          "  dep: {image: busybox}\n"
                                          "  web:\n%s",
                                          service_body);
    struct bt_err *err = NULL;
    _cleanup_cnode_ struct cnode *root =
        compose_yaml_parse(yaml, strlen(yaml), "compose.yaml", &err);
    assert_non_null(root);
    _cleanup_project_ struct compose_project *p =
        compose_project_from_tree(root, "h", "/srv/h", NULL, &err);
    if (err)
        fail_msg("%s", err->msg);
    return compose_service_hash(compose_project_service(p, "web"));
}

static const char *const base = "    image: nginx\n"
                                "    ports: [\"8080:80\"]\n"
                                "    environment: {A: \"1\"}\n";

static void
test_stable_and_hex(void **state)
{
    _cleanup_free_ char *a = hash_of(base);
    _cleanup_free_ char *b = hash_of(base);
    assert_int_equal(strlen(a), 64);
    assert_int_equal(strspn(a, "0123456789abcdef"), 64);
    assert_string_equal(a, b);
    /* Spelling does not matter, meaning does: the short and the long port
     * syntax, list and map environment give the same hash. */
    _cleanup_free_ char *c = hash_of("    environment: [\"A=1\"]\n"
                                     "    ports: [{target: 80, published: \"8080\"}]\n"
                                     "    image: nginx\n");
    assert_string_equal(a, c);
}

static void
test_ignored_keys(void **state)
{
    _cleanup_free_ char *a = hash_of(base);
    const char *ignored[] = {
        "    depends_on: [dep]\n",
        "    scale: 3\n",
        "    pull_policy: always\n",
        "    profiles: [extra]\n",
        "    build: {context: ., target: prod}\n",
        "    deploy: {replicas: 4}\n",
    };
    for (size_t i = 0; i < BT_ARRAY_SIZE(ignored); i++) {
        _cleanup_free_ char *body = xasprintf("%s%s", base, ignored[i]);
        _cleanup_free_ char *h = hash_of(body);
        if (strcmp(a, h) != 0)
            fail_msg("adding '%s' changed the hash", ignored[i]);
    }
}

static void
test_relevant_keys(void **state)
{
    _cleanup_free_ char *a = hash_of(base);
    const char *changed[] = {
        "    image: nginx\n    ports: [\"8081:80\"]\n    environment: {A: \"1\"}\n",
        "    image: nginx:2\n    ports: [\"8080:80\"]\n    environment: {A: \"1\"}\n",
        "    image: nginx\n    ports: [\"8080:80\"]\n    environment: {A: \"2\"}\n",
    };
    for (size_t i = 0; i < BT_ARRAY_SIZE(changed); i++) {
        _cleanup_free_ char *h = hash_of(changed[i]);
        assert_string_not_equal(a, h);
    }
    const char *added[] = {
        "    deploy: {replicas: 4, resources: {limits: {memory: 64m}}}\n",
        "    mem_limit: 64m\n",
        "    command: [\"true\"]\n",
        "    volumes: [\"/data\"]\n",
    };
    for (size_t i = 0; i < BT_ARRAY_SIZE(added); i++) {
        _cleanup_free_ char *body = xasprintf("%s%s", base, added[i]);
        _cleanup_free_ char *h = hash_of(body);
        if (strcmp(a, h) == 0)
            fail_msg("adding '%s' did not change the hash", added[i]);
    }
}

int
main(void)
{
    bt_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stable_and_hex),
        cmocka_unit_test(test_ignored_keys),
        cmocka_unit_test(test_relevant_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
