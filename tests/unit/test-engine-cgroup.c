/* engine: cgroup placement (relative to the caller's own cgroup per v1
 * hierarchy, absolute from the root), the v2 backend against a fake
 * cgroupfs directory, the v1 backend's files, state round trip. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/cgroup-internal.h"
#include "engine/runtime-internal.h"

struct fake {
    char dir[64];
    char *mountinfo;
    char *self;
};

static void
put(const char *path, const char *text)
{
    assert_int_equal(bt_file_write_atomic(path, text, strlen(text), 0644, NULL), 0);
}

static char *
get(const char *dir, const char *file)
{
    _cleanup_free_ char *p = bt_path_join(dir, file);
    char *s = bt_file_read_all(p, NULL, NULL);
    assert_non_null(s);
    return s;
}

static void
mkdirs(const char *path)
{
    assert_int_equal(bt_mkdir_p(path, 0755, NULL), 0);
}

static void
fake_setup(struct fake *f, const char *mountinfo_fmt, const char *self)
{
    snprintf(f->dir, sizeof(f->dir), "/tmp/berth-unit-cg.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->mountinfo = bt_path_join(f->dir, "mountinfo");
    f->self = bt_path_join(f->dir, "cgroup");
    /* '@' in the template stands for the fake's directory */
    struct bt_buf b = {0};
    for (const char *p = mountinfo_fmt; *p; p++) {
        if (*p == '@')
            bt_buf_puts(&b, f->dir);
        else
            bt_buf_putc(&b, *p);
    }
    _cleanup_free_ char *mi = bt_buf_steal(&b);
    bt_buf_done(&b);
    put(f->mountinfo, mi);
    put(f->self, self);
}

static void
fake_done(struct fake *f)
{
    assert_int_equal(bt_rm_rf(f->dir, NULL), 0);
    free(f->mountinfo);
    free(f->self);
}

static const char v1_mountinfo[] =
    "25 1 0:22 / /proc rw - proc proc rw\n"
    "30 25 0:26 / @/memory rw,nosuid - cgroup cgroup rw,memory\n"
    "31 25 0:27 / @/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct\n"
    "32 25 0:28 / @/pids rw,nosuid - cgroup cgroup rw,pids\n"
    "33 25 0:29 / @/unified rw,nosuid - cgroup2 cgroup2 rw\n";

static const char v1_self[] = "4:pids:/\n3:cpu,cpuacct:/\n2:memory:/job/7\n0::/\n";

static void
test_v1_placement(void **state)
{
    struct fake f;
    fake_setup(&f, v1_mountinfo, v1_self);
    struct rt_cgroup_env env = {f.mountinfo, f.self};
    setenv("BERTH_CGROUP_PARENT", "berth-test-1", 1);
    struct bt_err *err = NULL;
    _cleanup_(rt_cgroup_freep) struct rt_cgroup *cg = rt_cgroup_resolve(&env, NULL, "c1", &err);
    assert_null(err);
    assert_false(rt_cgroup_is_v2(cg));
    assert_int_equal(cg->n_dirs, 3);
    _cleanup_free_ char *mem = xasprintf("%s/memory/job/7/berth-test-1/c1", f.dir);
    _cleanup_free_ char *cpu = xasprintf("%s/cpu,cpuacct/berth-test-1/c1", f.dir);
    assert_string_equal(rt_cgroup_dir(cg, "memory"), mem);
    assert_string_equal(rt_cgroup_dir(cg, "cpu"), cpu);
    assert_string_equal(rt_cgroup_dir(cg, "cpuacct"), cpu);
    assert_null(rt_cgroup_dir(cg, "freezer"));

    /* the default parent is "berth" */
    unsetenv("BERTH_CGROUP_PARENT");
    _cleanup_free_ char *conf = bt_path_join(f.dir, "berth.json");
    setenv("BERTH_CONFIG", conf, 1);
    _cleanup_(rt_cgroup_freep) struct rt_cgroup *d = rt_cgroup_resolve(&env, NULL, "c2", &err);
    _cleanup_free_ char *dmem = xasprintf("%s/memory/job/7/berth/c2", f.dir);
    assert_string_equal(rt_cgroup_dir(d, "memory"), dmem);
    /* the configuration's cgroup-parent, absolute here */
    put(conf, "{\"cgroup-parent\": \"/ops\"}");
    _cleanup_(rt_cgroup_freep) struct rt_cgroup *o = rt_cgroup_resolve(&env, NULL, "c4", &err);
    _cleanup_free_ char *omem = xasprintf("%s/memory/ops/c4", f.dir);
    assert_string_equal(rt_cgroup_dir(o, "memory"), omem);
    unsetenv("BERTH_CONFIG");

    /* absolute cgroupsPath: from the hierarchy's root */
    _cleanup_(rt_cgroup_freep) struct rt_cgroup *a =
        rt_cgroup_resolve(&env, "/top/c3", "ignored", &err);
    _cleanup_free_ char *amem = xasprintf("%s/memory/top/c3", f.dir);
    assert_string_equal(rt_cgroup_dir(a, "memory"), amem);

    /* a relative path may not climb out */
    assert_null(rt_cgroup_resolve(&env, "../../escape", "x", &err));
    assert_non_null(strstr(err->msg, "leaves its parent"));
    err = bt_err_free(err);

    /* round trip through the state file */
    _cleanup_json_ json_t *j = rt_cgroup_to_json(cg);
    _cleanup_(rt_cgroup_freep) struct rt_cgroup *back = rt_cgroup_from_json(j, &err);
    assert_non_null(back);
    assert_false(rt_cgroup_is_v2(back));
    assert_string_equal(rt_cgroup_dir(back, "memory"), mem);
    fake_done(&f);
}

