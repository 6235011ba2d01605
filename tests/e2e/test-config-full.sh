#!/usr/bin/env bash
# berth config over a project that uses every service and top-level key of
# the Compose Specification: the exact canonical output, every key of the
# input still there (normalised), and the output reading back to itself.
. "$(dirname "$0")/config-lib.sh"

cp -r "$fixtures/full" "$tmp/full"
cd "$tmp/full"
run API_TOKEN=t --profile '*' config >"$tmp/out.yaml" 2>"$tmp/err" || fail "config: $(cat "$tmp/err")"
sed "s|@DIR@|$tmp/full|g" expected.yaml >"$tmp/want.yaml"
expect_same "config" "$tmp/want.yaml" "$tmp/out.yaml"

run API_TOKEN=t --profile '*' config --format json >"$tmp/out.json"
python3 - compose.yaml "$tmp/out.json" <<'PY' || fail "keys lost in normalisation"
import json, sys

out = json.load(open(sys.argv[2]))
# Keys every service of this fixture must show after normalisation.
want = {
    "api": ["annotations", "attach", "blkio_config", "build", "cap_add", "cap_drop", "cgroup",
            "cgroup_parent", "command", "configs", "container_name", "cpu_count",
            "cpu_percent", "cpu_period", "cpu_quota", "cpu_rt_period", "cpu_rt_runtime",
            "cpu_shares", "cpus", "cpuset", "credential_spec", "depends_on",
            "device_cgroup_rules", "devices", "dns", "dns_opt", "dns_search", "domainname",
            "entrypoint", "env_file", "environment", "expose", "external_links",
            "extra_hosts", "group_add", "healthcheck", "hostname", "image", "init",
            "ipc", "isolation", "label_file", "labels", "links", "logging", "mac_address",
            "mem_limit", "mem_reservation", "mem_swappiness", "memswap_limit", "models",
            "networks", "oom_score_adj", "pid", "pids_limit", "platform", "ports",
            "post_start", "pre_stop", "profiles", "pull_policy", "pull_refresh_after",
            "read_only", "restart", "runtime", "scale", "secrets", "security_opt",
            "shm_size", "stop_grace_period", "stop_signal", "storage_opt", "sysctls",
            "tmpfs", "ulimits", "use_api_socket", "user", "userns_mode", "uts", "volumes",
            "volumes_from", "working_dir", "x-team"],
}
api = out["services"]["api"]
missing = [k for k in want["api"] if k not in api]
if missing:
    sys.exit("missing service keys: %s" % missing)
# Extensions inside nested mappings survive.
checks = [
    api["ports"][2]["x-scrape"] is True,
    api["networks"]["front"]["x-note"] == "primary",
    api["volumes"][1]["bind"]["x-why"] == "data dir",
    api["volumes"][1]["bind"]["recursive"] == "readonly",
    api["volumes"][2]["volume"]["labels"]["com.example.cache"] == "true",
    api["depends_on"]["db"]["x-wait"] == "long",
    api["healthcheck"]["x-owner"] == "sre",
    api["ulimits"]["nofile"]["x-why"] == "many sockets",
    api["logging"]["x-shipper"] == "none",
    api["secrets"][1]["x-rotated"] == "daily",
    out["networks"]["front"]["ipam"]["config"][0]["x-note"] == "first pool",
    out["networks"]["legacy"]["name"] == "legacy-net",
    out["volumes"]["old"]["name"] == "old-data",
    out["models"]["llm"]["model"] == "ai/smollm2",
    "extends" not in out["services"]["migrate"],
    out["services"]["migrate"]["image"] == "busybox",
]
bad = [i for i, ok in enumerate(checks) if not ok]
if bad:
    sys.exit("failed checks: %s" % bad)
PY

# Read back: the output is a compose file giving the same output.
mkdir "$tmp/rt"
cp "$tmp/out.yaml" "$tmp/rt/compose.yaml"
(cd "$tmp/rt" && run API_TOKEN=t --profile '*' config) >"$tmp/rt.yaml" 2>"$tmp/err" ||
    fail "config of the output: $(cat "$tmp/err")"
expect_same "round trip" "$tmp/out.yaml" "$tmp/rt.yaml"
echo ok
