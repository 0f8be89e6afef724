#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Hostile neighbours at the token (issue 16), on the mock PKCS#11 module so
a slow key needs no RSA: ES256 calls are made slow (sign-sleep-mech), HS256
calls stay fast. One uid saturating the slow key must neither starve a
granted HS256 client nor get the token marked failed; requests padded with
unknown fields must not grow the daemon past the unit's MemoryMax."""

import json
import os
import re
import subprocess
import threading
import time

import harness as h
from test_mock_faults import MockEnv

if os.geteuid() != 0:
    h.skip("needs root to run clients as other users with setpriv")
if not h.shutil.which("setpriv"):
    h.skip("setpriv (util-linux) is not installed")

SLOW, PADDERS = 4003, range(4100, 4108)
HERE = os.path.dirname(os.path.abspath(__file__))
KEYS = (("zumo", {}), ("es", {"alg": "ES256", "issuer": "https://issuer.example"}))
POLICIES = list(h.ROOT_POLICY) + [
    ("slow", {"uid": str(SLOW), "keys": "es", "audiences": "*", "user-ids": "*"}),
    ("padders", {"uid": " ".join(map(str, PADDERS)), "keys": "es", "audiences": "*",
                 "user-ids": "*"}),
]


def unit_memory_max():
    with open(os.path.join(HERE, "../../units/hsmjwtd.service.in")) as f:
        m = re.search(r"^MemoryMax=(\d+)M$", f.read(), re.M)
    assert m, "the unit sets no MemoryMax=NM"
    return int(m.group(1)) * 1024 * 1024


def start(env):
    env.start(activate=True)
    env.hsmjwt("sign", "--aud", "x", "--uid", "y")  # first connect starts the daemon
    env.allow_other_users()
    h.shutil.copy2(os.path.join(HERE, "hostile_client.py"), os.path.dirname(env.peer_client))
    return os.path.join(os.path.dirname(env.peer_client), "hostile_client.py")


def hostile(env, script, uid, *args, depth=32):
    cmd = ["setpriv", "--reuid", str(uid), "--regid", str(uid), "--clear-groups",
           "/usr/bin/python3", script, *args]
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            env=dict(env.other_env, HOSTILE_DEPTH=str(depth)), text=True)


def root_signs(env, stop, out):
    s = h.connect(env.sock)
    i = 0
    while not stop.is_set():
        t0 = time.monotonic()
        h.send_frame(s, h.sign_request(i, b"Custom", b"Custom:root", key=b"zumo"))
        err = h.error_of(h.recv_frame(s))
        out.append((time.monotonic() - t0, err, t0))
        i += 1
        time.sleep(0.01)
    s.close()


def test_slow_key_backlog_starves_no_one_and_fails_no_token():
    # Each ES256 call takes 50 ms on 2 sessions: 40 a second. uid 4003 queues 40 x 64.
    with MockEnv(keys=KEYS, policies=POLICIES, server_extra="request-timeout = 2\n",
                 token_extra="sessions = 2\n") as env:
        script = start(env)
        env.faults("sign-sleep-mech=CKM_ECDSA, sign-sleep-ms=50")
        stop, lat = threading.Event(), []
        t = threading.Thread(target=root_signs, args=(env, stop, lat))
        flood = hostile(env, script, SLOW, "flood", env.sock, "4", "40", "es")
        time.sleep(0.5)  # the backlog is there before root starts
        t.start()
        try:
            out, _ = flood.communicate(timeout=120)
        finally:
            stop.set()
            t.join()
        res = json.loads(out)
        errors = [e for _, e, _ in lat if e]
        worst = max(d for d, _, _ in lat)
        median = sorted(d for d, _, _ in lat)[len(lat) // 2]
        span = lat[-1][2] - lat[0][2]
        print(f"     slow uid: {res['tokens']} tokens, refusals {res['errors']}; root: "
              f"{len(lat)} HS256 requests over {span:.1f} s meanwhile, {len(errors)} errors, "
              f"median {median * 1000:.0f} ms, slowest {worst * 1000:.0f} ms")
        assert lat and not errors, errors[:3]
        assert span > 2, span  # served while the backlog timed out, not only after
        assert worst < 1.0, worst  # one ES256 call per thread ahead of it, not the backlog
        assert res["tokens"] > 0, res
        assert set(res["errors"]) <= {"queue-timeout", "inflight-limit", "queue-full"}, res
        log = env.read_log()
        assert "Token failed" not in log, log[-2000:]
        env.stop()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_padded_requests_stay_under_memory_max():
    # 8 uids x 128 connections (the per-uid limit) = 1,024, each pipelining 64 requests
    # (the per-connection limit) with 60 KiB of unknown fields, for a key that is slow.
    limit = unit_memory_max()
    with MockEnv(keys=KEYS, policies=POLICIES, server_extra="request-timeout = 3\n",
                 token_extra="sessions = 2\n") as env:
        script = start(env)
        env.faults("sign-sleep-mech=CKM_ECDSA, sign-sleep-ms=100")
        base = rss_kib(env.daemon.pid)
        t0 = time.monotonic()
        # Under valgrind RSS says nothing and 4 GB take minutes: one uid's share then.
        uids = PADDERS[:1] if h.DAEMON_WRAPPER else PADDERS
        floods = [hostile(env, script, uid, "flood", env.sock, "0", "128", "es", str(60 * 1024),
                          depth=64)
                  for uid in uids]
        results = [json.loads(f.communicate(timeout=180)[0]) for f in floods]
        took = time.monotonic() - t0
        peak = rss_kib(env.daemon.pid)
        sent = sum(r["sent"] for r in results)
        print(f"     {sent} requests of 60 KiB on {128 * len(uids)} connections in {took:.1f} s; daemon "
              f"peak RSS {base // 1024} -> {peak // 1024} MiB (MemoryMax {limit >> 20} MiB)")
        assert sent >= 128 * len(uids) * 64, sent
        if not (h.DAEMON_WRAPPER or os.environ.get("ASAN_OPTIONS")):
            assert peak * 1024 < limit // 2, (peak, limit)  # well under: room for the rest
        env.sign("--aud", "Custom", "--uid", "Custom:after")
        env.stop()


h.run([test_slow_key_backlog_starves_no_one_and_fails_no_token,
       test_padded_requests_stay_under_memory_max])
