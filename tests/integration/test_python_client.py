#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The Python client (client/python, import hsmjwt) against the real daemon on
a fresh SoftHSM token: the same bytes as the C client, every error class,
pipelining by id, reconnection after a restart, a connection closed with
requests in flight, and bad arguments refused before anything is sent.
Codes the real daemon cannot be made to send (internal, unsupported, a code
newer than the client) come from a scripted peer on a socket of its own."""

import asyncio
import os
import socket
import sys
import threading
import time

import harness as h

sys.path.insert(0, os.environ.get("HSMJWT_PYTHON_CLIENT", os.path.join(h.BUILD, "client/python")))
import hsmjwt  # noqa: E402
from hsmjwt import hsmjwt_pb2 as pb  # noqa: E402

EXP = int(time.time()) + 3 * 86400


def test_same_token_as_c_client():
    with h.Env() as env:
        env.import_key()
        env.start()
        r = env.hsmjwt("sign", "--aud", "Facebook", "--uid", "Facebook:10203040",
                       "--expires-at", str(EXP), "--access-token-file", "-",
                       "--claim", "role=editor", "--claim-json", "level=3",
                       "--claim-json", "beta=true", "--claim-json", 'groups=["a","b"]',
                       stdin=b"EAAB-demo")
        assert r.returncode == 0, r.stderr
        c_token = r.stdout.decode().strip()
        args = dict(access_token="EAAB-demo", expires_at=EXP,
                    claims={"role": "editor", "level": 3, "beta": True, "groups": ["a", "b"]})
        with hsmjwt.Client(env.sock) as c:
            tok = c.sign("Facebook", "Facebook:10203040", **args)
            plain = c.sign("Custom", "Custom:42", expires_at=EXP)
            # A forked child gets a connection of its own (another socket inode;
            # sharing the parent's would interleave their frames); the parent's
            # keeps working.
            parent_conn = os.fstat(c._sock.fileno()).st_ino
            pid = os.fork()
            if pid == 0:
                ok = False
                try:
                    ok = c.sign("Custom", "Custom:child", expires_at=EXP) == h.reference_token(
                        h.SPEC_MASTER, EXP, "Custom", "Custom:child")
                    ok = ok and os.fstat(c._sock.fileno()).st_ino != parent_conn
                finally:
                    os._exit(0 if ok else 1)
            assert os.waitpid(pid, 0)[1] == 0
            assert c.sign("Custom", "Custom:42", expires_at=EXP) == plain
            assert os.fstat(c._sock.fileno()).st_ino == parent_conn
        assert tok == c_token, (tok, c_token)
        assert (tok.kid, tok.key, tok.expires_at) == ("0", "zumo", EXP)
        assert plain == h.reference_token(h.SPEC_MASTER, EXP, "Custom", "Custom:42")

        a = hsmjwt.AsyncClient(env.sock)

        async def both():
            return await a.sign("Facebook", "Facebook:10203040", **args)
        # One client, used from two event loops one after the other.
        assert asyncio.run(both()) == c_token
        assert asyncio.run(both()) == c_token


def test_verify_keys_status():
    with h.Env(keys=(("zumo", {"max-lifetime": "400d"}),
                     ("ec", {"alg": "ES256", "profile": "standard", "kid": "ec1",
                             "issuer": "https://issuer.example"}),
                     ("gone", {"kid": "g"}))) as env:  # not on the token
        env.import_key()
        assert env.ctl("generate", "ec").returncode == 0
        env.start()
        with hsmjwt.Client(env.sock) as c:
            tok = c.sign("Custom", "Custom:7", lifetime=600)
            v = c.verify(tok, audience="Custom", user_id_pattern="Custom:*")
            assert v and v.valid and v.claims["uid"] == "Custom:7" and v.key == "zumo", v
            bad = c.verify(tok, audience="Other")
            assert not bad and bad.reason == "wrong_audience" and bad.detail, bad
            forged = c.verify(tok[:-2] + ("AA" if not tok.endswith("AA") else "BB"))
            assert forged.reason == "bad_signature", forged
            jwks = c.keys()
            assert [k["kid"] for k in jwks["keys"]] == ["ec1"], jwks
            st = c.status()
            assert st.tokens_issued == 1 and set(st.keys) == {"zumo", "ec"}, st
            assert [k.split(":")[0] for k in st.unavailable_keys] == ["gone"], st


def refusal(fn):
    try:
        fn()
    except hsmjwt.Error as e:
        return e
    raise AssertionError("no exception")


def test_daemon_errors_mapped():
    policies = (("limited", {"uid": "0", "keys": "*", "audiences": "Custom", "user-ids": "*",
                             "rate": "1/h", "burst": "2"}),)
    with h.Env(policies=policies, server_extra="max-frame = 2048\n") as env:
        env.import_key()
        env.start()
        c = hsmjwt.Client(env.sock)
        e = refusal(lambda: c.sign("Custom", "Custom:1", lifetime=10 ** 9))
        assert type(e) is hsmjwt.InvalidRequest and e.rule == "expiry-too-long", (e, e.rule)
        assert e.code == "INVALID_REQUEST" and "[rule expiry-too-long]" in str(e)
        e = refusal(lambda: c.sign("Custom", "Custom:1", claims={"iat": 1}))
        assert type(e) is hsmjwt.InvalidRequest and e.rule == "claim-name-reserved", e.rule
        e = refusal(lambda: c.sign("Facebook", "Facebook:1"))
        assert type(e) is hsmjwt.PermissionDenied and e.code == "PERMISSION_DENIED", e
        c.sign("Custom", "Custom:1")
        e = refusal(lambda: c.sign("Custom", "Custom:2"))
        assert type(e) is hsmjwt.RateLimited and e.retry_after_ms > 1000, e
        assert abs(e.retry_after - e.retry_after_ms / 1000) < 1e-9
        # Over max-frame: the daemon answers on id 0 and closes; the client opens anew.
        e = refusal(lambda: c.sign("Custom", "Custom:3", claims={"big": "x" * 3000}))
        assert type(e) is hsmjwt.TooLarge, e
        assert isinstance(c.status(), hsmjwt.Status)
        c.close()
    # A token that fails every C_Sign (tests/mock-pkcs11): "unavailable".
    mock = os.path.abspath(os.path.join(h.BUILD, "tests/mock-pkcs11/mock-pkcs11.so"))
    with h.Env(module=mock, init_token=False,
               extra_env={"HSMJWT_MOCK_PKCS11": "sign-rv=CKR_DEVICE_ERROR@2+"}) as env:
        env.start()
        e = refusal(lambda: hsmjwt.Client(env.sock).sign("Custom", "Custom:1"))
        assert type(e) is hsmjwt.Unavailable and e.code == "UNAVAILABLE", e


class ScriptedPeer:
    """A socket that answers each request with the next of `answers`: an
    ErrorCode number, or "close" to close the connection unanswered once it
    has read `close_after` requests (later connections: at the first)."""

    def __init__(self, path, answers, close_after=1):
        self.path, self.answers, self.close_after = path, list(answers), close_after
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(16)
        self.requests = 0
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        try:
            self.serve()
        except OSError:  # timed out, or the test closed the listener: done
            pass

    def serve(self):
        while self.answers:
            conn, _ = self.listener.accept()
            conn.settimeout(10)
            with conn:
                seen = 0
                while self.answers:
                    f = h.recv_frame(conn)
                    if f is None:
                        break
                    self.requests += 1
                    seen += 1
                    req = pb.Request.FromString(f)
                    a = self.answers[0]
                    if a == "close":
                        if seen >= self.close_after:
                            self.answers.pop(0)
                            self.close_after = 1  # later connections: at the first
                            break
                        continue
                    self.answers.pop(0)
                    if isinstance(a, bytes):  # a frame that is no Response
                        h.send_frame(conn, a)
                        continue
                    resp = pb.Response(id=req.id)
                    resp.error.code, resp.error.message = a, f"scripted {a}"
                    h.send_frame(conn, resp.SerializeToString())


def test_scripted_codes_and_close_in_flight():
    d = h.tempfile.mkdtemp(prefix="hsmjwt-py-")
    try:
        path = os.path.join(d, "peer.sock")
        peer = ScriptedPeer(path, [6, 7, 42, b"\xff\xff\xff"])
        c = hsmjwt.Client(path)
        for cls, code in ((hsmjwt.InternalError, "INTERNAL"), (hsmjwt.Unsupported, "UNSUPPORTED"),
                          (hsmjwt.DaemonError, "UNKNOWN"), (hsmjwt.ProtocolError, "PROTOCOL")):
            e = refusal(lambda: c.sign("Custom", "Custom:1"))
            assert type(e) is cls and e.code == code, (e, e.code)
        c.close()
        peer.thread.join(5)
        peer.listener.close()
        os.unlink(path)

        # 64 requests in flight, the peer closes after reading them all: each
        # gets ConnectionFailed (the first one, sent on an idle connection, is
        # sent once more, and meets the same fate), none hangs.
        peer = ScriptedPeer(path, ["close", "close"], close_after=64)

        async def flight():
            a = hsmjwt.AsyncClient(path, max_in_flight=64, timeout=20)
            res = await asyncio.gather(*(a.sign("Custom", f"Custom:{i}") for i in range(64)),
                                       return_exceptions=True)
            await a.close()
            return res
        t0 = time.monotonic()
        res = asyncio.run(flight())
        assert time.monotonic() - t0 < 15
        assert all(type(r) is hsmjwt.ConnectionFailed for r in res), res[:3]
        assert peer.requests == 65, peer.requests
        peer.listener.close()
    finally:
        h.shutil.rmtree(d, ignore_errors=True)


def test_pipelined_1000_by_id():
    with h.Env() as env:
        env.import_key()
        env.start()

        async def run():
            async with hsmjwt.AsyncClient(env.sock, max_in_flight=64) as a:
                peak = 0

                async def one(i):
                    nonlocal peak
                    tok = await a.sign("Custom", f"Custom:{i}", expires_at=EXP)
                    peak = max(peak, a.in_flight)
                    return tok
                toks = await asyncio.gather(*(one(i) for i in range(1000)))
                return toks, peak
        toks, peak = asyncio.run(run())
        for i, t in enumerate(toks):
            assert t == h.reference_token(h.SPEC_MASTER, EXP, "Custom", f"Custom:{i}"), i
        assert 32 < peak <= 64, peak
        print(f"     1000 tokens, each for its own uid; at most {peak} in flight")


def test_restart_mid_run_reconnects():
    with h.Env() as env:
        env.import_key()
        act = h.Activator(env)
        try:
            c = hsmjwt.Client(env.sock)

            async def arun(a, uid):
                return await a.sign("Custom", uid)
            loop = asyncio.new_event_loop()
            a = hsmjwt.AsyncClient(env.sock)
            for i in range(3):
                assert c.sign("Custom", f"Custom:s{i}")
                assert loop.run_until_complete(arun(a, f"Custom:a{i}"))
                act.proc.send_signal(h.signal.SIGTERM)  # as systemctl restart does
                act.proc.wait(10)
            assert c.sign("Custom", "Custom:last") and c.status().tokens_issued >= 1
            assert loop.run_until_complete(arun(a, "Custom:alast"))
            loop.run_until_complete(a.close())
            loop.close()
            assert act.starts == 4, act.starts
        finally:
            act.stop()


def test_bad_arguments_refused_before_sending():
    d = h.tempfile.mkdtemp(prefix="hsmjwt-py-")
    try:
        path = os.path.join(d, "peer.sock")
        peer = ScriptedPeer(path, [1])  # would answer the first request it reads
        c = hsmjwt.Client(path)
        cases = [
            (lambda: c.sign("", "Custom:1"), "audience: must not be empty"),
            (lambda: c.sign("Custom", None), "user_id: a str is required"),
            (lambda: c.sign("Custom", "Custom:\x00"), "U+0000"),
            (lambda: c.sign("Custom", "Custom:\udc80"), "lone surrogate"),
            (lambda: c.sign("C", "C:1", lifetime=5, expires_at=EXP), "exclude each other"),
            (lambda: c.sign("C", "C:1", lifetime=0), "lifetime: 0 is out of range"),
            (lambda: c.sign("C", "C:1", lifetime="60"), "lifetime: an int is required"),
            (lambda: c.sign("C", "C:1", claims={"n": 1.5}), "claims['n']: a str, int"),
            (lambda: c.sign("C", "C:1", claims={"n": 2 ** 64}), "out of range"),
            (lambda: c.sign("C", "C:1", claims={"l": ["a", 1]}), "claims['l'][1]"),
            (lambda: c.sign("C", "C:1", legacy_claims="{}"), "give none of them"),
            (lambda: c.sign("C", "C:1", claims={"x": "y" * 70000}), "frame limit"),
            (lambda: c.verify(b"abc"), "token: a str is required"),
            (lambda: hsmjwt.AsyncClient(path, max_in_flight=0), "max_in_flight"),
        ]
        for fn, text in cases:
            e = refusal(fn)
            assert type(e) is hsmjwt.ArgumentError and isinstance(e, ValueError), (text, e)
            assert text in str(e), (text, str(e))
        e = refusal(lambda: asyncio.run(hsmjwt.AsyncClient(path).sign("C", "")))
        assert type(e) is hsmjwt.ArgumentError
        assert peer.requests == 0, peer.requests
        peer.listener.close()
        e = refusal(lambda: hsmjwt.Client(os.path.join(d, "none.sock")).status())
        assert type(e) is hsmjwt.ConnectionFailed and "No such file" in str(e), e
    finally:
        h.shutil.rmtree(d, ignore_errors=True)


def test_timeout():
    d = h.tempfile.mkdtemp(prefix="hsmjwt-py-")
    try:
        path = os.path.join(d, "silent.sock")
        silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        silent.bind(path)
        silent.listen(4)  # connections wait in the backlog, never answered
        t0 = time.monotonic()
        e = refusal(lambda: hsmjwt.Client(path, timeout=0.3).status())
        assert type(e) is hsmjwt.Timeout and isinstance(e, TimeoutError), e
        e = refusal(lambda: asyncio.run(hsmjwt.AsyncClient(path, timeout=0.3).status()))
        assert type(e) is hsmjwt.Timeout, e
        assert time.monotonic() - t0 < 5
        silent.close()
    finally:
        h.shutil.rmtree(d, ignore_errors=True)


def test_socket_resolution():
    old = os.environ.get("HSMJWT_SOCKET")
    try:
        os.environ["HSMJWT_SOCKET"] = "/tmp/from-env.sock"
        assert hsmjwt.Client().socket_path == "/tmp/from-env.sock"
        assert hsmjwt.Client("/tmp/arg.sock").socket_path == "/tmp/arg.sock"
        os.environ["HSMJWT_SOCKET"] = ""
        assert hsmjwt.AsyncClient().socket_path == "/run/hsmjwt/hsmjwtd.sock"
    finally:
        os.environ.pop("HSMJWT_SOCKET", None)
        if old is not None:
            os.environ["HSMJWT_SOCKET"] = old


def test_pip_install_from_the_source_tree():
    """The README's install: a venv that sees Debian's modules, pip without
    PyPI; the installed module has the generated code and gets a token."""
    with h.Env() as env:
        env.import_key()
        env.start()
        here = os.path.dirname(os.path.abspath(__file__))
        # A copy of the tree's two parts, so the build leaves nothing in the checkout.
        src = os.path.join(env.dir, "src")
        h.shutil.copytree(os.path.join(here, "../../client/python"), os.path.join(src, "client/python"),
                          ignore=h.shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
        h.shutil.copytree(os.path.join(here, "../../proto"), os.path.join(src, "proto"))
        venv = os.path.join(env.dir, "venv")
        import subprocess
        subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", venv],
                       check=True, timeout=120)
        r = subprocess.run([os.path.join(venv, "bin/pip"), "install", "-q", "--no-build-isolation",
                            "--no-index", os.path.join(src, "client/python")],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        r = subprocess.run([os.path.join(venv, "bin/python"), "-c",
                            "import hsmjwt, sys; print(hsmjwt.__file__); "
                            "print(hsmjwt.Client(sys.argv[1]).sign('Custom', 'Custom:pip'))",
                            env.sock], capture_output=True, text=True, timeout=60, cwd="/")
        assert r.returncode == 0, r.stderr
        path, token = r.stdout.split()
        assert path.startswith(venv), path
        assert h.decode_part(token, 1)["uid"] == "Custom:pip"


def test_example_server():
    with h.Env() as env:
        env.import_key()
        env.start()
        here = os.path.dirname(os.path.abspath(__file__))
        example = os.path.join(here, "../../client/python/examples/server.py")
        h.check_example_server(["/usr/bin/python3", example], env.sock,
                               extra_env={"PYTHONPATH": os.path.dirname(hsmjwt.__path__[0])})


if __name__ == "__main__":
    h.run([test_same_token_as_c_client, test_verify_keys_status, test_daemon_errors_mapped,
           test_scripted_codes_and_close_in_flight, test_pipelined_1000_by_id,
           test_restart_mid_run_reconnects, test_bad_arguments_refused_before_sending,
           test_timeout, test_socket_resolution, test_example_server,
           test_pip_install_from_the_source_tree])
