/* compose: the dotenv grammar, table-driven, and loading from a file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "compose/load-internal.h"

static char *lookup[] = {"HOME=/home/u", "OVER=from-process", "INHERIT=inherited", NULL};

struct kv {
    const char *key;
    const char *value; /* NULL: must be unset */
};

struct ok_case {
    const char *text;
    struct kv want[4];
};

static const struct ok_case ok_cases[] = {
    {"A=1", {{"A", "1"}}},
    {"A=1\nB=2\n", {{"A", "1"}, {"B", "2"}}},
    {"A = 1 \n", {{"A", "1"}}},
    {"\n\n  # comment\n# A=no\nA=yes\n", {{"A", "yes"}}},
    {"export A=1\nexport  B=2", {{"A", "1"}, {"B", "2"}}},
    {"export=1", {{"export", "1"}}},
    {"A: yaml style", {{"A", "yaml style"}}},
    {"A=", {{"A", ""}}},
    {"A=\nB=2", {{"A", ""}, {"B", "2"}}},
    /* inline comments need a blank before '#' */
    {"A=value # comment", {{"A", "value"}}},
    {"A=value#not-a-comment", {{"A", "value#not-a-comment"}}},
    {"A=#x", {{"A", "#x"}}},
    /* single quotes: verbatim */
    {"A='x $HOME \\n y'", {{"A", "x $HOME \\n y"}}},
    {"A='a # b' # c", {{"A", "a # b"}}},
    {"A='multi\nline'\nB=2", {{"A", "multi\nline"}, {"B", "2"}}},
    /* double quotes: escapes and interpolation */
    {"A=\"a\\nb\\tc\"", {{"A", "a\nb\tc"}}},
    {"A=\"say \\\"hi\\\"\"", {{"A", "say \"hi\""}}},
    {"A=\"back\\\\slash\"", {{"A", "back\\slash"}}},
    {"A=\"\\$HOME is $HOME\"", {{"A", "$HOME is /home/u"}}},
    {"A=\"\\0101\\x\"", {{"A", "A\\x"}}},
    {"A=\"multi\nline\" # comment\nB=\"${A}!\"", {{"A", "multi\nline"}, {"B", "multi\nline!"}}},
    {"A=\"a # b\"", {{"A", "a # b"}}},
    /* unquoted values are interpolated too; earlier lines are visible */
    {"A=$HOME/x", {{"A", "/home/u/x"}}},
    {"A=1\nB=${A}2\nC=${NOPE:-d}", {{"A", "1"}, {"B", "12"}, {"C", "d"}}},
    {"A=$$HOME", {{"A", "$HOME"}}},
    /* the process environment wins over earlier lines in interpolation,
     * but a line still defines its own value */
    {"OVER=file\nB=$OVER", {{"OVER", "file"}, {"B", "from-process"}}},
    /* bare names inherit from the lookup environment */
    {"INHERIT\nMISSING\nA=1", {{"INHERIT", "inherited"}, {"MISSING", NULL}, {"A", "1"}}},
    {"INHERIT", {{"INHERIT", "inherited"}}},
    /* keys */
    {"a.b-c[0]_D=1", {{"a.b-c[0]_D", "1"}}},
    {"A=1\r\nB=2\r\n", {{"A", "1"}, {"B", "2"}}},
    {"A=1\nA=2", {{"A", "2"}}},
};

static void
test_ok(void **state)
{
    (void)state;
    for (size_t i = 0; i < BT_ARRAY_SIZE(ok_cases); i++) {
        const struct ok_case *c = &ok_cases[i];
        _cleanup_strv_ char **out = NULL;
        struct bt_err *err = NULL;
        int r = compose_dotenv_parse(c->text, strlen(c->text), ".env", lookup, &out, &err);
        if (r < 0)
            fail_msg("case %zu: %s", i, err->msg);
        for (size_t j = 0; j < 4 && c->want[j].key; j++) {
            const char *got = compose_env_get(out, c->want[j].key);
            if (!bt_streq_null(got, c->want[j].value))
                fail_msg("case %zu: %s is '%s', expected '%s'", i, c->want[j].key,
                         got ? got : "(unset)", c->want[j].value ? c->want[j].value : "(unset)");
        }
    }
}

