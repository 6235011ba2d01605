/* compose: finding the files, the project directory and the environment,
 * as Docker Compose does. Each test builds a directory tree under /tmp. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "compose/load-internal.h"

static char root[] = "/tmp/berth-test-discover-XXXXXX";

static int
setup(void **state)
{
    (void)state;
    return mkdtemp(root) ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    return bt_rm_rf(root, NULL);
}

/* Creates root/rel (and its directories) with the given content. */
static char *
put(const char *rel, const char *content)
{
    char *p = xasprintf("%s/%s", root, rel);
    _cleanup_free_ char *dir = bt_path_dirname(p);
    assert_int_equal(bt_mkdir_p(dir, 0755, NULL), 0);
    assert_int_equal(bt_file_write_atomic(p, content, strlen(content), 0644, NULL), 0);
    return p;
}

static char *
sub(const char *rel)
{
    char *p = xasprintf("%s/%s", root, rel);
    assert_int_equal(bt_mkdir_p(p, 0755, NULL), 0);
    return p;
}

static void
test_default_names_and_override(void **state)
{
    (void)state;
    _cleanup_free_ char *dir = sub("t1");
    _cleanup_free_ char *main = put("t1/compose.yaml", "services: {}\n");
    free(put("t1/docker-compose.yml", "services: {}\n"));
    _cleanup_free_ char *o1 = put("t1/compose.override.yaml", "services: {}\n");
    free(put("t1/docker-compose.override.yml", "services: {}\n"));
    char *env[] = {NULL};
    struct compose_options opts = {.workdir = dir, .environ = env};
    struct compose_sources s;
    struct bt_err *err = NULL;
    assert_int_equal(compose_sources_discover(&opts, &s, &err), 0);
    /* compose.yaml wins over docker-compose.yml; compose.override.yaml
     * comes after compose.override.yml in preference but before the
     * docker-compose spellings. */
    assert_int_equal(bt_strv_length(s.files), 2);
    assert_string_equal(s.files[0], main);
    assert_string_equal(s.files[1], o1);
    assert_string_equal(s.project_dir, dir);
    compose_sources_done(&s);
}

static void
test_name_preference(void **state)
{
    (void)state;
    struct {
        const char *present[4];
        const char *want;
    } cases[] = {
        {{"compose.yml", "docker-compose.yaml", "docker-compose.yml"}, "compose.yml"},
        {{"docker-compose.yaml", "docker-compose.yml"}, "docker-compose.yml"},
        {{"docker-compose.yaml"}, "docker-compose.yaml"},
    };
    for (size_t i = 0; i < BT_ARRAY_SIZE(cases); i++) {
        _cleanup_free_ char *d = xasprintf("pref%zu", i);
        _cleanup_free_ char *dir = sub(d);
        for (size_t j = 0; j < 4 && cases[i].present[j]; j++) {
            _cleanup_free_ char *rel = xasprintf("%s/%s", d, cases[i].present[j]);
            free(put(rel, "services: {}\n"));
        }
        char *env[] = {NULL};
        struct compose_options opts = {.workdir = dir, .environ = env};
        struct compose_sources s;
        struct bt_err *err = NULL;
        assert_int_equal(compose_sources_discover(&opts, &s, &err), 0);
        assert_int_equal(bt_strv_length(s.files), 1);
        assert_string_equal(bt_path_basename(s.files[0]), cases[i].want);
        compose_sources_done(&s);
    }
}

