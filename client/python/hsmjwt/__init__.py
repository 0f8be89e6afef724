# SPDX-License-Identifier: MIT
"""Python client for hsmjwtd, the daemon that signs JWTs with keys kept in a
PKCS#11 token. It speaks the daemon's wire protocol (proto/hsmjwt.proto)
itself over the Unix socket.

    import hsmjwt
    token = hsmjwt.Client().sign("Custom", "Custom:42", lifetime=3600)

hsmjwt.AsyncClient has the same methods as coroutines and pipelines concurrent
calls on one connection. Every failure is an hsmjwt.Error; the daemon's
refusals have one subclass per error code.
"""

from ._aio import AsyncClient
from ._client import Client
from ._errors import (ArgumentError, ConnectionFailed, DaemonError, Error, InternalError,
                      InvalidRequest, PermissionDenied, ProtocolError, RateLimited, Timeout,
                      TooLarge, Unavailable, Unsupported)
from ._wire import DEFAULT_SOCKET, Status, Token, Verification, default_socket

__version__ = "0.1.0"

__all__ = [
    "AsyncClient", "Client", "Error", "DaemonError", "InvalidRequest", "PermissionDenied",
    "RateLimited", "Unavailable", "TooLarge", "InternalError", "Unsupported",
    "ArgumentError", "ConnectionFailed", "Timeout", "ProtocolError",
    "Token", "Verification", "Status", "DEFAULT_SOCKET", "default_socket",
]
