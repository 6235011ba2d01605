/* engine: the runtime core's plan of a container.
 *
 * An OCI runtime-spec config.json is parsed once into a struct rt_spec (pure,
 * unit-tested): flags are resolved, names mapped to numbers, values checked.
 * linux-init.c applies that plan in the cloned child with straight-line code.
 *
 * Ownership: every pointer in these structs is owned by the struct; the free
 * functions accept NULL. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/common.h"

struct rt_mount {
    char *destination;         /* absolute, cleaned */
    char *type;                /* NULL or "" for bind mounts */
    char *source;              /* absolute for binds (relative ones taken against the bundle) */
    unsigned long flags;       /* MS_* set by the options */
    unsigned long propagation; /* MS_SHARED|MS_SLAVE|MS_PRIVATE|MS_UNBINDABLE (+MS_REC) */
    bool bind;                 /* bind or rbind */
    bool recursive;            /* rbind */
    char *data;                /* filesystem options passed to mount(2) */
    char *source_root;         /* bind: source is resolved again below this
                                * directory at mount time (berth's
                                * "x-berth-source-root"), or NULL */
};

struct rt_namespace {
    int type;   /* CLONE_NEW* */
    char *path; /* NULL: create a new one; otherwise join it */
};

struct rt_idmap {
    uint32_t container_id;
    uint32_t host_id;
    uint32_t size;
};

struct rt_rlimit {
    int resource;
    uint64_t soft;
    uint64_t hard;
};

struct rt_device {
    char *path;
    char type; /* 'c', 'b', 'u' or 'p' */
    int64_t major;
    int64_t minor;
    mode_t mode;
    uid_t uid;
    gid_t gid;
};

struct rt_sysctl {
    char *key;
    char *value;
};

struct rt_device_rule {
    bool allow;
    char type;     /* 'a', 'c' or 'b' */
    int64_t major; /* -1: any */
    int64_t minor; /* -1: any */
    char access[4];
};

/* Capability sets as bit masks (bit n = capability n). */
struct rt_caps {
    uint64_t bounding;
    uint64_t effective;
    uint64_t permitted;
    uint64_t inheritable;
    uint64_t ambient;
};

enum rt_seccomp_op {
    RT_OP_NE = 1,
    RT_OP_LT,
    RT_OP_LE,
    RT_OP_EQ,
    RT_OP_GE,
    RT_OP_GT,
    RT_OP_MASKED_EQ
};

struct rt_seccomp_arg {
    unsigned index;
    uint64_t value;
    uint64_t value_two;
    enum rt_seccomp_op op;
};

struct rt_seccomp_rule {
    char **names;
    uint32_t action; /* SCMP_ACT_* with the errno folded in */
    struct rt_seccomp_arg *args;
    size_t n_args;
};

struct sock_filter;

struct rt_seccomp {
    uint32_t default_action;
    char **architectures; /* SCMP_ARCH_* names */
    struct rt_seccomp_rule *rules;
    size_t n_rules;
    /* the compiled filter, once rt_seccomp_prepare ran (owned) */
    struct sock_filter *bpf;
    size_t bpf_len; /* instructions */
};

/* Resources a container's cgroup is given; -1 / 0 / NULL mean "not set". */
struct rt_resources {
    int64_t memory_limit; /* bytes, -1 unset */
    int64_t memory_swap;  /* memory+swap bytes, -1 unlimited, 0 unset */
    bool memory_swap_set;
    int64_t memory_reservation; /* bytes, -1 unset */
    int64_t memory_swappiness;  /* 0..100, -1 unset */
    bool oom_kill_disable;
    uint64_t cpu_shares; /* 0 unset */
    int64_t cpu_quota;   /* us, 0 unset, -1 unlimited */
    uint64_t cpu_period; /* us, 0 unset */
    char *cpuset_cpus;
    char *cpuset_mems;
    int64_t pids_limit;    /* 0 unset, -1 unlimited */
    uint16_t blkio_weight; /* 0 unset */
    struct rt_device_rule *device_rules;
    size_t n_device_rules;
};

