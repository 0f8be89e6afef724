#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""hsmjwt-kube-signer against hostile HTTP/2 (python3-h2 and raw bytes): a
bad preface, no SETTINGS, a slowloris, oversized and split messages,
RST_STREAM mid-call, a flood of streams, grpc-timeout, Trailers-Only errors,
GOAWAY on shutdown. After each, a normal gRPC client is still served and the
adapter's memory stays bounded."""

import json
import socket
import struct
import time

import harness as h
import kube_harness as k

try:
    import h2.config
    import h2.connection
    import h2.events
    import h2.settings
except ImportError:
    h.skip("python3-h2 is not installed")

ISS = k.ISSUER
env = h.Env(keys=(("kube", {"alg": "ES256", "issuer": ISS, "max-lifetime": "1d"}),),
            policies=(("kube-signer", {"uid": str(k.NOBODY), "keys": "kube", "audiences": "*",
                                       "user-ids": "*", "payload-signing": "yes"}),))
assert env.ctl("generate", "kube").returncode == 0
env.start()
env.allow_other_users()
signer = k.Signer(env, "h", key="kube",
                  extra="handshake-timeout = 1\nidle-timeout = 2\nrequest-timeout = 2\n"
                        "max-streams = 50\nmax-connections = 8\nmax-message = 16384\n")
PATH = "/v1.ExternalJWTSigner/Sign"


def rss_kib():
    with open(f"/proc/{signer.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])


def still_serving():
    """A normal client, as kube-apiserver, gets a valid token. On a new channel each
    time: idle-timeout (2 s here) closes idle connections with GOAWAY, and grpcio's
    sync channel does not read while idle, so its next call on the old connection
    would write into a closed socket (grpc-go, kube's, reads all the time)."""
    assert signer.proc.poll() is None, "the adapter died:\n" + signer.read_log()[-2000:]
    with signer.channel() as channel:
        keys = k.check_keys(k.unary_call(channel, "v1", "FetchKeys")(k.M["FetchKeysRequest"](),
                                                               timeout=30))
        claims = k.kube_claims()
        b64 = k.b64url(json.dumps(claims).encode())
        resp = k.unary_call(channel, "v1", "Sign")(k.M["SignJWTRequest"](claims=b64), timeout=30)
        assert k.verify_jwt(k.check_sign(resp, b64, keys), keys) == claims


def raw():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(signer.sock)
    return s


def closed_within(s, seconds):
    """True when the adapter closes the connection within seconds (reading what it sends)."""
    deadline = time.monotonic() + seconds
    s.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            if not s.recv(65536):
                return True
        except socket.timeout:
            continue
        except ConnectionResetError:
            return True
    return False


class Client:
    def __init__(self):
        self.s = raw()
        self.c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True,
                                                                      header_encoding="utf-8"))
        self.c.initiate_connection()
        self.flush()
        self.events = []

    def flush(self):
        data = self.c.data_to_send()
        if data:
            self.s.sendall(data)

    def headers(self, path=PATH, extra=(), end=False):
        sid = self.c.get_next_available_stream_id()
        hdrs = [(":method", "POST"), (":scheme", "http"), (":authority", "localhost"),
                (":path", path), ("content-type", "application/grpc"), ("te", "trailers"),
                *extra]
        self.c.send_headers(sid, hdrs, end_stream=end)
        self.flush()
        return sid

    def pump(self, until, timeout=10):
        deadline = time.monotonic() + timeout
        self.s.settimeout(0.2)
        while not until():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; events so far: {self.events[-5:]}")
            try:
                data = self.s.recv(65536)
            except socket.timeout:
                continue
            if not data:
                self.events.append("closed")
                return
            for ev in self.c.receive_data(data):
                self.events.append(ev)
                if isinstance(ev, h2.events.DataReceived):
                    self.c.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            self.flush()

    def pump_for(self, seconds):
        end = time.monotonic() + seconds
        try:
            self.pump(lambda: time.monotonic() > end, timeout=seconds + 1)
        except AssertionError:
            pass

    def ended(self, sid):
        return any(isinstance(e, (h2.events.StreamEnded, h2.events.StreamReset))
                   and e.stream_id == sid for e in self.events) or "closed" in self.events

    def headers_of(self, sid):
        return [dict(e.headers) for e in self.events
                if isinstance(e, (h2.events.ResponseReceived, h2.events.TrailersReceived))
                and e.stream_id == sid]


def grpc_message(payload):
    return b"\0" + struct.pack(">I", len(payload)) + payload


