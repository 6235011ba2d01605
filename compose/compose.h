/* compose: compose files to a typed, normalised project.
 *
 * compose_project_load() runs the whole pipeline: discover the files and the
 * environment, load and interpolate each file, resolve include and extends,
 * merge, validate against the Compose Specification, apply profiles,
 * normalise into the structs below, and build the dependency graph.
 *
 * Ownership: a struct compose_project owns everything it points to;
 * compose_project_free() releases it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/common.h"

/* What the user asked for: global CLI options plus the environment. */
struct compose_options {
    char *const *files;       /* -f, in order; "-" is stdin; NULL: discover */
    const char *project_name; /* -p */
    const char *project_dir;  /* --project-directory */
    char *const *profiles;    /* --profile */
    char *const *env_files;   /* --env-file */
    char *const *environ;     /* process environment; NULL means `environ` */
    const char *workdir;      /* where discovery starts; NULL means cwd */
    bool no_interpolate;      /* --no-interpolate */
    char *const *services;    /* services named on the command line */
};

struct compose_project;

struct compose_project *compose_project_load(const struct compose_options *opts,
                                             struct bt_err **err);
struct compose_project *compose_project_free(struct compose_project *p);
DEFINE_CLEANUP(struct compose_project *, compose_project_free)
#define _cleanup_project_ _cleanup_(compose_project_freep)

/* ---- the typed, normalised model ----
 *
 * Everything below is produced by normalisation: short syntaxes are turned
 * into their long form, relative paths are absolute, sizes are bytes and
 * durations nanoseconds. Numeric fields that were not given hold
 * COMPOSE_NO_INT (durations and sizes included), tri-state booleans hold
 * COMPOSE_UNSET. String vectors are NULL when the key was absent; an empty
 * vector means the key was given as an empty list. Keys berth does not act on
 * yet are kept, as they were validated, in `extra` (a JSON object, possibly
 * NULL) so that `berth config` shows them and the config hash covers them. */

#define COMPOSE_NO_INT INT64_MIN

enum compose_tri { COMPOSE_UNSET = 0, COMPOSE_FALSE, COMPOSE_TRUE };

/* A key with an optional value (environment entries without a value are
 * NULL). Arrays of these are sorted by key, keys unique. */
struct compose_kv {
    char *key;
    char *value;
};
struct compose_kvs {
    size_t n;
    struct compose_kv *v;
};
/* Borrowed value of key; NULL when absent or when it has no value. */
const char *compose_kvs_get(const struct compose_kvs *kvs, const char *key);

struct compose_port {
    char *name;
    uint16_t target; /* port inside the container */
    char *published; /* "8080", a range "8000-8005", or NULL: any free port */
    char *host_ip;   /* NULL: every address */
    char *protocol;  /* "tcp" (default), "udp", "sctp" */
    char *app_protocol;
    char *mode;    /* "ingress" (default) or "host" */
    json_t *extra; /* x-* extensions */
};

enum compose_mount_type {
    COMPOSE_MOUNT_BIND,
    COMPOSE_MOUNT_VOLUME,
    COMPOSE_MOUNT_TMPFS,
    COMPOSE_MOUNT_NPIPE,
    COMPOSE_MOUNT_IMAGE,
    COMPOSE_MOUNT_CLUSTER,
};
const char *compose_mount_type_name(enum compose_mount_type t);

struct compose_mount {
    enum compose_mount_type type;
    char *source; /* absolute host path (bind), volume key (volume; NULL for an
                     anonymous volume), image reference (image) */
    char *target;
    bool read_only;
    char *consistency;
    bool has_bind;
    struct {
        char *propagation; /* rprivate, shared, ... or NULL */
        bool create_host_path;
        char *selinux;   /* "z", "Z" or NULL */
        char *recursive; /* enabled, disabled, writable, readonly or NULL */
    } bind;
    bool has_volume;
    struct {
        bool nocopy;
        char *subpath;
        struct compose_kvs labels;
    } volume;
    bool has_tmpfs;
    struct {
        int64_t size; /* bytes */
        int64_t mode; /* permission bits */
    } tmpfs;
    char *image_subpath;
    json_t *extra; /* x-* extensions, nested ones under "bind", "volume", ... */
};

