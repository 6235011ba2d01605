/* image: the Dockerfile builder over a real store, with a fake runner for
 * RUN steps: layers from upper directories, the config instructions, the
 * build cache, .dockerignore, multi-stage COPY --from, and a failing step
 * that leaves no image, tag or temporary directory. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "image/build.h"
#include "tests/unit/image-build.h"

struct fx {
    char *root, *ctx;
    struct image_store *s;
    int runs;   /* RUN steps the runner ran */
    char **env; /* the last step's environment */
    char *cwd;  /* and working directory */
    FILE *out;  /* the build's output */
};

static void
write_file(const char *dir, const char *rel, const char *text)
{
    _cleanup_free_ char *p = bt_path_join(dir, rel);
    _cleanup_free_ char *d = bt_path_dirname(p);
    assert_int_equal(bt_mkdir_p(d, 0755, NULL), 0);
    assert_int_equal(bt_file_write_atomic(p, text, strlen(text), 0644, NULL), 0);
}

static int
setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof(*f));
    f->root = xstrdup("/tmp/berth-build-XXXXXX");
    assert_non_null(mkdtemp(f->root));
    f->s = image_store_open(f->root, NULL);
    assert_non_null(f->s);
    f->ctx = bt_path_join(f->root, "ctx");
    static const struct tar_entry base[] = {
        {"etc/", AE_IFDIR, 0755},
        {"etc/passwd", AE_IFREG, 0644, "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/:/bin/sh\n"},
        {"etc/release", AE_IFREG, 0644, "base 1\n"},
        {"srv/", AE_IFDIR, 0755},
        {"usr/", AE_IFDIR, 0755},
        {"usr/lib/", AE_IFDIR, 0755},
        {"lib", AE_IFLNK, 0777, "usr/lib"},
        {"opt", AE_IFLNK, 0777, "/srv"},
    };
    struct test_layer l = {base, BT_ARRAY_SIZE(base)};
    _cleanup_free_ char *md = test_image_put(f->s, &l, 1, NULL, false);
    char *names[] = {"docker.io/library/base:1", NULL};
    struct bt_err *err = NULL;
    if (image_store_commit(f->s, md, names, NULL, &err) < 0)
        fail_msg("commit base: %s", err->msg);
    write_file(f->ctx, "site/index.html", "hello\n");
    write_file(f->ctx, "site/sub/page.html", "page\n");
    write_file(f->ctx, "site/secret.key", "secret\n");
    write_file(f->ctx, ".dockerignore", "**/*.key\n");
    f->out = tmpfile();
    assert_non_null(f->out);
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
    free(f->ctx);
    bt_strv_free(f->env);
    free(f->cwd);
    fclose(f->out);
    free(f);
    return 0;
}

/* The fake RUN: "touch PATH" makes a file in the step's upper directory,
 * "fail" prints and exits 3. */
static int
fake_run(void *data, const struct image_build_step *st, struct bt_err **err)
{
    (void)err;
    struct fx *f = data;
    f->runs++;
    bt_strv_free(f->env);
    f->env = bt_strv_copy(st->env);
    free(f->cwd);
    f->cwd = xstrdup(st->cwd);
    const char *cmd = st->argv[bt_strv_length(st->argv) - 1];
    if (strcmp(cmd, "fail") == 0) {
        assert_int_equal(write(st->out_fd, "boom\n", 5), 5);
        return 3;
    }
    assert_true(bt_str_startswith(cmd, "touch /"));
    write_file(st->upper, cmd + 7, "made by run\n");
    return 0;
}

static char *
output(struct fx *f)
{
    fflush(f->out);
    rewind(f->out);
    struct bt_buf b = {0};
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f->out)) > 0)
        bt_buf_append(&b, buf, n);
    rewind(f->out);
    assert_int_equal(ftruncate(fileno(f->out), 0), 0);
    return bt_buf_steal(&b);
}

static int
build(struct fx *f, const char *dockerfile, char *const *args, char **id, struct bt_err **err)
{
    char *tags[] = {"app:1", NULL};
    struct image_build_opts o = {.context = f->ctx,
                                 .dockerfile_inline = dockerfile,
                                 .build_args = args,
                                 .tags = tags,
                                 .out = f->out,
                                 .run = fake_run,
                                 .run_data = f};
    return image_build(f->s, &o, id, err);
}

static size_t
count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static const char *const dockerfile = "ARG BASE=base:1\n"
                                      "FROM ${BASE}\n"
                                      "ARG GREETING=hi\n"
                                      "ENV HOME_DIR=/srv/app MSG=${GREETING:-none}\n"
                                      "RUN touch /made.txt\n"
                                      "WORKDIR $HOME_DIR\n"
                                      "COPY site/ ./site/\n"
                                      "LABEL team=web\n"
                                      "CMD echo $MSG\n";

