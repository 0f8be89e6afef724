# SPDX-License-Identifier: MIT
"""The exceptions: one class per daemon error code under hsmjwt.Error."""

from __future__ import annotations

from typing import Dict, Optional, Type


class Error(Exception):
    """Any failure of an hsmjwt call. `code` is a stable name: the daemon's
    error code ("INVALID_REQUEST", "PERMISSION_DENIED", ...) or, for failures
    on this side, "ARGUMENT", "CONNECTION", "TIMEOUT", "PROTOCOL"."""

    code = "UNSPECIFIED"

    def __init__(self, message: str, *, rule: Optional[str] = None,
                 retry_after_ms: int = 0) -> None:
        super().__init__(message)
        self.message = message
        #: With InvalidRequest: the rule the request broke (e.g. "claim-name-reserved").
        self.rule = rule or None
        #: With RateLimited: milliseconds after which a retry may succeed.
        self.retry_after_ms = retry_after_ms

    def __str__(self) -> str:
        return f"{self.message} [rule {self.rule}]" if self.rule else self.message


class DaemonError(Error):
    """The daemon answered and refused the request; nothing was signed."""


class InvalidRequest(DaemonError):
    """The request breaks a rule; `rule` names it. Do not retry as is."""
    code = "INVALID_REQUEST"


class PermissionDenied(DaemonError):
    """This process may not have this token (no [policy] grants it)."""
    code = "PERMISSION_DENIED"


class RateLimited(DaemonError):
    """Too many requests; retry after `retry_after` seconds."""
    code = "RATE_LIMITED"

    @property
    def retry_after(self) -> float:
        return self.retry_after_ms / 1000.0


class Unavailable(DaemonError):
    """The daemon cannot sign right now (token unreachable, audit trail not writable)."""
    code = "UNAVAILABLE"


class TooLarge(DaemonError):
    """The request frame exceeds the daemon's limit."""
    code = "TOO_LARGE"


class InternalError(DaemonError):
    """A bug or unexpected failure inside the daemon."""
    code = "INTERNAL"


class Unsupported(DaemonError):
    """The daemon does not know this request type (it is older than this client)."""
    code = "UNSUPPORTED"


class ArgumentError(Error, ValueError):
    """A bad argument, refused before anything was sent."""
    code = "ARGUMENT"


class ConnectionFailed(Error, ConnectionError):
    """The daemon could not be reached, or the connection closed before the answer."""
    code = "CONNECTION"


class Timeout(Error, TimeoutError):
    """No answer within the client's timeout."""
    code = "TIMEOUT"


class ProtocolError(Error):
    """The daemon sent something that is not a valid response."""
    code = "PROTOCOL"


# The wire's ErrorCode numbers (proto/hsmjwt.proto).
BY_WIRE_CODE: Dict[int, Type[DaemonError]] = {
    1: InvalidRequest, 2: PermissionDenied, 3: RateLimited, 4: Unavailable,
    5: TooLarge, 6: InternalError, 7: Unsupported,
}


def from_wire(err) -> DaemonError:
    """The exception for a Response's Error message. A code newer than this
    client is still a refusal by the daemon: a DaemonError with code "UNKNOWN"."""
    cls = BY_WIRE_CODE.get(err.code)
    message = err.message or "refused by the daemon"
    if cls is None:
        e = DaemonError(f"{message} (error code {err.code})", rule=err.rule,
                        retry_after_ms=err.retry_after_ms)
        e.code = "UNKNOWN"
        return e
    return cls(message, rule=err.rule, retry_after_ms=err.retry_after_ms)
