/* compose: validation against the Compose Specification schema.
 *
 * Inline cases pin down each kind of message; the fixture cases run every
 * file under tests/fixtures/compose/valid/ (which must pass and, together,
 * use every key the schema defines) and tests/fixtures/compose/invalid/
 * (each NAME.yaml must fail with exactly the message in NAME.expect). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "compose/node-internal.h"
#include "compose/validate-internal.h"

/* Parses and validates y; returns the error message (owned) or NULL. */
static char *
validate_text(const char *y)
{
    struct bt_err *err = NULL;
    _cleanup_cnode_ struct cnode *n = compose_yaml_parse(y, strlen(y), "compose.yaml", &err);
    if (!n) {
        char *msg = xasprintf("parse: %s", err->msg);
        bt_err_free(err);
        return msg;
    }
    int r = compose_validate(n, &err);
    if (r == 0) {
        assert_null(err);
        return NULL;
    }
    assert_int_equal(r, -EINVAL);
    assert_non_null(err);
    char *msg = xstrdup(err->msg);
    bt_err_free(err);
    return msg;
}

#define assert_valid(y)                                                                            \
    do {                                                                                           \
        _cleanup_free_ char *_m = validate_text(y);                                                \
        if (_m)                                                                                    \
            fail_msg("unexpected error: %s", _m);                                                  \
    } while (0)

#define assert_invalid(y, expected)                                                                \
    do {                                                                                           \
        _cleanup_free_ char *_m = validate_text(y);                                                \
        assert_non_null(_m);                                                                       \
        assert_string_equal(_m, expected);                                                         \
    } while (0)

static void
test_minimal_and_extensions(void **state)
{
    assert_valid("");
    assert_valid("services:\n"
                 "  web:\n"
                 "    image: nginx\n"
                 "    x-anything: {a: [1, 2]}\n"
                 "x-common: &c\n"
                 "  foo: bar\n");
    assert_valid("name: demo\n"
                 "services: {}\n"
                 "networks:\n"
                 "  front:\n"
                 "volumes:\n"
                 "  data:\n");
}

static void
test_types(void **state)
{
    assert_invalid("services:\n"
                   "  web:\n"
                   "    image: 8080\n",
                   "compose.yaml:3:12: services.web.image: must be a string, not an integer");
    /* A quoted number is a string. */
    assert_valid("services:\n  web:\n    image: \"8080\"\n");
    assert_invalid("services:\n"
                   "  web:\n"
                   "    image: nginx\n"
                   "    tty: [true]\n",
                   "compose.yaml:4:10: services.web.tty: must be a string or a boolean, not a "
                   "sequence");
    assert_invalid("services: [web]\n",
                   "compose.yaml:1:11: services: must be a mapping, not a sequence");
    assert_invalid("services:\n  web: nginx\n",
                   "compose.yaml:2:8: services.web: must be a mapping, not a string");
    /* integer accepts 1.0 but not 1.5; number accepts both. */
    assert_valid("services:\n  a:\n    scale: 2.0\n    cpus: 1.5\n");
    assert_invalid("services:\n  a:\n    scale: 2.5\n",
                   "compose.yaml:3:12: services.a.scale: must be a string or an integer, not a "
                   "number");
}

static void
test_additional_properties(void **state)
{
    assert_invalid("services:\n"
                   "  web:\n"
                   "    imgae: nginx\n",
                   "compose.yaml:3:5: services.web: additional property 'imgae' is not allowed; "
                   "did you mean 'image'?");
    assert_invalid("servics:\n  web: {}\n",
                   "compose.yaml:1:1: additional property 'servics' is not allowed; did you mean "
                   "'services'?");
    assert_invalid("services:\n"
                   "  web:\n"
                   "    image: nginx\n"
                   "    banana: 1\n",
                   "compose.yaml:4:5: services.web: additional property 'banana' is not allowed");
    assert_invalid("services:\n"
                   "  web app:\n"
                   "    image: nginx\n",
                   "compose.yaml:2:3: services: key 'web app' is not allowed: keys must match "
                   "'^[a-zA-Z0-9._-]+$'");
    /* x-* is allowed where the schema says so, and only there. */
    assert_invalid("services:\n"
                   "  web:\n"
                   "    build:\n"
                   "      context: .\n"
                   "      args:\n"
                   "        x-foo: 1\n"
                   "    extends:\n"
                   "      service: base\n"
                   "      x-note: hi\n",
                   "compose.yaml:9:7: services.web.extends: additional property 'x-note' is not "
                   "allowed");
}

