/* image: the Dockerfile parser, variable substitution and the
 * .dockerignore matcher. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "common/cleanup.h"
#include "image/dockerfile.h"

static void
parse_ok(const char *text, struct image_dockerfile *df)
{
    struct bt_err *err = NULL;
    if (image_dockerfile_parse(text, NULL, df, &err) < 0)
        fail_msg("parse: %s", err->msg);
}

static char *
parse_err(const char *text)
{
    struct image_dockerfile df;
    struct bt_err *err = NULL;
    assert_true(image_dockerfile_parse(text, NULL, &df, &err) < 0);
    char *msg = xstrdup(err->msg);
    bt_err_free(err);
    return msg;
}

static void
test_parse_forms(void **state)
{
    (void)state;
    struct image_dockerfile df;
    parse_ok("# syntax=docker/dockerfile:1\n"
             "# a comment\n"
             "ARG BASE=busybox\n"
             "from ${BASE} AS build\n"
             "RUN echo one \\\n"
             "    # a comment inside the continuation\n"
             "\n"
             "    two\n"
             "COPY --from=build --chown=1:2 a b /dst/\n"
             "CMD [\"sh\", \"-c\", \"echo hi\"]\n"
             "ENTRYPOINT not json [\n"
             "HEALTHCHECK --interval=5s CMD true\n",
             &df);
    assert_int_equal(df.n, 7);
    assert_string_equal(df.v[0].cmd, "ARG");
    assert_int_equal(df.v[0].line, 3);
    assert_string_equal(df.v[1].cmd, "FROM");
    assert_string_equal(df.v[1].args, "${BASE} AS build");
    assert_string_equal(df.v[2].cmd, "RUN");
    assert_int_equal(df.v[2].line, 5);
    assert_string_equal(df.v[2].args, "echo one     two");
    assert_null(df.v[2].json);
    assert_string_equal(df.v[3].cmd, "COPY");
    assert_int_equal(bt_strv_length(df.v[3].flags), 2);
    assert_string_equal(image_df_flag(&df.v[3], "from"), "build");
    assert_string_equal(image_df_flag(&df.v[3], "chown"), "1:2");
    assert_null(image_df_flag(&df.v[3], "chmod"));
    assert_string_equal(df.v[3].args, "a b /dst/");
    assert_non_null(df.v[4].json);
    assert_int_equal(bt_strv_length(df.v[4].json), 3);
    assert_string_equal(df.v[4].json[2], "echo hi");
    assert_null(df.v[5].json);
    assert_string_equal(df.v[6].cmd, "HEALTHCHECK");
    assert_string_equal(image_df_flag(&df.v[6], "interval"), "5s");
    assert_string_equal(df.v[6].args, "CMD true");
    image_dockerfile_done(&df);
}

static void
test_parse_escape_directive(void **state)
{
    (void)state;
    struct image_dockerfile df;
    parse_ok("# escape=`\n"
             "FROM scratch\n"
             "RUN dir c:\\ `\n"
             "    && echo done\n",
             &df);
    assert_int_equal(df.escape, '`');
    assert_int_equal(df.n, 2);
    assert_string_equal(df.v[1].args, "dir c:\\     && echo done");
    image_dockerfile_done(&df);
    /* a directive after an instruction is a comment */
    parse_ok("FROM scratch\n# escape=`\nRUN a \\\n b\n", &df);
    assert_int_equal(df.escape, '\\');
    assert_string_equal(df.v[1].args, "a  b");
    image_dockerfile_done(&df);
}

static void
test_parse_errors(void **state)
{
    (void)state;
    _cleanup_free_ char *m1 = parse_err("FROM scratch\n\nFOO bar\n");
    assert_string_equal(m1, "Dockerfile:3: unknown instruction FOO");
    _cleanup_free_ char *m2 = parse_err("FROM scratch\nRUN\n");
    assert_string_equal(m2, "Dockerfile:2: RUN requires at least one argument");
    _cleanup_free_ char *m3 = parse_err("# escape=x\nFROM scratch\n");
    assert_non_null(strstr(m3, "invalid escape token"));
}

static const char *
vars(void *data, const char *name)
{
    (void)data;
    if (strcmp(name, "NAME") == 0)
        return "world";
    if (strcmp(name, "EMPTY") == 0)
        return "";
    if (strcmp(name, "SPACED") == 0)
        return "a b";
    return NULL;
}

static void
expand_is(const char *in, const char *want)
{
    struct bt_err *err = NULL;
    _cleanup_free_ char *got = image_df_expand(in, '\\', vars, NULL, &err);
    if (!got)
        fail_msg("expand '%s': %s", in, err->msg);
    assert_string_equal(got, want);
}

