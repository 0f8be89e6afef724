// SPDX-License-Identifier: MIT
// A minimal login endpoint and an API endpoint, with hsmjwtd doing the JWTs.
//
//   POST /login  {"user": "alice", "password": "..."}  ->  {"token": "eyJ..."}
//   GET  /api/me  Authorization: Bearer eyJ...          ->  {"uid": "Custom:alice", ...}
//
// The login endpoint asks the daemon for a Mobile Services v2 token for the
// user; the API endpoint has the daemon verify the bearer token, so this
// process never holds a key. Next to scripts/quickstart's daemon:
//
//   scripts/quickstart --serve            # in one terminal
//   HSMJWT_SOCKET=$PWD/.dev/hsmjwtd.sock node client/node/examples/server.mjs
//   curl -s -d '{"user":"alice","password":"demo"}' localhost:8080/login
//   curl -s -H "Authorization: Bearer $TOKEN" localhost:8080/api/me
import { createServer } from "node:http";
import { timingSafeEqual } from "node:crypto";
import { Client, ArgumentError, HsmjwtError, InvalidRequestError, RateLimitedError } from "hsmjwt";

// One client for the whole server: concurrent requests share its connection.
const client = new Client();
// A stand-in for a real user store: check passwords there, not like this.
const demoPassword = Buffer.from(process.env.DEMO_PASSWORD ?? "demo");

function reply(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(data) });
  res.end(data);
}

async function readJson(req) {
  let body = "";
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 65536) throw new Error("too long");
  }
  return JSON.parse(body);
}

async function login(req, res) {
  let user, password;
  try {
    ({ user, password } = await readJson(req));
    if (typeof user !== "string" || typeof password !== "string") throw new Error("shape");
  } catch {
    return reply(res, 400, { error: 'expected {"user": ..., "password": ...}' });
  }
  const given = Buffer.from(password);
  if (given.length !== demoPassword.length || !timingSafeEqual(given, demoPassword))
    return reply(res, 401, { error: "wrong user or password" });
  try {
    const t = await client.sign({ audience: "Custom", userId: `Custom:${user}`, lifetimeSeconds: 3600 });
    reply(res, 200, { token: t.token, expires_at: t.expiresAt });
  } catch (e) {
    if (e instanceof RateLimitedError) return reply(res, 429, { error: e.message, retry_after_ms: e.retryAfterMs });
    if (e instanceof ArgumentError || e instanceof InvalidRequestError) return reply(res, 400, { error: e.message });
    if (e instanceof HsmjwtError) return reply(res, 503, { error: `cannot issue a token: ${e.message}` });
    throw e;
  }
}

async function me(req, res) {
  const auth = req.headers.authorization ?? "";
  if (!auth.startsWith("Bearer ")) return reply(res, 401, { error: "a bearer token is required" });
  let v;
  try {
    v = await client.verify(auth.slice("Bearer ".length), { audience: "Custom", userIdPattern: "Custom:*" });
  } catch (e) {
    if (e instanceof ArgumentError) return reply(res, 401, { error: e.message });
    if (e instanceof HsmjwtError) return reply(res, 503, { error: `cannot verify: ${e.message}` });
    throw e;
  }
  if (!v.valid) return reply(res, 401, { error: `invalid token: ${v.reason}` });
  reply(res, 200, { uid: v.claims.uid, expires_at: v.claims.exp });
}

const server = createServer((req, res) => {
  const route = req.method === "POST" && req.url === "/login" ? login
    : req.method === "GET" && req.url === "/api/me" ? me : null;
  if (!route) return reply(res, 404, { error: "not found" });
  route(req, res).catch((e) => reply(res, 500, { error: String(e) }));
});
server.listen(Number(process.env.PORT ?? 8080), "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
