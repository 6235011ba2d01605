/* image: the store (blobs verified on write, commit, shared layers,
 * refs, removal of only what nothing uses, the container usage hook) and
 * the image config a container gets. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/image-build.h"

struct fx {
    char *root;
    struct image_store *s;
};

static int
setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof(*f));
    f->root = xstrdup("/tmp/berth-store-XXXXXX");
    assert_non_null(mkdtemp(f->root));
    f->s = image_store_open(f->root, NULL);
    assert_non_null(f->s);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    image_store_free(f->s);
    assert_int_equal(bt_rm_rf(f->root, NULL), 0);
    free(f->root);
    free(f);
    return 0;
}

static size_t
count(struct fx *f, const char *sub)
{
    _cleanup_free_ char *p = xasprintf("%s/image/%s", f->root, sub);
    return test_count_dir(p);
}

static void
test_blob_verified(void **state)
{
    struct fx *f = *state;
    struct bt_err *err = NULL;
    const char *wrong = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    assert_int_equal(image_blob_put(f->s, wrong, "data", 4, &err), -EBADMSG);
    assert_non_null(strstr(err->msg, "digest mismatch"));
    err = bt_err_free(err);
    assert_int_equal(count(f, "blobs/sha256"), 0);
    assert_int_equal(count(f, "tmp"), 0);
    assert_false(image_blob_exists(f->s, wrong));

    /* An abandoned writer (an interrupted download) leaves nothing. */
    struct image_blob_writer *w = image_blob_writer_new(f->s, NULL);
    assert_int_equal(image_blob_writer_write(w, "part", 4, NULL), 0);
    assert_int_equal(count(f, "tmp"), 1);
    image_blob_writer_free(w);
    assert_int_equal(count(f, "tmp"), 0);
    assert_int_equal(count(f, "blobs/sha256"), 0);

    _cleanup_free_ char *d = NULL;
    assert_int_equal(image_blob_put_new(f->s, "data", 4, &d, NULL), 0);
    assert_string_equal(d,
                        "sha256:3a6eb0790f39ac87c94f3856b2dd2c5d110e6811602261a9a923d3bb23adc8b7");
    assert_true(image_blob_exists(f->s, d));
    assert_int_equal(image_blob_put(f->s, d, "data", 4, NULL), 0);
    size_t len;
    _cleanup_free_ char *back = image_blob_read(f->s, d, &len, NULL);
    assert_int_equal(len, 4);
    assert_memory_equal(back, "data", 4);
}

static const struct tar_entry base_ents[] = {
    {"etc/", AE_IFDIR, 0755},
    {"etc/os-release", AE_IFREG, 0644, "base\n"},
    {"etc/removed", AE_IFREG, 0644, "old\n"},
};
static const struct tar_entry top_a[] = {
    {"app/", AE_IFDIR, 0755},
    {"app/a", AE_IFREG, 0644, "a\n"},
    {"etc/.wh.removed", AE_IFREG, 0644},
};
static const struct tar_entry top_b[] = {{"b", AE_IFREG, 0644, "b\n"}};

static char *
commit(struct fx *f, const struct tar_entry *top, size_t ntop, json_t *extra, const char *name)
{
    struct test_layer layers[] = {{base_ents, BT_ARRAY_SIZE(base_ents)}, {top, ntop}};
    _cleanup_free_ char *md = test_image_put(f->s, layers, 2, extra, false);
    struct image_ref ref;
    assert_int_equal(image_ref_parse(name, &ref, NULL), 0);
    _cleanup_free_ char *full = image_ref_string(&ref);
    image_ref_done(&ref);
    char *names[] = {full, NULL};
    char *id = NULL;
    struct bt_err *err = NULL;
    if (image_store_commit(f->s, md, names, &id, &err) < 0)
        fail_msg("%s", err->msg);
    return id;
}