static void
test_enum_pattern_range(void **state)
{
    assert_invalid("services:\n  web:\n    cgroup: shared\n",
                   "compose.yaml:3:13: services.web.cgroup: must be one of: host, private");
    assert_invalid("services:\n  web:\n    cgroup: privat\n",
                   "compose.yaml:3:13: services.web.cgroup: must be one of: host, private; did "
                   "you mean 'private'?");
    assert_invalid("services:\n  web:\n    pull_policy: sometimes\n",
                   "compose.yaml:3:18: services.web.pull_policy: 'sometimes' does not match the "
                   "pattern 'always|never|build|if_not_present|missing|refresh|daily|weekly|"
                   "every_([0-9]+[wdhms])+'");
    assert_valid("services:\n  web:\n    pull_policy: every_12h\n");
    assert_invalid("services:\n  web:\n    oom_score_adj: 1001\n",
                   "compose.yaml:3:20: services.web.oom_score_adj: must be <= 1000");
    assert_invalid("services:\n  web:\n    cpu_count: -1\n",
                   "compose.yaml:3:16: services.web.cpu_count: must be >= 0");
    assert_valid("services:\n  web:\n    oom_score_adj: -1000\n    cpu_percent: 100\n");
}

static void
test_one_of_reports_the_deepest_branch(void **state)
{
    /* depends_on is a list of strings or a mapping: the mapping branch went
     * deeper. */
    assert_invalid("services:\n"
                   "  web:\n"
                   "    depends_on:\n"
                   "      db:\n"
                   "        condition: service_ready\n",
                   "compose.yaml:5:20: services.web.depends_on.db.condition: must be one of: "
                   "service_started, service_healthy, service_completed_successfully");
    assert_invalid("services:\n"
                   "  web:\n"
                   "    depends_on:\n"
                   "      db:\n"
                   "        restart: true\n",
                   "compose.yaml:5:9: services.web.depends_on.db: missing required property "
                   "'condition'");
    assert_invalid("services:\n"
                   "  web:\n"
                   "    ports:\n"
                   "      - 80\n"
                   "      - target: 80\n"
                   "        published: [8080]\n",
                   "compose.yaml:6:20: services.web.ports[1].published: must be a string or an "
                   "integer, not a sequence");
    /* Every branch refused the type: one message naming them all. */
    assert_invalid("services:\n"
                   "  web:\n"
                   "    ports:\n"
                   "      - true\n",
                   "compose.yaml:4:9: services.web.ports[0]: must be a string, a number or a "
                   "mapping, not a boolean");
    assert_invalid("services:\n"
                   "  web:\n"
                   "    command: {a: b}\n",
                   "compose.yaml:3:14: services.web.command: must be a string, a sequence or "
                   "null, not a mapping");
    assert_invalid("services:\n"
                   "  web:\n"
                   "    dns: [8.8.8.8, 1]\n",
                   "compose.yaml:3:20: services.web.dns[1]: must be a string, not an integer");
    assert_invalid("services:\n"
                   "  web:\n"
                   "    build:\n"
                   "      contxt: .\n",
                   "compose.yaml:4:7: services.web.build: additional property 'contxt' is not "
                   "allowed; did you mean 'context'?");
}