/* One network a service joins (services.x.networks.NAME). */
struct compose_service_network {
    char *name; /* the key in the top-level networks */
    char **aliases;
    char *ipv4_address;
    char *ipv6_address;
    char **link_local_ips;
    char *mac_address;
    char *interface_name;
    struct compose_kvs driver_opts;
    int64_t priority;
    int64_t gw_priority;
    bool has_config; /* false: given as a bare name (emitted as null) */
};

struct compose_dependency {
    char *service;
    char *condition; /* service_started (default), service_healthy,
                        service_completed_successfully */
    bool restart;
    bool required; /* default true */
};

struct compose_healthcheck {
    char **test; /* ["CMD", ...], ["CMD-SHELL", "cmd"], ["NONE"]; NULL: inherit */
    int64_t interval, timeout, start_period, start_interval; /* ns */
    int64_t retries;
    bool disable;
};

struct compose_ulimit {
    char *name;
    int64_t soft, hard; /* equal when given as one number */
};

struct compose_device {
    char *source, *target, *permissions;
    json_t *extra;
};

struct compose_host_entry {
    char *host, *ip;
};

/* services.x.secrets and services.x.configs */
struct compose_file_ref {
    char *source;
    char *target;
    char *uid, *gid;
    int64_t mode;
    json_t *extra;
};

/* blkio_config entries: a device and its weight, bytes/s or operations/s. */
struct compose_blkio_device {
    char *path;
    int64_t value;
};

struct compose_blkio {
    int64_t weight;
    struct compose_blkio_device *weight_device, *device_read_bps, *device_read_iops,
        *device_write_bps, *device_write_iops;
    size_t n_weight_device, n_device_read_bps, n_device_read_iops, n_device_write_bps,
        n_device_write_iops;
};

/* post_start / pre_stop lifecycle hooks. */
struct compose_hook {
    char **command; /* shell-split when given as a string */
    char *user;
    char *working_dir;
    bool privileged;
    struct compose_kvs environment;
    json_t *extra;
};

struct compose_env_file {
    char *path; /* absolute */
    bool required;
    char *format;
};

struct compose_resources {
    double cpus; /* 0: not set */
    int64_t memory, pids;
    json_t *extra; /* devices, generic_resources */
};

struct compose_deploy {
    char *mode;
    int64_t replicas;
    struct compose_kvs labels;
    struct compose_resources limits, reservations;
    struct {
        char *condition;
        int64_t delay, window; /* ns */
        int64_t max_attempts;
        bool present;
    } restart_policy;
    json_t *extra; /* endpoint_mode, placement, update_config, ... */
};

struct compose_build {
    char *context; /* absolute, or a URL */
    char *dockerfile;
    char *dockerfile_inline;
    struct compose_kvs args;
    struct compose_kvs labels;
    char *target;
    char *network;
    char **cache_from, **cache_to, **tags, **platforms;
    struct compose_host_entry *extra_hosts;
    size_t n_extra_hosts;
    int64_t shm_size;
    bool no_cache, pull, privileged;
    json_t *extra; /* secrets, ssh, additional_contexts, ... */
};

