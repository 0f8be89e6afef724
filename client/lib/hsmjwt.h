/* SPDX-License-Identifier: MIT */
#ifndef HSMJWT_H
#define HSMJWT_H

/*
 * libhsmjwt: ask hsmjwtd, over its Unix socket, for JWTs signed inside a
 * PKCS#11 token. See libhsmjwt(3).
 *
 * Conventions: functions return 0 (or a positive count) on success and a
 * negative number on failure: -errno for local failures (-ECONNREFUSED,
 * -ENOENT, -ENOMEM, ...), or one of the HSMJWT_E_* codes below when the
 * daemon refused the request. hsmjwt_strerror() turns either into text, and
 * hsmjwt_client_error_message() returns the daemon's own explanation.
 * Objects are opaque; *_free() accepts NULL and returns NULL. Memory that held
 * tokens or access tokens is wiped before it is freed.
 *
 * A hsmjwt_client is not thread-safe: use one per thread.
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Errors reported by the daemon, far from any errno value. */
#define HSMJWT_E_BASE 10000
#define HSMJWT_E_INVALID_REQUEST (-(HSMJWT_E_BASE + 1))
#define HSMJWT_E_PERMISSION_DENIED (-(HSMJWT_E_BASE + 2))
#define HSMJWT_E_RATE_LIMITED (-(HSMJWT_E_BASE + 3))
#define HSMJWT_E_UNAVAILABLE (-(HSMJWT_E_BASE + 4))
#define HSMJWT_E_TOO_LARGE (-(HSMJWT_E_BASE + 5))
#define HSMJWT_E_INTERNAL (-(HSMJWT_E_BASE + 6))
#define HSMJWT_E_UNSUPPORTED (-(HSMJWT_E_BASE + 7))
/* The daemon answered with something that is not a valid response. */
#define HSMJWT_E_PROTOCOL (-(HSMJWT_E_BASE + 99))

typedef struct hsmjwt_client hsmjwt_client;
typedef struct hsmjwt_sign_request hsmjwt_sign_request;
typedef struct hsmjwt_token hsmjwt_token;

/* Text for any return value of this library. Never NULL. */
const char *hsmjwt_strerror(int error);

/* The socket used when none is given: $HSMJWT_SOCKET, else the built-in default. */
const char *hsmjwt_default_socket(void);

/* Connects to socket_path, or hsmjwt_default_socket() when NULL. */
int hsmjwt_client_connect(const char *socket_path, hsmjwt_client **ret);
hsmjwt_client *hsmjwt_client_free(hsmjwt_client *c);
/* Milliseconds to wait for a reply before failing with -ETIMEDOUT (default 30000; 0 = forever). */
int hsmjwt_client_set_timeout(hsmjwt_client *c, uint32_t timeout_ms);
/* The daemon's message for the last HSMJWT_E_* failure on c, or NULL. */
const char *hsmjwt_client_error_message(const hsmjwt_client *c);
/* With HSMJWT_E_RATE_LIMITED: when to retry, in milliseconds. */
uint32_t hsmjwt_client_retry_after_ms(const hsmjwt_client *c);
/* The stable name of the rule the last refused request broke, e.g.
 * "claim-name-reserved" (listed in hsmjwt.proto, Error.rule), or NULL. */
const char *hsmjwt_client_error_rule(const hsmjwt_client *c);

int hsmjwt_sign_request_new(hsmjwt_sign_request **ret);
hsmjwt_sign_request *hsmjwt_sign_request_free(hsmjwt_sign_request *r);
/* Strings are copied. -EINVAL for NULL where a value is required. */
int hsmjwt_sign_request_set_audience(hsmjwt_sign_request *r, const char *audience);
int hsmjwt_sign_request_set_user_id(hsmjwt_sign_request *r, const char *user_id);
/* Lifetime and absolute expiry exclude each other: the last one set wins. */
int hsmjwt_sign_request_set_lifetime(hsmjwt_sign_request *r, uint64_t seconds);
int hsmjwt_sign_request_set_expires_at(hsmjwt_sign_request *r, int64_t unix_time);
/* Adds the urn:microsoft:credentials claim; NULL removes it. */
int hsmjwt_sign_request_set_access_token(hsmjwt_sign_request *r, const char *access_token);
/* Names the configured key to sign with; NULL: the daemon's default key. */
int hsmjwt_sign_request_set_key(hsmjwt_sign_request *r, const char *key_name);

