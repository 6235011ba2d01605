/* volumes: the store in a temporary root: names, create, metadata, filters,
 * anonymous volumes, usage records, in-use refusal, prune, external. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/common.h"
#include "volumes/volumes.h"

struct fixture {
    char *root;
    struct vol_store *st;
};

static int
setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    char tmpl[] = "/tmp/berth-vol-unit.XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    f->root = xstrdup(tmpl);
    _cleanup_err_ struct bt_err *err = NULL;
    f->st = vol_store_open(f->root, &err);
    assert_non_null(f->st);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    vol_store_free(f->st);
    _cleanup_err_ struct bt_err *err = NULL;
    assert_int_equal(bt_rm_rf(f->root, &err), 0);
    free(f->root);
    free(f);
    return 0;
}

static struct vol_volume *
create(struct vol_store *st, const char *name, char *const *labels, bool anonymous)
{
    _cleanup_err_ struct bt_err *err = NULL;
    struct vol_create_opts o = {.name = name, .labels = labels, .anonymous = anonymous};
    struct vol_volume *v = NULL;
    bool created = false;
    if (vol_volume_create(st, &o, &v, &created, &err) < 0)
        fail_msg("create %s: %s", name ? name : "(anonymous)", err->msg);
    assert_true(created);
    return v;
}

static void
test_names(void **state)
{
    _cleanup_err_ struct bt_err *err = NULL;
    assert_int_equal(vol_name_validate("db-data_1.x", &err), 0);
    assert_int_equal(vol_name_validate("ab", &err), 0);
    const char *bad[] = {"", "a", "_x", ".hidden", "a/b", "..", "a b", "é1"};
    for (size_t i = 0; i < BT_ARRAY_SIZE(bad); i++) {
        assert_int_equal(vol_name_validate(bad[i], &err), -EINVAL);
        err = bt_err_free(err);
    }
    char long_name[300];
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    assert_int_equal(vol_name_validate(long_name, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "longer than 255"));
    err = bt_err_free(err);

    _cleanup_free_ char *r1 = vol_name_random();
    _cleanup_free_ char *r2 = vol_name_random();
    assert_int_equal(strlen(r1), 64);
    assert_int_equal(strspn(r1, "0123456789abcdef"), 64);
    assert_string_not_equal(r1, r2);
}

static void
test_create_and_get(void **state)
{
    struct fixture *f = *state;
    _cleanup_err_ struct bt_err *err = NULL;
    char *labels[] = {"z=1", "com.example.team=db", NULL};
    struct vol_volume *v = create(f->st, "dbdata", labels, false);
    _cleanup_free_ char *mp = xasprintf("%s/volumes/dbdata/_data", f->root);
    assert_string_equal(v->mountpoint, mp);
    assert_true(bt_path_is_dir(mp));
    assert_string_equal(v->driver, "local");
    assert_string_equal(v->scope, "local");
    assert_int_equal(strlen(v->created_at), 20);
    assert_false(v->anonymous);
    vol_volume_free(v);

    /* a second create returns the existing volume and keeps its labels */
    struct vol_create_opts o = {.name = "dbdata"};
    bool created = true;
    assert_int_equal(vol_volume_create(f->st, &o, &v, &created, &err), 0);
    assert_false(created);
    assert_string_equal(vol_volume_label(v, "com.example.team"), "db");
    vol_volume_free(v);

    assert_int_equal(vol_volume_get(f->st, "dbdata", &v, &err), 1);
    assert_string_equal(v->labels[0], "com.example.team=db"); /* sorted */
    assert_string_equal(v->labels[1], "z=1");
    _cleanup_json_ json_t *j = vol_volume_to_json(v);
    assert_string_equal(bt_json_str(j, "Name"), "dbdata");
    assert_string_equal(bt_json_str(j, "Mountpoint"), mp);
    assert_true(json_is_null(json_object_get(j, "Options")));
    assert_string_equal(bt_json_str(json_object_get(j, "Labels"), "z"), "1");
    vol_volume_free(v);

    assert_int_equal(vol_volume_get(f->st, "missing", &v, &err), 0);
    assert_null(v);
    assert_int_equal(vol_volume_get(f->st, "../etc", &v, &err), 0);
    assert_null(err);

    /* bad input is refused and leaves nothing behind */
    struct vol_create_opts bad_driver = {.name = "nfsvol", .driver = "nfs"};
    assert_int_equal(vol_volume_create(f->st, &bad_driver, &v, NULL, &err), -ENOTSUP);
    err = bt_err_free(err);
    char *bad_opts[] = {"type=tmpfs", "size=1", NULL};
    struct vol_create_opts bo = {.name = "optvol", .driver_opts = bad_opts};
    assert_int_equal(vol_volume_create(f->st, &bo, &v, NULL, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "invalid option 'size'"));
    err = bt_err_free(err);
    char *dup_labels[] = {"a=1", "a=2", NULL};
    struct vol_create_opts dl = {.name = "labvol", .labels = dup_labels};
    assert_int_equal(vol_volume_create(f->st, &dl, &v, NULL, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "given twice"));
    err = bt_err_free(err);
    struct vol_list l;
    assert_int_equal(vol_volume_list(f->st, NULL, &l, &err), 0);
    assert_int_equal(l.n, 1);
    vol_list_done(&l);
}

