#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The module matrix: the conformance part of the integration suite on every
PKCS#11 module hsmjwtd promises to work with (tests/modules/setup.sh makes a
fresh token on each). Per module, one daemon: every algorithm provisioned the
way that works on that module, signed through the daemon, verified by
python3-jwcrypto from the served JWKS alone (HS256: from the derived key),
by `hsmjwt verify`, a forged token refused without touching the token's
health, a key that is not on the token reported and refused while the
others work, and all of it again after a reload.

Usage: test_matrix.py [MODULE...]   (default: all; a module whose setup fails
for an environment reason is skipped with the reason, not failed)

Writes the cells to $HSMJWT_MATRIX_RESULTS (default BUILD/modules-matrix.json);
tests/modules/table.py turns that into the README's compatibility table."""

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../integration"))
import harness as h  # noqa: E402
import table  # noqa: E402

try:
    from jwcrypto import jwk, jwt
except ImportError:
    h.skip("python3-jwcrypto is not installed")

SETUP = os.path.join(HERE, "setup.sh")
MODULES = ["softhsm", "remote", "tpm2", "opencryptoki", "nss"]
ALGS = [("hs256", "HS256"), ("es256", "ES256"), ("es384", "ES384"), ("rs256", "RS256"),
        ("ps256", "PS256"), ("eddsa", "EdDSA")]
# What each module itself supports (ARCHITECTURE.md, Token facts): these cells must pass;
# the others must be reported as not offered, never fail some other way.
EXPECTED = {
    "softhsm": {"HS256", "ES256", "ES384", "RS256", "PS256", "EdDSA"},
    "remote": {"HS256", "ES256", "ES384", "RS256", "PS256"},
    "tpm2": {"HS256", "ES256", "ES384", "RS256", "PS256"},
    "opencryptoki": {"HS256", "RS256", "PS256"},
    "nss": {"HS256", "ES256", "ES384", "RS256", "PS256"},
}
ISS = "https://issuer.example"
MASTER = h.SPEC_MASTER
RESULTS = os.environ.get("HSMJWT_MATRIX_RESULTS", os.path.join(h.BUILD, "modules-matrix.json"))
NOT_OFFERED = "not offered"


class Skip(Exception):
    pass


class ModuleEnv(h.Env):
    """h.Env with the [token] section and environment tests/modules/setup.sh made."""

    def __init__(self, module):
        super().__init__(keys=(), init_token=False)
        self.module = module
        self.mdir = os.path.join(self.dir, "module")
        r = subprocess.run([SETUP, module, self.mdir], capture_output=True, text=True,
                           timeout=600)
        if r.returncode == 77:
            raise Skip(r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "skipped")
        assert r.returncode == 0, f"setup.sh {module}: {r.stderr}"
        with open(os.path.join(self.mdir, "token.conf")) as f:
            token = f.read()
        with open(os.path.join(self.mdir, "version")) as f:
            self.version = f.read().strip()
        with open(os.path.join(self.mdir, "env")) as f:
            for line in f.read().splitlines():
                if "=" in line:
                    k, v = line.split("=", 1)
                    self.daemon_env[k] = v
        self.env = dict(self.env, **self.daemon_env)
        self.token_uri = [ln.split("=", 1)[1].strip() for ln in token.splitlines()
                          if ln.startswith("uri")][0]
        server, audit = self.header.split("\n[token]")[0].split("\n[audit]")
        self.header = f"{server}\n[audit]{audit}\n{token}sessions = 2\n"

    def key_uri(self, name):
        return f"{self.token_uri};object={name}"

    def cleanup(self, failing=False):
        # The daemon first, then what the module needs (swtpm, the bus, tpm2-abrmd, the
        # p11-kit server), by the pids setup.sh wrote into the directory h.Env removes.
        try:
            self.stop()
        finally:
            subprocess.run([SETUP, "stop", self.mdir], capture_output=True, timeout=60)
            super().cleanup(failing)


def derived_key():
    return hashlib.sha256(MASTER.encode() + b"JWTSig").digest()


