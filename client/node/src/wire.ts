// SPDX-License-Identifier: MIT
// Requests checked and built from JavaScript arguments, frames, and responses
// turned into results or errors. The messages come from protoc-gen-es.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  CredentialsSchema, ExtraClaimSchema, RequestSchema, ResponseSchema, SignRequestSchema,
  StringListSchema, VerifyReason,
  type ExtraClaim, type Request, type Response,
} from "./gen/hsmjwt_pb.js";
import { ArgumentError, fromWire, ProtocolError } from "./errors.js";

export const DEFAULT_SOCKET = "/run/hsmjwt/hsmjwtd.sock";
/** The daemon's default [server] max-frame; a longer request is refused here. */
export const MAX_REQUEST_FRAME = 64 * 1024;
/** Responses carry at most a JWKS or a verified payload; libhsmjwt allows 4 x 64 KiB. */
export const MAX_RESPONSE_FRAME = 4 * 64 * 1024;
const INT64_MIN = -(1n << 63n), INT64_MAX = (1n << 63n) - 1n, UINT64_MAX = (1n << 64n) - 1n;

export type ClaimValue = string | number | bigint | boolean | readonly string[];
export type Claims = Readonly<Record<string, ClaimValue>> | ReadonlyMap<string, ClaimValue>
  | ReadonlyArray<readonly [string, ClaimValue]>;

export interface SignOptions {
  /** The "aud" claim, e.g. "Custom". Required unless legacyClaims is given. */
  audience?: string;
  /** The "uid" claim, "<Provider>:<id>". Required unless legacyClaims is given. */
  userId?: string;
  /** Adds "urn:microsoft:credentials": {"accessToken": ...}. */
  accessToken?: string;
  /** Seconds from now; excludes expiresAt. Neither: the key's default lifetime. */
  lifetimeSeconds?: number | bigint;
  /** Absolute expiry: seconds since the epoch, or a Date. */
  expiresAt?: number | bigint | Date;
  /** The configured key ([key NAME]); default: the daemon's default key. */
  key?: string;
  /** Extra claims, written in the order given (a Map or [name, value] pairs keep any order). */
  claims?: Claims;
  /** A v1 claim set (JSON text or an object) for the daemon to upgrade to v2. */
  legacyClaims?: string | Readonly<Record<string, unknown>>;
}

export interface VerifyOptions {
  audience?: string;
  issuer?: string;
  /** A glob the user id must match, e.g. "Custom:*". */
  userIdPattern?: string;
}

export interface SignedToken {
  /** The compact JWT. */
  token: string;
  kid: string;
  /** The name of the key that signed. */
  key: string;
  /** The "exp" claim, seconds since the epoch. */
  expiresAt: number;
}

export type VerifyReasonName =
  | "malformed" | "unknown_kid" | "bad_signature" | "expired" | "not_yet_valid"
  | "wrong_audience" | "wrong_issuer" | "refused_algorithm" | "wrong_subject" | "v1_refused"
  | `reason_${number}`;

export interface Verification {
  valid: boolean;
  /** When not valid: why. */
  reason: VerifyReasonName | undefined;
  detail: string;
  /** When valid: the payload as the token carries it, and parsed. */
  payload: string;
  claims: Record<string, unknown>;
  key: string;
  kid: string;
  deprecatedV1: boolean;
}

export interface Status {
  version: string;
  /** The keys loaded and able to sign. */
  keys: string[];
  tokensIssued: number;
  /** Configured keys that could not be loaded, each "NAME: why". */
  unavailableKeys: string[];
}

