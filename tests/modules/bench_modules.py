#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Throughput through hsmjwtd per PKCS#11 module (a measurement, not a test).

Per module (tests/modules/setup.sh makes a fresh token) one daemon with an
HS256 and, where the module offers it, an ES256 key; hsmjwt-bench --against
drives it at 1 connection x 1 request and 16 connections x 8 in flight, with
the daemon's own defaults (sync = always, one session per CPU). Prints a
Markdown table for docs/PERFORMANCE.md.

Usage: bench_modules.py [--duration S] [MODULE...]"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_matrix as m  # noqa: E402

BENCH = os.path.join(m.h.BUILD, "tests/bench/hsmjwt-bench")
SHAPES = [(1, 1), (16, 8)]


def drive(env, key, conns, depth, duration):
    r = subprocess.run([BENCH, "--against", env.sock, "--key", key, "--conns", str(conns),
                        "--depth", str(depth), "--pid", str(env.daemon.pid), "--duration",
                        str(duration), "--warmup", "0.5", "--json"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    cell = json.loads(r.stdout)["cells"][0]
    assert cell["errors"] == 0 and cell["tokens"] > 0, cell
    return cell


def bench_module(module, duration):
    rows = []
    with m.ModuleEnv(module) as env:
        keys = []
        for name, alg in (("hs256", "HS256"), ("es256", "ES256")):
            env.write_config(keys=[m.key_section(env, name, alg)])
            done, _ = m.provision(env, name, alg)
            if done:
                keys.append((name, alg))
        env.write_config(keys=[m.key_section(env, n, a) for n, a in keys])
        env.start()
        for name, alg in keys:
            for conns, depth in SHAPES:
                c = drive(env, name, conns, depth, duration)
                rows.append((module, env.version, alg, conns, depth, c))
        env.stop()
    return rows


def main():
    args = sys.argv[1:]
    duration = 3.0
    if args[:1] == ["--duration"]:
        duration, args = float(args[1]), args[2:]
    rows = []
    for module in args or m.MODULES:
        try:
            rows += bench_module(module, duration)
        except m.Skip as e:
            print(f"skip {module}: {e}", file=sys.stderr)
    print("| module | alg | conns × depth | tokens/s | p50 µs | p99 µs | daemon CPU ms/token "
          "| daemon peak RSS MiB |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for module, version, alg, conns, depth, c in rows:
        print(f"| {m.table.NAMES.get(module, module)} {version.split(' ', 1)[1]} | {alg} | "
              f"{conns} × {depth} | {c['tokens_per_s']:.0f} | {c['p50_us']:.0f} | "
              f"{c['p99_us']:.0f} | {c['server_cpu_s_per_1k']:.3f} | "
              f"{c['peak_rss_kib'] / 1024:.1f} |")


if __name__ == "__main__":
    main()