static void
test_parent_search(void **state)
{
    (void)state;
    _cleanup_free_ char *top = sub("t2");
    _cleanup_free_ char *deep = sub("t2/a/b/c");
    _cleanup_free_ char *f = put("t2/compose.yml", "services: {}\n");
    _cleanup_free_ char *o = put("t2/docker-compose.override.yaml", "services: {}\n");
    /* An override file alone in a nearer directory does not stop the search. */
    free(put("t2/a/compose.override.yaml", "services: {}\n"));
    free(put("t2/.env", "FROM_DOTENV=top\n"));
    char *env[] = {NULL};
    struct compose_options opts = {.workdir = deep, .environ = env};
    struct compose_sources s;
    struct bt_err *err = NULL;
    assert_int_equal(compose_sources_discover(&opts, &s, &err), 0);
    assert_int_equal(bt_strv_length(s.files), 2);
    assert_string_equal(s.files[0], f);
    assert_string_equal(s.files[1], o);
    assert_string_equal(s.project_dir, top);
    /* The project directory's .env is read. */
    assert_string_equal(compose_env_get(s.env, "FROM_DOTENV"), "top");
    compose_sources_done(&s);
}

static void
test_not_found(void **state)
{
    (void)state;
    /* Nothing named like a compose file in /tmp/... or / (checked first). */
    if (bt_path_exists("/compose.yaml") || bt_path_exists("/tmp/compose.yaml") ||
        bt_path_exists("/docker-compose.yml"))
        skip();
    _cleanup_free_ char *dir = sub("t3/empty");
    char *env[] = {NULL};
    struct compose_options opts = {.workdir = dir, .environ = env};
    struct compose_sources s;
    struct bt_err *err = NULL;
    assert_int_equal(compose_sources_discover(&opts, &s, &err), -ENOENT);
    assert_string_equal(err->msg, "no configuration file provided: not found");
    bt_err_free(err);
}

static void
test_f_flags(void **state)
{
    (void)state;
    _cleanup_free_ char *dir = sub("t4");
    _cleanup_free_ char *a = put("t4/conf/a.yaml", "services: {}\n");
    _cleanup_free_ char *b = put("t4/b.yaml", "services: {}\n");
    free(put("t4/compose.yaml", "services: {}\n"));
    free(put("t4/conf/.env", "WHERE=conf\n"));
    char *env[] = {NULL};
    char *files[] = {"conf/a.yaml", "./b.yaml", NULL};
    struct compose_options opts = {.workdir = dir, .environ = env, .files = files};
    struct compose_sources s;
    struct bt_err *err = NULL;
    assert_int_equal(compose_sources_discover(&opts, &s, &err), 0);
    /* -f paths are taken against the working directory, in order, and no
     * default file or override is added. */
    assert_int_equal(bt_strv_length(s.files), 2);
    assert_string_equal(s.files[0], a);
    assert_string_equal(s.files[1], b);
    /* The project directory is the first file's directory, with its .env. */
    _cleanup_free_ char *conf = xasprintf("%s/conf", dir);
    assert_string_equal(s.project_dir, conf);
    assert_string_equal(compose_env_get(s.env, "WHERE"), "conf");
    compose_sources_done(&s);

    char *missing[] = {"nope.yaml", NULL};
    opts.files = missing;
    assert_int_equal(compose_sources_discover(&opts, &s, &err), -ENOENT);
    _cleanup_free_ char *want = xasprintf("open %s/nope.yaml", dir);
    assert_non_null(strstr(err->msg, want));
    bt_err_free(err);
}

static void
test_compose_file_env(void **state)
{
    (void)state;
    _cleanup_free_ char *dir = sub("t5");
    _cleanup_free_ char *a = put("t5/one.yaml", "services: {}\n");
    _cleanup_free_ char *b = put("t5/two.yaml", "services: {}\n");
    free(put("t5/compose.yaml", "services: {}\n"));
    char *env1[] = {"COMPOSE_FILE=one.yaml:two.yaml", NULL};
    struct compose_options opts = {.workdir = dir, .environ = env1};
    struct compose_sources s;
    struct bt_err *err = NULL;
    assert_int_equal(compose_sources_discover(&opts, &s, &err), 0);
    assert_int_equal(bt_strv_length(s.files), 2);
    assert_string_equal(s.files[0], a);
    assert_string_equal(s.files[1], b);
    compose_sources_done(&s);

    char *env2[] = {"COMPOSE_FILE=two.yaml;one.yaml", "COMPOSE_PATH_SEPARATOR=;", NULL};
    opts.environ = env2;
    assert_int_equal(compose_sources_discover(&opts, &s, &err), 0);
    assert_string_equal(s.files[0], b);
    assert_string_equal(s.files[1], a);
    compose_sources_done(&s);

    /* -f wins over COMPOSE_FILE. */
    char *files[] = {"compose.yaml", NULL};
    opts.files = files;
    assert_int_equal(compose_sources_discover(&opts, &s, &err), 0);
    assert_int_equal(bt_strv_length(s.files), 1);
    assert_true(bt_str_endswith(s.files[0], "/t5/compose.yaml"));
    compose_sources_done(&s);
}

