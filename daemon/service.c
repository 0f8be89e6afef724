/* SPDX-License-Identifier: MIT */
#include "service.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit-keys.h"
#include "audit.h"
#include "authorize.h"
#include "base64url.h"
#include "claims-extra.h"
#include "claims-std.h"
#include "cleanup.h"
#include "jansson-wipe.h"
#include "json.h"
#include "legacy.h"
#include "log.h"

/*
 * The configuration and keys in force, shared with the work in flight: a
 * reload swaps in a new generation, and the old one (its session copies of
 * keys included) goes once the last job that uses it has finished.
 */
struct Generation {
	unsigned refs;
	Token *token;
	Config *config;
	Keyring *keyring;
};

struct Service {
	Generation *gen;
	Config *config;	  /* gen->config */
	Token *token;
	Keyring *keyring; /* gen->keyring */
	uint64_t tokens_issued;
	uint64_t sign_failures;	  /* the token refused or failed to sign */
	int last_sign_error;	  /* -errno of the latest failure, 0 once signing works again */
	Buf payload; /* scratch, reused by every request */
	/*
	 * The token failed as a device (removed, session lost, the p11-kit
	 * server gone, no answer in time): requests fail fast until
	 * service_reopen_token() succeeds. A refused PIN stops the retries.
	 */
	bool token_down;
	bool pin_refused;
	RateLimiter *ratelimit;
	Audit *audit;
};

static Generation *generation_new(Token *t, Config *c, Keyring *k)
{
	Generation *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	*g = (Generation){ .refs = 1, .token = t, .config = c, .keyring = k };
	return g;
}

static Generation *generation_ref(Generation *g)
{
	g->refs++;
	return g;
}

/* Loop thread only: jobs take and drop their reference there. */
static void generation_unref(Generation *g)
{
	if (!g || --g->refs > 0)
		return;
	keyring_release_objects(g->token, g->keyring);
	keyring_free(g->keyring);
	config_free(g->config); /* NULL when it moved on with a reopened token */
	free(g);
}

static void log_keys(const Keyring *k)
{
	for (size_t i = 0; i < k->n_keys; i++) {
		const LoadedKey *lk = &k->keys[i];
		log_info("Key %s: %s, kid \"%s\", profile %s, %s", lk->config->name, lk->alg->name,
			 lk->kid, profile_to_string(lk->config->profile),
			 key_state_to_string(lk->config->state));
	}
}

int service_new(Config *config, Service **ret)
{
	Service *s;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s) {
		config_free(config);
		return -ENOMEM;
	}
	s->config = config;
	jansson_use_wiping_allocator(); /* before verify or a claim set parses anything */
	s->ratelimit = ratelimit_new(RATELIMIT_MAX_BUCKETS);
	if (!s->ratelimit) {
		r = -ENOMEM;
		goto fail;
	}
	r = audit_new(&config->audit, &s->audit);
	if (r < 0)
		goto fail;
	if (config->n_policies == 0)
		log_warning("%s has no [policy NAME] section: every request will be denied",
			    config->path);
	r = token_open(config->module, config->token_uri, false, &s->token);
	if (r < 0)
		goto fail;
	r = token_login(s->token, config->pin_file);
	if (r < 0)
		goto fail;
	r = keyring_load(s->token, config, KEYRING_SIGN, &s->keyring);
	if (r < 0)
		goto fail;
	s->gen = generation_new(s->token, s->config, s->keyring);
	if (!s->gen) {
		r = -ENOMEM;
		goto fail;
	}
	log_keys(s->keyring);
	log_info("Token %s: %zu key(s) loaded", token_describe(s->token), s->keyring->n_keys);
	*ret = s;
	return 0;
fail:
	service_free(s);
	return r;
}

