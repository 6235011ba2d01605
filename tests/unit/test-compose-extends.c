/* compose: extends within a file, from other files (with relative paths
 * rebased), chains, cycles and missing services. Fixtures in
 * tests/fixtures/compose/load/extends. */
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
    return xasprintf("%s/tests/fixtures/compose/load/extends", base);
}

static struct cnode *
load(const char *file, struct bt_err **err)
{
    _cleanup_free_ char *dir = fixture_dir();
    struct compose_sources src = {.project_dir = xstrdup(dir)};
    src.files = bt_strv_push_take(NULL, xasprintf("%s/%s", dir, file));
    src.env = xcalloc(1, sizeof(char *));
    struct cnode *n = compose_files_load(&src, true, err);
    compose_sources_done(&src);
    return n;
}

static char *
emit_service(const struct cnode *root, const char *name)
{
    const struct cnode *svc = cnode_map_get(cnode_map_get(root, "services"), name);
    assert_non_null(svc);
    return compose_yaml_emit(svc);
}

static void
test_same_file_and_chain(void **state)
{
    (void)state;
    struct bt_err *err = NULL;
    _cleanup_cnode_ struct cnode *n = load("compose.yaml", &err);
    if (!n)
        fail_msg("%s", err->msg);
    _cleanup_free_ char *web = emit_service(n, "web");
    assert_string_equal(web, "image: busybox\n"
                             "environment:\n"
                             "  A: \"1\"\n"
                             "  B: \"2\"\n"
                             "command:\n"
                             "- sleep\n"
                             "- \"2\"\n"
                             "ports:\n"
                             "- \"80\"\n"
                             "- \"81\"\n");
    _cleanup_free_ char *chain = emit_service(n, "chain");
    assert_string_equal(chain, "image: busybox\n"
                               "environment:\n"
                               "  A: \"1\"\n"
                               "  B: \"2\"\n"
                               "command:\n"
                               "- sleep\n"
                               "- \"2\"\n"
                               "ports:\n"
                               "- \"80\"\n"
                               "- \"81\"\n"
                               "labels:\n"
                               "- tier=front\n");
    /* The base itself is unchanged. */
    _cleanup_free_ char *base = emit_service(n, "base");
    assert_non_null(strstr(base, "- \"1\"\n"));
}

static void
test_other_file_rebases_paths(void **state)
{
    (void)state;
    struct bt_err *err = NULL;
    _cleanup_cnode_ struct cnode *n = load("compose.yaml", &err);
    if (!n)
        fail_msg("%s", err->msg);
    _cleanup_free_ char *d = fixture_dir();
    _cleanup_free_ char *got = emit_service(n, "remote");
    _cleanup_free_ char *want = xasprintf("image: core\n"
                                          "volumes:\n"
                                          "- %s/shared:/shared\n"
                                          "- ./local:/data\n"
                                          "- named:/named\n"
                                          "- type: bind\n"
                                          "  source: %s/common/conf\n"
                                          "  target: /conf\n"
                                          "environment:\n"
                                          "- CORE=1\n"
                                          "build: %s/common/app\n"
                                          "env_file: %s/common/app.env\n"
                                          "ports:\n"
                                          "- \"80\"\n"
                                          "- 8080:80\n",
                                          d, d, d, d);
    assert_string_equal(got, want);
    /* Positions still name the file each value came from. */
    const struct cnode *img =
        cnode_map_get(cnode_map_get(cnode_map_get(n, "services"), "remote"), "image");
    assert_true(bt_str_endswith(img->file, "/more/more.yaml"));
    assert_int_equal(img->line, 3);
}

static void
test_errors(void **state)
{
    (void)state;
    struct {
        const char *file;
        const char *msg;
    } cases[] = {
        {"cycle.yaml", "circular reference with extends: a -> b -> c -> a"},
        {"cross-a.yaml", "circular reference with extends: one -> two -> one"},
        {"missing.yaml", "missing.yaml:5:14: cannot extend service \"nope\" in "},
    };
    for (size_t i = 0; i < BT_ARRAY_SIZE(cases); i++) {
        struct bt_err *err = NULL;
        struct cnode *n = load(cases[i].file, &err);
        if (n)
            fail_msg("%s loaded", cases[i].file);
        if (!strstr(err->msg, cases[i].msg))
            fail_msg("%s: '%s' lacks '%s'", cases[i].file, err->msg, cases[i].msg);
        bt_err_free(err);
    }
}

static void
test_inline_forms(void **state)
{
    (void)state;
    struct bt_err *err = NULL;
    const char *y = "services:\n"
                    "  a:\n"
                    "    image: a\n"
                    "    volumes_from: [x]\n"
                    "  b:\n"
                    "    extends:\n"
                    "      service: a\n"
                    "    image: b\n"
                    "    volumes_from: [y]\n"
                    "  c:\n"
                    "    extends: 3\n";
    _cleanup_cnode_ struct cnode *root = compose_yaml_parse(y, strlen(y), "/p/c.yaml", &err);
    assert_non_null(root);
    /* A name that is not a service is an error at its position. */
    assert_int_equal(compose_extends_apply(root, "/p", NULL, true, &err), -ENOENT);
    assert_non_null(strstr(err->msg, "/p/c.yaml:11:14: cannot extend service \"3\""));
    bt_err_free(err);
    err = NULL;
    cnode_map_del(cnode_map_get(root, "services"), "c");
    assert_int_equal(compose_extends_apply(root, "/p", NULL, true, &err), 0);
    _cleanup_free_ char *b = emit_service(root, "b");
    assert_string_equal(b, "image: b\nvolumes_from:\n- x\n- y\n");
}

static void
test_reset_and_override(void **state)
{
    (void)state;
    struct bt_err *err = NULL;
    _cleanup_cnode_ struct cnode *n = load("reset.yaml", &err);
    if (!n)
        fail_msg("%s", err->msg);
    _cleanup_free_ char *child = emit_service(n, "child");
    assert_string_equal(child, "image: a\n"
                               "environment:\n"
                               "- C=3\n"
                               "command:\n"
                               "- y\n");
}

static void
test_other_file_read_once(void **state)
{
    (void)state;
    char log[] = "/tmp/berth-test-extends-log-XXXXXX";
    int fd = mkstemp(log);
    assert_true(fd >= 0);
    bt_log_set_fd(fd);
    struct bt_err *err = NULL;
    _cleanup_cnode_ struct cnode *n = load("twice.yaml", &err);
    bt_log_set_fd(-1);
    close(fd);
    _cleanup_free_ char *text = bt_file_read_all(log, NULL, NULL);
    unlink(log);
    if (!n)
        fail_msg("%s", err->msg);
    const struct cnode *s = cnode_map_get(n, "services");
    assert_string_equal(cnode_map_get(cnode_map_get(s, "one"), "image")->value, "app:");
    assert_string_equal(cnode_map_get(cnode_map_get(s, "two"), "image")->value, "app:");
    /* Both services extend the same file: it is read, and warned about, once. */
    const char *w = "The \"BERTH_TEST_UNSET_TAG\" variable is not set";
    const char *first = strstr(text, w);
    assert_non_null(first);
    assert_null(strstr(first + 1, w));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_file_and_chain),
        cmocka_unit_test(test_other_file_rebases_paths),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_inline_forms),
        cmocka_unit_test(test_reset_and_override),
        cmocka_unit_test(test_other_file_read_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
