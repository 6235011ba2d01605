/* berth cp's path rules: CONTAINER:PATH splitting, normalisation that keeps
 * "/" and "/.", entry names, renaming, and where a copy lands (docker cp's
 * table of SRC and DEST cases). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/cp.h"

static void
split_arg(const char *arg, const char *want_ctr, const char *want_path)
{
    char *ctr = NULL, *path = NULL;
    engine_cp_split_arg(arg, &ctr, &path);
    if (want_ctr)
        assert_string_equal(ctr, want_ctr);
    else
        assert_null(ctr);
    assert_string_equal(path, want_path);
    free(ctr);
    free(path);
}

static void
test_split_arg(void **state)
{
    (void)state;
    split_arg("web:/etc/hosts", "web", "/etc/hosts");
    split_arg("web:rel/x", "web", "rel/x");
    split_arg("/abs/with:colon", NULL, "/abs/with:colon");
    split_arg("./file:name.txt", NULL, "./file:name.txt");
    split_arg("plain", NULL, "plain");
    split_arg("-", NULL, "-");
    split_arg("web:", "web", "");
}

static void
normalize(const char *base, const char *path, const char *want)
{
    char *got = engine_cp_path_normalize(base, path);
    assert_string_equal(got, want);
    free(got);
}

static void
test_normalize(void **state)
{
    (void)state;
    normalize("/", "etc/hosts", "/etc/hosts");
    normalize("/", "/a//b/../c", "/a/c");
    normalize("/", "/dir/", "/dir/");
    normalize("/", "/dir/.", "/dir/.");
    normalize("/work", "sub/.", "/work/sub/.");
    normalize("/work", ".", "/work/.");
    normalize("/", "/", "/");
    normalize("/", "/../../etc", "/etc");
    assert_true(engine_cp_path_asserts_dir("/x/"));
    assert_true(engine_cp_path_asserts_dir("/x/."));
    assert_false(engine_cp_path_asserts_dir("/x"));
    assert_false(engine_cp_path_asserts_dir("/x/.hidden"));
}

static void
split_path(const char *path, const char *want_dir, const char *want_base)
{
    char *dir = NULL, *base = NULL;
    engine_cp_split_path(path, &dir, &base);
    assert_string_equal(dir, want_dir);
    assert_string_equal(base, want_base);
    free(dir);
    free(base);
}

static void
test_split_path(void **state)
{
    (void)state;
    split_path("/a/b", "/a", "b");
    split_path("/a/b/", "/a", "b");
    split_path("/a/b/.", "/a/b", ".");
    split_path("/b", "/", "b");
    split_path("/", "/", ".");
}

static void
rebase(const char *name, const char *from, const char *to, const char *want)
{
    char *got = engine_cp_rebase(name, from, to);
    assert_string_equal(got, want);
    free(got);
}

static void
test_rebase(void **state)
{
    (void)state;
    rebase("src", "src", "dst", "dst");
    rebase("src/a/b", "src", "dst", "dst/a/b");
    rebase("./src/a", "src", "dst", "dst/a");
    rebase("srcother/a", "src", "dst", "srcother/a");
    rebase("other/src", "src", "dst", "other/src");
    rebase(".", ".", "new", "new");
    rebase("./a/b", ".", "new", "new/a/b");
}

struct plan_case {
    bool src_is_dir;
    const char *src_base;
    const char *dst;
    bool exists, is_dir;
    int err; /* 0: the plan below */
    const char *dir, *from, *to;
};

static void
test_plan(void **state)
{
    (void)state;
    const struct plan_case cases[] = {
        /* DEST an existing directory: into it, names unchanged */
        {false, "f.txt", "/tmp", true, true, 0, "/tmp", NULL, NULL},
        {true, "d", "/tmp/", true, true, 0, "/tmp", NULL, NULL},
        {true, ".", "/tmp/x", true, true, 0, "/tmp/x", NULL, NULL},
        /* a file onto an existing file: takes its name */
        {false, "f.txt", "/tmp/g.txt", true, false, 0, "/tmp", "f.txt", "g.txt"},
        /* a directory onto a file: error */
        {true, "d", "/tmp/g.txt", true, false, ENOTDIR, NULL, NULL, NULL},
        /* a missing DEST: created with its name, in its parent */
        {false, "f.txt", "/tmp/new.txt", false, false, 0, "/tmp", "f.txt", "new.txt"},
        {true, "d", "/tmp/new", false, false, 0, "/tmp", "d", "new"},
        {true, ".", "/tmp/new", false, false, 0, "/tmp", ".", "new"},
        {true, "d", "/tmp/new/", false, false, 0, "/tmp", "d", "new"},
        {true, ".", "/tmp/new/.", false, false, 0, "/tmp", ".", "new"},
        /* a file to a missing directory (trailing '/'): error */
        {false, "f.txt", "/tmp/nodir/", false, false, ENOENT, NULL, NULL, NULL},
        {false, "f.txt", "/tmp/nodir/.", false, false, ENOENT, NULL, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct plan_case *c = &cases[i];
        struct engine_cp_plan p;
        struct bt_err *err = NULL;
        int r =
            engine_cp_plan_make(c->src_is_dir, c->src_base, c->dst, c->exists, c->is_dir, &p, &err);
        if (c->err) {
            assert_int_equal(r, -c->err);
            assert_non_null(err);
            bt_err_free(err);
            continue;
        }
        assert_int_equal(r, 0);
        assert_null(err);
        assert_string_equal(p.dir, c->dir);
        if (c->from) {
            assert_string_equal(p.old_base, c->from);
            assert_string_equal(p.new_base, c->to);
        } else {
            assert_null(p.old_base);
            assert_null(p.new_base);
        }
        engine_cp_plan_done(&p);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_arg),  cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_split_path), cmocka_unit_test(test_rebase),
        cmocka_unit_test(test_plan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
