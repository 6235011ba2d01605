/* image: the process a container runs, from image defaults and service
 * overrides, by Docker's rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "image/image.h"

static char *ep[] = {"/docker-entrypoint.sh", NULL};
static char *cmd[] = {"nginx", "-g", "daemon off;", NULL};
static char *env[] = {"PATH=/opt/bin:/bin", "NGINX_VERSION=1.25", NULL};

static struct image_config
nginx(void)
{
    return (struct image_config){
        .entrypoint = ep, .cmd = cmd, .env = env, .working_dir = "/srv", .user = "101"};
}

static char *
join(char **v)
{
    return bt_strv_join(v, " ");
}

static void
check(const struct image_config *c, const struct image_run_overrides *o, const char *argv,
      const char *envs, const char *cwd, const char *user)
{
    struct image_run r;
    struct bt_err *err = NULL;
    if (image_config_apply(c, o, &r, &err) < 0)
        fail_msg("%s", err->msg);
    _cleanup_free_ char *a = join(r.argv);
    _cleanup_free_ char *e = join(r.env);
    assert_string_equal(a, argv);
    assert_string_equal(e, envs);
    assert_string_equal(r.cwd, cwd);
    assert_string_equal(r.user, user);
    image_run_done(&r);
}

static void
test_defaults(void **state)
{
    struct image_config c = nginx();
    check(&c, NULL, "/docker-entrypoint.sh nginx -g daemon off;",
          "PATH=/opt/bin:/bin NGINX_VERSION=1.25", "/srv", "101");
}

static void
test_command_override(void **state)
{
    struct image_config c = nginx();
    char *command[] = {"nginx", "-t", NULL};
    struct image_run_overrides o = {.command = command, .command_set = true};
    check(&c, &o, "/docker-entrypoint.sh nginx -t", "PATH=/opt/bin:/bin NGINX_VERSION=1.25", "/srv",
          "101");
}

static void
test_entrypoint_override_drops_cmd(void **state)
{
    struct image_config c = nginx();
    char *e2[] = {"/bin/sh", NULL};
    struct image_run_overrides o = {.entrypoint = e2, .entrypoint_set = true};
    check(&c, &o, "/bin/sh", "PATH=/opt/bin:/bin NGINX_VERSION=1.25", "/srv", "101");
    /* with a command too, both are the service's */
    char *c2[] = {"-c", "echo hi", NULL};
    o.command = c2;
    o.command_set = true;
    check(&c, &o, "/bin/sh -c echo hi", "PATH=/opt/bin:/bin NGINX_VERSION=1.25", "/srv", "101");
    /* an empty entrypoint override: the command alone */
    struct image_run_overrides o2 = {
        .entrypoint_set = true, .command = c2 + 1, .command_set = true};
    check(&c, &o2, "echo hi", "PATH=/opt/bin:/bin NGINX_VERSION=1.25", "/srv", "101");
}

static void
test_env_workdir_user(void **state)
{
    struct image_config c = nginx();
    char *e[] = {"NGINX_VERSION=test", "EXTRA=1=2", NULL};
    struct image_run_overrides o = {.env = e, .working_dir = "/app", .user = "0:0"};
    check(&c, &o, "/docker-entrypoint.sh nginx -g daemon off;",
          "PATH=/opt/bin:/bin NGINX_VERSION=test EXTRA=1=2", "/app", "0:0");
    /* an image with no Env, WorkingDir or User */
    char *sh[] = {"sh", NULL};
    struct image_config bare = {.cmd = sh};
    check(&bare, NULL, "sh", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
          "/", "");
}

static void
test_errors(void **state)
{
    struct image_config bare = {0};
    struct image_run r;
    struct bt_err *err = NULL;
    assert_int_equal(image_config_apply(&bare, NULL, &r, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "no command specified"));
    err = bt_err_free(err);
    struct image_config c = nginx();
    char *e[] = {"NOVALUE", NULL};
    struct image_run_overrides o = {.env = e};
    assert_int_equal(image_config_apply(&c, &o, &r, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "'NOVALUE' is not KEY=VALUE"));
    bt_err_free(err);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_command_override),
        cmocka_unit_test(test_entrypoint_override_drops_cmd),
        cmocka_unit_test(test_env_workdir_user),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
