#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""systemd integration: the units verify and score well, and the daemon
behaves as systemd expects (socket hand-off, sd_notify READY/RELOADING/
STOPPING/STATUS, watchdog pings, the PIN from a credentials directory, idle
exit with reactivation losing no request). systemd is not PID 1 on CI
machines, so harness.Activator plays its part for the socket and notify
protocol exactly as documented in sd_listen_fds(3) and sd_notify(3)."""

import os
import re
import shutil
import subprocess
import threading
import time

import harness as h

UNITS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../units")


def test_units_verify_clean():
    if not shutil.which("systemd-analyze"):
        h.skip("systemd-analyze is not installed")
    with h.Env() as env:
        built = os.path.join(h.BUILD, "units/hsmjwtd.service")
        # verify checks that ExecStart exists: point it at the built daemon.
        text = open(built).read()
        text = re.sub(r"^ExecStart=\S+", f"ExecStart={os.path.abspath(h.HSMJWTD)}", text, flags=re.M)
        open(os.path.join(env.dir, "hsmjwtd.service"), "w").write(text)
        shutil.copy(os.path.join(UNITS, "hsmjwtd.socket"), env.dir)
        r = subprocess.run(["systemd-analyze", "verify", "--man=no",
                            os.path.join(env.dir, "hsmjwtd.socket"),
                            os.path.join(env.dir, "hsmjwtd.service")],
                           capture_output=True, text=True)
        noise = [l for l in r.stderr.splitlines() if "hsmjwt" in l]
        assert r.returncode == 0 and not noise, r.stderr


def test_security_exposure_at_most_1():
    r = subprocess.run(["systemd-analyze", "security", "--offline=true",
                        os.path.join(h.BUILD, "units/hsmjwtd.service")],
                       capture_output=True, text=True)
    m = re.search(r"Overall exposure level for hsmjwtd.service: (\d+\.\d+)", r.stdout)
    assert m, r.stdout[-500:] + r.stderr
    print(f"     systemd-analyze security: exposure {m.group(1)}")
    assert float(m.group(1)) <= 1.0, r.stdout


def test_pin_from_credentials_directory_and_notify():
    with h.Env() as env:
        env.import_key()
        creds = os.path.join(env.dir, "creds")
        os.mkdir(creds, 0o700)
        os.rename(os.path.join(env.dir, "pin"), os.path.join(creds, "pin"))
        text = open(env.conf).read().replace(f"pin-file = {env.dir}/pin\n", "")
        assert "pin-file" not in text
        open(env.conf, "w").write(text)
        env.daemon_env["CREDENTIALS_DIRECTORY"] = creds
        act = h.Activator(env, watchdog_usec=400000)
        try:
            exp = int(time.time()) + 300
            tok = env.sign("--aud", "Custom", "--uid", "Custom:cred", "--expires-at", str(exp))
            assert tok == h.reference_token(h.SPEC_MASTER, exp, "Custom", "Custom:cred")
            act.wait_message("READY=1")
            act.wait_message("STATUS=")
            # WATCHDOG_USEC=0.4 s: sd-event pings at half that period from the loop.
            n_pings = sum(m == "WATCHDOG=1" for m in act.messages)
            deadline = time.monotonic() + 10
            while sum(m == "WATCHDOG=1" for m in act.messages) < n_pings + 3:
                assert time.monotonic() < deadline, act.messages
                time.sleep(0.05)
            act.proc.send_signal(h.signal.SIGHUP)
            act.wait_message("RELOADING=1")
            deadline = time.monotonic() + 30
            while sum("READY=1" in m for m in act.messages) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert sum("READY=1" in m for m in act.messages) >= 2, act.messages
            assert "PIN" not in " ".join(act.messages)
        finally:
            act.stop()
        assert any("STOPPING=1" in m for m in act.messages), act.messages


def test_idle_exit_and_reactivation_lose_nothing():
    with h.Env(server_extra="exit-idle = 5\n") as env:
        env.import_key()
        act = h.Activator(env)
        results, failures = [], []

        def client(n):
            for i in range(n):
                r = env.hsmjwt("sign", "--aud", "Custom", "--uid", f"Custom:{i}")
                (results if r.returncode == 0 else failures).append(r)
                # Pauses well past exit-idle (5 s, the least it takes; checked at
                # most 1 s late) let the daemon exit between requests, however
                # loaded the machine.
                time.sleep(7.5 if i % 3 == 2 else 0.05)

        try:
            t = threading.Thread(target=client, args=(7,))
            t.start()
            t.join(120)
            assert not failures, [f.stderr for f in failures]
            assert len(results) == 7
            assert act.starts >= 3, act.starts  # it did exit and come back
            assert env.read_log().count("Idle for 5 s, exiting") >= 2, env.read_log()
        finally:
            act.stop()


def test_restart_loses_nothing_thanks_to_one_retry():
    # A long-lived libhsmjwt connection; the daemon is stopped between two requests.
    # The socket stays with the activator, the library retries once on a new connection.
    with h.Env() as env:
        env.import_key()
        act = h.Activator(env)
        try:
            loop = subprocess.Popen([os.path.join(h.BUILD, "tests/client-loop"), env.sock, "8",
                                     "200"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            first = loop.stdout.readline()
            assert first.count(b".") == 2, first
            act.proc.send_signal(h.signal.SIGTERM)  # a restart, as systemctl restart does
            act.proc.wait(10)
            out, err = loop.communicate(timeout=60)
            assert loop.returncode == 0, err
            assert out.count(b"\n") == 7, out
            assert act.starts == 2, act.starts
        finally:
            act.stop()


def test_exit_idle_ignored_without_socket_activation():
    with h.Env(server_extra="exit-idle = 5\n") as env:
        env.import_key()
        env.start(activate=False)
        time.sleep(2.5)
        assert env.daemon.poll() is None, env.read_log()
        assert "exit-idle ignored" in env.read_log()
        env.sign("--aud", "Custom", "--uid", "Custom:1")


h.run([test_units_verify_clean, test_security_exposure_at_most_1,
       test_pin_from_credentials_directory_and_notify, test_idle_exit_and_reactivation_lose_nothing,
       test_restart_loses_nothing_thanks_to_one_retry,
       test_exit_idle_ignored_without_socket_activation])
