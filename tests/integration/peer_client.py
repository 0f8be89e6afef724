#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A client for tests that must run as another user (under setpriv) and see
the raw answer: one connection to hsmjwtd, kept open; sign requests come as
JSON lines on stdin, answers go out as JSON lines on stdout."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

s = h.connect(sys.argv[1])
for line in sys.stdin:
    rq = json.loads(line)
    h.send_frame(s, h.sign_request(rq["id"], rq["aud"].encode(), rq["sub"].encode(),
                                   lifetime=rq.get("lifetime"),
                                   key=rq["key"].encode() if "key" in rq else None))
    resp = h.recv_frame(s)
    if resp is None:
        print(json.dumps({"closed": True}), flush=True)
        break
    m = h.parse_message(resp)
    out = {"id": m.get(1, [0])[0]}
    if 15 in m:
        e = h.parse_message(m[15][0])
        out.update(code=e.get(1, [0])[0], message=e.get(2, [b""])[0].decode(),
                   retry_after_ms=e.get(3, [0])[0])
    else:
        out["token"] = h.parse_message(m[2][0])[1][0].decode()
    print(json.dumps(out), flush=True)
