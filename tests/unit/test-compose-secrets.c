/* compose: secrets and configs — targets, the checks up makes first, the
 * read-only mounts and the files behind them, the content hash and the
 * recreation it causes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "compose/compose.h"
#include "compose/orchestrate.h"
#include "compose/secrets-internal.h"

static char dir[64];
static char runroot[128];

static void
write_file(const char *name, const char *text)
{
    _cleanup_free_ char *path = bt_path_join(dir, name);
    assert_int_equal(bt_file_write_atomic(path, text, strlen(text), 0600, NULL), 0);
}

static struct compose_project *
load_err(const char *yaml, struct bt_err **err)
{
    write_file("compose.yaml", yaml);
    char *env[] = {"API_KEY=k3y", "PORT=8081", NULL};
    struct compose_options opts = {.workdir = dir, .environ = env};
    return compose_project_load(&opts, err);
}

static struct compose_project *
load(const char *yaml)
{
    struct bt_err *err = NULL;
    struct compose_project *p = load_err(yaml, &err);
    if (err)
        fail_msg("%s", err->msg);
    assert_non_null(p);
    return p;
}

static int
setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/berth-secrets-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(runroot, sizeof(runroot), "%s/run", dir);
    setenv("BERTH_RUNROOT", runroot, 1);
    return 0;
}

static int
teardown(void **state)
{
    assert_int_equal(bt_rm_rf(dir, NULL), 0);
    return 0;
}

static const char project_yaml[] = "name: demo\n"
                                   "services:\n"
                                   "  app:\n"
                                   "    image: busybox\n"
                                   "    secrets:\n"
                                   "      - db\n"
                                   "      - {source: api, target: key, uid: '1000', gid: '1001', "
                                   "mode: 0400}\n"
                                   "      - {source: db, target: /etc/db-copy, mode: 0440}\n"
                                   "    configs:\n"
                                   "      - site\n"
                                   "      - {source: site, target: conf/site.conf}\n"
                                   "  web:\n"
                                   "    image: busybox\n"
                                   "    configs: [site]\n"
                                   "  plain: {image: busybox}\n"
                                   "secrets:\n"
                                   "  db: {file: ./db.txt}\n"
                                   "  api: {environment: API_KEY}\n"
                                   "configs:\n"
                                   "  site: {content: 'listen ${PORT}'}\n";

static void
test_targets(void **state)
{
    struct compose_file_ref r = {.source = "db"};
    _cleanup_free_ char *a = compose_secret_target(&r, true);
    _cleanup_free_ char *b = compose_secret_target(&r, false);
    assert_string_equal(a, "/run/secrets/db");
    assert_string_equal(b, "/db");
    r.target = "sub/key";
    _cleanup_free_ char *c = compose_secret_target(&r, true);
    _cleanup_free_ char *d = compose_secret_target(&r, false);
    assert_string_equal(c, "/run/secrets/sub/key");
    assert_string_equal(d, "/sub/key");
    r.target = "/etc//x/../db";
    _cleanup_free_ char *e = compose_secret_target(&r, true);
    assert_string_equal(e, "/etc/db");
}

static void
test_missing_file_names_secret_and_path(void **state)
{
    _cleanup_project_ struct compose_project *p = load(project_yaml);
    struct bt_err *err = NULL;
    assert_int_equal(compose_secrets_check(p, NULL, &err), -ENOENT);
    assert_non_null(err);
    assert_non_null(strstr(err->msg, "secret 'db'"));
    _cleanup_free_ char *path = bt_path_join(dir, "db.txt");
    assert_non_null(strstr(err->msg, path));
    err = bt_err_free(err);
    /* a service that does not use it is fine */
    char *only[] = {"web", "plain", NULL};
    assert_int_equal(compose_secrets_check(p, only, &err), 0);
    assert_null(err);
    write_file("db.txt", "pw");
    assert_int_equal(compose_secrets_check(p, NULL, &err), 0);
    assert_null(err);
}

static void
test_external_and_unset_variable(void **state)
{
    _cleanup_project_ struct compose_project *p =
        load("name: demo\nservices:\n  app: {image: busybox, secrets: [vault]}\n"
             "secrets:\n  vault: {external: true, name: prod_password}\n");
    struct bt_err *err = NULL;
    assert_true(compose_secrets_check(p, NULL, &err) < 0);
    assert_non_null(strstr(err->msg, "secrets.vault.external"));
    assert_non_null(strstr(err->msg, "prod_password"));
    err = bt_err_free(err);

    _cleanup_project_ struct compose_project *q =
        load("name: demo\nservices:\n  app: {image: busybox, configs: [c]}\n"
             "configs:\n  c: {environment: NOT_SET_ANYWHERE}\n");
    assert_true(compose_secrets_check(q, NULL, &err) < 0);
    assert_non_null(strstr(err->msg, "config 'c'"));
    assert_non_null(strstr(err->msg, "NOT_SET_ANYWHERE"));
    bt_err_free(err);
}

