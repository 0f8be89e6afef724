// SPDX-License-Identifier: MIT
// hsmjwt: a client for hsmjwtd, which signs JWTs with keys kept in a PKCS#11
// token. It speaks the daemon's wire protocol (proto/hsmjwt.proto) itself.
export { Client, defaultSocket, DEFAULT_MAX_IN_FLIGHT, DEFAULT_TIMEOUT_MS, MAX_IN_FLIGHT_LIMIT } from "./client.js";
export type { ClientOptions } from "./client.js";
export {
  ArgumentError, ConnectionError, HsmjwtError, InternalError, InvalidRequestError, PermissionDeniedError,
  ProtocolError, RateLimitedError, TimeoutError, TooLargeError, UnavailableError, UnsupportedError,
} from "./errors.js";
export type { HsmjwtErrorCode } from "./errors.js";
export { DEFAULT_SOCKET } from "./wire.js";
export type {
  ClaimValue, Claims, Jwks, SignedToken, SignOptions, Status, Verification, VerifyOptions, VerifyReasonName,
} from "./wire.js";
