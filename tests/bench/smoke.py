#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Smoke run of hsmjwt-bench: it works end to end in --quick mode and every
cell that could run produced tokens without errors. Speeds are never judged
here; they belong to docs/PERFORMANCE.md."""

import json
import subprocess
import sys

bench, hsmjwtd, hsmjwtctl = sys.argv[1:4]
r = subprocess.run([bench, "--quick", "--json", "--hsmjwtd", hsmjwtd, "--hsmjwtctl", hsmjwtctl],
                   capture_output=True, text=True, timeout=240)
sys.stderr.write(r.stderr)
assert r.returncode == 0, f"hsmjwt-bench exited {r.returncode}"
out = json.loads(r.stdout)

ran = {}
for c in out["cells"]:
    if c["ran"]:
        assert c["tokens"] > 0 and c["errors"] == 0, c
        assert c["tokens_per_s"] > 0 and 0 < c["p50_us"] <= c["p99_us"] <= c["max_us"], c
        ran.setdefault(c["group"], []).append(c)
    else:
        assert c["missing"], c  # a cell that did not run says why
for group in ("raw", "hsmjwtd"):
    assert any(c["alg"] == "HS256" for c in ran.get(group, [])), (group, out["cells"])
for c in ran["hsmjwtd"]:
    assert c["server_cpu_s_per_1k"] > 0 and c["peak_rss_kib"] > 0, c
    assert c["audit_sync"] in ("always", "batch", "none"), c
# Every cell says what it asked for; verify ran in-process and through the daemon.
assert all(c["op"] in ("sign", "verify") for c in out["cells"]), out["cells"]
for group in ("raw", "hsmjwtd"):
    assert any(c["op"] == "verify" and c["alg"] == "HS256" for c in ran[group]), group
# The device's own limit, both ways.
for mode in ("append", "preallocated"):
    d = out["fdatasync_us"][mode]
    assert d["count"] > 0 and 0 < d["p50"] <= d["p99"] <= d["max"], (mode, d)
assert out["memory"]["measured"] and out["memory"]["idle_kib"] > 0, out["memory"]
assert len(out["activation_ms"]) >= 1, out
print(f"ok: {sum(len(v) for v in ran.values())} cells ran, "
      f"{sum(1 for c in out['cells'] if not c['ran'])} n/a")