static void
test_driver_opts_validation(void **state)
{
    struct fixture *f = *state;
    struct {
        char *opts[4];
        const char *msg;
    } cases[] = {
        {{"type=tmpfs", NULL}, "missing required option 'device'"},
        {{"device=/x", NULL}, "missing required option 'type'"},
        {{"o=size=1m", NULL}, "missing required option 'type'"},
        {{"type=none", "device=/srv", NULL}, "needs o=bind"},
        {{"type=none", "device=rel", "o=bind", NULL}, "not absolute"},
        {{"type=tmpfs", "device=tmpfs", "o=shared", NULL}, "not allowed"},
    };
    for (size_t i = 0; i < BT_ARRAY_SIZE(cases); i++) {
        struct bt_err *err = NULL;
        struct vol_volume *v = NULL;
        struct vol_create_opts o = {.name = "opts", .driver_opts = cases[i].opts};
        assert_int_equal(vol_volume_create(f->st, &o, &v, NULL, &err), -EINVAL);
        if (!strstr(err->msg, cases[i].msg))
            fail_msg("case %zu: '%s' lacks '%s'", i, err->msg, cases[i].msg);
        bt_err_free(err);
    }
    char *nfs[] = {"type=nfs", "device=:/export", "o=addr=shared.example,rw", NULL};
    struct vol_create_opts on = {.name = "nfsvol", .driver_opts = nfs};
    struct vol_volume *nv = NULL;
    _cleanup_err_ struct bt_err *nerr = NULL;
    assert_int_equal(vol_volume_create(f->st, &on, &nv, NULL, &nerr), 0);
    vol_volume_free(nv);
    char *good[] = {"type=tmpfs", "device=tmpfs", "o=size=1m,uid=1000,noexec", NULL};
    struct vol_create_opts o = {.name = "tmpvol", .driver_opts = good};
    struct vol_volume *v = NULL;
    _cleanup_err_ struct bt_err *err = NULL;
    assert_int_equal(vol_volume_create(f->st, &o, &v, NULL, &err), 0);
    _cleanup_json_ json_t *j = vol_volume_to_json(v);
    assert_string_equal(bt_json_str(json_object_get(j, "Options"), "o"), "size=1m,uid=1000,noexec");
    vol_volume_free(v);
}

