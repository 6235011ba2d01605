/* compose: KEY=VALUE environment vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "compose/load-internal.h"

static void
test_get_last_wins(void **state)
{
    (void)state;
    char *env[] = {"A=1", "B=", "A=2", "AB=x", "C", NULL};
    assert_string_equal(compose_env_get(env, "A"), "2");
    assert_string_equal(compose_env_get(env, "B"), "");
    assert_string_equal(compose_env_get(env, "AB"), "x");
    /* An entry without '=' defines nothing; a prefix is not a match. */
    assert_null(compose_env_get(env, "C"));
    assert_null(compose_env_get(env, "D"));
    assert_null(compose_env_get(env, ""));
    assert_null(compose_env_get(NULL, "A"));
}

static void
test_set_replaces(void **state)
{
    (void)state;
    _cleanup_strv_ char **env = NULL;
    compose_env_set(&env, "A", "1");
    compose_env_set(&env, "B", "two=2");
    compose_env_set(&env, "A", "3");
    assert_int_equal(bt_strv_length(env), 2);
    assert_string_equal(env[0], "A=3");
    assert_string_equal(compose_env_get(env, "B"), "two=2");
    /* Duplicates in a vector collapse into the replaced entry. */
    env = bt_strv_push(env, "A=4");
    compose_env_set(&env, "A", "5");
    assert_int_equal(bt_strv_length(env), 2);
    assert_string_equal(compose_env_get(env, "A"), "5");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_last_wins),
        cmocka_unit_test(test_set_replaces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