/*
 * Extra claims, written after the fixed members in the order added. Names and
 * values are copied; the daemon checks them (reserved or repeated names,
 * integers within +-(2^53 - 1), size limits: see hsmjwt.proto, ExtraClaim).
 */
int hsmjwt_sign_request_add_claim_string(hsmjwt_sign_request *r, const char *name,
					 const char *value);
int hsmjwt_sign_request_add_claim_integer(hsmjwt_sign_request *r, const char *name, int64_t value);
int hsmjwt_sign_request_add_claim_boolean(hsmjwt_sign_request *r, const char *name, int value);
int hsmjwt_sign_request_add_claim_string_list(hsmjwt_sign_request *r, const char *name,
					      const char *const *values, size_t n_values);

/*
 * A claim set as an old (v1) issuer script built it, as JSON text, for the
 * daemon to upgrade to v2 instead of the audience, user id, access token and
 * extra claims set above (it refuses a request that has both). NULL removes it.
 */
int hsmjwt_sign_request_set_legacy_claims(hsmjwt_sign_request *r, const char *json);

/* Sends the request and waits for the token. */
int hsmjwt_sign(hsmjwt_client *c, const hsmjwt_sign_request *r, hsmjwt_token **ret);

/*
 * Fetches the daemon's public key set (RFC 7517 JWKS, UTF-8 JSON) into a new
 * string the caller frees with free().
 */
int hsmjwt_get_jwks(hsmjwt_client *c, char **ret_jwks);

/* Why the daemon found a token invalid: the protocol's VerifyReason numbers. */
enum {
	HSMJWT_VERIFY_VALID = 0,
	HSMJWT_VERIFY_MALFORMED = 1,
	HSMJWT_VERIFY_UNKNOWN_KID = 2,
	HSMJWT_VERIFY_BAD_SIGNATURE = 3,
	HSMJWT_VERIFY_EXPIRED = 4,
	HSMJWT_VERIFY_NOT_YET_VALID = 5,
	HSMJWT_VERIFY_WRONG_AUDIENCE = 6,
	HSMJWT_VERIFY_WRONG_ISSUER = 7,
	HSMJWT_VERIFY_REFUSED_ALGORITHM = 8,
	HSMJWT_VERIFY_WRONG_SUBJECT = 9,
	HSMJWT_VERIFY_V1_REFUSED = 10,
};

typedef struct hsmjwt_verification hsmjwt_verification;

/*
 * Asks the daemon whether token is genuine; the secret never leaves the
 * token. audience, issuer and user_id_pattern (a glob) are expectations;
 * NULL skips one. Returns 0 when the daemon answered, valid or not: see
 * hsmjwt_verification_get_reason(). A negative value means no answer.
 */
int hsmjwt_verify(hsmjwt_client *c, const char *token, const char *audience, const char *issuer,
		  const char *user_id_pattern, hsmjwt_verification **ret);

/* Key names hsmjwt_verify_keys() takes at most (the daemon's limit too). */
#define HSMJWT_VERIFY_KEYS_MAX 16
/*
 * hsmjwt_verify(), valid only if a key named in keys[0..n_keys) verifies it
 * (n_keys 0: any key, as hsmjwt_verify()). Name the key you expect: keys of
 * one verify set share a kid, and otherwise a token of another key of the
 * set verifies too. A name the daemon does not know fails with
 * HSMJWT_E_INVALID_REQUEST (hsmjwt_client_error_rule(): "key-unknown").
 * hsmjwt_verification_get_key() says which key verified.
 */
int hsmjwt_verify_keys(hsmjwt_client *c, const char *token, const char *audience,
		       const char *issuer, const char *user_id_pattern, const char *const *keys,
		       size_t n_keys, hsmjwt_verification **ret);
/* HSMJWT_VERIFY_VALID (0) or the reason the token is invalid. */
int hsmjwt_verification_get_reason(const hsmjwt_verification *v);
/* The daemon's one-line explanation ("" when valid). */
const char *hsmjwt_verification_get_detail(const hsmjwt_verification *v);
/* When valid: the payload JSON as the token carries it, the key name and kid. */
const char *hsmjwt_verification_get_payload(const hsmjwt_verification *v);
const char *hsmjwt_verification_get_key(const hsmjwt_verification *v);
const char *hsmjwt_verification_get_kid(const hsmjwt_verification *v);
/* 1 for a Mobile Services v1 token accepted for now (the daemon recorded it). */
int hsmjwt_verification_is_deprecated_v1(const hsmjwt_verification *v);
hsmjwt_verification *hsmjwt_verification_free(hsmjwt_verification *v);

