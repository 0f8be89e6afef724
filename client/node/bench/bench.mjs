// SPDX-License-Identifier: MIT
// The Node client's side of tests/bench/clients.py: signs on one connection
// for SECONDS with DEPTH calls in flight; prints "TOKENS SECONDS".
import { Client } from "../dist/index.js";

const [socket, seconds, depthArg] = process.argv.slice(2);
const depth = Number(depthArg);
const c = new Client({ socket, maxInFlight: depth });
const opts = { audience: "Custom", userId: "Custom:bench", lifetimeSeconds: 600 };
const t0 = performance.now();
const end = t0 + Number(seconds) * 1000;
let n = 0;
async function worker() {
  while (performance.now() < end) {
    await c.sign(opts);
    n++;
  }
}
await Promise.all(Array.from({ length: depth }, worker));
console.log(`${n} ${((performance.now() - t0) / 1000).toFixed(6)}`);
await c.close();
