/* SPDX-License-Identifier: MIT */
/*
 * [key NAME] sections: the table of their keys and the checks between them.
 * Adding a key is one row in key_options (plus its KeyConfig field and its
 * documentation); see config-sections.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "config-table.h"

#define KEY_NAME_MAX 64
#define KID_MAX 256

static bool key_name_valid(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= KEY_NAME_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static int open_key(ConfigParse *p, const char *name, void **ret_obj, unsigned **ret_seen,
		    char why[static CONFIG_WHY_MAX])
{
	Config *c = p->config;
	KeyConfig *k;

	if (c->n_keys > 0 && strcmp(c->keys[c->n_keys - 1].name, name) == 0) {
		k = &c->keys[c->n_keys - 1];
		goto done;
	}
	if (config_find_key(c, name))
		return snprintf(why, CONFIG_WHY_MAX, "section appears twice"), -EEXIST;
	if (!key_name_valid(name))
		return snprintf(why, CONFIG_WHY_MAX, "key name '%s' must be 1-%d of A-Z a-z 0-9 . _ -",
				name, KEY_NAME_MAX), -EINVAL;
	k = realloc(c->keys, (c->n_keys + 1) * sizeof(*k));
	if (!k)
		return snprintf(why, CONFIG_WHY_MAX, "out of memory"), -ENOMEM;
	c->keys = k;
	k = &c->keys[c->n_keys];
	*k = (KeyConfig){
		.name = strdup(name),
		.alg = ALG_HS256,
		.profile = PROFILE_ZUMO_V2,
		.state = KEY_STATE_ACTIVE,
		.bits = RSA_BITS_DEFAULT,
		.clock_skew = CLOCK_SKEW_DEFAULT,
		.accept_v1 = true,
		.default_lifetime = CONFIG_DEFAULT_DEFAULT_LIFETIME,
		.max_lifetime = CONFIG_DEFAULT_MAX_LIFETIME,
		.line = p->header_line,
	};
	if (!k->name)
		return snprintf(why, CONFIG_WHY_MAX, "out of memory"), -ENOMEM;
	c->n_keys++;
done:
	*ret_obj = k;
	*ret_seen = &k->seen;
	return 0;
}

static int parse_bits(const ConfigOption *o, void *obj, const char *value,
		      char why[static CONFIG_WHY_MAX])
{
	uint64_t v;

	(void)o;
	if (config_parse_uint(value, RSA_BITS_MIN, RSA_BITS_MAX, &v) < 0 || v % 1024)
		return snprintf(why, CONFIG_WHY_MAX, "'%s' is not 2048, 3072 or 4096", value), -EINVAL;
	((KeyConfig *)obj)->bits = (unsigned)v;
	return 0;
}

int config_parse_add_claims(const char *value, unsigned *ret, char *why, size_t why_size)
{
	static const struct {
		const char *name;
		unsigned bit;
	} known[] = { { "iat", ADD_CLAIM_IAT }, { "nbf", ADD_CLAIM_NBF }, { "jti", ADD_CLAIM_JTI } };
	unsigned set = 0;
	const char *p = value;

	/* "iat, nbf, jti", in any order, each at most once; empty: none. */
	for (;;) {
		size_t n, i;

		p += strspn(p, " \t");
		if (!*p)
			break;
		n = strcspn(p, ", \t");
		for (i = 0; i < ELEMENTSOF(known); i++)
			if (strlen(known[i].name) == n && strncmp(p, known[i].name, n) == 0)
				break;
		if (i == ELEMENTSOF(known) || (set & known[i].bit))
			return snprintf(why, why_size, "'%.*s' is %s (known: iat, nbf, jti)",
					(int)(n > 32 ? 32 : n), p,
					i == ELEMENTSOF(known) ? "not known" : "given twice"), -EINVAL;
		set |= known[i].bit;
		p += n;
		p += strspn(p, " \t");
		if (*p && *p != ',')
			return snprintf(why, why_size, "separate names with commas"), -EINVAL;
		if (*p)
			p++;
	}
	*ret = set;
	return 0;
}

static int parse_add_claims(const ConfigOption *o, void *obj, const char *value,
			    char why[static CONFIG_WHY_MAX])
{
	(void)o;
	return config_parse_add_claims(value, &((KeyConfig *)obj)->add_claims, why, CONFIG_WHY_MAX);
}

static const char *alg_name(unsigned i)
{
	return algorithm_to_string((Algorithm)i);
}

static const char *state_name(unsigned i)
{
	return key_state_to_string((KeyState)i);
}

static const char *kid_format_name(unsigned i)
{
	return kid_format_to_string((KidFormat)i);
}

static const char *profile_name(unsigned i)
{
	return profile_to_string((Profile)i);
}

#define ROW(k, t, field, ...) { .key = k, .type = t, CONFIG_FIELD(KeyConfig, field), __VA_ARGS__ }

