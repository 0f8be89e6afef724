#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A minimal login endpoint and an API endpoint, with hsmjwtd doing the JWTs.

    POST /login  {"user": "alice", "password": "..."}  ->  {"token": "eyJ..."}
    GET  /api/me  Authorization: Bearer eyJ...          ->  {"uid": "Custom:alice", ...}

The login endpoint asks the daemon for a Mobile Services v2 token for the
user; the API endpoint has the daemon verify the bearer token, so this
process never holds a key. Next to scripts/quickstart's daemon:

    scripts/quickstart --serve          # in one terminal
    HSMJWT_SOCKET=$PWD/.dev/hsmjwtd.sock PYTHONPATH=build/client/python \\
        /usr/bin/python3 client/python/examples/server.py
    curl -s -d '{"user":"alice","password":"demo"}' localhost:8080/login
    curl -s -H "Authorization: Bearer $TOKEN" localhost:8080/api/me
"""

import hmac
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import hsmjwt

# One client for all request threads: its calls are serialised on one connection.
client = hsmjwt.Client()
# A stand-in for a real user store: check passwords there, not like this.
DEMO_PASSWORD = os.environ.get("DEMO_PASSWORD", "demo")


class Handler(BaseHTTPRequestHandler):
    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        if self.path != "/login":
            return self.reply(404, {"error": "not found"})
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            user, password = str(body["user"]), str(body["password"])
        except (ValueError, KeyError, TypeError):
            return self.reply(400, {"error": "expected {\"user\": ..., \"password\": ...}"})
        if not hmac.compare_digest(password.encode(), DEMO_PASSWORD.encode()):
            return self.reply(401, {"error": "wrong user or password"})
        try:
            token = client.sign("Custom", f"Custom:{user}", lifetime=3600)
        except hsmjwt.RateLimited as e:
            return self.reply(429, {"error": str(e), "retry_after": e.retry_after})
        except (hsmjwt.ArgumentError, hsmjwt.InvalidRequest) as e:
            return self.reply(400, {"error": str(e)})
        except hsmjwt.Error as e:  # denied, unavailable, daemon unreachable...
            return self.reply(503, {"error": f"cannot issue a token: {e}"})
        self.reply(200, {"token": token, "expires_at": token.expires_at})

    def do_GET(self):
        if self.path != "/api/me":
            return self.reply(404, {"error": "not found"})
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return self.reply(401, {"error": "a bearer token is required"})
        try:
            v = client.verify(auth[len("Bearer "):], audience="Custom", user_id_pattern="Custom:*")
        except hsmjwt.ArgumentError as e:
            return self.reply(401, {"error": str(e)})
        except hsmjwt.Error as e:
            return self.reply(503, {"error": f"cannot verify: {e}"})
        if not v:
            return self.reply(401, {"error": f"invalid token: {v.reason}"})
        self.reply(200, {"uid": v.claims["uid"], "expires_at": v.claims["exp"]})

    def log_message(self, fmt, *args):  # keep tokens out of the log: no query strings here
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8080"))), Handler)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()
