# SPDX-License-Identifier: MIT
"""hsmjwt.Client: one request at a time on one connection, like hsmjwt_sign()."""

from __future__ import annotations

import errno
import itertools
import os
import socket as _socket
import struct
import threading
from typing import Any, Dict, Mapping, Optional, Union

from . import _wire as w
from ._errors import ConnectionFailed, ProtocolError, Timeout

DEFAULT_TIMEOUT = 30.0


class _Lost(Exception):
    """The connection closed or failed under a call (internal)."""


class Client:
    """A connection to hsmjwtd, opened on first use and reopened once when the
    daemon closed it (it restarted, or exited idle under socket activation).
    Calls are serialised by a lock, so threads may share one client.

    socket: the daemon's socket; None: $HSMJWT_SOCKET, else /run/hsmjwt/hsmjwtd.sock.
    timeout: seconds to wait for an answer (None: forever).
    """

    def __init__(self, socket: Optional[Union[str, os.PathLike]] = None, *,
                 timeout: Optional[float] = DEFAULT_TIMEOUT) -> None:
        self.socket_path = w.resolve_socket(socket)
        self.timeout = timeout
        self._sock: Optional[_socket.socket] = None
        self._pid = 0
        self._buf = bytearray()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    # -- the calls --

    def sign(self, audience: Optional[str] = None, user_id: Optional[str] = None, *,
             access_token: Optional[str] = None, lifetime: Optional[w.Lifetime] = None,
             expires_at: Optional[w.ExpiresAt] = None, key: Optional[str] = None,
             claims: Optional[Mapping[str, w.ClaimValue]] = None,
             legacy_claims: Optional[Union[str, Mapping[str, Any]]] = None) -> w.Token:
        """A signed JWT (a str with .kid, .key and .expires_at)."""
        req = w.sign_request(audience, user_id, access_token=access_token, lifetime=lifetime,
                             expires_at=expires_at, key=key, claims=claims,
                             legacy_claims=legacy_claims)
        return self._call("sign", req)

    def verify(self, token: str, *, audience: Optional[str] = None,
               issuer: Optional[str] = None,
               user_id_pattern: Optional[str] = None) -> w.Verification:
        """The daemon's verdict on token; expectations left None are not checked."""
        return self._call("verify", w.verify_request(token, audience, issuer, user_id_pattern))

    def keys(self) -> Dict[str, Any]:
        """The public key set (JWKS), parsed."""
        return self._call("keys", w.keys_request())

    def status(self) -> w.Status:
        return self._call("status", w.status_request())

    def close(self) -> None:
        with self._lock:
            self._drop()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_sock", None) is not None:
            self._sock.close()

    # -- the connection --

    def _call(self, kind: str, req) -> Any:
        with self._lock:
            req_id = next(self._ids)
            data = w.frame(req, req_id)
            if self._sock is not None and self._pid != os.getpid():
                # A forked child (a pre-forking server): the connection is the
                # parent's; closing our copy of it leaves the parent's open.
                self._drop()
            # One transparent retry on a new connection when the old one closed
            # without an answer, as libhsmjwt does: under socket activation a
            # restarting daemon loses no connection attempt. A sign request the
            # old daemon finished just before closing may so yield two tokens;
            # both are audited.
            fresh = self._sock is None
            try:
                resp = self._exchange(data, req_id)
            except _Lost as e:
                if fresh:
                    raise ConnectionFailed(f"{self.socket_path}: {e}") from None
                try:
                    resp = self._exchange(data, req_id)
                except _Lost as e2:
                    raise ConnectionFailed(f"{self.socket_path}: {e2}") from None
            return w.result(kind, resp)

    def _connect(self) -> None:
        s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
        try:
            s.settimeout(self.timeout)
            s.connect(self.socket_path)
        except _socket.timeout:
            s.close()
            raise Timeout(f"{self.socket_path}: connecting timed out") from None
        except OSError as e:
            s.close()
            raise ConnectionFailed(f"{self.socket_path}: {os.strerror(e.errno) if e.errno else e}"
                                   ) from None
        # Blocking, with the timeout in the kernel (SO_RCVTIMEO/SO_SNDTIMEO): a
        # Python-level timeout would cost a poll() before every send and recv.
        s.settimeout(None)
        if self.timeout is not None:
            sec = int(self.timeout)
            tv = struct.pack("ll", sec, int((self.timeout - sec) * 1e6))
            s.setsockopt(_socket.SOL_SOCKET, _socket.SO_RCVTIMEO, tv)
            s.setsockopt(_socket.SOL_SOCKET, _socket.SO_SNDTIMEO, tv)
        self._sock = s
        self._pid = os.getpid()
        self._buf.clear()

    def _drop(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock = None
        self._buf.clear()

    def _exchange(self, data: bytes, req_id: int):
        if self._sock is None:
            self._connect()
        try:
            try:
                self._sock.sendall(data)
            except OSError as e:
                # The daemon may have answered and closed (an over-long frame
                # gets its error on id 0 first): read what it sent, if anything.
                if e.errno not in (errno.EPIPE, errno.ECONNRESET):
                    raise
            while True:
                frames, too_long = w.split_frames(self._buf)
                if too_long:
                    self._drop()
                    raise ProtocolError("a response frame over the size limit")
                for f in frames:
                    resp = w.parse_response(f)
                    # id 0: the daemon speaking about the stream itself (an over-long frame).
                    if resp.id == req_id or resp.id == 0:
                        if resp.id == 0:
                            self._drop()
                        return resp
                chunk = self._sock.recv(65536)
                if not chunk:
                    self._drop()
                    raise _Lost("the daemon closed the connection")
                self._buf += chunk
        except (_socket.timeout, BlockingIOError):
            # SO_RCVTIMEO/SO_SNDTIMEO passed (EAGAIN). The stream is out of step
            # now: the next call must not read this answer.
            self._drop()
            raise Timeout(f"no answer from {self.socket_path} within {self.timeout} s") from None
        except ProtocolError:
            self._drop()
            raise
        except OSError as e:
            self._drop()
            if e.errno in (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN):
                raise _Lost(os.strerror(e.errno)) from None
            raise ConnectionFailed(f"{self.socket_path}: {e}") from None