static void
test_unique_items(void **state)
{
    assert_invalid("services:\n"
                   "  web:\n"
                   "    cap_add: [NET_ADMIN, SYS_TIME, NET_ADMIN]\n",
                   "compose.yaml:3:36: services.web.cap_add[2]: repeats item [0]; items must be "
                   "unique");
    /* Equal as JSON values: key order does not matter, 80 == 80.0. */
    assert_invalid("services:\n"
                   "  web:\n"
                   "    ports:\n"
                   "      - {target: 80, published: \"8080\"}\n"
                   "      - {published: \"8080\", target: 80}\n",
                   "compose.yaml:5:9: services.web.ports[1]: repeats item [0]; items must be "
                   "unique");
    assert_invalid("services:\n  web:\n    expose: [80, 443, 80.0]\n",
                   "compose.yaml:3:23: services.web.expose[2]: repeats item [0]; items must be "
                   "unique");
    /* Empty mappings compare too. */
    assert_valid("services:\n  web:\n    ports: [{}, {target: 80}]\n");
    assert_invalid("services:\n  web:\n    ports: [{}, {target: 80}, {}]\n",
                   "compose.yaml:3:31: services.web.ports[2]: repeats item [0]; items must be "
                   "unique");
    /* A string and a number are different values. */
    assert_valid("services:\n  web:\n    expose: [80, \"80\"]\n");
    /* extra_hosts maps allow repeated addresses. */
    assert_valid("services:\n  web:\n    extra_hosts:\n      h: [1.2.3.4, 1.2.3.4]\n");
}

static void
test_required(void **state)
{
    assert_invalid("services:\n"
                   "  web:\n"
                   "    volumes:\n"
                   "      - source: data\n"
                   "        target: /data\n",
                   "compose.yaml:4:9: services.web.volumes[0]: missing required property 'type'");
    assert_invalid("models:\n  llm:\n    name: x\n",
                   "compose.yaml:3:5: models.llm: missing required property 'model'");
}

/* ---- the validator on small schemas: keywords the compose schema does
 * not use today ---- */

static char *
validate_with(const char *schema, const char *y)
{
    struct bt_err *err = NULL;
    _cleanup_schema_ struct compose_schema *s = compose_schema_new(schema, strlen(schema), &err);
    if (!s) {
        char *msg = xasprintf("compile: %s", err->msg);
        bt_err_free(err);
        return msg;
    }
    _cleanup_cnode_ struct cnode *n = compose_yaml_parse(y, strlen(y), "t.yaml", &err);
    assert_non_null(n);
    if (compose_schema_validate(s, n, &err) == 0)
        return NULL;
    char *msg = xstrdup(err->msg);
    bt_err_free(err);
    return msg;
}

#define assert_with(schema, y, expected)                                                           \
    do {                                                                                           \
        _cleanup_free_ char *_m = validate_with(schema, y);                                        \
        const char *_e = (expected);                                                               \
        if (!_e && _m)                                                                             \
            fail_msg("unexpected error: %s", _m);                                                  \
        if (_e) {                                                                                  \
            assert_non_null(_m);                                                                   \
            assert_string_equal(_m, _e);                                                           \
        }                                                                                          \
    } while (0)

