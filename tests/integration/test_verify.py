#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Verify without the secret: the daemon checks tokens inside the token
(C_Verify), takes the algorithm from the key the kid names, and answers with
a stable reason. Forged, altered and v1 tokens are built here with Python's
standard library from the spec's master key, independently of our code."""

import json
import struct
import time

import harness as h

ISS = "https://issuer.example"
KEYS = [("zumo", {"max-lifetime": "1d"}),
        ("es", {"alg": "ES256", "issuer": ISS}),
        ("rs", {"alg": "RS256", "issuer": ISS})]

env = h.Env(keys=KEYS)
env.import_key()
for name in ("es", "rs"):
    assert env.ctl("generate", name).returncode == 0
env.start()


def verify_raw(tokens, aud=None, iss=None, pattern=None):
    """Pipelines verify requests on one connection; returns [(valid, reason, detail, fields)]."""
    s = h.connect(env.sock)
    frames = []
    for i, t in enumerate(tokens):
        body = h.field(1, 2, t.encode() if isinstance(t, str) else t)
        if aud:
            body += h.field(2, 2, aud.encode())
        if iss:
            body += h.field(3, 2, iss.encode())
        if pattern:
            body += h.field(4, 2, pattern.encode())
        req = h.field(1, 0, i + 1) + h.field(5, 2, body)
        frames.append(struct.pack(">I", len(req)) + req)
    s.sendall(b"".join(frames))
    out = {}
    for _ in tokens:
        m = h.parse_message(h.recv_frame(s))
        v = h.parse_message(m[5][0]) if 5 in m else None
        assert v is not None, m
        out[m[1][0]] = (bool(v.get(1, [0])[0]), v.get(2, [0])[0],
                        v.get(3, [b""])[0].decode(), v)
    s.close()
    return [out[i + 1] for i in range(len(tokens))]


def zumo_token(payload, header=None, master=h.SPEC_MASTER):
    header = header or {"alg": "HS256", "typ": "JWT", "kid": "0"}
    si = h.b64url(h.js_json(header).encode()) + "." + h.b64url(h.js_json(payload).encode())
    mac = h.hmac.new(h.signing_key(master), si.encode(), h.hashlib.sha256).digest()
    return si + "." + h.b64url(mac)


def zumo_payload(exp_delta=600, **extra):
    p = {"exp": int(time.time()) + exp_delta, "iss": h.ZUMO_ISS, "ver": 2, "aud": "Custom",
         "uid": "Custom:42"}
    p.update(extra)
    return p


MALFORMED, UNKNOWN_KID, BAD_SIG, EXPIRED, NOT_YET, WRONG_AUD, WRONG_ISS, REFUSED_ALG, \
    WRONG_SUB, V1_REFUSED = range(1, 11)


def test_issued_tokens_verify_with_cli():
    for key in ("zumo", "es", "rs"):
        tok = env.sign("--key", key, "--aud", "Custom", "--uid", "Custom:7")
        r = env.hsmjwt("verify", "--aud", "Custom", tok)
        assert r.returncode == 0, (key, r.stderr)
        assert json.loads(r.stdout) == h.decode_part(tok, 1)
        r = env.hsmjwt("verify", "-", stdin=tok.encode() + b"\n")
        assert r.returncode == 0, r.stderr


def test_every_single_byte_change_is_refused():
    for key in ("zumo", "es"):
        tok = env.sign("--key", key, "--aud", "Custom", "--uid", "Custom:8")
        variants = []
        for i, ch in enumerate(tok):
            if ch == ".":
                continue
            repl = "B" if ch != "B" else "C"
            variants.append(tok[:i] + repl + tok[i + 1:])
        results = verify_raw(variants)
        bad = [(i, r) for i, r in enumerate(results) if r[0]]
        assert not bad, bad[:3]
        assert all(r[1] in (MALFORMED, BAD_SIG, UNKNOWN_KID, REFUSED_ALG) for r in results)


