/* engine: config.json parsing, capability and rlimit names, sysctl policy,
 * Docker's default seccomp profile (loaded for real in a child), user
 * resolution and Docker's memswap semantics. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/engine.h"
#include "engine/oci-runtime.h"
#include "engine/runtime-internal.h"

static json_t *
minimal(void)
{
    return json_pack("{s:s,s:{s:s},s:{s:[s],s:s},s:{s:[{s:s},{s:s},{s:s}]}}", "ociVersion", "1.0.2",
                     "root", "path", "rootfs", "process", "args", "sh", "cwd", "/", "linux",
                     "namespaces", "type", "mount", "type", "pid", "type", "uts");
}

static char *
parse_error(json_t *j)
{
    struct bt_err *err = NULL;
    struct rt_spec *s = rt_spec_parse(j, "/b", &err);
    assert_null(s);
    assert_non_null(err);
    char *msg = xstrdup(err->msg);
    bt_err_free(err);
    return msg;
}

static void
test_default_spec(void **state)
{
    _cleanup_json_ json_t *j = engine_spec_default(false);
    struct bt_err *err = NULL;
    _cleanup_(rt_spec_freep) struct rt_spec *s = rt_spec_parse(j, "/bundle", &err);
    assert_null(err);
    assert_non_null(s);
    assert_string_equal(s->root_path, "/bundle/rootfs");
    assert_string_equal(s->hostname, "berth");
    /* Docker's default capability set, as CapEff shows it */
    assert_int_equal(s->process.caps.effective, 0xa80425fbULL);
    assert_int_equal(s->process.caps.bounding, 0xa80425fbULL);
    assert_int_equal(s->process.caps.ambient, 0);
    assert_int_equal(s->n_mounts, 7);
    assert_string_equal(s->mounts[1].destination, "/dev");
    assert_int_equal(s->mounts[1].flags, MS_NOSUID | MS_STRICTATIME);
    assert_string_equal(s->mounts[1].data, "mode=755,size=65536k");
    assert_string_equal(s->mounts[5].destination, "/sys");
    assert_true(s->mounts[5].flags & MS_RDONLY);
    assert_int_equal(s->n_namespaces, 6);
    assert_non_null(rt_spec_namespace(s, CLONE_NEWCGROUP));
    assert_null(rt_spec_namespace(s, CLONE_NEWUSER));
    assert_true(bt_strv_contains(s->masked_paths, "/proc/kcore"));
    assert_true(bt_strv_contains(s->readonly_paths, "/proc/sys"));
    assert_non_null(s->seccomp);
    assert_int_equal(s->process.n_rlimits, 1);
    assert_int_equal(s->process.rlimits[0].resource, RLIMIT_NOFILE);
    assert_int_equal(s->process.rlimits[0].soft, 1024);
    assert_int_equal(s->resources.n_device_rules, 13);
    assert_false(s->resources.device_rules[0].allow);
    assert_int_equal(s->resources.device_rules[0].type, 'a');
}

static void
test_rootless_spec(void **state)
{
    _cleanup_json_ json_t *j = engine_spec_default(true);
    struct bt_err *err = NULL;
    _cleanup_(rt_spec_freep) struct rt_spec *s = rt_spec_parse(j, "/b", &err);
    assert_null(err);
    assert_non_null(rt_spec_namespace(s, CLONE_NEWUSER));
    assert_int_equal(s->n_uid_mappings, 1);
    assert_int_equal(s->uid_mappings[0].host_id, getuid());
}

