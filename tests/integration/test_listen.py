#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The daemon cannot listen: it says why and exits 1, cleanly. A past mistake:
server_run() started the signing threads, then returned on a failed listen
without stopping them, and main() closed the token under their sessions."""

import os
import signal
import subprocess

import harness as h


def run_daemon(env, listen_fds=None):
    cmd = h.DAEMON_WRAPPER + [h.HSMJWTD, "--config", env.conf]
    if listen_fds:
        # LISTEN_PID must be the daemon's own pid: set it in the shell that execs it.
        cmd = ["sh", "-c", f"export LISTEN_FDS={listen_fds} LISTEN_PID=$$; exec "
               + " ".join(h.sh_quote(a) for a in cmd)]
    proc = subprocess.run(cmd, env=env.env, capture_output=True, text=True, timeout=60)
    out = proc.stdout + proc.stderr
    assert proc.returncode != -signal.SIGSEGV and proc.returncode >= 0, \
        f"hsmjwtd died of signal {-proc.returncode}:\n{out}"
    for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error", "Aborted"):
        assert bad not in out, out
    assert proc.returncode == 1, f"hsmjwtd exited with {proc.returncode}:\n{out}"
    # Listening comes first: no signing thread (and no session) exists when it fails.
    assert "signing thread" not in out, out
    return out


def test_unusable_socket_path():
    with h.Env() as env:
        env.import_key()
        env.header = env.header.replace(f"socket = {env.sock}",
                                        f"socket = {env.dir}/no-such-dir/hsmjwtd.sock")
        env.write_config()
        out = run_daemon(env)
        assert "Cannot bind" in out, out


def test_bad_listen_fds():
    with h.Env() as env:
        env.import_key()
        out = run_daemon(env, listen_fds=2)
        assert "expected exactly one" in out or "passed file descriptors" in out, out


h.run([test_unusable_socket_path, test_bad_listen_fds])
