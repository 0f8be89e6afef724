#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The audit trail's journal sink against a real systemd-journald, started in a
mount namespace of our own (the host may run none): every record reaches the
journal with its fields, MESSAGE_ID and the file's line; the catalog explains
every MESSAGE_ID; no secret reaches the journal; with journald gone no token
is issued, and signing resumes when it is back."""

import hashlib
import re
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import time

import harness as h

JOURNALD = next((p for p in ("/lib/systemd/systemd-journald", "/usr/lib/systemd/systemd-journald")
                 if os.path.exists(p)), None)
SOCKET = "/run/systemd/journal/socket"
SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../..")

if not JOURNALD or not shutil.which("journalctl"):
    h.skip("systemd-journald or journalctl is not installed")
if not h.private_mounts():
    h.skip("needs root for a private mount namespace with its own journald")

work = tempfile.mkdtemp(prefix="hsmjwt-journal-")
runlog = os.path.join(work, "runlog")
os.mkdir(runlog)
# A /run of our own: journald's sockets land there, its journal files in runlog (under
# /run/log), and nothing changes outside this namespace.
subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/run"], check=True)
os.makedirs("/run/systemd/journal")
os.makedirs("/run/log")
subprocess.run(["mount", "--bind", runlog, "/run/log"], check=True)
if os.path.isdir("/var/log/journal"):
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/var/log/journal"], check=True)

journald = None


def start_journald():
    global journald
    if os.path.exists(SOCKET):
        os.unlink(SOCKET)  # a killed journald leaves it behind
    journald = subprocess.Popen([JOURNALD], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not os.path.exists(SOCKET):
        if journald.poll() is not None or time.monotonic() > deadline:
            raise AssertionError("systemd-journald did not come up")
        time.sleep(0.02)


def stop_journald(sig=signal.SIGTERM):
    journald.send_signal(sig)
    journald.wait(10)


def export():
    """Entries of the journal as dicts of bytes (journalctl -o export, binary fields included)."""
    out = subprocess.run(["journalctl", "-D", os.path.join(runlog, "journal"), "-o", "export",
                          "--no-pager"], capture_output=True, check=True).stdout
    entries, entry, i = [], {}, 0
    while i < len(out):
        nl = out.index(b"\n", i)
        line = out[i:nl]
        if not line:
            entries.append(entry)
            entry, i = {}, nl + 1
            continue
        if b"=" in line:
            k, v = line.split(b"=", 1)
            i = nl + 1
        else:  # binary field: name, newline, little-endian 64-bit size, data, newline
            k = line
            (n,) = struct.unpack("<Q", out[nl + 1:nl + 9])
            v = out[nl + 9:nl + 9 + n]
            i = nl + 9 + n + 1
        entry[k.decode()] = v
    if entry:
        entries.append(entry)
    return out, [e for e in entries if "HSMJWT_SEQ" in e]


start_journald()
env = h.Env(audit={"journal": "yes"})
env.import_key()
env.start()


def test_every_record_reaches_the_journal():
    toks = [env.sign("--aud", "Custom", "--uid", f"Custom:j{i}", "--access-token",
                     f"JOURNAL-SECRET-{i}") for i in range(3)]
    r = env.hsmjwt("sign", "--aud", "Custom", "--uid", "x", "--lifetime", str(10**9),
                   "--access-token", "JOURNAL-SECRET-refused")
    assert r.returncode == 3, r.stderr
    raw, entries = export()
    by_line = {e["HSMJWT_RECORD"].decode(): e for e in entries}
    trail = h.read_trail(env.audit_file)
    ids = {}
    for rec, line in trail:
        e = by_line.get(line)
        assert e is not None, f"no journal entry for {line}"
        want = {"HSMJWT_RECORD_SHA256": hashlib.sha256(line.encode()).hexdigest(),
                "HSMJWT_SEQ": str(rec["seq"]), "HSMJWT_PREV": rec["prev"],
                "HSMJWT_EVENT": rec["event"], "HSMJWT_TIME": rec["time"],
                "SYSLOG_IDENTIFIER": "hsmjwtd"}
        for k, v in want.items():
            assert e.get(k) == v.encode(), (k, e.get(k), v)
        ids.setdefault(rec["event"], set()).add(e["MESSAGE_ID"])
        if "peer" in rec:
            assert e.get("HSMJWT_PEER_PID") == str(rec["peer"]["pid"]).encode(), e
            # OBJECT_PID would make journald copy the client's command line (secrets!).
            assert "OBJECT_PID" not in e and "OBJECT_CMDLINE" not in e, e
        if "sha256" in rec:
            assert e.get("HSMJWT_TOKEN_SHA256") == rec["sha256"].encode(), e
            assert e.get("HSMJWT_AUDIENCE") == rec["aud"].encode(), e
    # One MESSAGE_ID per event type, and different types have different ones.
    assert all(len(v) == 1 for v in ids.values()), ids
    assert len({next(iter(v)) for v in ids.values()}) == len(ids), ids
    assert {"start", "issued", "invalid"} <= set(ids), ids
    for i, tok in enumerate(toks):
        fp = hashlib.sha256(tok.encode()).hexdigest().encode()
        assert any(e.get("HSMJWT_TOKEN_SHA256") == fp for e in entries)
        for part in [tok] + tok.split(".")[1:]:
            assert part.encode() not in raw
        assert f"JOURNAL-SECRET-{i}".encode() not in raw
    assert b"JOURNAL-SECRET" not in raw


def test_catalog_explains_every_message_id():
    root = os.path.join(work, "catalog-root")
    os.makedirs(os.path.join(root, "usr/lib/systemd/catalog"))
    os.makedirs(os.path.join(root, "var/lib/systemd/catalog"))
    shutil.copy(os.path.join(SRC, "units/hsmjwtd.catalog"),
                os.path.join(root, "usr/lib/systemd/catalog"))
    subprocess.run(["journalctl", f"--root={root}", "--update-catalog"], check=True)
    listed = subprocess.run(["journalctl", f"--root={root}", "--list-catalog"],
                            capture_output=True, text=True, check=True).stdout
    known = {line.split()[0] for line in listed.splitlines() if line.strip()}
    # Every MESSAGE_ID the daemon can send has its entry, and nothing else is there.
    with open(os.path.join(SRC, "daemon/audit/audit-journal.c")) as f:
        sent = set(re.findall(r'\] = \{ "([0-9a-f]{32})"', f.read()))
    assert len(sent) >= 16 and known == sent, (sent ^ known, listed)
    _, entries = export()
    seen = {e["MESSAGE_ID"].decode() for e in entries}
    assert seen and seen <= known, (seen - known, listed)


def test_journal_only_trail():
    with h.Env(audit={"file": "", "journal": "yes"}) as e:
        e.import_key()
        e.start()
        tok = e.sign("--aud", "Custom", "--uid", "Custom:journal-only")
        assert not os.path.exists(os.path.join(e.dir, "audit.jsonl"))
        fp = hashlib.sha256(tok.encode()).hexdigest().encode()
        _, entries = export()
        assert any(x.get("HSMJWT_TOKEN_SHA256") == fp for x in entries)


def test_journal_down_fails_closed_then_recovers():
    stop_journald(signal.SIGKILL)
    r = env.hsmjwt("sign", "--aud", "Custom", "--uid", "Custom:nojournal")
    assert r.returncode == 6 and r.stdout == b"", (r.returncode, r.stderr)
    assert b"audit trail not writable (no journald listens on /run/systemd/journal/socket)" in r.stderr, r.stderr
    os.unlink(SOCKET)  # no journald at all: must not pass for success either
    r = env.hsmjwt("sign", "--aud", "Custom", "--uid", "Custom:nojournal")
    assert r.returncode == 6 and b"audit trail not writable" in r.stderr, (r.returncode, r.stderr)
    start_journald()
    tok = env.sign("--aud", "Custom", "--uid", "Custom:journal-back")
    trail = h.read_trail(env.audit_file)
    events = [rec["event"] for rec, _ in trail]
    assert "recovered" in events, events
    assert trail[-1][0]["sha256"] == hashlib.sha256(tok.encode()).hexdigest()
    assert "Audit trail failing" in env.read_log()


def test_journal_stall_one_recovered_record_no_gap():
    # A stopped journald: its queue fills, then signing must stop without any
    # request waiting on it for seconds; once it is back, one recovered record,
    # and every record in the file is in the journal too.
    env.sign("--aud", "Custom", "--uid", "Custom:before-stall")
    n0 = len(h.read_trail(env.audit_file))
    journald.send_signal(signal.SIGSTOP)
    ok = refused = 0
    slowest = 0.0
    try:
        for i in range(2000):
            t = time.monotonic()
            r = env.hsmjwt("sign", "--aud", "Custom", "--uid", f"Custom:stall{i}")
            slowest = max(slowest, time.monotonic() - t)
            if r.returncode == 0:
                ok += 1
            else:
                assert b"journald takes no records" in r.stderr, r.stderr
                refused += 1
                if refused == 5:
                    break
        time.sleep(2)  # the trail tries again on its ticks, and must stay quiet
    finally:
        journald.send_signal(signal.SIGCONT)
    assert refused == 5, (ok, refused)
    assert slowest < 2, slowest  # the old blocking send held each request for 5 s
    deadline = time.monotonic() + 20
    while True:  # the trail's tick notices journald is back
        r = env.hsmjwt("sign", "--aud", "Custom", "--uid", "Custom:after-stall")
        if r.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert r.returncode == 0, r.stderr
    trail = h.read_trail(env.audit_file)[n0:]
    events = [rec["event"] for rec, _ in trail]
    assert events.count("recovered") == 1, events
    time.sleep(0.5)
    _, entries = export()
    in_journal = {e["HSMJWT_RECORD"].decode() for e in entries}
    missing = [rec["seq"] for rec, line in trail if line not in in_journal]
    assert not missing, missing
    print(f"stall: {ok} signed before journald's queue was full, slowest request {slowest:.3f} s")


def fill(path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"x" * 512) > 0:
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


def test_full_disk_with_journal_both_sinks_agree():
    # sync = none writes the file in the request: the journal takes the record
    # first, so a full disk must not leave a record in the journal alone.
    mnt = os.path.join(work, "small")
    os.mkdir(mnt)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt], check=True)
    try:
        with h.Env(audit={"file": os.path.join(mnt, "audit.jsonl"), "journal": "yes",
                          "sync": "none"}) as e:
            e.import_key()
            e.start()
            e.sign("--aud", "Custom", "--uid", "Custom:disk-ok")
            fill(os.path.join(mnt, "filler"))
            for i in range(64):
                r = e.hsmjwt("sign", "--aud", "Custom", "--uid", f"Custom:disk{i}")
                if r.returncode != 0:
                    break
            assert r.returncode == 6 and b"No space left on device" in r.stderr, r.stderr
            os.unlink(os.path.join(mnt, "filler"))
            deadline = time.monotonic() + 10
            while True:
                r = e.hsmjwt("sign", "--aud", "Custom", "--uid", "Custom:disk-again")
                if r.returncode == 0 or time.monotonic() > deadline:
                    break
                time.sleep(0.3)
            assert r.returncode == 0, r.stderr
            time.sleep(0.5)
            trail = h.read_trail(e.audit_file)
            in_file = {line for _, line in trail}
            _, entries = export()
            journal_only = [x["HSMJWT_SEQ"].decode() for x in entries
                            if x.get("HSMJWT_RECORD", b"").decode() not in in_file
                            and b"Custom:disk" in x.get("HSMJWT_RECORD", b"")]
            assert not journal_only, journal_only
            withheld = [rec for rec, _ in trail if rec.get("sub") == f"Custom:disk{i}"]
            rec = next(rec for rec, _ in trail if rec["event"] == "recovered")
            assert len(withheld) == 1 and rec["withheld_from"] <= withheld[0]["seq"], (withheld, rec)
            r = subprocess.run([h.HSMJWTCTL, "audit", "verify", e.audit_file], capture_output=True,
                               text=True)
            assert r.returncode == 0, r.stdout
    finally:
        subprocess.run(["umount", "-l", mnt])


def test_no_journald_at_start_names_the_option():
    stop_journald()
    os.unlink(SOCKET)
    try:
        with h.Env(audit={"journal": "yes"}) as e:
            e.import_key()
            e.expect_failure = True
            try:
                e.start(activate=False)
                raise AssertionError("hsmjwtd started without a journald")
            except AssertionError as x:
                assert "did not come up" in str(x), x
            log = e.read_log()
            assert "[audit] journal = yes, but no journald" in log, log
            assert not h.read_trail(e.audit_file) if os.path.exists(e.audit_file) else True
    finally:
        start_journald()


try:
    h.run([test_every_record_reaches_the_journal, test_catalog_explains_every_message_id,
           test_journal_only_trail, test_journal_down_fails_closed_then_recovers,
           test_journal_stall_one_recovered_record_no_gap,
           test_full_disk_with_journal_both_sinks_agree,
           test_no_journald_at_start_names_the_option])
finally:
    env.cleanup()
    if journald and journald.poll() is None:
        stop_journald()
    shutil.rmtree(work, ignore_errors=True)
