/* compose: interpolation of ${VAR} forms, table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "compose/load-internal.h"

static char *env[] = {"FOO=foo", "EMPTY=", "NUM=8080", "NESTED=${FOO}", "_u1=u", "X=x", NULL};

struct ok_case {
    const char *in;
    const char *out;
};

static const struct ok_case ok_cases[] = {
    {"plain", "plain"},
    {"", ""},
    {"$FOO", "foo"},
    {"${FOO}", "foo"},
    {"a${FOO}b", "afoob"},
    {"$FOO-bar", "foo-bar"},
    {"$FOO.bar", "foo.bar"},
    {"$_u1$X", "ux"},
    {"${NUM}:80", "8080:80"},
    {"$UNSET", ""},
    {"${UNSET}", ""},
    {"x${UNSET}y", "xy"},
    /* :- and - */
    {"${UNSET:-def}", "def"},
    {"${EMPTY:-def}", "def"},
    {"${FOO:-def}", "foo"},
    {"${UNSET-def}", "def"},
    {"${EMPTY-def}", ""},
    {"${FOO-def}", "foo"},
    {"${UNSET:-}", ""},
    {"${UNSET:-a b:c}", "a b:c"},
    {"${UNSET:-a-b}", "a-b"},
    {"${UNSET-a:-b}", "a:-b"},
    /* :+ and + */
    {"${FOO:+alt}", "alt"},
    {"${EMPTY:+alt}", ""},
    {"${UNSET:+alt}", ""},
    {"${FOO+alt}", "alt"},
    {"${EMPTY+alt}", "alt"},
    {"${UNSET+alt}", ""},
    /* ? and :? when set */
    {"${FOO:?err}", "foo"},
    {"${FOO?err}", "foo"},
    {"${EMPTY?err}", ""},
    /* nesting */
    {"${UNSET:-${FOO}}", "foo"},
    {"${UNSET:-${UNSET2:-x}}", "x"},
    {"${A:-${B:-x}}", "x"},
    {"${UNSET:-${UNSET2:-${FOO}}}-end", "foo-end"},
    {"${FOO:+[${NUM}]}", "[8080]"},
    {"${UNSET:-{a}}", "{a}"},
    {"${UNSET:-$FOO}", "foo"},
    /* values are not re-interpolated */
    {"${NESTED}", "${FOO}"},
    /* $$ */
    {"$$", "$"},
    {"$$FOO", "$FOO"},
    {"$${FOO}", "${FOO}"},
    {"a$$$FOO", "a$foo"},
    {"${UNSET:-$$}", "$"},
    {"echo $$HOME", "echo $HOME"},
    /* braces and dollars elsewhere are literal */
    {"}{", "}{"},
    {"100%", "100%"},
};

static void
test_ok(void **state)
{
    (void)state;
    for (size_t i = 0; i < BT_ARRAY_SIZE(ok_cases); i++) {
        struct bt_err *err = NULL;
        _cleanup_free_ char *out = NULL;
        int r = compose_interpolate_string(ok_cases[i].in, env, "t", &out, NULL, &err);
        if (r < 0)
            fail_msg("'%s': %s", ok_cases[i].in, err->msg);
        if (strcmp(out, ok_cases[i].out) != 0)
            fail_msg("'%s' gave '%s', expected '%s'", ok_cases[i].in, out, ok_cases[i].out);
    }
}

struct err_case {
    const char *in;
    const char *msg; /* substring of the error */
};

static const struct err_case err_cases[] = {
    {"${UNSET:?need it}",
     "compose.yaml:3:12: services.web.image: required variable UNSET is missing a value: need it"},
    {"${EMPTY:?must not be empty}",
     "required variable EMPTY is missing a value: must not be empty"},
    {"${UNSET?}", "required variable UNSET is missing a value"},
    {"${UNSET?set ${FOO}}", "required variable UNSET is missing a value: set foo"},
    {"${UNSET:-${OTHER:?nested}}", "required variable OTHER is missing a value: nested"},
    {"${FOO", "invalid interpolation format \"${FOO\": \"${\" is not closed"},
    {"${", "\"${\" is not closed"},
    {"${FOO:-x", "\"${\" is not closed"},
    {"${FOO:-${BAR}", "\"${\" is not closed"},
    {"${}", "must be followed by a variable name"},
    {"${1}", "must be followed by a variable name"},
    {"${FOO bar}", "expected '}' or an operator"},
    {"${FOO:x}", "expected '-', '?' or '+' after ':'"},
    {"$", "\"$\" must be followed by a name"},
    {"cost: 5$", "must be followed by a name"},
    {"$1", "must be followed by a name"},
    {"$ FOO", "escape any $ with another $"},
};