static void
test_bad_top_level_sources(void **state)
{
    struct bt_err *err = NULL;
    assert_null(load_err("services:\n  app: {image: busybox}\n"
                         "secrets:\n  s: {content: x}\n",
                         &err));
    assert_non_null(err);
    err = bt_err_free(err);
    assert_null(load_err("services:\n  app: {image: busybox}\n"
                         "configs:\n  c: {name: only-a-name}\n",
                         &err));
    assert_non_null(err);
    assert_non_null(strstr(err->msg, "configs.c"));
    err = bt_err_free(err);
    assert_null(load_err("services:\n  app: {image: busybox, secrets: [nope]}\n", &err));
    assert_non_null(strstr(err->msg, "nope"));
    bt_err_free(err);
}

static json_t *
mount_at(json_t *mounts, const char *dest)
{
    size_t i;
    json_t *m;
    json_array_foreach (mounts, i, m)
        if (strcmp(bt_json_str(m, "destination"), dest) == 0)
            return m;
    return NULL;
}

static bool
read_only(json_t *m)
{
    size_t i;
    json_t *o;
    bool ro = false;
    json_array_foreach (json_object_get(m, "options"), i, o)
        ro |= strcmp(json_string_value(o), "ro") == 0;
    return ro && strcmp(bt_json_str(m, "type"), "bind") == 0;
}

static void
expect_file(const char *path, const char *text, uid_t uid, gid_t gid, mode_t mode)
{
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, mode);
    assert_int_equal(st.st_uid, uid);
    assert_int_equal(st.st_gid, gid);
    _cleanup_free_ char *got = bt_file_read_all(path, NULL, NULL);
    assert_string_equal(got, text);
}

static void
test_mounts_and_cleanup(void **state)
{
    write_file("db.txt", "pw-1");
    _cleanup_project_ struct compose_project *p = load(project_yaml);
    const struct compose_service *app = compose_project_service(p, "app");
    _cleanup_json_ json_t *mounts = json_array();
    struct bt_err *err = NULL;
    const char *id = "0123abcd";
    assert_int_equal(compose_secrets_mounts(p, app, id, mounts, &err), 0);
    assert_null(err);
    assert_int_equal(json_array_size(mounts), 5);
    for (size_t i = 0; i < json_array_size(mounts); i++)
        assert_true(read_only(json_array_get(mounts, i)));

    /* a file without owner or mode: bound as it is */
    json_t *m = mount_at(mounts, "/run/secrets/db");
    assert_non_null(m);
    _cleanup_free_ char *db = bt_path_join(dir, "db.txt");
    assert_string_equal(bt_json_str(m, "source"), db);
    /* materialised: under RUNROOT/containers/ID/secrets with owner and mode */
    _cleanup_free_ char *sdir = xasprintf("%s/containers/%s/secrets", runroot, id);
    m = mount_at(mounts, "/run/secrets/key");
    assert_non_null(m);
    assert_true(bt_str_startswith(bt_json_str(m, "source"), sdir));
    expect_file(bt_json_str(m, "source"), "k3y", 1000, 1001, 0400);
    m = mount_at(mounts, "/etc/db-copy");
    assert_non_null(m);
    assert_true(bt_str_startswith(bt_json_str(m, "source"), sdir));
    expect_file(bt_json_str(m, "source"), "pw-1", 0, 0, 0440);
    m = mount_at(mounts, "/site");
    assert_non_null(m);
    expect_file(bt_json_str(m, "source"), "listen 8081", 0, 0, 0444);
    assert_non_null(mount_at(mounts, "/conf/site.conf"));

    /* a service without any gets nothing, and no directory */
    _cleanup_json_ json_t *none = json_array();
    assert_int_equal(
        compose_secrets_mounts(p, compose_project_service(p, "plain"), "ffff", none, &err), 0);
    assert_int_equal(json_array_size(none), 0);
    _cleanup_free_ char *fdir = xasprintf("%s/containers/ffff", runroot);
    assert_false(bt_path_exists(fdir));

    assert_int_equal(compose_secrets_cleanup(id, &err), 0);
    assert_false(bt_path_exists(sdir));
    /* the container was never made: its run directory goes too */
    _cleanup_free_ char *parent = xasprintf("%s/containers/%s", runroot, id);
    assert_false(bt_path_exists(parent));
    /* again, or for a container that never had any: fine */
    assert_int_equal(compose_secrets_cleanup(id, &err), 0);
    assert_true(compose_secrets_cleanup("../x", &err) < 0);
    bt_err_free(err);
}

static void
test_failed_mounts_leave_nothing(void **state)
{
    write_file("db.txt", "pw");
    _cleanup_project_ struct compose_project *p =
        load("name: demo\nservices:\n  app:\n    image: busybox\n    secrets:\n"
             "      - {source: db, target: a, mode: 0400}\n"
             "      - {source: db, target: b, uid: 'nobody'}\n"
             "secrets:\n  db: {file: ./db.txt}\n");
    _cleanup_json_ json_t *mounts = json_pack("[{s:s}]", "destination", "/data");
    struct bt_err *err = NULL;
    assert_true(compose_secrets_mounts(p, compose_project_service(p, "app"), "abcd", mounts, &err) <
                0);
    assert_non_null(strstr(err->msg, "nobody"));
    bt_err_free(err);
    assert_int_equal(json_array_size(mounts), 1);
    _cleanup_free_ char *sdir = xasprintf("%s/containers/abcd", runroot);
    assert_false(bt_path_exists(sdir));
}