static void
test_filters(void **state)
{
    struct fixture *f = *state;
    _cleanup_err_ struct bt_err *err = NULL;
    char *l1[] = {"env=prod", "tier=db", NULL};
    char *l2[] = {"env=dev", NULL};
    vol_volume_free(create(f->st, "bbb", l1, false));
    vol_volume_free(create(f->st, "aaa", l2, false));
    vol_volume_free(create(f->st, "ccc", NULL, false));
    assert_int_equal(vol_volume_acquire(f->st, "ccc", "c1", "web-1", &err), 0);

    struct vol_filter flt = {.dangling = -1};
    struct vol_list l;
    assert_int_equal(vol_volume_list(f->st, &flt, &l, &err), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.items[0]->name, "aaa");
    assert_string_equal(l.items[2]->name, "ccc");
    vol_list_done(&l);

    assert_int_equal(vol_filter_add(&flt, "label=env", &err), 0);
    assert_int_equal(vol_volume_list(f->st, &flt, &l, &err), 0);
    assert_int_equal(l.n, 2);
    vol_list_done(&l);
    assert_int_equal(vol_filter_add(&flt, "label=env=prod", &err), 0);
    assert_int_equal(vol_volume_list(f->st, &flt, &l, &err), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0]->name, "bbb");
    vol_list_done(&l);
    vol_filter_done(&flt);

    flt = (struct vol_filter){.dangling = -1};
    assert_int_equal(vol_filter_add(&flt, "dangling=false", &err), 0);
    assert_int_equal(vol_volume_list(f->st, &flt, &l, &err), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0]->name, "ccc");
    vol_list_done(&l);
    assert_int_equal(vol_filter_add(&flt, "dangling=true", &err), 0);
    assert_int_equal(vol_volume_list(f->st, &flt, &l, &err), 0);
    assert_int_equal(l.n, 2);
    vol_list_done(&l);
    assert_int_equal(vol_filter_add(&flt, "name=bb", &err), 0);
    assert_int_equal(vol_volume_list(f->st, &flt, &l, &err), 0);
    assert_int_equal(l.n, 1);
    vol_list_done(&l);
    vol_filter_done(&flt);

    flt = (struct vol_filter){.dangling = -1};
    assert_int_equal(vol_filter_add(&flt, "label!=env=prod", &err), 0);
    assert_int_equal(vol_volume_list(f->st, &flt, &l, &err), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.items[0]->name, "aaa");
    assert_string_equal(l.items[1]->name, "ccc");
    vol_list_done(&l);
    assert_int_equal(vol_filter_add(&flt, "label!=env", &err), 0);
    assert_int_equal(vol_volume_list(f->st, &flt, &l, &err), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.items[0]->name, "ccc");
    vol_list_done(&l);
    vol_filter_done(&flt);

    assert_int_equal(vol_filter_add(&flt, "dangling=maybe", &err), -EINVAL);
    err = bt_err_free(err);
    assert_int_equal(vol_filter_add(&flt, "colour=red", &err), -EINVAL);
    err = bt_err_free(err);
    assert_int_equal(vol_filter_add(&flt, "label", &err), -EINVAL);
    vol_filter_done(&flt);
}

static void
test_in_use(void **state)
{
    struct fixture *f = *state;
    _cleanup_err_ struct bt_err *err = NULL;
    vol_volume_free(create(f->st, "shared", NULL, false));
    assert_int_equal(
        vol_volume_acquire(f->st, "shared", "0123456789abcdef0123", "demo-web-1", &err), 0);
    assert_int_equal(vol_volume_acquire(f->st, "shared", "fedcba", "demo-db-1", &err), 0);
    /* idempotent per container */
    assert_int_equal(vol_volume_acquire(f->st, "shared", "fedcba", "demo-db-1", &err), 0);
    struct vol_volume *v = NULL;
    assert_int_equal(vol_volume_get(f->st, "shared", &v, &err), 1);
    assert_int_equal(v->n_users, 2);
    vol_volume_free(v);

    assert_int_equal(vol_volume_remove(f->st, "shared", NULL, &err), -EBUSY);
    assert_non_null(strstr(err->msg, "remove shared: volume is in use by container demo-web-1 "
                                     "(0123456789ab)"));
    assert_non_null(strstr(err->msg, "demo-db-1"));
    err = bt_err_free(err);
    assert_true(bt_path_exists(f->root)); /* still there */

    assert_int_equal(vol_volume_release(f->st, "shared", "0123456789abcdef0123", &err), 0);
    assert_int_equal(vol_volume_remove(f->st, "shared", NULL, &err), -EBUSY);
    assert_non_null(strstr(err->msg, "demo-db-1"));
    assert_null(strstr(err->msg, "demo-web-1"));
    err = bt_err_free(err);
    assert_int_equal(vol_container_release_all(f->st, "fedcba", &err), 0);
    /* releasing what is not held is fine */
    assert_int_equal(vol_volume_release(f->st, "shared", "nobody", &err), 0);
    assert_int_equal(vol_volume_release(f->st, "gone", "nobody", &err), 0);

    assert_int_equal(vol_volume_remove(f->st, "shared", NULL, &err), 1);
    _cleanup_free_ char *dir = xasprintf("%s/volumes/shared", f->root);
    assert_false(bt_path_exists(dir));
    assert_int_equal(vol_volume_remove(f->st, "shared", NULL, &err), -ENOENT);
    assert_string_equal(err->msg, "no such volume: shared");
    err = bt_err_free(err);
    assert_int_equal(vol_volume_acquire(f->st, "shared", "c", "c", &err), -ENOENT);
}

