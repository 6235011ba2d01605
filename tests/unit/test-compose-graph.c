/* compose: the dependency graph (start order, parallel layers, cycles,
 * missing and disabled services). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "compose/model-internal.h"

static struct compose_project *
load(const char *yaml, struct bt_err **err)
{
    _cleanup_cnode_ struct cnode *root =
        compose_yaml_parse(yaml, strlen(yaml), "compose.yaml", err);
    assert_non_null(root);
    return compose_project_from_tree(root, "g", "/srv/g", NULL, err);
}

/* "a b | c | d": the layers, names in order, separated by " | ". */
static char *
layers(const struct compose_project *p)
{
    struct bt_buf b = {0};
    for (size_t l = 0; l < p->n_layers; l++) {
        if (l)
            bt_buf_puts(&b, " | ");
        for (size_t k = p->layer_start[l]; k < p->layer_start[l + 1]; k++)
            bt_buf_printf(&b, "%s%s", k > p->layer_start[l] ? " " : "",
                          p->services[p->order[k]].name);
    }
    return bt_buf_steal(&b);
}

static void
test_layers(void **state)
{
    struct bt_err *err = NULL;
    _cleanup_project_ struct compose_project *p =
        load("services:\n"
             "  web: {image: x, depends_on: {api: {condition: service_healthy}}, "
             "links: [\"cache:redis\"]}\n"
             "  api: {image: x, depends_on: [db, queue]}\n"
             "  db: {image: x}\n"
             "  queue: {image: x, network_mode: \"service:db\"}\n"
             "  cache: {image: x, volumes_from: [\"db:ro\"], ipc: \"service:queue\"}\n"
             "  lone: {image: x, pid: host, volumes_from: [\"container:other\"]}\n",
             &err);
    if (err)
        fail_msg("%s", err->msg);
    _cleanup_free_ char *l = layers(p);
    assert_string_equal(l, "db lone | queue | api cache | web");
    assert_int_equal(p->n_layers, 4);

    _cleanup_strv_ char **deps = compose_service_dependencies(compose_project_service(p, "web"));
    _cleanup_free_ char *joined = bt_strv_join(deps, ",");
    assert_string_equal(joined, "api,cache");
    _cleanup_strv_ char **cdeps = compose_service_dependencies(compose_project_service(p, "cache"));
    _cleanup_free_ char *cj = bt_strv_join(cdeps, ",");
    assert_string_equal(cj, "db,queue");
}

static void
test_empty_and_optional(void **state)
{
    struct bt_err *err = NULL;
    _cleanup_project_ struct compose_project *p = load("services: {}\n", &err);
    assert_non_null(p);
    assert_int_equal(p->n_services, 0);
    assert_int_equal(p->n_layers, 0);

    /* depends_on ... required: false on a missing service is left out. */
    _cleanup_project_ struct compose_project *q =
        load("services:\n"
             "  a: {image: x, depends_on: {gone: {condition: service_started, required: false}}}\n",
             &err);
    if (err)
        fail_msg("%s", err->msg);
    assert_int_equal(q->n_layers, 1);
}

static void
expect_error(const char *yaml, const char *msg)
{
    struct bt_err *err = NULL;
    struct compose_project *p = load(yaml, &err);
    assert_null(p);
    assert_non_null(err);
    if (strcmp(err->msg, msg) != 0)
        fail_msg("got '%s', want '%s'", err->msg, msg);
    bt_err_free(err);
}

static void
test_cycles(void **state)
{
    expect_error("services:\n"
                 "  a: {image: x, depends_on: [b]}\n"
                 "  b: {image: x, depends_on: [c]}\n"
                 "  c: {image: x, depends_on: [a]}\n"
                 "  d: {image: x}\n",
                 "dependency cycle between services: a -> b -> c -> a");
    expect_error("services:\n"
                 "  a: {image: x}\n"
                 "  b: {image: x, depends_on: [a, c]}\n"
                 "  c: {image: x, network_mode: \"service:d\"}\n"
                 "  d: {image: x, volumes_from: [c]}\n",
                 "dependency cycle between services: c -> d -> c");
    expect_error("services:\n  a: {image: x, links: [a]}\n",
                 "dependency cycle between services: a -> a");
}

static void
test_missing_and_disabled(void **state)
{
    expect_error("services:\n  a: {image: x, network_mode: \"service:ghost\"}\n",
                 "compose.yaml:2:31: services.a.network_mode: service 'a' depends on undefined "
                 "service 'ghost'");
    struct bt_err *err = NULL;
    const char *yaml = "services:\n  a: {image: x, depends_on: [db]}\n";
    _cleanup_cnode_ struct cnode *root = compose_yaml_parse(yaml, strlen(yaml), "c.yaml", &err);
    _cleanup_project_ struct compose_project *p = compose_project_new();
    p->name = xstrdup("g");
    p->working_dir = xstrdup("/srv/g");
    p->environment = xcalloc(1, sizeof(char *));
    p->disabled_services = bt_strv_push(NULL, "db");
    assert_true(compose_normalize(root, p, &err) < 0);
    assert_string_equal(err->msg, "c.yaml:2:30: services.a.depends_on: service 'a' depends on "
                                  "service 'db', which the active profiles disable (enable its "
                                  "profile with --profile)");
    bt_err_free(err);
}

static void
test_large_chain(void **state)
{
    /* 1000 services in one chain: one per layer, in chain order. */
    struct bt_buf y = {0};
    bt_buf_puts(&y, "services:\n");
    for (int i = 0; i < 1000; i++) {
        if (i)
            bt_buf_printf(&y, "  s%04d: {image: x, depends_on: [s%04d]}\n", i, i - 1);
        else
            bt_buf_printf(&y, "  s%04d: {image: x}\n", i);
    }
    struct bt_err *err = NULL;
    _cleanup_project_ struct compose_project *p = load(y.data, &err);
    bt_buf_done(&y);
    if (err)
        fail_msg("%s", err->msg);
    assert_int_equal(p->n_layers, 1000);
    for (size_t i = 0; i < 1000; i++) {
        char name[8];
        snprintf(name, sizeof(name), "s%04zu", i);
        assert_string_equal(p->services[p->order[i]].name, name);
    }
}

int
main(void)
{
    bt_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layers),      cmocka_unit_test(test_empty_and_optional),
        cmocka_unit_test(test_cycles),      cmocka_unit_test(test_missing_and_disabled),
        cmocka_unit_test(test_large_chain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
