#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Key provisioning and isolation: hsmjwtctl import-zumo's attributes and
refusals, and the daemon observed through OpenSC's pkcs11-spy never asking
the token for key material."""

import os
import re
import subprocess
import time

import harness as h

SPY = "/usr/lib/x86_64-linux-gnu/pkcs11/pkcs11-spy.so"


def pkcs11_tool(env, *args):
    return subprocess.run(["pkcs11-tool", "--module", h.softhsm_module(), "--token-label", "hsmjwt",
                           "--login", "--pin", h.PIN, *args], env=env.env, capture_output=True,
                          text=True)


def test_import_sets_sensitive_non_extractable():
    with h.Env() as env:
        env.import_key()
        if not os.path.exists("/usr/bin/pkcs11-tool"):
            h.skip("pkcs11-tool (opensc) is not installed")
        listing = pkcs11_tool(env, "--list-objects").stdout
        assert "Secret Key Object" in listing and "label:      zumo" in listing, listing
        access = [l for l in listing.splitlines() if "Access:" in l]
        assert access and "sensitive" in access[0] and "extractable" not in access[0], listing
        r = pkcs11_tool(env, "--read-object", "--type", "secrkey", "--label", "zumo")
        assert r.returncode != 0 and "CKR_ATTRIBUTE_SENSITIVE" in r.stderr, r


def test_import_refuses_overwrite_and_replace_switches_key():
    with h.Env() as env:
        env.import_key(master="first master")
        r = env.ctl("import-zumo", "zumo", stdin="second master\n")
        assert r.returncode == 1 and "--replace" in r.stderr, r
        env.import_key(master="second master", replace=True)
        listing = pkcs11_tool(env, "--list-objects").stdout
        assert listing.count("label:      zumo") == 1, listing
        env.start()
        exp = int(time.time()) + 300
        tok = env.sign("--aud", "Custom", "--uid", "Custom:1", "--expires-at", str(exp))
        assert tok == h.reference_token("second master", exp, "Custom", "Custom:1")


def test_import_input_checks():
    with h.Env() as env:
        for stdin, message in (("", "No master key"), ("a\nb\n", "several lines"),
                               ("x" * 5000, "longer than")):
            r = env.ctl("import-zumo", "zumo", stdin=stdin)
            assert r.returncode == 1 and message in r.stderr, (stdin[:10], r)
        r = env.ctl("import-zumo", "nokey", stdin="m\n")
        assert r.returncode == 1 and "no [key nokey]" in r.stderr, r
        r = env.ctl("frobnicate")
        assert r.returncode == 2 and "unknown command" in r.stderr, r


def test_wrong_pin_reported_once():
    with h.Env() as env:
        env.import_key()
        with open(os.path.join(env.dir, "pin"), "w") as f:
            f.write("9999\n")
        r = env.ctl("import-zumo", "--replace", "zumo", stdin="m\n")
        assert r.returncode == 1 and r.stderr.count("CKR_PIN_INCORRECT") == 1, r
        d = subprocess.run([h.HSMJWTD, "--config", env.conf], env=env.env, capture_output=True,
                           text=True, timeout=30)
        assert d.returncode == 1 and d.stderr.count("CKR_PIN_INCORRECT") == 1, d.stderr


def test_daemon_never_reads_key_material_under_pkcs11_spy():
    if not os.path.exists(SPY):
        h.skip("OpenSC's pkcs11-spy.so is not installed")
    spylog = None
    with h.Env(module=SPY) as env:
        spylog = os.path.join(env.dir, "spy.log")
        env.daemon_env.update(PKCS11SPY=h.softhsm_module(), PKCS11SPY_OUTPUT=spylog)
        env.env.update(env.daemon_env)
        # Import is the one direction key bytes may travel; start the spy log after it.
        env.import_key()
        os.unlink(spylog)
        env.start()
        exp = int(time.time()) + 300
        tok = env.sign("--aud", "Custom", "--uid", "Custom:spy", "--expires-at", str(exp))
        assert tok == h.reference_token(h.SPEC_MASTER, exp, "Custom", "Custom:spy")
        env.stop()
        with open(spylog, errors="replace") as f:
            log = f.read()
        assert "C_Sign" in log and "C_CopyObject" in log, log[-2000:]
        for forbidden in ("C_WrapKey", "C_DigestKey"):
            assert forbidden not in log, f"{forbidden} in the spy log"
        # The daemon reads back CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_SIGN, CKA_KEY_TYPE of
        # its key (ARCHITECTURE.md, Invariant 1), never its value.
        assert "C_GetAttributeValue" in log and "CKA_EXTRACTABLE" in log, log[-2000:]
        assert not re.search(r"CKA_VALUE\b", log), "CKA_VALUE in the spy log"


h.run([test_import_sets_sensitive_non_extractable,
       test_import_refuses_overwrite_and_replace_switches_key, test_import_input_checks,
       test_wrong_pin_reported_once, test_daemon_never_reads_key_material_under_pkcs11_spy])
