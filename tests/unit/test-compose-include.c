/* compose: include (paths, lists of files, env_file, the included
 * project's .env, relative paths, conflicts, cycles). Fixtures in
 * tests/fixtures/compose/load/include. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "compose/load-internal.h"

static char *
fixture_dir(void)
{
    const char *src = getenv("BERTH_SOURCE_DIR");
    _cleanup_free_ char *cwd = getcwd(NULL, 0);
    _cleanup_free_ char *base = bt_path_absolute(cwd, src ? src : ".");
    return xasprintf("%s/tests/fixtures/compose/load/include", base);
}

static struct cnode *
load(const char *file, char *const *env, struct bt_err **err)
{
    _cleanup_free_ char *dir = fixture_dir();
    struct compose_sources src = {.project_dir = xstrdup(dir)};
    src.files = bt_strv_push_take(NULL, xasprintf("%s/%s", dir, file));
    src.env = bt_strv_copy(env);
    struct cnode *n = compose_files_load(&src, true, err);
    compose_sources_done(&src);
    return n;
}

static void
test_include(void **state)
{
    (void)state;
    struct bt_err *err = NULL;
    char *env[] = {NULL};
    _cleanup_cnode_ struct cnode *n = load("compose.yaml", env, &err);
    if (!n)
        fail_msg("%s", err->msg);
    _cleanup_free_ char *d = fixture_dir();
    _cleanup_free_ char *got = compose_yaml_emit(n);
    _cleanup_free_ char *want = xasprintf("services:\n"
                                          "  web:\n"
                                          "    image: web\n"
                                          "    depends_on:\n"
                                          "    - db\n"
                                          "  db:\n"
                                          "    image: postgres:16\n"
                                          "    volumes:\n"
                                          "    - %s/sub/initdb:/docker-entrypoint-initdb.d\n"
                                          "    - dbdata:/var/lib/postgresql/data\n"
                                          "    env_file: %s/sub/db.env\n"
                                          "  api:\n"
                                          "    image: api:1\n"
                                          "    build:\n"
                                          "      context: %s/other/api\n"
                                          "    environment:\n"
                                          "    - X=1\n"
                                          "volumes:\n"
                                          "  dbdata: {}\n"
                                          "secrets:\n"
                                          "  token:\n"
                                          "    file: %s/other/token.txt\n",
                                          d, d, d, d);
    assert_string_equal(got, want);
}

static void
test_including_environment_wins(void **state)
{
    (void)state;
    struct bt_err *err = NULL;
    char *env[] = {"PGTAG=17", "API_IMAGE=mine", NULL};
    _cleanup_cnode_ struct cnode *n = load("compose.yaml", env, &err);
    if (!n)
        fail_msg("%s", err->msg);
    const struct cnode *s = cnode_map_get(n, "services");
    assert_string_equal(cnode_map_get(cnode_map_get(s, "db"), "image")->value, "postgres:17");
    assert_string_equal(cnode_map_get(cnode_map_get(s, "api"), "image")->value, "mine");
}

static void
test_project_directory(void **state)
{
    (void)state;
    struct bt_err *err = NULL;
    char *env[] = {NULL};
    _cleanup_cnode_ struct cnode *n = load("pd.yaml", env, &err);
    if (!n)
        fail_msg("%s", err->msg);
    _cleanup_free_ char *d = fixture_dir();
    /* Relative paths and the default .env follow project_directory, not
     * the included file's directory (sub/.env would set PGTAG=16). */
    _cleanup_free_ char *got = compose_yaml_emit(cnode_map_get(cnode_map_get(n, "services"), "db"));
    _cleanup_free_ char *want = xasprintf("image: postgres:15\n"
                                          "volumes:\n"
                                          "- %s/other/initdb:/docker-entrypoint-initdb.d\n"
                                          "- dbdata:/var/lib/postgresql/data\n"
                                          "env_file: %s/other/db.env\n",
                                          d, d);
    assert_string_equal(got, want);
}

static void
test_identical_duplicate_is_fine(void **state)
{
    (void)state;
    struct bt_err *err = NULL;
    char *env[] = {NULL};
    _cleanup_cnode_ struct cnode *n = load("same.yaml", env, &err);
    if (!n)
        fail_msg("%s", err->msg);
    assert_non_null(cnode_map_get(cnode_map_get(n, "volumes"), "dbdata"));
    assert_non_null(cnode_map_get(cnode_map_get(n, "services"), "db"));
}

static void
test_errors(void **state)
{
    (void)state;
    struct {
        const char *file;
        const char *msg;
    } cases[] = {
        {"conflict.yaml", "conflict.yaml:4:3: services.db conflicts with the one imported from "},
        {"loop/a.yaml", "include cycle detected: "},
        {"missing.yaml", "missing.yaml:5:5: include: open '"},
    };
    for (size_t i = 0; i < BT_ARRAY_SIZE(cases); i++) {
        struct bt_err *err = NULL;
        char *env[] = {NULL};
        struct cnode *n = load(cases[i].file, env, &err);
        if (n)
            fail_msg("%s loaded", cases[i].file);
        if (!strstr(err->msg, cases[i].msg))
            fail_msg("%s: '%s' lacks '%s'", cases[i].file, err->msg, cases[i].msg);
        bt_err_free(err);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_include),
        cmocka_unit_test(test_including_environment_wins),
        cmocka_unit_test(test_project_directory),
        cmocka_unit_test(test_identical_duplicate_is_fine),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