static void
test_keywords_beyond_compose(void **state)
{
    const char *any_of = "{\"properties\": {\"a\": {\"anyOf\": ["
                         "{\"type\": \"string\", \"maxLength\": 3},"
                         "{\"type\": \"string\", \"minLength\": 6}]}}}";
    assert_with(any_of, "a: abc", NULL);
    assert_with(any_of, "a: abcdef", NULL);
    /* Both branches got as far: the first is reported. */
    assert_with(any_of, "a: abcd", "t.yaml:1:4: a: must be at most 3 characters long");
    /* Characters, not bytes. */
    assert_with(any_of, "a: \"\xc3\xa9t\xc3\xa9\"", NULL);

    const char *all_of = "{\"allOf\": [{\"required\": [\"a\"]}, {\"required\": [\"b\"]}]}";
    assert_with(all_of, "{a: 1, b: 2}", NULL);
    assert_with(all_of, "{a: 1}", "t.yaml:1:1: missing required property 'b'");

    const char *not_const = "{\"properties\": {\"mode\": {\"not\": {\"const\": \"off\"}},"
                            "\"v\": {\"const\": 2}}}";
    assert_with(not_const, "{mode: on, v: 2.0}", NULL);
    assert_with(not_const, "mode: \"off\"", "t.yaml:1:7: mode: is not allowed in this form");
    assert_with(not_const, "v: \"2\"", "t.yaml:1:4: v: must be 2");

    const char *counts = "{\"type\": \"array\", \"minItems\": 1, \"maxItems\": 2,"
                         "\"items\": {\"type\": \"number\", \"exclusiveMinimum\": 0,"
                         "\"exclusiveMaximum\": 10}}";
    assert_with(counts, "[1, 9.5]", NULL);
    assert_with(counts, "[]", "t.yaml:1:1: must have at least 1 items");
    assert_with(counts, "[1, 2, 3]", "t.yaml:1:1: must have at most 2 items");
    assert_with(counts, "[0]", "t.yaml:1:2: [0]: must be > 0");
    assert_with(counts, "[10]", "t.yaml:1:2: [0]: must be < 10");

    /* additionalProperties as a schema; `false` as a schema. */
    const char *extra = "{\"properties\": {\"no\": false},"
                        "\"additionalProperties\": {\"type\": \"integer\"}}";
    assert_with(extra, "{a: 1, b: 0x10}", NULL);
    assert_with(extra, "{a: 1, b: x}", "t.yaml:1:11: b: must be an integer, not a string");
    assert_with(extra, "{no: 1}", "t.yaml:1:6: no: is not allowed here");

    /* oneOf must match exactly one branch. */
    const char *one_of = "{\"oneOf\": [{\"type\": \"number\"}, {\"type\": \"integer\"}]}";
    assert_with(one_of, "1.5", NULL);
    assert_with(one_of, "2",
                "t.yaml:1:1: matches more than one of the allowed forms (1 and 2); "
                "it must match exactly one");

    /* enum and uniqueItems compare any JSON values. */
    const char *values =
        "{\"properties\": {\"e\": {\"enum\": [null, true, 2, [1, \"x\"], {\"a\": 1}]},"
        "\"u\": {\"uniqueItems\": true}}}";
    assert_with(values, "e: ~", NULL);
    assert_with(values, "e: true", NULL);
    assert_with(values, "e: 2.0", NULL);
    assert_with(values, "e: [1, x]", NULL);
    assert_with(values, "e: {a: 1}", NULL);
    assert_with(values, "e: \"2\"",
                "t.yaml:1:4: e: must be one of: null, true, 2, [1,\"x\"], {\"a\":1}");
    assert_with(values, "e: [x, 1]",
                "t.yaml:1:4: e: must be one of: null, true, 2, [1,\"x\"], {\"a\":1}");
    assert_with(values, "e: {a: 1, b: 2}",
                "t.yaml:1:4: e: must be one of: null, true, 2, [1,\"x\"], {\"a\":1}");
    assert_with(values, "u: [[1, {a: 1, b: [~]}], [1, {a: 1, b: [false]}], true, 1, \"1\"]", NULL);
    assert_with(values, "u: [[1, {a: 1, b: [~]}], [1.0, {b: [null], a: 1}]]",
                "t.yaml:1:26: u[1]: repeats item [0]; items must be unique");

    /* $ref to the root: recursive schemas work. */
    const char *tree = "{\"type\": \"object\", \"properties\": {\"name\": {\"type\": \"string\"},"
                       "\"kids\": {\"type\": \"array\", \"items\": {\"$ref\": \"#\"}}},"
                       "\"additionalProperties\": false}";
    assert_with(tree, "{name: a, kids: [{name: b, kids: [{name: c}]}]}", NULL);
    assert_with(tree, "{name: a, kids: [{name: b, kids: [{nmae: c}]}]}",
                "t.yaml:1:36: kids[0].kids[0]: additional property 'nmae' is not allowed; did "
                "you mean 'name'?");
}

static void
test_schema_errors(void **state)
{
    assert_with("{\"type\": \"string\"", "a",
                "compile: schema: 1:17: '}' expected near end of file");
    assert_with("{\"properties\": {\"a\": {\"$ref\": \"#/definitions/nope\"}}}", "a: 1",
                "compile: schema: root.properties.a.$ref: $ref to an unknown definition");
    assert_with("{\"items\": [{\"type\": \"string\"}]}", "[a]",
                "compile: schema: root.items: tuple-form items is not supported");
    assert_with("{\"pattern\": \"a(\"}", "a", "compile: schema: root.pattern: Unmatched ( or \\(");
    assert_with("{\"dependencies\": {}}", "a",
                "compile: schema: root.dependencies: unsupported keyword");
    assert_with("{\"type\": \"text\"}", "a", "compile: schema: root.type: unknown type");
    /* Annotations are fine. */
    assert_with("{\"title\": \"t\", \"format\": \"uri\", \"default\": 1, \"deprecated\": true}",
                "a", NULL);
}

