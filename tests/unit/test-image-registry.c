/* image: the registry client's pure parts: WWW-Authenticate parsing,
 * insecure-registries matching, berth.json, docker config credentials,
 * platform choice from an index. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "image/registry-internal.h"

static void
test_challenge(void **state)
{
    struct image_challenge c;
    assert_int_equal(
        image_challenge_parse("Bearer realm=\"https://auth.example.com/token\",service="
                              "\"registry.example.com\",scope=\"repository:a/b:pull,push\"",
                              &c),
        0);
    assert_string_equal(c.scheme, "Bearer");
    assert_string_equal(c.realm, "https://auth.example.com/token");
    assert_string_equal(c.service, "registry.example.com");
    assert_string_equal(c.scope, "repository:a/b:pull,push");
    image_challenge_done(&c);
    assert_int_equal(image_challenge_parse("Basic realm=\"Registry Realm\"", &c), 0);
    assert_string_equal(c.scheme, "Basic");
    assert_string_equal(c.realm, "Registry Realm");
    assert_null(c.service);
    image_challenge_done(&c);
    /* unquoted values, odd spacing, escaped quotes */
    assert_int_equal(image_challenge_parse("  Bearer realm=http://x/t , service=\"a\\\"b\"", &c),
                     0);
    assert_string_equal(c.realm, "http://x/t ");
    assert_string_equal(c.service, "a\"b");
    image_challenge_done(&c);
    assert_int_equal(image_challenge_parse("   ", &c), -EINVAL);
}

static void
test_insecure(void **state)
{
    char *list[] = {"myreg.local:5000", "10.0.0.0/8", "plainhost", NULL};
    struct image_registry_conf c = {.insecure = list};
    assert_true(image_registry_insecure(&c, "localhost:5000"));
    assert_true(image_registry_insecure(&c, "127.0.0.1:5000"));
    assert_true(image_registry_insecure(&c, "127.1.2.3"));
    assert_true(image_registry_insecure(&c, "[::1]:5000"));
    assert_true(image_registry_insecure(&c, "myreg.local:5000"));
    assert_false(image_registry_insecure(&c, "myreg.local:5001"));
    assert_true(image_registry_insecure(&c, "10.1.2.3:443"));
    assert_false(image_registry_insecure(&c, "11.1.2.3"));
    assert_true(image_registry_insecure(&c, "plainhost:8080"));
    assert_false(image_registry_insecure(&c, "registry.example.com"));
    struct image_registry_conf none = {0};
    assert_false(image_registry_insecure(&none, "10.1.2.3"));
}

static char *tmpdir;

