#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The wire contract against the real daemon: framing limits, garbage,
unknown request types, pipelining and the status request."""

import struct
import time

import harness as h

env = h.Env()
env.import_key()
env.start(activate=True)


def roundtrip(payload):
    s = h.connect(env.sock)
    h.send_frame(s, payload)
    resp = h.recv_frame(s)
    s.close()
    return resp


def test_over_long_frame_refused_and_closed():
    s = h.connect(env.sock)
    s.sendall(struct.pack(">I", 64 * 1024 + 1))  # only the header: refused before the payload
    err = h.error_of(h.recv_frame(s))
    assert err == (0, 5, "frame of 65537 bytes exceeds the limit of 65536 bytes"), err
    assert h.recv_frame(s) is None  # and the daemon closed the stream
    s.close()


def test_largest_frame_accepted():
    pad = h.field(99, 2, b"x" * (64 * 1024 - 200))  # an unknown field: skipped, not an error
    req = h.sign_request(3, b"Custom", b"Custom:1") + pad
    assert len(req) <= 64 * 1024
    resp = h.parse_message(roundtrip(req))
    assert resp[1] == [3] and 2 in resp, resp


def test_garbage_gets_invalid_request_and_connection_survives():
    s = h.connect(env.sock)
    h.send_frame(s, b"\xff\xff\xff\xff garbage")
    err = h.error_of(h.recv_frame(s))
    assert err[1] == 1 and "not a valid" in err[2], err
    h.send_frame(s, h.sign_request(9, b"Custom", b"Custom:9"))
    resp = h.parse_message(h.recv_frame(s))
    assert resp[1] == [9] and 2 in resp, resp
    s.close()


def test_empty_and_unknown_requests():
    err = h.error_of(roundtrip(b""))
    assert err == (0, 1, "request carries no body"), err
    # Field 14 is a request type this daemon does not know (a newer client).
    err = h.error_of(roundtrip(h.field(1, 0, 42) + h.field(14, 2, b"")))
    assert err[:2] == (42, 7), err


def test_pipelined_requests_all_answered_by_id():
    s = h.connect(env.sock)
    ids = list(range(100, 164))
    s.sendall(b"".join(struct.pack(">I", len(r)) + r for r in
                       (h.sign_request(i, b"Custom", b"Custom:%d" % i) for i in ids)))
    got = {}
    for _ in ids:
        m = h.parse_message(h.recv_frame(s))
        tok = h.parse_message(m[2][0])[1][0].decode()
        got[m[1][0]] = tok
    s.close()
    assert sorted(got) == ids
    for i, tok in got.items():
        assert h.decode_part(tok, 1)["uid"] == f"Custom:{i}"


def test_half_close_still_answered():
    s = h.connect(env.sock)
    h.send_frame(s, h.sign_request(5, b"Custom", b"Custom:5"))
    s.shutdown(h.socket.SHUT_WR)
    m = h.parse_message(h.recv_frame(s))
    assert m[1] == [5] and 2 in m, m
    assert h.recv_frame(s) is None
    s.close()


def test_status():
    m = h.parse_message(roundtrip(h.field(1, 0, 11) + h.field(3, 2, b"")))
    st = h.parse_message(m[3][0])
    assert st[2] == [b"zumo"], st
    assert st[3][0] >= 1, st  # tokens issued by the tests above


def test_byte_at_a_time():
    s = h.connect(env.sock)
    req = h.sign_request(6, b"Custom", b"Custom:6")
    for b in struct.pack(">I", len(req)) + req:
        s.send(bytes([b]))
        time.sleep(0.001)
    m = h.parse_message(h.recv_frame(s))
    assert m[1] == [6] and 2 in m, m
    s.close()


try:
    h.run([test_over_long_frame_refused_and_closed, test_largest_frame_accepted,
           test_garbage_gets_invalid_request_and_connection_survives,
           test_empty_and_unknown_requests, test_pipelined_requests_all_answered_by_id,
           test_half_close_still_answered, test_status, test_byte_at_a_time])
finally:
    env.cleanup()
