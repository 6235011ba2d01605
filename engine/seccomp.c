/* engine: seccomp filters with libseccomp, and Docker's default profile. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "engine/oci-runtime.h"
#include "engine/runtime-internal.h"

struct rt_seccomp *
rt_seccomp_free(struct rt_seccomp *s)
{
    if (!s)
        return NULL;
    bt_strv_free(s->architectures);
    for (size_t i = 0; i < s->n_rules; i++) {
        bt_strv_free(s->rules[i].names);
        free(s->rules[i].args);
    }
    free(s->rules);
    free(s->bpf);
    free(s);
    return NULL;
}
DEFINE_CLEANUP(struct rt_seccomp *, rt_seccomp_free)

static int
parse_action(const char *name, json_t *errno_ret, uint32_t *out, struct bt_err **err)
{
    uint32_t e = EPERM;
    if (errno_ret) {
        if (!json_is_integer(errno_ret) || json_integer_value(errno_ret) < 0 ||
            json_integer_value(errno_ret) > 4095)
            return bt_err_set(err, EINVAL, "errnoRet must be an errno number");
        e = (uint32_t)json_integer_value(errno_ret);
    }
    if (!name)
        return bt_err_set(err, EINVAL, "action is required");
    if (strcmp(name, "SCMP_ACT_ALLOW") == 0)
        *out = SCMP_ACT_ALLOW;
    else if (strcmp(name, "SCMP_ACT_ERRNO") == 0)
        *out = SCMP_ACT_ERRNO(e);
    else if (strcmp(name, "SCMP_ACT_KILL") == 0 || strcmp(name, "SCMP_ACT_KILL_THREAD") == 0)
        *out = SCMP_ACT_KILL_THREAD;
    else if (strcmp(name, "SCMP_ACT_KILL_PROCESS") == 0)
        *out = SCMP_ACT_KILL_PROCESS;
    else if (strcmp(name, "SCMP_ACT_TRAP") == 0)
        *out = SCMP_ACT_TRAP;
    else if (strcmp(name, "SCMP_ACT_TRACE") == 0)
        *out = SCMP_ACT_TRACE(e);
    else if (strcmp(name, "SCMP_ACT_LOG") == 0)
        *out = SCMP_ACT_LOG;
    else
        return bt_err_set(err, ENOTSUP, "unsupported seccomp action '%s'", name);
    return 0;
}

static const struct {
    const char *name;
    enum rt_seccomp_op op;
    enum scmp_compare scmp;
} ops[] = {
    {"SCMP_CMP_NE", RT_OP_NE, SCMP_CMP_NE},
    {"SCMP_CMP_LT", RT_OP_LT, SCMP_CMP_LT},
    {"SCMP_CMP_LE", RT_OP_LE, SCMP_CMP_LE},
    {"SCMP_CMP_EQ", RT_OP_EQ, SCMP_CMP_EQ},
    {"SCMP_CMP_GE", RT_OP_GE, SCMP_CMP_GE},
    {"SCMP_CMP_GT", RT_OP_GT, SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", RT_OP_MASKED_EQ, SCMP_CMP_MASKED_EQ},
};

static int
json_u64(json_t *v, uint64_t *out)
{
    if (json_is_integer(v)) {
        *out = (uint64_t)json_integer_value(v);
        return 0;
    }
    if (json_is_real(v) && json_real_value(v) >= 0) {
        *out = (uint64_t)json_real_value(v);
        return 0;
    }
    return -EINVAL;
}

struct rt_seccomp *
rt_seccomp_parse(json_t *j, struct bt_err **err)
{
    if (!json_is_object(j)) {
        bt_err_set(err, EINVAL, "must be an object");
        return NULL;
    }
    _cleanup_(rt_seccomp_freep) struct rt_seccomp *s = xcalloc(1, sizeof(*s));
    if (parse_action(bt_json_str(j, "defaultAction"), json_object_get(j, "defaultErrnoRet"),
                     &s->default_action, err) < 0) {
        bt_err_prefix(err, "defaultAction");
        return NULL;
    }
    json_t *arches = json_object_get(j, "architectures");
    size_t i;
    json_t *e;
    json_array_foreach (arches, i, e) {
        const char *a = json_string_value(e);
        if (!a || !bt_str_startswith(a, "SCMP_ARCH_")) {
            bt_err_set(err, EINVAL, "architectures[%zu] is not an SCMP_ARCH_ name", i);
            return NULL;
        }
        s->architectures = bt_strv_push(s->architectures, a);
    }
    json_t *calls = json_object_get(j, "syscalls");
    if (calls && !json_is_array(calls)) {
        bt_err_set(err, EINVAL, "'syscalls' must be an array");
        return NULL;
    }
    s->rules = xcalloc(json_array_size(calls) + 1, sizeof(*s->rules));
    json_array_foreach (calls, i, e) {
        struct rt_seccomp_rule *r = &s->rules[s->n_rules++];
        if (parse_action(bt_json_str(e, "action"), json_object_get(e, "errnoRet"), &r->action,
                         err) < 0) {
            bt_err_prefix(err, "syscalls[%zu]", i);
            return NULL;
        }
        json_t *names = json_object_get(e, "names");
        size_t k;
        json_t *n;
        json_array_foreach (names, k, n) {
            if (!json_is_string(n)) {
                bt_err_set(err, EINVAL, "syscalls[%zu].names[%zu] must be a string", i, k);
                return NULL;
            }
            r->names = bt_strv_push(r->names, json_string_value(n));
        }
        if (!r->names) {
            bt_err_set(err, EINVAL, "syscalls[%zu] names no syscall", i);
            return NULL;
        }
        json_t *args = json_object_get(e, "args");
        if (json_array_size(args) > 6) {
            bt_err_set(err, EINVAL, "syscalls[%zu] has more than 6 argument conditions", i);
            return NULL;
        }
        r->args = xcalloc(json_array_size(args) + 1, sizeof(*r->args));
        json_array_foreach (args, k, n) {
            struct rt_seccomp_arg *a = &r->args[r->n_args++];
            json_t *idx = json_object_get(n, "index");
            const char *op = bt_json_str(n, "op");
            if (!json_is_integer(idx) || json_integer_value(idx) < 0 ||
                json_integer_value(idx) > 5 || json_u64(json_object_get(n, "value"), &a->value)) {
                bt_err_set(err, EINVAL, "syscalls[%zu].args[%zu]: index 0..5 and value needed", i,
                           k);
                return NULL;
            }
            a->index = (unsigned)json_integer_value(idx);
            json_t *v2 = json_object_get(n, "valueTwo");
            if (v2 && json_u64(v2, &a->value_two)) {
                bt_err_set(err, EINVAL, "syscalls[%zu].args[%zu]: bad valueTwo", i, k);
                return NULL;
            }
            for (size_t o = 0; op && o < BT_ARRAY_SIZE(ops); o++)
                if (strcmp(ops[o].name, op) == 0)
                    a->op = ops[o].op;
            if (!a->op) {
                bt_err_set(err, EINVAL, "syscalls[%zu].args[%zu]: unknown op '%s'", i, k,
                           op ? op : "");
                return NULL;
            }
        }
    }
    return TAKE_PTR(s);
}

static void
ctx_releasep(scmp_filter_ctx *c)
{
    if (*c)
        seccomp_release(*c);
}

static scmp_filter_ctx
build(const struct rt_seccomp *s, struct bt_err **err)
{
    _cleanup_(ctx_releasep) scmp_filter_ctx ctx = seccomp_init(s->default_action);
    if (!ctx) {
        bt_err_set(err, EINVAL, "cannot initialise the seccomp filter");
        return NULL;
    }
    /* no_new_privs is the runtime's decision (process.noNewPrivileges). */
    int r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
    if (r < 0) {
        bt_err_errno(err, -r, "seccomp attribute");
        return NULL;
    }
    bt_strv_foreach (a, s->architectures) {
        _cleanup_free_ char *lower = xstrdup(a + strlen("SCMP_ARCH_"));
        for (char *p = lower; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        uint32_t arch = seccomp_arch_resolve_name(lower);
        if (!arch) /* an architecture libseccomp does not know cannot run here either */
            continue;
        r = seccomp_arch_add(ctx, arch);
        if (r < 0 && r != -EEXIST) {
            bt_err_errno(err, -r, "add architecture %s", a);
            return NULL;
        }
    }
    for (size_t i = 0; i < s->n_rules; i++) {
        const struct rt_seccomp_rule *rule = &s->rules[i];
        if (rule->action == s->default_action)
            continue;
        struct scmp_arg_cmp cmps[6];
        for (size_t k = 0; k < rule->n_args; k++) {
            enum scmp_compare op = SCMP_CMP_EQ;
            for (size_t o = 0; o < BT_ARRAY_SIZE(ops); o++)
                if (ops[o].op == rule->args[k].op)
                    op = ops[o].scmp;
            cmps[k] = (struct scmp_arg_cmp){rule->args[k].index, op, rule->args[k].value,
                                            rule->args[k].value_two};
        }
        bt_strv_foreach (name, rule->names) {
            int nr = seccomp_syscall_resolve_name(name);
            if (nr == __NR_SCMP_ERROR)
                continue; /* not a syscall of this architecture: nothing to filter */
            r = seccomp_rule_add_array(ctx, rule->action, nr, (unsigned)rule->n_args, cmps);
            if (r < 0) {
                bt_err_errno(err, -r, "rule for syscall '%s'", name);
                return NULL;
            }
        }
    }
    return TAKE_PTR(ctx);
}