static void
test_anonymous(void **state)
{
    struct fixture *f = *state;
    _cleanup_err_ struct bt_err *err = NULL;
    struct vol_anon_owner web1 = {"demo", "web", "1"};
    struct vol_anon_owner web2 = {"demo", "web", "2"};
    struct vol_volume *a = NULL, *b = NULL, *c = NULL, *d = NULL;
    assert_int_equal(vol_anon_ensure(f->st, &web1, "/data", &a, &err), 0);
    assert_int_equal(strlen(a->name), 64);
    assert_true(a->anonymous);
    assert_non_null(vol_volume_label(a, VOL_LABEL_ANONYMOUS));
    assert_string_equal(vol_volume_label(a, VOL_LABEL_PROJECT), "demo");
    assert_string_equal(vol_volume_label(a, VOL_LABEL_TARGET), "/data");
    /* a recreate of the same container finds the same volume */
    assert_int_equal(vol_anon_ensure(f->st, &web1, "/data/", &b, &err), 0);
    assert_string_equal(a->name, b->name);
    /* another replica or another path gets its own */
    assert_int_equal(vol_anon_ensure(f->st, &web2, "/data", &c, &err), 0);
    assert_string_not_equal(a->name, c->name);
    assert_int_equal(vol_anon_ensure(f->st, &web1, "/cache", &d, &err), 0);
    assert_string_not_equal(a->name, d->name);
    vol_volume_free(b);
    vol_volume_free(c);
    vol_volume_free(d);

    /* the anonymous volume round-trips through its metadata */
    assert_int_equal(vol_volume_get(f->st, a->name, &b, &err), 1);
    assert_true(b->anonymous);
    vol_volume_free(b);
    vol_volume_free(a);

    assert_int_equal(vol_anon_ensure(f->st, NULL, "/data", &a, &err), -EINVAL);
    err = bt_err_free(err);

    /* rm -v of web-1: its two volumes go, web-2's stays; one in use stays */
    struct vol_anon_owner db1 = {"demo", "db", "1"};
    assert_int_equal(vol_anon_ensure(f->st, &db1, "/var/lib/db", &a, &err), 0);
    assert_int_equal(vol_volume_acquire(f->st, a->name, "dbc", "demo-db-1", &err), 0);
    char **removed = NULL;
    assert_int_equal(vol_anon_remove(f->st, &web1, &removed, &err), 0);
    assert_int_equal(bt_strv_length(removed), 2);
    removed = bt_strv_free(removed);
    struct vol_list l;
    assert_int_equal(vol_volume_list(f->st, NULL, &l, &err), 0);
    assert_int_equal(l.n, 2);
    vol_list_done(&l);
    /* down -v of the project: web-2's goes, db-1's is in use */
    struct vol_anon_owner proj = {"demo", NULL, NULL};
    assert_int_equal(vol_anon_remove(f->st, &proj, &removed, &err), -EBUSY);
    assert_non_null(strstr(err->msg, "in use by container demo-db-1"));
    err = bt_err_free(err);
    assert_int_equal(bt_strv_length(removed), 1);
    removed = bt_strv_free(removed);
    assert_int_equal(vol_volume_release(f->st, a->name, "dbc", &err), 0);
    assert_int_equal(vol_anon_remove(f->st, &proj, NULL, &err), 0);
    assert_int_equal(vol_volume_list(f->st, NULL, &l, &err), 0);
    assert_int_equal(l.n, 0);
    vol_list_done(&l);
    vol_volume_free(a);
    /* another project's are never touched */
    struct vol_anon_owner other = {"other", NULL, NULL};
    assert_int_equal(vol_anon_remove(f->st, &other, NULL, &err), 0);
}

