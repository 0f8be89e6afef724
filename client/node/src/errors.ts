// SPDX-License-Identifier: MIT
// The errors: HsmjwtError and one subclass per daemon error code, plus the
// failures on this side (arguments, connection, timeout, protocol).
import { ErrorCode, type Error as WireError } from "./gen/hsmjwt_pb.js";

export type HsmjwtErrorCode =
  | "INVALID_REQUEST" | "PERMISSION_DENIED" | "RATE_LIMITED" | "UNAVAILABLE" | "TOO_LARGE"
  | "INTERNAL" | "UNSUPPORTED" | "UNKNOWN"
  | "ARGUMENT" | "CONNECTION" | "TIMEOUT" | "PROTOCOL";

export interface HsmjwtErrorOptions {
  rule?: string;
  retryAfterMs?: number;
  cause?: unknown;
}

/** Any failure of an hsmjwt call. */
export class HsmjwtError extends Error {
  /** A stable name: the daemon's error code, or ARGUMENT, CONNECTION, TIMEOUT, PROTOCOL. */
  readonly code: HsmjwtErrorCode;
  /** With INVALID_REQUEST: the rule the request broke, e.g. "claim-name-reserved". */
  readonly rule: string | undefined;
  /** With RATE_LIMITED: milliseconds after which a retry may succeed (else 0). */
  readonly retryAfterMs: number;

  constructor(code: HsmjwtErrorCode, message: string, options: HsmjwtErrorOptions = {}) {
    super(options.rule ? `${message} [rule ${options.rule}]` : message,
      options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.rule = options.rule || undefined;
    this.retryAfterMs = options.retryAfterMs ?? 0;
  }
}

/** The request breaks a rule (`rule` names it). Do not retry as is. */
export class InvalidRequestError extends HsmjwtError {
  constructor(message: string, o?: HsmjwtErrorOptions) { super("INVALID_REQUEST", message, o); }
}
/** This process may not have this token: no [policy] grants it. */
export class PermissionDeniedError extends HsmjwtError {
  constructor(message: string, o?: HsmjwtErrorOptions) { super("PERMISSION_DENIED", message, o); }
}
/** Too many requests: retry after `retryAfterMs`. */
export class RateLimitedError extends HsmjwtError {
  constructor(message: string, o?: HsmjwtErrorOptions) { super("RATE_LIMITED", message, o); }
}
/** The daemon cannot sign right now (token unreachable, audit trail not writable). */
export class UnavailableError extends HsmjwtError {
  constructor(message: string, o?: HsmjwtErrorOptions) { super("UNAVAILABLE", message, o); }
}
/** The request frame exceeds the daemon's limit. */
export class TooLargeError extends HsmjwtError {
  constructor(message: string, o?: HsmjwtErrorOptions) { super("TOO_LARGE", message, o); }
}
/** A bug or unexpected failure inside the daemon. */
export class InternalError extends HsmjwtError {
  constructor(message: string, o?: HsmjwtErrorOptions) { super("INTERNAL", message, o); }
}
/** The daemon does not know this request type (it is older than this client). */
export class UnsupportedError extends HsmjwtError {
  constructor(message: string, o?: HsmjwtErrorOptions) { super("UNSUPPORTED", message, o); }
}
/** A bad argument, refused before anything was sent. */
export class ArgumentError extends HsmjwtError {
  constructor(message: string) { super("ARGUMENT", message); }
}
/** The daemon could not be reached, or the connection closed before the answer. */
export class ConnectionError extends HsmjwtError {
  constructor(message: string, o?: HsmjwtErrorOptions) { super("CONNECTION", message, o); }
}
/** No answer within the client's timeout. */
export class TimeoutError extends HsmjwtError {
  constructor(message: string) { super("TIMEOUT", message); }
}
/** The daemon sent something that is not a valid response. */
export class ProtocolError extends HsmjwtError {
  constructor(message: string) { super("PROTOCOL", message); }
}

type DaemonErrorClass = new (message: string, o?: HsmjwtErrorOptions) => HsmjwtError;
const BY_CODE = new Map<number, DaemonErrorClass>([
  [ErrorCode.INVALID_REQUEST, InvalidRequestError],
  [ErrorCode.PERMISSION_DENIED, PermissionDeniedError],
  [ErrorCode.RATE_LIMITED, RateLimitedError],
  [ErrorCode.UNAVAILABLE, UnavailableError],
  [ErrorCode.TOO_LARGE, TooLargeError],
  [ErrorCode.INTERNAL, InternalError],
  [ErrorCode.UNSUPPORTED, UnsupportedError],
]);

/** The error for a Response's Error; a code newer than this client is "UNKNOWN". */
export function fromWire(e: WireError): HsmjwtError {
  const message = e.message || "refused by the daemon";
  const o = { rule: e.rule, retryAfterMs: e.retryAfterMs };
  const cls = BY_CODE.get(e.code);
  return cls ? new cls(message, o) : new HsmjwtError("UNKNOWN", `${message} (error code ${e.code})`, o);
}
