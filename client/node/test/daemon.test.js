// SPDX-License-Identifier: MIT
// Against the real hsmjwtd on fresh SoftHSM tokens, which
// tests/integration/test_node_client.py sets up and describes in the JSON file
// $HSMJWT_TEST_ENV names (meson test runs it; without it these tests skip).
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { createConnection } from "node:net";
import { test } from "node:test";
import * as hsmjwt from "../dist/index.js";

const envFile = process.env.HSMJWT_TEST_ENV;
const env = envFile ? JSON.parse(readFileSync(envFile, "utf8")) : null;
const skip = env ? false : "needs the daemons of tests/integration/test_node_client.py ($HSMJWT_TEST_ENV)";

// The independent check: HS256 with the key spec/zumo-v2.md derives from the master key.
function signatureValid(token) {
  const key = createHash("sha256").update(env.master + "JWTSig").digest();
  const [h, p, s] = token.split(".");
  return createHmac("sha256", key).update(`${h}.${p}`).digest("base64url") === s;
}
const payload = (t) => JSON.parse(Buffer.from(t.split(".")[1], "base64url").toString());

/** Asks the test driver to restart the daemon (SIGTERM; socket activation starts the next). */
function restartDaemon() {
  return new Promise((resolve, reject) => {
    const s = createConnection({ path: env.control });
    let got = "";
    s.on("data", (d) => { got += d; });
    s.on("end", () => (got === "ok\n" ? resolve() : reject(new Error(`control: ${got}`))));
    s.on("error", reject);
    s.end("restart\n");
  });
}

test("the same token, byte for byte, as the C client", { skip }, async () => {
  const c = new hsmjwt.Client({ socket: env.main });
  const t = await c.sign({
    audience: "Facebook", userId: "Facebook:10203040", accessToken: "EAAB-demo", expiresAt: env.exp,
    claims: { role: "editor", level: 3, beta: true, groups: ["a", "b"] },
  });
  assert.equal(t.token, env.cToken);
  assert.deepEqual([t.kid, t.key, t.expiresAt], ["0", "zumo", env.exp]);
  const byDate = await c.sign({ audience: "Custom", userId: "Custom:42", expiresAt: new Date(env.exp * 1000) });
  assert.equal(byDate.token, env.referenceCustom42);
  await c.close();
});

test("verify, keys and status", { skip }, async () => {
  const c = new hsmjwt.Client({ socket: env.main });
  const { token } = await c.sign({ audience: "Custom", userId: "Custom:7", lifetimeSeconds: 600 });
  const v = await c.verify(token, { audience: "Custom", userIdPattern: "Custom:*" });
  assert.ok(v.valid && v.claims.uid === "Custom:7" && v.key === "zumo", JSON.stringify(v));
  const bad = await c.verify(token, { audience: "Other" });
  assert.equal(bad.valid, false);
  assert.equal(bad.reason, "wrong_audience");
  const forged = await c.verify(token.slice(0, -2) + (token.endsWith("AA") ? "BB" : "AA"));
  assert.equal(forged.reason, "bad_signature");
  assert.deepEqual((await c.keys()).keys.map((k) => k.kid), ["ec1"]);
  const st = await c.status();
  assert.ok(st.tokensIssued >= 1 && st.keys.includes("zumo"), JSON.stringify(st));
  assert.deepEqual(st.unavailableKeys, []);
  await c.close();
});

test("the daemon's refusals, each its class", { skip }, async () => {
  const c = new hsmjwt.Client({ socket: env.limited });
  const is = (cls, code, check = () => true) => (e) => {
    assert.equal(e.constructor, cls, `${e.constructor.name}: ${e.message}`);
    assert.equal(e.code, code);
    return check(e);
  };
  await assert.rejects(c.sign({ audience: "Custom", userId: "Custom:1", lifetimeSeconds: 1e9 }),
    is(hsmjwt.InvalidRequestError, "INVALID_REQUEST", (e) => e.rule === "expiry-too-long" && /\[rule expiry-too-long\]/.test(e.message)));
  await assert.rejects(c.sign({ audience: "Custom", userId: "Custom:1", claims: { iat: 1 } }),
    is(hsmjwt.InvalidRequestError, "INVALID_REQUEST", (e) => e.rule === "claim-name-reserved"));
  await assert.rejects(c.sign({ audience: "Facebook", userId: "Facebook:1" }), is(hsmjwt.PermissionDeniedError, "PERMISSION_DENIED"));
  await c.sign({ audience: "Custom", userId: "Custom:1" });
  await assert.rejects(c.sign({ audience: "Custom", userId: "Custom:2" }),
    is(hsmjwt.RateLimitedError, "RATE_LIMITED", (e) => e.retryAfterMs > 1000));
  // Over max-frame: the daemon answers on id 0 and closes; the next call opens anew.
  await assert.rejects(c.sign({ audience: "Custom", userId: "Custom:3", claims: { big: "x".repeat(3000) } }),
    is(hsmjwt.TooLargeError, "TOO_LARGE"));
  assert.equal(typeof (await c.status()).version, "string");
  await c.close();
  const u = new hsmjwt.Client({ socket: env.unavailable });
  await assert.rejects(u.sign({ audience: "Custom", userId: "Custom:1" }), is(hsmjwt.UnavailableError, "UNAVAILABLE"));
  await u.close();
});

test("1,000 pipelined calls, 64 in flight, each answered by its own id", { skip }, async () => {
  const c = new hsmjwt.Client({ socket: env.main, maxInFlight: 64 });
  let peak = 0;
  const tokens = await Promise.all(Array.from({ length: 1000 }, async (_, i) => {
    const p = c.sign({ audience: "Custom", userId: `Custom:${i}`, expiresAt: env.exp });
    peak = Math.max(peak, c.inFlight);
    return p;
  }));
  tokens.forEach((t, i) => {
    assert.equal(payload(t.token).uid, `Custom:${i}`);
    assert.ok(signatureValid(t.token), `token ${i}`);
  });
  assert.equal(peak, 64);
  assert.equal(c.inFlight, 0);
  await c.close();
});

test("a daemon restarted mid-run: the next call reconnects", { skip }, async () => {
  const c = new hsmjwt.Client({ socket: env.main });
  for (let i = 0; i < 3; i++) {
    const t = await c.sign({ audience: "Custom", userId: `Custom:r${i}` });
    assert.ok(signatureValid(t.token));
    await restartDaemon();
  }
  assert.ok(signatureValid((await c.sign({ audience: "Custom", userId: "Custom:last" })).token));
  await c.close();
});