int
rt_seccomp_load(const struct rt_seccomp *s, struct bt_err **err)
{
    if (s->bpf) {
        /* what libseccomp's seccomp_load does with the attributes build()
         * sets: no flags, no_new_privs left to the caller */
        struct sock_fprog prog = {.len = (unsigned short)s->bpf_len, .filter = s->bpf};
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
            return bt_err_errno(err, errno, "load the seccomp filter");
        return 0;
    }
    _cleanup_(ctx_releasep) scmp_filter_ctx ctx = build(s, err);
    if (!ctx)
        return bt_err_ret(err);
    int r = seccomp_load(ctx);
    if (r < 0)
        return bt_err_errno(err, -r, "load the seccomp filter");
    return 0;
}

/* Everything the compiled program depends on, in one string: the plan in
 * order (libseccomp's output follows the order of the rules), and what of
 * the machine and library libseccomp's code generation looks at. */
static char *
cache_key(const struct rt_seccomp *s)
{
    struct bt_buf b = {0};
    const struct scmp_version *v = seccomp_version();
    struct utsname u;
    if (uname(&u) < 0)
        snprintf(u.release, sizeof(u.release), "?");
    bt_buf_printf(&b, "berth-seccomp 1\nlibseccomp %u.%u.%u api %u arch %u kernel %s\n",
                  v ? v->major : 0, v ? v->minor : 0, v ? v->micro : 0, seccomp_api_get(),
                  seccomp_arch_native(), u.release);
    bt_buf_printf(&b, "default %u\n", s->default_action);
    bt_strv_foreach (a, s->architectures)
        bt_buf_printf(&b, "arch %s\n", a);
    for (size_t i = 0; i < s->n_rules; i++) {
        const struct rt_seccomp_rule *r = &s->rules[i];
        bt_buf_printf(&b, "rule %u", r->action);
        for (size_t k = 0; k < r->n_args; k++)
            bt_buf_printf(&b, " %u:%d:%llu:%llu", r->args[k].index, (int)r->args[k].op,
                          (unsigned long long)r->args[k].value,
                          (unsigned long long)r->args[k].value_two);
        bt_strv_foreach (n, r->names)
            bt_buf_printf(&b, " %s", n);
        bt_buf_putc(&b, '\n');
    }
    return bt_buf_steal(&b);
}

