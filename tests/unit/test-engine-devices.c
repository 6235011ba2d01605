/* engine: translation of OCI device rules into the cgroup v2 device
 * program. The exact instructions for a short list, and the decisions of
 * the program for Docker's default list (run by a small interpreter of the
 * instructions the translation uses), last match winning. */
#include <linux/bpf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine/cgroup-internal.h"
#include "engine/runtime-internal.h"

#define R(allow, type, maj, min, acc)                                                              \
    {                                                                                              \
        (allow), (type), (maj), (min), acc                                                         \
    }

static const struct rt_device_rule docker_default[] = {
    R(false, 'a', -1, -1, "rwm"), R(true, 'c', -1, -1, "m"), R(true, 'b', -1, -1, "m"),
    R(true, 'c', 1, 3, "rwm"),    R(true, 'c', 1, 5, "rwm"), R(true, 'c', 1, 7, "rwm"),
    R(true, 'c', 1, 8, "rwm"),    R(true, 'c', 1, 9, "rwm"), R(true, 'c', 5, 0, "rwm"),
    R(true, 'c', 5, 1, "rwm"),    R(true, 'c', 5, 2, "rwm"), R(true, 'c', 136, -1, "rwm"),
    R(true, 'c', 10, 200, "rwm"),
};

/* Runs the program on one access; fails the test on anything unexpected. */
static int
run(const struct bpf_insn *p, size_t n, int type, int access, uint32_t major, uint32_t minor)
{
    struct bpf_cgroup_dev_ctx ctx = {(uint32_t)(access << 16 | type), major, minor};
    uint64_t reg[11] = {0};
    size_t pc = 0;
    for (int steps = 0; steps < 10000; steps++) {
        assert_true(pc < n);
        const struct bpf_insn *i = &p[pc++];
        uint64_t *d = &reg[i->dst_reg];
        uint64_t k = (uint64_t)(int64_t)i->imm;
        switch (i->code) {
        case BPF_LDX | BPF_MEM | BPF_W:
            assert_int_equal(i->src_reg, BPF_REG_1);
            assert_true(i->off >= 0 && (size_t)i->off + 4 <= sizeof(ctx));
            uint32_t v;
            memcpy(&v, (char *)&ctx + i->off, 4);
            *d = v;
            break;
        case BPF_ALU | BPF_AND | BPF_K:
            *d = (uint32_t)(*d & k);
            break;
        case BPF_ALU | BPF_RSH | BPF_K:
            *d = (uint32_t)*d >> k;
            break;
        case BPF_ALU | BPF_MOV | BPF_X:
            *d = (uint32_t)reg[i->src_reg];
            break;
        case BPF_ALU64 | BPF_MOV | BPF_K:
            *d = k;
            break;
        case BPF_JMP | BPF_JNE | BPF_K:
            if (*d != k)
                pc += i->off;
            break;
        case BPF_JMP | BPF_JEQ | BPF_K:
            if (*d == k)
                pc += i->off;
            break;
        case BPF_JMP | BPF_EXIT:
            return (int)reg[0];
        default:
            fail_msg("unexpected instruction 0x%x at %zu", i->code, pc - 1);
        }
    }
    fail_msg("program does not end");
    return -1;
}

#define C  BPF_DEVCG_DEV_CHAR
#define B  BPF_DEVCG_DEV_BLOCK
#define RD BPF_DEVCG_ACC_READ
#define WR BPF_DEVCG_ACC_WRITE
#define MK BPF_DEVCG_ACC_MKNOD

static void
test_instructions(void **state)
{
    (void)state;
    /* deny everything, then allow reading and writing 1:3 */
    const struct rt_device_rule rules[] = {R(false, 'a', -1, -1, "rwm"), R(true, 'c', 1, 3, "rw")};
    size_t n = 0;
    _cleanup_free_ struct bpf_insn *p = rt_devices_bpf_build(rules, 2, &n, NULL);
    assert_non_null(p);
    const struct bpf_insn want[] = {
        {BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, 0, 0},
        {BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff},
        {BPF_LDX | BPF_MEM | BPF_W, BPF_REG_3, BPF_REG_1, 0, 0},
        {BPF_ALU | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16},
        {BPF_LDX | BPF_MEM | BPF_W, BPF_REG_4, BPF_REG_1, 4, 0},
        {BPF_LDX | BPF_MEM | BPF_W, BPF_REG_5, BPF_REG_1, 8, 0},
        /* the last rule first: c 1:3 rw */
        {BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, 7, BPF_DEVCG_DEV_CHAR},
        {BPF_ALU | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0},
        {BPF_ALU | BPF_AND | BPF_K, BPF_REG_1, 0, 0, (uint8_t) ~(RD | WR)},
        {BPF_JMP | BPF_JNE | BPF_K, BPF_REG_1, 0, 4, 0},
        {BPF_JMP | BPF_JNE | BPF_K, BPF_REG_4, 0, 3, 1},
        {BPF_JMP | BPF_JNE | BPF_K, BPF_REG_5, 0, 2, 3},
        {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1},
        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
        /* deny a: matches everything, so nothing follows */
        {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},
        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
    };
    assert_int_equal(n, BT_ARRAY_SIZE(want));
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(p[i].code, want[i].code);
        assert_int_equal(p[i].dst_reg, want[i].dst_reg);
        assert_int_equal(p[i].src_reg, want[i].src_reg);
        assert_int_equal(p[i].off, want[i].off);
        assert_int_equal(p[i].imm, want[i].imm);
    }
}

