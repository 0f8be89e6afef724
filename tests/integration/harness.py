# SPDX-License-Identifier: MIT
"""Real parts for integration tests: a throwaway SoftHSM token, hsmjwtctl,
hsmjwtd under systemd-socket-activate, the hsmjwt CLI, and an independent
reference for v2 tokens built only from Python's standard library."""

import base64
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("HSMJWT_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
HSMJWTD = os.path.join(BUILD, "daemon/hsmjwtd")
HSMJWTCTL = os.path.join(BUILD, "daemon/hsmjwtctl")
HSMJWT = os.path.join(BUILD, "client/hsmjwt")
SOFTHSM_CANDIDATES = ["/usr/lib/softhsm/libsofthsm2.so",
                      "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"]
SPEC_MASTER = "shared-vector-1 master key"
# E.g. "valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite":
# every daemon the tests start runs under it (scripts/test-valgrind).
DAEMON_WRAPPER = os.environ.get("HSMJWT_DAEMON_WRAPPER", "").split()
ZUMO_ISS = "urn:microsoft:windows-azure:zumo"
PIN = "1234"


def skip(reason):
    print(f"SKIP: {reason}")
    sys.exit(77)


def softhsm_module():
    for p in SOFTHSM_CANDIDATES:
        if os.path.exists(p):
            return p
    skip("SoftHSMv2 is not installed")


# ---- the independent reference (spec/zumo-v2.md, nothing from our code) ----

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def js_json(obj):
    # JSON.stringify's output for these shapes: no spaces, insertion order,
    # raw non-ASCII, \u00xx (lower-case) for other controls.
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def signing_key(master):
    return hashlib.sha256(master.encode() + b"JWTSig").digest()


def reference_token(master, exp, aud, uid, access_token=None, kid="0", iss=ZUMO_ISS):
    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    payload = {"exp": exp, "iss": iss, "ver": 2, "aud": aud, "uid": uid}
    if access_token is not None:
        payload["urn:microsoft:credentials"] = {"accessToken": access_token}
    signing_input = b64url(js_json(header).encode()) + "." + b64url(js_json(payload).encode())
    mac = hmac.new(signing_key(master), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(mac)


def decode_part(token, i):
    part = token.split(".")[i]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


# ---- a fresh token, config and daemon ----

# Policies deny by default; tests that are not about policy run as root and get everything.
ROOT_POLICY = (("harness-root", {"uid": "0", "keys": "*", "audiences": "*", "user-ids": "*",
                                 "credentials": "yes", "verify": "yes", "extra-claims": "*",
                                 "legacy-claims": "yes"}),)


class Env:
    def __init__(self, keys=(("zumo", {"max-lifetime": "400d"}),), module=None, extra_env=None,
                 token_uri="pkcs11:token=hsmjwt", server_extra="", policies=ROOT_POLICY,
                 audit=None, init_token=True):
        # init_token=False: the module needs no SoftHSM token (tests/mock-pkcs11).
        self.dir = tempfile.mkdtemp(prefix="hsmjwt-it-")
        self.sock = os.path.join(self.dir, "hsmjwtd.sock")
        self.conf = os.path.join(self.dir, "hsmjwtd.conf")
        self.log = os.path.join(self.dir, "hsmjwtd.log")
        self.daemon = None
        self.expect_failure = False  # set by tests that make the daemon fail on purpose
        os.mkdir(os.path.join(self.dir, "tokens"))
        with open(os.path.join(self.dir, "softhsm2.conf"), "w") as f:
            f.write(f"directories.tokendir = {self.dir}/tokens\nobjectstore.backend = file\n"
                    "log.level = ERROR\n")
        self.daemon_env = {"SOFTHSM2_CONF": os.path.join(self.dir, "softhsm2.conf")}
        # Sanitizer settings must reach the daemon through systemd-socket-activate too.
        for k in ("ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS"):
            if k in os.environ:
                self.daemon_env[k] = os.environ[k]
        if extra_env:
            self.daemon_env.update(extra_env)
        self.env = dict(os.environ, **self.daemon_env)
        self.env.pop("HSMJWT_SOCKET", None)
        if init_token:
            subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "hsmjwt",
                            "--pin", PIN, "--so-pin", "5678"], env=self.env, check=True,
                           stdout=subprocess.DEVNULL)
        pin = os.path.join(self.dir, "pin")
        with open(os.open(pin, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(PIN + "\n")
        # The audit trail goes to the test's directory; tests of the journal turn it on.
        audit_opts = {"file": os.path.join(self.dir, "audit.jsonl"), "journal": "no"}
        audit_opts.update(audit or {})
        self.audit_file = audit_opts["file"]
        lines = [f"[server]\nsocket = {self.sock}\n{server_extra}",
                 "[audit]\n" + "".join(f"{k} = {v}\n" for k, v in audit_opts.items()),
                 f"[token]\nmodule = {module or softhsm_module()}\nuri = {token_uri}\n"
                 f"pin-file = {pin}\n"]
        self.header = "\n".join(lines)
        self.keys, self.policies = keys, policies
        self.write_config(keys)

    def write_config(self, keys=None, policies=None, extra=""):
        """Rewrites the [key] and [policy NAME] sections (for reload tests); the rest
        stays, and so do keys or policies not given."""
        self.keys = self.keys if keys is None else keys
        self.policies = self.policies if policies is None else policies
        lines = [self.header]
        for name, opts in self.keys:
            opts = dict(opts)
            # Key pairs share label and id, so their URI names no type.
            kind = "" if opts.get("alg", "HS256") != "HS256" else ";type=secret-key"
            uri = opts.pop("uri", f"pkcs11:token=hsmjwt;object={name}{kind}")
            lines.append(f"[key {name}]\nuri = {uri}\n"
                         + "".join(f"{k} = {v}\n" for k, v in opts.items()))
        for name, opts in self.policies:
            lines.append(f"[policy {name}]\n" + "".join(f"{k} = {v}\n" for k, v in opts.items()))
        tmp = self.conf + ".new"
        with open(tmp, "w") as f:
            f.write("\n".join(lines) + extra)
        os.rename(tmp, self.conf)

    def reload(self, timeout=30):
        """SIGHUP to hsmjwtd itself (under systemd-socket-activate it is the same process:
        the activator execs the daemon), then waits until the daemon logged the outcome."""
        def outcomes():
            log = self.read_log()
            return log.count("Reloaded:") + log.count("Reload refused")
        before = outcomes()
        self.daemon.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while outcomes() == before:
            if time.monotonic() > deadline:
                raise AssertionError("reload not acknowledged:\n" + self.read_log()[-2000:])
            time.sleep(0.02)

    def ctl(self, *args, stdin=None):
        return subprocess.run([HSMJWTCTL, "--config", self.conf, *args], input=stdin,
                              env=self.env, capture_output=True, text=True, timeout=60)

    def import_key(self, name="zumo", master=SPEC_MASTER, replace=False):
        args = ["import-zumo"] + (["--replace"] if replace else []) + [name]
        r = self.ctl(*args, stdin=master + "\n")
        assert r.returncode == 0, f"import-zumo failed: {r.stderr}"
        return r

    def start(self, activate=True):
        """Starts hsmjwtd; with activate, the way systemd would: the socket is
        bound by systemd-socket-activate and handed over on first connect."""
        logf = open(self.log, "ab")
        if activate:
            if not shutil.which("systemd-socket-activate"):
                skip("systemd-socket-activate is not installed")
            # systemd-socket-activate hands over only the variables named with -E.
            cmd = ["systemd-socket-activate", "-l", self.sock]
            for k, v in self.daemon_env.items():
                cmd += ["-E", f"{k}={v}"]
            cmd += DAEMON_WRAPPER + [HSMJWTD, "--config", self.conf]
        else:
            cmd = DAEMON_WRAPPER + [HSMJWTD, "--config", self.conf]
        self.daemon = subprocess.Popen(cmd, env=self.env, stdout=logf, stderr=logf)
        # The socket file appears at bind(), a moment before listen(): wait until a
        # connection is accepted (under activation, this first one starts the daemon).
        deadline = time.monotonic() + 30
        while True:
            if self.daemon.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("daemon did not come up:\n" + self.read_log())
            try:
                probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                probe.connect(self.sock)
                probe.close()
                break
            except (FileNotFoundError, ConnectionRefusedError):
                probe.close()
                time.sleep(0.02)

    def allow_other_users(self):
        """Lets every uid reach the socket, so the daemon's policy is the only gate, and
        copies what other users run (the CLI with libhsmjwt, the Python test clients)
        where they can read it: the checkout may sit in a directory only root enters
        (a mktemp -d clone is 0700)."""
        os.chmod(self.dir, 0o711)
        os.chmod(self.sock, 0o666)
        stage = os.path.join(self.dir, "other-users")
        os.mkdir(stage)
        os.chmod(stage, 0o755)
        for name in os.listdir(os.path.join(BUILD, "client")):
            if name.startswith("libhsmjwt.so") and not name.endswith(".p"):  # .p: objects
                shutil.copy2(os.path.join(BUILD, "client", name), stage, follow_symlinks=False)
        shutil.copy2(HSMJWT, stage)
        here = os.path.dirname(os.path.abspath(__file__))
        for name in ("harness.py", "peer_client.py"):
            shutil.copy2(os.path.join(here, name), stage)
        for name in os.listdir(stage):
            if not os.path.islink(os.path.join(stage, name)):
                os.chmod(os.path.join(stage, name), 0o755)
        self.other_hsmjwt = os.path.join(stage, "hsmjwt")
        self.other_env = dict(self.env, LD_LIBRARY_PATH=stage)
        self.peer_client = os.path.join(stage, "peer_client.py")

    def stop(self):
        if self.daemon and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(10)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()
                raise AssertionError("daemon ignored SIGTERM")
        return self.daemon.returncode if self.daemon else None

    def read_log(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def hsmjwt(self, *args, stdin=None):
        cmd = [HSMJWT, "--socket", self.sock, *args]
        return subprocess.run(cmd, input=stdin, env=self.env, capture_output=True, timeout=30)

    def sign(self, *args):
        r = self.hsmjwt("sign", *args)
        assert r.returncode == 0, f"sign {args} failed ({r.returncode}): {r.stderr!r}\n" + self.read_log()
        out = r.stdout.decode()
        assert out.endswith("\n") and out.count("\n") == 1, repr(out)
        return out[:-1]

    def hsmjwt_as(self, uid, gid, *args, groups=None, stdin=None, wrap=()):
        """The CLI as another user: setpriv drops to uid/gid with exactly `groups`."""
        ids = ["--reuid", str(uid), "--regid", str(gid)]
        ids += ["--groups", ",".join(map(str, groups))] if groups else ["--clear-groups"]
        cmd = [*wrap, "setpriv", *ids, self.other_hsmjwt, "--socket", self.sock, *args]
        return subprocess.run(cmd, input=stdin, env=self.other_env, capture_output=True,
                              timeout=30)

    def cleanup(self, failing=False):
        try:
            rc = self.stop()
            # SIGTERM must end the daemon cleanly; under ASan or valgrind a leak or a
            # memory error turns into a non-zero status here. A test already failing
            # keeps its own error.
            if rc not in (None, 0) and not self.expect_failure and not failing:
                raise AssertionError(f"hsmjwtd exited with {rc}:\n" + self.read_log()[-4000:])
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        self.cleanup(failing=exc_type is not None)


# ---- raw protocol access, for what the CLI cannot send ----

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(num, wire, value):
    key = varint(num << 3 | wire)
    if wire == 0:
        return key + varint(value)
    return key + varint(len(value)) + value


def parse_message(data):
    """A tiny protobuf decoder: {field number: [values]} (bytes for length-delimited)."""
    out, i = {}, 0
    while i < len(data):
        key, i = read_varint(data, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            v, i = read_varint(data, i)
        elif wire == 2:
            n, i = read_varint(data, i)
            v, i = data[i:i + n], i + n
        else:
            raise ValueError(f"unexpected wire type {wire}")
        out.setdefault(num, []).append(v)
    return out


def read_varint(data, i):
    shift = n = 0
    while True:
        b = data[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    return s


def send_frame(s, payload):
    s.sendall(struct.pack(">I", len(payload)) + payload)


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def recv_frame(s):
    hdr = recv_exact(s, 4)
    if hdr is None:
        return None
    (n,) = struct.unpack(">I", hdr)
    return recv_exact(s, n)


def sign_request(req_id, aud, uid, lifetime=None, expires_at=None, access_token=None, key=None):
    body = field(1, 2, aud) + field(2, 2, uid)
    if lifetime is not None:
        body += field(3, 0, lifetime)
    if expires_at is not None:
        body += field(4, 0, expires_at)
    if access_token is not None:
        body += field(5, 2, field(1, 2, access_token))
    if key is not None:
        body += field(6, 2, key)
    return field(1, 0, req_id) + field(2, 2, body)


def error_of(response):
    """(id, code, message) of an Error response, or None for another body."""
    m = parse_message(response)
    if 15 not in m:
        return None
    e = parse_message(m[15][0])
    return (m.get(1, [0])[0], e.get(1, [0])[0], e.get(2, [b""])[0].decode())


def run(tests):
    failed = 0
    for t in tests:
        try:
            t()
            print(f"ok   {t.__name__}")
        except Exception as e:  # noqa: BLE001 - report every failure and go on
            failed += 1
            print(f"FAIL {t.__name__}: {type(e).__name__}: {e}")
    sys.exit(1 if failed else 0)


class Activator:
    """What systemd does for a .socket unit, for machines where systemd is not PID 1:
    holds the listening socket, starts the daemon with it (LISTEN_FDS=1) whenever a
    client is waiting and no daemon runs, and collects sd_notify messages."""

    def __init__(self, env, notify=True, watchdog_usec=None):
        import select  # noqa: F401 - used by run()
        import threading
        self.env = env
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(env.sock)
        self.listener.listen(512)
        self.notify_path = os.path.join(env.dir, "notify.sock")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        self.messages = []
        self.starts = 0
        self.watchdog_usec = watchdog_usec
        self.proc = None
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def spawn(self):
        extra = dict(self.env.daemon_env, NOTIFY_SOCKET=self.notify_path, LISTEN_FDS="1")
        if self.watchdog_usec:
            extra["WATCHDOG_USEC"] = str(self.watchdog_usec)
        exports = " ".join(f"{k}={sh_quote(v)}" for k, v in extra.items())
        # LISTEN_PID must be the daemon's own pid: set it in the shell that execs it.
        script = (f"exec 3<&{self.listener.fileno()}; export {exports} LISTEN_PID=$$"
                  + (" WATCHDOG_PID=$$" if self.watchdog_usec else "")
                  + f"; exec {HSMJWTD} --config {self.env.conf}")
        logf = open(self.env.log, "ab")
        self.proc = subprocess.Popen(["sh", "-c", script], pass_fds=[self.listener.fileno()],
                                     stdout=logf, stderr=logf, env=self.env.env)
        self.starts += 1

    def run(self):
        import select
        while not self.stopping.is_set():
            r, _, _ = select.select([self.notify, self.listener], [], [], 0.05)
            if self.notify in r:
                self.messages.append(self.notify.recv(4096).decode())
            running = self.proc is not None and self.proc.poll() is None
            if self.listener in r and not running and not self.stopping.is_set():
                self.spawn()

    def wait_message(self, text, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in m for m in self.messages):
                return
            time.sleep(0.01)
        raise AssertionError(f"no sd_notify message with {text!r}: {self.messages}")

    def stop(self):
        self.stopping.set()
        self.thread.join(5)
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
        self.notify.setblocking(False)
        while True:  # what the daemon said on its way out
            try:
                self.messages.append(self.notify.recv(4096).decode())
            except BlockingIOError:
                break
        self.listener.close()
        self.notify.close()
        return self.proc.returncode if self.proc else None


def sh_quote(v):
    return "'" + str(v).replace("'", "'\\''") + "'"
# ---- audit trail helpers ----

def read_trail(path, torn_ok=False):
    """The audit file's records, parsed, with their raw lines. torn_ok: after a
    kill -9 the last line may be a torn write (no record); it is left out."""
    # Split at "\n" only: str.splitlines() also splits at U+2028 and others, which
    # JSON leaves raw inside strings.
    with open(path, encoding="utf-8", newline="") as f:
        # A preallocated file ([audit] preallocate) has zeros after its records.
        lines = f.read().rstrip("\0").split("\n")
    if torn_ok:
        lines[-1] = ""
    assert lines[-1] == "", f"{path} does not end with a newline"
    return [(json.loads(line), line) for line in lines[:-1]]


def private_mounts():
    """Moves this process (and its future children) into a mount namespace of its
    own, so tmpfs mounts vanish with it. Returns False when that is not allowed."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    CLONE_NEWNS = 0x00020000
    if os.geteuid() != 0 or libc.unshare(CLONE_NEWNS) != 0:
        return False
    return subprocess.run(["mount", "--make-rprivate", "/"]).returncode == 0


def pipeline(path, frames):
    """Sends all frames on one connection before reading, then returns the responses."""
    s = connect(path)
    s.sendall(b"".join(struct.pack(">I", len(f)) + f for f in frames))
    out = [recv_frame(s) for _ in frames]
    s.close()
    return out


# ---- the client examples (client/*/examples/server.*) ----

def check_example_server(cmd, sock, cwd=None, extra_env=None):
    """Runs an example server (login + API endpoint) on a free loopback port
    against the daemon on sock: a token for alice at /login, /api/me accepts it
    and refuses a forged one and none at all."""
    import urllib.request
    import urllib.error
    env = dict(os.environ, HSMJWT_SOCKET=sock, PORT="0", **(extra_env or {}))
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        line = p.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:"), (line, p.stderr.read())
        base = line.split()[-1]

        def call(path, data=None, token=None):
            req = urllib.request.Request(base + path, data=data)
            if token:
                req.add_header("Authorization", "Bearer " + token)
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    return r.status, json.loads(r.read())
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read())
        st, body = call("/login", json.dumps({"user": "alice", "password": "demo"}).encode())
        assert st == 200 and body["token"].count(".") == 2, (st, body)
        token = body["token"]
        assert decode_part(token, 1)["uid"] == "Custom:alice"
        assert call("/login", json.dumps({"user": "alice", "password": "x"}).encode())[0] == 401
        st, me = call("/api/me", token=token)
        assert st == 200 and me["uid"] == "Custom:alice", (st, me)
        st, bad = call("/api/me", token=token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
        assert st == 401 and "bad_signature" in bad["error"], (st, bad)
        assert call("/api/me")[0] == 401
    finally:
        p.terminate()
        p.wait(10)
