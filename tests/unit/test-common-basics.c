/* common: errors, strv, buffers, paths, atomic files, confined resolution. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "common/common.h"

static void
test_err_chain(void **state)
{
    struct bt_err *err = NULL;
    assert_int_equal(bt_err_set(&err, ENOENT, "mount '%s'", "/data"), -ENOENT);
    /* set once: a second set keeps the first message */
    assert_int_equal(bt_err_set(&err, EINVAL, "other"), -EINVAL);
    bt_err_prefix(&err, "create container");
    bt_err_prefix(&err, "service '%s'", "web");
    assert_string_equal(err->msg, "service 'web': create container: mount '/data'");
    assert_int_equal(err->code, ENOENT);
    assert_int_equal(bt_err_ret(&err), -ENOENT);
    err = bt_err_free(err);
    assert_int_equal(bt_err_errno(&err, EACCES, "open"), -EACCES);
    assert_string_equal(err->msg, "open: Permission denied");
    bt_err_free(err);
    /* NULL err pointer is allowed */
    assert_int_equal(bt_err_set(NULL, EIO, "x"), -EIO);
}

static void
test_strv(void **state)
{
    _cleanup_strv_ char **v = bt_strv_split("a:b::c", ":");
    assert_int_equal(bt_strv_length(v), 4);
    assert_string_equal(v[2], "");
    assert_true(bt_strv_contains(v, "c"));
    assert_false(bt_strv_contains(v, "d"));
    _cleanup_free_ char *j = bt_strv_join(v, ",");
    assert_string_equal(j, "a,b,,c");
    v = bt_strv_push(v, "0");
    bt_strv_sort(v);
    assert_string_equal(v[0], "");
    assert_string_equal(v[1], "0");
}

static void
test_buf_and_parse(void **state)
{
    struct bt_buf b = {0};
    bt_buf_puts(&b, "x=");
    bt_buf_printf(&b, "%d", 42);
    bt_buf_putc(&b, '!');
    _cleanup_free_ char *s = bt_buf_steal(&b);
    assert_string_equal(s, "x=42!");
    int64_t i;
    uint64_t u;
    assert_true(bt_parse_int64("-12", &i));
    assert_int_equal(i, -12);
    assert_false(bt_parse_int64("12x", &i));
    assert_false(bt_parse_uint64("-1", &u));
    assert_false(bt_parse_uint64("99999999999999999999999", &u));
}

static void
test_paths(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"/a/b/../c", "/a/c"},
        {"/../..", "/"},
        {"a/./b//c/", "a/b/c"},
        {"../x", "../x"},
        {"a/../..", ".."},
        {"", "."},
        {"/", "/"},
        {"./", "."},
        {"a/b/../../../c", "../c"},
    };
    for (size_t k = 0; k < BT_ARRAY_SIZE(cases); k++) {
        _cleanup_free_ char *c = bt_path_clean(cases[k].in);
        assert_string_equal(c, cases[k].out);
    }
    _cleanup_free_ char *j = bt_path_join("/a/", "/b");
    assert_string_equal(j, "/a/b");
    _cleanup_free_ char *abs = bt_path_absolute("/proj", "./data/../x");
    assert_string_equal(abs, "/proj/x");
    _cleanup_free_ char *d = bt_path_dirname("/a/b/c");
    assert_string_equal(d, "/a/b");
    assert_string_equal(bt_path_basename("/a/b/c"), "c");
}

static void
test_files_and_root(void **state)
{
    char tmpl[] = "/tmp/berth-unit.XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    struct bt_err *err = NULL;
    _cleanup_free_ char *root = bt_path_join(tmpl, "root");
    _cleanup_free_ char *f = bt_path_join(tmpl, "f.json");
    assert_int_equal(bt_mkdir_p(root, 0755, &err), 0);

    json_t *j = json_pack("{s:s, s:i}", "a", "b", "n", 3);
    assert_int_equal(bt_json_write_atomic(f, j, &err), 0);
    json_decref(j);
    _cleanup_json_ json_t *back = bt_json_load_file(f, &err);
    assert_non_null(back);
    assert_string_equal(bt_json_str(back, "a"), "b");

    /* a symlink inside the root that points outside stays inside */
    _cleanup_free_ char *link = bt_path_join(root, "escape");
    assert_int_equal(symlink("/etc", link), 0);
    _cleanup_close_ int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    int fd = bt_openat_in_root(rootfd, "escape/passwd", O_RDONLY, 0, &err);
    assert_true(fd < 0);
    assert_non_null(err);
    err = bt_err_free(err);
    fd = bt_openat_in_root(rootfd, "../../../../etc/passwd", O_RDONLY, 0, &err);
    assert_true(fd < 0);
    err = bt_err_free(err);
    /* mkdir -p through the planted link lands inside the root */
    fd = bt_mkdirat_p_in_root(rootfd, "/escape/sub/dir", 0755, &err);
    assert_true(fd >= 0);
    close(fd);
    _cleanup_free_ char *inside = bt_path_join(root, "etc/sub/dir");
    assert_true(bt_path_is_dir(inside));
    assert_false(bt_path_is_dir("/etc/sub/dir"));

    assert_int_equal(bt_rm_rf(tmpl, &err), 0);
    assert_false(bt_path_exists(tmpl));
    assert_null(err);
}

int
main(void)
{
    bt_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_chain),      cmocka_unit_test(test_strv),
        cmocka_unit_test(test_buf_and_parse),  cmocka_unit_test(test_paths),
        cmocka_unit_test(test_files_and_root),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