static void
test_compose_file_from_dotenv(void **state)
{
    (void)state;
    _cleanup_free_ char *dir = sub("t6");
    _cleanup_free_ char *x = put("t6/x.yaml", "services: {}\n");
    free(put("t6/compose.yaml", "services: {}\n"));
    free(put("t6/.env", "COMPOSE_FILE=x.yaml\nCOMPOSE_PROJECT_NAME=fromdotenv\n"));
    char *env[] = {NULL};
    struct compose_options opts = {.workdir = dir, .environ = env};
    struct compose_sources s;
    struct bt_err *err = NULL;
    assert_int_equal(compose_sources_discover(&opts, &s, &err), 0);
    assert_int_equal(bt_strv_length(s.files), 1);
    assert_string_equal(s.files[0], x);
    assert_string_equal(compose_env_get(s.env, "COMPOSE_PROJECT_NAME"), "fromdotenv");
    compose_sources_done(&s);
}

static void
test_project_directory(void **state)
{
    (void)state;
    _cleanup_free_ char *cwd = sub("t7/cwd");
    _cleanup_free_ char *pd = sub("t7/proj");
    _cleanup_free_ char *f = put("t7/proj/compose.yaml", "services: {}\n");
    free(put("t7/cwd/compose.yaml", "services: {}\n"));
    free(put("t7/proj/.env", "P=proj\n"));
    char *env[] = {NULL};
    struct compose_options opts = {.workdir = cwd, .environ = env, .project_dir = "../proj"};
    struct compose_sources s;
    struct bt_err *err = NULL;
    /* Discovery starts in --project-directory, relative to the working
     * directory. */
    assert_int_equal(compose_sources_discover(&opts, &s, &err), 0);
    assert_string_equal(s.files[0], f);
    assert_string_equal(s.project_dir, pd);
    assert_string_equal(compose_env_get(s.env, "P"), "proj");
    compose_sources_done(&s);

    /* With -f, --project-directory still names the project directory. */
    char *files[] = {"compose.yaml", NULL};
    opts.files = files;
    assert_int_equal(compose_sources_discover(&opts, &s, &err), 0);
    assert_true(bt_str_endswith(s.files[0], "/t7/cwd/compose.yaml"));
    assert_string_equal(s.project_dir, pd);
    compose_sources_done(&s);

    opts.project_dir = "../nowhere";
    assert_int_equal(compose_sources_discover(&opts, &s, &err), -ENOENT);
    assert_non_null(strstr(err->msg, "t7/nowhere"));
    bt_err_free(err);
}