def sign_message(claims=None):
    b64 = k.b64url(json.dumps(claims or k.kube_claims()).encode())
    return k.M["SignJWTRequest"](claims=b64).SerializeToString()


def test_bad_preface_is_closed():
    s = raw()
    s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert closed_within(s, 3)
    s.close()
    still_serving()


def test_no_settings_and_slowloris_are_closed():
    s = raw()
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")  # the magic, never a SETTINGS frame
    t = time.monotonic()
    assert closed_within(s, 4)
    assert 0.5 < time.monotonic() - t < 3.5
    s.close()
    # One byte of the preface at a time, slower than the handshake allows.
    s = raw()
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    closed = False
    for b in preface:
        try:
            s.sendall(bytes([b]))
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        if closed_within(s, 0.3):
            closed = True
            break
    assert closed, "a slowloris preface kept its connection"
    s.close()
    still_serving()


def test_trailers_only_errors_unknown_method_and_grpc_timeout():
    c = Client()
    sid = c.headers(path="/v1.ExternalJWTSigner/Nope")
    c.c.send_data(sid, grpc_message(b""), end_stream=True)
    c.flush()
    c.pump(lambda: c.ended(sid))
    (hdrs,) = c.headers_of(sid)  # one HEADERS frame ending the stream: Trailers-Only
    assert hdrs[":status"] == "200" and hdrs["grpc-status"] == "12", hdrs
    sid = c.headers(extra=[("grpc-timeout", "1n")])
    c.c.send_data(sid, grpc_message(sign_message()), end_stream=True)
    c.flush()
    c.pump(lambda: c.ended(sid))
    (hdrs,) = c.headers_of(sid)
    assert hdrs["grpc-status"] == "4", hdrs
    # A stalled stream (headers, never a message) ends with DEADLINE_EXCEEDED.
    sid = c.headers()
    t = time.monotonic()
    c.pump(lambda: c.ended(sid), timeout=6)
    assert 1.5 < time.monotonic() - t < 5, time.monotonic() - t
    assert c.headers_of(sid)[0]["grpc-status"] == "4", c.headers_of(sid)
    # And the idle connection goes away after idle-timeout, with GOAWAY.
    c.pump(lambda: "closed" in c.events, timeout=6)
    assert any(isinstance(e, h2.events.ConnectionTerminated) for e in c.events), c.events[-3:]
    still_serving()


def test_oversized_and_split_messages():
    c = Client()
    sid = c.headers()
    big = grpc_message(b"\x0a" + b"\xff\xff\x01" + b"A" * 40000)
    for off in range(0, len(big), 16000):
        c.c.send_data(sid, big[off:off + 16000], end_stream=off + 16000 >= len(big))
        c.flush()
        c.pump(lambda: c.c.local_flow_control_window(sid) > 0 or c.ended(sid))
    c.pump(lambda: c.ended(sid))
    assert c.headers_of(sid)[0]["grpc-status"] == "8", c.headers_of(sid)
    # One byte per DATA frame: a message split anywhere is still one message.
    sid = c.headers()
    msg = grpc_message(sign_message())
    for i in range(len(msg)):
        c.c.send_data(sid, msg[i:i + 1], end_stream=i == len(msg) - 1)
    c.flush()
    c.pump(lambda: c.ended(sid))
    got = c.headers_of(sid)
    assert got[0][":status"] == "200" and got[-1]["grpc-status"] == "0", got
    data = b"".join(e.data for e in c.events
                    if isinstance(e, h2.events.DataReceived) and e.stream_id == sid)
    assert k.M["SignJWTResponse"].FromString(data[5:]).signature
    # Two messages in a unary call, or a compressed one: refused, not guessed at.
    for body, code in ((msg + msg, "3"), (b"\1" + msg[1:], "12")):
        sid = c.headers()
        c.c.send_data(sid, body, end_stream=True)
        c.flush()
        c.pump(lambda: c.ended(sid))
        assert c.headers_of(sid)[-1]["grpc-status"] == code, c.headers_of(sid)
    c.s.close()
    still_serving()