def test_structural_refusals():
    tok = env.sign("--aud", "Custom", "--uid", "Custom:9")
    hdr, pl, sig = tok.split(".")
    cases = {
        "truncated": (tok[:-5], (BAD_SIG, MALFORMED)),
        "two parts": (hdr + "." + pl, (MALFORMED,)),
        "extra segment": (tok + ".AAAA", (MALFORMED,)),
        "non-base64url char": (hdr + "." + pl[:-1] + "+" + "." + sig, (MALFORMED,)),
        "padding": (hdr + "=." + pl + "." + sig, (MALFORMED,)),
        "empty signature": (hdr + "." + pl + ".", (MALFORMED,)),
        "header not JSON": (h.b64url(b"nope") + "." + pl + "." + sig, (MALFORMED,)),
        "unknown kid": (zumo_token(zumo_payload(), {"alg": "HS256", "typ": "JWT", "kid": "9"}),
                        (UNKNOWN_KID,)),
        "alg none": (h.b64url(b'{"alg":"none","typ":"JWT","kid":"0"}') + "." + pl + ".AAAA",
                     (REFUSED_ALG,)),
        "duplicate member": (h.b64url(b'{"alg":"HS256","alg":"none","kid":"0"}') + "." + pl
                             + "." + sig, (MALFORMED,)),
        "wrong master key": (zumo_token(zumo_payload(), master="another master"), (BAD_SIG,)),
    }
    names = list(cases)
    results = verify_raw([cases[n][0] for n in names])
    for n, r in zip(names, results):
        assert not r[0] and r[1] in cases[n][1], (n, r[:3])


def test_algorithm_comes_from_the_key():
    es = env.sign("--key", "es", "--aud", "api", "--uid", "u")
    rs = env.sign("--key", "rs", "--aud", "api", "--uid", "u")
    rs_kid = h.decode_part(rs, 0)["kid"]
    # HS256 presented for the RSA key, MACed with the RSA public key's JWK text as the
    # secret (the classic confusion attack): refused by algorithm, never tried as HMAC.
    header = {"alg": "HS256", "typ": "JWT", "kid": rs_kid}
    si = h.b64url(h.js_json(header).encode()) + "." + rs.split(".")[1]
    forged = si + "." + h.b64url(h.hmac.new(b"public", si.encode(), h.hashlib.sha256).digest())
    swapped = h.b64url(h.js_json(dict(h.decode_part(es, 0), alg="ES384")).encode()) + "." + \
        ".".join(es.split(".")[1:])
    r1, r2 = verify_raw([forged, swapped])
    assert (r1[0], r1[1]) == (False, REFUSED_ALG), r1
    assert (r2[0], r2[1]) == (False, REFUSED_ALG), r2
    r = env.hsmjwt("verify", forged)
    assert r.returncode == 12, r


def test_claim_checks_and_exit_codes():
    expired = zumo_token(zumo_payload(exp_delta=-400))
    in_skew = zumo_token(zumo_payload(exp_delta=-100))
    future_nbf = zumo_token(zumo_payload(nbf=int(time.time()) + 1000))
    future_iat = zumo_token(zumo_payload(iat=int(time.time()) + 1000))
    good = zumo_token(zumo_payload())
    wrong_iss = zumo_token(zumo_payload(iss="urn:other"))
    res = verify_raw([expired, in_skew, future_nbf, future_iat, wrong_iss])
    assert [r[1] for r in res] == [EXPIRED, 0, NOT_YET, NOT_YET, WRONG_ISS], [r[:3] for r in res]
    assert res[1][0]
    assert verify_raw([good], aud="Facebook")[0][1] == WRONG_AUD
    assert verify_raw([good], aud="Custom")[0][0]
    assert verify_raw([good], iss="urn:else")[0][1] == WRONG_ISS
    assert verify_raw([good], pattern="Custom:*")[0][0]
    assert verify_raw([good], pattern="Facebook:*")[0][1] == WRONG_SUB
    for tok, args, code in ((expired, [], 13), (future_nbf, [], 13), (good, ["--aud", "X"], 14),
                            (good, ["--uid-pattern", "F*"], 14), ("a.b", [], 10),
                            (zumo_token(zumo_payload(), {"alg": "HS256", "kid": "7"}), [], 11)):
        r = env.hsmjwt("verify", *args, tok)
        assert r.returncode == code, (args, code, r.returncode, r.stderr)
        assert r.stdout == b"" and b"invalid token" in r.stderr


