#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""What a hostile local user does, run as that user (under setpriv) by
test_hostile.py. One mode per argv[1]; results go out as one JSON line.

  flood SOCK SECONDS CONNS [KEY [PAD]]
                                 pipelined sign requests (of key KEY, carrying PAD bytes
                                 of unknown fields) as fast as the daemon answers
  orphans SOCK N KEY             N sockets connected by children that exit at once;
                                 "ready", then on "go" a sign request on each
  hold SOCK N                    open up to N connections, say how many, keep them
                                 until stdin closes"""

import json
import os
import selectors
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

DEPTH = int(os.environ.get("HOSTILE_DEPTH", "32"))


def answers(s, n):
    """Reads n responses; returns (tokens, errors as {rule or message: count})."""
    tokens, errors = 0, {}
    for _ in range(n):
        m = h.parse_message(h.recv_frame(s))
        if 15 in m:
            e = h.parse_message(m[15][0])
            msg = (e.get(4) or e.get(2, [b""]))[0].decode()
            errors[msg] = errors.get(msg, 0) + 1
        else:
            tokens += 1
    return tokens, errors


def flood(path, seconds, conns, key=None, pad=0):
    socks = [h.connect(path) for _ in range(conns)]
    for s in socks:
        s.settimeout(60)
    frame = h.sign_request(1, b"Custom", b"Custom:flood", key=key.encode() if key else None)
    if pad:  # a field this daemon does not know (number 999), as a newer client might send
        frame += h.field(999, 2, b"\0" * pad)
    batch = b"".join(struct.pack(">I", len(frame)) + frame for _ in range(DEPTH))
    sel = selectors.DefaultSelector()
    for s in socks:
        s.sendall(batch)
        sel.register(s, selectors.EVENT_READ)
    sent, tokens, errors = DEPTH * conns, 0, {}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for key, _ in sel.select(1):
            t, e = answers(key.fileobj, DEPTH)
            tokens += t
            for k, v in e.items():
                errors[k] = errors.get(k, 0) + v
            key.fileobj.sendall(batch)
            sent += DEPTH
    for s in socks:
        t, e = answers(s, DEPTH)
        tokens += t
        for k, v in e.items():
            errors[k] = errors.get(k, 0) + v
    print(json.dumps({"sent": sent, "tokens": tokens, "errors": errors}), flush=True)


def orphans(path, n, key):
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:  # the child connects and is gone before the daemon accepts
            try:
                s.connect(path)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        socks.append(s)
    print("ready", flush=True)
    sys.stdin.readline()
    tokens, errors = 0, {}
    for i, s in enumerate(socks):
        h.send_frame(s, h.sign_request(i, b"Custom", b"Custom:1", key=key.encode()))
        t, e = answers(s, 1)
        tokens += t
        for k, v in e.items():
            errors[k] = errors.get(k, 0) + v
        s.close()
    print(json.dumps({"tokens": tokens, "errors": errors}), flush=True)


def hold(path, n):
    socks = []
    for _ in range(n):
        try:
            s = h.connect(path)
            # A status request proves the daemon serves the connection, not only the backlog.
            h.send_frame(s, h.field(1, 0, 1) + h.field(3, 2, b""))
            s.settimeout(5)
            if h.recv_frame(s) is None:
                break
            socks.append(s)
        except OSError:
            break
    print(json.dumps({"open": len(socks)}), flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "flood":
        flood(path, float(sys.argv[3]), int(sys.argv[4]),
              sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] else None,
              int(sys.argv[6]) if len(sys.argv) > 6 else 0)
    elif mode == "orphans":
        orphans(path, int(sys.argv[3]), sys.argv[4])
    elif mode == "hold":
        hold(path, int(sys.argv[3]))
