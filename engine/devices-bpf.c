/* engine: device access control on cgroup v2.
 *
 * cgroup v2 has no devices.allow/deny files: the kernel asks a
 * BPF_PROG_TYPE_CGROUP_DEVICE program attached to the cgroup instead. The
 * OCI rules are translated into such a program by hand, the last matching
 * rule deciding, as on v1:
 *
 *   r2 = type (ctx->access_type & 0xffff), r3 = access (ctx->access_type >> 16)
 *   r4 = major, r5 = minor
 *   for each rule, last first:
 *       if type differs, access does not match, major or minor differs:
 *           skip to the next rule
 *       return allow ? 1 : 0
 *   return 0
 *
 * An allow rule matches when every access asked for is in the rule's
 * access; a deny rule when any of them is, so that denying "w" also
 * refuses an open for reading and writing. A rule for every device and
 * every access hides the ones before it, so the program stops there. */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "engine/cgroup-internal.h"
#include "engine/runtime-internal.h"

#define INSN(c, d, s, o, i)                                                                        \
    ((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})

static uint8_t
access_mask(const char *access)
{
    uint8_t m = 0;
    for (const char *p = access; *p; p++)
        m |= *p == 'r' ? BPF_DEVCG_ACC_READ : *p == 'w' ? BPF_DEVCG_ACC_WRITE : BPF_DEVCG_ACC_MKNOD;
    return m;
}

#define ACC_ALL (BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD)

struct bpf_insn *
rt_devices_bpf_build(const struct rt_device_rule *rules, size_t n, size_t *n_insns,
                     struct bt_err **err)
{
    /* 6 loads and shifts, at most 8 per rule, 2 for the default. */
    size_t cap = 8 + 8 * n, len = 0;
    _cleanup_free_ struct bpf_insn *p = xcalloc(cap, sizeof(*p));