static uint64_t
fnv1a(const char *p, size_t n)
{
    uint64_t h = UINT64_C(14695981039346656037);
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= UINT64_C(1099511628211);
    }
    return h;
}

/* A cache file is the key, a NUL, then the program. A file for another key
 * (a hash collision) or a torn one is not used. */
static bool
cache_read(const char *path, const char *key, size_t key_len, struct rt_seccomp *s)
{
    size_t len = 0;
    _cleanup_free_ char *data = bt_file_read_all(path, &len, NULL);
    if (!data || len <= key_len + 1 || memcmp(data, key, key_len + 1) != 0)
        return false;
    size_t n = len - key_len - 1;
    if (n % sizeof(struct sock_filter) != 0 || n / sizeof(struct sock_filter) > BPF_MAXINSNS)
        return false;
    s->bpf = xmemdup(data + key_len + 1, n);
    s->bpf_len = n / sizeof(struct sock_filter);
    return true;
}

static int
compile(struct rt_seccomp *s, struct bt_err **err)
{
    _cleanup_close_ int fd = memfd_create("seccomp", MFD_CLOEXEC);
    if (fd < 0)
        return bt_err_errno(err, errno, "memfd_create");
    if (rt_seccomp_export_bpf(s, fd, err) < 0)
        return bt_err_ret(err);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return bt_err_errno(err, errno, "stat the seccomp filter");
    size_t n = (size_t)st.st_size;
    if (n == 0 || n % sizeof(struct sock_filter) != 0 ||
        n / sizeof(struct sock_filter) > BPF_MAXINSNS)
        return bt_err_set(err, EINVAL, "the seccomp filter has %zu bytes", n);
    _cleanup_free_ struct sock_filter *bpf = xmalloc(n);
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)bpf + got, n - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return bt_err_errno(err, r < 0 ? errno : EIO, "read the seccomp filter");
        got += (size_t)r;
    }
    s->bpf = TAKE_PTR(bpf);
    s->bpf_len = n / sizeof(struct sock_filter);
    return 0;
}

