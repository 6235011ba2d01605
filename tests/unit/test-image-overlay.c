/* image: an image of 120 layers mounts with overlayfs, through the new
 * mount API and through the short-name fallback, although its full
 * lowerdir list is far longer than a page. Needs root; mounts are made in
 * a private mount namespace of this test process only. */
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/image-build.h"

#define NLAYERS 120

static char *root;
static struct image_store *store;

static int
setup(void **state)
{
    if (geteuid() != 0 || unshare(CLONE_NEWNS) < 0 ||
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return 0; /* tests skip */
    root = xstrdup("/tmp/berth-overlay-XXXXXX");
    assert_non_null(mkdtemp(root));
    store = image_store_open(root, NULL);
    assert_non_null(store);
    /* layer i adds f<i> and replaces "top" (so the topmost one wins); the
     * last layer whites out f0 */
    struct test_layer layers[NLAYERS];
    struct tar_entry *ents = xcalloc(NLAYERS * 2, sizeof(*ents));
    char **names = NULL;
    for (int i = 0; i < NLAYERS; i++) {
        names = bt_strv_push_take(names, xasprintf("f%d", i));
        names = bt_strv_push_take(names, xasprintf("layer %d\n", i));
        ents[2 * i] = (struct tar_entry){.path = "", .type = AE_IFREG, .perm = 0644};
        ents[2 * i + 1] = (struct tar_entry){.path = "top", .type = AE_IFREG, .perm = 0644};
    }
    for (int i = 0; i < NLAYERS; i++) {
        ents[2 * i].path = names[2 * i];
        ents[2 * i].data = names[2 * i + 1];
        ents[2 * i + 1].data = names[2 * i + 1];
        layers[i] = (struct test_layer){&ents[2 * i], 2};
    }
    ents[2 * (NLAYERS - 1)].path = ".wh.f0";
    ents[2 * (NLAYERS - 1)].data = NULL;
    _cleanup_free_ char *md = test_image_put(store, layers, NLAYERS, NULL, false);
    char *tag[] = {"docker.io/library/tall:latest", NULL};
    struct bt_err *err = NULL;
    if (image_store_commit(store, md, tag, NULL, &err) < 0)
        fail_msg("%s", err->msg);
    bt_strv_free(names);
    free(ents);
    return 0;
}

static int
teardown(void **state)
{
    if (!root)
        return 0;
    image_store_free(store);
    assert_int_equal(bt_rm_rf(root, NULL), 0);
    free(root);
    return 0;
}

static void
check_mount(bool legacy)
{
    if (!root)
        skip();
    struct image_config c;
    assert_int_equal(image_config_get(store, "tall", &c, NULL), 0);
    assert_int_equal(bt_strv_length(c.lowerdirs), NLAYERS);
    _cleanup_free_ char *joined = bt_strv_join(c.lowerdirs, ":");
    assert_true(strlen(joined) > 4096); /* would not fit in mount(2)'s page */
    _cleanup_free_ char *work = xasprintf("%s/%s", root, legacy ? "lw" : "w");
    _cleanup_free_ char *upper = xasprintf("%s/%s", root, legacy ? "lu" : "u");
    _cleanup_free_ char *target = xasprintf("%s/%s", root, legacy ? "lm" : "m");
    assert_int_equal(mkdir(work, 0700), 0);
    assert_int_equal(mkdir(upper, 0755), 0);
    assert_int_equal(mkdir(target, 0755), 0);
    struct bt_err *err = NULL;
    int r = legacy ? image_overlay_mount_legacy(store, c.lowerdirs, upper, work, target, &err)
                   : image_overlay_mount(store, c.lowerdirs, upper, work, target, &err);
    if (r < 0)
        fail_msg("%s", err->msg);
    size_t len;
    _cleanup_free_ char *top_path = bt_path_join(target, "top");
    _cleanup_free_ char *top = bt_file_read_all(top_path, &len, NULL);
    assert_string_equal(top, "layer 119\n");
    _cleanup_free_ char *f1p = bt_path_join(target, "f1");
    _cleanup_free_ char *f1 = bt_file_read_all(f1p, &len, NULL);
    assert_string_equal(f1, "layer 1\n");
    _cleanup_free_ char *f118 = bt_path_join(target, "f118");
    assert_true(bt_path_exists(f118));
    _cleanup_free_ char *f0 = bt_path_join(target, "f0");
    assert_false(bt_path_exists(f0)); /* whited out by the top layer */
    /* writes go to the upper dir */
    _cleanup_free_ char *nw = bt_path_join(target, "new");
    assert_int_equal(bt_file_write_atomic(nw, "n", 1, 0644, NULL), 0);
    _cleanup_free_ char *nu = bt_path_join(upper, "new");
    assert_true(bt_path_exists(nu));
    assert_int_equal(umount2(target, MNT_DETACH), 0);
    image_config_done(&c);
}

static void
test_new_api(void **state)
{
    check_mount(false);
}

static void
test_short_names(void **state)
{
    check_mount(true);
}

static void
test_bad_args(void **state)
{
    if (!root)
        skip();
    struct bt_err *err = NULL;
    assert_int_equal(image_overlay_mount(store, NULL, NULL, NULL, "/x", &err), -EINVAL);
    err = bt_err_free(err);
    char *l[] = {"/nonexistent-layer", NULL};
    assert_int_equal(image_overlay_mount(store, l, "/u", NULL, "/x", &err), -EINVAL);
    assert_non_null(strstr(err->msg, "both an upper and a work"));
    bt_err_free(err);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_api),
        cmocka_unit_test(test_short_names),
        cmocka_unit_test(test_bad_args),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