static const ConfigOption key_options[] = {
	ROW("uri", CONFIG_STRING, uri),
	ROW("kid", CONFIG_STRING, kid, .min = 1, .max = KID_MAX),
	ROW("kid-format", CONFIG_ENUM, kid_format, .name_of = kid_format_name),
	ROW("issuer", CONFIG_STRING, issuer),
	ROW("alg", CONFIG_ENUM, alg, .name_of = alg_name),
	ROW("profile", CONFIG_ENUM, profile, .name_of = profile_name),
	ROW("state", CONFIG_ENUM, state, .name_of = state_name),
	ROW("not-after", CONFIG_TIMESTAMP, not_after),
	ROW("max-lifetime", CONFIG_DURATION, max_lifetime, .min = 1,
	    .max = CONFIG_MAX_LIFETIME_CEILING),
	ROW("default-lifetime", CONFIG_DURATION, default_lifetime, .min = 1,
	    .max = CONFIG_MAX_LIFETIME_CEILING),
	ROW("clock-skew", CONFIG_DURATION, clock_skew, .max = CLOCK_SKEW_MAX),
	ROW("accept-v1", CONFIG_BOOL, accept_v1),
	ROW("allow-extractable", CONFIG_BOOL, allow_extractable),
	ROW("bits", CONFIG_CUSTOM, bits, .parse = parse_bits),
	ROW("add-claims", CONFIG_CUSTOM, add_claims, .parse = parse_add_claims),
	ROW("verify-set", CONFIG_STRING, verify_set, .min = 1, .max = 64),
};
_Static_assert(ELEMENTSOF(key_options) <= CONFIG_OPTIONS_MAX, "one seen bit per row");

const ConfigSection config_section_key = {
	.name = "key",
	.named = true,
	.options = key_options,
	.n_options = ELEMENTSOF(key_options),
	.open = open_key,
};

static bool given(const KeyConfig *k, const char *key)
{
	return config_option_given(&config_section_key, k->seen, key);
}

int config_key_finish(const Config *c, KeyConfig *k, char **ret_error)
{
	const AlgorithmInfo *ai = algorithm_info(k->alg);
	_cleanup_free_ char *section = NULL;

	if (asprintf(&section, "key %s", k->name) < 0)
		return -ENOMEM;
#define key_error(key, ...) config_error(ret_error, c->path, k->line, section, key, __VA_ARGS__)
	if (!k->uri)
		return key_error("uri", "required: the key's object on the token");
	/* An asymmetric alg without a profile can only mean the standard one. */
	if (!given(k, "profile") && !ai->symmetric)
		k->profile = PROFILE_STANDARD;
	if (k->profile == PROFILE_ZUMO_V2 && k->alg != ALG_HS256)
		return key_error("profile", "zumo-v2 requires alg HS256");
	if (k->profile == PROFILE_STANDARD && !k->issuer)
		return key_error("issuer", "profile standard needs an issuer");
	if (given(k, "accept-v1") && k->profile != PROFILE_ZUMO_V2)
		return key_error("accept-v1", "applies to zumo-v2 keys only");
	if (k->add_claims && k->profile != PROFILE_ZUMO_V2)
		return key_error("add-claims", "applies to zumo-v2 keys (the standard profile "
					       "always has iat and jti)");
	if (given(k, "bits") && k->alg != ALG_RS256 && k->alg != ALG_PS256)
		return key_error("bits", "applies to RSA keys only");
	if (given(k, "kid-format") && (ai->symmetric || given(k, "kid")))
		return key_error("kid-format", "applies to asymmetric keys without a kid");
	if (k->default_lifetime > k->max_lifetime)
		return key_error("default-lifetime", "exceeds max-lifetime");
#undef key_error
	if (!k->kid && k->profile == PROFILE_ZUMO_V2 && !(k->kid = strdup("0")))
		return -ENOMEM;
	/* A symmetric key has no public half to take a thumbprint of: its name will do. */
	if (!k->kid && ai->symmetric && !(k->kid = strdup(k->name)))
		return -ENOMEM;
	if (!k->issuer && !(k->issuer = strdup(ZUMO_ISSUER)))
		return -ENOMEM;
	return 0;
}

/*
 * Issue 16: every zumo-v2 key defaults to kid "0", and verify tries every
 * key with the header's kid, so a token of a test key verified for the
 * production key's users. Two active keys with one kid are refused unless
 * both name the same verify-set.
 */
int config_keys_check_kids(const Config *c, char **ret_error)
{
	for (size_t j = 1; j < c->n_keys; j++) {
		const KeyConfig *b = &c->keys[j];

		for (size_t i = 0; i < j; i++) {
			const KeyConfig *a = &c->keys[i];

			if (a->state != KEY_STATE_ACTIVE || b->state != KEY_STATE_ACTIVE ||
			    !a->kid || !b->kid || strcmp(a->kid, b->kid) != 0)
				continue;
			if (a->verify_set && b->verify_set && strcmp(a->verify_set, b->verify_set) == 0)
				continue;
			_cleanup_free_ char *section = NULL;

			if (asprintf(&section, "key %s", b->name) < 0)
				return -ENOMEM;
			return config_error(ret_error, c->path, b->line, section, "kid",
					    "\"%s\" is also the kid of active key %s, so a token of "
					    "either would verify as the other's: give one its own kid, "
					    "or put both in one verify-set", b->kid, a->name);
		}
	}
	return 0;
}