struct rt_process {
    bool terminal;
    unsigned console_width;
    unsigned console_height;
    char **args;
    char **env;
    char *cwd;
    uid_t uid;
    gid_t gid;
    gid_t *additional_gids;
    size_t n_additional_gids;
    int umask; /* -1: leave */
    struct rt_caps caps;
    bool no_new_privs;
    bool oom_score_adj_set;
    int oom_score_adj;
    struct rt_rlimit *rlimits;
    size_t n_rlimits;
};

struct rt_spec {
    char *bundle;    /* absolute */
    char *root_path; /* absolute */
    bool root_readonly;
    char *hostname;
    char *domainname;
    struct rt_process process;
    struct rt_mount *mounts;
    size_t n_mounts;
    struct rt_namespace *namespaces;
    size_t n_namespaces;
    struct rt_idmap *uid_mappings;
    size_t n_uid_mappings;
    struct rt_idmap *gid_mappings;
    size_t n_gid_mappings;
    char **masked_paths;
    char **readonly_paths;
    struct rt_sysctl *sysctls;
    size_t n_sysctls;
    struct rt_device *devices;
    size_t n_devices;
    char *cgroups_path;
    unsigned long rootfs_propagation; /* MS_* for "/" in the new mount namespace */
    struct rt_resources resources;
    struct rt_seccomp *seccomp; /* NULL: unconfined */
    json_t *annotations;        /* a reference the spec holds (may be NULL) */
};

/* Parses a config.json document. bundle is the absolute bundle directory:
 * relative root.path and bind sources are taken against it. */
struct rt_spec *rt_spec_parse(json_t *config, const char *bundle, struct bt_err **err);
struct rt_spec *rt_spec_free(struct rt_spec *s);
DEFINE_CLEANUP(struct rt_spec *, rt_spec_free)

/* Namespace lookup helpers over spec->namespaces. */
const struct rt_namespace *rt_spec_namespace(const struct rt_spec *s, int type);

/* Parses one mount option list into flags/propagation/data. */
int rt_mount_options_parse(json_t *options, struct rt_mount *m, struct bt_err **err);

/* Capability names (CAP_CHOWN ...) <-> numbers; -1 when unknown. */
int rt_cap_from_name(const char *name);
const char *rt_cap_name(int cap);
int rt_cap_last(void);
/* Parses a JSON array of capability names into a mask. */
int rt_caps_parse(json_t *arr, uint64_t *mask, struct bt_err **err);

/* rlimit names (RLIMIT_NOFILE ...) -> numbers; -1 when unknown. */
int rt_rlimit_from_name(const char *name);
const char *rt_rlimit_name(int resource);

/* Namespaced sysctls are accepted (those of a namespace the container
 * creates or joins); any other is an error that says why. */
int rt_sysctl_check(const struct rt_spec *s, const char *key, struct bt_err **err);

/* Seccomp: parse linux.seccomp into a plan; build and load the filter. */
struct rt_seccomp *rt_seccomp_parse(json_t *j, struct bt_err **err);
struct rt_seccomp *rt_seccomp_free(struct rt_seccomp *s);
/* Compiles the filter to BPF once, before the container's process is
 * cloned, so that each start does not run libseccomp's compiler again:
 * programs are kept in RUNROOT/seccomp, keyed by the whole plan together
 * with the libseccomp version, its API level, the kernel release and the
 * native architecture. A cache that cannot be read or written only costs
 * the compilation. */
int rt_seccomp_prepare(struct rt_seccomp *s, struct bt_err **err);
/* Loads the filter into the calling process: the prepared program when
 * there is one, else compiled here by libseccomp. */
int rt_seccomp_load(const struct rt_seccomp *s, struct bt_err **err);
/* Exports the filter as BPF into fd (for tests and debugging). */
int rt_seccomp_export_bpf(const struct rt_seccomp *s, int fd, struct bt_err **err);

/* Default spec pieces, Docker's defaults. */
uint64_t rt_caps_docker_default(void);
/* Docker's default seccomp profile (OCI linux.seccomp JSON) for a container
 * holding the capabilities in caps. Caller owns the result. */
json_t *rt_seccomp_docker_default(uint64_t caps);
