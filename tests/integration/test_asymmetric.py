#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Asymmetric keys end to end: each algorithm generated in a fresh SoftHSM
token by hsmjwtctl, tokens signed through the daemon, verified by
python3-jwcrypto with nothing but the JWKS the daemon served; key states,
not-after, and rotation by reload under a signing loop."""

import json
import threading
import time

import harness as h

try:
    from jwcrypto import jwk, jws, jwt
except ImportError:
    h.skip("python3-jwcrypto is not installed")

ISS = "https://issuer.example"
ALGS = {"es256": "ES256", "es384": "ES384", "rs2048": "RS256", "rs3072": "RS256",
        "ps256": "PS256", "ed25519": "EdDSA"}


def key_opts(alg, **extra):
    opts = {"alg": alg, "issuer": ISS, "max-lifetime": "1d"}
    opts.update(extra)
    return opts


def keys_config(states=None, extra=None):
    states = states or {}
    extra = extra or {}
    out = []
    for name, alg in ALGS.items():
        o = key_opts(alg, **extra.get(name, {}))
        if name == "rs3072":
            o["bits"] = "3072"
        if name in states:
            o["state"] = states[name]
        out.append((name, o))
    return out


env = h.Env(keys=keys_config())
for name in ALGS:
    r = env.ctl("generate", name)
    assert r.returncode == 0, r.stderr
env.start()


def served_jwks():
    r = env.hsmjwt("keys")
    assert r.returncode == 0, r.stderr
    return r.stdout.decode()


def verify(token, jwks_text):
    """Verifies with jwcrypto; returns header and payload as the token carries them (in order)."""
    keyset = jwk.JWKSet.from_json(jwks_text)
    t = jwt.JWT(jwt=token, key=keyset, algs=list(set(ALGS.values())))
    assert json.loads(t.claims) == h.decode_part(token, 1)
    return h.decode_part(token, 0), h.decode_part(token, 1)


def test_every_algorithm_verifies_from_jwks_alone():
    jwks_text = served_jwks()
    for name, alg in ALGS.items():
        before = int(time.time())
        tok = env.sign("--key", name, "--aud", "api", "--uid", "alice", "--lifetime", "120")
        header, claims = verify(tok, jwks_text)
        assert header["alg"] == alg, header
        assert list(header) == ["alg", "typ", "kid"] and header["typ"] == "JWT", header
        assert list(claims) == ["iss", "sub", "aud", "exp", "iat", "jti"], claims
        assert claims["iss"] == ISS and claims["sub"] == "alice" and claims["aud"] == "api"
        assert before <= claims["iat"] <= claims["exp"] - 120 + 1, claims
        assert len(h.base64.urlsafe_b64decode(claims["jti"] + "==")) == 16, claims


def test_kids_are_rfc7638_thumbprints_and_strings():
    doc = json.loads(served_jwks())
    assert len(doc["keys"]) == len(ALGS), doc
    for entry in doc["keys"]:
        assert entry["use"] == "sig" and isinstance(entry["kid"], str), entry
        k = jwk.JWK(**{m: entry[m] for m in entry if m not in ("kid", "alg", "use")})
        assert k.thumbprint() == entry["kid"], entry
    by_alg = {e["alg"]: e for e in doc["keys"]}
    assert by_alg["EdDSA"]["kty"] == "OKP" and by_alg["EdDSA"]["crv"] == "Ed25519"
    assert by_alg["ES384"]["crv"] == "P-384"
    rsa_sizes = sorted(len(h.base64.urlsafe_b64decode(e["n"] + "==")) * 8
                       for e in doc["keys"] if e["kty"] == "RSA")
    assert rsa_sizes == [2048, 2048, 3072], rsa_sizes


def test_signature_lengths_are_jws_form():
    for name, size in (("es256", 64), ("es384", 96), ("ed25519", 64), ("rs3072", 384)):
        tok = env.sign("--key", name, "--aud", "api", "--uid", "bob")
        sig = h.base64.urlsafe_b64decode(tok.split(".")[2] + "==")
        assert len(sig) == size, (name, len(sig))


def test_ctl_jwks_matches_daemon_without_pin():
    # Offline, for publishing: no login needed for public halves.
    r = env.ctl("jwks")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == json.loads(served_jwks())


def test_independent_openssl_verification_es256():
    # A second verifier: OpenSSL, from the JWK turned into PEM by jwcrypto.
    doc = jwk.JWKSet.from_json(served_jwks())
    tok = env.sign("--key", "es256", "--aud", "api", "--uid", "carol")
    kid = json.loads(h.base64.urlsafe_b64decode(tok.split(".")[0] + "=="))["kid"]
    pem = doc.get_key(kid).export_to_pem()
    r, s = (lambda b: (int.from_bytes(b[:32], "big"), int.from_bytes(b[32:], "big")))(
        h.base64.urlsafe_b64decode(tok.split(".")[2] + "=="))

    def der_int(v):
        b = v.to_bytes((v.bit_length() + 8) // 8, "big")
        return b"\x02" + bytes([len(b)]) + b
    body = der_int(r) + der_int(s)
    der = b"\x30" + bytes([len(body)]) + body
    import os
    import subprocess
    pub, sigf, data = (os.path.join(env.dir, n) for n in ("pub.pem", "sig.der", "data"))
    open(pub, "wb").write(pem)
    open(sigf, "wb").write(der)
    open(data, "wb").write(tok.rsplit(".", 1)[0].encode())
    out = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pub, "-signature", sigf, data],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "Verified OK" in out.stdout, out


def test_states_and_not_after():
    now = int(time.time())
    env.write_config(keys_config(
        states={"es384": "published", "rs3072": "retired"},
        extra={"ed25519": {"not-after": str(now + 600)}}))
    env.reload()
    doc = json.loads(served_jwks())
    assert len(doc["keys"]) == len(ALGS) - 1, doc  # retired: gone; published: still there
    r = env.hsmjwt("sign", "--key", "es384", "--aud", "api", "--uid", "x")
    assert r.returncode == 3 and b"published, not active" in r.stderr, r
    r = env.hsmjwt("sign", "--key", "rs3072", "--aud", "api", "--uid", "x")
    assert r.returncode == 3 and b"no key named" in r.stderr, r
    env.sign("--key", "ed25519", "--aud", "api", "--uid", "x", "--lifetime", "300")
    r = env.hsmjwt("sign", "--key", "ed25519", "--aud", "api", "--uid", "x", "--lifetime", "900")
    assert r.returncode == 3 and b"not-after" in r.stderr, r
    r = env.hsmjwt("sign", "--key", "es256", "--aud", "api", "--uid", "x",
                   "--access-token", "t")
    assert r.returncode == 3 and b"zumo-v2 profile" in r.stderr, r


def test_bad_reload_keeps_old_config():
    before = served_jwks()
    with open(env.conf, "a") as f:
        f.write("\n[key broken]\nuri = pkcs11:token=hsmjwt;object=missing\nalg = ES256\n"
                f"issuer = {ISS}\n")
    env.reload()
    assert served_jwks() == before
    assert "Reload refused" in env.read_log()
    env.sign("--key", "es256", "--aud", "api", "--uid", "still-serving")


def test_rotation_under_load():
    # es256 active and es384 published; a client signs in a loop with the default key
    # while the config switches: es384 active first, es256 published.
    env.write_config([("es256", key_opts("ES256")), ("es384", key_opts("ES384", state="published"))])
    env.reload()
    jwks_text = served_jwks()
    results, errors = [], []
    stop = threading.Event()

    def loop():
        s = h.connect(env.sock)
        i = 0
        while not stop.is_set():
            i += 1
            h.send_frame(s, h.sign_request(i, b"api", b"loop"))
            m = h.parse_message(h.recv_frame(s))
            if 2 in m:
                results.append(h.parse_message(m[2][0])[1][0].decode())
            else:
                errors.append(m)
        s.close()

    t = threading.Thread(target=loop)
    t.start()
    while len(results) < 20:  # some tokens before the switch
        time.sleep(0.01)
    env.write_config([("es384", key_opts("ES384")), ("es256", key_opts("ES256", state="published"))])
    env.reload()
    n = len(results)
    while len(results) < n + 20:  # some tokens after the switch, however slow the machine
        time.sleep(0.01)
    stop.set()
    t.join(10)
    assert not errors, errors[:3]
    algs = [json.loads(h.base64.urlsafe_b64decode(tok.split(".")[0] + "=="))["alg"]
            for tok in results]
    assert algs[0] == "ES256" and algs[-1] == "ES384", (algs[:3], algs[-3:])
    switch = algs.index("ES384")
    assert all(a == "ES256" for a in algs[:switch]) and all(a == "ES384" for a in algs[switch:])
    for tok in (results[0], results[-1]):
        verify(tok, jwks_text)  # both keys were in the JWKS before the switch


try:
    h.run([test_every_algorithm_verifies_from_jwks_alone, test_kids_are_rfc7638_thumbprints_and_strings,
           test_signature_lengths_are_jws_form, test_ctl_jwks_matches_daemon_without_pin,
           test_independent_openssl_verification_es256, test_states_and_not_after,
           test_bad_reload_keeps_old_config, test_rotation_under_load])
finally:
    env.cleanup()
