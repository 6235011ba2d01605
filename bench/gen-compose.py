#!/usr/bin/env python3
"""Writes a compose file with N services (default 1000) to standard output.

Each service uses the keys real projects use: image, command, ports,
volumes (bind, named, anonymous), environment, labels, depends_on with a
condition, healthcheck, restart, resources, ulimits, networks with aliases,
extra_hosts; plus a few tools behind a profile. Dependencies point only backwards, so
the graph is acyclic with many layers. Deterministic for a given N.
"""
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
out = []
w = out.append
w("name: bench")
w("x-common: &common")
w("  restart: unless-stopped")
w("  labels:")
w("    com.example.suite: bench")
w("  logging:")
w("    driver: json-file")
w("    options: {max-size: 10m, max-file: \"3\"}")
w("services:")
for i in range(n):
    s = f"svc{i:04d}"
    w(f"  {s}:")
    w("    <<: *common")
    w(f"    image: registry.example.com/team{i % 7}/app{i % 50}:1.{i % 10}")
    w(f"    command: [\"/app/run\", \"--id\", \"{i}\", \"--mode=${{MODE:-prod}}\"]")
    w("    ports:")
    w(f"      - \"{20000 + i}:8080\"")
    w(f"      - \"127.0.0.1:{40000 + i}:9090/udp\"")
    w("    volumes:")
    w(f"      - ./data/{s}:/data")
    w(f"      - shared{i % 10}:/shared:ro")
    w("      - /tmp/scratch")
    w("    environment:")
    w(f"      SERVICE_ID: \"{i}\"")
    w("      LOG_LEVEL: ${LOG_LEVEL:-info}")
    w(f"      PEER: svc{(i + 1) % n:04d}")
    if i > 0:
        w("    depends_on:")
        w(f"      svc{i - 1:04d}:")
        w("        condition: service_started")
        if i >= 10 and i % 3 == 0:
            w(f"      svc{i - 10:04d}:")
            w("        condition: service_healthy")
    w("    healthcheck:")
    w("      test: [\"CMD-SHELL\", \"wget -q -O- http://127.0.0.1:8080/health || exit 1\"]")
    w("      interval: 30s")
    w("      timeout: 5s")
    w("      retries: 3")
    w("      start_period: 1m30s")
    w("    mem_limit: 256m")
    w("    cpus: 0.5")
    w("    ulimits:")
    w("      nofile: {soft: 1024, hard: 4096}")
    w("    networks:")
    w(f"      net{i % 5}:")
    w(f"        aliases: [\"{s}.internal\"]")
    w("      default:")
    w("    extra_hosts: [\"db.internal=10.0.0.5\"]")
# A few tools behind a profile, which nothing depends on.
for k in range(max(1, n // 100)):
    w(f"  debug{k:02d}:")
    w("    image: busybox")
    w("    profiles: [debug]")
    w(f"    network_mode: \"service:svc{k:04d}\"")
w("networks:")
for k in range(5):
    w(f"  net{k}:")
    w("    driver: bridge")
w("volumes:")
for k in range(10):
    w(f"  shared{k}:")
print("\n".join(out))