static void
test_expand(void **state)
{
    (void)state;
    expand_is("hello $NAME", "hello world");
    expand_is("hello ${NAME}!", "hello world!");
    expand_is("${UNSET:-fallback}", "fallback");
    expand_is("${EMPTY:-fallback}", "fallback");
    expand_is("${EMPTY-fallback}", "");
    expand_is("${NAME:-fallback}", "world");
    expand_is("${NAME:+alt}", "alt");
    expand_is("${UNSET:+alt}", "");
    expand_is("${EMPTY:+alt}", "");
    expand_is("${EMPTY+alt}", "alt");
    expand_is("${UNSET:-${NAME}}", "world");
    expand_is("'$NAME' \"$NAME\"", "$NAME world");
    expand_is("\\$NAME", "$NAME");
    expand_is("$", "$");
    expand_is("cost: $5", "cost: "); /* a positional parameter, unset */
    struct bt_err *err = NULL;
    assert_null(image_df_expand("${NAME:?x}", '\\', vars, NULL, &err));
    assert_non_null(strstr(err->msg, "unsupported modifier"));
    err = bt_err_free(err);
    assert_null(image_df_expand("${NAME", '\\', vars, NULL, &err));
    err = bt_err_free(err);
    assert_null(image_df_expand("'open", '\\', vars, NULL, &err));
    bt_err_free(err);
}

static void
test_words(void **state)
{
    (void)state;
    struct bt_err *err = NULL;
    _cleanup_strv_ char **w =
        image_df_words("A=1 B=\"two words\" C='$NAME' D=$NAME E=$SPACED", '\\', vars, NULL, &err);
    assert_non_null(w);
    assert_int_equal(bt_strv_length(w), 6);
    assert_string_equal(w[0], "A=1");
    assert_string_equal(w[1], "B=two words");
    assert_string_equal(w[2], "C=$NAME");
    assert_string_equal(w[3], "D=world");
    assert_string_equal(w[4], "E=a");
    assert_string_equal(w[5], "b");
    _cleanup_strv_ char **e = image_df_words("   ", '\\', vars, NULL, &err);
    assert_non_null(e);
    assert_null(e[0]);
}

static void
test_glob(void **state)
{
    (void)state;
    assert_true(image_glob_match("*.txt", "a.txt"));
    assert_false(image_glob_match("*.txt", "dir/a.txt"));
    assert_true(image_glob_match("**/*.txt", "a.txt"));
    assert_true(image_glob_match("**/*.txt", "dir/sub/a.txt"));
    assert_true(image_glob_match("dir/**", "dir/sub/a.txt"));
    assert_true(image_glob_match("dir/**/x", "dir/x"));
    assert_true(image_glob_match("dir/**/x", "dir/a/b/x"));
    assert_false(image_glob_match("dir/**/x", "dir/a/b/y"));
    assert_true(image_glob_match("file?.c", "file1.c"));
    assert_false(image_glob_match("file?.c", "file/.c"));
    assert_true(image_glob_match("[a-c]*", "beta"));
    assert_false(image_glob_match("[!a-c]*", "beta"));
    assert_true(image_glob_match("\\*star", "*star"));
    assert_false(image_glob_match("\\*star", "xstar"));
    assert_true(image_glob_has_meta("a*"));
    assert_false(image_glob_has_meta("plain/path"));
}

static void
test_ignore(void **state)
{
    (void)state;
    struct image_ignore ig;
    image_ignore_parse("# comment\n"
                       "\n"
                       "**/*.key\n"
                       "/build\n"
                       "./logs/*.log\n"
                       "docs\n"
                       "!docs/README.md\n"
                       "*.tmp\n"
                       "!keep.tmp\n",
                       &ig);
    assert_int_equal(ig.n, 7);
    assert_true(image_ignore_match(&ig, "secret.key"));
    assert_true(image_ignore_match(&ig, "a/b/secret.key"));
    assert_true(image_ignore_match(&ig, "build"));
    assert_true(image_ignore_match(&ig, "build/out/x.o"));
    assert_false(image_ignore_match(&ig, "src/build"));
    assert_true(image_ignore_match(&ig, "logs/a.log"));
    assert_false(image_ignore_match(&ig, "logs/a.txt"));
    assert_true(image_ignore_match(&ig, "docs/guide.md"));
    assert_false(image_ignore_match(&ig, "docs/README.md"));
    assert_true(image_ignore_match(&ig, "x.tmp"));
    assert_false(image_ignore_match(&ig, "keep.tmp"));
    assert_false(image_ignore_match(&ig, "main.c"));
    image_ignore_done(&ig);
    image_ignore_parse("", &ig);
    assert_false(image_ignore_match(&ig, "anything"));
    image_ignore_done(&ig);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_forms),  cmocka_unit_test(test_parse_escape_directive),
        cmocka_unit_test(test_parse_errors), cmocka_unit_test(test_expand),
        cmocka_unit_test(test_words),        cmocka_unit_test(test_glob),
        cmocka_unit_test(test_ignore),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