/* v1_mountinfo with a blkio hierarchy too */
static const char v1_blkio_mountinfo[] =
    "25 1 0:22 / /proc rw - proc proc rw\n"
    "30 25 0:26 / @/memory rw,nosuid - cgroup cgroup rw,memory\n"
    "31 25 0:27 / @/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct\n"
    "32 25 0:28 / @/pids rw,nosuid - cgroup cgroup rw,pids\n"
    "34 25 0:30 / @/blkio rw,nosuid - cgroup cgroup rw,blkio\n";

static void
test_v1_limits(void **state)
{
    struct fake f;
    fake_setup(&f, v1_blkio_mountinfo, "5:blkio:/\n4:pids:/\n3:cpu,cpuacct:/\n2:memory:/job/7\n");
    struct rt_cgroup_env env = {f.mountinfo, f.self};
    struct bt_err *err = NULL;
    _cleanup_(rt_cgroup_freep) struct rt_cgroup *cg = rt_cgroup_resolve(&env, "/c", "c", &err);
    /* the kernel makes the interface files; the fake has them ready */
    const char *mem = rt_cgroup_dir(cg, "memory");
    const char *cpu = rt_cgroup_dir(cg, "cpu");
    const char *pids = rt_cgroup_dir(cg, "pids");
    mkdirs(mem);
    mkdirs(cpu);
    mkdirs(pids);
    static const char *const memfiles[] = {"memory.limit_in_bytes", "memory.memsw.limit_in_bytes",
                                           "memory.swappiness",     "memory.soft_limit_in_bytes",
                                           "memory.oom_control",    "cgroup.procs"};
    for (size_t i = 0; i < BT_ARRAY_SIZE(memfiles); i++) {
        _cleanup_free_ char *p = bt_path_join(mem, memfiles[i]);
        put(p, "");
    }
    static const char *const cpufiles[] = {"cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us"};
    for (size_t i = 0; i < BT_ARRAY_SIZE(cpufiles); i++) {
        _cleanup_free_ char *p = bt_path_join(cpu, cpufiles[i]);
        put(p, "");
    }
    _cleanup_free_ char *pm = bt_path_join(pids, "pids.max");
    put(pm, "");
    struct rt_resources r = {.memory_limit = 64 << 20,
                             .memory_swap = 128 << 20,
                             .memory_swap_set = true,
                             .memory_reservation = -1,
                             .memory_swappiness = 0,
                             .oom_kill_disable = true,
                             .cpu_shares = 512,
                             .cpu_quota = 50000,
                             .cpu_period = 100000,
                             .pids_limit = 20};
    assert_int_equal(rt_cgroup_create(cg, &r, &err), 0);
    assert_null(err);
    _cleanup_free_ char *l = get(mem, "memory.limit_in_bytes");
    assert_string_equal(l, "67108864");
    _cleanup_free_ char *sw = get(mem, "memory.memsw.limit_in_bytes");
    assert_string_equal(sw, "134217728");
    _cleanup_free_ char *swp = get(mem, "memory.swappiness");
    assert_string_equal(swp, "0");
    _cleanup_free_ char *oom = get(mem, "memory.oom_control");
    assert_string_equal(oom, "1");
    _cleanup_free_ char *sh = get(cpu, "cpu.shares");
    assert_string_equal(sh, "512");
    _cleanup_free_ char *q = get(cpu, "cpu.cfs_quota_us");
    assert_string_equal(q, "50000");
    _cleanup_free_ char *pl = get(pids, "pids.max");
    assert_string_equal(pl, "20");

    /* stats and OOM kills are read back */
    _cleanup_free_ char *u = bt_path_join(mem, "memory.usage_in_bytes");
    put(u, "4096\n");
    _cleanup_free_ char *oc = bt_path_join(mem, "memory.oom_control");
    put(oc, "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
    _cleanup_free_ char *ms = bt_path_join(mem, "memory.stat");
    put(ms, "cache 8192\ninactive_file 10\ntotal_cache 8192\ntotal_inactive_file 1024\n");
    const char *blk = rt_cgroup_dir(cg, "blkio");
    assert_non_null(blk);
    _cleanup_free_ char *bs = bt_path_join(blk, "blkio.throttle.io_service_bytes_recursive");
    put(bs, "8:0 Read 4096\n8:0 Write 512\n8:0 Sync 0\n8:0 Total 4608\n"
            "8:16 Read 100\n8:16 Write 0\nTotal 4708\n");
    struct engine_cgroup_stats st;
    assert_int_equal(rt_cgroup_stats(cg, &st, &err), 0);
    assert_int_equal(st.memory_usage, 4096);
    assert_int_equal(st.oom_kills, 2);
    /* the hierarchy-wide counter, not the group's own */
    assert_int_equal(st.memory_inactive_file, 1024);
    /* Read and Write lines of every device; Sync and Total are sums */
    assert_int_equal(st.blkio_read, 4196);
    assert_int_equal(st.blkio_write, 512);
    fake_done(&f);
}

static const char v2_mountinfo[] = "25 1 0:22 / /proc rw - proc proc rw\n"
                                   "33 25 0:29 / @/cg rw,nosuid - cgroup2 cgroup2 rw\n";

static void
test_v2(void **state)
{
    struct fake f;
    fake_setup(&f, v2_mountinfo, "0::/user.slice/s1\n");
    _cleanup_free_ char *root = bt_path_join(f.dir, "cg");
    _cleanup_free_ char *own = bt_path_join(root, "user.slice/s1");
    mkdirs(own);
    _cleanup_free_ char *rc = bt_path_join(root, "cgroup.controllers");
    put(rc, "cpu io memory pids\n");
    /* no controllers at all means no usable v2 */
    struct rt_cgroup_env env = {f.mountinfo, f.self};
    setenv("BERTH_CGROUP_PARENT", "berth-test-2", 1);
    struct bt_err *err = NULL;
    _cleanup_(rt_cgroup_freep) struct rt_cgroup *cg = rt_cgroup_resolve(&env, NULL, "c1", &err);
    assert_null(err);
    assert_true(rt_cgroup_is_v2(cg));
    _cleanup_free_ char *want = xasprintf("%s/user.slice/s1/berth-test-2/c1", root);
    assert_string_equal(rt_cgroup_dir(cg, "memory"), want);

    /* fake kernel: every level has its files, the leaf too */
    _cleanup_free_ char *parent = bt_path_join(own, "berth-test-2");
    mkdirs(want);
    const char *levels[] = {own, parent};
    for (size_t i = 0; i < 2; i++) {
        _cleanup_free_ char *c = bt_path_join(levels[i], "cgroup.controllers");
        _cleanup_free_ char *s = bt_path_join(levels[i], "cgroup.subtree_control");
        put(c, "cpu io memory pids\n");
        put(s, "");
    }
    static const char *const files[] = {
        "memory.max", "memory.swap.max", "memory.low",   "cpu.weight",    "cpu.max",
        "pids.max",   "io.weight",       "cgroup.procs", "cgroup.freeze", "cgroup.subtree_control"};
    for (size_t i = 0; i < BT_ARRAY_SIZE(files); i++) {
        _cleanup_free_ char *p = bt_path_join(want, files[i]);
        put(p, "");
    }
    struct rt_resources r = {.memory_limit = 100 << 20,
                             .memory_swap = 150 << 20,
                             .memory_swap_set = true,
                             .memory_reservation = 10 << 20,
                             .memory_swappiness = -1,
                             .cpu_shares = 1024,
                             .cpu_quota = 50000,
                             .pids_limit = -1,
                             .blkio_weight = 500};
    assert_int_equal(rt_cgroup_create(cg, &r, &err), 0);
    assert_null(err);
    _cleanup_free_ char *mx = get(want, "memory.max");
    assert_string_equal(mx, "104857600");
    /* v2 limits swap alone: memory+swap minus memory */
    _cleanup_free_ char *sw = get(want, "memory.swap.max");
    assert_string_equal(sw, "52428800");
    _cleanup_free_ char *low = get(want, "memory.low");
    assert_string_equal(low, "10485760");
    _cleanup_free_ char *w = get(want, "cpu.weight");
    assert_string_equal(w, "39");
    _cleanup_free_ char *cm = get(want, "cpu.max");
    assert_string_equal(cm, "50000 100000");
    _cleanup_free_ char *pm = get(want, "pids.max");
    assert_string_equal(pm, "max");
    _cleanup_free_ char *io = get(want, "io.weight");
    assert_string_equal(io, "default 4950");
    /* controllers were enabled on the levels above (the last write wins
     * in a plain file; the kernel would accumulate them) */
    _cleanup_free_ char *sc = get(parent, "cgroup.subtree_control");
    assert_true(bt_str_startswith(sc, "+"));

    assert_int_equal(rt_cgroup_attach(cg, 1234, &err), 0);
    _cleanup_free_ char *procs = get(want, "cgroup.procs");
    assert_string_equal(procs, "1234");
    _cleanup_free_ char *pp = bt_path_join(want, "cgroup.procs");
    put(pp, "11\n12\n");
    _cleanup_free_ pid_t *pids = rt_cgroup_pids(cg, &err);
    assert_non_null(pids);
    assert_int_equal(pids[0], 11);
    assert_int_equal(pids[1], 12);
    assert_int_equal(pids[2], 0);

    /* freeze writes cgroup.freeze and waits for cgroup.events */
    _cleanup_free_ char *ev = bt_path_join(want, "cgroup.events");
    put(ev, "populated 1\nfrozen 1\n");
    assert_int_equal(rt_cgroup_freeze(cg, true, &err), 0);
    _cleanup_free_ char *fz = get(want, "cgroup.freeze");
    assert_string_equal(fz, "1");

    _cleanup_free_ char *mev = bt_path_join(want, "memory.events");
    put(mev, "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n");
    struct engine_cgroup_stats st;
    assert_int_equal(rt_cgroup_stats(cg, &st, &err), 0);
    assert_int_equal(st.oom_kills, 1);
    assert_int_equal(st.memory_limit, 100 << 20);
    assert_int_equal(st.blkio_read, 0);

    /* memory.stat's inactive_file and io.stat's bytes of every device */
    _cleanup_free_ char *cur = bt_path_join(want, "memory.current");
    put(cur, "1048576\n");
    _cleanup_free_ char *mst = bt_path_join(want, "memory.stat");
    put(mst, "anon 4096\nfile 8192\nactive_file 100\ninactive_file 2048\n");
    _cleanup_free_ char *ios = bt_path_join(want, "io.stat");
    put(ios, "8:0 rbytes=1000 wbytes=200 rios=3 wios=1 dbytes=0 dios=0\n"
             "259:0 rbytes=24 wbytes=56 rios=1 wios=1 dbytes=0 dios=0\n");
    _cleanup_free_ char *cst = bt_path_join(want, "cpu.stat");
    put(cst, "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n");
    _cleanup_free_ char *pcur = bt_path_join(want, "pids.current");
    put(pcur, "3\n");
    assert_int_equal(rt_cgroup_stats(cg, &st, &err), 0);
    assert_int_equal(st.memory_usage, 1048576);
    assert_int_equal(st.memory_inactive_file, 2048);
    assert_int_equal(st.blkio_read, 1024);
    assert_int_equal(st.blkio_write, 256);
    assert_int_equal(st.cpu_usage_ns, 1500000);
    assert_int_equal(st.pids_current, 3);
    unsetenv("BERTH_CGROUP_PARENT");
    fake_done(&f);
}

static void
test_no_cgroups(void **state)
{
    struct fake f;
    fake_setup(&f, "25 1 0:22 / /proc rw - proc proc rw\n", "0::/\n");
    struct rt_cgroup_env env = {f.mountinfo, f.self};
    struct bt_err *err = NULL;
    assert_null(rt_cgroup_resolve(&env, NULL, "c", &err));
    assert_non_null(strstr(err->msg, "no usable cgroup hierarchy"));
    bt_err_free(err);
    fake_done(&f);
}

static void
test_conversions(void **state)
{
    assert_int_equal(rt_cgroup_shares_to_weight(2), 1);
    assert_int_equal(rt_cgroup_shares_to_weight(1024), 39);
    assert_int_equal(rt_cgroup_shares_to_weight(262144), 10000);
    assert_int_equal(rt_cgroup_blkio_to_io_weight(10), 1);
    assert_int_equal(rt_cgroup_blkio_to_io_weight(1000), 10000);
}

int
main(void)
{
    bt_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v1_placement), cmocka_unit_test(test_v1_limits),
        cmocka_unit_test(test_v2),           cmocka_unit_test(test_no_cgroups),
        cmocka_unit_test(test_conversions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
