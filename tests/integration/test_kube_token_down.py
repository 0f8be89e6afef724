#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""hsmjwt-kube-signer while the token is down: hsmjwtd on the mock PKCS#11
module (tests/mock-pkcs11) loses its token; kube's Sign gets UNAVAILABLE
(retryable) with a generic message, fast, and works again once the daemon
has recovered the token by itself."""

import json
import os
import time

import harness as h
import kube_harness as k

MOCK = os.path.join(h.BUILD, "tests/mock-pkcs11/mock-pkcs11.so")
if not os.path.exists(MOCK):
    h.skip(f"{MOCK} is not built")

env = h.Env(module=MOCK, init_token=False,
            keys=(("es", {"alg": "ES256", "issuer": k.ISSUER, "max-lifetime": "1d",
                          "uri": "pkcs11:token=hsmjwt;object=es"}),),
            policies=(("kube-signer", {"uid": str(k.NOBODY), "keys": "es", "audiences": "*",
                                       "user-ids": "*", "payload-signing": "yes"}),))
control = os.path.join(env.dir, "mock-control")
env.daemon_env["HSMJWT_MOCK_PKCS11_CONTROL"] = control
env.env.update(env.daemon_env)


def faults(spec):
    with open(control + ".new", "w") as f:
        f.write(spec)
    os.rename(control + ".new", control)


def sign(ch):
    b64 = k.b64url(json.dumps(k.kube_claims()).encode())
    return k.unary_call(ch, "v1", "Sign")(k.M["SignJWTRequest"](claims=b64), timeout=10)


failing, signer = True, None
try:
    faults("")
    env.start()
    env.allow_other_users()
    signer = k.Signer(env, "mock", key="es")
    ch = signer.channel()
    assert sign(ch).signature
    faults("sign-rv=CKR_DEVICE_REMOVED@1+")
    for _ in range(2):  # the failing call, then one refused at once while down
        t = time.monotonic()
        try:
            sign(ch)
            raise AssertionError("signed with the token gone")
        except k.grpc.RpcError as e:
            assert e.code() == k.grpc.StatusCode.UNAVAILABLE, e
            assert e.details() == "signer unavailable", e.details()
        assert time.monotonic() - t < 5
    faults("")
    deadline = time.monotonic() + 30
    while True:
        try:
            assert sign(ch).signature
            break
        except k.grpc.RpcError as e:
            assert e.code() == k.grpc.StatusCode.UNAVAILABLE, e
            assert time.monotonic() < deadline, env.read_log()[-2000:]
            time.sleep(0.2)
    print("ok   token down: UNAVAILABLE, then signing again after the daemon's recovery")
    ch.close()
    assert signer.stop() == 0, signer.read_log()[-2000:]
    failing = False
finally:
    if signer and signer.proc.poll() is None:
        signer.proc.kill()
    env.cleanup(failing=failing)