export interface Jwks {
  keys: Array<Record<string, unknown>>;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function text(name: string, v: unknown, required = true): string {
  if (v === undefined && !required) return "";
  if (typeof v !== "string") throw new ArgumentError(`${name}: a string is required, not ${describe(v)}`);
  if (required && v === "") throw new ArgumentError(`${name}: must not be empty`);
  if (v.includes("\0")) throw new ArgumentError(`${name}: must not contain U+0000`);
  if (LONE_SURROGATE.test(v)) throw new ArgumentError(`${name}: not valid Unicode (a lone surrogate)`);
  return v;
}

function describe(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "an array" : typeof v;
}

function integer(name: string, v: unknown, lo: bigint, hi: bigint): bigint {
  let b: bigint;
  if (typeof v === "bigint") b = v;
  else if (typeof v === "number" && Number.isSafeInteger(v)) b = BigInt(v);
  else if (typeof v === "number")
    throw new ArgumentError(`${name}: ${v} is not an integer a number holds exactly`);
  else throw new ArgumentError(`${name}: an integer is required, not ${describe(v)}`);
  if (b < lo || b > hi) throw new ArgumentError(`${name}: ${b} is out of range (${lo}..${hi})`);
  return b;
}

function claim(name: unknown, value: unknown): ExtraClaim {
  const n = text("claims: a name", name);
  const what = `claims[${JSON.stringify(n)}]`;
  const c = create(ExtraClaimSchema, { name: n });
  if (typeof value === "boolean") c.value = { case: "booleanValue", value };
  else if (typeof value === "number" || typeof value === "bigint")
    // The daemon's own range is +-(2^53 - 1) (rule claim-integer-range); the wire holds int64.
    c.value = { case: "integerValue", value: integer(what, value, INT64_MIN, INT64_MAX) };
  else if (typeof value === "string") c.value = { case: "stringValue", value: text(what, value, false) };
  else if (Array.isArray(value))
    c.value = {
      case: "stringListValue",
      value: create(StringListSchema, { values: value.map((s, i) => text(`${what}[${i}]`, s, false)) }),
    };
  else throw new ArgumentError(`${what}: a string, integer, boolean or array of strings is required, not ${describe(value)}`);
  return c;
}

function claimEntries(claims: unknown): Iterable<readonly [unknown, unknown]> {
  if (claims instanceof Map) return claims.entries();
  if (Array.isArray(claims)) {
    for (const p of claims)
      if (!Array.isArray(p) || p.length !== 2) throw new ArgumentError("claims: pairs of [name, value] are required");
    return claims as Array<[unknown, unknown]>;
  }
  if (typeof claims === "object" && claims !== null) return Object.entries(claims);
  throw new ArgumentError(`claims: an object, a Map or [name, value] pairs are required, not ${describe(claims)}`);
}

export function signRequest(o: SignOptions): Request {
  if (typeof o !== "object" || o === null) throw new ArgumentError("sign: an options object is required");
  const sign = create(SignRequestSchema);
  if (o.legacyClaims !== undefined) {
    if (o.audience !== undefined || o.userId !== undefined || o.accessToken !== undefined || o.claims !== undefined)
      throw new ArgumentError("legacyClaims carries audience, user id, credentials and claims: give none of them with it");
    const json = typeof o.legacyClaims === "string" ? o.legacyClaims : JSON.stringify(o.legacyClaims);
    sign.legacyClaimsJson = text("legacyClaims", json);
  } else {
    sign.audience = text("audience", o.audience);
    sign.userId = text("userId", o.userId);
  }
  if (o.lifetimeSeconds !== undefined && o.expiresAt !== undefined)
    throw new ArgumentError("lifetimeSeconds and expiresAt exclude each other: give one");
  if (o.lifetimeSeconds !== undefined)
    sign.expiry = { case: "lifetimeSeconds", value: integer("lifetimeSeconds", o.lifetimeSeconds, 1n, UINT64_MAX) };
  if (o.expiresAt !== undefined) {
    let at: unknown = o.expiresAt;
    if (at instanceof Date) {
      if (Number.isNaN(at.getTime())) throw new ArgumentError("expiresAt: an invalid Date");
      at = Math.floor(at.getTime() / 1000);
    }
    sign.expiry = { case: "expiresAt", value: integer("expiresAt", at, 1n, INT64_MAX) };
  }
  if (o.accessToken !== undefined)
    sign.credentials = create(CredentialsSchema, { accessToken: text("accessToken", o.accessToken, false) });
  if (o.key !== undefined) sign.key = text("key", o.key);
  if (o.claims !== undefined)
    for (const [n, v] of claimEntries(o.claims)) sign.extraClaims.push(claim(n, v));
  return create(RequestSchema, { body: { case: "sign", value: sign } });
}

export function verifyRequest(token: unknown, o: VerifyOptions = {}): Request {
  if (typeof o !== "object" || o === null) throw new ArgumentError("verify: options must be an object");
  return create(RequestSchema, {
    body: {
      case: "verify",
      value: {
        token: text("token", token),
        audience: text("audience", o.audience, false),
        issuer: text("issuer", o.issuer, false),
        userIdPattern: text("userIdPattern", o.userIdPattern, false),
      },
    },
  });
}

export function keysRequest(): Request {
  return create(RequestSchema, { body: { case: "keys", value: {} } });
}

export function statusRequest(): Request {
  return create(RequestSchema, { body: { case: "status", value: {} } });
}

/** The request with its id, framed; ArgumentError when over the frame limit. */
export function frame(req: Request, id: number): Uint8Array {
  req.id = BigInt(id);
  const data = toBinary(RequestSchema, req);
  if (data.length > MAX_REQUEST_FRAME)
    throw new ArgumentError(`the request is ${data.length} bytes, over the daemon's ${MAX_REQUEST_FRAME}-byte frame limit`);
  const out = Buffer.allocUnsafe(4 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.set(data, 4);
  return out;
}

export function parseResponse(data: Uint8Array): Response {
  try {
    return fromBinary(ResponseSchema, data);
  } catch (e) {
    throw new ProtocolError(`undecodable response: ${(e as Error).message}`);
  }
}

const REASONS: Record<number, VerifyReasonName> = {
  [VerifyReason.MALFORMED]: "malformed", [VerifyReason.UNKNOWN_KID]: "unknown_kid",
  [VerifyReason.BAD_SIGNATURE]: "bad_signature", [VerifyReason.EXPIRED]: "expired",
  [VerifyReason.NOT_YET_VALID]: "not_yet_valid", [VerifyReason.WRONG_AUDIENCE]: "wrong_audience",
  [VerifyReason.WRONG_ISSUER]: "wrong_issuer", [VerifyReason.REFUSED_ALGORITHM]: "refused_algorithm",
  [VerifyReason.WRONG_SUBJECT]: "wrong_subject", [VerifyReason.V1_REFUSED]: "v1_refused",
};

function parseJson(what: string, s: string): any {
  try {
    return JSON.parse(s);
  } catch {
    throw new ProtocolError(`${what} that is not JSON`);
  }
}

export type Kind = "sign" | "verify" | "keys" | "status";

/** The value a call of `kind` resolves to for resp; throws the error it rejects with. */
export function result(kind: Kind, resp: Response): unknown {
  const b = resp.body;
  if (b.case === "error") throw fromWire(b.value);
  if (b.case !== kind) throw new ProtocolError(`a ${b.case ?? "empty"} response to a ${kind} request`);
  switch (b.case) {
    case "sign":
      if (!b.value.token) throw new ProtocolError("a sign response without a token");
      return { token: b.value.token, kid: b.value.kid, key: b.value.key, expiresAt: Number(b.value.expiresAt) } satisfies SignedToken;
    case "verify": {
      const v = b.value;
      return {
        valid: v.valid,
        reason: v.valid ? undefined : (REASONS[v.reason] ?? `reason_${v.reason}`),
        detail: v.detail,
        payload: v.payloadJson,
        claims: v.valid ? parseJson("a verified payload", v.payloadJson) : {},
        key: v.key,
        kid: v.kid,
        deprecatedV1: v.deprecatedV1,
      } satisfies Verification;
    }
    case "keys":
      return parseJson("a JWKS", b.value.jwks) as Jwks;
    case "status":
      return {
        version: b.value.version, keys: [...b.value.keys], tokensIssued: Number(b.value.tokensIssued),
        unavailableKeys: [...b.value.unavailableKeys],
      } satisfies Status;
  }
}