static void
test_build_single_stage(void **state)
{
    struct fx *f = *state;
    struct bt_err *err = NULL;
    _cleanup_free_ char *id = NULL;
    char *args[] = {"GREETING=hello", NULL};
    if (build(f, dockerfile, args, &id, &err) < 0)
        fail_msg("build: %s", err->msg);
    assert_int_equal(f->runs, 1);
    assert_true(bt_strv_contains(f->env, "GREETING=hello"));
    assert_true(bt_strv_contains(f->env, "MSG=hello"));
    assert_string_equal(f->cwd, "/");
    _cleanup_free_ char *out = output(f);
    assert_int_equal(count(out, "CACHED"), 0);

    struct image_config c;
    if (image_config_get(f->s, "app:1", &c, &err) < 0)
        fail_msg("config: %s", err->msg);
    assert_string_equal(c.id, id);
    assert_string_equal(c.working_dir, "/srv/app");
    assert_true(bt_strv_contains(c.env, "MSG=hello"));
    assert_false(bt_strv_contains(c.env, "GREETING=hello")); /* ARGs stay out of the image */
    assert_int_equal(bt_strv_length(c.cmd), 3);
    assert_string_equal(c.cmd[2], "echo $MSG");
    assert_true(bt_strv_contains(c.labels, "team=web"));
    /* base + RUN + WORKDIR + COPY */
    assert_int_equal(bt_strv_length(c.lowerdirs), 4);
    _cleanup_free_ char *made = bt_path_join(c.lowerdirs[2], "made.txt");
    _cleanup_free_ char *page = bt_path_join(c.lowerdirs[0], "srv/app/site/sub/page.html");
    _cleanup_free_ char *key = bt_path_join(c.lowerdirs[0], "srv/app/site/secret.key");
    assert_true(bt_path_exists(made));
    assert_true(bt_path_exists(page));
    assert_false(bt_path_exists(key)); /* .dockerignore */
    image_config_done(&c);

    /* the same build again: every step cached, the same layers */
    _cleanup_free_ char *id2 = NULL;
    if (build(f, dockerfile, args, &id2, &err) < 0)
        fail_msg("rebuild: %s", err->msg);
    assert_int_equal(f->runs, 1);
    _cleanup_free_ char *out2 = output(f);
    assert_int_equal(count(out2, "CACHED"), 3);
    assert_string_equal(id2, id); /* all cached: the very same image */
    /* another argument value runs the RUN step again */
    char *args2[] = {"GREETING=bye", NULL};
    _cleanup_free_ char *id3 = NULL;
    if (build(f, dockerfile, args2, &id3, &err) < 0)
        fail_msg("build with another argument: %s", err->msg);
    assert_int_equal(f->runs, 2);
    _cleanup_free_ char *out3 = output(f);
    assert_null(strstr(out3, "CACHED [5/8] RUN"));
}

