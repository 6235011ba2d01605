/* volumes: volumes_from parsing, the mounts taken from another container,
 * duplicate mount points, and the path of a volume back to its name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "common/common.h"
#include "volumes/volumes.h"

static void
test_parse(void **state)
{
    struct vol_volumes_from f;
    _cleanup_err_ struct bt_err *err = NULL;
    assert_int_equal(vol_volumes_from_parse("db", &f, &err), 0);
    assert_int_equal(f.kind, VOL_FROM_SERVICE);
    assert_string_equal(f.name, "db");
    assert_int_equal(f.mode, VOL_FROM_KEEP);
    vol_volumes_from_done(&f);
    assert_int_equal(vol_volumes_from_parse("db:ro", &f, &err), 0);
    assert_int_equal(f.mode, VOL_FROM_RO);
    vol_volumes_from_done(&f);
    assert_int_equal(vol_volumes_from_parse("service:db:rw", &f, &err), 0);
    assert_int_equal(f.kind, VOL_FROM_SERVICE);
    assert_int_equal(f.mode, VOL_FROM_RW);
    vol_volumes_from_done(&f);
    assert_int_equal(vol_volumes_from_parse("container:demo-db-1:ro", &f, &err), 0);
    assert_int_equal(f.kind, VOL_FROM_CONTAINER);
    assert_string_equal(f.name, "demo-db-1");
    assert_int_equal(f.mode, VOL_FROM_RO);
    vol_volumes_from_done(&f);

    const char *bad[] = {"", "container:", "db:rx", "container:a:ro:x", ":ro"};
    for (size_t i = 0; i < BT_ARRAY_SIZE(bad); i++) {
        assert_int_equal(vol_volumes_from_parse(bad[i], &f, &err), -EINVAL);
        assert_null(f.name);
        err = bt_err_free(err);
    }
}

static void
test_mounts_from(void **state)
{
    char tmpl[] = "/tmp/berth-vol-from.XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    _cleanup_err_ struct bt_err *err = NULL;
    struct vol_store *st = vol_store_open(tmpl, &err);
    assert_non_null(st);

    _cleanup_free_ char *vsrc = xasprintf("%s/volumes/shared/_data", tmpl);
    char *o_rw[] = {"rbind", "rprivate", NULL};
    char *o_ro[] = {"rbind", "ro", "rprivate", NULL};
    char *o_tmp[] = {"nosuid", "mode=1777", NULL};
    struct vol_oci_mount src[] = {
        {"/data", "bind", vsrc, o_rw, NULL},
        {"/etc/app", "bind", "/srv/conf", o_ro, NULL},
        {"/run", "tmpfs", "tmpfs", o_tmp, NULL},
        {"/cache/", "bind", "/srv/cache", o_rw, NULL},
    };
    struct vol_mount_plan *p = NULL;
    size_t n = 0;

    /* as they were */
    assert_int_equal(vol_mounts_from(st, src, 4, VOL_FROM_KEEP, NULL, &p, &n, &err), 0);
    assert_int_equal(n, 3); /* tmpfs stays the source's own */
    assert_string_equal(p[0].mount.destination, "/data");
    assert_string_equal(p[0].volume, "shared");
    assert_false(p[0].copy_up);
    assert_null(p[1].volume);
    _cleanup_free_ char *o1 = bt_strv_join(p[1].mount.options, ",");
    assert_string_equal(o1, "rbind,ro,rprivate");
    assert_string_equal(p[2].mount.destination, "/cache");
    vol_mount_plans_free(p, n);

    /* :ro makes everything read-only */
    assert_int_equal(vol_mounts_from(st, src, 4, VOL_FROM_RO, NULL, &p, &n, &err), 0);
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *o = bt_strv_join(p[i].mount.options, ",");
        assert_string_equal(o, "rbind,ro,rprivate");
    }
    vol_mount_plans_free(p, n);

    /* :rw drops ro; the container's own mount at /cache wins */
    char *own[] = {"/cache", NULL};
    assert_int_equal(vol_mounts_from(st, src, 4, VOL_FROM_RW, own, &p, &n, &err), 0);
    assert_int_equal(n, 2);
    _cleanup_free_ char *o2 = bt_strv_join(p[1].mount.options, ",");
    assert_string_equal(o2, "rbind,rprivate");
    vol_mount_plans_free(p, n);

    /* path -> volume */
    _cleanup_free_ char *a = vol_store_volume_of_path(st, vsrc);
    assert_string_equal(a, "shared");
    _cleanup_free_ char *sub = xasprintf("%s/volumes/shared/_data/x", tmpl);
    assert_null(vol_store_volume_of_path(st, sub));
    _cleanup_free_ char *dots = xasprintf("%s/volumes/../volumes/shared/_data", tmpl);
    _cleanup_free_ char *b = vol_store_volume_of_path(st, dots);
    assert_string_equal(b, "shared");
    _cleanup_free_ char *hidden = xasprintf("%s/volumes/.new-x/_data", tmpl);
    assert_null(vol_store_volume_of_path(st, hidden));
    assert_null(vol_store_volume_of_path(st, "/srv/data"));

    vol_store_free(st);
    assert_int_equal(bt_rm_rf(tmpl, &err), 0);
}

static void
test_unique(void **state)
{
    _cleanup_err_ struct bt_err *err = NULL;
    struct vol_oci_mount a = {"/data", "bind", "/x", NULL, NULL};
    struct vol_oci_mount b = {"/other", "bind", "/y", NULL, NULL};
    struct vol_oci_mount c = {"/data/", "tmpfs", "tmpfs", NULL, NULL};
    const struct vol_oci_mount *ok[] = {&a, &b};
    assert_int_equal(vol_mounts_check_unique(ok, 2, &err), 0);
    const struct vol_oci_mount *dup[] = {&a, &b, &c};
    assert_int_equal(vol_mounts_check_unique(dup, 3, &err), -EINVAL);
    assert_string_equal(err->msg, "duplicate mount point: /data");
}

int
main(void)
{
    bt_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_mounts_from),
        cmocka_unit_test(test_unique),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
