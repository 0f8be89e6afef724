#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""What [audit] sync = always promises, seen from outside: a verify reply does
not wait for a device flush (its record is made durable within a second), and
a kill -9 under load leaves no JWT a client received without its record, with
a trail `hsmjwtctl audit verify` accepts, after the crash and after a restart."""

import hashlib
import os
import shutil
import signal
import subprocess
import threading
import time

import harness as h


def verify_trail(*paths):
    return subprocess.run([h.HSMJWTCTL, "audit", "verify", *paths], capture_output=True,
                          text=True, timeout=60)


def verify_request(req_id, token):
    return h.field(1, 0, req_id) + h.field(5, 2, h.field(1, 2, token.encode()))


def sign_token(resp):
    m = h.parse_message(resp)
    if 2 not in m:
        return None
    return h.parse_message(m[2][0])[1][0].decode()


def count_fdatasync(e, action):
    """Runs action() with strace attached to every thread of the daemon; returns
    (fdatasync calls seen, action's result)."""
    pid = e.daemon.pid
    out = os.path.join(e.dir, "strace.txt")
    cmd = ["strace", "-qq", "-f", "-e", "trace=fdatasync", "-o", out]
    for tid in os.listdir(f"/proc/{pid}/task"):
        cmd += ["-p", tid]
    tracer = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # attached (strace has no "ready" signal)
    try:
        result = action()
    finally:
        tracer.send_signal(signal.SIGINT)
        tracer.wait(10)
    with open(out) as f:
        n = sum(1 for line in f if "fdatasync(" in line)
    os.unlink(out)
    return n, result


def test_verify_replies_do_not_wait_for_a_sync():
    if not shutil.which("strace"):
        h.skip("strace is not installed")
    with h.Env(audit={"sync": "always"}) as e:
        e.import_key()
        e.start()
        tok = e.sign("--aud", "Custom", "--uid", "Custom:v")
        s = h.connect(e.sock)

        def verify_many():
            t0 = time.monotonic()
            for i in range(200):
                h.send_frame(s, verify_request(i + 1, tok))
                m = h.parse_message(h.recv_frame(s))
                assert 5 in m and h.parse_message(m[5][0]).get(1, [0])[0] == 1, m
            return time.monotonic() - t0

        n, took = count_fdatasync(e, verify_many)
        print(f"  200 unpipelined verifies: {n} fdatasync() in {took:.2f} s")
        # One per second at most (the tick), not one per reply.
        assert n <= int(took) + 2, (n, took)
        # And they are durable a second later: the tick synced them.
        n2, _ = count_fdatasync(e, lambda: time.sleep(1.5))
        recs = [r for r, _ in h.read_trail(e.audit_file) if r["event"] == "verify-valid"]
        assert len(recs) == 200, len(recs)
        assert n2 <= 2, n2
        # A sign still waits for its own sync.
        n3, _ = count_fdatasync(e, lambda: e.sign("--aud", "Custom", "--uid", "Custom:s"))
        assert n3 >= 1, n3
        s.close()
        assert verify_trail(e.audit_file).returncode == 0


def test_mixed_pipeline_answers_all_with_records():
    """Sign and verify requests pipelined on one connection: every one gets its
    answer (in any order: hsmjwt.proto), every JWT that arrives has its record
    in the file, and every verify says valid."""
    with h.Env(audit={"sync": "always"}) as e:
        e.import_key()
        e.start()
        tok = e.sign("--aud", "Custom", "--uid", "Custom:m")
        frames = []
        for i in range(40):
            if i % 2:
                frames.append(verify_request(i + 1, tok))
            else:
                frames.append(h.sign_request(i + 1, b"Custom", f"Custom:m{i}".encode()))
        out = {h.parse_message(r)[1][0]: r for r in h.pipeline(e.sock, frames)}
        assert sorted(out) == list(range(1, 41)), sorted(out)
        jwts = [sign_token(out[i]) for i in range(1, 41, 2)]
        assert all(jwts), out[1]
        fps = {r.get("sha256") for r, _ in h.read_trail(e.audit_file, torn_ok=True)}
        assert all(hashlib.sha256(t.encode()).hexdigest() in fps for t in jwts)
        valid = [h.parse_message(h.parse_message(out[i])[5][0]).get(1, [0])[0]
                 for i in range(2, 41, 2)]
        assert valid == [1] * 20, valid


def test_kill_9_under_load_loses_no_issued_record():
    kill_9_under_load(preallocate=False)


def test_kill_9_under_load_preallocated():
    """The same with [audit] preallocate: the crash leaves the records, then
    zeros; verify explains them, the restart cuts them and continues."""
    kill_9_under_load(preallocate=True)


def kill_9_under_load(preallocate):
    with h.Env(audit={"sync": "always", "preallocate": "yes" if preallocate else "no"}) as e:
        e.import_key()
        e.start()
        e.sign("--aud", "Custom", "--uid", "Custom:first")
        received, stop = [], threading.Event()

        def client(k):
            try:
                s = h.connect(e.sock)
                i = 0
                while not stop.is_set():
                    # 4 in flight per connection, so kills land between write and sync too.
                    frames = [h.sign_request(i + j, b"Custom", f"Custom:{k}-{i + j}".encode())
                              for j in range(4)]
                    s.sendall(b"".join(len(f).to_bytes(4, "big") + f for f in frames))
                    for _ in frames:
                        resp = h.recv_frame(s)
                        if resp is None:
                            return
                        tok = sign_token(resp)
                        if tok:
                            received.append(tok)
                    i += 4
            except OSError:
                return

        threads = [threading.Thread(target=client, args=(k,)) for k in range(6)]
        for t in threads:
            t.start()
        time.sleep(1.5)
        e.daemon.send_signal(signal.SIGKILL)
        e.daemon.wait()
        stop.set()
        for t in threads:
            t.join(10)
        e.expect_failure = True
        fps = {r.get("sha256") for r, _ in h.read_trail(e.audit_file, torn_ok=True)}
        missing = [t for t in received if hashlib.sha256(t.encode()).hexdigest() not in fps]
        print(f"  {len(received)} JWTs received before the kill, {len(missing)} without a record")
        assert len(received) > 50, len(received)
        assert not missing, missing[:3]
        v = verify_trail(e.audit_file)
        assert v.returncode == 0, v.stdout + v.stderr
        with open(e.audit_file, "rb") as f:
            data = f.read()
        if preallocate:
            # The room is there, zeros only, and verify says so.
            assert data.endswith(b"\0") and b"\0" not in data.rstrip(b"\0"), len(data)
            # A torn write (the kill stops a write(2) between pages) is explained, not broken.
            assert "bytes of preallocated room" in v.stdout, v.stdout
        else:
            assert b"\0" not in data
        # The restarted daemon continues the chain from what the crash left.
        e.expect_failure = False
        e.start()
        e.sign("--aud", "Custom", "--uid", "Custom:after")
        if preallocate:
            v = verify_trail(e.audit_file)  # into the new room, while it runs
            assert v.returncode == 0 and "preallocated room" in v.stdout, v.stdout + v.stderr
        e.stop()
        with open(e.audit_file, "rb") as f:
            assert b"\0" not in f.read()  # a clean stop cuts the room
        v = verify_trail(e.audit_file)
        assert v.returncode == 0, v.stdout + v.stderr
        starts = [r for r, _ in h.read_trail(e.audit_file) if r["event"] == "start"]
        assert len(starts) == 2 and starts[1]["chain"] == "continued", starts


def test_preallocated_rotation_leaves_plain_files():
    """reopen-audit (SIGHUP) with preallocate: the rotated file loses its room,
    the new one gets its own, and verify checks across both."""
    with h.Env(audit={"sync": "always", "preallocate": "yes"}) as e:
        e.import_key()
        e.start()
        e.sign("--aud", "Custom", "--uid", "Custom:r1")
        old = e.audit_file + ".1"
        os.rename(e.audit_file, old)
        e.daemon.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while not os.path.exists(e.audit_file):
            assert time.monotonic() < deadline, e.read_log()
            e.sign("--aud", "Custom", "--uid", "Custom:r2")
            time.sleep(0.05)
        e.sign("--aud", "Custom", "--uid", "Custom:r3")
        with open(old, "rb") as f:
            assert b"\0" not in f.read()
        with open(e.audit_file, "rb") as f:
            assert f.read().endswith(b"\0")
        v = verify_trail(old, e.audit_file)
        assert v.returncode == 0, v.stdout + v.stderr
        e.stop()
        # Zeros are room only at the end: a record after them, or a NUL inside a
        # line, is a broken trail.
        with open(old, "rb") as f:
            lines = f.read().split(b"\n")[:-1]
        for name, data in (("after", b"\n".join(lines[:-1]) + b"\n" + b"\0" * 100 + lines[-1] + b"\n"),
                           ("inside", b"\n".join(lines[:-1]) + b"\n" + lines[-1][:20] + b"\0" +
                            lines[-1][21:] + b"\n")):
            bad = os.path.join(e.dir, f"bad-{name}.jsonl")
            with open(bad, "wb") as f:
                f.write(data)
            v = verify_trail(bad)
            assert v.returncode == 1 and "BROKEN" in v.stdout, (name, v.stdout, v.stderr)


if __name__ == "__main__":
    h.run([test_verify_replies_do_not_wait_for_a_sync,
           test_mixed_pipeline_answers_all_with_records,
           test_kill_9_under_load_loses_no_issued_record,
           test_kill_9_under_load_preallocated,
           test_preallocated_rotation_leaves_plain_files])
