#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""hsmjwt-kube-signer end to end, with python3-grpcio standing in for
kube-apiserver: the start-up calls (FetchKeys, Metadata) and Sign on /v1 and
/v1alpha1, ES256 and RS256, every check kube applies, each JWT verified by
python3-jwcrypto against the DER key FetchKeys returned; the daemon's
refusals (no grant, not an object, no exp, too long, wrong iss); the audit
records; rotation by SIGHUP under load; the caller check; the daemon gone."""

import hashlib
import json
import os
import socket
import struct
import subprocess
import threading
import time

import harness as h
import kube_harness as k

grpc = k.grpc
ISS = k.ISSUER
UIDS = "system:serviceaccount:*"

KEYS = [
    # The rotation signer names no key: it signs with the daemon's first active key.
    ("rot-old", {"alg": "ES256", "issuer": ISS, "max-lifetime": "1d"}),
    ("rot-new", {"alg": "ES256", "issuer": ISS, "max-lifetime": "1d", "state": "retired"}),
    ("kube-es", {"alg": "ES256", "issuer": ISS, "max-lifetime": "1d",
                 "kid-format": "spki-sha256"}),
    ("kube-rs", {"alg": "RS256", "issuer": ISS, "max-lifetime": "2h"}),
    ("kube-ed", {"alg": "EdDSA", "issuer": ISS, "max-lifetime": "1d"}),
    ("zumo", {"max-lifetime": "400d"}),
]
POLICIES = (
    ("kube-signer", {"uid": str(k.NOBODY), "keys": "*", "audiences": "*", "user-ids": UIDS,
                     "payload-signing": "yes"}),
    # Root may have every other kind of JWT, but no payload signed.
    ("root", {"uid": "0", "keys": "*", "audiences": "*", "user-ids": "*", "verify": "yes"}),
)

env = h.Env(keys=KEYS, policies=POLICIES)
for name, _ in KEYS[:5]:
    r = env.ctl("generate", name)
    assert r.returncode == 0, r.stderr
env.import_key("zumo")
env.start()
env.allow_other_users()
signers = {"es": k.Signer(env, "es", key="kube-es"), "rs": k.Signer(env, "rs", key="kube-rs"),
           "rot": k.Signer(env, "rot"), "hmac": k.Signer(env, "hmac", key="zumo"),
           "ed": k.Signer(env, "ed", key="kube-ed")}
channels = {n: s.channel() for n, s in signers.items()}


def call(name, version, method, req=None, timeout=30, **kw):
    req = req if req is not None else k.M[method.replace("Keys", "Keys") + "Request"
                                          if method != "Sign" else "SignJWTRequest"]()
    return k.unary_call(channels[name], version, method)(req, timeout=timeout, **kw)


def fetch(name, version="v1"):
    return call(name, version, "FetchKeys", k.M["FetchKeysRequest"](), timeout=60,
                wait_for_ready=True)


def sign(name, claims, version="v1"):
    b64 = k.b64url(json.dumps(claims, separators=(",", ":")).encode())
    return b64, call(name, version, "Sign", k.M["SignJWTRequest"](claims=b64))


def grpc_error(fn):
    try:
        fn()
    except grpc.RpcError as e:
        return e.code(), e.details()
    raise AssertionError("the call succeeded")


def audit_lines():
    with open(env.audit_file) as f:
        return [json.loads(line) for line in f]


def test_kube_startup_and_sign_es256_rs256_v1_v1alpha1():
    for name, alg, max_exp in (("es", "ES256", 86400), ("rs", "RS256", 7200)):
        for version in ("v1", "v1alpha1"):
            keys = k.check_keys(fetch(name, version))
            md = call(name, version, "Metadata", k.M["MetadataRequest"](), timeout=60,
                      wait_for_ready=True)
            k.check_metadata(md)
            assert md.max_token_expiration_seconds == max_exp, (name, md)
            claims = k.kube_claims(lifetime=600)
            b64, resp = sign(name, claims, version)
            jwt = k.check_sign(resp, b64, keys)
            assert json.loads(k.unb64url(resp.header))["alg"] == alg
            # Byte for byte the claims kube built, verified with nothing but the DER key.
            assert k.verify_jwt(jwt, keys) == claims
            # openssl, independently: the signature over header.claims with the DER key.
            if alg == "RS256":
                openssl_verify(jwt, keys)


def openssl_verify(jwt, keys):
    header = json.loads(k.unb64url(jwt.split(".")[0]))
    d = os.path.join(env.dir, "openssl")
    os.makedirs(d, exist_ok=True)
    der, data, sig = (os.path.join(d, n) for n in ("key.der", "data", "sig"))
    with open(der, "wb") as f:
        f.write(keys[header["kid"]][2])
    with open(data, "wb") as f:
        f.write(jwt.rsplit(".", 1)[0].encode())
    with open(sig, "wb") as f:
        f.write(k.unb64url(jwt.rsplit(".", 1)[1]))
    r = subprocess.run(["openssl", "dgst", "-sha256", "-keyform", "DER", "-verify", der,
                        "-signature", sig, data], capture_output=True, text=True)
    assert r.returncode == 0 and "Verified OK" in r.stdout, r.stdout + r.stderr


def test_kid_format_spki_sha256_is_kubes_own():
    resp = fetch("es")
    (key,) = [x for x in resp.keys if x.key_id == k.b64url(hashlib.sha256(x.key).digest())]
    # kube-rs keeps its RFC 7638 thumbprint: the spki-sha256 kid is per key.
    assert len(resp.keys) == 3, [x.key_id for x in resp.keys]
    assert key.exclude_from_oidc_discovery is False


def test_fetch_keys_lists_only_what_kube_can_verify():
    # rot-old, kube-es, kube-rs: ES256/RS256; the HMAC key has no public half; rot-new
    # retired; kube-ed is EdDSA, which kube does not verify.
    resp = fetch("es")
    doc = json.loads(env.hsmjwt("keys").stdout)
    kids = {x["kid"]: x for x in doc["keys"] if x["alg"] in k.KUBE_ALGS}
    assert len(kids) == len(doc["keys"]) - 1, doc
    assert {x.key_id for x in resp.keys} == set(kids), (list(kids), resp)


def test_daemon_refusals_reach_kube_as_invalid_argument_and_are_recorded():
    now = int(time.time())
    cases = [
        ("payload-json", k.b64url(b"[1,2,3]")),
        ("payload-json", k.b64url(b'{"iss":"a","iss":"b"}')),
        ("payload-exp", k.b64url(json.dumps(k.kube_claims(exp=None)).encode())),
        ("payload-exp", k.b64url(json.dumps(k.kube_claims(exp=now + 60.5)).encode())),
        ("expiry-too-long", k.b64url(json.dumps(k.kube_claims(lifetime=3 * 3600)).encode())),
        ("expiry-past", k.b64url(json.dumps(k.kube_claims(lifetime=-10)).encode())),
        ("payload-iss", k.b64url(json.dumps(k.kube_claims(iss="https://evil")).encode())),
        ("payload-sub", k.b64url(json.dumps(k.kube_claims(sub=None)).encode())),
        ("payload-aud", k.b64url(json.dumps(k.kube_claims(aud=[])).encode())),
        ("payload-base64url", "eyJhIjoxfQ=="),
        ("payload-base64url", "not base64!"),
    ]
    for rule, b64 in cases:
        code, details = grpc_error(lambda: call("rs", "v1", "Sign", k.M["SignJWTRequest"](claims=b64)))
        assert code == grpc.StatusCode.INVALID_ARGUMENT, (rule, code, details)
        # Generic: kube passes the message on to whoever asked for a token.
        assert details == "claims refused by the signer", details
        last = audit_lines()[-1]
        assert last["event"] == "invalid" and last["rule"] == rule, (rule, last)
    # Not granted: sub outside the policy's user-ids.
    code, _ = grpc_error(lambda: sign("rs", k.kube_claims(sub="admin")))
    assert code == grpc.StatusCode.PERMISSION_DENIED, code
    assert audit_lines()[-1]["event"] == "denied"
    # An HMAC key signs no payload: its verifiers would need the secret.
    code, _ = grpc_error(lambda: sign("hmac", k.kube_claims(iss=h.ZUMO_ISS)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT, code
    assert audit_lines()[-1]["rule"] == "key-symmetric", audit_lines()[-1]
    # A key kube cannot verify: refused by the adapter, not left for kube to trip over.
    code, details = grpc_error(lambda: sign("ed", k.kube_claims()))
    assert code == grpc.StatusCode.FAILED_PRECONDITION, (code, details)
    assert "alg is not one kube-apiserver verifies" in signers["ed"].read_log()


def test_no_grant_no_payload_signing():
    """Root's policy grants everything else: the daemon still refuses a payload."""
    pb = k.hsmjwt_pb2()
    s = socket.socket(socket.AF_UNIX)
    s.connect(env.sock)
    claims = k.b64url(json.dumps(k.kube_claims()).encode())
    for i, key in enumerate(("kube-es", "")):
        req = pb.Request(id=7 + i, sign_payload=pb.PayloadSignRequest(payload_b64url=claims,
                                                                      key=key))
        data = req.SerializeToString()
        s.sendall(struct.pack(">I", len(data)) + data)
        n = struct.unpack(">I", h.recv_exact(s, 4))[0]
        resp = pb.Response.FromString(h.recv_exact(s, n))
        assert resp.id == 7 + i and resp.WhichOneof("body") == "error", resp
        assert resp.error.code == pb.ERROR_CODE_PERMISSION_DENIED, resp
        assert "payload signing" in resp.error.message, resp
        rec = audit_lines()[-1]
        assert rec["event"] == "denied" and rec["peer"]["uid"] == 0, rec
    # The same peer gets an ordinary JWT: the grant is about payloads only.
    assert env.sign("--key", "kube-es", "--aud", "x", "--uid", "y")
    s.close()


