#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The conformance suite: every case of tests/vectors/vectors.json, made by
the Node.js reference (JSON.stringify and crypto), replayed against the real
daemon on a SoftHSM key, over the wire and through the hsmjwt CLI, and
compared byte for byte with the reference's token. See tests/vectors/README.md
for how exp is moved into the future."""

import base64
import hashlib
import hmac
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
import time

import claims_proto as cp
import harness as h

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS_DIR = os.path.join(HERE, "../vectors")
with open(os.path.join(VECTORS_DIR, "vectors.json"), encoding="utf-8") as f:
    DOC = json.load(f)
CASES = DOC["cases"]
BASE = DOC["exp_base"]
KEY = h.signing_key(DOC["master_key"])
EXP_LITERAL = re.compile(r"__EXP__([0-9.eE+-]*)")

env = h.Env()
env.import_key(master=DOC["master_key"])
env.start(activate=True)
# The replay's base: ahead of now by 30 days, well inside the key's max-lifetime (400d).
NEW_BASE = int(time.time()) + 30 * 86400


def b64(s):
    return base64.urlsafe_b64encode(s.encode()).rstrip(b"=").decode()


def mac(signing_input):
    return base64.urlsafe_b64encode(
        hmac.new(KEY, signing_input.encode(), hashlib.sha256).digest()).rstrip(b"=").decode()


def node_exp(case):
    m = re.match(r'\{"exp":(-?\d+),', case["payload"])
    assert m, case["payload"][:40]
    return int(m.group(1))


def replay_exp(case):
    """The exp the replayed token must carry: the case's own exp moved to NEW_BASE."""
    if case["kind"] == "claims" or case.get("request_expiry"):
        return NEW_BASE + node_exp(case) - BASE
    literal = EXP_LITERAL.search(case["legacy"])
    # A fraction floors the same way in Python as in JavaScript (both IEEE doubles);
    # at the reference's base, check that it did.
    assert math.floor(float(str(BASE) + literal.group(1))) == node_exp(case), case["name"]
    return math.floor(float(str(NEW_BASE) + literal.group(1)))


def expected_token(case):
    exp = replay_exp(case)
    prefix = '{"exp":%d,' % node_exp(case)
    payload = '{"exp":%d,' % exp + case["payload"][len(prefix):]
    signing_input = b64(case["header"]) + "." + b64(payload)
    return signing_input + "." + mac(signing_input)


def legacy_text(case):
    return case["legacy"].replace("__EXP__", str(NEW_BASE))


def test_vectors_file_is_the_reference_output():
    assert len(CASES) >= 200, len(CASES)
    for c in CASES:
        # Our HMAC and base64url reproduce Node's token from Node's header and payload, so
        # only exp's digits differ between the reference's bytes and what the replay expects.
        signing_input = b64(c["header"]) + "." + b64(c["payload"])
        assert c["token"] == signing_input + "." + mac(signing_input), c["name"]
        assert c["header"] == '{"alg":"HS256","typ":"JWT","kid":"0"}', c["name"]


def test_generator_reproduces_vectors():
    node = shutil.which("node")
    if not node:
        print("     (node not installed: regeneration not checked)")
        return
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "vectors.json")
        subprocess.run([node, os.path.join(VECTORS_DIR, "generate.js"), out], check=True,
                       capture_output=True, timeout=120)
        with open(out, "rb") as a, open(os.path.join(VECTORS_DIR, "vectors.json"), "rb") as b:
            assert a.read() == b.read(), "vectors.json differs from generate.js's output"


def wire_request(case):
    if case["kind"] == "legacy":
        kw = {"legacy": legacy_text(case)}
        if case.get("request_expiry"):
            kw["expires_at"] = NEW_BASE
        return kw
    r = case["request"]
    return {"aud": r["aud"], "uid": r["uid"], "expires_at": NEW_BASE,
            "access_token": r.get("access_token"), "claims": [tuple(c) for c in r["claims"]]}


def test_every_vector_over_the_wire():
    conn = cp.Conn(env.sock)
    before = conn.tokens_issued()
    bad = []
    for c in CASES:
        tok, err = conn.sign(**wire_request(c))
        if tok != expected_token(c):
            bad.append((c["name"], err or tok))
    assert conn.tokens_issued() == before + len(CASES)
    conn.close()
    assert not bad, f"{len(bad)} of {len(CASES)} differ, first: {bad[:3]}"


def cli_args(case, i):
    if case["kind"] == "legacy":
        args = ["--claims-json", "-"]
        if case.get("request_expiry"):
            args += ["--expires-at", str(NEW_BASE)]
        return args, legacy_text(case).encode()
    r = case["request"]
    args = ["--aud", r["aud"], "--uid", r["uid"], "--expires-at", str(NEW_BASE)]
    if "access_token" in r:
        args += ["--access-token", r["access_token"]]
    for k, (name, kind, value) in enumerate(r["claims"]):
        if "=" in name:
            return None, None  # the CLI's NAME=VALUE cannot say it; the wire test covers it
        if kind == "string" and (i + k) % 2 == 0:
            args += ["--claim", f"{name}={value}"]
        else:
            # Alternate raw UTF-8 and \u escapes (surrogate pairs for astral characters).
            args += ["--claim-json", f"{name}={json.dumps(value, ensure_ascii=(i + k) % 3 == 0)}"]
    return args, None


def test_every_vector_through_the_cli():
    bad, ran = [], 0
    for i, c in enumerate(CASES):
        args, stdin = cli_args(c, i)
        if args is None:
            continue
        r = env.hsmjwt("sign", *args, stdin=stdin)
        ran += 1
        if r.returncode != 0 or r.stdout.decode() != expected_token(c) + "\n":
            bad.append((c["name"], r.returncode, r.stderr[:200]))
    assert ran >= len(CASES) - 5, ran
    assert not bad, f"{len(bad)} of {ran} differ, first: {bad[:3]}"


def test_upgrades_are_recorded_as_legacy_upgrades():
    upgrades = [r for r, _ in h.read_trail(env.audit_file) if r["event"] == "legacy-upgrade"]
    n_legacy = sum(1 for c in CASES if c["kind"] == "legacy")
    # Once over the wire and once through the CLI; each record names the changes.
    assert len(upgrades) >= 2 * n_legacy, (len(upgrades), n_legacy)
    details = " ".join(r["detail"] for r in upgrades)
    assert 'ver 1 -> 2' in details and 'iss filled in' in details and 'floored to' in details
    assert 'parsed from a JSON string' in details and 'members reordered' in details
    assert all("sha256" in r for r in upgrades)
    with open(env.audit_file) as f:
        assert 'EAAB-demo-token' not in f.read() and 'EAAB-demo-token' not in env.read_log()


def test_sigterm_exits_cleanly():
    assert env.stop() == 0, env.read_log()[-2000:]


try:
    h.run([test_vectors_file_is_the_reference_output, test_generator_reproduces_vectors,
           test_every_vector_over_the_wire, test_every_vector_through_the_cli,
           test_upgrades_are_recorded_as_legacy_upgrades, test_sigterm_exits_cleanly])
finally:
    env.cleanup()