/*
 * Pipelining: many sign requests on one connection without waiting for each.
 *
 * hsmjwt_sign_submit() sends a request and returns its id at once. Every
 * submitted request gets exactly one outcome, collected later either by id
 * (hsmjwt_sign_collect) or in the order responses arrive
 * (hsmjwt_sign_collect_next); the daemon may answer in any order. Responses
 * that arrive while the caller waits for another one are kept until collected.
 *
 * Back-pressure: at most max_in_flight requests (default
 * HSMJWT_DEFAULT_MAX_IN_FLIGHT) may be submitted and not yet collected. Past
 * that, hsmjwt_sign_submit() sends nothing and returns -EAGAIN: collect
 * first. It never blocks on this bound, so one thread can drive the
 * connection without deadlock.
 *
 * hsmjwt_sign() keeps working on the same client: it waits for its own
 * response and keeps the others for collection. It does not count against
 * max_in_flight.
 *
 * When the connection closes (the daemon restarted or exited idle), every
 * request still in flight gets that error from collect, and the next
 * hsmjwt_sign_submit() connects again; a request the closed connection
 * refused outright is sent once more on the new one, as hsmjwt_sign() does.
 *
 * Results of the collect calls: 0 and *ret holds the token; HSMJWT_E_* when
 * the daemon refused that request (hsmjwt_client_error_message() says why);
 * -errno when the connection failed (every request still in flight then gets
 * that error in turn, so none is lost). *ret_id, when not NULL, is always set:
 * to the id the result belongs to, or to 0 when the failure concerns the call
 * itself: -EINVAL (bad argument or flag), -ENOENT (that id, or any id, is not
 * in flight), -EAGAIN (HSMJWT_COLLECT_NONBLOCK and nothing has arrived yet),
 * -ETIMEDOUT (the client timeout passed; the requests stay in flight).
 */
#define HSMJWT_DEFAULT_MAX_IN_FLIGHT 32u
#define HSMJWT_MAX_IN_FLIGHT_LIMIT 4096u
/* Collect flag: return -EAGAIN at once instead of waiting for the daemon. */
#define HSMJWT_COLLECT_NONBLOCK (UINT64_C(1) << 0)

/* 1..HSMJWT_MAX_IN_FLIGHT_LIMIT, else -ERANGE. Lowering it below the current count is allowed. */
int hsmjwt_client_set_max_in_flight(hsmjwt_client *c, uint32_t max);
/* Requests submitted and not yet collected. */
uint32_t hsmjwt_client_get_in_flight(const hsmjwt_client *c);
/*
 * The connection's file descriptor, to wait for POLLIN in an event loop and
 * then call hsmjwt_sign_collect_next() with HSMJWT_COLLECT_NONBLOCK until it
 * returns -EAGAIN. Do not read, write or close it. -ENOTCONN while there is no
 * connection (it may change after a reconnection).
 */
int hsmjwt_client_get_fd(const hsmjwt_client *c);

/* Sends r; *ret_id identifies its outcome. -EAGAIN: max_in_flight reached, nothing sent. */
int hsmjwt_sign_submit(hsmjwt_client *c, const hsmjwt_sign_request *r, uint64_t *ret_id);
/* The outcome of request id; flags: 0 or HSMJWT_COLLECT_NONBLOCK. */
int hsmjwt_sign_collect(hsmjwt_client *c, uint64_t id, uint64_t flags, hsmjwt_token **ret);
/* The outcome of whichever request is answered first. */
int hsmjwt_sign_collect_next(hsmjwt_client *c, uint64_t flags, uint64_t *ret_id,
			     hsmjwt_token **ret);

const char *hsmjwt_token_get_string(const hsmjwt_token *t);
const char *hsmjwt_token_get_kid(const hsmjwt_token *t);
const char *hsmjwt_token_get_key(const hsmjwt_token *t);
int64_t hsmjwt_token_get_expires_at(const hsmjwt_token *t);
hsmjwt_token *hsmjwt_token_free(hsmjwt_token *t);

#ifdef __cplusplus
}
#endif

#endif
