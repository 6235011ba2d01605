/* image: layer unpacking (formats, metadata, whiteouts) and confinement
 * against hostile tarballs. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "image/image-internal.h"
#include "tests/unit/image-tar.h"

struct fx {
    char *tmp;     /* scratch dir */
    char *root;    /* tmp/root: the layer root */
    char *outside; /* tmp/outside: must never change */
    int rootfd;
};

static int
setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof(*f));
    f->tmp = xstrdup("/tmp/berth-layer-XXXXXX");
    assert_non_null(mkdtemp(f->tmp));
    f->root = bt_path_join(f->tmp, "root");
    f->outside = bt_path_join(f->tmp, "outside");
    assert_int_equal(mkdir(f->root, 0755), 0);
    assert_int_equal(mkdir(f->outside, 0755), 0);
    _cleanup_free_ char *secret = bt_path_join(f->outside, "secret");
    assert_int_equal(bt_file_write_atomic(secret, "keep", 4, 0644, NULL), 0);
    f->rootfd = open(f->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_true(f->rootfd >= 0);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    close(f->rootfd);
    assert_int_equal(bt_rm_rf(f->tmp, NULL), 0);
    free(f->tmp);
    free(f->root);
    free(f->outside);
    free(f);
    return 0;
}

/* outside/ holds exactly "secret" with "keep", once linked. */
static void
assert_outside_untouched(struct fx *f)
{
    _cleanup_dir_ DIR *d = opendir(f->outside);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.') {
            assert_string_equal(de->d_name, "secret");
            n++;
        }
    assert_int_equal(n, 1);
    _cleanup_free_ char *secret = bt_path_join(f->outside, "secret");
    size_t len;
    _cleanup_free_ char *s = bt_file_read_all(secret, &len, NULL);
    assert_string_equal(s, "keep");
    struct stat st;
    assert_int_equal(stat(secret, &st), 0);
    assert_int_equal(st.st_nlink, 1);
    _cleanup_free_ char *pw = bt_path_join(f->tmp, "evil");
    assert_false(bt_path_exists(pw));
}

static int
unpack_buf(struct fx *f, const char *buf, size_t len, char **diff_id, struct bt_err **err)
{
    _cleanup_free_ char *p = bt_path_join(f->tmp, "layer.tar");
    assert_int_equal(bt_file_write_atomic(p, buf, len, 0644, NULL), 0);
    _cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
    int r = image_layer_unpack(fd, f->rootfd, diff_id, NULL, err);
    unlink(p);
    return r;
}

static char *
read_in_root(struct fx *f, const char *rel)
{
    _cleanup_free_ char *p = bt_path_join(f->root, rel);
    size_t len;
    return bt_file_read_all(p, &len, NULL);
}

static const struct tar_entry basic[] = {
    {"./etc/", AE_IFDIR, 0755, .mtime = 1600000000},
    {"./etc/motd", AE_IFREG, 0640, "hello\n", 1000, 100, .mtime = 1500000000},
    {"bin/tool", AE_IFREG, 04755, "#!/bin/sh\n", .xattr_name = "user.berth", .xattr_value = "yes"},
    {"bin/link", AE_IFLNK, 0777, "tool", 1000, 1000},
    {"bin/hard", 0, 0, "bin/tool"},
    {"dev/null", AE_IFCHR, 0666, .rdev_major = 1, .rdev_minor = 3},
    {"run/fifo", AE_IFIFO, 0600},
    {"deep/a/b/c/file", AE_IFREG, 0600, "x"},
    {"old/.wh.gone", AE_IFREG, 0600},
    {"opq/.wh..wh..opq", AE_IFREG, 0600},
    {"trusted-attr", AE_IFREG, 0600, "t", .xattr_name = "trusted.overlay.opaque",
     .xattr_value = "y"},
};

