#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""What each client costs (meson test --benchmark clients; a measurement, not
a test): tokens/s on one connection, 1 in flight and 64 in flight (pipelined),
for libhsmjwt (tests/bench/client-bench.c), the Python client (Client, and
AsyncClient) and the Node.js client, against one hsmjwtd on one fresh SoftHSM
token, one after another in the same run. [audit] sync = none, so the
daemon's fdatasync() does not hide the clients' own cost. Usage:
clients.py [SECONDS] (default 3 per cell)."""

import asyncio
import os
import resource
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../integration"))
import harness as h  # noqa: E402

sys.path.insert(0, os.environ.get("HSMJWT_PYTHON_CLIENT", os.path.join(h.BUILD, "client/python")))
import hsmjwt  # noqa: E402

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
DEPTH = 64
NODE_DIR = os.path.join(os.path.dirname(__file__), "../../client/node")
REQ = dict(lifetime=600)


def children_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def c_client(sock, depth):
    r = subprocess.run([os.path.join(h.BUILD, "tests/client-bench"), sock, str(SECONDS),
                        str(depth)], capture_output=True, text=True, timeout=SECONDS + 60)
    assert r.returncode == 0, r.stderr
    n, s = r.stdout.split()
    return int(n), float(s)


def node_client(sock, depth):
    if not shutil.which("node") or not os.path.exists(os.path.join(NODE_DIR, "dist/index.js")):
        return None
    r = subprocess.run(["node", "bench/bench.mjs", sock, str(SECONDS), str(depth)], cwd=NODE_DIR,
                       capture_output=True, text=True, timeout=SECONDS + 60)
    assert r.returncode == 0, r.stderr
    n, s = r.stdout.split()
    return int(n), float(s)


def python_sync(sock, depth):
    assert depth == 1
    c = hsmjwt.Client(sock)
    n, t0 = 0, time.monotonic()
    end = t0 + SECONDS
    while time.monotonic() < end:
        c.sign("Custom", "Custom:bench", **REQ)
        n += 1
    return n, time.monotonic() - t0


def python_async(sock, depth):
    async def run():
        a = hsmjwt.AsyncClient(sock, max_in_flight=depth)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        end = t0 + SECONDS
        n = 0

        async def worker():
            nonlocal n
            while loop.time() < end:
                await a.sign("Custom", "Custom:bench", **REQ)
                n += 1
        await asyncio.gather(*(worker() for _ in range(depth)))
        await a.close()
        return n, loop.time() - t0
    return asyncio.run(run())


def main():
    with h.Env(audit={"sync": "none"}) as env:
        env.import_key()
        env.start()
        hsmjwt.Client(env.sock).sign("Custom", "Custom:warm", **REQ)
        rows = [("libhsmjwt (C)", c_client), ("Python Client", python_sync),
                ("Python AsyncClient", python_async), ("Node.js Client", node_client)]
        results = {}
        for name, fn in rows:
            for depth in (1, DEPTH):
                if fn is python_sync and depth != 1:
                    continue
                cpu0, child0 = time.process_time(), children_cpu()
                out = fn(env.sock, depth)
                if out is None:
                    continue
                n, secs = out
                # The client's own CPU per token: steadier than tokens/s on a shared machine.
                cpu = (time.process_time() - cpu0) + (children_cpu() - child0)
                results[name, depth] = (n / secs, cpu / n * 1e6)
        c1, cp = results["libhsmjwt (C)", 1][0], results["libhsmjwt (C)", DEPTH][0]
        print(f"tokens/s on one connection, {SECONDS:g} s per cell, HS256, sync = none "
              f"(nproc {os.cpu_count()}; the load average was {os.getloadavg()[0]:.1f}); "
              "cpu: the client's own CPU microseconds per token")
        print(f"{'client':<20} {'1 x 1':>8} {'vs C':>5} {'cpu':>5} "
              f"{f'1 x {DEPTH}':>8} {'vs C':>5} {'cpu':>5}")

        def fmt(v, ref):
            return f"{v[0]:>8.0f} {v[0] / ref:>5.2f} {v[1]:>5.1f}" if v else f"{'-':>8} {'':>5} {'':>5}"
        for name, _ in rows:
            print(f"{name:<20} {fmt(results.get((name, 1)), c1)} {fmt(results.get((name, DEPTH)), cp)}")

if __name__ == "__main__":
    main()
