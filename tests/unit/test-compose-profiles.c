/* compose: profiles (--profile, COMPOSE_PROFILES, "*", services named on
 * the command line and what they need). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "compose/load-internal.h"

static const char *stack = "services:\n"
                           "  web:\n"
                           "    image: web\n"
                           "    depends_on: [cache]\n"
                           "  cache:\n"
                           "    image: redis\n"
                           "  mock:\n"
                           "    image: mock\n"
                           "    profiles: [dev]\n"
                           "    depends_on:\n"
                           "      db:\n"
                           "        condition: service_healthy\n"
                           "  db:\n"
                           "    image: db\n"
                           "    profiles: [dev, debug]\n"
                           "  admin:\n"
                           "    image: admin\n"
                           "    profiles: [debug]\n"
                           "    links: [\"db:database\"]\n"
                           "  tool:\n"
                           "    image: tool\n"
                           "    profiles: [tools]\n"
                           "    network_mode: service:net\n"
                           "    volumes_from: [data:ro]\n"
                           "  net:\n"
                           "    image: net\n"
                           "    profiles: [never]\n"
                           "  data:\n"
                           "    image: data\n"
                           "    profiles: [never]\n"
                           "  opt:\n"
                           "    image: opt\n"
                           "    depends_on:\n"
                           "      mock:\n"
                           "        condition: service_started\n"
                           "        required: false\n";

static char *
enabled_after(char *const *profiles, char *const *explicit, struct bt_err **err)
{
    _cleanup_cnode_ struct cnode *root = compose_yaml_parse(stack, strlen(stack), "c.yaml", err);
    assert_non_null(root);
    if (compose_profiles_apply(root, profiles, explicit, err) < 0)
        return NULL;
    const struct cnode *s = cnode_map_get(root, "services");
    struct bt_buf b = {0};
    bt_buf_puts(&b, "");
    for (size_t i = 0; i < s->n; i++)
        bt_buf_printf(&b, "%s%s", i ? " " : "", s->keys[i]->value);
    /* The optional dependency on a disabled service is dropped. */
    const struct cnode *opt = cnode_map_get(s, "opt");
    if (opt && !cnode_map_get(s, "mock"))
        assert_null(cnode_map_get(cnode_map_get(opt, "depends_on"), "mock"));
    return bt_buf_steal(&b);
}

struct pcase {
    char *profiles[4];
    char *explicit[4];
    const char *want;
};

static const struct pcase cases[] = {
    {{NULL}, {NULL}, "web cache opt"},
    {{"dev"}, {NULL}, "web cache mock db opt"},
    {{"debug"}, {NULL}, "web cache db admin opt"},
    {{"dev", "debug"}, {NULL}, "web cache mock db admin opt"},
    {{"*"}, {NULL}, "web cache mock db admin tool net data opt"},
    {{"unknown"}, {NULL}, "web cache opt"},
    /* Named on the command line: enabled with what it needs. */
    {{NULL}, {"mock"}, "web cache mock db opt"},
    {{NULL}, {"admin"}, "web cache db admin opt"},
    {{NULL}, {"tool"}, "web cache tool net data opt"},
    {{NULL}, {"web"}, "web cache opt"},
};

static void
test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < BT_ARRAY_SIZE(cases); i++) {
        struct bt_err *err = NULL;
        _cleanup_free_ char *got = enabled_after(cases[i].profiles, cases[i].explicit, &err);
        if (!got)
            fail_msg("case %zu: %s", i, err->msg);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu: got '%s', want '%s'", i, got, cases[i].want);
    }
}

static void
test_errors(void **state)
{
    (void)state;
    struct bt_err *err = NULL;
    char *none[] = {NULL};
    char *nosuch[] = {"nosuch", NULL};
    assert_null(enabled_after(none, nosuch, &err));
    assert_string_equal(err->msg, "no such service: nosuch");
    bt_err_free(err);
    err = NULL;
    /* An enabled service that needs a disabled one names both. */
    char *tools[] = {"tools", NULL};
    assert_null(enabled_after(tools, none, &err));
    assert_non_null(strstr(err->msg, "c.yaml:24:20: services.tool.volumes_from: service \"tool\" "
                                     "needs service \"data\", which is disabled by its profiles "
                                     "(never)"));
    bt_err_free(err);
}

static void
test_active(void **state)
{
    (void)state;
    char *flags[] = {"a", "b", NULL};
    char *env[] = {"COMPOSE_PROFILES= x, y ,,x", NULL};
    _cleanup_strv_ char **p1 = compose_profiles_active(flags, env);
    assert_int_equal(bt_strv_length(p1), 2);
    assert_string_equal(p1[0], "a");
    _cleanup_strv_ char **p2 = compose_profiles_active(NULL, env);
    assert_int_equal(bt_strv_length(p2), 2);
    assert_string_equal(p2[0], "x");
    assert_string_equal(p2[1], "y");
    char *empty[] = {NULL};
    _cleanup_strv_ char **p3 = compose_profiles_active(empty, empty);
    assert_int_equal(bt_strv_length(p3), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_active),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
