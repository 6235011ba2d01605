/* compose: project name precedence and validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "compose/load-internal.h"

static struct cnode *
parse(const char *y)
{
    struct bt_err *err = NULL;
    struct cnode *n = compose_yaml_parse(y, strlen(y), "compose.yaml", &err);
    assert_non_null(n);
    return n;
}

struct name_case {
    const char *flag;
    const char *env_name; /* COMPOSE_PROJECT_NAME, NULL: unset */
    const char *yaml;
    const char *dir;
    const char *want; /* NULL: an error containing err */
    const char *err;
};

static const struct name_case cases[] = {
    {"flag", "fromenv", "name: fromfile\n", "/x/dir", "flag", NULL},
    {NULL, "fromenv", "name: fromfile\n", "/x/dir", "fromenv", NULL},
    {"", "", "name: fromfile\n", "/x/dir", "fromfile", NULL},
    {NULL, NULL, "services: {}\n", "/x/dir", "dir", NULL},
    {NULL, NULL, "name:\n", "/x/dir", "dir", NULL},
    {NULL, NULL, "name: \"\"\n", "/x/dir", "dir", NULL},
    /* basenames are normalised */
    {NULL, NULL, "{}\n", "/home/u/My App.v2", "myappv2", NULL},
    {NULL, NULL, "{}\n", "/srv/__Web-Site_", "web-site_", NULL},
    {NULL, NULL, "{}\n", "/srv/123", "123", NULL},
    {NULL, NULL, "{}\n", "/", NULL, "cannot derive a project name from the directory '/'"},
    {NULL, NULL, "{}\n", "/srv/...", NULL, "cannot derive a project name"},
    /* explicit names are checked, not normalised */
    {"My-App", NULL, "{}\n", "/x", NULL,
     "invalid project name \"My-App\": must consist only of "
     "lowercase alphanumeric characters"},
    {"-app", NULL, "{}\n", "/x", NULL, "invalid project name \"-app\""},
    {"a.b", NULL, "{}\n", "/x", NULL, "invalid project name"},
    {"ok_name-1", NULL, "{}\n", "/x", "ok_name-1", NULL},
    {NULL, "Bad Name", "{}\n", "/x", NULL,
     "COMPOSE_PROJECT_NAME: invalid project name \"Bad Name\""},
    {NULL, NULL, "services: {}\nname: Foo\n", "/x", NULL,
     "compose.yaml:2:7: name: invalid project name \"Foo\""},
    {NULL, NULL, "name: [a]\n", "/x", NULL, "compose.yaml:1:7: name: expected a string"},
};

static void
test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < BT_ARRAY_SIZE(cases); i++) {
        const struct name_case *c = &cases[i];
        _cleanup_cnode_ struct cnode *root = parse(c->yaml);
        _cleanup_strv_ char **env = NULL;
        if (c->env_name)
            compose_env_set(&env, "COMPOSE_PROJECT_NAME", c->env_name);
        _cleanup_free_ char *out = NULL;
        struct bt_err *err = NULL;
        int r = compose_project_name_resolve(c->flag, env, root, c->dir, &out, &err);
        if (c->want) {
            if (r < 0)
                fail_msg("case %zu: %s", i, err->msg);
            if (strcmp(out, c->want) != 0)
                fail_msg("case %zu: got '%s', want '%s'", i, out, c->want);
        } else {
            if (r != -EINVAL)
                fail_msg("case %zu: did not fail (got '%s')", i, out ? out : "");
            assert_null(out);
            if (!strstr(err->msg, c->err))
                fail_msg("case %zu: '%s' lacks '%s'", i, err->msg, c->err);
            bt_err_free(err);
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
