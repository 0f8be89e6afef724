# SPDX-License-Identifier: MIT
"""Raw protobuf for the claims fields of hsmjwt.v1.SignRequest (extra_claims,
legacy_claims_json), Error.rule and the status counter, on top of harness's
encoder, so tests can send what the CLI cannot and read what it hides."""

import harness as h

MASK64 = (1 << 64) - 1


def zigzag(n):
    return ((n << 1) ^ (n >> 63)) & MASK64


def enc(s):
    return s if isinstance(s, bytes) else s.encode()


def extra_claim(name, kind, value=None):
    """kind: 'string', 'integer', 'boolean', 'list', or None for a claim without a value."""
    body = h.field(1, 2, enc(name))
    if kind == "string":
        body += h.field(2, 2, enc(value))
    elif kind == "integer":
        body += h.field(3, 0, zigzag(value))
    elif kind == "boolean":
        body += h.field(4, 0, 1 if value else 0)
    elif kind == "list":
        body += h.field(5, 2, b"".join(h.field(1, 2, enc(v)) for v in value))
    return body


def sign_request(req_id, aud=None, uid=None, expires_at=None, lifetime=None, access_token=None,
                 claims=(), legacy=None, key=None):
    body = b""
    if aud is not None:
        body += h.field(1, 2, enc(aud))
    if uid is not None:
        body += h.field(2, 2, enc(uid))
    if lifetime is not None:
        body += h.field(3, 0, lifetime)
    if expires_at is not None:
        body += h.field(4, 0, expires_at)
    if access_token is not None:
        body += h.field(5, 2, h.field(1, 2, enc(access_token)))
    if key is not None:
        body += h.field(6, 2, enc(key))
    for c in claims:
        body += h.field(7, 2, extra_claim(*c))
    if legacy is not None:
        body += h.field(8, 2, enc(legacy))
    return h.field(1, 0, req_id) + h.field(2, 2, body)


class Conn:
    """One connection to the daemon, requests answered in turn."""

    def __init__(self, sock_path):
        self.s = h.connect(sock_path)
        self.next_id = 1

    def call(self, build, **kw):
        req_id = self.next_id
        self.next_id += 1
        h.send_frame(self.s, build(req_id, **kw))
        m = h.parse_message(h.recv_frame(self.s))
        assert m.get(1, [0])[0] == req_id, m
        return m

    def sign(self, **kw):
        """(token, None) or (None, (code, message, rule))."""
        m = self.call(sign_request, **kw)
        if 2 in m:
            return h.parse_message(m[2][0])[1][0].decode(), None
        e = h.parse_message(m[15][0])
        return None, (e.get(1, [0])[0], e.get(2, [b""])[0].decode(), e.get(4, [b""])[0].decode())

    def tokens_issued(self):
        m = self.call(lambda i: h.field(1, 0, i) + h.field(3, 2, b""))
        return h.parse_message(m[3][0]).get(3, [0])[0]

    def close(self):
        self.s.close()