int
rt_seccomp_prepare(struct rt_seccomp *s, struct bt_err **err)
{
    if (s->bpf)
        return 0;
    _cleanup_free_ char *key = cache_key(s);
    size_t key_len = strlen(key);
    _cleanup_free_ char *dir = bt_path_join(engine_runroot(), "seccomp");
    _cleanup_free_ char *path =
        xasprintf("%s/%016llx.bpf", dir, (unsigned long long)fnv1a(key, key_len));
    if (cache_read(path, key, key_len, s))
        return 0;
    /* Containers started together want the same program: one compiles it
     * while the others wait on the directory's lock, then read it. */
    _cleanup_close_ int dfd = -1;
    if (bt_mkdir_p(dir, 0700, NULL) == 0)
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        while (flock(dfd, LOCK_EX) < 0 && errno == EINTR)
            ;
        if (cache_read(path, key, key_len, s))
            return 0;
    }
    if (compile(s, err) < 0)
        return bt_err_ret(err);
    if (dfd < 0)
        return 0;
    size_t n = s->bpf_len * sizeof(struct sock_filter);
    _cleanup_free_ char *data = xmalloc(key_len + 1 + n);
    memcpy(data, key, key_len + 1);
    memcpy(data + key_len + 1, s->bpf, n);
    struct bt_err *e = NULL;
    if (bt_file_write_atomic(path, data, key_len + 1 + n, 0600, &e) < 0) {
        /* not fatal: the next start compiles the filter again */
        bt_debug("seccomp cache: %s", e->msg);
        bt_err_free(e);
    }
    return 0;
}

int
rt_seccomp_export_bpf(const struct rt_seccomp *s, int fd, struct bt_err **err)
{
    _cleanup_(ctx_releasep) scmp_filter_ctx ctx = build(s, err);
    if (!ctx)
        return bt_err_ret(err);
    int r = seccomp_export_bpf(ctx, fd);
    if (r < 0)
        return bt_err_errno(err, -r, "export the seccomp filter");
    return 0;
}

/* ---- Docker's default profile ----
 * An allow list with EPERM for everything else; a few calls are allowed only
 * with safe arguments, and the privileged ones only when the container holds
 * the capability that makes them meaningful, exactly as Docker decides. */

static const char *const allowed[] = {
    "accept",
    "accept4",
    "access",
    "adjtimex",
    "alarm",
    "bind",
    "brk",
    "cachestat",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futex",
    "futex_requeue",
    "futex_time64",
    "futex_wait",
    "futex_waitv",
    "futex_wake",
    "futimesat",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getrlimit",
    "get_robust_list",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "get_thread_area",
    "gettid",
    "gettimeofday",
    "getuid",
    "getuid32",
    "getxattr",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "ioctl",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "ioprio_get",
    "ioprio_set",
    "io_setup",
    "io_submit",
    "ipc",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listxattr",
    "llistxattr",
    "_llseek",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "lstat64",
    "madvise",
    "map_shadow_stack",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "mremap",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "name_to_handle_at",
    "nanosleep",
    "newfstatat",
    "_newselect",
    "open",
    "openat",
    "openat2",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "ppoll_time64",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "pselect6",
    "pselect6_time64",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "send",
    "sendfile",
    "sendfile64",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setrlimit",
    "set_robust_list",
    "setsid",
    "setsockopt",
    "set_thread_area",
    "set_tid_address",
    "setuid",
    "setuid32",
    "setxattr",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "sigprocmask",
    "sigreturn",
    "socketcall",
    "socketpair",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "times",
    "tkill",
    "truncate",
    "truncate64",
    "ugetrlimit",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "waitpid",
    "write",
    "writev",
    "arch_prctl",
    "modify_ldt",
    "ptrace",
};