def key_section(env, name, alg):
    if alg == "HS256":
        return (name, {"uri": env.key_uri(name) + ";type=secret-key", "max-lifetime": "1d"})
    return (name, {"uri": env.key_uri(name), "alg": alg, "issuer": ISS, "max-lifetime": "1d"})


def provision(env, name, alg):
    """Returns (how, None) once the key is in the token, or (None, why not)."""
    if alg != "HS256":
        r = env.ctl("generate", "--replace", name)
        if r.returncode == 0:
            return "hsmjwtctl generate", None
        if "offers no CKM_" in r.stderr or "CKR_MECHANISM_INVALID" in r.stderr:
            return None, NOT_OFFERED + ": " + r.stderr.strip().splitlines()[-1]
        raise AssertionError(f"generate {name} on {env.module}: {r.stderr}")
    r = env.ctl("import-zumo", "--replace", name, stdin=MASTER + "\n")
    if r.returncode == 0:
        return "hsmjwtctl import-zumo", None
    assert "cannot take the key through C_CreateObject" in r.stderr, r.stderr
    assert "--derive-only" in r.stderr and "adopt" in r.stderr, r.stderr
    if env.module != "tpm2":
        return None, NOT_OFFERED + ": no secret-key import"
    # The path import-zumo offers: derive to a descriptor, the module's tool, adopt.
    keyfile = os.path.join(env.mdir, "derived.key")
    fd = os.open(keyfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        r = subprocess.run([h.HSMJWTCTL, "--config", env.conf, "import-zumo", "--derive-only",
                            str(fd), name], input=MASTER + "\n", env=env.env, text=True,
                           capture_output=True, pass_fds=(fd,), timeout=60)
    finally:
        os.close(fd)
    assert r.returncode == 0, r.stderr
    assert os.path.getsize(keyfile) == 32
    try:
        r = subprocess.run([SETUP, "tpm2-import", env.mdir, name, keyfile], capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stderr
    finally:
        subprocess.run(["shred", "-u", keyfile], check=True)
    r = env.ctl("adopt", "--check-master", name, stdin=MASTER + "\n")
    assert r.returncode == 0, r.stderr
    assert "signs as SHA-256(master" in r.stderr, r.stderr
    return "import-zumo --derive-only + tpm2_ptool import + adopt", None


def sign(env, name, alg):
    if alg == "HS256":
        return env.sign("--key", name, "--aud", "Custom", "--uid", "Custom:matrix")
    return env.sign("--key", name, "--aud", "api", "--uid", "alice", "--lifetime", "120")


def jwcrypto_verify(token, alg, jwks_text):
    if alg == "HS256":
        key = jwk.JWK(kty="oct", k=base64.urlsafe_b64encode(derived_key()).rstrip(b"=").decode())
    else:
        key = jwk.JWKSet.from_json(jwks_text)
    t = jwt.JWT(jwt=token, key=key, algs=[alg])
    return json.loads(t.claims)


def forge(token):
    # The second-to-last character carries six bits of the signature.
    return token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]


def status(env):
    """unavailable_keys from a raw StatusRequest (the CLI has no status command)."""
    s = h.connect(env.sock)
    try:
        h.send_frame(s, h.field(1, 0, 7) + h.field(3, 2, b""))
        m = h.parse_message(h.recv_frame(s))
    finally:
        s.close()
    assert 3 in m, m
    st = h.parse_message(m[3][0])
    return [v.decode() for v in st.get(4, [])], [v.decode() for v in st.get(2, [])]


def check_key(env, name, alg, jwks_text, phase):
    tok = sign(env, name, alg)
    assert h.decode_part(tok, 0)["alg"] == alg, tok
    claims = jwcrypto_verify(tok, alg, jwks_text)
    assert claims == h.decode_part(tok, 1), claims
    r = env.hsmjwt("verify", tok)
    assert r.returncode == 0, f"{phase}: hsmjwt verify of a valid {alg} token: {r}"
    r = env.hsmjwt("verify", forge(tok))
    assert r.returncode == 12, f"{phase}: hsmjwt verify of a forged {alg} token: {r}"


def run_module(module):
    cells = {}
    t0 = time.monotonic()
    with ModuleEnv(module) as env:
        keys, how = [], {}
        # Every algorithm is tried: a module that offers more than EXPECTED is noticed.
        for name, alg in ALGS:
            env.write_config(keys=[key_section(env, name, alg)])
            done, why = provision(env, name, alg)
            if done:
                keys.append(key_section(env, name, alg))
                how[alg] = done
            else:
                cells[alg] = {"result": why}
        # A key whose object is not on the token: reported, refused, the others work.
        absent = ("absent", {"uri": env.key_uri("absent"), "alg": "RS256", "issuer": ISS})
        env.write_config(keys=keys + [absent])
        r = env.ctl("list")
        assert r.returncode == 1, r
        configured = r.stdout.split("Key objects on token")[0].splitlines()
        rows = {ln.split()[0]: ln for ln in configured if ln.startswith("  ") and ln.split()}
        assert "absent" in rows, r.stdout + r.stderr
        assert "UNAVAILABLE: public key: no object" in rows["absent"], r.stdout
        assert all(rows[n].rstrip().endswith(" ok") for n, _ in keys), r.stdout
        env.start()
        unavailable, signing = status(env)
        assert len(unavailable) == 1 and unavailable[0].startswith("absent: "), unavailable
        r = env.hsmjwt("sign", "--key", "absent", "--aud", "api", "--uid", "alice")
        assert r.returncode == 3 and b"cannot be used" in r.stderr, r
        assert sorted(signing) == sorted(n for n, _ in keys), (signing, keys)
        jwks_text = env.hsmjwt("keys").stdout.decode()
        for phase in ("start", "reload"):
            if phase == "reload":
                env.reload()
                assert "Reloaded:" in env.read_log(), env.read_log()[-2000:]
                jwks_text = env.hsmjwt("keys").stdout.decode()
            for name, opts in keys:
                alg = opts.get("alg", "HS256")
                try:
                    check_key(env, name, alg, jwks_text, phase)
                    cells.setdefault(alg, {"result": "ok", "provisioning": how[alg]})
                except AssertionError as e:
                    cells[alg] = {"result": f"FAIL ({phase}): {e}"[:300],
                                  "provisioning": how[alg]}
        log = env.read_log()
        for name, lacks, using in re.findall(r"Key (\S+): token lacks (\S+), using (\S+)", log):
            alg = dict(ALGS).get(name)
            if alg in cells:
                cells[alg]["mechanism"] = f"{using} (no {lacks})"
        # No forged token, on any module, may pass for a device failure.
        assert "Token failed" not in log and not re.search(r"Token .* reopened", log), log[-3000:]
        version = env.version
    return {"module": module, "version": version, "cells": cells,
            "seconds": round(time.monotonic() - t0, 1)}


def main():
    modules = sys.argv[1:] or MODULES
    results, failed = [], 0
    for module in modules:
        try:
            res = run_module(module)
        except Skip as e:
            print(f"skip {module}: {e}")
            results.append({"module": module, "skipped": str(e)})
            continue
        except (AssertionError, KeyError, OSError, subprocess.SubprocessError) as e:
            print(f"FAIL {module}: {type(e).__name__}: {e}")
            results.append({"module": module, "failed": str(e)[:500]})
            failed += 1
            continue
        results.append(res)
        for alg in [a for _, a in ALGS]:
            cell = res["cells"].get(alg, {"result": "missing"})
            want = alg in EXPECTED[module]
            ok = cell["result"] == "ok" if want else cell["result"] in ("ok",) or \
                cell["result"].startswith(NOT_OFFERED)
            if not ok:
                failed += 1
            print(f"{'ok  ' if ok else 'FAIL'} {module:12} {alg:6} {cell['result']}"
                  + (f" [{cell['provisioning']}]" if "provisioning" in cell else ""))
        print(f"     {module}: {res['version']}, {res['seconds']} s")
    with open(RESULTS, "w") as f:
        json.dump(results, f, indent=1)
    print(f"     results in {RESULTS}; the README's table from them (tests/modules/table.py):\n")
    print(table.markdown(results))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