static void
test_prune_and_external(void **state)
{
    struct fixture *f = *state;
    _cleanup_err_ struct bt_err *err = NULL;
    char *proj[] = {VOL_LABEL_PROJECT "=demo", NULL};
    vol_volume_free(create(f->st, "demo_db", proj, false));
    vol_volume_free(create(f->st, "keepme", NULL, false));
    vol_volume_free(create(f->st, "ext-data", NULL, false));
    struct vol_volume *anon_used = create(f->st, NULL, NULL, true);
    struct vol_volume *anon_free = create(f->st, NULL, NULL, true);
    assert_int_equal(vol_volume_acquire(f->st, anon_used->name, "c1", "demo-web-1", &err), 0);
    /* some content, to see the reclaimed size */
    _cleanup_free_ char *file = bt_path_join(anon_free->mountpoint, "f");
    assert_int_equal(bt_file_write_atomic(file, "hello", 5, 0644, &err), 0);

    struct vol_volume *v = NULL;
    assert_int_equal(vol_volume_get_external(f->st, "nope", "demo", &v, &err), -ENOENT);
    assert_non_null(strstr(err->msg, "external volume 'nope' not found"));
    err = bt_err_free(err);
    assert_int_equal(vol_volume_get_external(f->st, "ext-data", "demo", &v, &err), 0);
    vol_volume_free(v);

    /* default prune: unused anonymous volumes only */
    char **removed = NULL;
    uint64_t reclaimed = 0;
    struct vol_prune_opts po = {0};
    assert_int_equal(vol_volume_prune(f->st, &po, &removed, &reclaimed, &err), 0);
    assert_int_equal(bt_strv_length(removed), 1);
    assert_string_equal(removed[0], anon_free->name);
    assert_int_equal(reclaimed, 5);
    removed = bt_strv_free(removed);

    /* a project's removal touches only its own volumes */
    struct vol_rm_opts ro = {.project = "demo"};
    assert_int_equal(vol_volume_remove(f->st, "keepme", &ro, &err), 0);
    assert_int_equal(vol_volume_remove(f->st, "ext-data", &ro, &err), 0);
    assert_int_equal(vol_volume_get(f->st, "keepme", &v, &err), 1);
    vol_volume_free(v);

    /* --all: unused named volumes too, but never an external or used one */
    po.all = true;
    assert_int_equal(vol_volume_prune(f->st, &po, &removed, &reclaimed, &err), 0);
    assert_int_equal(bt_strv_length(removed), 2);
    assert_string_equal(removed[0], "demo_db");
    assert_string_equal(removed[1], "keepme");
    removed = bt_strv_free(removed);
    struct vol_list l;
    assert_int_equal(vol_volume_list(f->st, NULL, &l, &err), 0);
    assert_int_equal(l.n, 2);
    vol_list_done(&l);
    assert_int_equal(vol_volume_get(f->st, "ext-data", &v, &err), 1);
    vol_volume_free(v);

    vol_volume_free(anon_used);
    vol_volume_free(anon_free);
}

static bool
only_alive(const char *id, void *data)
{
    return strcmp(id, (const char *)data) == 0;
}

static void
test_gone_users(void **state)
{
    struct fixture *f = *state;
    _cleanup_err_ struct bt_err *err = NULL;
    vol_volume_free(create(f->st, "data", NULL, false));
    assert_int_equal(vol_volume_acquire(f->st, "data", "dead1", "demo-old-1", &err), 0);
    assert_int_equal(vol_volume_acquire(f->st, "data", "live1", "demo-new-1", &err), 0);
    /* without a check every record counts */
    assert_int_equal(vol_volume_remove(f->st, "data", NULL, &err), -EBUSY);
    assert_non_null(strstr(err->msg, "demo-old-1"));
    err = bt_err_free(err);

    vol_store_set_user_check(f->st, only_alive, "live1");
    struct vol_filter flt = {.dangling = 1};
    struct vol_list l;
    assert_int_equal(vol_volume_list(f->st, &flt, &l, &err), 0);
    assert_int_equal(l.n, 0);
    vol_list_done(&l);
    assert_int_equal(vol_volume_remove(f->st, "data", NULL, &err), -EBUSY);
    assert_null(strstr(err->msg, "demo-old-1"));
    assert_non_null(strstr(err->msg, "demo-new-1"));
    err = bt_err_free(err);

    /* once the live one is gone too, the volume is free */
    vol_store_set_user_check(f->st, only_alive, "nobody");
    assert_int_equal(vol_volume_remove(f->st, "data", NULL, &err), 1);
}