    p[len++] = INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1,
                    offsetof(struct bpf_cgroup_dev_ctx, access_type), 0);
    p[len++] = INSN(BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff);
    p[len++] = INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_3, BPF_REG_1,
                    offsetof(struct bpf_cgroup_dev_ctx, access_type), 0);
    p[len++] = INSN(BPF_ALU | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16);
    p[len++] = INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_4, BPF_REG_1,
                    offsetof(struct bpf_cgroup_dev_ctx, major), 0);
    p[len++] = INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_5, BPF_REG_1,
                    offsetof(struct bpf_cgroup_dev_ctx, minor), 0);

    bool catch_all = false;
    for (size_t k = n; k-- > 0 && !catch_all;) {
        const struct rt_device_rule *r = &rules[k];
        if (r->type != 'a' && r->type != 'b' && r->type != 'c')
            return bt_err_set(err, EINVAL, "device rule %zu: bad type '%c'", k, r->type), NULL;
        if (r->major < -1 || r->major > UINT32_MAX || r->minor < -1 || r->minor > UINT32_MAX)
            return bt_err_set(err, ERANGE, "device rule %zu: device number out of range", k), NULL;
        if (strspn(r->access, "rwm") != strlen(r->access))
            return bt_err_set(err, EINVAL, "device rule %zu: bad access '%s'", k, r->access), NULL;
        uint8_t acc = r->access[0] ? access_mask(r->access) : ACC_ALL;
        /* The jumps to the next rule are written with off = 0 and patched. */
        size_t jumps[4], n_jumps = 0;
        if (r->type != 'a') {
            jumps[n_jumps++] = len;
            p[len++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, 0,
                            r->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
        }
        if (acc != ACC_ALL) {
            p[len++] = INSN(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0);
            if (r->allow) {
                /* Anything asked for outside the rule's access: no match. */
                p[len++] = INSN(BPF_ALU | BPF_AND | BPF_K, BPF_REG_1, 0, 0, (uint8_t)~acc);
                jumps[n_jumps++] = len;
                p[len++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_1, 0, 0, 0);
            } else {
                /* Nothing asked for inside the rule's access: no match. */
                p[len++] = INSN(BPF_ALU | BPF_AND | BPF_K, BPF_REG_1, 0, 0, acc);
                jumps[n_jumps++] = len;
                p[len++] = INSN(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_1, 0, 0, 0);
            }
        }
        if (r->type != 'a' && r->major >= 0) {
            jumps[n_jumps++] = len;
            p[len++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_4, 0, 0, (int32_t)r->major);
        }
        if (r->type != 'a' && r->minor >= 0) {
            jumps[n_jumps++] = len;
            p[len++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_5, 0, 0, (int32_t)r->minor);
        }
        p[len++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, r->allow ? 1 : 0);
        p[len++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
        for (size_t j = 0; j < n_jumps; j++)
            p[jumps[j]].off = (int16_t)(len - jumps[j] - 1);
        catch_all = n_jumps == 0;
    }
    if (!catch_all) {
        p[len++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);
        p[len++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    }
    *n_insns = len;
    return TAKE_PTR(p);
}

static int
sys_bpf(int cmd, union bpf_attr *attr)
{
    return (int)syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static int
prog_load(const struct bpf_insn *insns, size_t n, struct bt_err **err)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = (uint64_t)(uintptr_t)insns;
    attr.insn_cnt = (uint32_t)n;
    attr.license = (uint64_t)(uintptr_t) "Apache-2.0";
    int fd = sys_bpf(BPF_PROG_LOAD, &attr);
    if (fd >= 0)
        return fd;
    int e = errno;
    if (e != EINVAL && e != EACCES)
        return bt_err_errno(err, e, "load the device access program");
    /* Ask the verifier why, for the message. */
    char log[4096] = "";
    attr.log_buf = (uint64_t)(uintptr_t)log;
    attr.log_size = sizeof(log);
    attr.log_level = 1;
    fd = sys_bpf(BPF_PROG_LOAD, &attr);
    if (fd >= 0)
        return fd;
    size_t l = strlen(log);
    while (l && log[l - 1] == '\n')
        log[--l] = 0;
    return bt_err_set(err, e, "load the device access program: %s%s%s", strerror(e), l ? ": " : "",
                      log);
}

int
rt_devices_bpf_attach(const char *dir, const struct rt_device_rule *rules, size_t n,
                      struct bt_err **err)
{
    size_t n_insns;
    _cleanup_free_ struct bpf_insn *insns = rt_devices_bpf_build(rules, n, &n_insns, err);
    if (!insns)
        return bt_err_ret(err);
    _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return bt_err_errno(err, errno, "open cgroup %s", dir);

    /* Programs attached earlier (the cgroup is being set up again). */
    uint32_t old_ids[64];
    union bpf_attr q;
    memset(&q, 0, sizeof(q));
    q.query.target_fd = (uint32_t)dfd;
    q.query.attach_type = BPF_CGROUP_DEVICE;
    q.query.prog_ids = (uint64_t)(uintptr_t)old_ids;
    q.query.prog_cnt = BT_ARRAY_SIZE(old_ids);
    uint32_t n_old = sys_bpf(BPF_PROG_QUERY, &q) == 0 ? q.query.prog_cnt : 0;

    _cleanup_close_ int pfd = prog_load(insns, n_insns, err);
    if (pfd < 0)
        return bt_err_ret(err);
    union bpf_attr a;
    memset(&a, 0, sizeof(a));
    a.target_fd = (uint32_t)dfd;
    a.attach_bpf_fd = (uint32_t)pfd;
    a.attach_type = BPF_CGROUP_DEVICE;
    a.attach_flags = BPF_F_ALLOW_MULTI;
    if (sys_bpf(BPF_PROG_ATTACH, &a) < 0)
        return bt_err_errno(err, errno, "attach the device access program to %s", dir);

    /* Only the new program decides now: all attached ones must allow. */
    for (uint32_t i = 0; i < n_old && i < BT_ARRAY_SIZE(old_ids); i++) {
        union bpf_attr g;
        memset(&g, 0, sizeof(g));
        g.prog_id = old_ids[i];
        _cleanup_close_ int ofd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &g);
        if (ofd < 0)
            continue; /* gone meanwhile */
        memset(&a, 0, sizeof(a));
        a.target_fd = (uint32_t)dfd;
        a.attach_bpf_fd = (uint32_t)ofd;
        a.attach_type = BPF_CGROUP_DEVICE;
        if (sys_bpf(BPF_PROG_DETACH, &a) < 0 && errno != ENOENT)
            return bt_err_errno(err, errno, "detach an old device access program from %s", dir);
    }
    return 0;
}