static void
test_docker_default(void **state)
{
    (void)state;
    size_t n = 0;
    _cleanup_free_ struct bpf_insn *p =
        rt_devices_bpf_build(docker_default, BT_ARRAY_SIZE(docker_default), &n, NULL);
    assert_non_null(p);
    assert_int_equal(run(p, n, C, RD | WR, 1, 3), 1);    /* /dev/null */
    assert_int_equal(run(p, n, C, RD, 1, 9), 1);         /* /dev/urandom */
    assert_int_equal(run(p, n, C, RD | WR, 5, 2), 1);    /* /dev/ptmx */
    assert_int_equal(run(p, n, C, RD | WR, 136, 7), 1);  /* /dev/pts/7 */
    assert_int_equal(run(p, n, C, RD | WR, 10, 200), 1); /* /dev/net/tun */
    assert_int_equal(run(p, n, B, MK, 8, 0), 1);         /* mknod of any node */
    assert_int_equal(run(p, n, C, MK, 1, 1), 1);
    assert_int_equal(run(p, n, B, RD, 8, 0), 0); /* /dev/sda */
    assert_int_equal(run(p, n, B, RD | MK, 8, 0), 0);
    assert_int_equal(run(p, n, C, RD, 1, 1), 0);  /* /dev/mem */
    assert_int_equal(run(p, n, C, RD, 1, 11), 0); /* /dev/kmsg */
    assert_int_equal(run(p, n, C, RD, 3, 3), 0);  /* 1:3's numbers, other order */
    assert_int_equal(run(p, n, B, RD, 1, 3), 0);  /* block with /dev/null's numbers */
}

static void
test_last_match_wins(void **state)
{
    (void)state;
    const struct rt_device_rule rules[] = {R(true, 'a', -1, -1, "rwm"), R(false, 'c', 1, 5, "w"),
                                           R(true, 'c', -1, 5, "w"), R(false, 'b', 7, -1, "")};
    size_t n = 0;
    _cleanup_free_ struct bpf_insn *p = rt_devices_bpf_build(rules, 4, &n, NULL);
    assert_non_null(p);
    assert_int_equal(run(p, n, C, RD, 1, 5), 1);      /* deny w does not cover reading */
    assert_int_equal(run(p, n, C, WR, 1, 5), 1);      /* the later allow w wins */
    assert_int_equal(run(p, n, C, RD | WR, 1, 5), 0); /* rw is more than allow w */
    assert_int_equal(run(p, n, C, RD | WR, 1, 3), 1);
    assert_int_equal(run(p, n, B, RD, 7, 0), 0); /* empty access means all */
    assert_int_equal(run(p, n, B, MK, 7, 4), 0);
    assert_int_equal(run(p, n, B, RD, 8, 0), 1);

    /* no rule matches: denied */
    const struct rt_device_rule one[] = {R(true, 'c', 1, 3, "r")};
    _cleanup_free_ struct bpf_insn *q = rt_devices_bpf_build(one, 1, &n, NULL);
    assert_int_equal(run(q, n, C, RD, 1, 3), 1);
    assert_int_equal(run(q, n, C, WR, 1, 3), 0);
    assert_int_equal(run(q, n, C, RD, 1, 4), 0);
    _cleanup_free_ struct bpf_insn *none = rt_devices_bpf_build(NULL, 0, &n, NULL);
    assert_int_equal(n, 8);
    assert_int_equal(run(none, n, C, RD, 1, 3), 0);
}

static void
test_bad_rules(void **state)
{
    (void)state;
    size_t n = 0;
    const struct rt_device_rule type[] = {R(true, 'x', 1, 3, "r")};
    const struct rt_device_rule num[] = {R(true, 'b', 8, 1LL << 33, "r")};
    const struct rt_device_rule acc[] = {R(true, 'c', 1, 3, "rx")};
    _cleanup_err_ struct bt_err *e1 = NULL, *e2 = NULL, *e3 = NULL;
    assert_null(rt_devices_bpf_build(type, 1, &n, &e1));
    assert_int_equal(e1->code, EINVAL);
    assert_non_null(strstr(e1->msg, "bad type 'x'"));
    assert_null(rt_devices_bpf_build(num, 1, &n, &e2));
    assert_int_equal(e2->code, ERANGE);
    assert_null(rt_devices_bpf_build(acc, 1, &n, &e3));
    assert_non_null(strstr(e3->msg, "bad access 'rx'"));
}

static void
test_attach_errors(void **state)
{
    (void)state;
    _cleanup_err_ struct bt_err *err = NULL;
    const struct rt_device_rule bad[] = {R(true, 'q', 1, 3, "r")};
    assert_true(rt_devices_bpf_attach("/nonexistent-cgroup", docker_default, 1, &err) < 0);
    assert_non_null(strstr(err->msg, "/nonexistent-cgroup"));
    _cleanup_err_ struct bt_err *err2 = NULL;
    assert_int_equal(rt_devices_bpf_attach("/nonexistent-cgroup", bad, 1, &err2), -EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_instructions),    cmocka_unit_test(test_docker_default),
        cmocka_unit_test(test_last_match_wins), cmocka_unit_test(test_bad_rules),
        cmocka_unit_test(test_attach_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