def test_check_policy_knows_payload_signing():
    args = ("--aud", ISS, "--sub", "system:serviceaccount:a:b", "--key", "kube-es", "--payload")
    r = env.ctl("check-policy", "--uid", str(k.NOBODY), *args)
    assert r.returncode == 0, r.stdout + r.stderr
    r = env.ctl("check-policy", "--uid", "0", *args)
    assert r.returncode == 4 and "payload signing" in r.stdout + r.stderr, r
    # Without --payload root is granted the same key and claims.
    r = env.ctl("check-policy", "--uid", "0", *args[:-1])
    assert r.returncode == 0, r.stdout + r.stderr


def test_issued_records_name_iss_sub_aud_exp_key_kid():
    claims = k.kube_claims()
    b64, resp = sign("es", claims)
    jwt = f"{resp.header}.{b64}.{resp.signature}"
    rec = audit_lines()[-1]
    assert rec["event"] == "issued", rec
    assert rec["iss"] == ISS and rec["sub"] == claims["sub"] and rec["exp"] == claims["exp"]
    assert rec["aud"] == json.dumps(claims["aud"], separators=(",", ":")), rec
    assert rec["key"] == "kube-es" and rec["kid"] == json.loads(k.unb64url(resp.header))["kid"]
    assert rec["jti"] == claims["jti"] and rec["policy"] == "kube-signer", rec
    assert rec["sha256"] == hashlib.sha256(jwt.encode()).hexdigest(), rec
    assert rec["peer"]["uid"] == k.NOBODY, rec
    r = subprocess.run([h.HSMJWTCTL, "audit", "verify", env.audit_file], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_unknown_method_is_unimplemented():
    m = channels["es"].unary_unary("/v1.ExternalJWTSigner/Nope",
                                   request_serializer=lambda x: b"",
                                   response_deserializer=lambda b: b)
    code, _ = grpc_error(lambda: m(None, timeout=10))
    assert code == grpc.StatusCode.UNIMPLEMENTED, code
    m = channels["es"].unary_unary("/v2.ExternalJWTSigner/Sign",
                                   request_serializer=lambda x: b"",
                                   response_deserializer=lambda b: b)
    assert grpc_error(lambda: m(None, timeout=10))[0] == grpc.StatusCode.UNIMPLEMENTED


def test_sixteen_concurrent_streams_one_connection():
    keys = k.check_keys(fetch("es"))
    errors, tokens = [], []

    def worker(i):
        try:
            for j in range(10):
                claims = k.kube_claims(jti=f"w{i}-{j}")
                b64, resp = sign("es", claims)
                tokens.append((k.check_sign(resp, b64, keys), claims))
        except Exception as e:  # noqa: BLE001
            errors.append(e)
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert len(tokens) == 160
    for jwt, claims in tokens:
        assert k.verify_jwt(jwt, keys) == claims


def test_rotation_by_sighup_without_a_failed_call():
    before = fetch("rot")
    old_keys = k.check_keys(before)
    b64, resp = sign("rot", k.kube_claims())
    old_jwt = k.check_sign(resp, b64, old_keys)
    stop, errors, kids = threading.Event(), [], set()

    def load():
        while not stop.is_set():
            try:
                _, r = sign("rot", k.kube_claims())
                kids.add(json.loads(k.unb64url(r.header))["kid"])
            except Exception as e:  # noqa: BLE001
                errors.append(e)
    t = threading.Thread(target=load)
    t.start()
    time.sleep(0.3)
    # The new key becomes the first active one; the old one stays published.
    keys = [("rot-new", dict(KEYS[1][1], state="active")),
            ("rot-old", dict(KEYS[0][1], state="published"))] + KEYS[2:]
    env.write_config(keys=keys)
    env.reload()
    time.sleep(0.3)
    stop.set()
    t.join()
    assert not errors, errors[:3]
    after = fetch("rot")
    new_keys = k.check_keys(after)
    assert (after.data_timestamp.seconds, after.data_timestamp.nanos) > \
        (before.data_timestamp.seconds, before.data_timestamp.nanos)
    assert set(old_keys) < set(new_keys), (list(old_keys), list(new_keys))
    b64, resp = sign("rot", k.kube_claims())
    new_jwt = k.check_sign(resp, b64, new_keys)
    assert new_jwt.split(".")[0] != old_jwt.split(".")[0]
    # Tokens from both keys verify against what kube now holds.
    k.verify_jwt(old_jwt, new_keys)
    k.verify_jwt(new_jwt, new_keys)
    assert len(kids) == 2, kids
    # Unchanged key set: the timestamp stays.
    again = fetch("rot")
    assert again.data_timestamp == after.data_timestamp


def test_callers_outside_allow_uids_are_refused():
    os.chmod(signers["es"].sock, 0o666)
    # Closed at accept: the client sees EOF, a reset, or a broken pipe if it was quick.
    code = ("import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\n"
            "try:\n s.sendall(b'PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n'+bytes(9))\n"
            " print(len(s.recv(100)))\n"
            "except (ConnectionResetError, BrokenPipeError):\n print(0)\n")
    r = subprocess.run(["setpriv", "--reuid", "1234", "--regid", "1234", "--clear-groups",
                        "/usr/bin/python3", "-c", code, signers["es"].sock],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0 and r.stdout.strip() == "0", r.stdout + r.stderr
    assert "Refused a connection" in signers["es"].read_log() and "uid 1234" in \
        signers["es"].read_log()


def test_daemon_gone_is_unavailable_then_shutdown_is_clean():
    env.stop()
    code, details = grpc_error(lambda: sign("es", k.kube_claims()))
    assert code == grpc.StatusCode.UNAVAILABLE, (code, details)
    assert details == "signer unavailable", details
    for ch in channels.values():
        ch.close()
    for name, s in signers.items():
        rc = s.stop()
        assert rc == 0, f"{name} exited {rc}:\n" + s.read_log()[-2000:]


failing = True
try:
    h.run([test_kube_startup_and_sign_es256_rs256_v1_v1alpha1,
           test_kid_format_spki_sha256_is_kubes_own,
           test_fetch_keys_lists_only_what_kube_can_verify,
           test_daemon_refusals_reach_kube_as_invalid_argument_and_are_recorded,
           test_no_grant_no_payload_signing,
           test_check_policy_knows_payload_signing,
           test_issued_records_name_iss_sub_aud_exp_key_kid,
           test_unknown_method_is_unimplemented,
           test_sixteen_concurrent_streams_one_connection,
           test_rotation_by_sighup_without_a_failed_call,
           test_callers_outside_allow_uids_are_refused,
           test_daemon_gone_is_unavailable_then_shutdown_is_clean])
except SystemExit as e:
    failing = e.code != 0
    raise
finally:
    for s in signers.values():
        if s.proc.poll() is None:
            s.proc.kill()
    env.cleanup(failing=failing)
