# SPDX-License-Identifier: MIT
"""What both clients share: the socket's path, frames, requests checked and
built from Python arguments, and responses turned into results or exceptions.
The messages are the classes protoc generated from proto/hsmjwt.proto."""

from __future__ import annotations

import datetime
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from . import hsmjwt_pb2 as pb
from ._errors import ArgumentError, ProtocolError, from_wire

DEFAULT_SOCKET = "/run/hsmjwt/hsmjwtd.sock"
# The daemon's default [server] max-frame; a longer request is refused here.
MAX_REQUEST_FRAME = 64 * 1024
# Responses carry at most a JWKS or a verified payload; libhsmjwt allows 4 x 64 KiB.
MAX_RESPONSE_FRAME = 4 * 64 * 1024
HEADER = struct.Struct(">I")
INT64_MIN, INT64_MAX, UINT64_MAX = -(1 << 63), (1 << 63) - 1, (1 << 64) - 1

ClaimValue = Union[str, int, bool, Sequence[str]]
Lifetime = Union[int, datetime.timedelta]
ExpiresAt = Union[int, datetime.datetime]


def default_socket() -> str:
    """$HSMJWT_SOCKET when set and not empty (ignored in a setuid process, as
    libhsmjwt's secure_getenv does), else /run/hsmjwt/hsmjwtd.sock."""
    if os.getuid() == os.geteuid() and os.getgid() == os.getegid():
        env = os.environ.get("HSMJWT_SOCKET")
        if env:
            return env
    return DEFAULT_SOCKET


def resolve_socket(path: Optional[Union[str, os.PathLike]]) -> str:
    if path is None:
        return default_socket()
    path = os.fspath(path)
    if not isinstance(path, str) or not path:
        raise ArgumentError("socket: a non-empty path is required")
    return path


class Token(str):
    """The compact JWT, usable as a str, with what the daemon said about it."""

    kid: str
    key: str
    expires_at: int

    def __new__(cls, token: str, kid: str, key: str, expires_at: int) -> "Token":
        self = super().__new__(cls, token)
        self.kid, self.key, self.expires_at = kid, key, expires_at
        return self

    @property
    def token(self) -> str:
        return str.__str__(self)

    def __repr__(self) -> str:
        # A JWT is a secret: keep it out of logs that print reprs.
        return f"<hsmjwt.Token key={self.key!r} kid={self.kid!r} expires_at={self.expires_at}>"


@dataclass(frozen=True)
class Verification:
    """The daemon's answer to verify(): true in a boolean context when valid."""
    valid: bool
    #: When not valid: why, e.g. "expired", "bad_signature" (VerifyReason, lower case).
    reason: Optional[str] = None
    detail: str = ""
    #: When valid: the payload exactly as the token carries it, and parsed.
    payload: str = ""
    claims: Dict[str, Any] = field(default_factory=dict)
    key: str = ""
    kid: str = ""
    deprecated_v1: bool = False

    def __bool__(self) -> bool:
        return self.valid


@dataclass(frozen=True)
class Status:
    version: str
    #: The keys loaded and able to sign.
    keys: List[str]
    tokens_issued: int
    #: Configured keys that could not be loaded, each "NAME: why".
    unavailable_keys: List[str] = field(default_factory=list)


