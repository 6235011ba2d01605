/* compose: compose_project_load(), the whole pipeline from files on disk
 * to the typed project. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "compose/model-internal.h"

static char dir[64];

static void
put(const char *name, const char *text)
{
    _cleanup_free_ char *path = bt_path_join(dir, name);
    struct bt_err *err = NULL;
    assert_int_equal(bt_file_write_atomic(path, text, strlen(text), 0644, &err), 0);
}

static int
setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/berth-project-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int
teardown(void **state)
{
    assert_int_equal(bt_rm_rf(dir, NULL), 0);
    return 0;
}

static void
test_pipeline(void **state)
{
    put("compose.yaml", "name: shop\n"
                        "services:\n"
                        "  web:\n"
                        "    image: nginx:${TAG:-latest}\n"
                        "    ports: [\"${PORT}:80\"]\n"
                        "    depends_on: [api]\n"
                        "  api:\n"
                        "    image: api\n"
                        "    environment: [SECRET]\n"
                        "  debug:\n"
                        "    image: busybox\n"
                        "    profiles: [debug]\n");
    put("compose.override.yaml", "services:\n"
                                 "  api:\n"
                                 "    mem_limit: 128m\n");
    put(".env", "PORT=8081\nTAG=1.25\nSECRET=from-dotenv\n");
    char *env[] = {"TAG=1.27", NULL};
    struct compose_options opts = {.workdir = dir, .environ = env};
    struct bt_err *err = NULL;
    _cleanup_project_ struct compose_project *p = compose_project_load(&opts, &err);
    if (err)
        fail_msg("%s", err->msg);
    assert_string_equal(p->name, "shop");
    assert_string_equal(p->working_dir, dir);
    assert_int_equal(bt_strv_length(p->config_files), 2);
    assert_int_equal(p->n_services, 2); /* debug is disabled */
    assert_true(bt_strv_contains(p->disabled_services, "debug"));
    assert_true(bt_strv_contains(p->profiles, "debug"));
    const struct compose_service *web = compose_project_service(p, "web");
    /* The process environment wins over .env. */
    assert_string_equal(web->image, "nginx:1.27");
    assert_string_equal(web->ports[0].published, "8081");
    const struct compose_service *api = compose_project_service(p, "api");
    assert_int_equal(api->mem_limit, 128LL << 20);
    assert_string_equal(compose_kvs_get(&api->environment, "SECRET"), "from-dotenv");
    assert_string_equal(compose_project_network(p, "default")->name, "shop_default");
    assert_string_equal(p->services[p->order[0]].name, "api");

    /* With the profile, debug is in. */
    char *profiles[] = {"debug", NULL};
    opts.profiles = profiles;
    _cleanup_project_ struct compose_project *q = compose_project_load(&opts, &err);
    if (err)
        fail_msg("%s", err->msg);
    assert_int_equal(q->n_services, 3);
    assert_int_equal(bt_strv_length(q->disabled_services), 0);

    /* -p wins over name:. */
    opts.project_name = "other";
    _cleanup_project_ struct compose_project *r = compose_project_load(&opts, &err);
    assert_non_null(r);
    assert_string_equal(r->name, "other");
    assert_string_equal(compose_project_network(r, "default")->name, "other_default");
}

static void
test_errors(void **state)
{
    struct compose_options opts = {.workdir = dir};
    struct bt_err *err = NULL;
    put("compose.yaml", "services:\n"
                        "  web:\n"
                        "    image: nginx\n"
                        "    ports: [\"80\", \"8080:80:90\"]\n");
    assert_null(compose_project_load(&opts, &err));
    assert_non_null(err);
    _cleanup_free_ char *want =
        xasprintf("%s/compose.yaml:4:19: services.web.ports[1]: invalid port '8080:80:90'", dir);
    if (!strstr(err->msg, want))
        fail_msg("got '%s'", err->msg);
    err = bt_err_free(err);

    put("compose.yaml", "services:\n"
                        "  web:\n"
                        "    image: nginx\n"
                        "    depends_on: [db]\n"
                        "  db:\n"
                        "    image: pg\n"
                        "    links: [web]\n");
    assert_null(compose_project_load(&opts, &err));
    assert_non_null(err);
    assert_non_null(strstr(err->msg, "dependency cycle between services: db -> web -> db"));
    err = bt_err_free(err);

    char *services[] = {"nope", NULL};
    put("compose.yaml", "services:\n  web:\n    image: nginx\n");
    opts.services = services;
    assert_null(compose_project_load(&opts, &err));
    assert_non_null(err);
    assert_non_null(strstr(err->msg, "nope"));
    bt_err_free(err);
}

int
main(void)
{
    bt_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pipeline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
