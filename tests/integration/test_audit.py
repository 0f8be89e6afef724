#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The audit trail against the real daemon: one record per decision, matching
the tokens clients got; the hash chain and `hsmjwtctl audit verify`; log
rotation; fail closed on a full or removed file system and recovery; no
secret in the trail."""

import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import harness as h

DECISIONS = {"issued", "invalid", "denied", "rate-limited", "failed", "legacy-upgrade"}
UNAVAILABLE = 4

# Mounts (a full tmpfs) go into a namespace of our own and vanish with us.
have_mounts = h.private_mounts()

# One record per decision is what this file checks: no aggregation of root's refusals here.
ONE_BY_ONE = ((h.ROOT_POLICY[0][0], dict(h.ROOT_POLICY[0][1], **{"denial-records": "1000000"})),)
env = h.Env(policies=ONE_BY_ONE)
# reopen-audit finds the daemon through its pid file.
env.header = env.header.replace("[server]\n", f"[server]\npid-file = {env.dir}/hsmjwtd.pid\n", 1)
env.write_config()
env.import_key()
env.start(activate=False)


def status_request(req_id):
    return h.field(1, 0, req_id) + h.field(3, 2, b"")


def sign_token(resp):
    m = h.parse_message(resp)
    if 2 not in m:
        return None
    return h.parse_message(m[2][0])[1][0].decode()


def last_seq():
    return h.read_trail(env.audit_file)[-1][0]["seq"]


def verify(*paths, any_start=False):
    # No --config: verify must work from the files alone (the default config does not exist here).
    args = [h.HSMJWTCTL, "audit", "verify"] + (["--any-start"] if any_start else []) + list(paths)
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


def wait_for(cond, what):
    deadline = time.monotonic() + 10
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}\n" + env.read_log())
        time.sleep(0.02)


def mixed_frames(base, n):
    """n sign requests of mixed outcomes (and status requests, which are no decisions)."""
    frames, expected = [], {}
    for i in range(n):
        rid = base + i
        kind = i % 6
        if kind in (0, 1):
            frames.append(h.sign_request(rid, b"Custom", b"Custom:%d" % rid, lifetime=600,
                                         access_token=b"AT-SECRET-%d" % rid))
            expected[rid] = "issued"
        elif kind == 2:
            frames.append(h.sign_request(rid, b"Custom", b"Custom:1", lifetime=10**9))
            expected[rid] = "invalid"      # refused by the service: over max-lifetime
        elif kind == 3:
            frames.append(h.sign_request(rid, b"Custom", b"Custom:1", lifetime=0))
            expected[rid] = "invalid"      # refused by the protocol layer
        elif kind == 4:
            frames.append(h.sign_request(rid, b"Cus\x00tom", b"Custom:1"))
            expected[rid] = "invalid"      # U+0000, refused before decoding the claims
        else:
            frames.append(h.sign_request(rid, b"Custom", b"Custom:1", key=b"nope"))
            expected[rid] = "invalid"
        if i % 5 == 0:
            frames.append(status_request(9_000_000 + rid))
    return frames, expected


def test_each_decision_has_one_record_matching_the_token():
    before = last_seq()
    results, threads, expected = {}, [], {}

    def client(base):
        frames, exp = mixed_frames(base, 120)
        expected.update(exp)
        for resp in h.pipeline(env.sock, frames):
            rid = h.parse_message(resp)[1][0]
            results[rid] = resp

    # Three connections at once, so several records share one group commit.
    for base in (10_000, 20_000, 30_000):
        threads.append(threading.Thread(target=client, args=(base,)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    records = [r for r, _ in h.read_trail(env.audit_file) if r["seq"] > before]
    decisions = [r for r in records if r["event"] in DECISIONS]
    assert len(decisions) == len(expected), (len(decisions), len(expected))
    by_id = {}
    for r in decisions:
        assert r["request"] not in by_id, f"two records for request {r['request']}"
        by_id[r["request"]] = r
    assert set(by_id) == set(expected)
    issued = 0
    for rid, want in expected.items():
        rec, resp = by_id[rid], results[rid]
        assert rec["event"] == want, (rid, rec, want)
        peer = rec["peer"]
        assert (peer["pid"], peer["uid"], peer["gid"]) == (os.getpid(), os.getuid(), os.getgid())
        tok = sign_token(resp)
        if want == "issued":
            issued += 1
            assert tok, h.error_of(resp)
            assert rec["sha256"] == hashlib.sha256(tok.encode()).hexdigest(), rec
            assert rec["key"] == "zumo" and rec["kid"] == "0" and rec["alg"] == "HS256", rec
            assert rec["exp"] == h.decode_part(tok, 1)["exp"] and rec["sub"] == f"Custom:{rid}"
        else:
            assert tok is None and "sha256" not in rec, rec
            _, code, message = h.error_of(resp)
            assert code == 1 and rec["error"] == "invalid-request", (rec, code)
            assert rec["message"] == message, (rec, message)
    assert issued == 120, issued
    # Records are numbered without gaps and the chain holds.
    assert [r["seq"] for r in records] == list(range(before + 1, before + 1 + len(records)))
    r = verify(env.audit_file)
    assert r.returncode == 0, r.stdout + r.stderr


def test_trail_holds_no_secrets():
    tokens = []
    for i in range(5):
        tokens.append(env.sign("--aud", "Custom", "--uid", f"Custom:s{i}",
                               "--access-token", f"SECRET-ACCESS-{i}"))
    with open(env.audit_file, encoding="utf-8") as f:
        trail = f.read()
    for i, tok in enumerate(tokens):
        assert hashlib.sha256(tok.encode()).hexdigest() in trail
        for text in (trail, env.read_log()):
            assert tok not in text and tok.split(".")[2] not in text and tok.split(".")[1] not in text
            assert f"SECRET-ACCESS-{i}" not in text
    assert "AT-SECRET-" not in trail


def write_lines(path, lines):
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))


def expect_broken(path, line_no, words, any_start=False):
    r = verify(path, any_start=any_start)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert f"BROKEN {path}:{line_no}:" in r.stdout, r.stdout
    assert words in r.stdout, r.stdout


def test_verify_finds_the_changed_line():
    for i in range(4):
        env.sign("--aud", "Custom", "--uid", f"Custom:v{i}")
    lines = [line for _, line in h.read_trail(env.audit_file)]
    assert len(lines) >= 8
    work = os.path.join(env.dir, "copy.jsonl")
    k = 5  # a line in the middle, 1-based

    edited = list(lines)
    edited[k - 1] = edited[k - 1].replace('"time":"', '"time":"1', 1)
    write_lines(work, edited)
    expect_broken(work, k, f"record {k} was changed")

    write_lines(work, lines[:k - 1] + lines[k:])
    expect_broken(work, k, "missing or out of order")

    swapped = list(lines)
    swapped[k - 1], swapped[k] = swapped[k], swapped[k - 1]
    write_lines(work, swapped)
    expect_broken(work, k, "missing or out of order")

    write_lines(work, lines[1:])
    expect_broken(work, 1, "starts at record 2")
    r = verify(work, any_start=True)
    assert r.returncode == 0, r.stdout

    # A torn write at the end of the newest file: what kill -9 leaves when it stops a
    # write(2) between pages. Explained (hsmjwtd cuts it at its next start), not broken;
    # the same in a file that newer files follow is broken.
    write_lines(work, lines)
    with open(work, "a") as f:
        f.write(lines[0][:40])
    r = verify(work)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert f"torn final write: 40 bytes after line {len(lines)}" in r.stdout, r.stdout
    newer = os.path.join(env.dir, "newer.jsonl")
    write_lines(newer, [])
    r = verify(work, newer)
    assert r.returncode == 1 and f"BROKEN {work}:{len(lines) + 1}:" in r.stdout, r.stdout
    assert "newer files follow" in r.stdout, r.stdout

    write_lines(work, lines[:3] + ["not json"] + lines[3:])
    expect_broken(work, 4, "not an hsmjwt audit record")

    r = verify(work, os.path.join(env.dir, "does-not-exist"))
    assert r.returncode == 3 and "does-not-exist" in r.stderr, r
    r = subprocess.run([h.HSMJWTCTL, "audit", "verify"], capture_output=True, text=True)
    assert r.returncode == 2, r


def test_rotation_continues_the_chain():
    env.sign("--aud", "Custom", "--uid", "Custom:before-rotation")
    rotated = env.audit_file + ".1"
    os.rename(env.audit_file, rotated)
    r = env.ctl("reopen-audit")
    assert r.returncode == 0, r.stderr
    wait_for(lambda: os.path.exists(env.audit_file), "the reopened audit file")
    tok = env.sign("--aud", "Custom", "--uid", "Custom:after-rotation")
    new = h.read_trail(env.audit_file)
    assert new[0][0]["event"] == "reopen", new[0]
    assert any(r.get("sha256") == hashlib.sha256(tok.encode()).hexdigest() for r, _ in new)
    # The first record of the new file links to the last one of the old file.
    assert new[0][0]["prev"] == hashlib.sha256(h.read_trail(rotated)[-1][1].encode()).hexdigest()
    r = verify(rotated, env.audit_file)
    assert r.returncode == 0, r.stdout
    expect_broken(env.audit_file, 1, "earlier records are missing")
    r = verify(env.audit_file, rotated)
    assert r.returncode == 1, r.stdout


def test_rotation_while_stopped_continues_the_chain():
    # exit-idle and logrotate's "create": the daemon is not running when the file
    # is rotated, reopen-audit must not fail (postrotate), and the next start on
    # the empty file continues the chain from [audit] head-file.
    with h.Env(audit={"head-file": ""}) as e:
        head = os.path.join(e.dir, "audit-head")
        e.header = e.header.replace("head-file = \n", f"head-file = {head}\n")
        e.header = e.header.replace("[server]\n", f"[server]\npid-file = {e.dir}/pid\n", 1)
        e.write_config()
        e.import_key()
        e.start(activate=False)
        e.sign("--aud", "Custom", "--uid", "Custom:before")
        assert e.stop() == 0
        last = h.read_trail(e.audit_file)[-1]
        with open(head) as f:
            assert f.read() == (f"{last[0]['seq']} {hashlib.sha256(last[1].encode()).hexdigest()}"
                                f" {e.audit_file}\n")
        rotated = e.audit_file + ".1"
        os.rename(e.audit_file, rotated)
        open(e.audit_file, "w").close()
        r = e.ctl("reopen-audit")
        assert r.returncode == 0 and "not running" in r.stdout and "nothing to reopen" in r.stdout, r
        e.start(activate=False)
        e.sign("--aud", "Custom", "--uid", "Custom:after")
        new = h.read_trail(e.audit_file)
        assert new[0][0]["event"] == "start" and new[0][0]["chain"] == "continued", new[0]
        assert new[0][0]["seq"] == last[0]["seq"] + 1, new[0]
        r = verify(rotated, e.audit_file)
        assert r.returncode == 0 and r.stdout.startswith("INTACT"), r.stdout
        assert "continues after record" in e.read_log(), e.read_log()


def test_reload_and_key_changes_recorded():
    keys = env.keys
    before = last_seq()
    env.write_config(keys=tuple(keys) + (("second", {"max-lifetime": "1d", "kid": "second"}),))
    env.import_key("second")
    env.reload()
    new = [r for r, _ in h.read_trail(env.audit_file) if r["seq"] > before]
    events = [r["event"] for r in new]
    # SIGHUP reopens the file too (nothing was rotated: same file, one record says so).
    assert events == ["reopen", "key-change", "reload"], new
    assert new[1]["key"] == "second" and new[1]["detail"] == "added, active", new[1]
    assert new[2]["detail"] == "2 key(s), 1 policy", new[2]
    env.write_config(keys=keys)
    env.reload()
    changes = [r for r, _ in h.read_trail(env.audit_file) if r["event"] == "key-change"]
    assert changes[-1]["key"] == "second" and "removed" in changes[-1]["detail"], changes
    r = verify(env.audit_file + ".1", env.audit_file)  # rotated by the test before
    assert r.returncode == 0, r.stdout


def test_rate_limited_and_denied_recorded():
    limited = (("limited", {"uid": "0", "keys": "*", "audiences": "Custom", "user-ids": "*",
                            "rate": "1/h", "burst": "1"}),)
    with h.Env(policies=limited) as e:
        e.import_key()
        e.start()
        e.sign("--aud", "Custom", "--uid", "Custom:1")
        assert e.hsmjwt("sign", "--aud", "Custom", "--uid", "Custom:2").returncode == 5
        assert e.hsmjwt("sign", "--aud", "Other", "--uid", "Custom:3").returncode in (4, 5)
        recs = [r for r, _ in h.read_trail(e.audit_file) if r["event"] in DECISIONS]
        assert [r["event"] for r in recs[:2]] == ["issued", "rate-limited"], recs
        assert recs[0]["policy"] == "limited" and recs[1]["error"] == "rate-limited", recs
        assert recs[2]["event"] in ("denied", "rate-limited"), recs[2]


def test_standard_profile_records_jti_and_verify_decisions():
    with h.Env(keys=(("es", {"alg": "ES256", "issuer": "https://issuer.example"}),)) as e:
        r = e.ctl("generate", "es")
        assert r.returncode == 0, r.stderr
        e.start()
        tok = e.sign("--aud", "Custom", "--uid", "Custom:std")
        assert e.hsmjwt("verify", tok).returncode == 0
        head, sig = tok.rsplit(".", 1)
        forged = head + "." + ("B" if sig[0] == "A" else "A") + sig[1:]
        assert e.hsmjwt("verify", forged).returncode == 12
        fp = hashlib.sha256(tok.encode()).hexdigest()
        recs = [r for r, _ in h.read_trail(e.audit_file) if r["event"] in DECISIONS | {
            "verify-valid", "verify-invalid"}]
        assert [r["event"] for r in recs] == ["issued", "verify-valid", "verify-invalid"], recs
        assert recs[0]["jti"] == h.decode_part(tok, 1)["jti"] and recs[0]["alg"] == "ES256"
        assert recs[0]["sha256"] == recs[1]["sha256"] == fp, recs
        assert recs[2]["error"] == "bad signature" and "sha256" in recs[2], recs[2]


def test_restart_continues_the_chain():
    env.stop()
    env.start(activate=False)
    tok = env.sign("--aud", "Custom", "--uid", "Custom:after-restart")
    recs = h.read_trail(env.audit_file)
    starts = [r for r, _ in recs if r["event"] == "start"]
    assert starts and starts[-1]["chain"] == "continued", starts
    assert recs[-1][0]["sha256"] == hashlib.sha256(tok.encode()).hexdigest()
    assert verify(env.audit_file + ".1", env.audit_file).returncode == 0


def test_second_daemon_refused():
    r = subprocess.run([h.HSMJWTD, "--config", env.conf], env=env.env, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode != 0 and "another hsmjwtd holds it" in r.stderr, r.stderr
    # Without the pid file, the audit file's lock stops it: two writers would fork the chain.
    other = os.path.join(env.dir, "other.conf")
    with open(env.conf) as f, open(other, "w") as g:
        g.write(f.read().replace("pid-file", "#pid-file").replace(env.sock, env.sock + "2"))
    r = subprocess.run([h.HSMJWTD, "--config", other], env=env.env, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode != 0 and "holds its lock" in r.stderr, r.stderr


def test_dev_null_refused_as_audit_file():
    with h.Env(audit={"file": "/dev/null"}) as e:
        r = subprocess.run([h.HSMJWTD, "--config", e.conf], env=e.env, capture_output=True,
                           text=True, timeout=30)
        assert r.returncode != 0 and "not a regular file" in r.stderr, r.stderr


def expect_unavailable(e, words):
    r = e.hsmjwt("sign", "--aud", "Custom", "--uid", "Custom:full")
    assert r.returncode == 6, (r.returncode, r.stderr, e.read_log())
    assert r.stdout == b"", r.stdout
    assert words.encode() in r.stderr, r.stderr
    # The raw protocol says the same with its code.
    s = h.connect(e.sock)
    h.send_frame(s, h.sign_request(77, b"Custom", b"Custom:raw"))
    err = h.error_of(h.recv_frame(s))
    s.close()
    assert err is not None and err[0] == 77 and err[1] == UNAVAILABLE, err
    assert "audit trail" in err[2], err


def fill(path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"x" * 512) > 0:
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


def test_full_disk_fails_closed_and_recovers():
    if not have_mounts:
        print("  (skipped: needs root for a private tmpfs)")
        return
    mnt = os.path.join(env.dir, "small")
    os.mkdir(mnt)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt], check=True)
    logs = os.path.join(mnt, "logs")
    os.mkdir(logs)
    try:
        with h.Env(audit={"file": os.path.join(logs, "audit.jsonl")}) as e:
            e.import_key()
            e.start()
            issued = [e.sign("--aud", "Custom", "--uid", "Custom:ok")]
            filler = os.path.join(mnt, "filler")
            fill(filler)
            # The audit file's last page may still have room for a few records.
            for i in range(64):
                r = e.hsmjwt("sign", "--aud", "Custom", "--uid", f"Custom:fill{i}")
                if r.returncode != 0:
                    break
                issued.append(r.stdout.decode().strip())
            assert r.returncode == 6 and r.stdout == b"", (r.returncode, r.stderr)
            # With sync = always records are written at the group commit, which
            # finds the full disk and withholds the tokens it held.
            assert b"(No space left on device); token withheld" in r.stderr, r.stderr
            fps = {rec.get("sha256") for rec, _ in h.read_trail(e.audit_file)}
            assert all(hashlib.sha256(t.encode()).hexdigest() in fps for t in issued)
            expect_unavailable(e, "audit trail not writable (No space left on device)")
            os.unlink(filler)
            tok = e.sign("--aud", "Custom", "--uid", "Custom:again")
            recs = h.read_trail(e.audit_file)
            events = [r["event"] for r, _ in recs]
            assert "recovered" in events, events
            rec = recs[events.index("recovered")][0]
            assert rec["message"] == "No space left on device" and rec["failed_since"], rec
            # The withheld token's record was kept and written before "recovered".
            withheld = [r for r, _ in recs if r.get("sub") == f"Custom:fill{i}"]
            assert len(withheld) == 1 and withheld[0]["seq"] < rec["seq"], withheld
            assert rec["withheld_from"] <= withheld[0]["seq"] <= rec["withheld_to"], rec
            assert recs[-1][0]["sha256"] == hashlib.sha256(tok.encode()).hexdigest()
            assert "Audit trail failing" in e.read_log() and "works again" in e.read_log()
            r = verify(e.audit_file)
            assert r.returncode == 0, r.stdout

            # The directory goes away: nothing is issued until it is back.
            shutil.rmtree(logs)
            r = e.hsmjwt("sign", "--aud", "Custom", "--uid", "Custom:gone")
            assert r.returncode == 6 and b"audit trail" in r.stderr, r.stderr
            expect_unavailable(e, "audit trail not writable (the file or its directory was removed)")
            os.mkdir(logs)
            tok = e.sign("--aud", "Custom", "--uid", "Custom:back")
            recs = h.read_trail(e.audit_file)
            assert recs[0][0]["event"] == "recovered", recs[0]
            assert recs[-1][0]["sha256"] == hashlib.sha256(tok.encode()).hexdigest()
            r = verify(e.audit_file, any_start=True)
            assert r.returncode == 0, r.stdout
    finally:
        subprocess.run(["umount", "-l", mnt])


def test_failed_sync_withholds_tokens():
    """With one client the daemon syncs on its loop."""
    failed_sync_withholds_tokens(second_client=False)


def test_failed_sync_withholds_tokens_sync_thread():
    """With a second (idle) client connected the sync thread does it."""
    failed_sync_withholds_tokens(second_client=True)


def failed_sync_withholds_tokens(second_client):
    """fdatasync() fails while write() works: ext4 on a loop device whose backing
    file sits on a full tmpfs (thin provisioning run dry). Tokens whose records
    could not be made durable must not leave."""
    if not have_mounts or not shutil.which("mkfs.ext4"):
        print("  (skipped: needs root and mkfs.ext4)")
        return
    back = tempfile.mkdtemp(dir=env.dir, prefix="backing-")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", back], check=True)
    img, mnt = os.path.join(back, "img"), tempfile.mkdtemp(dir=env.dir, prefix="thin-")
    try:
        subprocess.run(["truncate", "-s", "32M", img], check=True)
        subprocess.run(["mkfs.ext4", "-q", "-O", "^has_journal", "-E",
                        "nodiscard,lazy_itable_init=1", img], check=True)
        if subprocess.run(["mount", "-o", "loop,errors=continue", img, mnt]).returncode != 0:
            print("  (skipped: cannot mount a loop device here)")
            return
        with h.Env(audit={"file": os.path.join(mnt, "audit.jsonl")}) as e:
            e.import_key()
            e.start()
            e.sign("--aud", "Custom", "--uid", "Custom:thin-ok")
            idle = h.connect(e.sock) if second_client else None
            fill(os.path.join(back, "filler"))
            for i in range(64):
                r = e.hsmjwt("sign", "--aud", "Custom", "--uid", f"Custom:thin{i}")
                if r.returncode != 0:
                    break
            assert r.returncode == 6 and r.stdout == b"", (r.returncode, r.stderr, e.read_log())
            assert b"audit trail could not make the record durable" in r.stderr, r.stderr
            assert b"token withheld" in r.stderr, r.stderr
            # Its record was written (the page cache has it), but the token never left.
            recs = h.read_trail(e.audit_file)
            withheld = [rec for rec, _ in recs if rec.get("sub") == f"Custom:thin{i}"]
            assert len(withheld) == 1 and withheld[0]["event"] == "issued", withheld
            os.unlink(os.path.join(back, "filler"))
            e.sign("--aud", "Custom", "--uid", "Custom:thin-back")
            recs = h.read_trail(e.audit_file)
            recovered = [rec for rec, _ in recs if rec["event"] == "recovered"]
            assert recovered, [rec["event"] for rec, _ in recs]
            rec = recovered[0]
            assert rec["withheld_from"] <= withheld[0]["seq"] <= rec["withheld_to"], rec
            assert "cannot make records durable" in e.read_log()
            assert verify(e.audit_file).returncode == 0
            if idle:
                idle.close()
    finally:
        subprocess.run(["umount", mnt], stderr=subprocess.DEVNULL)
        subprocess.run(["umount", "-l", back])


def test_sync_modes_batch_and_none_record_too():
    for mode in ("batch", "none"):
        with h.Env(audit={"sync": mode}) as e:
            e.import_key()
            e.start()
            toks = [e.sign("--aud", "Custom", "--uid", f"Custom:{mode}{i}") for i in range(3)]
            e.stop()
            fps = {r.get("sha256") for r, _ in h.read_trail(e.audit_file)}
            assert all(hashlib.sha256(t.encode()).hexdigest() in fps for t in toks), mode
            assert verify(e.audit_file).returncode == 0


def test_sigterm_writes_stop_record():
    assert env.stop() == 0, env.read_log()
    assert h.read_trail(env.audit_file)[-1][0]["event"] == "stop"


try:
    h.run([test_each_decision_has_one_record_matching_the_token, test_trail_holds_no_secrets,
           test_verify_finds_the_changed_line, test_rotation_continues_the_chain,
           test_rotation_while_stopped_continues_the_chain,
           test_reload_and_key_changes_recorded, test_rate_limited_and_denied_recorded,
           test_standard_profile_records_jti_and_verify_decisions,
           test_restart_continues_the_chain, test_second_daemon_refused,
           test_dev_null_refused_as_audit_file, test_full_disk_fails_closed_and_recovers,
           test_failed_sync_withholds_tokens, test_failed_sync_withholds_tokens_sync_thread,
           test_sync_modes_batch_and_none_record_too, test_sigterm_writes_stop_record])
finally:
    env.cleanup()