static int
setup(void **state)
{
    tmpdir = xstrdup("/tmp/berth-reg-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    setenv("DOCKER_CONFIG", tmpdir, 1);
    _cleanup_free_ char *cfg = bt_path_join(tmpdir, "berth.json");
    setenv("BERTH_CONFIG", cfg, 1);
    return 0;
}

static int
teardown(void **state)
{
    assert_int_equal(bt_rm_rf(tmpdir, NULL), 0);
    free(tmpdir);
    unsetenv("DOCKER_CONFIG");
    unsetenv("BERTH_CONFIG");
    return 0;
}

static void
write_file(const char *name, const char *text)
{
    _cleanup_free_ char *p = bt_path_join(tmpdir, name);
    assert_int_equal(bt_file_write_atomic(p, text, strlen(text), 0600, NULL), 0);
}

static void
test_berth_json(void **state)
{
    struct image_registry_conf c;
    /* missing file: defaults */
    assert_int_equal(image_registry_conf_load(&c, NULL), 0);
    assert_null(c.mirrors);
    write_file("berth.json", "{\"registry-mirrors\": [\"https://mirror.example.com/\"],"
                             " \"insecure-registries\": [\"10.0.0.0/8\"]}");
    assert_int_equal(image_registry_conf_load(&c, NULL), 0);
    assert_string_equal(c.mirrors[0], "https://mirror.example.com/");
    assert_string_equal(c.insecure[0], "10.0.0.0/8");
    image_registry_conf_done(&c);
    write_file("berth.json", "{\"registry-mirrors\": [\"mirror.example.com\"]}");
    struct bt_err *err = NULL;
    assert_int_equal(image_registry_conf_load(&c, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "registry-mirrors[0] is not an http(s) URL"));
    err = bt_err_free(err);
    write_file("berth.json", "{not json");
    assert_int_equal(image_registry_conf_load(&c, &err), -EINVAL);
    bt_err_free(err);
}

static void
test_credentials(void **state)
{
    char *u, *p;
    assert_int_equal(image_auth_lookup("registry.example.com", &u, &p), 0);
    assert_int_equal(image_auth_store("registry.example.com", "alice", "pa:ss", NULL), 0);
    assert_int_equal(image_auth_store("docker.io", "bob", "hub", NULL), 0);
    _cleanup_free_ char *path = bt_path_join(tmpdir, "config.json");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(image_auth_lookup("registry.example.com", &u, &p), 1);
    assert_string_equal(u, "alice");
    assert_string_equal(p, "pa:ss");
    free(u);
    free(p);
    /* Docker Hub's key is the v1 URL, as docker login writes it */
    _cleanup_json_ json_t *j = bt_json_load_file(path, NULL);
    assert_non_null(json_object_get(json_object_get(j, "auths"), "https://index.docker.io/v1/"));
    assert_int_equal(image_auth_lookup("docker.io", &u, &p), 1);
    assert_string_equal(u, "bob");
    free(u);
    free(p);
    /* entries docker wrote with a scheme, and username/password fields */
    write_file("config.json", "{\"auths\": {\"https://reg.example.com\": {\"auth\": "
                              "\"dTpw\"}, \"other.example.com\": {\"username\": \"x\","
                              " \"password\": \"y\"}}, \"credsStore\": \"none\"}");
    assert_int_equal(image_auth_lookup("reg.example.com", &u, &p), 1);
    assert_string_equal(u, "u");
    assert_string_equal(p, "p");
    free(u);
    free(p);
    assert_int_equal(image_auth_lookup("other.example.com", &u, &p), 1);
    assert_string_equal(p, "y");
    free(u);
    free(p);
    /* logout keeps the rest of the file */
    assert_int_equal(image_logout("reg.example.com", NULL), 0);
    assert_int_equal(image_auth_lookup("reg.example.com", &u, &p), 0);
    _cleanup_json_ json_t *k = bt_json_load_file(path, NULL);
    assert_string_equal(bt_json_str(k, "credsStore"), "none");
    struct bt_err *err = NULL;
    assert_int_equal(image_logout("reg.example.com", &err), -ENOENT);
    assert_non_null(strstr(err->msg, "not logged in"));
    bt_err_free(err);
}

static void
test_index_pick(void **state)
{
    _cleanup_json_ json_t *idx = json_loads(
        "{\"manifests\": ["
        " {\"digest\": \"sha256:a\", \"platform\": {\"os\": \"linux\", \"architecture\": "
        "\"arm\", \"variant\": \"v6\"}},"
        " {\"digest\": \"sha256:b\", \"platform\": {\"os\": \"linux\", \"architecture\": "
        "\"arm\", \"variant\": \"v7\"}},"
        " {\"digest\": \"sha256:c\", \"platform\": {\"os\": \"linux\", \"architecture\": "
        "\"amd64\"}},"
        " {\"digest\": \"sha256:d\", \"platform\": {\"os\": \"windows\", \"architecture\": "
        "\"amd64\"}}]}",
        0, NULL);
    json_t *m = image_index_pick(idx, "linux/amd64", NULL);
    assert_string_equal(bt_json_str(m, "digest"), "sha256:c");
    json_decref(m);
    m = image_index_pick(idx, "linux/arm/v7", NULL);
    assert_string_equal(bt_json_str(m, "digest"), "sha256:b");
    json_decref(m);
    m = image_index_pick(idx, "windows/amd64", NULL);
    assert_string_equal(bt_json_str(m, "digest"), "sha256:d");
    json_decref(m);
    struct bt_err *err = NULL;
    assert_null(image_index_pick(idx, "linux/s390x", &err));
    assert_non_null(strstr(err->msg, "no manifest for platform linux/s390x"));
    err = bt_err_free(err);
    assert_null(image_index_pick(idx, "linux", &err));
    assert_non_null(strstr(err->msg, "os/arch"));
    bt_err_free(err);
}

int
main(void)
{
    bt_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_challenge),
        cmocka_unit_test(test_insecure),
        cmocka_unit_test_setup_teardown(test_berth_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credentials, setup, teardown),
        cmocka_unit_test(test_index_pick),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