static void
test_commit_and_config(void **state)
{
    struct fx *f = *state;
    if (geteuid() != 0)
        skip(); /* whiteouts in layers are character devices */
    _cleanup_json_ json_t *extra =
        json_pack("{s:[s,s], s:[s], s:s, s:s, s:{s:{},s:{}}, s:{s:{}}, s:{s:[s,s], s:I, s:I, s:i},"
                  " s:s, s:{s:s}}",
                  "Entrypoint", "/bin/app", "--serve", "Cmd", "--port=80", "WorkingDir", "/app",
                  "User", "1000:1000", "ExposedPorts", "80/tcp", "53/udp", "Volumes", "/data",
                  "Healthcheck", "Test", "CMD-SHELL", "wget -q localhost", "Interval",
                  (json_int_t)5000000000, "Timeout", (json_int_t)2000000000, "Retries", 3,
                  "StopSignal", "SIGQUIT", "Labels", "org.example.team", "web");
    _cleanup_free_ char *id = commit(f, top_a, BT_ARRAY_SIZE(top_a), extra, "app:1");

    struct image_config c;
    struct bt_err *err = NULL;
    if (image_config_get(f->s, "app:1", &c, &err) < 0)
        fail_msg("%s", err->msg);
    assert_string_equal(c.id, id);
    assert_string_equal(c.env[0], "PATH=/bin");
    assert_string_equal(c.entrypoint[0], "/bin/app");
    assert_string_equal(c.entrypoint[1], "--serve");
    assert_string_equal(c.cmd[0], "--port=80");
    assert_string_equal(c.working_dir, "/app");
    assert_string_equal(c.user, "1000:1000");
    assert_string_equal(c.exposed_ports[0], "53/udp");
    assert_string_equal(c.exposed_ports[1], "80/tcp");
    assert_string_equal(c.volumes[0], "/data");
    assert_string_equal(c.healthcheck.test[0], "CMD-SHELL");
    assert_int_equal(c.healthcheck.interval_ns, 5000000000);
    assert_int_equal(c.healthcheck.retries, 3);
    assert_string_equal(c.stop_signal, "SIGQUIT");
    assert_string_equal(c.labels[0], "org.example.team=web");
    assert_string_equal(c.os, "linux");
    assert_string_equal(c.architecture, "amd64");
    assert_int_equal(bt_strv_length(c.lowerdirs), 2);
    assert_int_equal(bt_strv_length(c.diff_ids), 2);
    /* topmost first */
    _cleanup_free_ char *top_file = bt_path_join(c.lowerdirs[0], "app/a");
    _cleanup_free_ char *base_file = bt_path_join(c.lowerdirs[1], "etc/os-release");
    assert_true(bt_path_exists(top_file));
    assert_true(bt_path_exists(base_file));
    /* the whiteout in the top layer hides the base's file under overlay */
    _cleanup_free_ char *wh = bt_path_join(c.lowerdirs[0], "etc/removed");
    struct stat st;
    assert_int_equal(lstat(wh, &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    image_config_done(&c);

    /* resolve by every name a user may type */
    _cleanup_free_ char *r1 = image_store_resolve(f->s, "docker.io/library/app:1", NULL);
    _cleanup_free_ char *shortid = xstrndup(id + 7, 12);
    _cleanup_free_ char *r2 = image_store_resolve(f->s, shortid, NULL);
    _cleanup_free_ char *r3 = image_store_resolve(f->s, id, NULL);
    assert_string_equal(r1, id);
    assert_string_equal(r2, id);
    assert_string_equal(r3, id);
    _cleanup_free_ char *none = image_store_resolve(f->s, "app", NULL); /* app:latest */
    assert_null(none);
    assert_int_equal(image_config_get(f->s, "nothere:1", &c, &err), -ENOENT);
    assert_string_equal(err->msg, "No such image: nothere:1");
    bt_err_free(err);
}

static void
test_shared_layers_and_removal(void **state)
{
    struct fx *f = *state;
    if (geteuid() != 0)
        skip();
    _cleanup_free_ char *a = commit(f, top_a, BT_ARRAY_SIZE(top_a), NULL, "a:1");
    size_t blobs_a = count(f, "blobs/sha256"); /* 2 layers, config, manifest */
    assert_int_equal(blobs_a, 4);
    _cleanup_free_ char *b = commit(f, top_b, BT_ARRAY_SIZE(top_b), NULL, "b:1");
    /* the base layer is unpacked once and shared */
    assert_int_equal(count(f, "layers"), 3);
    assert_int_equal(count(f, "l"), 3);
    assert_int_equal(count(f, "blobs/sha256"), 7);
    assert_string_not_equal(a, b);

    struct image_info *list;
    size_t n;
    assert_int_equal(image_store_list(f->s, &list, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_true(list[0].size > 0);
    assert_int_equal(list[0].created, 1767323045);
    image_info_list_free(list, n);

    /* a second name, then removal by id needs force */
    assert_int_equal(image_store_tag(f->s, a, "registry.example.com/team/a:2", NULL), 0);
    struct bt_err *err = NULL;
    assert_int_equal(image_store_remove(f->s, a, false, NULL, NULL, &err), -EBUSY);
    assert_non_null(strstr(err->msg, "referenced in multiple repositories"));
    err = bt_err_free(err);

    /* removing one name only untags */
    _cleanup_strv_ char **untagged = NULL;
    _cleanup_strv_ char **deleted = NULL;
    assert_int_equal(image_store_remove(f->s, "a:1", false, &untagged, &deleted, NULL), 0);
    assert_string_equal(untagged[0], "docker.io/library/a:1");
    assert_null(deleted);
    assert_int_equal(count(f, "layers"), 3);

    /* the last name removes the image and only what b does not use */
    assert_int_equal(
        image_store_remove(f->s, "registry.example.com/team/a:2", false, NULL, &deleted, NULL), 0);
    assert_string_equal(deleted[0], a);
    assert_int_equal(count(f, "layers"), 2);
    assert_int_equal(count(f, "l"), 2);
    assert_int_equal(count(f, "blobs/sha256"), 4);
    struct image_config c;
    assert_int_equal(image_config_get(f->s, "b:1", &c, NULL), 0);
    _cleanup_free_ char *base_file = bt_path_join(c.lowerdirs[1], "etc/os-release");
    assert_true(bt_path_exists(base_file));
    image_config_done(&c);

    assert_int_equal(image_store_remove(f->s, "b:1", false, NULL, NULL, NULL), 0);
    assert_int_equal(count(f, "layers"), 0);
    assert_int_equal(count(f, "l"), 0);
    assert_int_equal(count(f, "blobs/sha256"), 0);
    assert_int_equal(count(f, "images"), 0);
    assert_int_equal(image_store_remove(f->s, "b:1", false, NULL, NULL, &err), -ENOENT);
    bt_err_free(err);
}

static void
test_usage_hook(void **state)
{
    struct fx *f = *state;
    if (geteuid() != 0)
        skip();
    _cleanup_free_ char *a = commit(f, top_a, BT_ARRAY_SIZE(top_a), NULL, "a:1");
    assert_int_equal(image_store_use(f->s, a, "c0ffee", NULL), 0);
    struct bt_err *err = NULL;
    assert_int_equal(image_store_remove(f->s, "a:1", false, NULL, NULL, &err), -EBUSY);
    assert_non_null(strstr(err->msg, "container c0ffee is using its referenced image"));
    err = bt_err_free(err);
    assert_int_equal(image_store_use(f->s, a, "../x", &err), -EINVAL);
    err = bt_err_free(err);

    /* forced: the name goes, the image stays for its container */
    _cleanup_strv_ char **deleted = NULL;
    assert_int_equal(image_store_remove(f->s, "a:1", true, NULL, &deleted, NULL), 0);
    assert_null(deleted);
    struct image_config c;
    assert_int_equal(image_config_get(f->s, a, &c, NULL), 0);
    image_config_done(&c);
    /* prune keeps images in use */
    assert_int_equal(image_store_prune(f->s, false, &deleted, NULL, NULL), 0);
    assert_null(deleted);
    assert_int_equal(image_store_release(f->s, a, "c0ffee", NULL), 0);
    int64_t reclaimed = 0;
    assert_int_equal(image_store_prune(f->s, false, &deleted, &reclaimed, NULL), 0);
    assert_string_equal(deleted[0], a);
    assert_true(reclaimed > 0);
    assert_int_equal(count(f, "layers"), 0);
    assert_int_equal(count(f, "blobs/sha256"), 0);
}

static void
test_bad_diff_id(void **state)
{
    struct fx *f = *state;
    struct test_layer layers[] = {{top_b, BT_ARRAY_SIZE(top_b)}};
    _cleanup_free_ char *md = test_image_put(f->s, layers, 1, NULL, true);
    struct bt_err *err = NULL;
    assert_int_equal(image_store_commit(f->s, md, NULL, NULL, &err), -EBADMSG);
    assert_non_null(strstr(err->msg, "uncompressed layer digest mismatch"));
    bt_err_free(err);
    assert_int_equal(count(f, "layers"), 0);
    assert_int_equal(count(f, "tmp"), 0);
    assert_int_equal(count(f, "images"), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_blob_verified, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_and_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_layers_and_removal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usage_hook, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_diff_id, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
