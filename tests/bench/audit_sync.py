#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""What [audit] sync costs: the same daemon and SoftHSM token with sync =
always, batch and none, side by side.

- pipelined: 10,000 sign requests over 4 connections, each connection sending
  all of its requests while a second thread reads the replies; tokens/s.
- sequential: 1 connection, one request at a time (send, wait, repeat);
  microseconds per request.

Each measurement is repeated RUNS times, modes interleaved, and the medians are
printed. The audit file lives in a temporary directory (TMPDIR decides the
file system). A benchmark, not a test: meson test --benchmark, or run it."""

import os
import statistics
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../integration"))
import harness as h  # noqa: E402

MODES = ("always", "batch", "none")
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
PIPELINED = 10_000
CONNECTIONS = 4
SEQUENTIAL = 2_000


def frames(base, n):
    return [h.sign_request(base + i, b"Custom", b"Custom:%d" % i, lifetime=600) for i in range(n)]


def pipelined(sock):
    per = PIPELINED // CONNECTIONS
    payloads = [b"".join(struct.pack(">I", len(f)) + f for f in frames(c * per, per))
                for c in range(CONNECTIONS)]
    conns = [h.connect(sock) for _ in range(CONNECTIONS)]
    errors = []

    def reader(s):
        for _ in range(per):
            resp = h.recv_frame(s)
            if resp is None or 2 not in h.parse_message(resp):
                errors.append(resp)
                return

    threads = [threading.Thread(target=reader, args=(s,)) for s in conns]
    senders = [threading.Thread(target=s.sendall, args=(p,)) for s, p in zip(conns, payloads)]
    start = time.perf_counter()
    for t in threads + senders:
        t.start()
    for t in threads + senders:
        t.join()
    elapsed = time.perf_counter() - start
    for s in conns:
        s.close()
    if errors:
        raise AssertionError(f"a request failed: {errors[0]!r}")
    return PIPELINED / elapsed


def sequential(sock):
    s = h.connect(sock)
    reqs = [struct.pack(">I", len(f)) + f for f in frames(0, SEQUENTIAL)]
    start = time.perf_counter()
    for r in reqs:
        s.sendall(r)
        if 2 not in h.parse_message(h.recv_frame(s)):
            raise AssertionError("a request failed")
    elapsed = time.perf_counter() - start
    s.close()
    return elapsed / SEQUENTIAL * 1e6


def main():
    envs = {}
    try:
        for mode in MODES:
            envs[mode] = h.Env(audit={"sync": mode})
            envs[mode].import_key()
            envs[mode].start(activate=False)
            pipelined(envs[mode].sock)  # warm up: session pool, page cache
        tput = {m: [] for m in MODES}
        lat = {m: [] for m in MODES}
        for _ in range(RUNS):
            for mode in MODES:
                tput[mode].append(pipelined(envs[mode].sock))
                lat[mode].append(sequential(envs[mode].sock))
        fs = os.popen(f"stat -f -c %T {envs['always'].dir}").read().strip()
        print(f"audit file on {fs}; {RUNS} runs per mode, medians (min..max)")
        print(f"{'sync':8} {'pipelined tokens/s':>28} {'sequential us/request':>30}")
        for mode in MODES:
            print(f"{mode:8} {statistics.median(tput[mode]):10.0f} "
                  f"({min(tput[mode]):6.0f}..{max(tput[mode]):6.0f}) "
                  f"{statistics.median(lat[mode]):12.1f} "
                  f"({min(lat[mode]):7.1f}..{max(lat[mode]):7.1f})")
        for mode in MODES:
            recs = sum(1 for _ in open(envs[mode].audit_file))
            print(f"{mode}: {recs} records in {envs[mode].audit_file}")
    finally:
        for e in envs.values():
            e.cleanup()


main()