static void
test_mount_options(void **state)
{
    _cleanup_json_ json_t *j = minimal();
    json_object_set_new(j, "mounts",
                        json_pack("[{s:s,s:s,s:[s,s,s,s,s]},{s:s,s:s,s:s,s:[s,s]}]", "destination",
                                  "/data//x/", "source", "vol", "options", "rbind", "ro",
                                  "rprivate", "nosuid", "mode=755", "destination", "/tmp", "type",
                                  "tmpfs", "source", "tmpfs", "options", "size=10m", "noexec"));
    struct bt_err *err = NULL;
    _cleanup_(rt_spec_freep) struct rt_spec *s = rt_spec_parse(j, "/bundle", &err);
    assert_null(err);
    assert_int_equal(s->n_mounts, 2);
    struct rt_mount *m = &s->mounts[0];
    assert_string_equal(m->destination, "/data/x");
    assert_string_equal(m->source, "/bundle/vol");
    assert_true(m->bind);
    assert_true(m->recursive);
    assert_int_equal(m->flags, MS_RDONLY | MS_NOSUID);
    assert_int_equal(m->propagation, MS_PRIVATE | MS_REC);
    assert_string_equal(m->data, "mode=755");
    assert_false(s->mounts[1].bind);
    assert_string_equal(s->mounts[1].type, "tmpfs");
    assert_int_equal(s->mounts[1].flags, MS_NOEXEC);
    assert_string_equal(s->mounts[1].data, "size=10m");
}

static void
test_bad_specs(void **state)
{
    struct {
        const char *path; /* where to put the value */
        json_t *value;
        const char *expect;
    } cases[] = {
        {"ociVersion", json_string("0.9"), "unsupported ociVersion"},
        {"process", json_null(), "'process' is required"},
        {"mounts", json_pack("[{s:s,s:s}]", "destination", "rel", "type", "tmpfs"),
         "must be absolute"},
        {"mounts", json_pack("[{s:s,s:[s]}]", "destination", "/x", "options", "bind"),
         "needs a source"},
        {"mounts", json_pack("[{s:s}]", "destination", "/x"), "'type' is required"},
        {"hostname", json_integer(3), "'hostname' must be a string"},
    };
    for (size_t i = 0; i < BT_ARRAY_SIZE(cases); i++) {
        _cleanup_json_ json_t *j = minimal();
        json_object_set_new(j, cases[i].path, cases[i].value);
        _cleanup_free_ char *msg = parse_error(j);
        if (!strstr(msg, cases[i].expect))
            fail_msg("case %zu: '%s' does not say '%s'", i, msg, cases[i].expect);
    }
    /* process details */
    _cleanup_json_ json_t *j = minimal();
    json_object_set_new(json_object_get(j, "process"), "capabilities",
                        json_pack("{s:[s]}", "bounding", "CAP_FLY"));
    _cleanup_free_ char *m1 = parse_error(j);
    assert_non_null(strstr(m1, "unknown capability 'CAP_FLY'"));
    json_object_del(json_object_get(j, "process"), "capabilities");
    json_object_set_new(
        json_object_get(j, "process"), "rlimits",
        json_pack("[{s:s,s:i,s:i}]", "type", "RLIMIT_NOFILE", "soft", 10, "hard", 5));
    _cleanup_free_ char *m2 = parse_error(j);
    assert_non_null(strstr(m2, "soft limit above the hard limit"));
    json_object_del(json_object_get(j, "process"), "rlimits");
    json_object_set_new(json_object_get(j, "process"), "cwd", json_string("relative"));
    _cleanup_free_ char *m3 = parse_error(j);
    assert_non_null(strstr(m3, "absolute"));
    json_object_set_new(json_object_get(j, "process"), "cwd", json_string("/"));
    json_array_append_new(json_object_get(json_object_get(j, "linux"), "namespaces"),
                          json_pack("{s:s}", "type", "time-travel"));
    _cleanup_free_ char *m4 = parse_error(j);
    assert_non_null(strstr(m4, "unknown type 'time-travel'"));
    /* a new user namespace needs id maps */
    _cleanup_json_ json_t *u = minimal();
    json_array_append_new(json_object_get(json_object_get(u, "linux"), "namespaces"),
                          json_pack("{s:s}", "type", "user"));
    _cleanup_free_ char *m5 = parse_error(u);
    assert_non_null(strstr(m5, "uidMappings"));
    /* no mount namespace */
    _cleanup_json_ json_t *n = json_pack("{s:s,s:{s:s},s:{s:[s]}}", "ociVersion", "1.0.0", "root",
                                         "path", "r", "process", "args", "sh");
    _cleanup_free_ char *m6 = parse_error(n);
    assert_non_null(strstr(m6, "mount namespace"));
}

