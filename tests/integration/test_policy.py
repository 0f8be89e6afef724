#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Who may have which token, through the real socket from real other users:
clients run under other uids and gids (setpriv as root) against a daemon
whose [policy] sections grant some things and not others. Root has no
policy here, so root is denied too. hsmjwtctl check-policy must agree."""

import json
import os
import subprocess
import time

import harness as h

if os.geteuid() != 0:
    h.skip("needs root to run clients as other users with setpriv")
if not h.shutil.which("setpriv"):
    h.skip("setpriv (util-linux) is not installed")

CLIENTS, LIMITED, BY_UNIT, GROUP = 1000, 4712, 4713, 4800
UNIT_PREFIX = "hsmjwt-test-"

POLICIES = [
    ("clients", {"uid": str(CLIENTS), "keys": "zumo", "audiences": "Custom Face*",
                 "user-ids": "Custom:*", "max-lifetime": "10min", "credentials": "yes"}),
    ("limited", {"uid": str(LIMITED), "keys": "*", "audiences": "*", "user-ids": "*",
                 "rate": "1/h", "burst": "3"}),
    ("by-unit", {"uid": str(BY_UNIT), "unit": UNIT_PREFIX + "*.scope", "keys": "*",
                 "audiences": "*", "user-ids": "*"}),
    ("by-group", {"gid": str(GROUP), "keys": "*", "audiences": "*", "user-ids": "*"}),
]

env = h.Env(keys=(("zumo", {"default-lifetime": "1h"}), ("other", {"kid": "other"})), policies=POLICIES)
env.import_key("zumo")
env.import_key("other", master="another master key")
env.start(activate=True)
env.hsmjwt("sign", "--aud", "x", "--uid", "y")  # first connect: socket activation starts the daemon
env.allow_other_users()



def sign_as(uid, *args, gid=None, groups=None, wrap=()):
    return env.hsmjwt_as(uid, uid if gid is None else gid, "sign", *args, groups=groups,
                         wrap=wrap)


def expect_ok(r):
    assert r.returncode == 0, (r.returncode, r.stderr, env.read_log()[-2000:])
    return r.stdout.decode().strip()


def expect_denied(r, message):
    assert r.returncode == 4, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == b""
    err = r.stderr.decode()
    assert "permission denied" in err.lower() and message in err, err
    return err


def check_policy(*args):
    r = env.ctl("check-policy", *args)
    return r.returncode, r.stdout


class PeerClient:
    """peer_client.py as another user: one connection, kept open."""

    def __init__(self, uid, gid):
        self.p = subprocess.Popen(
            ["setpriv", "--reuid", str(uid), "--regid", str(gid), "--clear-groups",
             "/usr/bin/python3", env.peer_client, env.sock],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env.env)
        self.next_id = 1

    def sign(self, aud, sub, **kw):
        self.next_id += 1
        self.p.stdin.write(json.dumps(dict(id=self.next_id, aud=aud, sub=sub, **kw)) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        assert line, "peer client died"
        out = json.loads(line)
        assert out.get("id") == self.next_id, out
        return out

    def close(self):
        self.p.stdin.close()
        self.p.wait(10)


def test_allowed_from_other_uid():
    before = int(time.time())
    tok = expect_ok(sign_as(CLIENTS, "--aud", "Facebook", "--uid", "Custom:1", "--lifetime", "600"))
    exp = h.decode_part(tok, 1)["exp"]
    assert before + 600 <= exp <= int(time.time()) + 600
    assert tok == h.reference_token(h.SPEC_MASTER, exp, "Facebook", "Custom:1"), tok
    fp = h.hashlib.sha256(tok.encode()).hexdigest()
    record = [rec for rec, _ in h.read_trail(env.audit_file) if rec.get("sha256") == fp]
    assert len(record) == 1 and record[0]["peer"]["uid"] == CLIENTS, record
    assert record[0]["policy"] == "clients", record


def test_denied_by_audience():
    expect_denied(sign_as(CLIENTS, "--aud", "Google", "--uid", "Custom:1"),
                  "policy 'clients' does not grant audience 'Google'")
    # The refusal is audited.
    assert any(rec["event"] == "denied" and "does not grant audience 'Google'" in rec["message"]
               for rec, _ in h.read_trail(env.audit_file))


def test_denied_by_user_id_pattern():
    expect_denied(sign_as(CLIENTS, "--aud", "Custom", "--uid", "Facebook:1"),
                  "policy 'clients' does not grant user id 'Facebook:1'")


def test_lifetime_over_policy_refused_default_cut():
    # Refused, not clamped, when asked for; the message names the limit.
    expect_denied(sign_as(CLIENTS, "--aud", "Custom", "--uid", "Custom:1", "--lifetime", "601"),
                  "lifetime 601 s exceeds policy 'clients' max-lifetime of 600 s")
    expect_denied(sign_as(CLIENTS, "--aud", "Custom", "--uid", "Custom:1", "--expires-at",
                          str(int(time.time()) + 3000)), "max-lifetime of 600 s")
    # Asking for nothing gets the key's default (1h) cut to the policy's 10 min.
    before = int(time.time())
    tok = expect_ok(sign_as(CLIENTS, "--aud", "Custom", "--uid", "Custom:1"))
    exp = h.decode_part(tok, 1)["exp"]
    assert before + 600 <= exp <= int(time.time()) + 600, (before, exp)


def test_denied_by_key():
    expect_denied(sign_as(CLIENTS, "--aud", "Custom", "--uid", "Custom:1", "--key", "other"),
                  "policy 'clients' does not grant key 'other'")
    # ... which another policy grants.
    tok = expect_ok(sign_as(4714, "--aud", "A", "--uid", "B", "--key", "other", gid=GROUP))
    exp = h.decode_part(tok, 1)["exp"]
    assert tok == h.reference_token("another master key", exp, "A", "B", kid="other")


def test_group_primary_and_supplementary_credentials_not_granted():
    expect_ok(sign_as(4714, "--aud", "A", "--uid", "B", gid=GROUP))
    expect_ok(sign_as(4714, "--aud", "A", "--uid", "B", gid=4714, groups=[12, GROUP]))
    expect_denied(sign_as(4714, "--aud", "A", "--uid", "B", gid=4714, groups=[12]),
                  "no policy grants tokens to uid 4714 (gid 4714")
    expect_denied(sign_as(4714, "--aud", "A", "--uid", "B", "--access-token", "x", gid=GROUP),
                  "policy 'by-group' does not grant the credentials claim")
    expect_ok(sign_as(CLIENTS, "--aud", "Custom", "--uid", "Custom:1", "--access-token", "x"))


def unit_wrapper(name):
    """How to start a client inside systemd unit `name`, or None with the reason."""
    with open("/proc/1/comm") as f:
        if f.read().strip() == "systemd":
            return ["systemd-run", "--quiet", "--scope", "--unit", name], None, None
    # No systemd here: do what `systemd-run --scope` does, a cgroup named like the scope
    # in the unified hierarchy, which is what sd_pid_get_unit() reads.
    with open("/proc/self/cgroup") as f:
        own = [l.split("::", 1)[1].strip() for l in f if l.startswith("0::")]
    for mnt in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        if own and os.path.exists(os.path.join(mnt, "cgroup.procs")):
            path = os.path.join(mnt + own[0], name)
            try:
                os.mkdir(path)
            except OSError as e:
                return None, None, f"cannot create cgroup {path}: {e}"
            enter = f'echo $$ > {path}/cgroup.procs && exec "$@"'
            return ["sh", "-c", enter, "sh"], path, None
    return None, None, "systemd is not PID 1 and no writable cgroup2 hierarchy was found"


def test_unit():
    name = f"{UNIT_PREFIX}{os.getpid()}.scope"
    wrap, cgroup, reason = unit_wrapper(name)
    if wrap is None:
        print(f"SKIP test_unit: {reason}")
        return
    try:
        expect_ok(sign_as(BY_UNIT, "--aud", "A", "--uid", "B", wrap=wrap))
        peers = [rec["peer"] for rec, _ in h.read_trail(env.audit_file) if "peer" in rec]
        assert any(p["uid"] == BY_UNIT and p.get("unit") == name for p in peers), peers[-3:]
    finally:
        if cgroup:
            for _ in range(100):  # the client has exited; the kernel empties the cgroup soon after
                try:
                    os.rmdir(cgroup)
                    break
                except OSError:
                    time.sleep(0.05)
    # Same uid, not in the unit: no policy.
    expect_denied(sign_as(BY_UNIT, "--aud", "A", "--uid", "B"),
                  f"no policy grants tokens to uid {BY_UNIT}")
    code, out = check_policy("--uid", str(BY_UNIT), "--unit", name, "--aud", "A")
    assert code == 0 and "allow: policy 'by-unit'" in out, out


def test_rate_limited_after_burst():
    # burst 3 at 1/h: the 4th immediate request is limited however slow this machine is.
    c = PeerClient(LIMITED, LIMITED)
    try:
        for i in range(3):
            assert "token" in c.sign("A", f"B:{i}"), i
        out = c.sign("A", "B:3")
        assert out["code"] == 3, out  # ERROR_CODE_RATE_LIMITED
        assert 0 < out["retry_after_ms"] <= 3600 * 1000, out
        assert "rate limited by policy 'limited' (1/h burst 3); retry in" in out["message"], out
    finally:
        c.close()
    # The bucket belongs to the peer, not the connection.
    r = sign_as(LIMITED, "--aud", "A", "--uid", "B")
    assert r.returncode == 5 and b"rate limited" in r.stderr, r
    # Others are not affected.
    expect_ok(sign_as(CLIENTS, "--aud", "Custom", "--uid", "Custom:2"))


def test_no_policy_means_denied_root_included():
    r = env.hsmjwt("sign", "--aud", "Custom", "--uid", "Custom:1")
    expect_denied(r, "no policy grants tokens to uid 0 (gid 0")
    expect_denied(sign_as(4999, "--aud", "Custom", "--uid", "Custom:1"),
                  "no policy grants tokens to uid 4999")


def test_check_policy_agrees_with_daemon():
    cases = [
        (CLIENTS, ["--aud", "Google", "--uid", "Custom:1"]),
        (CLIENTS, ["--aud", "Custom", "--uid", "Facebook:1"]),
        (CLIENTS, ["--aud", "Custom", "--uid", "Custom:1", "--lifetime", "601"]),
        (CLIENTS, ["--aud", "Custom", "--uid", "Custom:1", "--key", "other"]),
        (4999, ["--aud", "Custom", "--uid", "Custom:1"]),
    ]
    for uid, args in cases:
        daemon = sign_as(uid, *args).stderr.decode().strip().split(": ", 3)[-1]
        # The daemon names the rule of a peer no policy matches; check-policy has no rules.
        daemon = daemon.removesuffix(" [rule no-policy]")
        ctl_args = ["--uid", str(uid), "--gid", str(uid)]
        for flag, value in zip(args[::2], args[1::2]):
            ctl_args += [{"--uid": "--sub"}.get(flag, flag), value]
        code, out = check_policy(*ctl_args)
        assert code == 4, (code, out)
        assert out.splitlines()[1] == "deny: " + daemon, (out, daemon)
    code, out = check_policy("--uid", str(CLIENTS), "--gid", str(CLIENTS), "--aud", "Custom",
                             "--sub", "Custom:1")
    assert code == 0 and "allow: policy 'clients', key zumo, lifetime 600 s (default)" in out, out


def test_reload_applies_without_dropping_connection():
    c = PeerClient(CLIENTS, CLIENTS)
    try:
        assert "token" in c.sign("Custom", "Custom:1")
        narrowed = [("clients", dict(POLICIES[0][1], audiences="Facebook"))] + POLICIES[1:]
        env.write_config(policies=narrowed)
        env.reload()
        out = c.sign("Custom", "Custom:1")  # same connection, new policy
        assert out.get("code") == 2 and "does not grant audience 'Custom'" in out["message"], out
        assert "token" in c.sign("Facebook", "Custom:1")

        # An invalid file changes nothing and says why.
        env.write_config(policies=POLICIES, extra="[policy broken]\nuid = 1\nfrobnicate = yes\n")
        env.reload()
        assert "[policy broken] frobnicate: unknown key (known: " in env.read_log()
        assert "token" in c.sign("Facebook", "Custom:1")
        assert c.sign("Custom", "Custom:1").get("code") == 2

        env.write_config(policies=POLICIES)
        env.reload()
        assert "token" in c.sign("Custom", "Custom:1")
    finally:
        c.close()


def test_sigterm_exits_cleanly():
    assert env.stop() == 0, env.read_log()


try:
    h.run([test_allowed_from_other_uid, test_denied_by_audience, test_denied_by_user_id_pattern,
           test_lifetime_over_policy_refused_default_cut, test_denied_by_key,
           test_group_primary_and_supplementary_credentials_not_granted, test_unit,
           test_rate_limited_after_burst, test_no_policy_means_denied_root_included,
           test_check_policy_agrees_with_daemon, test_reload_applies_without_dropping_connection,
           test_sigterm_exits_cleanly])
finally:
    env.cleanup()