/* ---- fixtures ---- */

static char *
fixture_dir(const char *sub)
{
    const char *src = getenv("BERTH_SOURCE_DIR");
    return xasprintf("%s/tests/fixtures/compose/%s", src ? src : ".", sub);
}

static char **
list_yaml(const char *dir)
{
    _cleanup_dir_ DIR *d = opendir(dir);
    if (!d)
        fail_msg("cannot open %s", dir);
    char **names = NULL;
    struct dirent *de;
    while ((de = readdir(d)))
        if (bt_str_endswith(de->d_name, ".yaml") || bt_str_endswith(de->d_name, ".yml"))
            names = bt_strv_push(names, de->d_name);
    if (names)
        bt_strv_sort(names);
    return names;
}

static int
validate_file(const char *dir, const char *name, struct bt_err **err)
{
    _cleanup_free_ char *path = bt_path_join(dir, name);
    size_t len = 0;
    _cleanup_free_ char *data = bt_file_read_all(path, &len, err);
    if (!data)
        return bt_err_ret(err);
    /* Named by the base name, so the expected messages do not depend on
     * where the tree is checked out. */
    _cleanup_cnode_ struct cnode *n = compose_yaml_parse(data, len, name, err);
    if (!n)
        return bt_err_ret(err);
    return compose_validate(n, err);
}

static void
count_unused(const char *where, size_t uses, void *data)
{
    char ***unused = data;
    if (uses == 0)
        *unused = bt_strv_push(*unused, where);
}

static void
test_valid_fixtures_use_every_key(void **state)
{
    _cleanup_free_ char *dir = fixture_dir("valid");
    _cleanup_strv_ char **names = list_yaml(dir);
    assert_true(bt_strv_length(names) >= 3);
    compose_schema_coverage_start();
    bt_strv_foreach (name, names) {
        struct bt_err *err = NULL;
        if (validate_file(dir, name, &err) < 0) {
            _cleanup_free_ char *msg = xstrdup(err->msg);
            bt_err_free(err);
            fail_msg("valid fixture %s: %s", name, msg);
        }
    }
    _cleanup_strv_ char **unused = NULL;
    compose_schema_coverage_foreach(count_unused, &unused);
    if (unused) {
        bt_strv_foreach (u, unused)
            print_message("not used by any valid fixture: %s\n", u);
        fail_msg("%zu schema keys are not used by any valid fixture", bt_strv_length(unused));
    }
}

static void
test_invalid_fixtures(void **state)
{
    _cleanup_free_ char *dir = fixture_dir("invalid");
    _cleanup_strv_ char **names = list_yaml(dir);
    assert_true(bt_strv_length(names) >= 10);
    bt_strv_foreach (name, names) {
        _cleanup_free_ char *base = xstrndup(name, strrchr(name, '.') - name);
        _cleanup_free_ char *expect_name = xasprintf("%s.expect", base);
        _cleanup_free_ char *expect_path = bt_path_join(dir, expect_name);
        struct bt_err *err = NULL;
        size_t len = 0;
        _cleanup_free_ char *expect = bt_file_read_all(expect_path, &len, &err);
        if (!expect) {
            bt_err_free(err);
            fail_msg("%s has no %s", name, expect_name);
        }
        while (len && expect[len - 1] == '\n')
            expect[--len] = '\0';
        int r = validate_file(dir, name, &err);
        if (r == 0)
            fail_msg("invalid fixture %s was accepted", name);
        _cleanup_free_ char *msg = xstrdup(err->msg);
        bt_err_free(err);
        if (strcmp(msg, expect) != 0)
            fail_msg("%s:\n  expected: %s\n  got:      %s", name, expect, msg);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_and_extensions),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_additional_properties),
        cmocka_unit_test(test_enum_pattern_range),
        cmocka_unit_test(test_one_of_reports_the_deepest_branch),
        cmocka_unit_test(test_unique_items),
        cmocka_unit_test(test_required),
        cmocka_unit_test(test_keywords_beyond_compose),
        cmocka_unit_test(test_schema_errors),
        cmocka_unit_test(test_valid_fixtures_use_every_key),
        cmocka_unit_test(test_invalid_fixtures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
