/* compose: every fuzz seed (tests/fuzz/corpus, including past crashers) and
 * every compose fixture replayed through YAML parsing and schema
 * validation. Nothing may crash or leak (this runs under ASan and UBSan),
 * and every input ends either accepted with no error or refused with an
 * error that names the file. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "compose/node-internal.h"
#include "compose/validate-internal.h"

struct replay {
    size_t files, parsed, valid;
};

static void
replay_file(const char *path, struct replay *st)
{
    struct bt_err *err = NULL;
    size_t len = 0;
    _cleanup_free_ char *data = bt_file_read_all(path, &len, &err);
    if (!data) {
        _cleanup_free_ char *msg = xstrdup(err->msg);
        bt_err_free(err);
        fail_msg("%s", msg);
    }
    st->files++;
    _cleanup_free_ char *prefix = xasprintf("%s:", path);
    _cleanup_cnode_ struct cnode *root = compose_yaml_parse(data, len, path, &err);
    if (!root) {
        if (!err)
            fail_msg("%s: parse failed without an error", path);
        if (!bt_str_startswith(err->msg, prefix))
            fail_msg("%s: parse error does not name the file: %s", path, err->msg);
        err = bt_err_free(err);
        return;
    }
    st->parsed++;
    int r = compose_validate(root, &err);
    if (r == 0) {
        if (err)
            fail_msg("%s: valid, yet an error is set: %s", path, err->msg);
        st->valid++;
        return;
    }
    if (r != -EINVAL || !err)
        fail_msg("%s: validation failed with %d and %s error", path, r, err ? "an" : "no");
    if (!bt_str_startswith(err->msg, prefix))
        fail_msg("%s: validation error does not name the file: %s", path, err->msg);
    bt_err_free(err);
}

static void
replay_dir(const char *dir, struct replay *st)
{
    _cleanup_dir_ DIR *d = opendir(dir);
    if (!d)
        fail_msg("cannot open %s", dir);
    _cleanup_strv_ char **names = NULL;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            names = bt_strv_push(names, de->d_name);
    if (names)
        bt_strv_sort(names);
    bt_strv_foreach (name, names) {
        _cleanup_free_ char *path = bt_path_join(dir, name);
        struct stat stbuf;
        if (lstat(path, &stbuf) < 0)
            fail_msg("cannot stat %s", path);
        if (S_ISDIR(stbuf.st_mode))
            replay_dir(path, st);
        else if (S_ISREG(stbuf.st_mode))
            replay_file(path, st);
    }
}

static char *
source_path(const char *rel)
{
    const char *src = getenv("BERTH_SOURCE_DIR");
    return xasprintf("%s/%s", src ? src : ".", rel);
}

static void
test_fuzz_corpus(void **state)
{
    _cleanup_free_ char *dir = source_path("tests/fuzz/corpus");
    struct replay st = {0};
    replay_dir(dir, &st);
    print_message("corpus: %zu files, %zu parsed, %zu valid\n", st.files, st.parsed, st.valid);
    /* The seeds hold valid files, files the schema refuses and files the
     * YAML parser refuses: each kind must be there. */
    assert_true(st.files >= 20);
    assert_true(st.valid >= 3);
    assert_true(st.parsed > st.valid);
    assert_true(st.files > st.parsed);
}

static void
test_fixtures(void **state)
{
    _cleanup_free_ char *dir = source_path("tests/fixtures/compose");
    struct replay st = {0};
    replay_dir(dir, &st);
    print_message("fixtures: %zu files, %zu parsed, %zu valid\n", st.files, st.parsed, st.valid);
    assert_true(st.files >= 40);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuzz_corpus),
        cmocka_unit_test(test_fixtures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