struct compose_service {
    char *name;
    char *image;
    struct compose_build *build; /* NULL: no build section */
    char *container_name, *hostname, *domainname, *user, *working_dir;
    char **command;                 /* NULL: image default; shell-split when given as a string */
    char **entrypoint;              /* NULL: image default */
    struct compose_kvs environment; /* resolved, env_file entries included */
    struct compose_env_file *env_files;
    size_t n_env_files;
    struct compose_kvs labels, annotations, sysctls, storage_opt;
    char **label_files;
    struct compose_port *ports;
    size_t n_ports;
    char **expose;
    struct compose_mount *volumes;
    size_t n_volumes;
    char **volumes_from; /* as given: "name[:ro]" (a service), "service:name[:rw]",
                            "container:name[:ro]" */
    char **tmpfs;
    struct compose_service_network *networks;
    size_t n_networks;
    char *network_mode, *ipc, *pid, *uts, *cgroup, *cgroup_parent, *userns_mode;
    char *mac_address;
    struct compose_dependency *depends_on;
    size_t n_depends_on;
    char **links, **external_links;
    struct compose_healthcheck *healthcheck; /* NULL: image default */
    struct compose_blkio *blkio;             /* blkio_config; NULL when absent */
    struct compose_hook *post_start, *pre_stop;
    size_t n_post_start, n_pre_stop;
    char *restart;
    struct compose_deploy *deploy;
    int64_t mem_limit, mem_reservation, memswap_limit, shm_size, mem_swappiness;
    int64_t pids_limit, cpu_shares, cpu_quota, cpu_period, cpu_rt_period, cpu_rt_runtime;
    int64_t cpu_count, cpu_percent, oom_score_adj;
    double cpus;
    char *cpuset;
    struct compose_ulimit *ulimits;
    size_t n_ulimits;
    char **cap_add, **cap_drop, **security_opt, **group_add, **device_cgroup_rules;
    struct compose_device *devices;
    size_t n_devices;
    char **dns, **dns_search, **dns_opt;
    struct compose_host_entry *extra_hosts;
    size_t n_extra_hosts;
    struct {
        char *driver;
        struct compose_kvs options;
    } logging;
    enum compose_tri init;
    bool tty, stdin_open, read_only, privileged, oom_kill_disable;
    /* not in the file: the caller's terminal size for a run with tty */
    unsigned tty_width, tty_height;
    char *stop_signal;
    int64_t stop_grace_period; /* ns */
    struct compose_file_ref *secrets, *configs;
    size_t n_secrets, n_configs;
    char **profiles;
    int64_t scale;
    char *pull_policy, *platform, *runtime, *isolation;
    json_t *extra; /* other validated keys (blkio_config, develop, x-*, ...) and
                      the x-* extensions of nested mappings (healthcheck, networks.X,
                      depends_on.X, ulimits.X, logging) under their key */
};

struct compose_ipam_config {
    char *subnet, *ip_range, *gateway;
    struct compose_kvs aux_addresses;
    json_t *extra;
};

struct compose_network {
    char *key;  /* the name in the file */
    char *name; /* the real name: `name:`, or PROJECT_key, or key when external */
    char *driver;
    struct compose_kvs driver_opts, labels;
    bool external, internal, attachable;
    enum compose_tri enable_ipv4, enable_ipv6;
    struct {
        char *driver;
        struct compose_ipam_config *config;
        size_t n_config;
        struct compose_kvs options;
    } ipam;
    json_t *extra;
};

struct compose_volume {
    char *key;
    char *name;
    char *driver;
    struct compose_kvs driver_opts, labels;
    bool external;
    json_t *extra;
};

/* Top-level secrets and configs. */
struct compose_file_object {
    char *key;
    char *name;
    char *file;        /* absolute */
    char *environment; /* variable holding the content */
    char *content;     /* configs only */
    bool external;
    char *driver, *template_driver;
    struct compose_kvs driver_opts, labels;
    json_t *extra;
};

struct compose_project {
    char *name;
    char *working_dir;
    char **config_files;
    char **environment;               /* KEY=VALUE used for interpolation and resolution */
    struct compose_service *services; /* sorted by name */
    size_t n_services;
    struct compose_network *networks; /* each sorted by key */
    size_t n_networks;
    struct compose_volume *volumes;
    size_t n_volumes;
    struct compose_file_object *secrets, *configs;
    size_t n_secrets, n_configs;
    char **profiles;          /* every profile named by any service, sorted */
    char **disabled_services; /* services left out by the active profiles */
    json_t *extra;            /* top-level x-* and models */
    /* Dependency graph (graph.c): services in start order, and the layers
     * that can start in parallel: layer i is order[layer_start[i] ..
     * layer_start[i + 1]). */
    size_t *order;
    size_t *layer_start;
    size_t n_layers;
};

const struct compose_service *compose_project_service(const struct compose_project *p,
                                                      const char *name);
const struct compose_network *compose_project_network(const struct compose_project *p,
                                                      const char *key);
