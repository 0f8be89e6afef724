#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Token faults: the token sits behind `p11-kit server` (the daemon loads
p11-kit-client.so), and the server is killed and restarted while clients
sign. During the outage every refusal must be "unavailable" (exit 6), none a
hang or a crash, and signing must come back by itself once the server does."""

import os
import signal
import subprocess
import threading
import time

import harness as h

CLIENT = "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so"


class P11KitServer:
    def __init__(self, env):
        self.env, self.path = env, os.path.join(env.dir, "p11-kit.sock")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["p11-kit", "server", "-f", "-n", self.path, "--provider", h.softhsm_module(),
             "pkcs11:token=hsmjwt"], env=self.env.env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.path):
            assert time.monotonic() < deadline and self.proc.poll() is None, "p11-kit server"
            time.sleep(0.02)

    def signal(self, sig):
        # p11-kit server serves each client from a child process: signal them all.
        os.killpg(self.proc.pid, sig)

    def kill(self):
        self.signal(signal.SIGKILL)
        self.proc.wait()
        if os.path.exists(self.path):
            os.unlink(self.path)


def test_p11kit_server_killed_and_restarted_under_load():
    if not os.path.exists(CLIENT) or not h.shutil.which("p11-kit"):
        h.skip("p11-kit-client.so or the p11-kit command is missing")
    with h.Env(module=CLIENT) as env:
        server = P11KitServer(env)
        env.daemon_env["P11_KIT_SERVER_ADDRESS"] = f"unix:path={server.path}"
        env.env.update(env.daemon_env)
        server.start()
        env.import_key()
        env.start()
        env.sign("--aud", "Custom", "--uid", "Custom:before")
        results = []  # (monotonic time, exit code)
        stop = threading.Event()

        def client():
            while not stop.is_set():
                try:
                    r = env.hsmjwt("sign", "--aud", "Custom", "--uid", "Custom:load")
                    results.append((time.monotonic(), r.returncode, r.stderr))
                except subprocess.TimeoutExpired:
                    results.append((time.monotonic(), "hang", b""))

        threads = [threading.Thread(target=client) for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        server.kill()
        killed = time.monotonic()
        time.sleep(2.0)
        server.start()
        back = time.monotonic()
        deadline = back + 20
        # Signing must resume by itself: wait for a success after the restart.
        while not any(t > back and code == 0 for t, code, _ in results):
            assert time.monotonic() < deadline, (results[-3:], env.read_log()[-3000:])
            time.sleep(0.1)
        recovered = min(t for t, code, _ in results if t > back and code == 0)
        time.sleep(1.0)
        stop.set()
        for t in threads:
            t.join(60)
        codes = {code for _, code, _ in results}
        assert codes <= {0, 6}, [(c, e) for _, c, e in results if c not in (0, 6)][:3]
        outage = [c for t, c, _ in results if killed < t < back]
        assert outage and all(c == 6 for c in outage if c != 0), outage[:5]
        assert any(b"unavailable" in e for _, c, e in results if c == 6)
        print(f"     outage: {len(outage)} requests refused as unavailable; "
              f"signing back {recovered - back:.2f} s after the server returned")
        assert env.daemon.poll() is None, "the daemon died"
        assert "reopened" in env.read_log(), env.read_log()[-2000:]
        env.sign("--aud", "Custom", "--uid", "Custom:after")
        env.stop()
        server.kill()


def test_stuck_token_times_out():
    # p11-kit server stopped (SIGSTOP): calls hang; the request timeout answers instead.
    if not os.path.exists(CLIENT) or not h.shutil.which("p11-kit"):
        h.skip("p11-kit-client.so or the p11-kit command is missing")
    with h.Env(module=CLIENT, server_extra="request-timeout = 1\n") as env:
        server = P11KitServer(env)
        env.daemon_env["P11_KIT_SERVER_ADDRESS"] = f"unix:path={server.path}"
        env.env.update(env.daemon_env)
        server.start()
        env.import_key()
        env.start()
        env.sign("--aud", "Custom", "--uid", "Custom:before")
        server.signal(signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            r = env.hsmjwt("sign", "--aud", "Custom", "--uid", "Custom:stuck")
            took = time.monotonic() - t0
            assert r.returncode == 6 and b"did not answer within 1 s" in r.stderr, r
            assert took < 5, took
            # While the call is stuck, others fail fast too.
            t0 = time.monotonic()
            r = env.hsmjwt("sign", "--aud", "Custom", "--uid", "Custom:next")
            assert r.returncode == 6 and time.monotonic() - t0 < 2, r
        finally:
            server.signal(signal.SIGCONT)
        deadline = time.monotonic() + 20
        while env.hsmjwt("sign", "--aud", "Custom", "--uid", "Custom:after").returncode != 0:
            assert time.monotonic() < deadline, env.read_log()[-2000:]
            time.sleep(0.2)
        env.stop()
        server.kill()


def test_mechanisms_missing_through_p11kit_remote():
    # Through p11-kit remote, EdDSA and CKM_SHA256_RSA_PKCS_PSS are gone (ARCHITECTURE.md, Token facts):
    # generate says so clearly, and PS256 signs with CKM_RSA_PKCS_PSS on a host digest.
    if not os.path.exists(CLIENT) or not h.shutil.which("p11-kit"):
        h.skip("p11-kit-client.so or the p11-kit command is missing")
    try:
        from jwcrypto import jwk, jwt
    except ImportError:
        h.skip("python3-jwcrypto is not installed")
    keys = [("ps", {"alg": "PS256", "issuer": "https://i"}),
            ("ed", {"alg": "EdDSA", "issuer": "https://i"})]
    with h.Env(module=CLIENT, keys=keys) as env:
        server = P11KitServer(env)
        env.daemon_env["P11_KIT_SERVER_ADDRESS"] = f"unix:path={server.path}"
        env.env.update(env.daemon_env)
        server.start()
        try:
            r = env.ctl("generate", "ed")
            assert r.returncode == 1 and "cannot generate" in r.stderr and \
                "CKM_EC_EDWARDS_KEY_PAIR_GEN" in r.stderr, r.stderr
            assert env.ctl("generate", "ps").returncode == 0
            env.write_config(keys=keys[:1])
            env.start()
            tok = env.sign("--key", "ps", "--aud", "api", "--uid", "u")
            keyset = jwk.JWKSet.from_json(env.hsmjwt("keys").stdout.decode())
            jwt.JWT(jwt=tok, key=keyset, algs=["PS256"])
            assert "CKM_RSA_PKCS_PSS with the hash made on the host" in env.read_log()
            env.stop()
        finally:
            server.kill()


h.run([test_p11kit_server_killed_and_restarted_under_load, test_stuck_token_times_out,
       test_mechanisms_missing_through_p11kit_remote])