static void
test_sysctls(void **state)
{
    _cleanup_json_ json_t *j = minimal();
    json_t *lx = json_object_get(j, "linux");
    json_object_set_new(lx, "sysctl", json_pack("{s:s}", "vm.swappiness", "10"));
    _cleanup_free_ char *m1 = parse_error(j);
    assert_non_null(strstr(m1, "sysctl 'vm.swappiness' is not namespaced"));
    json_object_set_new(lx, "sysctl", json_pack("{s:s}", "net.ipv4.ip_forward", "1"));
    _cleanup_free_ char *m2 = parse_error(j);
    assert_non_null(strstr(m2, "needs a network namespace"));
    json_object_set_new(lx, "sysctl", json_pack("{s:s}", "kernel.shmmax", "1"));
    _cleanup_free_ char *m3 = parse_error(j);
    assert_non_null(strstr(m3, "needs an ipc namespace"));
    json_array_append_new(json_object_get(lx, "namespaces"), json_pack("{s:s}", "type", "network"));
    json_array_append_new(json_object_get(lx, "namespaces"), json_pack("{s:s}", "type", "ipc"));
    json_object_set_new(lx, "sysctl",
                        json_pack("{s:s,s:s,s:s}", "net.ipv4.ip_forward", "1", "kernel.shmmax",
                                  "65536", "fs.mqueue.msg_max", "20"));
    struct bt_err *err = NULL;
    _cleanup_(rt_spec_freep) struct rt_spec *s = rt_spec_parse(j, "/b", &err);
    assert_null(err);
    assert_int_equal(s->n_sysctls, 3);
}

static void
test_resources(void **state)
{
    _cleanup_json_ json_t *j = minimal();
    json_object_set_new(json_object_get(j, "linux"), "resources",
                        json_pack("{s:{s:I,s:I,s:i},s:{s:i,s:I,s:i,s:s},s:{s:i},s:{s:i}}", "memory",
                                  "limit", (json_int_t)64 << 20, "swap", (json_int_t)128 << 20,
                                  "swappiness", 10, "cpu", "shares", 512, "quota",
                                  (json_int_t)50000, "period", 100000, "cpus", "0", "pids", "limit",
                                  20, "blockIO", "weight", 300));
    struct bt_err *err = NULL;
    _cleanup_(rt_spec_freep) struct rt_spec *s = rt_spec_parse(j, "/b", &err);
    assert_null(err);
    assert_int_equal(s->resources.memory_limit, 64 << 20);
    assert_int_equal(s->resources.memory_swap, 128 << 20);
    assert_int_equal(s->resources.memory_swappiness, 10);
    assert_int_equal(s->resources.memory_reservation, -1);
    assert_int_equal(s->resources.cpu_shares, 512);
    assert_int_equal(s->resources.cpu_quota, 50000);
    assert_string_equal(s->resources.cpuset_cpus, "0");
    assert_int_equal(s->resources.pids_limit, 20);
    assert_int_equal(s->resources.blkio_weight, 300);
    /* swap below memory is refused */
    json_object_set_new(
        json_object_get(json_object_get(json_object_get(j, "linux"), "resources"), "memory"),
        "swap", json_integer(1 << 20));
    _cleanup_free_ char *m = parse_error(j);
    assert_non_null(strstr(m, "must not be below the memory limit"));
}

static void
test_names(void **state)
{
    assert_int_equal(rt_cap_from_name("CAP_SYS_ADMIN"), 21);
    assert_int_equal(rt_cap_from_name("net_raw"), 13);
    assert_int_equal(rt_cap_from_name("CAP_NOPE"), -1);
    assert_string_equal(rt_cap_name(40), "CAP_CHECKPOINT_RESTORE");
    assert_int_equal(rt_rlimit_from_name("RLIMIT_NPROC"), RLIMIT_NPROC);
    assert_int_equal(rt_rlimit_from_name("NPROC"), -1);
    int sig = 0;
    assert_int_equal(engine_signal_parse("SIGKILL", &sig), 0);
    assert_int_equal(sig, SIGKILL);
    assert_int_equal(engine_signal_parse("term", &sig), 0);
    assert_int_equal(sig, SIGTERM);
    assert_int_equal(engine_signal_parse("9", &sig), 0);
    assert_int_equal(sig, 9);
    assert_int_equal(engine_signal_parse("SIGWHAT", &sig), -EINVAL);
    _cleanup_json_ json_t *caps = engine_caps_docker_default();
    assert_int_equal(json_array_size(caps), 14);
}