const struct compose_volume *compose_project_volume(const struct compose_project *p,
                                                    const char *key);
/* How many containers the service runs: scale, else deploy.replicas, else 1. */
int64_t compose_service_replicas(const struct compose_service *s);

/* ---- short-syntax parsers (normalize-parse.c) ----
 * Each returns 0 or -EINVAL with a message that says what was expected; the
 * caller adds the position and key path. */

/* Go/Compose durations: "1m30s", "10ms", "1.5h", "300us", "0". */
int compose_duration_parse(const char *s, int64_t *ns, struct bt_err **err);
/* Formats nanoseconds as Compose prints them ("1m30s", "10ms", "1h0m0s"). */
char *compose_duration_format(int64_t ns);
/* Byte sizes as Docker reads them: "512m", "1gb", "2048k", "1.5g", "100". */
int compose_bytes_parse(const char *s, int64_t *out, struct bt_err **err);
/* Splits a command line like a POSIX shell does (quotes, backslashes),
 * without expansions. */
int compose_shell_split(const char *s, char ***out, struct bt_err **err);
/* Short port syntax: "80", "8080:80", "127.0.0.1:8080:80", "127.0.0.1::80",
 * "[::1]:6001:6001", "9090-9091:8080-8081", "53:53/udp". Ranges of container
 * ports expand to one entry each; appends to *ports. */
int compose_port_parse(const char *spec, struct compose_port **ports, size_t *n,
                       struct bt_err **err);
/* Short volume syntax: "/host:/ctr:ro", "./rel:/ctr", "name:/ctr:nocopy",
 * "/anonymous". Bind sources are returned as given (made absolute by the
 * caller against the project directory). */
int compose_volume_parse(const char *spec, struct compose_mount *out, struct bt_err **err);

void compose_port_done(struct compose_port *p);
void compose_mount_done(struct compose_mount *m);
void compose_kvs_done(struct compose_kvs *kvs);
/* Sets key (copied) to value (copied, may be NULL), keeping keys sorted and
 * unique. */
void compose_kvs_set(struct compose_kvs *kvs, const char *key, const char *value);

/* ---- output (emit.c, hash.c) ---- */

/* The normalised project as `config` prints it: name, services, networks,
 * volumes, secrets, configs, with every mapping's keys sorted. Caller owns. */
json_t *compose_project_to_json(const struct compose_project *p);
json_t *compose_service_to_json(const struct compose_service *s);
/* One top-level network or volume as `config` prints it. Caller owns. */
json_t *compose_network_to_json(const struct compose_network *n);
json_t *compose_volume_to_json(const struct compose_volume *v);
/* Canonical YAML / indented JSON text of the above; byte-for-byte stable for
 * the same input. Caller owns. */
char *compose_project_to_yaml(const struct compose_project *p);
char *compose_project_to_json_text(const struct compose_project *p);
/* Writes that text (YAML, or JSON when json) to f and flushes it; -errno
 * with *err set when writing fails. */
int compose_project_print(const struct compose_project *p, bool json, FILE *f, struct bt_err **err);
/* The config hash Compose puts in the com.docker.compose.config-hash label:
 * sha256 (hex) over the service without build, pull_policy, scale,
 * deploy.replicas, depends_on and profiles. Caller owns. */
char *compose_service_hash(const struct compose_service *s);
/* The same label on the networks and volumes berth makes for a project:
 * sha256 (hex) over the normalised definition (its name included), so a
 * changed definition is noticed on the next up. Caller owns. */
char *compose_network_hash(const struct compose_network *n);
char *compose_volume_hash(const struct compose_volume *v);

/* ---- dependency graph (graph.c) ----
 * Edges from depends_on, network_mode/ipc/pid "service:x", volumes_from and
 * links. Fills p->order and the layers; a cycle is an error naming it
 * ("a -> b -> a"); a dependency on a service that does not exist or that the
 * active profiles disabled names both services. */
int compose_graph_build(struct compose_project *p, struct bt_err **err);
/* Names of the services s depends on, sorted, unique (caller owns). */
char **compose_service_dependencies(const struct compose_service *s);