static void
test_hash_follows_content_only(void **state)
{
    write_file("db.txt", "pw-1");
    _cleanup_project_ struct compose_project *p = load(project_yaml);
    const struct compose_service *app = compose_project_service(p, "app");
    const struct compose_service *web = compose_project_service(p, "web");
    assert_null(compose_secrets_hash(p, compose_project_service(p, "plain")));
    _cleanup_free_ char *h1 = compose_secrets_hash(p, app);
    _cleanup_free_ char *w1 = compose_secrets_hash(p, web);
    _cleanup_free_ char *h1b = compose_secrets_hash(p, app);
    assert_non_null(h1);
    assert_int_equal(strlen(h1), 64);
    assert_string_equal(h1, h1b);

    _cleanup_json_ json_t *labels = json_object();
    compose_secrets_label(labels, p, app);
    assert_string_equal(bt_json_str(labels, COMPOSE_LABEL_SECRETS_HASH), h1);
    assert_false(compose_secrets_changed(p, app, labels));

    write_file("db.txt", "pw-2");
    _cleanup_free_ char *h2 = compose_secrets_hash(p, app);
    _cleanup_free_ char *w2 = compose_secrets_hash(p, web);
    assert_string_not_equal(h1, h2);
    assert_string_equal(w1, w2);
    assert_true(compose_secrets_changed(p, app, labels));
    /* a service without any, and a container without the label: unchanged */
    _cleanup_json_ json_t *empty = json_object();
    assert_false(compose_secrets_changed(p, compose_project_service(p, "plain"), empty));
}

static void
test_plan_recreates_only_users(void **state)
{
    write_file("db.txt", "pw-1");
    _cleanup_project_ struct compose_project *p = load(project_yaml);
    struct compose_actual a = {0};
    const char *names[] = {"app", "plain", "web"};
    a.containers = xcalloc(3, sizeof(*a.containers));
    for (size_t i = 0; i < 3; i++) {
        const struct compose_service *s = compose_project_service(p, names[i]);
        struct compose_container *c = &a.containers[a.n_containers++];
        c->id = xasprintf("id-%s", names[i]);
        c->name = xasprintf("demo-%s-1", names[i]);
        c->project = xstrdup("demo");
        c->service = xstrdup(names[i]);
        c->number = 1;
        c->state = xstrdup("running");
        c->health = xstrdup("");
        c->config_hash = compose_service_hash(s);
        c->labels = json_object();
        compose_secrets_label(c->labels, p, s);
        c->ports = xcalloc(1, sizeof(char *));
    }
    a.networks = xcalloc(1, sizeof(char *));
    a.volumes = xcalloc(1, sizeof(char *));
    struct bt_err *err = NULL;
    struct compose_plan plan;
    assert_int_equal(compose_plan_make(p, &a, NULL, &plan, &err), 0);
    for (size_t i = 0; i < plan.n_actions; i++)
        assert_int_equal(plan.actions[i].kind, COMPOSE_ACTION_KEEP);
    compose_plan_done(&plan);

    write_file("db.txt", "pw-2");
    assert_int_equal(compose_plan_make(p, &a, NULL, &plan, &err), 0);
    assert_int_equal(plan.n_actions, 3);
    for (size_t i = 0; i < plan.n_actions; i++) {
        const struct compose_action *x = &plan.actions[i];
        if (strcmp(x->service, "app") == 0) {
            assert_int_equal(x->kind, COMPOSE_ACTION_RECREATE);
            assert_string_equal(x->reason, "secret or config content changed");
        } else {
            assert_int_equal(x->kind, COMPOSE_ACTION_KEEP);
        }
    }
    compose_plan_done(&plan);
    compose_actual_done(&a);
}

static void
test_config_shows_them_normalised(void **state)
{
    _cleanup_project_ struct compose_project *p = load(project_yaml);
    _cleanup_free_ char *y = compose_project_to_yaml(p);
    _cleanup_free_ char *db = xasprintf("file: %s/db.txt", dir);
    assert_non_null(strstr(y, db));
    assert_non_null(strstr(y, "environment: API_KEY"));
    assert_non_null(strstr(y, "content: listen 8081"));
    assert_non_null(strstr(y, "name: demo_site"));
    assert_non_null(strstr(y, "mode: \"0400\""));
    assert_non_null(strstr(y, "target: conf/site.conf"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_targets),
        cmocka_unit_test_setup_teardown(test_missing_file_names_secret_and_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_external_and_unset_variable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_top_level_sources, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mounts_and_cleanup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_mounts_leave_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_follows_content_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plan_recreates_only_users, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_shows_them_normalised, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
