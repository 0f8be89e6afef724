// SPDX-License-Identifier: MIT
// No daemon needed: arguments refused before sending, every error class
// mapped from a scripted peer, a connection closed with 64 requests in flight.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as hsmjwt from "../dist/index.js";
import { scriptedPeer } from "./peer.js";

const EXP = Math.floor(Date.now() / 1000) + 86400;

test("bad arguments are refused before anything is sent", async () => {
  const peer = await scriptedPeer([1]);
  const c = new hsmjwt.Client({ socket: peer.path });
  const cases = [
    [{ audience: "", userId: "Custom:1" }, "audience: must not be empty"],
    [{ audience: "Custom" }, "userId: a string is required, not undefined"],
    [{ audience: "Custom", userId: "Custom:\0" }, "U+0000"],
    [{ audience: "Custom", userId: "Custom:\uDC80" }, "lone surrogate"],
    [{ audience: "C", userId: "C:1", lifetimeSeconds: 5, expiresAt: EXP }, "exclude each other"],
    [{ audience: "C", userId: "C:1", lifetimeSeconds: 0 }, "lifetimeSeconds: 0 is out of range"],
    [{ audience: "C", userId: "C:1", lifetimeSeconds: "60" }, "lifetimeSeconds: an integer is required, not string"],
    [{ audience: "C", userId: "C:1", expiresAt: new Date("x") }, "invalid Date"],
    [{ audience: "C", userId: "C:1", claims: { n: 1.5 } }, "claims[\"n\"]: 1.5 is not an integer"],
    [{ audience: "C", userId: "C:1", claims: { n: 2 ** 60 } }, "not an integer a number holds exactly"],
    [{ audience: "C", userId: "C:1", claims: { n: 2n ** 64n } }, "out of range"],
    [{ audience: "C", userId: "C:1", claims: { l: ["a", 1] } }, "claims[\"l\"][1]"],
    [{ audience: "C", userId: "C:1", claims: { o: {} } }, "a string, integer, boolean or array"],
    [{ audience: "C", userId: "C:1", legacyClaims: "{}" }, "give none of them"],
    [{ audience: "C", userId: "C:1", claims: { x: "y".repeat(70000) } }, "frame limit"],
  ];
  for (const [opts, text] of cases) {
    await assert.rejects(c.sign(opts), (e) => {
      assert.ok(e instanceof hsmjwt.ArgumentError && e instanceof hsmjwt.HsmjwtError, String(e));
      assert.equal(e.code, "ARGUMENT");
      assert.ok(e.message.includes(text), `${e.message} lacks ${text}`);
      return true;
    });
  }
  await assert.rejects(c.verify(42), /token: a string is required, not number/);
  await assert.rejects(c.sign(null), hsmjwt.ArgumentError);
  assert.throws(() => new hsmjwt.Client({ socket: peer.path, maxInFlight: 0 }), /maxInFlight/);
  assert.throws(() => new hsmjwt.Client({ socket: "" }), /socket/);
  assert.equal(peer.requests, 0);
  assert.equal(peer.connections, 0);
  await c.close();
  await peer.close();
});

test("every daemon error code has its class", async () => {
  const expect = [
    [1, hsmjwt.InvalidRequestError, "INVALID_REQUEST"], [2, hsmjwt.PermissionDeniedError, "PERMISSION_DENIED"],
    [3, hsmjwt.RateLimitedError, "RATE_LIMITED"], [4, hsmjwt.UnavailableError, "UNAVAILABLE"],
    [5, hsmjwt.TooLargeError, "TOO_LARGE"], [6, hsmjwt.InternalError, "INTERNAL"],
    [7, hsmjwt.UnsupportedError, "UNSUPPORTED"], [42, hsmjwt.HsmjwtError, "UNKNOWN"],
  ];
  const peer = await scriptedPeer([...expect.map(([n]) => n), Buffer.from([0xff, 0xff, 0xff])]);
  const c = new hsmjwt.Client({ socket: peer.path });
  for (const [n, cls, code] of expect) {
    await assert.rejects(c.status(), (e) => {
      assert.equal(e.constructor, cls, `${n}: ${e.constructor.name}`);
      assert.equal(e.code, code);
      assert.ok(e.message.startsWith(`scripted ${n}`), e.message);
      return true;
    });
  }
  await assert.rejects(c.status(), (e) => e instanceof hsmjwt.ProtocolError && e.code === "PROTOCOL");
  await c.close();
  await peer.close();
});

test("a connection closed with 64 requests in flight: each rejects, none hangs", async () => {
  // The peer closes each connection once it has read 64 requests; the first
  // request (sent on an idle connection) is sent once more, and meets the same fate.
  const peer = await scriptedPeer(["close", "close"], { closeAfter: 64 });
  const c = new hsmjwt.Client({ socket: peer.path, maxInFlight: 64, timeoutMs: 20000 });
  const t0 = Date.now();
  const res = await Promise.allSettled(Array.from({ length: 64 }, (_, i) => c.sign({ audience: "Custom", userId: `Custom:${i}` })));
  assert.ok(Date.now() - t0 < 15000);
  for (const r of res) {
    assert.equal(r.status, "rejected");
    assert.ok(r.reason instanceof hsmjwt.ConnectionError, String(r.reason));
  }
  assert.equal(peer.requests, 65);
  assert.equal(c.inFlight, 0);
  await c.close();
  await peer.close();
});

test("an unreachable socket is a ConnectionError", async () => {
  const c = new hsmjwt.Client({ socket: "/nonexistent/hsmjwtd.sock" });
  await assert.rejects(c.status(), (e) => e instanceof hsmjwt.ConnectionError && /ENOENT/.test(e.message));
});

test("no answer within timeoutMs is a TimeoutError", async () => {
  const peer = await scriptedPeer([]); // reads, never answers
  const c = new hsmjwt.Client({ socket: peer.path, timeoutMs: 300 });
  const t0 = Date.now();
  await assert.rejects(c.status(), (e) => e instanceof hsmjwt.TimeoutError && e.code === "TIMEOUT");
  assert.ok(Date.now() - t0 < 5000);
  assert.equal(c.inFlight, 0);
  await c.close();
  await peer.close();
});

test("socket resolution: argument, $HSMJWT_SOCKET, default", () => {
  const old = process.env.HSMJWT_SOCKET;
  try {
    process.env.HSMJWT_SOCKET = "/tmp/from-env.sock";
    assert.equal(new hsmjwt.Client().socketPath, "/tmp/from-env.sock");
    assert.equal(new hsmjwt.Client({ socket: "/tmp/arg.sock" }).socketPath, "/tmp/arg.sock");
    process.env.HSMJWT_SOCKET = "";
    assert.equal(new hsmjwt.Client().socketPath, "/run/hsmjwt/hsmjwtd.sock");
  } finally {
    if (old === undefined) delete process.env.HSMJWT_SOCKET;
    else process.env.HSMJWT_SOCKET = old;
  }
});
