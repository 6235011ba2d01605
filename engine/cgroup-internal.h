/* engine: cgroups behind one ops struct, with v1 and v2 backends.
 *
 * A struct rt_cgroup names one container's cgroup: on v2 one directory, on
 * v1 one directory per controller hierarchy. Where it goes is resolved from
 * the spec's cgroupsPath, BERTH_CGROUP_PARENT or the default "berth" parent:
 * a relative path nests under the caller's own cgroup (per hierarchy on v1,
 * from /proc/self/cgroup), an absolute one starts at the hierarchy's root. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/common.h"
#include "engine/engine.h"

struct rt_resources;
struct rt_cgroup;

struct rt_cgroup_ops {
    const char *name;
    /* Creates the directories and applies the limits. */
    int (*create)(struct rt_cgroup *cg, const struct rt_resources *res, struct bt_err **err);
    int (*attach)(struct rt_cgroup *cg, pid_t pid, struct bt_err **err);
    int (*stats)(struct rt_cgroup *cg, struct engine_cgroup_stats *st, struct bt_err **err);
    int (*freeze)(struct rt_cgroup *cg, bool frozen, struct bt_err **err);
    /* Returns the pids in the cgroup (owned, 0-terminated); NULL on error. */
    pid_t *(*pids)(struct rt_cgroup *cg, struct bt_err **err);
    int (*destroy)(struct rt_cgroup *cg, struct bt_err **err);
};

struct rt_cgroup_dir {
    char *controllers; /* "memory", "cpu,cpuacct" (v1); "" (v2) */
    char *dir;         /* absolute directory of the container's cgroup */
};

struct rt_cgroup {
    const struct rt_cgroup_ops *ops;
    struct rt_cgroup_dir *dirs;
    size_t n_dirs;
};

/* Where the cgroup filesystems are and where the caller sits; the real
 * values come from /proc/self, tests pass fake files. */
struct rt_cgroup_env {
    const char *mountinfo;   /* /proc/self/mountinfo */
    const char *self_cgroup; /* /proc/self/cgroup */
};

/* Resolves (does not create) the container's cgroup. path is the spec's
 * cgroupsPath (the container's own group) or NULL; then the container goes
 * to PARENT/id with PARENT from BERTH_CGROUP_PARENT or "berth". */
struct rt_cgroup *rt_cgroup_resolve(const struct rt_cgroup_env *env, const char *path,
                                    const char *id, struct bt_err **err);
struct rt_cgroup *rt_cgroup_free(struct rt_cgroup *cg);
DEFINE_CLEANUP(struct rt_cgroup *, rt_cgroup_free)

/* Round trip through state files: {"version":1|2,"dirs":{controllers:dir}}. */
json_t *rt_cgroup_to_json(const struct rt_cgroup *cg);
struct rt_cgroup *rt_cgroup_from_json(json_t *j, struct bt_err **err);

int rt_cgroup_create(struct rt_cgroup *cg, const struct rt_resources *res, struct bt_err **err);
int rt_cgroup_attach(struct rt_cgroup *cg, pid_t pid, struct bt_err **err);
int rt_cgroup_stats(struct rt_cgroup *cg, struct engine_cgroup_stats *st, struct bt_err **err);
int rt_cgroup_freeze(struct rt_cgroup *cg, bool frozen, struct bt_err **err);
/* Sends sig to every process in the cgroup; returns how many were signalled. */
int rt_cgroup_kill(struct rt_cgroup *cg, int sig, struct bt_err **err);
pid_t *rt_cgroup_pids(struct rt_cgroup *cg, struct bt_err **err);
/* Kills what is left and removes the directories; a missing one is fine. */
int rt_cgroup_destroy(struct rt_cgroup *cg, struct bt_err **err);
/* The directory of one v1 controller ("memory"), or the v2 directory. */
const char *rt_cgroup_dir(const struct rt_cgroup *cg, const char *controller);
bool rt_cgroup_is_v2(const struct rt_cgroup *cg);

/* Device access control on v2 (engine/devices-bpf.c). build translates
 * the rules (last match wins, nothing matched is denied) into a
 * BPF_PROG_TYPE_CGROUP_DEVICE program (owned, *n_insns instructions);
 * attach loads it and attaches it to the cgroup directory, replacing the
 * device programs attached there before. */
struct rt_device_rule;
struct bpf_insn;
struct bpf_insn *rt_devices_bpf_build(const struct rt_device_rule *rules, size_t n, size_t *n_insns,
                                      struct bt_err **err);
int rt_devices_bpf_attach(const char *dir, const struct rt_device_rule *rules, size_t n,
                          struct bt_err **err);

/* v2 conversions (pure). */
uint64_t rt_cgroup_shares_to_weight(uint64_t shares);
uint64_t rt_cgroup_blkio_to_io_weight(uint64_t weight);