/* Loads a default filter in a child and checks what it allows. */
static void
check_default_filter(const struct rt_seccomp *sc)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct bt_err *e = NULL;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || rt_seccomp_load(sc, &e) < 0)
            _exit(10);
        if (getpid() <= 0)
            _exit(11);
        /* blocked: namespaces and module loading without CAP_SYS_ADMIN */
        if (syscall(SYS_unshare, CLONE_NEWUTS) != -1 || errno != EPERM)
            _exit(12);
        if (syscall(SYS_init_module, NULL, 0, "") != -1 || errno != EPERM)
            _exit(13);
        if (syscall(SYS_keyctl, 0, 0, 0, 0, 0) != -1 || errno != EPERM)
            _exit(14);
        /* clone3 says ENOSYS so that libc falls back to clone */
        if (syscall(SYS_clone3, NULL, 0) != -1 || errno != ENOSYS)
            _exit(15);
        /* AF_VSOCK sockets are refused, others allowed */
        if (syscall(SYS_socket, 40, 1, 0) != -1 || errno != EPERM)
            _exit(16);
        int fd = (int)syscall(SYS_socket, 1 /* AF_UNIX */, 1, 0);
        if (fd < 0)
            _exit(17);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static struct rt_seccomp *
default_filter(void)
{
    _cleanup_json_ json_t *prof = engine_seccomp_docker_default(NULL);
    struct bt_err *err = NULL;
    struct rt_seccomp *sc = rt_seccomp_parse(prof, &err);
    assert_null(err);
    assert_non_null(sc);
    return sc;
}

static void
test_seccomp_default(void **state)
{
    /* compiled by libseccomp in the child */
    struct rt_seccomp *sc = default_filter();
    check_default_filter(sc);
    rt_seccomp_free(sc);

    /* compiled once in the parent and kept in RUNROOT/seccomp */
    char tmpl[] = "/tmp/berth-seccomp.XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    _cleanup_free_ char *old_runroot =
        getenv("BERTH_RUNROOT") ? xstrdup(getenv("BERTH_RUNROOT")) : NULL;
    setenv("BERTH_RUNROOT", tmpl, 1);
    struct bt_err *err = NULL;
    struct rt_seccomp *first = default_filter();
    assert_int_equal(rt_seccomp_prepare(first, &err), 0);
    assert_non_null(first->bpf);
    assert_true(first->bpf_len > 10);
    check_default_filter(first);
    _cleanup_free_ char *dir = bt_path_join(tmpl, "seccomp");
    _cleanup_dir_ DIR *d = opendir(dir);
    assert_non_null(d);
    _cleanup_free_ char *cached = NULL;
    struct dirent *de;
    while ((de = readdir(d)))
        if (bt_str_endswith(de->d_name, ".bpf")) {
            assert_null(cached); /* one program for one filter */
            cached = bt_path_join(dir, de->d_name);
        }
    assert_non_null(cached);

    /* a second start reads the same program back */
    struct rt_seccomp *second = default_filter();
    assert_int_equal(rt_seccomp_prepare(second, &err), 0);
    assert_int_equal(second->bpf_len, first->bpf_len);
    assert_memory_equal(second->bpf, first->bpf, first->bpf_len * 8);
    check_default_filter(second);
    rt_seccomp_free(second);

    /* a file that does not hold this filter's key is not used */
    _cleanup_json_ json_t *allow = json_pack("{s:s}", "defaultAction", "SCMP_ACT_ALLOW");
    struct rt_seccomp *other = rt_seccomp_parse(allow, &err);
    assert_non_null(other);
    assert_int_equal(rt_seccomp_prepare(other, &err), 0);
    assert_true(other->bpf_len < first->bpf_len);
    size_t olen = 0;
    _cleanup_free_ char *odata = NULL;
    rewinddir(d);
    while ((de = readdir(d))) {
        if (!bt_str_endswith(de->d_name, ".bpf"))
            continue;
        _cleanup_free_ char *p = bt_path_join(dir, de->d_name);
        if (strcmp(p, cached) != 0) {
            odata = bt_file_read_all(p, &olen, &err);
            break;
        }
    }
    assert_non_null(odata);
    assert_int_equal(bt_file_write_atomic(cached, odata, olen, 0600, &err), 0);
    struct rt_seccomp *third = default_filter();
    assert_int_equal(rt_seccomp_prepare(third, &err), 0);
    assert_int_equal(third->bpf_len, first->bpf_len);
    check_default_filter(third);
    /* and a torn one neither */
    size_t clen = 0;
    _cleanup_free_ char *cdata = bt_file_read_all(cached, &clen, &err);
    assert_non_null(cdata);
    assert_int_equal(bt_file_write_atomic(cached, cdata, clen - 3, 0600, &err), 0);
    struct rt_seccomp *fourth = default_filter();
    assert_int_equal(rt_seccomp_prepare(fourth, &err), 0);
    assert_int_equal(fourth->bpf_len, first->bpf_len);
    check_default_filter(fourth);
    rt_seccomp_free(fourth);
    rt_seccomp_free(third);
    rt_seccomp_free(other);
    rt_seccomp_free(first);
    assert_null(err);
    assert_int_equal(bt_rm_rf(tmpl, NULL), 0);
    if (old_runroot)
        setenv("BERTH_RUNROOT", old_runroot, 1);
    else
        unsetenv("BERTH_RUNROOT");

    /* with CAP_SYS_ADMIN Docker allows mount and friends */
    _cleanup_json_ json_t *caps = json_pack("[s]", "CAP_SYS_ADMIN");
    _cleanup_json_ json_t *admin = engine_seccomp_docker_default(caps);
    _cleanup_free_ char *dump = json_dumps(admin, 0);
    assert_non_null(strstr(dump, "\"mount\""));
    assert_null(strstr(dump, "clone3\"], \"action\": \"SCMP_ACT_ERRNO"));
}