static void
test_build_multi_stage(void **state)
{
    struct fx *f = *state;
    struct bt_err *err = NULL;
    const char *df = "FROM scratch AS files\n"
                     "COPY site/index.html /artifact.html\n"
                     "FROM base:1\n"
                     "COPY --from=files --chown=app --chmod=640 /artifact.html /srv/\n"
                     "FROM base:1 AS unused\n"
                     "RUN touch /never\n";
    char *tags[] = {"multi:1", NULL};
    struct image_build_opts o = {.context = f->ctx,
                                 .dockerfile_inline = df,
                                 .tags = tags,
                                 .target = NULL,
                                 .out = f->out,
                                 .run = fake_run,
                                 .run_data = f};
    /* the last stage by default; --target picks the second one */
    if (image_build(f->s, &o, NULL, &err) < 0)
        fail_msg("build: %s", err->msg);
    assert_int_equal(f->runs, 1);
    o.dockerfile_inline = "FROM scratch AS files\n"
                          "COPY site/index.html /artifact.html\n"
                          "FROM base:1 AS final\n"
                          "COPY --from=files --chown=app --chmod=640 /artifact.html /srv/\n"
                          "FROM final AS unused\n"
                          "RUN touch /never\n";
    o.target = "final";
    if (image_build(f->s, &o, NULL, &err) < 0)
        fail_msg("build --target: %s", err->msg);
    assert_int_equal(f->runs, 1);
    struct image_config c;
    if (image_config_get(f->s, "multi:1", &c, &err) < 0)
        fail_msg("config: %s", err->msg);
    assert_int_equal(bt_strv_length(c.lowerdirs), 2);
    _cleanup_free_ char *a = bt_path_join(c.lowerdirs[0], "srv/artifact.html");
    struct stat sb;
    assert_int_equal(stat(a, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0640);
    if (geteuid() == 0) {
        assert_int_equal(sb.st_uid, 1000);
        assert_int_equal(sb.st_gid, 1001);
    }
    image_config_done(&c);
    o.target = "nosuch";
    assert_true(image_build(f->s, &o, NULL, &err) < 0);
    assert_string_equal(err->msg, "target stage 'nosuch' could not be found");
    err = bt_err_free(err);
}

static void
test_build_failures(void **state)
{
    struct fx *f = *state;
    struct bt_err *err = NULL;
    _cleanup_free_ char *tmp = xasprintf("%s/tmp", image_store_dir(f->s));
    size_t images = 0;
    struct image_info *list = NULL;
    assert_int_equal(image_store_list(f->s, &list, &images, NULL), 0);
    image_info_list_free(list, images);

    assert_true(build(f, "FROM base:1\nRUN fail\n", NULL, NULL, &err) < 0);
    assert_non_null(strstr(err->msg, "Dockerfile:2: RUN: process"));
    assert_non_null(strstr(err->msg, "exit code: 3"));
    err = bt_err_free(err);
    _cleanup_free_ char *out = output(f);
    assert_non_null(strstr(out, "  boom"));

    assert_true(build(f, "FROM base:1\nCOPY missing /x\n", NULL, NULL, &err) < 0);
    assert_string_equal(err->msg,
                        "Dockerfile:2: COPY: source 'missing' not found in the build context");
    err = bt_err_free(err);
    assert_true(build(f, "FROM base:1\nCOPY site/secret.key /x\n", NULL, NULL, &err) < 0);
    assert_non_null(strstr(err->msg, "excluded by .dockerignore"));
    err = bt_err_free(err);
    assert_true(build(f, "FROM base:1\nADD https://example.com/x /x\n", NULL, NULL, &err) < 0);
    assert_non_null(strstr(err->msg, "sources from URLs are not supported"));
    err = bt_err_free(err);
    assert_true(build(f, "RUN touch /x\n", NULL, NULL, &err) < 0);
    assert_string_equal(err->msg, "Dockerfile:1: no FROM before RUN");
    err = bt_err_free(err);
    assert_true(build(f, "FROM base:1\nUSER nobody\nRUN touch /x\n", NULL, NULL, &err) < 0);
    assert_non_null(strstr(err->msg, "unable to find user nobody"));
    err = bt_err_free(err);

    /* nothing was stored or tagged, and no temporary directory is left */
    size_t after = 0;
    assert_int_equal(image_store_list(f->s, &list, &after, NULL), 0);
    image_info_list_free(list, after);
    assert_int_equal(after, images);
    _cleanup_free_ char *id = image_store_resolve(f->s, "app:1", NULL);
    assert_null(id);
    assert_int_equal(test_count_dir(tmp), 0);
}

static void
test_build_symlinked_destination(void **state)
{
    struct fx *f = *state;
    struct bt_err *err = NULL;
    if (build(f,
              "FROM base:1\n"
              "COPY site/index.html /lib/\n"
              "COPY site/sub/page.html /opt/app/page.html\n"
              "WORKDIR /opt/work\n",
              NULL, NULL, &err) < 0)
        fail_msg("build: %s", err->msg);
    struct image_config c;
    if (image_config_get(f->s, "app:1", &c, &err) < 0)
        fail_msg("config: %s", err->msg);
    assert_int_equal(bt_strv_length(c.lowerdirs), 4);
    assert_string_equal(c.working_dir, "/opt/work");
    /* through lib -> usr/lib and opt -> /srv; the links stay links */
    _cleanup_free_ char *a = bt_path_join(c.lowerdirs[2], "usr/lib/index.html");
    _cleanup_free_ char *lib = bt_path_join(c.lowerdirs[2], "lib");
    _cleanup_free_ char *b = bt_path_join(c.lowerdirs[1], "srv/app/page.html");
    _cleanup_free_ char *opt = bt_path_join(c.lowerdirs[1], "opt");
    _cleanup_free_ char *work = bt_path_join(c.lowerdirs[0], "srv/work");
    _cleanup_free_ char *opt2 = bt_path_join(c.lowerdirs[0], "opt");
    assert_true(bt_path_is_dir(work));
    assert_false(bt_path_exists(opt2));
    assert_true(bt_path_exists(a));
    assert_false(bt_path_exists(lib));
    assert_true(bt_path_exists(b));
    assert_false(bt_path_exists(opt));
    image_config_done(&c);
}

static void
test_build_missing_workdir(void **state)
{
    struct fx *f = *state;
    struct bt_err *err = NULL;
    static const struct tar_entry ents[] = {{"etc/", AE_IFDIR, 0755}};
    struct test_layer l = {ents, BT_ARRAY_SIZE(ents)};
    _cleanup_json_ json_t *extra = json_pack("{s:s}", "WorkingDir", "/nowhere/deep");
    _cleanup_free_ char *md = test_image_put(f->s, &l, 1, extra, false);
    char *names[] = {"docker.io/library/wd:1", NULL};
    if (image_store_commit(f->s, md, names, NULL, &err) < 0)
        fail_msg("commit: %s", err->msg);
    if (build(f, "FROM wd:1\nRUN touch /x\n", NULL, NULL, &err) < 0)
        fail_msg("build: %s", err->msg);
    assert_string_equal(f->cwd, "/nowhere/deep");
    struct image_config c;
    if (image_config_get(f->s, "app:1", &c, &err) < 0)
        fail_msg("config: %s", err->msg);
    _cleanup_free_ char *d = bt_path_join(c.lowerdirs[0], "nowhere/deep");
    assert_true(bt_path_is_dir(d));
    image_config_done(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_build_single_stage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_build_multi_stage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_build_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_build_symlinked_destination, setup, teardown),
        cmocka_unit_test_setup_teardown(test_build_missing_workdir, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