def test_rst_stream_mid_call_and_a_flood_of_streams():
    before = rss_kib()
    c = Client()
    for i in range(200):
        assert "closed" not in c.events, (i, c.events[-4:], signer.read_log()[-1500:])
        sid = c.headers()
        c.c.send_data(sid, grpc_message(sign_message()), end_stream=True)
        c.c.reset_stream(sid)
        c.flush()
        if i % 40 == 39:  # let the adapter's WINDOW_UPDATEs in
            c.pump_for(0.3)
    time.sleep(0.5)
    still_serving()
    # Streams opened and never finished, far beyond max-streams (raw frames: h2 itself
    # would not exceed the limit): refused with RST_STREAM, memory bounded.
    import hpack
    from hyperframe.frame import DataFrame, Frame, HeadersFrame, RstStreamFrame, SettingsFrame
    s = raw()
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + SettingsFrame(0).serialize())
    enc = hpack.Encoder()
    out = bytearray()
    for n in range(1000):
        sid = 2 * n + 1
        block = enc.encode([(":method", "POST"), (":scheme", "http"), (":path", PATH),
                            (":authority", "localhost"), ("content-type", "application/grpc")])
        out += HeadersFrame(sid, block, flags=["END_HEADERS"]).serialize()
        out += DataFrame(sid, b"\0\0\0\x3f").serialize()
    s.sendall(bytes(out))
    resets, buf = set(), b""
    deadline = time.monotonic() + 10
    s.settimeout(0.2)
    while len(resets) < 900 and time.monotonic() < deadline:
        try:
            data = s.recv(65536)
        except socket.timeout:
            continue
        if not data:
            break
        buf += data
        while len(buf) >= 9:
            f, length = Frame.parse_frame_header(memoryview(buf[:9]))
            if len(buf) < 9 + length:
                break
            if isinstance(f, RstStreamFrame):
                resets.add(f.stream_id)
            buf = buf[9 + length:]
    assert len(resets) >= 900, f"only {len(resets)} of 1000 streams refused"
    still_serving()
    grown = rss_kib() - before
    # 50 streams of at most 16 KiB each, plus nghttp2's own: far under 16 MiB.
    print(f"     adapter RSS {before} KiB before, {before + grown} KiB after "
          f"200 resets and 1000 streams")
    assert grown < 16 * 1024, f"RSS grew by {grown} KiB"
    c.s.close()
    s.close()


def test_connections_beyond_the_limit_are_refused():
    held = [raw() for _ in range(8)]
    extra = raw()
    assert closed_within(extra, 3), "a ninth connection was kept"
    for s in held:
        s.close()
    time.sleep(0.2)
    still_serving()


def test_goaway_on_shutdown():
    """SIGTERM: GOAWAY naming the last stream taken; that call still completes."""
    c = Client()
    c.pump(lambda: any(isinstance(e, h2.events.RemoteSettingsChanged) for e in c.events))
    sid = c.headers()  # taken, its message still to come
    c.pump_for(0.3)
    signer.proc.send_signal(15)
    c.pump(lambda: any(isinstance(e, h2.events.ConnectionTerminated) for e in c.events))
    (ev,) = [e for e in c.events if isinstance(e, h2.events.ConnectionTerminated)]
    assert ev.error_code == 0 and ev.last_stream_id == sid, ev
    # h2 sends nothing after a GOAWAY; the protocol allows it for streams up to
    # last_stream_id, so the frame goes out raw and the answer is read raw.
    from hyperframe.frame import DataFrame, Frame, HeadersFrame
    c.s.sendall(DataFrame(sid, grpc_message(sign_message()), flags=["END_STREAM"]).serialize())
    buf, statuses, deadline = b"", [], time.monotonic() + 10
    c.s.settimeout(0.2)
    while not statuses and time.monotonic() < deadline:
        try:
            data = c.s.recv(65536)
        except socket.timeout:
            continue
        if not data:
            break
        buf += data
        while len(buf) >= 9:
            f, length = Frame.parse_frame_header(memoryview(buf[:9]))
            if len(buf) < 9 + length:
                break
            f.parse_body(memoryview(buf[9:9 + length]))
            buf = buf[9 + length:]
            if isinstance(f, HeadersFrame) and f.stream_id == sid:
                hdrs = dict((n.decode() if isinstance(n, bytes) else n,
                             v.decode() if isinstance(v, bytes) else v)
                            for n, v in c.c.decoder.decode(f.data))
                if "END_STREAM" in f.flags:
                    statuses.append(hdrs.get("grpc-status"))
    assert statuses == ["0"], statuses
    assert signer.proc.wait(10) == 0, signer.read_log()[-2000:]


failing = True
try:
    h.run([test_bad_preface_is_closed,
           test_no_settings_and_slowloris_are_closed,
           test_trailers_only_errors_unknown_method_and_grpc_timeout,
           test_oversized_and_split_messages,
           test_rst_stream_mid_call_and_a_flood_of_streams,
           test_connections_beyond_the_limit_are_refused,
           test_goaway_on_shutdown])
except SystemExit as e:
    failing = e.code != 0
    raise
finally:
    if signer.proc.poll() is None:
        signer.proc.kill()
    env.cleanup(failing=failing)
