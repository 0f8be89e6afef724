#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""hsmjwt-kube-signer's configuration is strict: an unknown, repeated or
malformed key, an unknown user, a missing file, an abstract socket without an
allow list, arguments it does not take: each stops the start with a message
naming it. No daemon needed."""

import os
import subprocess
import tempfile

import harness as h

BIN = os.path.join(h.BUILD, "kube-signer/hsmjwt-kube-signer")
if not os.path.exists(BIN):
    h.skip("hsmjwt-kube-signer is not built")
tmp = tempfile.mkdtemp(prefix="hsmjwt-kube-conf-")


def run(text, *args):
    path = os.path.join(tmp, "kube-signer.conf")
    with open(path, "w") as f:
        f.write(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LISTEN_")}
    return subprocess.run([BIN, "--config", path, *args], capture_output=True, text=True,
                          timeout=10, env=env)


def test_good_config_checks():
    r = run("[kube-signer]\nkey = kube\nallow-uids = 0 root\nallow-gids = 0\nrefresh-hint = 30\n",
            "--check")
    assert r.returncode == 0 and "OK" in r.stdout, r


def test_every_mistake_is_named():
    cases = [
        ("[kube-signer]\nnope = 1\n", "nope is not a known key"),
        ("[kube-signer]\nkey = a\nkey = b\n", "key is given twice"),
        ("[kube-signer]\nrefresh-hint = 0\n", "refresh-hint = 0: not a number in the allowed range"),
        ("[kube-signer]\nmax-message = 10\n", "max-message = 10"),
        ("[kube-signer]\nmax-streams = -1\n", "max-streams = -1"),
        ("[kube-signer]\nallow-uids = no-such-user-here\n", "no such user or group"),
        ("[other]\nkey = a\n", "Section [other] is not known"),
        ("[kube-signer]\njust words\n", "not a key = value line"),
    ]
    for text, want in cases:
        r = run(text, "--check")
        assert r.returncode != 0 and want in r.stderr, (text, r.stderr)


def test_missing_file_and_arguments():
    r = subprocess.run([BIN, "--config", os.path.join(tmp, "absent.conf"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "Cannot open" in r.stderr, r.stderr
    r = subprocess.run([BIN, "stray"], capture_output=True, text=True)
    assert r.returncode == 2, r


def test_abstract_socket_needs_an_allow_list():
    name = f"@hsmjwt-kube-test-{os.getpid()}"
    r = run(f"[kube-signer]\nlisten = {name}\n")
    assert r.returncode != 0 and "abstract socket has no permissions" in r.stderr, r.stderr
    r = run("[kube-signer]\n")  # neither activated nor told where to listen
    assert r.returncode != 0 and "no [kube-signer] listen" in r.stderr, r.stderr


def test_units_verify_clean_and_score_well():
    import re
    import shutil
    if not shutil.which("systemd-analyze"):
        h.skip("systemd-analyze is not installed")
    units = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../units")
    built = os.path.join(h.BUILD, "units/hsmjwt-kube-signer.service")
    text = open(built).read()
    # verify checks that ExecStart exists: point it at the built adapter.
    text = re.sub(r"^ExecStart=\S+", f"ExecStart={os.path.abspath(BIN)}", text, flags=re.M)
    open(os.path.join(tmp, "hsmjwt-kube-signer.service"), "w").write(text)
    shutil.copy(os.path.join(units, "hsmjwt-kube-signer.socket"), tmp)
    r = subprocess.run(["systemd-analyze", "verify", "--man=no",
                        os.path.join(tmp, "hsmjwt-kube-signer.socket"),
                        os.path.join(tmp, "hsmjwt-kube-signer.service")],
                       capture_output=True, text=True)
    noise = [line for line in r.stderr.splitlines() if "hsmjwt" in line]
    assert r.returncode == 0 and not noise, r.stderr
    r = subprocess.run(["systemd-analyze", "security", "--offline=true", built],
                       capture_output=True, text=True)
    m = re.search(r"Overall exposure level for hsmjwt-kube-signer.service: (\d+\.\d+)", r.stdout)
    assert m, r.stdout[-500:] + r.stderr
    print(f"     systemd-analyze security: exposure {m.group(1)}")
    assert float(m.group(1)) <= 1.0, r.stdout


try:
    h.run([test_units_verify_clean_and_score_well, test_good_config_checks, test_every_mistake_is_named, test_missing_file_and_arguments,
           test_abstract_socket_needs_an_allow_list])
finally:
    h.shutil.rmtree(tmp, ignore_errors=True)
