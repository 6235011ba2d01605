/* compose: YAML loading into the node tree (positions, anchors, merge keys,
 * tags, types) and emitting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "compose/node-internal.h"

static struct cnode *
parse(const char *y, struct bt_err **err)
{
    return compose_yaml_parse(y, strlen(y), "compose.yaml", err);
}

static void
test_positions_and_types(void **state)
{
    struct bt_err *err = NULL;
    _cleanup_cnode_ struct cnode *n = parse("services:\n"
                                            "  web:\n"
                                            "    image: nginx\n"
                                            "    ports: [\"80\", 8080]\n"
                                            "    tty: true\n"
                                            "    x: ~\n"
                                            "    f: 1.5\n"
                                            "    h: 0x1f\n",
                                            &err);
    assert_null(err);
    struct cnode *web = cnode_map_get(cnode_map_get(n, "services"), "web");
    assert_non_null(web);
    struct cnode *img = cnode_map_get(web, "image");
    assert_string_equal(img->value, "nginx");
    assert_int_equal(img->line, 3);
    assert_int_equal(img->col, 12);
    struct cnode *ports = cnode_map_get(web, "ports");
    assert_int_equal(ports->kind, CNODE_SEQ);
    assert_int_equal(cnode_type(ports->items[0]), CNODE_T_STRING);
    assert_int_equal(cnode_type(ports->items[1]), CNODE_T_INT);
    bool b = false;
    assert_true(cnode_get_bool(cnode_map_get(web, "tty"), &b));
    assert_true(b);
    assert_true(cnode_is_null(cnode_map_get(web, "x")));
    assert_int_equal(cnode_type(cnode_map_get(web, "f")), CNODE_T_FLOAT);
    int64_t h = 0;
    assert_true(cnode_get_int(cnode_map_get(web, "h"), &h));
    assert_int_equal(h, 31);
    _cleanup_free_ char *pos = cnode_pos(img);
    assert_string_equal(pos, "compose.yaml:3:12");
}

static void
test_anchors_and_merge(void **state)
{
    struct bt_err *err = NULL;
    _cleanup_cnode_ struct cnode *n = parse("x-base: &base\n"
                                            "  image: busybox\n"
                                            "  restart: always\n"
                                            "x-env: &env {A: '1'}\n"
                                            "services:\n"
                                            "  a:\n"
                                            "    <<: [*base, {labels: [l]}]\n"
                                            "    restart: 'no'\n"
                                            "    environment: *env\n",
                                            &err);
    assert_null(err);
    struct cnode *a = cnode_map_get(cnode_map_get(n, "services"), "a");
    assert_string_equal(cnode_map_get(a, "image")->value, "busybox");
    assert_string_equal(cnode_map_get(a, "restart")->value, "no"); /* explicit wins */
    assert_non_null(cnode_map_get(a, "labels"));
    assert_null(cnode_map_get(a, "<<"));
    assert_string_equal(cnode_map_get(cnode_map_get(a, "environment"), "A")->value, "1");
}

static void
test_tags(void **state)
{
    struct bt_err *err = NULL;
    _cleanup_cnode_ struct cnode *n =
        parse("services:\n  a:\n    ports: !reset []\n    command: !override [x]\n"
              "    s: !!str 80\n",
              &err);
    assert_null(err);
    struct cnode *a = cnode_map_get(cnode_map_get(n, "services"), "a");
    assert_int_equal(cnode_map_get(a, "ports")->tag, CNODE_TAG_RESET);
    assert_int_equal(cnode_map_get(a, "command")->tag, CNODE_TAG_OVERRIDE);
    assert_int_equal(cnode_type(cnode_map_get(a, "s")), CNODE_T_STRING);
}

static void
expect_error(const char *y, const char *needle)
{
    struct bt_err *err = NULL;
    struct cnode *n = parse(y, &err);
    assert_null(n);
    assert_non_null(err);
    if (!strstr(err->msg, needle))
        fail_msg("error '%s' lacks '%s'", err->msg, needle);
    bt_err_free(err);
}

static void
test_errors(void **state)
{
    expect_error("a: 1\na: 2\n", "compose.yaml:2:1: key 'a' is already defined");
    expect_error("a: *nope\n", "unknown anchor 'nope'");
    expect_error("a: [1, 2\n", "compose.yaml:");
    expect_error("a: !custom x\n", "unknown tag '!custom'");
    expect_error("? [a]\n: 1\n", "mapping keys must be scalars");
    expect_error("a: 1\n---\nb: 2\n", "second one");
    /* an alias bomb is refused, not expanded */
    expect_error("a: &a [x,x,x,x,x,x,x,x,x,x]\n"
                 "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                 "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                 "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                 "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
                 "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
                 "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n",
                 "more than");
}

static void
test_empty_and_emit(void **state)
{
    struct bt_err *err = NULL;
    _cleanup_cnode_ struct cnode *e = parse("", &err);
    assert_int_equal(e->kind, CNODE_MAP);
    assert_int_equal(e->n, 0);
    _cleanup_cnode_ struct cnode *n =
        parse("a: \"80\"\nb: 80\nc: 'x'\nd: [\"true\", \"multi\\nline\"]\n", &err);
    _cleanup_free_ char *out = compose_yaml_emit(n);
    assert_string_equal(out, "a: \"80\"\nb: 80\nc: x\nd:\n- \"true\"\n- |-\n  multi\n  line\n");
    /* round trip keeps types */
    _cleanup_cnode_ struct cnode *back = parse(out, &err);
    assert_int_equal(cnode_type(cnode_map_get(back, "a")), CNODE_T_STRING);
    assert_int_equal(cnode_type(cnode_map_get(back, "b")), CNODE_T_INT);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_positions_and_types),
        cmocka_unit_test(test_anchors_and_merge),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_empty_and_emit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