static void
test_seccomp_bad(void **state)
{
    struct bt_err *err = NULL;
    _cleanup_json_ json_t *j = json_pack("{s:s}", "defaultAction", "SCMP_ACT_MAYBE");
    assert_null(rt_seccomp_parse(j, &err));
    assert_non_null(strstr(err->msg, "unsupported seccomp action 'SCMP_ACT_MAYBE'"));
    err = bt_err_free(err);
    _cleanup_json_ json_t *k =
        json_pack("{s:s,s:[{s:[s],s:s,s:[{s:i,s:i,s:s}]}]}", "defaultAction", "SCMP_ACT_ALLOW",
                  "syscalls", "names", "read", "action", "SCMP_ACT_ERRNO", "args", "index", 9,
                  "value", 1, "op", "SCMP_CMP_EQ");
    assert_null(rt_seccomp_parse(k, &err));
    assert_non_null(strstr(err->msg, "index 0..5"));
    bt_err_free(err);
}

static void
write_text(const char *dir, const char *name, const char *text)
{
    _cleanup_free_ char *p = bt_path_join(dir, name);
    assert_int_equal(bt_file_write_atomic(p, text, strlen(text), 0644, NULL), 0);
}

static void
test_user_resolve(void **state)
{
    char tmpl[] = "/tmp/berth-unit-user.XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    _cleanup_free_ char *etc = bt_path_join(tmpl, "etc");
    assert_int_equal(mkdir(etc, 0755), 0);
    write_text(etc, "passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home:/bin/sh\n");
    write_text(etc, "group", "root:x:0:\nusers:x:100:app,other\napp:x:1001:\nwheel:x:10:app\n");
    uid_t uid = 99;
    gid_t gid = 99;
    gid_t *gids = NULL;
    size_t n = 0;
    struct bt_err *err = NULL;
    assert_int_equal(engine_user_resolve(tmpl, "app", &uid, &gid, &gids, &n, &err), 0);
    assert_int_equal(uid, 1000);
    assert_int_equal(gid, 1001);
    assert_int_equal(n, 2);
    assert_int_equal(gids[0], 100);
    assert_int_equal(gids[1], 10);
    free(gids);
    gids = NULL;
    n = 0;
    assert_int_equal(engine_user_resolve(tmpl, "1000:users", &uid, &gid, NULL, NULL, &err), 0);
    assert_int_equal(uid, 1000);
    assert_int_equal(gid, 100);
    assert_int_equal(engine_user_resolve(tmpl, "4242", &uid, &gid, NULL, NULL, &err), 0);
    assert_int_equal(uid, 4242);
    assert_int_equal(gid, 0);
    assert_int_equal(engine_user_resolve(tmpl, "ghost", &uid, &gid, NULL, NULL, &err), -ENOENT);
    assert_non_null(strstr(err->msg, "unable to find user ghost"));
    err = bt_err_free(err);
    assert_int_equal(engine_user_resolve(tmpl, "app:nogroup", &uid, &gid, NULL, NULL, &err),
                     -ENOENT);
    err = bt_err_free(err);
    assert_int_equal(bt_rm_rf(tmpl, NULL), 0);
}

