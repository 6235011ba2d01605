/* volumes: short syntax, tmpfs strings, sizes, request validation and the
 * OCI mount objects built from requests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "common/common.h"
#include "volumes/volumes.h"

static char *
options_joined(const struct vol_oci_mount *m)
{
    return bt_strv_join(m->options, ",");
}

static void
test_short_named_volume(void **state)
{
    struct vol_mount_request req;
    _cleanup_err_ struct bt_err *err = NULL;
    assert_int_equal(vol_mount_parse_short("dbdata:/var/lib/mysql:ro,nocopy", &req, &err), 0);
    assert_int_equal(req.type, VOL_MOUNT_VOLUME);
    assert_string_equal(req.source, "dbdata");
    assert_string_equal(req.target, "/var/lib/mysql");
    assert_true(req.read_only);
    assert_true(req.nocopy);
    assert_false(req.long_syntax);

    struct vol_oci_mount m;
    assert_int_equal(vol_mount_build(&req, "/r/volumes/dbdata/_data", &m, &err), 0);
    assert_string_equal(m.destination, "/var/lib/mysql");
    assert_string_equal(m.type, "bind");
    assert_string_equal(m.source, "/r/volumes/dbdata/_data");
    _cleanup_free_ char *o = options_joined(&m);
    assert_string_equal(o, "rbind,ro,rprivate");
    vol_oci_mount_done(&m);
    vol_mount_request_done(&req);
}

static void
test_short_anonymous(void **state)
{
    struct vol_mount_request req;
    _cleanup_err_ struct bt_err *err = NULL;
    assert_int_equal(vol_mount_parse_short("/data", &req, &err), 0);
    assert_int_equal(req.type, VOL_MOUNT_VOLUME);
    assert_null(req.source);
    assert_string_equal(req.target, "/data");
    vol_mount_request_done(&req);

    /* "/data:ro" is an anonymous volume with a mode, not a bind of /data. */
    assert_int_equal(vol_mount_parse_short("/data:ro", &req, &err), 0);
    assert_int_equal(req.type, VOL_MOUNT_VOLUME);
    assert_null(req.source);
    assert_true(req.read_only);
    vol_mount_request_done(&req);
}

static void
test_short_bind(void **state)
{
    struct vol_mount_request req;
    _cleanup_err_ struct bt_err *err = NULL;
    assert_int_equal(
        vol_mount_parse_short("/srv/www:/usr/share/nginx/html:ro,Z,rslave", &req, &err), 0);
    assert_int_equal(req.type, VOL_MOUNT_BIND);
    assert_string_equal(req.source, "/srv/www");
    assert_string_equal(req.selinux, "Z");
    assert_string_equal(req.propagation, "rslave");
    struct vol_oci_mount m;
    assert_int_equal(vol_mount_build(&req, req.source, &m, &err), 0);
    _cleanup_free_ char *o = options_joined(&m);
    assert_string_equal(o, "rbind,ro,rslave");
    _cleanup_json_ json_t *j = vol_oci_mount_to_json(&m);
    _cleanup_free_ char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "{\"destination\":\"/usr/share/nginx/html\",\"options\":[\"rbind\","
                           "\"ro\",\"rslave\"],\"source\":\"/srv/www\",\"type\":\"bind\"}");
    vol_oci_mount_done(&m);
    vol_mount_request_done(&req);

    assert_int_equal(vol_mount_parse_short("/a:/b:z", &req, &err), 0);
    assert_string_equal(req.selinux, "z");
    assert_false(req.read_only);
    assert_int_equal(vol_mount_build(&req, req.source, &m, &err), 0);
    _cleanup_free_ char *o2 = options_joined(&m);
    assert_string_equal(o2, "rbind,rprivate");
    vol_oci_mount_done(&m);
    vol_mount_request_done(&req);
}

static void
expect_short_error(const char *spec, const char *needle)
{
    struct vol_mount_request req;
    struct bt_err *err = NULL;
    assert_int_equal(vol_mount_parse_short(spec, &req, &err), -EINVAL);
    assert_non_null(err);
    if (!strstr(err->msg, needle))
        fail_msg("'%s': message '%s' lacks '%s'", spec, err->msg, needle);
    bt_err_free(err);
    /* nothing half-made: the request is empty again */
    assert_null(req.source);
    assert_null(req.target);
}

static void
test_short_errors(void **state)
{
    expect_short_error("data", "not an absolute path");
    expect_short_error("/", "must not be '/'");
    expect_short_error("vol:/", "must not be '/'");
    expect_short_error("./rel:/data", "must be absolute");
    expect_short_error("~/rel:/data", "must be absolute");
    expect_short_error("/a:/b:ro,rw", "both ro and rw");
    expect_short_error("/a:/b:z,Z", "more than one SELinux");
    expect_short_error("/a:/b:bogus", "invalid mode 'bogus'");
    expect_short_error("/a:/b:nocopy", "nocopy applies to volumes only");
    expect_short_error("vol:/b:rshared", "applies to bind mounts only");
    expect_short_error("a:b:c:d", "invalid volume specification");
    expect_short_error(":/data", "empty source");
    expect_short_error("-bad:/data", "invalid characters");
    expect_short_error("x:/data", "invalid characters");
}

