#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Sign calls/s and latency through hsmjwt-kube-signer, beside hsmjwtd's own
rate for the same payloads, in one run, on one SoftHSM token:

- daemon 1 / 16: PayloadSignRequest frames straight to hsmjwtd on one
  connection, 1 or 16 in flight (what the adapter itself does);
- adapter 1 / 16: ExternalJWTSigner/Sign through the adapter with
  python3-grpcio (grpc.aio), 1 or 16 concurrent streams on one channel;
- adapter-go 1 / 16: the same with the grpc-go client of test_kube_go
  (kube-apiserver's gRPC), when Debian's Go packages are installed.

Both clients are Python, so the comparison is between like and like; neither
is the daemon's ceiling (hsmjwt-bench measures that). ES256 and RS256.
A benchmark, not a test: meson test --benchmark, or run it."""

import asyncio
import json
import os
import statistics
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../integration"))
import harness as h  # noqa: E402
import kube_harness as k  # noqa: E402

N = int(os.environ.get("BENCH_CALLS", "3000"))
ALGS = ("ES256", "RS256")


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def claims_b64():
    return k.b64url(json.dumps(k.kube_claims(lifetime=600)).encode())


def daemon_cell(pb, sock, key, depth):
    s = h.connect(sock)
    payload = claims_b64()
    frames = []
    for i in range(N):
        m = pb.Request(id=i + 1, sign_payload=pb.PayloadSignRequest(payload_b64url=payload,
                                                                    key=key)).SerializeToString()
        frames.append(struct.pack(">I", len(m)) + m)
    sent, lat, start = {}, [], time.perf_counter()
    nxt = 0
    while nxt < min(depth, N):
        sent[nxt + 1] = time.perf_counter()
        s.sendall(frames[nxt])
        nxt += 1
    for _ in range(N):
        n = struct.unpack(">I", h.recv_exact(s, 4))[0]
        r = pb.Response.FromString(h.recv_exact(s, n))
        assert r.WhichOneof("body") == "sign", r
        lat.append(time.perf_counter() - sent.pop(r.id))
        if nxt < N:
            sent[nxt + 1] = time.perf_counter()
            s.sendall(frames[nxt])
            nxt += 1
    elapsed = time.perf_counter() - start
    s.close()
    return N / elapsed, lat


async def adapter_cell(signer, streams):
    import grpc
    payload = claims_b64()
    lat = []
    async with grpc.aio.insecure_channel("unix:" + signer.sock,
                                         options=[("grpc.default_authority", "localhost")]) as ch:
        call = ch.unary_unary("/v1.ExternalJWTSigner/Sign",
                              request_serializer=lambda m: m.SerializeToString(),
                              response_deserializer=k.M["SignJWTResponse"].FromString)
        await call(k.M["SignJWTRequest"](claims=payload), timeout=30)  # connect first
        left = [N]

        async def worker():
            while left[0] > 0:
                left[0] -= 1
                t = time.perf_counter()
                await call(k.M["SignJWTRequest"](claims=payload), timeout=30)
                lat.append(time.perf_counter() - t)
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(streams)))
        elapsed = time.perf_counter() - start
    return len(lat) / elapsed, lat


def go_client(env):
    """The grpc-go client of test_kube_go, built the same way; None without Go."""
    import shutil
    import subprocess
    if not shutil.which("go") or not os.path.isdir("/usr/share/gocode/src/google.golang.org/grpc"):
        return None
    binary = os.path.join(env.dir, "kube-signer-go")
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../integration/kube-go/main.go")
    r = subprocess.run(["go", "build", "-o", binary, src], capture_output=True, text=True,
                       env=dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode",
                                GOPROXY="off", CGO_ENABLED="0"))
    return binary if r.returncode == 0 else None


def go_cell(binary, signer, streams):
    import subprocess
    r = subprocess.run([binary, signer.sock, str(N), str(streams)], capture_output=True,
                       text=True, env=dict(os.environ, KUBE_ISSUER=k.ISSUER, KUBE_GO_STATS="1"))
    assert r.returncode == 0, r.stderr
    rate, p50, p99 = (float(x) for x in r.stderr.split()[1:4])
    return rate, p50 / 1e3, p99 / 1e3


def main():
    keys = [(a.lower(), {"alg": a, "issuer": k.ISSUER, "max-lifetime": "1d"}) for a in ALGS]
    env = h.Env(keys=keys, policies=(("kube", {"uid": "0 " + str(k.NOBODY), "keys": "*",
                                               "audiences": "*", "user-ids": "*",
                                               "payload-signing": "yes"}),))
    try:
        for name, _ in keys:
            assert env.ctl("generate", name).returncode == 0
        env.start()
        env.allow_other_users()
        pb = k.hsmjwt_pb2()
        go = go_client(env)
        print(f"{N} Sign calls per cell, {os.cpu_count()} CPUs; other load on the machine "
              "is not controlled: compare cells of one run only")
        print(f"{'alg':6} {'cell':13} {'calls/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
        for alg in ALGS:
            signer = k.Signer(env, alg.lower(), key=alg.lower())
            rows = {}
            for depth in (1, 16):
                rows[f"daemon {depth}"] = daemon_cell(pb, env.sock, alg.lower(), depth)
            for streams in (1, 16):
                rows[f"adapter {streams}"] = asyncio.run(adapter_cell(signer, streams))
            stats = {c: (r, percentile(lat, .5), percentile(lat, .99))
                     for c, (r, lat) in rows.items()}
            if go:
                for streams in (1, 16):
                    stats[f"adapter-go {streams}"] = go_cell(go, signer, streams)
            for cell, (rate, p50, p99) in stats.items():
                print(f"{alg:6} {cell:13} {rate:9.0f} {p50 * 1e3:8.2f} {p99 * 1e3:8.2f}")
            for c in ("adapter 16", "adapter-go 16"):
                if c in stats:
                    print(f"{alg:6} {c}/daemon 16: {stats[c][0] / stats['daemon 16'][0]:.2f}")
            signer.stop()
    finally:
        env.cleanup(failing=True)


main()