def _text(name: str, value: Any, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise ArgumentError(f"{name}: a str is required, not {type(value).__name__}")
    if required and not value:
        raise ArgumentError(f"{name}: must not be empty")
    if "\x00" in value:
        raise ArgumentError(f"{name}: must not contain U+0000")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ArgumentError(f"{name}: not valid Unicode (a lone surrogate)") from None
    return value


def _integer(name: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgumentError(f"{name}: an int is required, not {type(value).__name__}")
    if not lo <= value <= hi:
        raise ArgumentError(f"{name}: {value} is out of range ({lo}..{hi})")
    return value


def _claim(name: Any, value: Any) -> pb.ExtraClaim:
    name = _text("claims: a name", name)
    c = pb.ExtraClaim(name=name)
    what = f"claims[{name!r}]"
    if isinstance(value, bool):
        c.boolean_value = value
    elif isinstance(value, int):
        # The daemon's own range is +-(2^53 - 1) (rule claim-integer-range); the wire holds int64.
        c.integer_value = _integer(what, value, INT64_MIN, INT64_MAX)
    elif isinstance(value, str):
        c.string_value = _text(what, value, required=False)
    elif isinstance(value, (list, tuple)):
        c.string_list_value.SetInParent()
        for i, v in enumerate(value):
            c.string_list_value.values.append(_text(f"{what}[{i}]", v, required=False))
    else:
        raise ArgumentError(f"{what}: a str, int, bool or list of str is required, "
                            f"not {type(value).__name__}")
    return c


def sign_request(audience: Optional[str] = None, user_id: Optional[str] = None, *,
                 access_token: Optional[str] = None, lifetime: Optional[Lifetime] = None,
                 expires_at: Optional[ExpiresAt] = None, key: Optional[str] = None,
                 claims: Optional[Mapping[str, ClaimValue]] = None,
                 legacy_claims: Optional[Union[str, Mapping[str, Any]]] = None) -> pb.Request:
    """The Request for sign(), or ArgumentError before anything is sent."""
    r = pb.Request()
    s = r.sign
    if legacy_claims is not None:
        if audience is not None or user_id is not None or access_token is not None or claims:
            raise ArgumentError("legacy_claims carries audience, user id, credentials and "
                                "claims: give none of them with it")
        if isinstance(legacy_claims, Mapping):
            legacy_claims = json.dumps(legacy_claims, ensure_ascii=False, allow_nan=False)
        s.legacy_claims_json = _text("legacy_claims", legacy_claims)
    else:
        s.audience = _text("audience", audience)
        s.user_id = _text("user_id", user_id)
    if lifetime is not None and expires_at is not None:
        raise ArgumentError("lifetime and expires_at exclude each other: give one")
    if lifetime is not None:
        if isinstance(lifetime, datetime.timedelta):
            if lifetime.total_seconds() != int(lifetime.total_seconds()):
                raise ArgumentError("lifetime: whole seconds are required")
            lifetime = int(lifetime.total_seconds())
        s.lifetime_seconds = _integer("lifetime", lifetime, 1, UINT64_MAX)
    if expires_at is not None:
        if isinstance(expires_at, datetime.datetime):
            if expires_at.tzinfo is None:
                raise ArgumentError("expires_at: a datetime needs a time zone")
            expires_at = int(expires_at.timestamp())
        s.expires_at = _integer("expires_at", expires_at, 1, INT64_MAX)
    if access_token is not None:
        s.credentials.access_token = _text("access_token", access_token, required=False)
    if key is not None:
        s.key = _text("key", key)
    if claims:
        if not isinstance(claims, Mapping):
            raise ArgumentError(f"claims: a mapping of name to value is required, "
                                f"not {type(claims).__name__}")
        s.extra_claims.extend(_claim(n, v) for n, v in claims.items())
    r.sign.SetInParent()  # a sign body even when every field is at its default
    return r


def verify_request(token: str, audience: Optional[str] = None, issuer: Optional[str] = None,
                   user_id_pattern: Optional[str] = None) -> pb.Request:
    r = pb.Request()
    v = r.verify
    v.token = _text("token", token)
    v.audience = _text("audience", audience, required=False)
    v.issuer = _text("issuer", issuer, required=False)
    v.user_id_pattern = _text("user_id_pattern", user_id_pattern, required=False)
    return r


def keys_request() -> pb.Request:
    r = pb.Request()
    r.keys.SetInParent()
    return r


def status_request() -> pb.Request:
    r = pb.Request()
    r.status.SetInParent()
    return r


def frame(req: pb.Request, req_id: int) -> bytes:
    """The request with its id, framed; ArgumentError when over the frame limit."""
    req.id = req_id
    data = req.SerializeToString()
    if len(data) > MAX_REQUEST_FRAME:
        raise ArgumentError(f"the request is {len(data)} bytes, over the daemon's "
                            f"{MAX_REQUEST_FRAME}-byte frame limit")
    return HEADER.pack(len(data)) + data


def parse_response(data: bytes) -> pb.Response:
    try:
        return pb.Response.FromString(data)
    except Exception as e:  # the runtime's DecodeError, whichever implementation
        raise ProtocolError(f"undecodable response: {e}") from None


def split_frames(buf: bytearray) -> Tuple[List[bytes], bool]:
    """Removes the complete frames at the front of buf; True when the next is too long."""
    out, pos, n = [], 0, len(buf)
    while n - pos >= 4:
        (length,) = HEADER.unpack_from(buf, pos)
        if length > MAX_RESPONSE_FRAME:
            del buf[:pos]
            return out, True
        if n - pos - 4 < length:
            break
        out.append(bytes(buf[pos + 4:pos + 4 + length]))
        pos += 4 + length
    del buf[:pos]
    return out, False


REASONS = {v.number: v.name[len("VERIFY_REASON_"):].lower()
           for v in pb.DESCRIPTOR.enum_types_by_name["VerifyReason"].values}


def result(kind: str, resp: pb.Response):
    """The value a call of `kind` returns for resp, or the exception it raises."""
    body = resp.WhichOneof("body")
    if body == "error":
        raise from_wire(resp.error)
    if body != kind:
        raise ProtocolError(f"a {body or 'empty'} response to a {kind} request")
    if kind == "sign":
        s = resp.sign
        if not s.token:
            raise ProtocolError("a sign response without a token")
        return Token(s.token, s.kid, s.key, s.expires_at)
    if kind == "verify":
        v = resp.verify
        claims = {}
        if v.valid:
            try:
                claims = json.loads(v.payload_json)
            except ValueError:
                raise ProtocolError("a verified payload that is not JSON") from None
        reason = None if v.valid else REASONS.get(v.reason, f"reason_{v.reason}")
        return Verification(valid=v.valid, reason=reason, detail=v.detail,
                            payload=v.payload_json, claims=claims, key=v.key, kid=v.kid,
                            deprecated_v1=v.deprecated_v1)
    if kind == "keys":
        try:
            return json.loads(resp.keys.jwks)
        except ValueError:
            raise ProtocolError("a JWKS that is not JSON") from None
    st = resp.status
    return Status(version=st.version, keys=list(st.keys), tokens_issued=st.tokens_issued,
                  unavailable_keys=list(st.unavailable_keys))