static bool same_string(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int service_reload(Service *s, Config *config)
{
	_cleanup_(config_freep) Config *c = config;
	Generation *g;
	Keyring *k = NULL;
	char detail[64];
	int r;

	if (s->token_down) {
		/* A fixed PIN file is the usual reason to reload now: try the token again. */
		s->pin_refused = false;
		(void)audit_reload(s->audit, "refused: the token is down; retrying it");
		return log_error_errno(ENODEV, "Reload postponed: the token is down; the daemon tries "
					       "to reopen it, reload again once it is back");
	}

	/* The token session and login stay; changing them needs a restart. */
	if (!same_string(c->module, s->config->module) ||
	    !same_string(c->token_uri, s->config->token_uri) ||
	    !same_string(c->pin_file, s->config->pin_file))
		log_warning("Reload: [token] settings changed; they take effect at the next restart");
	if (!same_string(c->socket_path, s->config->socket_path))
		log_warning("Reload: [server] socket changed; it takes effect at the next restart");
	if (!same_string(c->audit.file, s->config->audit.file) ||
	    c->audit.journal != s->config->audit.journal || c->audit.sync != s->config->audit.sync)
		log_warning("Reload: [audit] settings changed; they take effect at the next restart");
	r = keyring_load(s->token, c, KEYRING_SIGN, &k);
	if (r < 0) {
		(void)audit_reload(s->audit, "refused: the keys could not be loaded");
		return log_error_errno(r, "Reload refused, the previous keys stay in force: %m");
	}
	g = generation_new(s->token, c, k);
	if (!g) {
		keyring_release_objects(s->token, k);
		keyring_free(k);
		return log_error_errno(ENOMEM, "Reload refused: out of memory");
	}
	TAKE_PTR(c);
	audit_keyring_changes(s->audit, s->keyring, k);
	/* Jobs still signing with the old keys keep them until they finish. */
	generation_unref(s->gen);
	s->gen = g;
	s->keyring = g->keyring;
	s->config = g->config;
	log_keys(s->keyring);
	log_info("Reloaded: %zu key(s)", s->keyring->n_keys);
	snprintf(detail, sizeof(detail), "%zu key(s), %zu polic%s", s->keyring->n_keys,
		 s->config->n_policies, s->config->n_policies == 1 ? "y" : "ies");
	(void)audit_reload(s->audit, detail);
	return 0;
}

Service *service_free(Service *s)
{
	if (!s)
		return NULL;
	if (s->gen) {
		if (!s->token)
			keyring_forget_objects(s->keyring);
		generation_unref(s->gen);
	} else {
		if (s->token)
			keyring_release_objects(s->token, s->keyring);
		keyring_free(s->keyring);
		config_free(s->config);
	}
	buf_done(&s->payload);
	ratelimit_free(s->ratelimit);
	token_close(s->token);
	audit_free(s->audit);
	free(s);
	return NULL;
}

const Config *service_config(const Service *s)
{
	return s->config;
}

const Keyring *service_keyring(const Service *s)
{
	return s->keyring;
}

Audit *service_audit(Service *s)
{
	return s->audit;
}

uint64_t service_tokens_issued(const Service *s)
{
	return s->tokens_issued;
}

void service_describe(const Service *s, unsigned connections, char *buf, size_t size)
{
	size_t signing = 0;

	for (size_t i = 0; i < s->keyring->n_keys; i++)
		signing += s->keyring->keys[i].can_sign;
	snprintf(buf, size, "%zu key(s), %zu active; %" PRIu64 " token(s) issued; token %s%s%s; "
		 "%u connection(s)%s%s",
		 s->keyring->n_keys, signing, s->tokens_issued,
		 s->pin_refused ? "PIN refused: " : s->token_down ? "down, reconnecting: " :
		 s->last_sign_error ? "failing: " : "OK",
		 s->last_sign_error ? strerror(-s->last_sign_error) : "",
		 s->sign_failures && !s->last_sign_error ? " (recovered)" : "", connections,
		 audit_error(s->audit) ? "; AUDIT TRAIL FAILING, refusing to sign: " : "",
		 audit_error(s->audit) ? audit_strerror(audit_error(s->audit)) : "");
}

static int refuse(Failure *f, ServiceError code, const char *fmt, ...) _printf_(3, 4);
static int refuse(Failure *f, ServiceError code, const char *fmt, ...)
{
	va_list ap;

	f->code = code;
	va_start(ap, fmt);
	vsnprintf(f->message, sizeof(f->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int pick_key(Service *s, const char *name, const LoadedKey **ret, Failure *f)
{
	const LoadedKey *key;

	if (!name || !*name) {
		key = keyring_default(s->keyring);
		if (!key)
			return refuse(f, SERVICE_UNAVAILABLE, "no key is active");
	} else {
		key = keyring_find(s->keyring, name);
		if (!key)
			return failure_refuse(f, "key-unknown", "no key named '%.64s'", name);
		if (!key->can_sign)
			return failure_refuse(f, "key-not-active", "key %s is %s, not active", name,
					      key_state_to_string(key->config->state));
	}
	*ret = key;
	return 0;
}

/* rule: the field's rule prefix, e.g. "user-id" for user-id-required. */
static int check_string(Failure *f, const char *what, const char *rule, Span v, size_t max,
			bool required)
{
	char name[32];

	if (required && v.n == 0) {
		snprintf(name, sizeof(name), "%s-required", rule);
		return failure_refuse(f, name, "%s is required", what);
	}
	if (v.n > max) {
		snprintf(name, sizeof(name), "%s-too-long", rule);
		return failure_refuse(f, name, "%s is %zu bytes; the limit is %zu", what, v.n, max);
	}
	if (utf8_validate(v.p, v.n) < 0) {
		snprintf(name, sizeof(name), "%s-utf8", rule);
		return failure_refuse(f, name, "%s is not valid UTF-8", what);
	}
	return 0;
}

/* The lifetime the request names, 0 for none; the key's limit applies to every peer. */
static int requested_lifetime(const KeyConfig *kc, const SignInput *in, time_t now, Failure *f,
			      uint64_t *ret)
{
	uint64_t lifetime = 0;

	if (in->lifetime && in->expires_at)
		return failure_refuse(f, "expiry-conflict", "give lifetime or expires-at, not both");
	if (in->expires_at) {
		if (in->expires_at <= (int64_t)now)
			return failure_refuse(f, "expiry-past",
					      "expires-at %" PRId64 " is not in the future",
					      in->expires_at);
		lifetime = (uint64_t)(in->expires_at - (int64_t)now);
	} else if (in->lifetime) {
		lifetime = in->lifetime;
	}
	if (lifetime > kc->max_lifetime)
		return failure_refuse(f, "expiry-too-long",
				      "lifetime %" PRIu64 " s exceeds key %s's max-lifetime of %" PRIu64
				      " s", lifetime, kc->name, kc->max_lifetime);
	*ret = lifetime;
	return 0;
}

static int validate(Service *s, SignInput *in, time_t now, const LoadedKey **ret_key,
		    Legacy **ret_legacy, uint64_t *ret_lifetime, Failure *f)
{
	const LoadedKey *key = NULL;
	int r;

	r = pick_key(s, in->key_name, &key, f);
	if (r < 0)
		return r;
	if (in->legacy_json.p) {
		if (key->config->profile != PROFILE_ZUMO_V2)
			return failure_refuse(f, "legacy-profile",
					      "a v1 claim set upgrades to zumo-v2; key %s is %s",
					      key->config->name,
					      profile_to_string(key->config->profile));
		r = legacy_upgrade(&s->config->claims, key->config, in, now, ret_legacy, f);
		if (r < 0)
			return r;
	}
	if (in->claims.access_token.p && key->config->profile != PROFILE_ZUMO_V2)
		return failure_refuse(f, "credentials-profile",
				      "credentials belong to the zumo-v2 profile; key %s is %s",
				      key->config->name, profile_to_string(key->config->profile));
	r = check_string(f, "audience", "audience", in->claims.audience, CLAIM_AUDIENCE_MAX, true);
	if (r >= 0)
		r = check_string(f, "user id", "user-id", in->claims.user_id, CLAIM_USER_ID_MAX,
				 true);
	if (r >= 0 && in->claims.access_token.p)
		r = check_string(f, "access token", "access-token", in->claims.access_token,
				 CLAIM_ACCESS_TOKEN_MAX, false);
	if (r >= 0)
		r = claims_check_extras(&s->config->claims, in->claims.extras, in->claims.n_extras,
					f);
	if (r >= 0)
		r = requested_lifetime(key->config, in, now, f, ret_lifetime);
	if (r < 0)
		return r;
	*ret_key = key;
	return 0;
}

/* Policy and rate decide before anything is built or signed. */
static int decide(Service *s, const Peer *peer, SignInput *in, const LoadedKey *key, bool legacy,
		  uint64_t lifetime, time_t now, const Policy **ret_policy, Failure *f)
{
	PolicyRequest rq = {
		.key = key->config->name,
		.audience = in->claims.audience,
		.user_id = in->claims.user_id,
		.lifetime = lifetime,
		.credentials = in->claims.access_token.p != NULL,
		.legacy_claims = legacy,
		.n_extra_claims = in->claims.n_extras,
	};
	_cleanup_free_ const char **names = calloc(in->claims.n_extras + 1, sizeof(char *));
	struct timespec ts;
	const Policy *p = NULL;
	int r;

	if (!names)
		return refuse(f, SERVICE_INTERNAL, "out of memory");
	/* Names are NUL-terminated: protobuf-c's strings and jansson's keys, NUL refused in both. */
	for (size_t i = 0; i < in->claims.n_extras; i++)
		names[i] = in->claims.extras[i].name.p;
	rq.extra_claims = names;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	r = authorize(s->config, s->ratelimit, peer, &rq,
		      (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec, &p, f);
	if (r < 0)
		return r;
	if (!lifetime)
		lifetime = policy_default_lifetime(p, key->config->default_lifetime);
	in->claims.exp = in->expires_at ? in->expires_at : (int64_t)now + (int64_t)lifetime;
	if (key->config->not_after && in->claims.exp > key->config->not_after)
		return failure_refuse(f, "expiry-not-after",
				      "expiry %" PRId64 " is after key %s's not-after %" PRId64,
				      in->claims.exp, key->config->name, key->config->not_after);
	*ret_policy = p;
	return 0;
}

/* jti: room for the jti the claims point to, until the payload is built. */
static int build_payload(Service *s, const LoadedKey *key, SignInput *in, time_t now,
			 char jti[static JTI_CHARS + 1])
{
	bool zumo = key->config->profile == PROFILE_ZUMO_V2;
	int r;

	/* The standard profile always dates and names its tokens; zumo-v2 only on request. */
	r = claims_add_standard(&in->claims, zumo ? key->config->add_claims
						  : ADD_CLAIM_IAT | ADD_CLAIM_JTI, now, jti);
	if (r < 0)
		return r;
	buf_reset(&s->payload);
	if (zumo)
		return claims_zumo_payload(&s->payload, key->config->issuer, &in->claims);
	return claims_standard_payload(&s->payload, key->config->issuer, &in->claims);
}

static const struct {
	AuditEvent event;
	const char *name;
} refusals[] = {
	[SERVICE_OK] = { AUDIT_FAILED, "internal" },
	[SERVICE_INVALID_REQUEST] = { AUDIT_INVALID, "invalid-request" },
	[SERVICE_PERMISSION_DENIED] = { AUDIT_DENIED, "permission-denied" },
	[SERVICE_UNAVAILABLE] = { AUDIT_FAILED, "unavailable" },
	[SERVICE_INTERNAL] = { AUDIT_FAILED, "internal" },
	[SERVICE_RATE_LIMITED] = { AUDIT_RATE_LIMITED, "rate-limited" },
};

static ServiceError refusal_code(const Failure *f)
{
	return (size_t)f->code < ELEMENTSOF(refusals) ? f->code : SERVICE_INTERNAL;
}

static AuditRecord decision(const Peer *peer, const SignInput *in, const LoadedKey *key)
{
	return (AuditRecord){
		.peer = peer,
		.request_id = in->request_id,
		.key = key ? key->config->name : in->key_name && *in->key_name ? in->key_name : NULL,
		.kid = key ? key->kid : NULL,
		.alg = key ? key->alg->name : NULL,
		.audience = in->claims.audience,
		.subject = in->claims.user_id,
		.expires_at = in->claims.exp,
		.jti = in->claims.jti,
	};
}

/* Fail closed: a decision that cannot be recorded becomes "unavailable", with nothing issued. */
static void audit_failed(Failure *fail, int r)
{
	*fail = (Failure){};
	refuse(fail, SERVICE_UNAVAILABLE, "audit trail not writable (%s); nothing issued",
	       audit_strerror(r));
}

static void record_failure(AuditRecord *rec, const Failure *fail)
{
	rec->error = refusals[refusal_code(fail)].name;
	rec->rule = fail->rule[0] ? fail->rule : NULL;
	rec->message = fail->message;
}

static void record_refusal(Service *s, const Peer *peer, const SignInput *in,
			   const LoadedKey *key, Failure *fail)
{
	AuditRecord rec = decision(peer, in, key);
	int r;

	rec.event = refusals[refusal_code(fail)].event;
	record_failure(&rec, fail);
	r = audit_record(s->audit, &rec);
	if (r < 0)
		audit_failed(fail, r);
}

void service_refuse(Service *s, const Peer *peer, const SignInput *in, const char *rule,
		    const char *message, Failure *fail)
{
	*fail = (Failure){};
	failure_refuse(fail, rule, "%s", message);
	record_refusal(s, peer, in, NULL, fail);
}

Token *service_token(Service *s)
{
	return s->token;
}

void service_token_failed(Service *s, int error)
{
	if (!s->token_down)
		log_error("Token failed (%s): refusing requests until it is reopened",
			  strerror(-error));
	s->token_down = true;
	s->last_sign_error = error;
}

bool service_token_down(const Service *s)
{
	return s->token_down;
}

bool service_token_recoverable(const Service *s)
{
	return s->token_down && !s->pin_refused;
}

/*
 * Closes the token (C_Finalize: behind p11-kit-client.so that is what makes
 * the module connect again) and opens it anew: login, keys, a new
 * generation with the same configuration. The caller has stopped every
 * thread that used the old token and has no request in flight.
 */
int service_reopen_token(Service *s)
{
	Token *t = NULL;
	Keyring *k = NULL;
	Generation *g;
	int r;

	/* The old handles die with the old token: nothing to destroy, nothing to touch. */
	keyring_forget_objects(s->keyring);
	s->token = token_close(s->token);
	r = token_open(s->config->module, s->config->token_uri, false, &t);
	if (r >= 0)
		r = token_login(t, s->config->pin_file);
	if (r == -EACCES) {
		/* Retrying a wrong PIN could lock the token: stop until the next reload. */
		s->pin_refused = true;
		log_error("The token refused the PIN: not retrying; fix it and reload");
	}
	if (r >= 0)
		r = keyring_load(t, s->config, KEYRING_SIGN, &k);
	if (r >= 0 && !(g = generation_new(t, s->config, k)))
		r = -ENOMEM;
	if (r < 0) {
		if (k) {
			keyring_release_objects(t, k);
			keyring_free(k);
		}
		token_close(t);
		return r;
	}
	/* The configuration moves to the new generation; the old keyring goes. */
	s->gen->config = NULL;
	generation_unref(s->gen);
	s->gen = g;
	s->keyring = k;
	s->token = t;
	s->token_down = false;
	s->last_sign_error = 0;
	log_info("Token %s reopened: %zu key(s) loaded", token_describe(t), k->n_keys);
	(void)audit_reload(s->audit, "token reopened after a failure");
	return 0;
}

void sign_work_done(SignWork *w)
{
	legacy_free(w->legacy);
	w->legacy = NULL;
	buf_done(&w->input);
	generation_unref(w->gen);
	w->gen = NULL;
}

int service_sign_prepare(Service *s, const Peer *peer, SignInput *in, time_t now, SignWork *w,
			 Failure *fail)
{
	const LoadedKey *key = NULL;
	uint64_t lifetime = 0;
	int r;

	*fail = (Failure){};
	*w = (SignWork){};
	if (s->token_down) {
		refuse(fail, SERVICE_UNAVAILABLE, "the token is unavailable; the daemon is reconnecting");
		snprintf(fail->rule, sizeof(fail->rule), "token-unavailable");
		record_refusal(s, peer, in, NULL, fail);
		return -EIO;
	}
	r = validate(s, in, now, &key, &w->legacy, &lifetime, fail);
	if (r >= 0)
		r = decide(s, peer, in, key, w->legacy != NULL, lifetime, now, &w->policy, fail);
	if (r < 0)
		goto refused;
	r = build_payload(s, key, in, now, w->jti);
	if (r < 0) {
		refuse(fail, SERVICE_INTERNAL, "cannot build payload: %s", strerror(-r));
		goto refused;
	}
	if (s->payload.len > s->config->claims.max_payload) {
		failure_refuse(fail, "payload-too-large",
			       "the payload would be %zu bytes; the limit is %" PRIu32,
			       s->payload.len, s->config->claims.max_payload);
		goto refused;
	}
	buf_append(&w->input, key->header_b64.data, key->header_b64.len);
	base64url_append(&w->input, s->payload.data, s->payload.len);
	if (w->input.error) {
		refuse(fail, SERVICE_INTERNAL, "out of memory");
		goto refused;
	}
	w->key = key;
	w->gen = generation_ref(s->gen);
	return 0;
refused:
	record_refusal(s, peer, in, key, fail);
	legacy_free(w->legacy);
	buf_done(&w->input);
	*w = (SignWork){};
	return -EINVAL;
}

void service_sign_run(SignWork *w, Token *t, TokenSession session)
{
	w->result = keyring_sign(t, session, w->key, w->input.data, w->input.len, w->sig,
				 &w->sig_len);
}

int service_sign_finish(Service *s, const Peer *peer, SignInput *in, SignWork *w, Buf *out,
			Signed *ret, Failure *fail)
{
	AuditRecord rec;
	int r;

	*fail = (Failure){};
	s->last_sign_error = w->result < 0 ? w->result : 0;
	if (w->result < 0) {
		s->sign_failures++;
		refuse(fail, SERVICE_UNAVAILABLE, "the token failed to sign (%s)",
		       strerror(-w->result));
		goto refused;
	}
	buf_reset(out);
	buf_append(out, w->input.data, w->input.len);
	buf_append_char(out, '.');
	base64url_append(out, w->sig, w->sig_len);
	if (!buf_cstr(out)) {
		refuse(fail, SERVICE_INTERNAL, "out of memory");
		goto refused;
	}
	*ret = (Signed){
		.token = out->data,
		.token_len = out->len,
		.kid = w->key->kid,
		.key_name = w->key->config->name,
		.expires_at = in->claims.exp,
		.policy = w->policy->name,
	};
	/*
	 * Fail closed: no record, no token. A v1 claim set upgraded is its own kind of
	 * decision: operators find the clients that still send them by its event.
	 */
	rec = decision(peer, in, w->key);
	rec.event = w->legacy ? AUDIT_LEGACY_UPGRADE : AUDIT_ISSUED;
	rec.detail = w->legacy ? legacy_changes(w->legacy) : NULL;
	rec.policy = w->policy->name;
	rec.token = out->data;
	rec.token_len = out->len;
	r = audit_record(s->audit, &rec);
	if (r < 0) {
		buf_reset(out);
		audit_failed(fail, r);
		return -EIO;
	}
	s->tokens_issued++;
	return 0;
refused:
	buf_reset(out);
	record_refusal(s, peer, in, w->key, fail);
	return -EINVAL;
}

void service_sign_abandon(Service *s, const Peer *peer, SignInput *in, SignWork *w,
			  const char *rule, const char *message)
{
	Failure fail = { .code = SERVICE_UNAVAILABLE };

	snprintf(fail.rule, sizeof(fail.rule), "%s", rule);
	snprintf(fail.message, sizeof(fail.message), "%s", message);
	record_refusal(s, peer, in, w->key, &fail);
}

/* Verify decisions; a valid v1 token also gets a "deprecation" record operators can watch. */
static int record_verify(Service *s, const Peer *peer, uint64_t request_id, const char *token,
			 size_t n, const VerifyResult *res)
{
	AuditRecord rec = {
		.event = res->reason ? AUDIT_VERIFY_INVALID : AUDIT_VERIFY_VALID,
		.peer = peer,
		.request_id = request_id,
		.key = res->key ? res->key->config->name : NULL,
		.kid = res->key ? res->key->kid : NULL,
		.alg = res->key ? res->key->alg->name : NULL,
		.subject = res->key ? (Span){ res->subject, strlen(res->subject) } : (Span){},
		.token = token,
		.token_len = n,
		.error = res->reason ? verify_reason_to_string(res->reason) : NULL,
		.message = res->reason ? res->detail : NULL,
	};
	AuditVerify which = s->config->audit.verify;
	int r = 0;

	/* A deprecation is always recorded: it is how v1 clients are found. */
	if (which == AUDIT_VERIFY_ALL || (which == AUDIT_VERIFY_FAILURES && res->reason))
		r = audit_record(s->audit, &rec);
	if (r < 0 || !res->deprecated_v1 || res->reason)
		return r;
	rec.event = AUDIT_DEPRECATION;
	rec.detail = "v1 token verified";
	return audit_record(s->audit, &rec);
}

/* Refused by policy or rate, or the token device failed: nothing was decided about the token. */
static void record_verify_failure(Service *s, const Peer *peer, uint64_t request_id,
				  const char *token, size_t n, Failure *fail)
{
	AuditRecord rec = { .event = AUDIT_VERIFY_FAILED, .peer = peer,
			    .request_id = request_id, .token = token, .token_len = n };
	int r;

	record_failure(&rec, fail);
	r = audit_record(s->audit, &rec);
	if (r < 0)
		audit_failed(fail, r);
}

int service_verify_prepare(Service *s, const Peer *peer, uint64_t request_id, const char *token,
			   size_t n, const VerifyExpect *expect, time_t now, VerifyWork *w,
			   Failure *fail)
{
	const Policy *policy = NULL;
	struct timespec ts;
	int r;

	*fail = (Failure){};
	*w = (VerifyWork){ .token = token, .token_len = n, .expect = *expect, .now = now };
	if (s->token_down) {
		refuse(fail, SERVICE_UNAVAILABLE, "the token is unavailable; the daemon is reconnecting");
		snprintf(fail->rule, sizeof(fail->rule), "token-unavailable");
		record_verify_failure(s, peer, request_id, token, n, fail);
		return -EIO;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	r = authorize_verify(s->config, s->ratelimit, peer,
			     (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec, &policy, fail);
	if (r < 0) {
		record_verify_failure(s, peer, request_id, token, n, fail);
		return r;
	}
	w->gen = generation_ref(s->gen);
	return 0;
}

void service_verify_run(VerifyWork *w, Token *t, TokenSession session)
{
	w->r = verify_token(t, session, w->gen->keyring, w->token, w->token_len, &w->expect, w->now,
			    &w->result);
}

int service_verify_finish(Service *s, const Peer *peer, uint64_t request_id, VerifyWork *w,
			  Failure *fail)
{
	int r;

	*fail = (Failure){};
	if (w->r < 0) {
		refuse(fail, SERVICE_UNAVAILABLE, "the token failed to verify (%s)", strerror(-w->r));
		record_verify_failure(s, peer, request_id, w->token, w->token_len, fail);
		return w->r;
	}
	r = record_verify(s, peer, request_id, w->token, w->token_len, &w->result);
	if (r < 0) {
		audit_failed(fail, r);
		return r;
	}
	return 0;
}

void verify_work_done(VerifyWork *w)
{
	verify_result_done(&w->result);
	generation_unref(w->gen);
	w->gen = NULL;
}