static const struct {
    int cap;
    const char *names[24];
} cap_allowed[] = {
    {CAP_SYS_ADMIN, {"bpf",           "clone",           "clone3",
                     "fanotify_init", "fsconfig",        "fsmount",
                     "fsopen",        "fspick",          "lookup_dcookie",
                     "mount",         "mount_setattr",   "move_mount",
                     "open_tree",     "perf_event_open", "quotactl",
                     "quotactl_fd",   "setdomainname",   "sethostname",
                     "setns",         "syslog",          "umount",
                     "umount2",       "unshare",         NULL}},
    {CAP_SYS_BOOT, {"reboot", NULL}},
    {CAP_SYS_CHROOT, {"chroot", NULL}},
    {CAP_SYS_MODULE, {"delete_module", "init_module", "finit_module", NULL}},
    {CAP_SYS_PACCT, {"acct", NULL}},
    {CAP_SYS_PTRACE,
     {"kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace",
      NULL}},
    {CAP_SYS_RAWIO, {"iopl", "ioperm", NULL}},
    {CAP_SYS_TIME, {"settimeofday", "stime", "clock_settime", "clock_settime64", NULL}},
    {CAP_SYS_TTY_CONFIG, {"vhangup", NULL}},
    {CAP_SYS_NICE, {"get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node", NULL}},
    {CAP_SYSLOG, {"syslog", NULL}},
    {CAP_BPF, {"bpf", NULL}},
    {CAP_PERFMON, {"perf_event_open", NULL}},
    {CAP_DAC_READ_SEARCH, {"open_by_handle_at", NULL}},
};

static json_t *
names_array(const char *const *names, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n && names[i]; i++)
        json_array_append_new(a, json_string(names[i]));
    return a;
}

static json_t *
arg_rule(const char *name, unsigned index, uint64_t value, uint64_t value_two, const char *op)
{
    return json_pack("{s:[s],s:s,s:[{s:i,s:I,s:I,s:s}]}", "names", name, "action", "SCMP_ACT_ALLOW",
                     "args", "index", (int)index, "value", (json_int_t)value, "valueTwo",
                     (json_int_t)value_two, "op", op);
}

json_t *
rt_seccomp_docker_default(uint64_t caps)
{
    json_t *calls = json_array();
    json_array_append_new(calls, json_pack("{s:o,s:s}", "names",
                                           names_array(allowed, BT_ARRAY_SIZE(allowed)), "action",
                                           "SCMP_ACT_ALLOW"));
    /* personality: only the safe personas */
    static const uint64_t personas[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};
    for (size_t i = 0; i < BT_ARRAY_SIZE(personas); i++)
        json_array_append_new(calls, arg_rule("personality", 0, personas[i], 0, "SCMP_CMP_EQ"));
    /* socket: anything but AF_VSOCK */
    json_array_append_new(calls, arg_rule("socket", 0, 40, 0, "SCMP_CMP_NE"));
    bool sys_admin = caps & (UINT64_C(1) << CAP_SYS_ADMIN);
    if (!sys_admin) {
        /* clone without namespace flags; clone3 cannot be inspected, so it
         * reports ENOSYS and libc falls back to clone. */
        json_array_append_new(calls, arg_rule("clone", 0, 0x7E020000, 0, "SCMP_CMP_MASKED_EQ"));
        json_array_append_new(calls, json_pack("{s:[s],s:s,s:i}", "names", "clone3", "action",
                                               "SCMP_ACT_ERRNO", "errnoRet", ENOSYS));
    }
    for (size_t i = 0; i < BT_ARRAY_SIZE(cap_allowed); i++) {
        if (!(caps & (UINT64_C(1) << cap_allowed[i].cap)))
            continue;
        json_array_append_new(calls,
                              json_pack("{s:o,s:s}", "names", names_array(cap_allowed[i].names, 24),
                                        "action", "SCMP_ACT_ALLOW"));
    }
    return json_pack("{s:s,s:i,s:[s,s,s],s:o}", "defaultAction", "SCMP_ACT_ERRNO",
                     "defaultErrnoRet", EPERM, "architectures", "SCMP_ARCH_X86_64", "SCMP_ARCH_X86",
                     "SCMP_ARCH_X32", "syscalls", calls);
}
