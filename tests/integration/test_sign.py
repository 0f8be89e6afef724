#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""End to end: hsmjwtctl imports the spec's master key into a fresh SoftHSM
token, hsmjwtd starts under systemd-socket-activate, hsmjwt signs, and each
token is checked byte for byte against an independent reference and
verified with python3-jwt."""

import os
import time

import harness as h

try:
    import jwt
except ImportError:
    h.skip("python3-jwt is not installed")

SPEC_VECTOR_2 = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6IjAifQ.eyJleHAiOjE3OTg3NjE2MDAsImlzcyI6InVybjp"
    "taWNyb3NvZnQ6d2luZG93cy1henVyZTp6dW1vIiwidmVyIjoyLCJhdWQiOiJGYWNlYm9vayIsInVpZCI6IkZhY2Vib2"
    "9rOjEwMjAzMDQwIiwidXJuOm1pY3Jvc29mdDpjcmVkZW50aWFscyI6eyJhY2Nlc3NUb2tlbiI6IkVBQUItZGVtby10"
    "b2tlbiJ9fQ.0UHA-ECFYxuTdDZ7JeHup_Das9levN0mz32wbAo3Ms4")

env = h.Env()
env.import_key()
env.start(activate=True)


def pyjwt_verify(token, aud):
    # python3-jwt checks the signature, exp and aud; it is not our code.
    return jwt.decode(token, h.signing_key(h.SPEC_MASTER), algorithms=["HS256"], audience=aud)


def test_spec_vector_2_byte_for_byte():
    # exp 1798761600 (2027-01-01) is still ahead, so the daemon can reproduce it exactly.
    if time.time() >= 1798761600:
        h.skip("spec vector 2 has expired")
    tok = env.sign("--aud", "Facebook", "--uid", "Facebook:10203040", "--expires-at",
                   "1798761600", "--access-token", "EAAB-demo-token")
    assert tok == SPEC_VECTOR_2, tok


def test_lifetime_token_matches_reference():
    before = int(time.time())
    tok = env.sign("--aud", "Custom", "--uid", "Custom:42", "--lifetime", "600")
    after = int(time.time())
    exp = h.decode_part(tok, 1)["exp"]
    assert before + 600 <= exp <= after + 600, (before, exp, after)
    assert tok == h.reference_token(h.SPEC_MASTER, exp, "Custom", "Custom:42"), tok
    claims = pyjwt_verify(tok, "Custom")
    assert claims["uid"] == "Custom:42" and claims["ver"] == 2, claims
    assert jwt.get_unverified_header(tok) == {"alg": "HS256", "typ": "JWT", "kid": "0"}


def test_default_lifetime_is_one_hour():
    now = int(time.time())
    tok = env.sign("--aud", "Custom", "--uid", "Custom:7")
    exp = h.decode_part(tok, 1)["exp"]
    assert now + 3600 <= exp <= now + 3602, exp
    assert tok == h.reference_token(h.SPEC_MASTER, exp, "Custom", "Custom:7")


def test_escapes_and_unicode_match_reference():
    exp = int(time.time()) + 1000
    aud = "Face\"book\\/\x7f"
    uid = "Custom:\u00e9\u20ac\U0001F600\u2028\t\n\x01\x1f"
    access = "tok\"en\r\b\f\x1bend"
    # The access token travels on stdin, as a secret should (a NUL cannot: see the raw test).
    r = env.hsmjwt("sign", "--aud", aud, "--uid", uid, "--expires-at", str(exp),
                   "--access-token-file", "-", stdin=access.encode())
    assert r.returncode == 0, r.stderr
    tok = r.stdout.decode()[:-1]
    assert tok == h.reference_token(h.SPEC_MASTER, exp, aud, uid, access), tok
    assert pyjwt_verify(tok, aud)["uid"] == uid


def test_nul_in_claims_refused_not_truncated():
    # protobuf-c delivers strings NUL-terminated: "Cus\0tom" must be refused, never signed as "Cus".
    exp = int(time.time()) + 500
    for req in (h.sign_request(77, b"Cus\x00tom", b"Custom:1", expires_at=exp),
                h.sign_request(78, b"Custom", b"Custom:\x00", expires_at=exp),
                h.sign_request(79, b"Custom", b"Custom:1", access_token=b"a\x00b")):
        s = h.connect(env.sock)
        h.send_frame(s, req)
        err = h.error_of(h.recv_frame(s))
        s.close()
        assert err is not None and err[1] == 1 and "U+0000" in err[2], err
    s = h.connect(env.sock)
    h.send_frame(s, h.sign_request(80, b"Custom", b"Custom:1", expires_at=exp))
    resp = h.parse_message(h.recv_frame(s))
    s.close()
    assert resp[1] == [80] and 2 in resp, resp


def expect_refusal(args, code, message_part, stdin=None):
    r = env.hsmjwt("sign", *args, stdin=stdin)
    assert r.returncode == code, (args, r.returncode, r.stderr)
    assert r.stdout == b"", r.stdout
    assert message_part.encode() in r.stderr, r.stderr


def test_refusals_have_codes_and_messages():
    expect_refusal(["--aud", "Custom", "--uid", "Custom:1", "--lifetime", str(401 * 86400)], 3,
                   "exceeds key zumo's max-lifetime")
    expect_refusal(["--aud", "Custom", "--uid", "Custom:1", "--expires-at", "1000"], 3,
                   "not in the future")
    expect_refusal(["--aud", "", "--uid", "Custom:1"], 3, "audience is required")
    expect_refusal(["--aud", "Custom", "--uid", "Custom:1", "--key", "nope"], 3, "no key named")
    expect_refusal(["--aud", "C" * 1025, "--uid", "Custom:1"], 3, "limit is 1024")
    expect_refusal(["--aud", "Custom"], 2, "needs --aud and --uid")
    expect_refusal(["--aud", "Custom", "--uid", "x", "--lifetime", "5", "--expires-at", "9"], 2,
                   "give one of")


def test_invalid_utf8_refused():
    s = h.connect(env.sock)
    h.send_frame(s, h.sign_request(5, b"Cust\xc0\xafom", b"Custom:1"))
    err = h.error_of(h.recv_frame(s))
    s.close()
    assert err == (5, 1, "audience is not valid UTF-8"), err


def test_unreachable_daemon_exit_code():
    r = h.subprocess.run([h.HSMJWT, "--socket", os.path.join(env.dir, "nothing.sock"), "sign",
                          "--aud", "a", "--uid", "b"], capture_output=True)
    assert r.returncode == 7, r
    assert b"cannot connect" in r.stderr


def test_audit_log_has_fingerprint_not_token():
    tok = env.sign("--aud", "Custom", "--uid", "Custom:audit", "--access-token", "SECRET-AT-123")
    with open(env.audit_file) as f:
        trail = f.read()
    fp = h.hashlib.sha256(tok.encode()).hexdigest()
    assert fp in trail, trail
    for text in (trail, env.read_log()):
        assert tok not in text and tok.split(".")[2] not in text
        assert "SECRET-AT-123" not in text


def test_sigterm_exits_cleanly():
    assert env.stop() == 0, env.read_log()


try:
    h.run([test_spec_vector_2_byte_for_byte, test_lifetime_token_matches_reference,
           test_default_lifetime_is_one_hour, test_escapes_and_unicode_match_reference,
           test_nul_in_claims_refused_not_truncated, test_refusals_have_codes_and_messages,
           test_invalid_utf8_refused, test_unreachable_daemon_exit_code,
           test_audit_log_has_fingerprint_not_token, test_sigterm_exits_cleanly])
finally:
    env.cleanup()
