// SPDX-License-Identifier: MIT
// The Client: one connection to hsmjwtd, concurrent calls pipelined on it and
// matched to their answers by id, a bound on calls in flight, reconnect once.
import { createConnection, type Socket } from "node:net";
import type { Request, Response } from "./gen/hsmjwt_pb.js";
import { ArgumentError, ConnectionError, fromWire, HsmjwtError, ProtocolError, TimeoutError } from "./errors.js";
import * as w from "./wire.js";

export const DEFAULT_MAX_IN_FLIGHT = 32;
export const MAX_IN_FLIGHT_LIMIT = 4096;
export const DEFAULT_TIMEOUT_MS = 30_000;

export interface ClientOptions {
  /** The daemon's socket; default: $HSMJWT_SOCKET, else /run/hsmjwt/hsmjwtd.sock. */
  socket?: string;
  /** Calls sent and not yet answered (1..4096, default 32); more wait their turn. */
  maxInFlight?: number;
  /** Milliseconds to wait for each answer (default 30000; 0: forever). */
  timeoutMs?: number;
}

/** $HSMJWT_SOCKET when set and not empty, else /run/hsmjwt/hsmjwtd.sock. */
export function defaultSocket(): string {
  const e = process.env.HSMJWT_SOCKET;
  return e ? e : w.DEFAULT_SOCKET;
}

/** The connection closed with a request unanswered (internal). */
class Lost extends Error {
  constructor(message: string, readonly retryable: boolean) { super(message); }
}

interface Pending {
  resolve(r: Response): void;
  reject(e: Error): void;
  // Sent on an idle connection, with nothing answered since: when the
  // connection turns out closed, the daemon cannot have been working on it.
  idleAtSend: boolean;
  answersAtSend: number;
}

class Connection {
  readonly pending = new Map<number, Pending>();
  closed = false;
  answers = 0;
  private buf: Buffer = Buffer.alloc(0);
  private out: Uint8Array[] = [];
  private drained: Promise<void> | null = null;

  constructor(readonly socket: Socket) {
    socket.on("data", (d: Buffer) => this.onData(d));
    socket.on("error", () => { /* "close" follows */ });
    socket.on("close", () => this.onClose());
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    let pos = 0;
    try {
      while (this.buf.length - pos >= 4) {
        const n = this.buf.readUInt32BE(pos);
        if (n > w.MAX_RESPONSE_FRAME) throw new ProtocolError("a response frame over the size limit");
        if (this.buf.length - pos - 4 < n) break;
        const resp = w.parseResponse(this.buf.subarray(pos + 4, pos + 4 + n));
        pos += 4 + n;
        this.answer(resp);
      }
    } catch (e) {
      this.failAll(e as Error);
      return;
    }
    this.buf = pos === this.buf.length ? Buffer.alloc(0) : this.buf.subarray(pos);
  }

  private answer(resp: Response): void {
    const id = Number(resp.id);
    if (id === 0) {
      // The daemon speaking about the stream itself (an over-long frame): every
      // request still in flight on it gets that error.
      this.failAll(resp.body.case === "error" ? fromWire(resp.body.value) : new ProtocolError("a response with id 0"));
      return;
    }
    this.answers++;
    const p = this.pending.get(id);
    if (p) {
      this.pending.delete(id);
      p.resolve(resp);
    }
    // else: the answer to a call that timed out.
    if (this.pending.size === 0) this.socket.unref();
  }

  private onClose(): void {
    this.closed = true;
    for (const p of this.pending.values())
      p.reject(new Lost("the daemon closed the connection", p.idleAtSend && p.answersAtSend === this.answers));
    this.pending.clear();
  }

  failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
    this.close();
  }

  /** Waits while the socket's write buffer is over its mark. */
  async writable(): Promise<void> {
    while (this.drained) await this.drained;
  }

  send(id: number, data: Uint8Array, p: Pending): void {
    if (this.closed) {
      p.reject(new Lost("the connection is closed", true));
      return;
    }
    p.idleAtSend = this.pending.size === 0;
    p.answersAtSend = this.answers;
    this.pending.set(id, p);
    this.socket.ref();
    // Frames sent in one tick leave in one write (one buffer: writev of many small ones costs
    // more); a request alone in flight has no one to wait for.
    this.out.push(data);
    if (this.pending.size === 1 && this.out.length === 1) {
      this.flush();
      return;
    }
    if (this.out.length === 1) process.nextTick(() => this.flush());
  }

  private flush(): void {
    const data = this.out.length === 1 ? this.out[0] : Buffer.concat(this.out);
    this.out = [];
    if (this.closed) return;
    if (!this.socket.write(data) && !this.drained) {
      this.drained = new Promise((resolve) => {
        const done = () => {
          this.socket.off("drain", done);
          this.socket.off("close", done);
          this.drained = null;
          resolve();
        };
        this.socket.on("drain", done);
        this.socket.on("close", done);
      });
    }
  }

  forget(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0 && !this.closed) this.socket.unref();
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }
}