static void
test_env_files(void **state)
{
    (void)state;
    _cleanup_free_ char *dir = sub("t8");
    free(put("t8/compose.yaml", "services: {}\n"));
    free(put("t8/.env", "DOT=1\nBOTH=dotenv\n"));
    free(put("t8/a.env", "A=1\nBOTH=a\nREF=${PROC}\n"));
    free(put("t8/b.env", "B=${A}2\nBOTH=b\n"));
    char *env[] = {"PROC=process", "BOTH=process-wins", NULL};
    char *envfiles[] = {"a.env", "b.env", NULL};
    struct compose_options opts = {.workdir = dir, .environ = env, .env_files = envfiles};
    struct compose_sources s;
    struct bt_err *err = NULL;
    assert_int_equal(compose_sources_discover(&opts, &s, &err), 0);
    /* --env-file replaces .env; files read in order; the process
     * environment wins over both. */
    assert_null(compose_env_get(s.env, "DOT"));
    assert_string_equal(compose_env_get(s.env, "A"), "1");
    assert_string_equal(compose_env_get(s.env, "B"), "12");
    assert_string_equal(compose_env_get(s.env, "REF"), "process");
    assert_string_equal(compose_env_get(s.env, "BOTH"), "process-wins");
    assert_string_equal(compose_env_get(s.env, "PROC"), "process");
    compose_sources_done(&s);

    char *env2[] = {"BOTH=process-wins", NULL};
    opts.environ = env2;
    opts.env_files = NULL;
    assert_int_equal(compose_sources_discover(&opts, &s, &err), 0);
    assert_string_equal(compose_env_get(s.env, "DOT"), "1");
    assert_string_equal(compose_env_get(s.env, "BOTH"), "process-wins");
    compose_sources_done(&s);

    /* COMPOSE_ENV_FILES, comma-separated, when no --env-file is given. */
    char *env3[] = {"COMPOSE_ENV_FILES=b.env,a.env", NULL};
    opts.environ = env3;
    assert_int_equal(compose_sources_discover(&opts, &s, &err), 0);
    assert_null(compose_env_get(s.env, "DOT"));
    assert_string_equal(compose_env_get(s.env, "BOTH"), "a");
    /* b.env was read first: A was not defined yet. */
    assert_string_equal(compose_env_get(s.env, "B"), "2");
    compose_sources_done(&s);
    opts.environ = env2;

    char *missing[] = {"missing.env", NULL};
    opts.env_files = missing;
    assert_int_equal(compose_sources_discover(&opts, &s, &err), -ENOENT);
    assert_non_null(strstr(err->msg, "couldn't find env file: "));
    assert_non_null(strstr(err->msg, "/t8/missing.env"));
    bt_err_free(err);
    err = NULL;

    free(put("t8/bad.env", "A=1\nB C=2\n"));
    char *bad[] = {"bad.env", NULL};
    opts.env_files = bad;
    assert_int_equal(compose_sources_discover(&opts, &s, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "/t8/bad.env:2: key cannot contain a space"));
    bt_err_free(err);
}

static void
test_stdin(void **state)
{
    (void)state;
    _cleanup_free_ char *dir = sub("t9");
    _cleanup_free_ char *in = put("t9/stdin.yaml", "services:\n  web:\n    image: x\n");
    int saved = dup(STDIN_FILENO);
    int fd = open(in, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(dup2(fd, STDIN_FILENO), STDIN_FILENO);
    close(fd);
    char *env[] = {NULL};
    char *files[] = {"-", NULL};
    struct compose_options opts = {.workdir = dir, .environ = env, .files = files};
    struct compose_sources s;
    struct bt_err *err = NULL;
    int r = compose_sources_discover(&opts, &s, &err);
    dup2(saved, STDIN_FILENO);
    close(saved);
    assert_int_equal(r, 0);
    assert_string_equal(s.files[0], "-");
    assert_string_equal(s.project_dir, dir);
    assert_string_equal(s.stdin_data, "services:\n  web:\n    image: x\n");
    _cleanup_cnode_ struct cnode *n = compose_files_load(&s, true, &err);
    assert_non_null(n);
    struct cnode *img = cnode_map_get(cnode_map_get(cnode_map_get(n, "services"), "web"), "image");
    assert_string_equal(img->value, "x");
    assert_string_equal(img->file, "-");
    compose_sources_done(&s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_names_and_override),
        cmocka_unit_test(test_name_preference),
        cmocka_unit_test(test_parent_search),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_f_flags),
        cmocka_unit_test(test_compose_file_env),
        cmocka_unit_test(test_compose_file_from_dotenv),
        cmocka_unit_test(test_project_directory),
        cmocka_unit_test(test_env_files),
        cmocka_unit_test(test_stdin),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
