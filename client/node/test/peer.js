// SPDX-License-Identifier: MIT
// A scripted peer on a socket of its own, for what the real daemon cannot be
// made to send: each request read is answered by the next step of a script.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RequestSchema, ResponseSchema } from "../dist/gen/hsmjwt_pb.js";

/**
 * steps: an ErrorCode number to answer with, bytes to send as a frame, or
 * "close": close the connection
 * once it has read closeAfter requests (on later connections: at the first).
 */
export async function scriptedPeer(steps, { closeAfter = 1 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "hsmjwt-node-"));
  const path = join(dir, "peer.sock");
  const peer = { path, requests: 0, connections: 0 };
  const server = createServer((sock) => {
    peer.connections++;
    let buf = Buffer.alloc(0);
    let seen = 0;
    sock.on("error", () => {});
    sock.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
        const n = buf.readUInt32BE(0);
        const req = fromBinary(RequestSchema, buf.subarray(4, 4 + n));
        buf = buf.subarray(4 + n);
        peer.requests++;
        seen++;
        const step = steps[0];
        if (step === undefined) continue;
        if (step === "close") {
          if (seen >= closeAfter) {
            steps.shift();
            closeAfter = 1; // later connections close at their first request
            sock.destroy();
            return;
          }
          continue;
        }
        steps.shift();
        if (step instanceof Uint8Array) { // a frame that is no Response
          const hdr = Buffer.alloc(4);
          hdr.writeUInt32BE(step.length);
          sock.write(Buffer.concat([hdr, step]));
          continue;
        }
        const resp = toBinary(ResponseSchema, create(ResponseSchema, {
          id: req.id, body: { case: "error", value: { code: step, message: `scripted ${step}`, rule: "", retryAfterMs: 0 } },
        }));
        const hdr = Buffer.alloc(4);
        hdr.writeUInt32BE(resp.length);
        sock.write(Buffer.concat([hdr, resp]));
      }
    });
  });
  await new Promise((resolve) => server.listen(path, resolve));
  peer.close = () => new Promise((resolve) => server.close(() => { rmSync(dir, { recursive: true, force: true }); resolve(); }));
  return peer;
}