/**
 * A client of hsmjwtd. The connection opens on first use; concurrent calls
 * share it. When it closes, every call still waiting on it rejects with a
 * ConnectionError and the next call opens a new one; a call sent on an idle
 * connection the daemon had closed (it restarted, or exited idle) is sent
 * once more on the new connection, as libhsmjwt does. An idle client does not
 * keep the process alive.
 */
export class Client {
  readonly socketPath: string;
  readonly maxInFlight: number;
  readonly timeoutMs: number;
  private conn: Connection | null = null;
  private connecting: Promise<Connection> | null = null;
  private nextId = 1;
  private inFlightCount = 0;
  private waiters: Array<() => void> = [];

  constructor(options: ClientOptions = {}) {
    if (typeof options !== "object" || options === null) throw new ArgumentError("Client: options must be an object");
    const { socket, maxInFlight = DEFAULT_MAX_IN_FLIGHT, timeoutMs = DEFAULT_TIMEOUT_MS } = options;
    if (socket !== undefined && (typeof socket !== "string" || socket === ""))
      throw new ArgumentError("socket: a non-empty path is required");
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1 || maxInFlight > MAX_IN_FLIGHT_LIMIT)
      throw new ArgumentError(`maxInFlight: an integer in 1..${MAX_IN_FLIGHT_LIMIT} is required`);
    if (!Number.isInteger(timeoutMs) || timeoutMs < 0)
      throw new ArgumentError("timeoutMs: a non-negative integer is required");
    this.socketPath = socket ?? defaultSocket();
    this.maxInFlight = maxInFlight;
    this.timeoutMs = timeoutMs;
  }

  /** A signed JWT, with the kid, key and expiry the daemon reports. */
  sign(options: w.SignOptions): Promise<w.SignedToken> {
    return this.call("sign", () => w.signRequest(options)) as Promise<w.SignedToken>;
  }

  /** The daemon's verdict on token; expectations left out are not checked. */
  verify(token: string, options: w.VerifyOptions = {}): Promise<w.Verification> {
    return this.call("verify", () => w.verifyRequest(token, options)) as Promise<w.Verification>;
  }

  /** The public key set (JWKS), parsed. */
  keys(): Promise<w.Jwks> {
    return this.call("keys", w.keysRequest) as Promise<w.Jwks>;
  }

  status(): Promise<w.Status> {
    return this.call("status", w.statusRequest) as Promise<w.Status>;
  }

  /** Calls sent and not yet answered. */
  get inFlight(): number {
    return this.inFlightCount;
  }

  /** Closes the connection; calls still waiting reject with ConnectionError. */
  async close(): Promise<void> {
    const c = this.conn;
    this.conn = null;
    if (c) c.close();
  }

  private async connection(): Promise<Connection> {
    if (this.conn && !this.conn.closed) return this.conn;
    if (!this.connecting) {
      this.connecting = new Promise<Connection>((resolve, reject) => {
        const s = createConnection({ path: this.socketPath });
        const fail = (e: NodeJS.ErrnoException) => reject(new ConnectionError(`${this.socketPath}: ${e.code ?? ""} ${e.message}`.trim(), { cause: e }));
        s.once("error", fail);
        s.once("connect", () => {
          s.off("error", fail);
          s.unref();
          resolve(new Connection(s));
        });
      }).then((c) => {
        this.conn = c;
        return c;
      }).finally(() => {
        this.connecting = null;
      });
    }
    return this.connecting;
  }

  private async acquire(): Promise<void> {
    if (this.inFlightCount < this.maxInFlight) {
      this.inFlightCount++;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  private release(): void {
    const next = this.waiters.shift();
    if (next) next(); // the slot passes on
    else this.inFlightCount--;
  }

  private async sendAndWait(id: number, data: Uint8Array): Promise<Response> {
    const conn = await this.connection();
    await conn.writable();
    return new Promise<Response>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const p: Pending = {
        resolve: (r) => { if (timer) clearTimeout(timer); resolve(r); },
        reject: (e) => { if (timer) clearTimeout(timer); reject(e); },
        idleAtSend: false,
        answersAtSend: 0,
      };
      if (this.timeoutMs > 0) {
        timer = setTimeout(() => {
          conn.forget(id);
          reject(new TimeoutError(`no answer from ${this.socketPath} within ${this.timeoutMs} ms`));
        }, this.timeoutMs);
      }
      conn.send(id, data, p);
    });
  }

  private async call(kind: w.Kind, build: () => Request): Promise<unknown> {
    const req = build(); // ArgumentError before anything is sent
    const id = this.nextId++;
    const data = w.frame(req, id);
    await this.acquire();
    let resp: Response;
    try {
      try {
        resp = await this.sendAndWait(id, data);
      } catch (e) {
        if (!(e instanceof Lost)) throw e;
        if (!e.retryable) throw new ConnectionError(`${this.socketPath}: ${e.message} with the request unanswered`);
        try {
          resp = await this.sendAndWait(id, data);
        } catch (e2) {
          if (e2 instanceof Lost) throw new ConnectionError(`${this.socketPath}: ${e2.message} with the request unanswered`);
          throw e2;
        }
      }
    } finally {
      this.release();
    }
    return w.result(kind, resp);
  }
}

export { HsmjwtError };