static void
test_leftovers_removed(void **state)
{
    struct fixture *f = *state;
    _cleanup_err_ struct bt_err *err = NULL;
    _cleanup_free_ char *half = xasprintf("%s/volumes/.new-0123/_data", f->root);
    assert_int_equal(bt_mkdir_p(half, 0755, &err), 0);
    struct vol_list l;
    assert_int_equal(vol_volume_list(f->st, NULL, &l, &err), 0);
    assert_int_equal(l.n, 0);
    vol_list_done(&l);
    struct vol_store *st2 = vol_store_open(f->root, &err);
    assert_non_null(st2);
    vol_store_free(st2);
    _cleanup_free_ char *dir = xasprintf("%s/volumes/.new-0123", f->root);
    assert_false(bt_path_exists(dir));
}

/* volume.subpath: resolved inside the volume, symlinks included; refused
 * when missing, absolute, with '..', or on a bind. */
static void
test_subpath(void **state)
{
    struct fixture *f = *state;
    struct bt_err *err = NULL;
    struct vol_create_opts o = {.name = "data"};
    struct vol_volume *v = NULL;
    assert_int_equal(vol_volume_create(f->st, &o, &v, NULL, &err), 0);
    _cleanup_free_ char *dir = bt_path_join(v->mountpoint, "sub/dir");
    assert_int_equal(bt_mkdir_p(dir, 0755, &err), 0);
    _cleanup_free_ char *link = bt_path_join(v->mountpoint, "esc");
    assert_int_equal(symlink("/etc", link), 0);
    _cleanup_free_ char *up = bt_path_join(v->mountpoint, "up");
    assert_int_equal(symlink("../../../../..", up), 0);

    struct vol_mount_request req = {.type = VOL_MOUNT_VOLUME,
                                    .source = "data",
                                    .target = "/x",
                                    .long_syntax = true,
                                    .subpath = "sub/dir"};
    struct vol_mount_plan plan;
    assert_int_equal(vol_mount_resolve(f->st, &req, NULL, &plan, &err), 0);
    assert_string_equal(plan.mount.source, dir);
    assert_string_equal(plan.mount.source_root, v->mountpoint);
    assert_false(plan.copy_up);
    _cleanup_json_ json_t *j = vol_oci_mount_to_json(&plan.mount);
    assert_string_equal(bt_json_str(j, "x-berth-source-root"), v->mountpoint);
    vol_mount_plan_done(&plan);

    /* an absolute link and a climbing one both stay in the volume */
    req.subpath = "esc";
    assert_int_equal(vol_mount_resolve(f->st, &req, NULL, &plan, &err), -ENOENT);
    assert_non_null(strstr(err->msg, "does not exist in volume 'data'"));
    err = bt_err_free(err);
    req.subpath = "up";
    assert_int_equal(vol_mount_resolve(f->st, &req, NULL, &plan, &err), 0);
    assert_string_equal(plan.mount.source, v->mountpoint);
    vol_mount_plan_done(&plan);

    static const char *const bad[] = {"missing", "/sub/dir", "sub/../..", ""};
    for (size_t i = 0; i < BT_ARRAY_SIZE(bad); i++) {
        req.subpath = bad[i];
        assert_true(vol_mount_resolve(f->st, &req, NULL, &plan, &err) < 0);
        assert_non_null(strstr(err->msg, "subpath"));
        err = bt_err_free(err);
    }
    struct vol_mount_request bind = {
        .type = VOL_MOUNT_BIND, .source = "/tmp", .target = "/x", .subpath = "a"};
    assert_true(vol_mount_request_validate(&bind, &err) < 0);
    assert_non_null(strstr(err->msg, "volumes only"));
    err = bt_err_free(err);
    vol_volume_free(v);
}

int
main(void)
{
    bt_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test_setup_teardown(test_create_and_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_driver_opts_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_in_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_anonymous, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune_and_external, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gone_users, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leftovers_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subpath, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