static void
test_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < BT_ARRAY_SIZE(err_cases); i++) {
        struct bt_err *err = NULL;
        char *out = NULL;
        int r = compose_interpolate_string(
            err_cases[i].in, env, "compose.yaml:3:12: services.web.image", &out, NULL, &err);
        if (r != -EINVAL)
            fail_msg("'%s' did not fail (%d)", err_cases[i].in, r);
        assert_null(out);
        assert_non_null(err);
        if (!strstr(err->msg, err_cases[i].msg))
            fail_msg("'%s': error '%s' lacks '%s'", err_cases[i].in, err->msg, err_cases[i].msg);
        assert_true(bt_str_startswith(err->msg, "compose.yaml:3:12: services.web.image: "));
        bt_err_free(err);
    }
}

static void
test_unset_collected_once(void **state)
{
    (void)state;
    _cleanup_strv_ char **unset = NULL;
    _cleanup_free_ char *out = NULL;
    struct bt_err *err = NULL;
    assert_int_equal(compose_interpolate_string("$A ${A} ${B:-x} ${C:-$D} ${FOO:-$E} ${C+$F}", env,
                                                "t", &out, &unset, &err),
                     0);
    assert_string_equal(out, "  x  foo ");
    /* B and C have defaults, E and F are never evaluated. */
    assert_int_equal(bt_strv_length(unset), 2);
    assert_string_equal(unset[0], "A");
    assert_string_equal(unset[1], "D");
}

static void
test_tree(void **state)
{
    (void)state;
    const char *y = "services:\n"
                    "  web:\n"
                    "    image: \"nginx:${TAG:-latest}\"\n"
                    "    ports:\n"
                    "      - ${NUM}:80\n"
                    "      - 443\n"
                    "    ${FOO}: $$keep\n"
                    "    environment:\n"
                    "      EMPTY: ${EMPTY}\n";
    struct bt_err *err = NULL;
    _cleanup_cnode_ struct cnode *root = compose_yaml_parse(y, strlen(y), "compose.yaml", &err);
    assert_non_null(root);
    assert_int_equal(compose_interpolate_tree(root, env, &err), 0);
    struct cnode *web = cnode_map_get(cnode_map_get(root, "services"), "web");
    assert_string_equal(cnode_map_get(web, "image")->value, "nginx:latest");
    struct cnode *ports = cnode_map_get(web, "ports");
    assert_string_equal(ports->items[0]->value, "8080:80");
    assert_int_equal(cnode_type(ports->items[0]), CNODE_T_STRING);
    assert_int_equal(cnode_type(ports->items[1]), CNODE_T_INT);
    /* Keys are not interpolated; values are, and keep their position. */
    struct cnode *k = cnode_map_get(web, "${FOO}");
    assert_non_null(k);
    assert_string_equal(k->value, "$keep");
    struct cnode *e = cnode_map_get(cnode_map_get(web, "environment"), "EMPTY");
    assert_string_equal(e->value, "");
    /* An empty substitution is an empty string, not null. */
    assert_int_equal(cnode_type(e), CNODE_T_STRING);
    assert_int_equal(e->line, 9);
}

static void
test_tree_error_names_path(void **state)
{
    (void)state;
    const char *y = "services:\n"
                    "  web:\n"
                    "    ports:\n"
                    "      - \"80\"\n"
                    "      - ${PORT:?set PORT}\n";
    struct bt_err *err = NULL;
    _cleanup_cnode_ struct cnode *root = compose_yaml_parse(y, strlen(y), "compose.yaml", &err);
    assert_non_null(root);
    assert_int_equal(compose_interpolate_tree(root, env, &err), -EINVAL);
    assert_string_equal(err->msg, "compose.yaml:5:9: services.web.ports[1]: required variable "
                                  "PORT is missing a value: set PORT");
    bt_err_free(err);
}

static void
test_tree_warns_once_per_unset_variable(void **state)
{
    (void)state;
    const char *y = "services:\n"
                    "  a:\n"
                    "    image: ${MISSING}\n"
                    "    command: echo $MISSING ${ALSO_MISSING} ${DEFAULTED:-x}\n";
    struct bt_err *err = NULL;
    _cleanup_cnode_ struct cnode *root = compose_yaml_parse(y, strlen(y), "compose.yaml", &err);
    assert_non_null(root);
    char path[] = "/tmp/berth-test-interp-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    bt_log_set_fd(fd);
    int r = compose_interpolate_tree(root, env, &err);
    bt_log_set_fd(-1);
    close(fd);
    assert_int_equal(r, 0);
    size_t len = 0;
    _cleanup_free_ char *log = bt_file_read_all(path, &len, NULL);
    unlink(path);
    assert_non_null(log);
    assert_string_equal(log, "berth: warning: The \"MISSING\" variable is not set. Defaulting "
                             "to a blank string.\n"
                             "berth: warning: The \"ALSO_MISSING\" variable is not set. "
                             "Defaulting to a blank string.\n");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_unset_collected_once),
        cmocka_unit_test(test_tree),
        cmocka_unit_test(test_tree_error_names_path),
        cmocka_unit_test(test_tree_warns_once_per_unset_variable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
