/* image: reference parsing and normalisation over a table of cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "image/image.h"

#define D64 "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const struct {
    const char *in, *full, *familiar, *name;
} good[] = {
    {"nginx", "docker.io/library/nginx:latest", "nginx:latest", "docker.io/library/nginx"},
    {"nginx:1.25", "docker.io/library/nginx:1.25", "nginx:1.25", "docker.io/library/nginx"},
    {"library/nginx", "docker.io/library/nginx:latest", "nginx:latest", "docker.io/library/nginx"},
    {"docker.io/nginx", "docker.io/library/nginx:latest", "nginx:latest",
     "docker.io/library/nginx"},
    {"index.docker.io/nginx", "docker.io/library/nginx:latest", "nginx:latest",
     "docker.io/library/nginx"},
    {"user/app:v1.0", "docker.io/user/app:v1.0", "user/app:v1.0", "docker.io/user/app"},
    {"localhost/app", "localhost/app:latest", "localhost/app:latest", "localhost/app"},
    {"localhost:5000/team/api:2", "localhost:5000/team/api:2", "localhost:5000/team/api:2",
     "localhost:5000/team/api"},
    {"registry.example.com:5000/team/api@" D64, "registry.example.com:5000/team/api@" D64,
     "registry.example.com:5000/team/api@" D64, "registry.example.com:5000/team/api"},
    {"postgres:16@" D64, "docker.io/library/postgres:16@" D64, "postgres:16@" D64,
     "docker.io/library/postgres"},
    {"127.0.0.1:5000/a/b/c", "127.0.0.1:5000/a/b/c:latest", "127.0.0.1:5000/a/b/c:latest",
     "127.0.0.1:5000/a/b/c"},
    {"[::1]:5000/app:x", "[::1]:5000/app:x", "[::1]:5000/app:x", "[::1]:5000/app"},
    {"Example.COM/app", "Example.COM/app:latest", "Example.COM/app:latest", "Example.COM/app"},
    {"a__b/c-d---e.f_g:_T.9-", "docker.io/a__b/c-d---e.f_g:_T.9-", "a__b/c-d---e.f_g:_T.9-",
     "docker.io/a__b/c-d---e.f_g"},
    {"quay.io/library/x", "quay.io/library/x:latest", "quay.io/library/x:latest",
     "quay.io/library/x"},
};

static const struct {
    const char *in, *msg;
} bad[] = {
    {"", "empty name"},
    {"Nginx", "must be lowercase"},
    {"nginx:", "tag ''"},
    {"nginx:-x", "tag '-x'"},
    {"nginx:a/b", "not a valid registry host"},
    {"nginx@sha256:abc", "64 lowercase hex"},
    {"nginx@md5:0123", "unsupported digest algorithm"},
    {"a//b", "'' is not a valid name component"},
    {"a/b_", "'b_' is not a valid name component"},
    {"a/-b", "'-b' is not a valid name component"},
    {"a/b___c", "not a valid name component"},
    {"-host.com/x", "not a valid registry host"},
    {"host.com:/x", "not a valid registry host"},
    {"localhost:5000/", "no repository name"},
    {":tag", "no repository name"},
    {"a b", "not a valid name component"},
};

static void
test_good(void **state)
{
    for (size_t i = 0; i < BT_ARRAY_SIZE(good); i++) {
        struct image_ref r;
        struct bt_err *err = NULL;
        if (image_ref_parse(good[i].in, &r, &err) < 0)
            fail_msg("'%s': %s", good[i].in, err->msg);
        _cleanup_free_ char *full = image_ref_string(&r);
        _cleanup_free_ char *fam = image_ref_familiar(&r);
        _cleanup_free_ char *name = image_ref_name(&r);
        assert_string_equal(full, good[i].full);
        assert_string_equal(fam, good[i].familiar);
        assert_string_equal(name, good[i].name);
        /* Normalising twice changes nothing. */
        struct image_ref r2;
        assert_int_equal(image_ref_parse(full, &r2, NULL), 0);
        _cleanup_free_ char *full2 = image_ref_string(&r2);
        assert_string_equal(full2, full);
        image_ref_done(&r2);
        image_ref_done(&r);
    }
}

static void
test_parts(void **state)
{
    struct image_ref r;
    assert_int_equal(image_ref_parse("localhost:5000/team/api@" D64, &r, NULL), 0);
    assert_string_equal(r.domain, "localhost:5000");
    assert_string_equal(r.path, "team/api");
    assert_null(r.tag);
    assert_string_equal(r.digest, D64);
    image_ref_done(&r);
}

static void
test_bad(void **state)
{
    for (size_t i = 0; i < BT_ARRAY_SIZE(bad); i++) {
        struct image_ref r;
        struct bt_err *err = NULL;
        int rc = image_ref_parse(bad[i].in, &r, &err);
        if (rc != -EINVAL)
            fail_msg("'%s' was accepted", bad[i].in);
        assert_non_null(err);
        if (!strstr(err->msg, bad[i].msg))
            fail_msg("'%s': message '%s' lacks '%s'", bad[i].in, err->msg, bad[i].msg);
        bt_err_free(err);
    }
    /* Longer than 255 characters. */
    char longname[300];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    struct image_ref r;
    struct bt_err *err = NULL;
    assert_int_equal(image_ref_parse(longname, &r, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "longer than 255"));
    bt_err_free(err);
}

static void
test_digest_valid(void **state)
{
    assert_true(image_digest_valid(D64));
    assert_false(image_digest_valid("sha256:0123"));
    assert_false(image_digest_valid(
        "sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"));
    assert_false(image_digest_valid(NULL));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_parts),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_digest_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
