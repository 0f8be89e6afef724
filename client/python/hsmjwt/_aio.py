# SPDX-License-Identifier: MIT
"""hsmjwt.AsyncClient: asyncio, concurrent calls pipelined on one connection
and matched to their answers by id."""

from __future__ import annotations

import asyncio
import itertools
import os
from typing import Any, Dict, List, Mapping, Optional, Union

from . import _wire as w
from ._errors import ArgumentError, ConnectionFailed, Error, ProtocolError, Timeout, from_wire

DEFAULT_MAX_IN_FLIGHT = 32
MAX_IN_FLIGHT_LIMIT = 4096
DEFAULT_TIMEOUT = 30.0


class _Pending:
    __slots__ = ("future", "idle_at_send", "answers_at_send")

    def __init__(self, future: asyncio.Future, idle: bool, answers: int) -> None:
        self.future = future
        # Sent on an idle connection, and nothing answered since: when the
        # connection turns out closed, the daemon cannot have seen it working.
        self.idle_at_send = idle
        self.answers_at_send = answers


class _Lost(Exception):
    """The connection closed with this request unanswered (internal)."""

    def __init__(self, reason: str, retryable: bool) -> None:
        super().__init__(reason)
        self.retryable = retryable


class _Connection(asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: Optional[asyncio.Transport] = None
        self.pending: Dict[int, _Pending] = {}
        self.buf = bytearray()
        self.out: List[bytes] = []
        self.closed = False
        self.answers = 0
        self.can_write = asyncio.Event()
        self.can_write.set()

    # -- asyncio.Protocol --

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        try:
            frames, too_long = w.split_frames(self.buf)
            for f in frames:
                self._answer(w.parse_response(f))
            if too_long:
                raise ProtocolError("a response frame over the size limit")
        except Error as e:
            self._fail_all(e)

    def eof_received(self) -> Optional[bool]:
        return False  # close our side too: connection_lost follows

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.closed = True
        self.can_write.set()
        reason = os.strerror(exc.errno) if isinstance(exc, OSError) and exc.errno else \
            "the daemon closed the connection"
        for p in self.pending.values():
            if not p.future.done():
                p.future.set_exception(_Lost(reason, p.idle_at_send
                                             and p.answers_at_send == self.answers))
        self.pending.clear()

    def pause_writing(self) -> None:
        self.can_write.clear()

    def resume_writing(self) -> None:
        self.can_write.set()

    # -- ours --

    def _answer(self, resp) -> None:
        if resp.id == 0:
            # The daemon speaking about the stream itself (an over-long frame):
            # every request still in flight on it gets that error.
            self._fail_all(from_wire(resp.error) if resp.HasField("error") else
                           ProtocolError("a response with id 0"))
            return
        p = self.pending.pop(resp.id, None)
        self.answers += 1
        if p is not None and not p.future.done():
            p.future.set_result(resp)
        # else: an answer to a call that timed out or was cancelled.

    def _fail_all(self, e: Exception) -> None:
        for p in self.pending.values():
            if not p.future.done():
                p.future.set_exception(e)
        self.pending.clear()
        self.close()

    def send(self, req_id: int, data: bytes) -> asyncio.Future:
        fut = self.loop.create_future()
        if self.closed:
            fut.set_exception(_Lost("the connection is closed", True))
            return fut
        self.pending[req_id] = _Pending(fut, len(self.pending) == 0, self.answers)
        if len(self.pending) == 1 and not self.out:
            # Alone in flight: no one to share a write with, so no turn of the loop to wait.
            self.transport.write(data)
            return fut
        # Frames sent in one turn of the loop leave in one system call.
        if not self.out:
            self.loop.call_soon(self._flush)
        self.out.append(data)
        return fut

    def _flush(self) -> None:
        if self.out and not self.closed:
            self.transport.write(b"".join(self.out))
        self.out.clear()

    def forget(self, req_id: int) -> None:
        self.pending.pop(req_id, None)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def _expire(fut: asyncio.Future, path: str, timeout: float) -> None:
    if not fut.done():
        fut.set_exception(Timeout(f"no answer from {path} within {timeout} s"))


class AsyncClient:
    """The asyncio client: every method is a coroutine, concurrent calls share
    one connection and are matched to their answers by id.

    socket: as for Client. max_in_flight: calls sent and not yet answered on
    the connection (1..4096, default 32); more wait their turn (back-pressure).
    timeout: seconds to wait for each answer (None: forever).

    The connection opens on first use. When it closes, every call still waiting
    on it fails with ConnectionFailed, and the next call opens a new one; a call
    sent on an idle connection that the daemon had closed (it restarted, or
    exited idle) is sent once more on the new connection, as libhsmjwt does.
    """

    def __init__(self, socket: Optional[Union[str, os.PathLike]] = None, *,
                 max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
                 timeout: Optional[float] = DEFAULT_TIMEOUT) -> None:
        self.socket_path = w.resolve_socket(socket)
        if isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int) or \
                not 1 <= max_in_flight <= MAX_IN_FLIGHT_LIMIT:
            raise ArgumentError(f"max_in_flight: an int in 1..{MAX_IN_FLIGHT_LIMIT} is required")
        self.max_in_flight = max_in_flight
        self.timeout = timeout
        self._conn: Optional[_Connection] = None
        self._ids = itertools.count(1)
        self._slots: Optional[asyncio.Semaphore] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._connecting: Optional[asyncio.Lock] = None

    async def sign(self, audience: Optional[str] = None, user_id: Optional[str] = None, *,
                   access_token: Optional[str] = None, lifetime: Optional[w.Lifetime] = None,
                   expires_at: Optional[w.ExpiresAt] = None, key: Optional[str] = None,
                   claims: Optional[Mapping[str, w.ClaimValue]] = None,
                   legacy_claims: Optional[Union[str, Mapping[str, Any]]] = None) -> w.Token:
        """A signed JWT (a str with .kid, .key and .expires_at)."""
        req = w.sign_request(audience, user_id, access_token=access_token, lifetime=lifetime,
                             expires_at=expires_at, key=key, claims=claims,
                             legacy_claims=legacy_claims)
        return await self._call("sign", req)

    async def verify(self, token: str, *, audience: Optional[str] = None,
                     issuer: Optional[str] = None,
                     user_id_pattern: Optional[str] = None) -> w.Verification:
        return await self._call("verify",
                                w.verify_request(token, audience, issuer, user_id_pattern))

    async def keys(self) -> Dict[str, Any]:
        return await self._call("keys", w.keys_request())

    async def status(self) -> w.Status:
        return await self._call("status", w.status_request())

    @property
    def in_flight(self) -> int:
        """Calls sent on the current connection and not yet answered."""
        return len(self._conn.pending) if self._conn and not self._conn.closed else 0

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def _connection(self) -> _Connection:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._conn is None or self._conn.closed:
                loop = asyncio.get_running_loop()
                try:
                    _, conn = await loop.create_unix_connection(
                        lambda: _Connection(loop), self.socket_path)
                except OSError as e:
                    raise ConnectionFailed(
                        f"{self.socket_path}: {os.strerror(e.errno) if e.errno else e}"
                    ) from None
                self._conn = conn
            return self._conn

    async def _send_and_wait(self, req_id: int, data: bytes):
        conn = await self._connection()
        if not conn.can_write.is_set():
            await conn.can_write.wait()
        fut = conn.send(req_id, data)
        # A timer on the future itself: asyncio.wait_for() would cost a task per call.
        timer = None if self.timeout is None else conn.loop.call_later(
            self.timeout, _expire, fut, self.socket_path, self.timeout)
        try:
            return await fut
        finally:
            if timer is not None:
                timer.cancel()
            conn.forget(req_id)

    async def _call(self, kind: str, req) -> Any:
        req_id = next(self._ids)
        data = w.frame(req, req_id)
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # First use, or another event loop (asyncio.run() again): the
            # connection and the slots belong to the loop they were made in.
            if self._conn is not None and not self._conn.closed:
                try:
                    self._conn.close()
                except RuntimeError:  # its loop is closed: the transport goes with it
                    pass
            self._conn, self._connecting, self._loop = None, None, loop
            self._slots = asyncio.Semaphore(self.max_in_flight)
        async with self._slots:
            try:
                resp = await self._send_and_wait(req_id, data)
            except _Lost as e:
                if not e.retryable:
                    raise ConnectionFailed(f"{self.socket_path}: {e} with the request "
                                           "unanswered") from None
                try:
                    resp = await self._send_and_wait(req_id, data)
                except _Lost as e2:
                    raise ConnectionFailed(f"{self.socket_path}: {e2} with the request "
                                           "unanswered") from None
        return w.result(kind, resp)