static void
test_memswap(void **state)
{
    int64_t out = 5;
    struct bt_err *err = NULL;
    assert_int_equal(engine_memswap_resolve(100, 0, true, &out, &err), 0);
    assert_int_equal(out, 200);
    assert_int_equal(engine_memswap_resolve(100, 0, false, &out, &err), 0);
    assert_int_equal(out, 0);
    assert_int_equal(engine_memswap_resolve(100, -1, true, &out, &err), 0);
    assert_int_equal(out, -1);
    assert_int_equal(engine_memswap_resolve(100, 100, true, &out, &err), 0);
    assert_int_equal(out, 100);
    assert_int_equal(engine_memswap_resolve(100, 50, true, &out, &err), -EINVAL);
    assert_non_null(strstr(err->msg, "must not be smaller than mem_limit"));
    bt_err_free(err);
}

static bool
caps_have(json_t *caps, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach (caps, i, v)
        if (strcmp(json_string_value(v), name) == 0)
            return true;
    return false;
}

/* Docker's rules: ALL first, then named additions, then named drops;
 * privileged takes every capability and ignores both lists. */
static void
test_caps_resolve(void **state)
{
    struct bt_err *err = NULL;
    char *add[] = {"net_admin", NULL};
    char *drop_all[] = {"ALL", NULL};
    _cleanup_json_ json_t *only = engine_caps_resolve(false, add, drop_all, &err);
    assert_non_null(only);
    assert_int_equal(json_array_size(only), 1);
    assert_true(caps_have(only, "CAP_NET_ADMIN"));

    char *drop[] = {"CAP_CHOWN", NULL};
    _cleanup_json_ json_t *def = engine_caps_resolve(false, NULL, drop, &err);
    _cleanup_json_ json_t *docker = engine_caps_docker_default();
    assert_int_equal(json_array_size(def), json_array_size(docker) - 1);
    assert_false(caps_have(def, "CAP_CHOWN"));
    assert_true(caps_have(def, "CAP_KILL"));

    char *add_all[] = {"ALL", NULL};
    _cleanup_json_ json_t *all_but = engine_caps_resolve(false, add_all, drop, &err);
    assert_true(caps_have(all_but, "CAP_SYS_ADMIN"));
    assert_false(caps_have(all_but, "CAP_CHOWN"));

    _cleanup_json_ json_t *priv = engine_caps_resolve(true, NULL, drop_all, &err);
    assert_true(caps_have(priv, "CAP_SYS_ADMIN"));
    assert_true(caps_have(priv, "CAP_CHOWN"));

    char *bad[] = {"FLY", NULL};
    assert_null(engine_caps_resolve(false, bad, NULL, &err));
    assert_non_null(strstr(err->msg, "cap_add: unknown capability 'FLY'"));
    bt_err_free(err);
}

int
main(void)
{
    bt_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_caps_resolve),    cmocka_unit_test(test_default_spec),
        cmocka_unit_test(test_rootless_spec),   cmocka_unit_test(test_mount_options),
        cmocka_unit_test(test_bad_specs),       cmocka_unit_test(test_sysctls),
        cmocka_unit_test(test_resources),       cmocka_unit_test(test_names),
        cmocka_unit_test(test_seccomp_default), cmocka_unit_test(test_seccomp_bad),
        cmocka_unit_test(test_user_resolve),    cmocka_unit_test(test_memswap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