struct err_case {
    const char *text;
    const char *msg;
};

static const struct err_case err_cases[] = {
    {"A=1\nB C=2", ".env:2: key cannot contain a space"},
    {"A=1\n\nA$B=1", ".env:3: unexpected character \"$\" in variable name"},
    {"A=\"open\nB=2", ".env:1: unterminated quoted value \"open"},
    {"A=1\nB='x", ".env:2: unterminated quoted value 'x"},
    {"=1", ".env:1: missing variable name"},
    {"A=${NEED:?please set NEED}", ".env:1: required variable NEED is missing a value: please "
                                   "set NEED"},
    {"A=1\nB=${", ".env:2: invalid interpolation format"},
};

static void
test_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < BT_ARRAY_SIZE(err_cases); i++) {
        _cleanup_strv_ char **out = NULL;
        struct bt_err *err = NULL;
        const char *t = err_cases[i].text;
        int r = compose_dotenv_parse(t, strlen(t), ".env", lookup, &out, &err);
        if (r != -EINVAL)
            fail_msg("case %zu did not fail", i);
        if (!strstr(err->msg, err_cases[i].msg))
            fail_msg("case %zu: '%s' lacks '%s'", i, err->msg, err_cases[i].msg);
        bt_err_free(err);
    }
}

static void
test_appends_to_earlier_files(void **state)
{
    (void)state;
    _cleanup_strv_ char **out = NULL;
    struct bt_err *err = NULL;
    const char *a = "A=1\nB=first\n";
    const char *b = "B=second\nC=${A}${B}\n";
    assert_int_equal(compose_dotenv_parse(a, strlen(a), "a.env", NULL, &out, &err), 0);
    assert_int_equal(compose_dotenv_parse(b, strlen(b), "b.env", NULL, &out, &err), 0);
    assert_string_equal(compose_env_get(out, "A"), "1");
    assert_string_equal(compose_env_get(out, "B"), "second");
    assert_string_equal(compose_env_get(out, "C"), "1second");
}

static void
test_load_file(void **state)
{
    (void)state;
    const char *src = getenv("BERTH_SOURCE_DIR");
    _cleanup_free_ char *path =
        xasprintf("%s/tests/fixtures/compose/load/dotenv/all.env", src ? src : ".");
    _cleanup_strv_ char **out = NULL;
    struct bt_err *err = NULL;
    int r = compose_dotenv_load(path, lookup, &out, &err);
    if (r < 0)
        fail_msg("%s", err->msg);
    assert_string_equal(compose_env_get(out, "PLAIN"), "value");
    assert_string_equal(compose_env_get(out, "EXPORTED"), "yes");
    assert_string_equal(compose_env_get(out, "COMMENTED"), "kept");
    assert_string_equal(compose_env_get(out, "SINGLE"), "no $HOME here");
    assert_string_equal(compose_env_get(out, "DOUBLE"), "home is /home/u");
    assert_string_equal(compose_env_get(out, "MULTI"), "line one\nline two");
    assert_string_equal(compose_env_get(out, "REF"), "value-yes");
    assert_string_equal(compose_env_get(out, "INHERIT"), "inherited");
    assert_null(compose_env_get(out, "NOT_IN_ENV"));

    struct bt_err *e2 = NULL;
    _cleanup_strv_ char **o2 = NULL;
    assert_int_equal(compose_dotenv_load("/nonexistent/.env", NULL, &o2, &e2), -ENOENT);
    assert_non_null(strstr(e2->msg, "/nonexistent/.env"));
    bt_err_free(e2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_appends_to_earlier_files),
        cmocka_unit_test(test_load_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
