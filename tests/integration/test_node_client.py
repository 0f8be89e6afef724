#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The Node.js client (client/node) against the real daemon: this sets up the
daemons on fresh SoftHSM tokens (one socket-activated, so it can be restarted
mid-run; one with a tight policy and frame limit; one on a mock token that
fails every signature), asks the C client for the reference token, and runs
`npm test` (node:test) with their description in $HSMJWT_TEST_ENV. The
client must be built first (scripts/test does: npm ci, then npm run build).
Then the examples' server, and the tarball npm pack makes, installed into an
empty app."""

import json
import os
import shutil
import socket
import subprocess
import threading
import time

import harness as h

NODE_DIR = os.environ.get("HSMJWT_NODE_CLIENT",
                          os.path.join(os.path.dirname(__file__), "../../client/node"))


class Control:
    """A socket the Node test writes "restart" to: the daemon gets SIGTERM, as
    from systemctl restart; the activator starts the next one on demand."""

    def __init__(self, path, act):
        self.act = act
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                if conn.recv(64) == b"restart\n":
                    self.act.proc.send_signal(h.signal.SIGTERM)
                    self.act.proc.wait(10)
                    conn.sendall(b"ok\n")


def check_npm_pack(env):
    """npm pack's tarball installs into an empty app, which gets a token with it."""
    app = os.path.join(env.dir, "app")
    os.mkdir(app)
    r = subprocess.run(["npm", "pack", "--ignore-scripts", "--pack-destination", app],
                       cwd=NODE_DIR, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    tgz = os.path.join(app, r.stdout.strip().splitlines()[-1])
    with open(os.path.join(app, "package.json"), "w") as f:
        json.dump({"name": "app", "version": "1.0.0", "type": "module", "private": True}, f)
    r = subprocess.run(["npm", "install", "--prefer-offline", "--no-audit", "--no-fund", tgz],
                       cwd=app, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    with open(os.path.join(app, "main.mjs"), "w") as f:
        f.write('import { Client } from "hsmjwt";\n'
                'const c = new Client();\n'
                'console.log((await c.sign({ audience: "Custom", userId: "Custom:app" })).token);\n')
    r = subprocess.run(["node", "main.mjs"], cwd=app, env=dict(os.environ, HSMJWT_SOCKET=env.sock),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert h.decode_part(r.stdout.strip(), 1)["uid"] == "Custom:app", r.stdout


def test_node_client():
    if not shutil.which("node"):
        h.skip("node is not installed")
    if not os.path.exists(os.path.join(NODE_DIR, "dist/index.js")):
        h.skip(f"the Node client is not built: cd {NODE_DIR} && npm ci")
    exp = int(time.time()) + 3 * 86400
    mock = os.path.abspath(os.path.join(h.BUILD, "tests/mock-pkcs11/mock-pkcs11.so"))
    limited = (("limited", {"uid": "0", "keys": "*", "audiences": "Custom", "user-ids": "*",
                            "rate": "1/h", "burst": "2"}),)
    keys = (("zumo", {"max-lifetime": "400d"}),
            ("ec", {"alg": "ES256", "profile": "standard", "kid": "ec1",
                    "issuer": "https://issuer.example"}))
    with h.Env(keys=keys) as main, \
            h.Env(policies=limited, server_extra="max-frame = 2048\n") as lim, \
            h.Env(module=mock, init_token=False,
                  extra_env={"HSMJWT_MOCK_PKCS11": "sign-rv=CKR_DEVICE_ERROR@2+"}) as unavail:
        main.import_key()
        assert main.ctl("generate", "ec").returncode == 0
        lim.import_key()
        lim.start()
        unavail.start()
        act = h.Activator(main)
        control = Control(os.path.join(main.dir, "control.sock"), act)
        try:
            r = main.hsmjwt("sign", "--aud", "Facebook", "--uid", "Facebook:10203040",
                            "--expires-at", str(exp), "--access-token-file", "-",
                            "--claim", "role=editor", "--claim-json", "level=3",
                            "--claim-json", "beta=true", "--claim-json", 'groups=["a","b"]',
                            stdin=b"EAAB-demo")
            assert r.returncode == 0, r.stderr
            desc = {"main": main.sock, "limited": lim.sock, "unavailable": unavail.sock,
                    "control": os.path.join(main.dir, "control.sock"), "exp": exp,
                    "master": h.SPEC_MASTER, "cToken": r.stdout.decode().strip(),
                    "referenceCustom42": h.reference_token(h.SPEC_MASTER, exp, "Custom",
                                                           "Custom:42")}
            path = os.path.join(main.dir, "env.json")
            with open(path, "w") as f:
                json.dump(desc, f)
            t = subprocess.run(["node", "--test", "test/unit.test.js", "test/daemon.test.js"],
                               cwd=NODE_DIR, env=dict(os.environ, HSMJWT_TEST_ENV=path),
                               capture_output=True, text=True, timeout=240)
            print(t.stdout[-3000:])
            assert t.returncode == 0, t.stdout[-6000:] + t.stderr[-2000:]
            assert "# skipped 0" in t.stdout and "# fail 0" in t.stdout, t.stdout[-500:]
            assert act.starts == 4, act.starts
            h.check_example_server(["node", "examples/server.mjs"], main.sock, cwd=NODE_DIR)
            check_npm_pack(main)
        finally:
            control.sock.close()
            act.stop()


if __name__ == "__main__":
    h.run([test_node_client])