static void
test_sizes(void **state)
{
    uint64_t v;
    _cleanup_err_ struct bt_err *err = NULL;
    assert_int_equal(vol_size_parse("100", &v, &err), 0);
    assert_int_equal(v, 100);
    assert_int_equal(vol_size_parse("64m", &v, &err), 0);
    assert_int_equal(v, 64ULL << 20);
    assert_int_equal(vol_size_parse("1g", &v, &err), 0);
    assert_int_equal(v, 1ULL << 30);
    assert_int_equal(vol_size_parse("512KiB", &v, &err), 0);
    assert_int_equal(v, 512ULL << 10);
    assert_int_equal(vol_size_parse("1.5mb", &v, &err), 0);
    assert_int_equal(v, 3ULL << 19);
    assert_int_equal(vol_size_parse("2 GB", &v, &err), 0);
    assert_int_equal(v, 2ULL << 30);
    assert_int_equal(vol_size_parse("-1", &v, &err), -EINVAL);
    err = bt_err_free(err);
    assert_int_equal(vol_size_parse("12q", &v, &err), -EINVAL);
    err = bt_err_free(err);
    assert_int_equal(vol_size_parse("", &v, &err), -EINVAL);
    err = bt_err_free(err);
    assert_int_equal(vol_size_parse("1.", &v, &err), -EINVAL);
}

static void
test_tmpfs(void **state)
{
    struct vol_mount_request req;
    _cleanup_err_ struct bt_err *err = NULL;
    assert_int_equal(vol_tmpfs_parse("/run:size=64m,mode=1770,uid=1000,exec", &req, &err), 0);
    assert_int_equal(req.type, VOL_MOUNT_TMPFS);
    assert_string_equal(req.target, "/run");
    assert_int_equal(req.tmpfs_size, 64ULL << 20);
    assert_true(req.tmpfs_mode_set);
    assert_int_equal(req.tmpfs_mode, 01770);
    struct vol_oci_mount m;
    assert_int_equal(vol_mount_build(&req, NULL, &m, &err), 0);
    assert_string_equal(m.type, "tmpfs");
    assert_string_equal(m.source, "tmpfs");
    assert_string_equal(m.destination, "/run");
    _cleanup_free_ char *o = options_joined(&m);
    /* exec replaces Docker's default noexec */
    assert_string_equal(o, "nosuid,nodev,uid=1000,exec,size=67108864,mode=1770");
    vol_oci_mount_done(&m);
    vol_mount_request_done(&req);

    assert_int_equal(vol_tmpfs_parse("/tmp", &req, &err), 0);
    assert_int_equal(vol_mount_build(&req, NULL, &m, &err), 0);
    _cleanup_free_ char *o2 = options_joined(&m);
    assert_string_equal(o2, "nosuid,nodev,noexec,mode=1777");
    vol_oci_mount_done(&m);
    vol_mount_request_done(&req);

    assert_int_equal(vol_tmpfs_parse("/ro:ro", &req, &err), 0);
    assert_true(req.read_only);
    assert_int_equal(vol_mount_build(&req, NULL, &m, &err), 0);
    _cleanup_free_ char *o3 = options_joined(&m);
    assert_string_equal(o3, "nosuid,nodev,noexec,ro,mode=1777");
    vol_oci_mount_done(&m);
    vol_mount_request_done(&req);

    assert_int_equal(vol_tmpfs_parse("/x:mode=99", &req, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "invalid tmpfs mode"));
    err = bt_err_free(err);
    assert_int_equal(vol_tmpfs_parse("/x:size=lots", &req, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "invalid size"));
    err = bt_err_free(err);
    assert_int_equal(vol_tmpfs_parse("/x:bogus", &req, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "unknown tmpfs option 'bogus'"));
    err = bt_err_free(err);
    assert_int_equal(vol_tmpfs_parse("rel:size=1m", &req, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "not an absolute path"));
}

static void
test_long_syntax_validation(void **state)
{
    _cleanup_err_ struct bt_err *err = NULL;
    struct vol_mount_request req = {.type = VOL_MOUNT_BIND,
                                    .source = "/host",
                                    .target = "/c/../data/",
                                    .long_syntax = true,
                                    .propagation = "shared"};
    struct vol_oci_mount m;
    assert_int_equal(vol_mount_build(&req, "/host", &m, &err), 0);
    assert_string_equal(m.destination, "/data");
    _cleanup_free_ char *o = options_joined(&m);
    assert_string_equal(o, "rbind,shared");
    vol_oci_mount_done(&m);

    req.propagation = "sideways";
    assert_int_equal(vol_mount_request_validate(&req, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "invalid propagation 'sideways'"));
    err = bt_err_free(err);

    struct vol_mount_request t = {.type = VOL_MOUNT_TMPFS, .target = "/t", .source = "x"};
    assert_int_equal(vol_mount_request_validate(&t, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "take no source"));
    err = bt_err_free(err);

    struct vol_mount_request v = {.type = VOL_MOUNT_VOLUME, .target = "/d", .tmpfs_size = 10};
    assert_int_equal(vol_mount_request_validate(&v, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "tmpfs mounts only"));
    err = bt_err_free(err);

    struct vol_mount_request b = {.type = VOL_MOUNT_BIND, .source = "rel", .target = "/d"};
    assert_int_equal(vol_mount_request_validate(&b, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "not an absolute path"));
    err = bt_err_free(err);

    /* a volume mount needs the resolved host source */
    struct vol_mount_request nv = {.type = VOL_MOUNT_VOLUME, .source = "data", .target = "/d"};
    assert_int_equal(vol_mount_build(&nv, NULL, &m, &err), -EINVAL);
    assert_null(m.destination);
}

int
main(void)
{
    bt_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_named_volume),
        cmocka_unit_test(test_short_anonymous),
        cmocka_unit_test(test_short_bind),
        cmocka_unit_test(test_short_errors),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_tmpfs),
        cmocka_unit_test(test_long_syntax_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
