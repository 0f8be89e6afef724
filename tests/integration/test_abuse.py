#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Hostile and broken clients get a bounded cost: half frames (slowloris),
clients that never read, idle connections, connection floods and clients
that vanish with requests in flight. The daemon's RSS and open fds are
measured before and after, and a well-behaved client is served throughout."""

import os
import socket
import struct
import time

import harness as h

# Under ASan (quarantine) or valgrind, RSS says nothing about the daemon's own bounds.
RSS_CHECKS = not (os.environ.get("ASAN_OPTIONS") or h.DAEMON_WRAPPER)
# Root is the broken client and the good one here: 50 vanishing connections x 64 requests
# must not use up the share of root's uid the good client needs (max-inflight-per-uid).
SERVER = ("read-timeout = 1\nwrite-timeout = 1\nidle-timeout = 2\nmax-connections = 600\n"
          "max-connections-per-uid = 1000\nmax-inflight-per-uid = 8192\n")
env = h.Env(server_extra=SERVER)
env.import_key()
env.start(activate=False)


def daemon_pid():
    return env.daemon.pid


def rss_kib():
    for line in open(f"/proc/{daemon_pid()}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def fds():
    return len(os.listdir(f"/proc/{daemon_pid()}/fd"))


def served():
    tok = env.sign("--aud", "Custom", "--uid", "Custom:good")
    assert tok.count(".") == 2


def closed_by_daemon(s, within):
    s.settimeout(within)
    try:
        while s.recv(65536):
            pass
        return True
    except (socket.timeout, TimeoutError):
        return False
    except ConnectionResetError:
        return True


def warm_up():
    for _ in range(50):
        served()


warm_up()
BASE_RSS, BASE_FDS = rss_kib(), fds()


def test_slowloris_half_frame_closed_after_read_timeout():
    s = h.connect(env.sock)
    req = h.sign_request(1, b"Custom", b"Custom:slow")
    s.sendall(struct.pack(">I", len(req)) + req[:5])
    served()  # others are not held up
    t0 = time.monotonic()
    assert closed_by_daemon(s, 10), "half a frame kept the connection open"
    assert time.monotonic() - t0 < 5
    s.close()
    assert "did not arrive whole within read-timeout" in env.read_log()


def test_client_that_never_reads_is_cut_off_and_bounded():
    s = h.connect(env.sock)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    req = h.sign_request(2, b"Custom", b"Custom:greedy")
    burst = (struct.pack(">I", len(req)) + req) * 64
    s.setblocking(False)
    peak = 0
    cut_off = False
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:  # push requests, never read a reply
        try:
            s.send(burst)
        except BlockingIOError:  # the daemon stopped reading us: back-pressure
            time.sleep(0.05)
            served()  # others are served meanwhile
        except (BrokenPipeError, ConnectionResetError):
            cut_off = True
            break
        peak = max(peak, rss_kib())
    s.close()
    assert cut_off, "a client that never reads kept its connection"
    assert not RSS_CHECKS or peak - BASE_RSS < 16 * 1024, (BASE_RSS, peak)  # back-pressure
    assert "did not read its replies within write-timeout" in env.read_log()


def test_idle_connections_closed():
    conns = [h.connect(env.sock) for _ in range(20)]
    served()
    assert all(closed_by_daemon(c, 6) for c in conns)
    for c in conns:
        c.close()


def test_connection_flood_bounded_by_max_connections():
    conns = []
    deadline = time.monotonic() + 20
    while len(conns) < 700 and time.monotonic() < deadline:
        try:
            conns.append(h.connect(env.sock))
        except BlockingIOError:  # the backlog is full until the daemon accepts
            time.sleep(0.01)
    assert len(conns) == 700, len(conns)  # the backlog took them; the daemon decides
    # Under ASan accepting 600 takes a while: wait for the refusal (logged once a second).
    deadline = time.monotonic() + 10
    while "max-connections" not in env.read_log():
        assert time.monotonic() < deadline, env.read_log()[-500:]
        time.sleep(0.1)
    assert fds() <= BASE_FDS + 2 * 600 + 8, fds()  # each connection: socket and pidfd
    for c in conns:
        c.close()
    deadline = time.monotonic() + 10
    while fds() > BASE_FDS + 2:
        assert time.monotonic() < deadline, fds()
        time.sleep(0.1)
    served()


def test_vanishing_clients_with_requests_in_flight():
    for i in range(50):
        s = h.connect(env.sock)
        s.sendall(b"".join(struct.pack(">I", len(r)) + r for r in
                           (h.sign_request(j, b"Custom", b"Custom:gone") for j in range(64))))
        s.close()
    served()
    assert env.daemon.poll() is None


def test_busy_connections_are_never_idle():
    # Busy connections must never be closed as idle. (The benchmark once found the
    # sweep doing so, comparing the timer's due time with the later clock of a
    # connection's last I/O; this Python client is too slow to reproduce that race
    # reliably, hsmjwt-bench at 16x32 did.) Eight connections, bursts of 32, 4 s.
    import threading
    errors = []

    def client(k):
        s = h.connect(env.sock)
        t0, n = time.monotonic(), 0
        while time.monotonic() - t0 < 4:
            s.sendall(b"".join(struct.pack(">I", len(r)) + r for r in
                               (h.sign_request(n + i, b"Custom", b"Custom:busy") for i in range(32))))
            for _ in range(32):
                resp = h.recv_frame(s)
                if resp is None:
                    errors.append((k, n))
                    return
            n += 32
        s.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors


def test_back_to_baseline():
    time.sleep(3)  # idle-timeout closes whatever is left
    served()
    assert fds() <= BASE_FDS + 2, (BASE_FDS, fds())
    # The allocator keeps some freed memory; bounded, not growing with the abuse above.
    assert not RSS_CHECKS or rss_kib() - BASE_RSS < 8 * 1024, (BASE_RSS, rss_kib())
    print(f"     daemon RSS {BASE_RSS} KiB before, {rss_kib()} KiB after; fds {BASE_FDS} -> {fds()}")


try:
    h.run([test_slowloris_half_frame_closed_after_read_timeout,
           test_client_that_never_reads_is_cut_off_and_bounded, test_idle_connections_closed,
           test_connection_flood_bounded_by_max_connections,
           test_vanishing_clients_with_requests_in_flight, test_busy_connections_are_never_idle,
           test_back_to_baseline])
finally:
    env.cleanup()