def test_v1_tokens_flagged_and_recorded():
    v1_header = {"alg": "HS256", "typ": "JWT", "kid": 0}
    v1 = zumo_token(dict(zumo_payload(), ver=1), v1_header)
    # v1 scripts could emit a fractional exp.
    v1_frac = zumo_token(dict(zumo_payload(), ver=1, exp=time.time() + 600.5), v1_header)
    for tok in (v1, v1_frac):
        (valid, reason, detail, v), = verify_raw([tok])
        assert valid and v.get(7, [0])[0] == 1, (reason, detail)
    r = env.hsmjwt("verify", v1)
    assert r.returncode == 0 and b"deprecated" in r.stderr, r
    events = [rec["event"] for rec, _ in h.read_trail(env.audit_file)]
    assert events.count("deprecation") >= 3, events[-20:]
    # accept-v1 = no: refused with its own reason and exit code.
    env.write_config([("zumo", {"max-lifetime": "1d", "accept-v1": "no"})] + KEYS[1:])
    env.reload()
    (valid, reason, _, _), = verify_raw([v1])
    assert not valid and reason == V1_REFUSED
    assert env.hsmjwt("verify", v1).returncode == 15
    assert verify_raw([zumo_token(zumo_payload())])[0][0]  # v2 still fine
    env.write_config(KEYS)
    env.reload()


def test_verify_records_fingerprint_never_token():
    tok = env.sign("--aud", "Custom", "--uid", "Custom:audit")
    verify_raw([tok])
    fp = h.hashlib.sha256(tok.encode()).hexdigest()
    recs = [rec for rec, _ in h.read_trail(env.audit_file) if rec.get("sha256") == fp]
    assert [r["event"] for r in recs] == ["issued", "verify-valid"], recs
    with open(env.audit_file) as f:
        trail = f.read()
    for text in (trail, env.read_log()):
        assert tok.split(".")[2] not in text


def test_verify_needs_the_policy_grant_and_is_rate_limited():
    tok = env.sign("--aud", "Custom", "--uid", "Custom:p")
    no_verify = dict(h.ROOT_POLICY[0][1])
    no_verify.pop("verify")
    env.write_config(policies=[("signers", no_verify)])
    env.reload()
    r = env.hsmjwt("verify", tok)
    assert r.returncode == 4 and b"does not grant verify" in r.stderr, r
    limited = dict(h.ROOT_POLICY[0][1], rate="1/h", burst="2")
    env.write_config(policies=[("verifiers", limited)])
    env.reload()
    codes = [env.hsmjwt("verify", tok).returncode for _ in range(3)]
    assert codes == [0, 0, 5], codes
    env.write_config(policies=h.ROOT_POLICY)
    env.reload()


def test_audit_verify_setting():
    # [audit] verify = failures: valid tokens leave no record, invalid ones do.
    with h.Env(audit={"verify": "failures"}) as e2:
        e2.import_key()
        e2.start()
        tok = e2.sign("--aud", "Custom", "--uid", "Custom:a")
        assert e2.hsmjwt("verify", tok).returncode == 0
        assert e2.hsmjwt("verify", tok[:-2] + "AA").returncode == 12
        events = [rec["event"] for rec, _ in h.read_trail(e2.audit_file)]
        assert "verify-valid" not in events and events.count("verify-invalid") == 1, events


def test_enable_verify_on_existing_key():
    r = env.ctl("enable-verify", "zumo")
    assert r.returncode == 0 and "may now verify" in r.stderr, r
    r = env.ctl("enable-verify", "es")
    assert r.returncode == 1 and "public half" in r.stderr, r


try:
    h.run([test_issued_tokens_verify_with_cli, test_every_single_byte_change_is_refused,
           test_structural_refusals, test_algorithm_comes_from_the_key,
           test_claim_checks_and_exit_codes, test_v1_tokens_flagged_and_recorded,
           test_verify_records_fingerprint_never_token,
           test_verify_needs_the_policy_grant_and_is_rate_limited, test_audit_verify_setting,
           test_enable_verify_on_existing_key])
finally:
    env.cleanup()