static void
check_basic(struct fx *f)
{
    struct stat st;
    _cleanup_free_ char *motd = read_in_root(f, "etc/motd");
    assert_string_equal(motd, "hello\n");
    _cleanup_free_ char *mp = bt_path_join(f->root, "etc/motd");
    assert_int_equal(lstat(mp, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_int_equal(st.st_uid, 1000);
    assert_int_equal(st.st_gid, 100);
    assert_int_equal(st.st_mtime, 1500000000);
    _cleanup_free_ char *ep = bt_path_join(f->root, "etc");
    assert_int_equal(lstat(ep, &st), 0);
    assert_int_equal(st.st_mtime, 1600000000); /* kept after its child was written */

    _cleanup_free_ char *tp = bt_path_join(f->root, "bin/tool");
    assert_int_equal(lstat(tp, &st), 0);
    assert_int_equal(st.st_mode & 07777, 04755);
    assert_int_equal(st.st_nlink, 2);
    char val[16] = {0};
    assert_int_equal(getxattr(tp, "user.berth", val, sizeof(val)), 3);
    assert_string_equal(val, "yes");

    _cleanup_free_ char *hp = bt_path_join(f->root, "bin/hard");
    struct stat st2;
    assert_int_equal(lstat(hp, &st2), 0);
    assert_int_equal(st2.st_ino, st.st_ino);

    _cleanup_free_ char *lp = bt_path_join(f->root, "bin/link");
    char target[64] = {0};
    assert_int_equal(readlink(lp, target, sizeof(target)), 4);
    assert_string_equal(target, "tool");
    assert_int_equal(lstat(lp, &st), 0);
    assert_int_equal(st.st_uid, 1000);

    _cleanup_free_ char *dp = bt_path_join(f->root, "dev/null");
    assert_int_equal(lstat(dp, &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    assert_int_equal(major(st.st_rdev), 1);
    assert_int_equal(minor(st.st_rdev), 3);
    _cleanup_free_ char *fp = bt_path_join(f->root, "run/fifo");
    assert_int_equal(lstat(fp, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    _cleanup_free_ char *deep = read_in_root(f, "deep/a/b/c/file");
    assert_string_equal(deep, "x");

    /* OCI whiteout -> overlayfs whiteout (char 0:0), opaque -> xattr */
    _cleanup_free_ char *wp = bt_path_join(f->root, "old/gone");
    assert_int_equal(lstat(wp, &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    assert_int_equal(st.st_rdev, makedev(0, 0));
    _cleanup_free_ char *wh = bt_path_join(f->root, "old/.wh.gone");
    assert_false(bt_path_exists(wh));
    _cleanup_free_ char *op = bt_path_join(f->root, "opq");
    memset(val, 0, sizeof(val));
    assert_int_equal(getxattr(op, "trusted.overlay.opaque", val, sizeof(val)), 1);
    assert_string_equal(val, "y");
    /* a layer cannot set overlayfs's own attributes itself */
    _cleanup_free_ char *ta = bt_path_join(f->root, "trusted-attr");
    assert_int_equal(getxattr(ta, "trusted.overlay.opaque", val, sizeof(val)), -1);
}

static void
unpack_with(void **state, int filter)
{
    struct fx *f = *state;
    if (geteuid() != 0)
        skip(); /* owners, devices and trusted xattrs need root */
    size_t len, plain_len;
    _cleanup_free_ char *buf = tar_build(basic, BT_ARRAY_SIZE(basic), filter, &len);
    _cleanup_free_ char *plain =
        tar_build(basic, BT_ARRAY_SIZE(basic), ARCHIVE_FILTER_NONE, &plain_len);
    _cleanup_free_ char *want = image_sha256_digest(plain, plain_len);
    _cleanup_free_ char *diff_id = NULL;
    struct bt_err *err = NULL;
    if (unpack_buf(f, buf, len, &diff_id, &err) < 0)
        fail_msg("%s", err->msg);
    assert_string_equal(diff_id, want);
    check_basic(f);
}

static void
test_unpack_plain(void **state)
{
    unpack_with(state, ARCHIVE_FILTER_NONE);
}

static void
test_unpack_gzip(void **state)
{
    unpack_with(state, ARCHIVE_FILTER_GZIP);
}

static void
test_unpack_zstd(void **state)
{
    unpack_with(state, ARCHIVE_FILTER_ZSTD);
}

static void
test_not_a_tar(void **state)
{
    struct fx *f = *state;
    struct bt_err *err = NULL;
    const char junk[] = "this is not a tar archive at all, just some text that goes on";
    assert_true(unpack_buf(f, junk, sizeof(junk), NULL, &err) < 0);
    assert_non_null(strstr(err->msg, "read layer"));
    bt_err_free(err);
}

/* A hostile tarball: the unpack fails with the message, or succeeds, and
 * in both cases nothing outside the root changed. */
static void
hostile(struct fx *f, const struct tar_entry *ents, size_t n, const char *msg)
{
    size_t len;
    _cleanup_free_ char *buf = tar_build(ents, n, ARCHIVE_FILTER_NONE, &len);
    struct bt_err *err = NULL;
    int r = unpack_buf(f, buf, len, NULL, &err);
    if (msg) {
        assert_true(r < 0);
        if (!strstr(err->msg, msg))
            fail_msg("'%s' lacks '%s'", err->msg, msg);
        bt_err_free(err);
    } else if (r < 0) {
        fail_msg("unexpected failure: %s", err->msg);
    }
    assert_outside_untouched(f);
}

static void
test_dotdot(void **state)
{
    struct fx *f = *state;
    const struct tar_entry e1[] = {{"../evil", AE_IFREG, 0644, "x"}};
    hostile(f, e1, 1, "leaves the layer root");
    const struct tar_entry e2[] = {{"a/../../evil", AE_IFREG, 0644, "x"}};
    hostile(f, e2, 1, "leaves the layer root");
    const struct tar_entry e3[] = {{"../outside/secret", AE_IFREG, 0644, "owned"}};
    hostile(f, e3, 1, "leaves the layer root");
}

static void
test_absolute(void **state)
{
    struct fx *f = *state;
    _cleanup_free_ char *abs = bt_path_join(f->outside, "secret");
    const struct tar_entry e[] = {{abs, AE_IFREG, 0644, "owned"}};
    hostile(f, e, 1, NULL);
    /* taken relative to the root */
    _cleanup_free_ char *in = read_in_root(f, abs + 1);
    assert_string_equal(in, "owned");
}

static void
test_symlink_dir_escape(void **state)
{
    struct fx *f = *state;
    /* A directory symlink pointing out, absolute and relative, then files
     * written through it. */
    const struct tar_entry e[] = {
        {"out", AE_IFLNK, 0777, f->outside},
        {"out/secret", AE_IFREG, 0644, "owned"},
        {"up", AE_IFLNK, 0777, "../../../../../../.."},
        {"up/evil", AE_IFREG, 0644, "owned"},
        {"up/tmp/evil", AE_IFREG, 0644, "owned"},
    };
    hostile(f, e, BT_ARRAY_SIZE(e), NULL);
    /* The writes landed inside the root, where the links resolve there. */
    _cleanup_free_ char *in = xasprintf("%s/secret", f->outside + 1);
    _cleanup_free_ char *got = read_in_root(f, in);
    assert_string_equal(got, "owned");
    _cleanup_free_ char *got2 = read_in_root(f, "evil");
    assert_string_equal(got2, "owned");
}

static void
test_symlink_replaced_not_followed(void **state)
{
    struct fx *f = *state;
    _cleanup_free_ char *abs = bt_path_join(f->outside, "secret");
    /* The same name first as a symlink out, then as a file: the file
     * replaces the link instead of writing through it. */
    const struct tar_entry e[] = {
        {"f", AE_IFLNK, 0777, abs},
        {"f", AE_IFREG, 0644, "owned"},
    };
    hostile(f, e, BT_ARRAY_SIZE(e), NULL);
    _cleanup_free_ char *got = read_in_root(f, "f");
    assert_string_equal(got, "owned");
}

static void
test_hardlink_escape(void **state)
{
    struct fx *f = *state;
    const struct tar_entry e1[] = {{"h", 0, 0, "../outside/secret"}};
    hostile(f, e1, 1, "leaves the layer root");
    /* Absolute target: resolved inside the root, where it does not exist. */
    _cleanup_free_ char *abs = bt_path_join(f->outside, "secret");
    const struct tar_entry e2[] = {{"h", 0, 0, abs}};
    hostile(f, e2, 1, "hard link 'h'");
    /* Through a symlink pointing out: links the symlink, not its target. */
    const struct tar_entry e3[] = {
        {"s", AE_IFLNK, 0777, abs},
        {"h2", 0, 0, "s"},
    };
    hostile(f, e3, BT_ARRAY_SIZE(e3), NULL);
    _cleanup_free_ char *h2 = bt_path_join(f->root, "h2");
    struct stat st;
    assert_int_equal(lstat(h2, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    /* Through a directory symlink pointing out. */
    const struct tar_entry e4[] = {
        {"d", AE_IFLNK, 0777, f->outside},
        {"h3", 0, 0, "d/secret"},
    };
    hostile(f, e4, BT_ARRAY_SIZE(e4), "hard link 'h3'");
}

static void
test_whiteout_names_nothing(void **state)
{
    struct fx *f = *state;
    const struct tar_entry e[] = {{"a/.wh...", AE_IFREG, 0644}};
    hostile(f, e, 1, "names no file");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unpack_plain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unpack_gzip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unpack_zstd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_tar, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dotdot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_absolute, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_dir_escape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_replaced_not_followed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hardlink_escape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_whiteout_names_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
