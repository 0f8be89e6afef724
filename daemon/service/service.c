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

#include "service-internal.h"

static Generation *generation_new(Token *t, Config *c, Keyring *k)
{
	Generation *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	*g = (Generation){ .refs = 1, .token = t, .config = c, .keyring = k };
	return g;
}

Generation *generation_ref(Generation *g)
{
	g->refs++;
	return g;
}

/* Loop thread only: jobs take and drop their reference there. */
void generation_unref(Generation *g)
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
		if (lk->error) {
			log_warning("Key %s: %s, UNAVAILABLE: %s", lk->config->name, lk->alg->name,
				    lk->error);
			continue;
		}
		log_info("Key %s: %s, kid \"%s\", profile %s, %s%s", lk->config->name, lk->alg->name,
			 lk->kid, profile_to_string(lk->config->profile),
			 key_state_to_string(lk->config->state),
			 lk->weak ? ", EXTRACTABLE (allow-extractable = yes)" : "");
	}
	if (k->n_unusable)
		log_warning("%zu of %zu key(s) cannot be used; requests naming them are refused, the "
			    "others work", k->n_unusable, k->n_keys);
}

/* The trail says which keys were loaded weaker than the rules want, or not at all. */
static void audit_key_problems(Audit *a, const Keyring *k)
{
	char detail[KEY_ERROR_MAX + 32];

	for (size_t i = 0; i < k->n_keys; i++) {
		const LoadedKey *lk = &k->keys[i];

		if (lk->error)
			snprintf(detail, sizeof(detail), "unavailable: %s", lk->error);
		else if (lk->weak)
			snprintf(detail, sizeof(detail), "loaded although the token reports it "
				 "extractable or not sensitive (allow-extractable = yes)");
		else
			continue;
		(void)audit_key_change(a, lk->config->name, lk->kid, lk->alg->name, detail);
	}
}

/*
 * A reload must not bring an unusable key (a typo in a new uri, a key not
 * imported yet) nor break a key that works now: it is refused and the old
 * keys stay. A key that was already unusable may stay so, so that it does not
 * block reloads of everything else.
 */
static const LoadedKey *lost_key(const Keyring *old, const Keyring *new)
{
	for (size_t i = 0; i < new->n_keys; i++) {
		const LoadedKey *o = keyring_find(old, new->keys[i].config->name);

		if (new->keys[i].error && (!o || !o->error))
			return &new->keys[i];
	}
	return NULL;
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
	r = token_open(config->module, config->init_args, config->token_uri, false, &s->token);
	if (r < 0)
		goto fail;
	r = token_login(s->token, config->pin_file);
	if (r < 0)
		goto fail;
	r = keyring_load(s->token, config->keys, config->n_keys, KEYRING_SIGN, &s->keyring);
	if (r < 0)
		goto fail;
	s->gen = generation_new(s->token, s->config, s->keyring);
	if (!s->gen) {
		r = -ENOMEM;
		goto fail;
	}
	log_keys(s->keyring);
	audit_key_problems(s->audit, s->keyring);
	log_info("Token %s: %zu key(s) loaded", token_describe(s->token),
		 s->keyring->n_keys - s->keyring->n_unusable);
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
	    !same_string(c->init_args, s->config->init_args) ||
	    !same_string(c->token_uri, s->config->token_uri) ||
	    !same_string(c->pin_file, s->config->pin_file))
		log_warning("Reload: [token] settings changed; they take effect at the next restart");
	if (!same_string(c->socket_path, s->config->socket_path))
		log_warning("Reload: [server] socket changed; it takes effect at the next restart");
	if (!same_string(c->audit.file, s->config->audit.file) ||
	    c->audit.journal != s->config->audit.journal || c->audit.sync != s->config->audit.sync)
		log_warning("Reload: [audit] settings changed; they take effect at the next restart");
	r = keyring_load(s->token, c->keys, c->n_keys, KEYRING_SIGN, &k);
	if (r < 0) {
		(void)audit_reload(s->audit, "refused: the keys could not be loaded");
		return log_error_errno(r, "Reload refused, the previous keys stay in force: %m");
	}
	const LoadedKey *lost = lost_key(s->keyring, k);
	if (lost) {
		snprintf(detail, sizeof(detail), "refused: key %.24s cannot be used", lost->config->name);
		(void)audit_reload(s->audit, detail);
		log_error("Reload refused, the previous keys stay in force: key %s cannot be used "
			  "(%s)", lost->config->name, lost->error);
		keyring_release_objects(s->token, k);
		keyring_free(k);
		return -EINVAL;
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
	audit_key_problems(s->audit, s->keyring);
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

uint64_t service_jwts_issued(const Service *s)
{
	return s->jwts_issued;
}

static const char *unusable_names(const Keyring *k, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < k->n_keys && n < size; i++)
		if (k->keys[i].error)
			n += snprintf(buf + n, size - n, "%s%s", n ? " " : "", k->keys[i].config->name);
	return buf;
}

void service_describe(const Service *s, unsigned connections, char *buf, size_t size)
{
	size_t signing = 0;
	char names[128];

	for (size_t i = 0; i < s->keyring->n_keys; i++)
		signing += s->keyring->keys[i].can_sign;
	snprintf(buf, size, "%zu key(s), %zu active%s%s; %" PRIu64 " token(s) issued; token %s%s%s; "
		 "%u connection(s)%s%s",
		 s->keyring->n_keys, signing, s->keyring->n_unusable ? ", UNAVAILABLE: " : "",
		 s->keyring->n_unusable ? unusable_names(s->keyring, names, sizeof(names)) : "",
		 s->jwts_issued,
		 s->pin_refused ? "PIN refused: " : s->token_down ? "down, reconnecting: " :
		 s->last_sign_error ? "failing: " : "OK",
		 s->last_sign_error ? strerror(-s->last_sign_error) : "",
		 s->sign_failures && !s->last_sign_error ? " (recovered)" : "", connections,
		 audit_error(s->audit) ? "; AUDIT TRAIL FAILING, refusing to sign: " : "",
		 audit_error(s->audit) ? audit_strerror(audit_error(s->audit)) : "");
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
	r = token_open(s->config->module, s->config->init_args, s->config->token_uri, false, &t);
	if (r >= 0)
		r = token_login(t, s->config->pin_file);
	if (r == -EACCES) {
		/* Retrying a wrong PIN could lock the token: stop until the next reload. */
		s->pin_refused = true;
		log_error("The token refused the PIN: not retrying; fix it and reload");
	}
	if (r >= 0)
		r = keyring_load(t, s->config->keys, s->config->n_keys, KEYRING_SIGN, &k);
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
	log_info("Token %s reopened: %zu key(s) loaded", token_describe(t), k->n_keys - k->n_unusable);
	(void)audit_reload(s->audit, "token reopened after a failure");
	return 0;
}

