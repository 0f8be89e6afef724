#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""hsmjwt-kube-signer with grpc-go, the gRPC kube-apiserver is built on:
a client compiled here, offline, from Debian's golang-google-grpc-dev
(GOPATH mode, /usr/share/gocode), dialling as kube does (Unix dialer,
authority localhost, WaitForReady), running the start-up sequence and 64
concurrent Signs on one connection; each token verified by jwcrypto against
the DER keys FetchKeys returned."""

import os
import shutil
import subprocess

import harness as h
import kube_harness as k

GOPATH = "/usr/share/gocode"
if not shutil.which("go"):
    h.skip("golang-go is not installed")
if not os.path.isdir(os.path.join(GOPATH, "src/google.golang.org/grpc")):
    h.skip("golang-google-grpc-dev is not installed")

env = h.Env(keys=(("kube", {"alg": "ES256", "issuer": k.ISSUER, "max-lifetime": "1d"}),),
            policies=(("kube-signer", {"uid": str(k.NOBODY), "keys": "kube", "audiences": "*",
                                       "user-ids": "system:serviceaccount:*",
                                       "payload-signing": "yes"}),))
failing = True
signer = None
try:
    assert env.ctl("generate", "kube").returncode == 0
    env.start()
    env.allow_other_users()
    signer = k.Signer(env, "go")

    # Offline: GOPATH mode on Debian's sources, no module proxy, no network.
    binary = os.path.join(env.dir, "kube-signer-go")
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kube-go", "main.go")
    go_env = dict(os.environ, GO111MODULE="off", GOPATH=GOPATH, GOFLAGS="", GOPROXY="off",
                  CGO_ENABLED="0")
    if not os.environ.get("HOME"):
        go_env["GOCACHE"] = os.path.join(env.dir, "go-cache")
    r = subprocess.run(["go", "build", "-o", binary, src], env=go_env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, "go build failed:\n" + r.stderr[-3000:]

    r = subprocess.run([binary, signer.sock, "64", "16"], capture_output=True, text=True,
                       timeout=120, env=dict(os.environ, KUBE_ISSUER=k.ISSUER))
    assert r.returncode == 0, r.stderr + signer.read_log()[-2000:]
    lines = r.stdout.split()
    assert lines[-1] == "ok" and len(lines) == 65, r.stdout[-500:]
    ch = signer.channel()
    keys = k.check_keys(k.unary_call(ch, "v1", "FetchKeys")(k.M["FetchKeysRequest"](), timeout=30))
    ch.close()
    jtis = set()
    for token in lines[:-1]:
        claims = k.verify_jwt(token, keys)
        assert claims["iss"] == k.ISSUER and claims["sub"] == "system:serviceaccount:default:go"
        jtis.add(claims["jti"])
    assert len(jtis) == 64, len(jtis)
    print("ok   grpc-go: start-up sequence and 64 Signs over 16 goroutines verified")
    assert signer.stop() == 0, signer.read_log()[-2000:]
    failing = False
finally:
    if signer and signer.proc.poll() is None:
        signer.proc.kill()
    env.cleanup(failing=failing)
