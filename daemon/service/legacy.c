/* SPDX-License-Identifier: MIT */
#include "legacy.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claims-extra.h"
#include "jansson-wipe.h"

struct Legacy {
	json_t *root;
	json_t *credentials; /* the object parsed out of a credentials string */
	ExtraClaim *extras;
	Span *items; /* the strings of every list among the extras */
	Buf changes;
};

/* The members v2 fixes, in v2's order. */
enum { M_EXP, M_ISS, M_VER, M_AUD, M_UID, M_CREDENTIALS, N_FIXED };
static const char *const fixed_names[N_FIXED] = {
	"exp", "iss", "ver", "aud", "uid", "urn:microsoft:credentials",
};

#define CREDENTIALS "urn:microsoft:credentials"

Legacy *legacy_free(Legacy *l)
{
	if (!l)
		return NULL;
	json_decref(l->root);
	json_decref(l->credentials);
	free(l->extras);
	free(l->items);
	buf_done(&l->changes);
	free(l);
	return NULL;
}

const char *legacy_changes(const Legacy *l)
{
	return l->changes.len ? l->changes.data : "none (already v2)";
}

static void note(Legacy *l, const char *fmt, ...) _printf_(2, 3);
static void note(Legacy *l, const char *fmt, ...)
{
	char line[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (l->changes.len)
		buf_append_str(&l->changes, "; ");
	buf_append_str(&l->changes, line);
	buf_cstr(&l->changes);
}

static Span span_of_string(const json_t *s)
{
	return (Span){ json_string_value(s), json_string_length(s) };
}

/* One JSON object out of p[0..n), or a refusal that says where and why, quoting nothing. */
static int parse_object(const char *p, size_t n, const char *what, const char *rule,
			json_t **ret, Failure *f)
{
	json_error_t e;
	json_t *j;
	char *near;

	j = json_loadb(p, n, JSON_REJECT_DUPLICATES, &e);
	if (!j) {
		/* jansson quotes the input "near" the error: it may be an access token. */
		near = strstr(e.text, " near ");
		if (near)
			*near = '\0';
		if (strstr(e.text, "\\u0000"))
			snprintf(e.text, sizeof(e.text), "U+0000 is not allowed");
		return failure_refuse(f, rule, "%s is not valid JSON (byte %d: %s)", what,
				      e.position, e.text);
	}
	if (!json_is_object(j)) {
		json_decref(j);
		return failure_refuse(f, rule, "%s must be a JSON object", what);
	}
	*ret = j;
	return 0;
}

/*
 * A JSON number as JavaScript sees it: 1.0 and 1e3 are the integers 1 and
 * 1000. -EDOM for a fraction, -ERANGE past what a double holds exactly.
 */
static int number_as_integer(const json_t *v, int64_t *ret)
{
	double d;

	if (json_is_integer(v)) {
		*ret = json_integer_value(v);
		return 0;
	}
	d = json_real_value(v);
	if (floor(d) != d)
		return -EDOM;
	if (fabs(d) > (double)JS_MAX_SAFE_INTEGER)
		return -ERANGE;
	*ret = (int64_t)d;
	return 0;
}

static int upgrade_ver(Legacy *l, const json_t *v, Failure *f)
{
	int64_t n;

	if (json_is_string(v) && json_string_length(v) == 1 &&
	    (json_string_value(v)[0] == '1' || json_string_value(v)[0] == '2')) {
		note(l, "ver \"%s\" -> 2", json_string_value(v));
		return 0;
	}
	if (json_is_number(v) && number_as_integer(v, &n) == 0 && (n == 1 || n == 2)) {
		if (n == 1)
			note(l, "ver 1 -> 2");
		return 0;
	}
	return failure_refuse(f, "legacy-ver", "legacy claim set: ver must be 1, \"1\", 2 or \"2\"");
}

static int upgrade_exp(Legacy *l, const KeyConfig *kc, SignInput *in, time_t now,
		       const json_t *v, Failure *f)
{
	int64_t exp;
	double d;

	if (json_is_string(v))
		return failure_refuse(f, "legacy-exp",
				      "legacy claim set: exp is a string; give seconds since the "
				      "Unix epoch as a number, not a date");
	if (!json_is_number(v))
		return failure_refuse(f, "legacy-exp",
				      "legacy claim set: exp must be a number of seconds since the "
				      "Unix epoch");
	if (json_is_integer(v)) {
		exp = json_integer_value(v);
	} else {
		d = floor(json_real_value(v));
		/* Beyond any max-lifetime either way; clamp before converting. */
		exp = d > 4e18 ? INT64_MAX : d < -4e18 ? INT64_MIN : (int64_t)d;
		if (d != json_real_value(v))
			note(l, "exp %.17g floored to %" PRId64, json_real_value(v), exp);
	}
	if (exp <= (int64_t)now)
		return failure_refuse(f, "legacy-exp",
				      "legacy claim set: exp %" PRId64 " is not in the future", exp);
	if ((uint64_t)(exp - (int64_t)now) > kc->max_lifetime)
		return failure_refuse(f, "legacy-exp",
				      "legacy claim set: exp %" PRId64 " lies more than key %s's "
				      "max-lifetime of %" PRIu64 " s ahead", exp, kc->name,
				      kc->max_lifetime);
	if (in->expires_at || in->lifetime)
		return failure_refuse(f, "legacy-mixed",
				      "the legacy claim set has an exp: give no other expiry");
	in->expires_at = exp;
	return 0;
}

static int upgrade_iss(const KeyConfig *kc, const json_t *v, Failure *f)
{
	if (!json_is_string(v) || json_string_length(v) != strlen(kc->issuer) ||
	    memcmp(json_string_value(v), kc->issuer, strlen(kc->issuer)) != 0)
		return failure_refuse(f, "legacy-iss",
				      "legacy claim set: iss must be absent or \"%s\", the issuer of "
				      "key %s", kc->issuer, kc->name);
	return 0;
}

static int upgrade_credentials(Legacy *l, SignInput *in, json_t *v, Failure *f)
{
	json_t *access_token;
	int r;

	if (json_is_string(v)) {
		r = parse_object(json_string_value(v), json_string_length(v),
				 "legacy claim set: the string " CREDENTIALS, "legacy-credentials",
				 &l->credentials, f);
		if (r < 0)
			return r;
		v = l->credentials;
		note(l, CREDENTIALS " parsed from a JSON string");
	}
	access_token = json_object_get(v, "accessToken");
	if (!json_is_object(v) || json_object_size(v) != 1 || !json_is_string(access_token))
		return failure_refuse(f, "legacy-credentials",
				      "legacy claim set: " CREDENTIALS " must be {\"accessToken\": "
				      "\"...\"} with nothing else, or a string holding that as JSON");
	in->claims.access_token = span_of_string(access_token);
	return 0;
}

static int to_extra(Legacy *l, const char *name, const json_t *v, size_t index, size_t *items_used,
		    Failure *f)
{
	ExtraClaim *e = &l->extras[index];
	char what[96];
	int r;

	e->name = (Span){ name, strlen(name) }; /* jansson refuses NUL in names */
	claims_describe_extra(e, index, what);
	switch (json_typeof(v)) {
	case JSON_STRING:
		e->type = EXTRA_STRING;
		e->string = span_of_string(v);
		return 0;
	case JSON_INTEGER:
	case JSON_REAL:
		e->type = EXTRA_INTEGER;
		r = number_as_integer(v, &e->integer);
		if (r == -EDOM)
			return failure_refuse(f, "claim-type",
					      "%s: a number with a fraction is not allowed, only "
					      "integers", what);
		if (r < 0)
			return failure_refuse(f, "claim-integer-range",
					      "%s: the number is outside +-(2^53 - 1)", what);
		return 0;
	case JSON_TRUE:
	case JSON_FALSE:
		e->type = EXTRA_BOOLEAN;
		e->boolean = json_is_true(v);
		return 0;
	case JSON_ARRAY:
		e->type = EXTRA_STRING_LIST;
		e->list.items = l->items + *items_used;
		e->list.n = json_array_size(v);
		for (size_t i = 0; i < e->list.n; i++) {
			const json_t *item = json_array_get(v, i);

			if (!json_is_string(item))
				return failure_refuse(f, "claim-type",
						      "%s: a list may hold only strings", what);
			l->items[(*items_used)++] = span_of_string(item);
		}
		return 0;
	default:
		return failure_refuse(f, "claim-type",
				      "%s: %s is not allowed (give a string, integer, boolean or "
				      "list of strings)", what, json_is_null(v) ? "null" : "an object");
	}
}

static int fixed_index(const char *name)
{
	for (int i = 0; i < N_FIXED; i++)
		if (strcmp(name, fixed_names[i]) == 0)
			return i;
	return -1;
}

/* Sizes the extras before allocating, so the count limit also bounds the allocation. */
static int count_extras(const json_t *root, const ClaimLimits *lim, size_t *ret_n,
			size_t *ret_items, Failure *f)
{
	const char *name;
	json_t *v;
	size_t n = 0, items = 0;

	json_object_foreach((json_t *)root, name, v) {
		if (fixed_index(name) >= 0)
			continue;
		n++;
		if (json_is_array(v))
			items += json_array_size(v);
	}
	if (n > lim->max_extra)
		return failure_refuse(f, "claim-count",
				      "%zu extra claims given; the limit is %" PRIu32, n,
				      lim->max_extra);
	*ret_n = n;
	*ret_items = items;
	return 0;
}

static int upgrade_member(Legacy *l, const KeyConfig *kc, SignInput *in, time_t now, int which,
			  json_t *v, Failure *f)
{
	switch (which) {
	case M_EXP:
		return upgrade_exp(l, kc, in, now, v, f);
	case M_ISS:
		return upgrade_iss(kc, v, f);
	case M_VER:
		return upgrade_ver(l, v, f);
	case M_AUD:
	case M_UID:
		if (!json_is_string(v))
			return failure_refuse(f, which == M_AUD ? "legacy-aud" : "legacy-uid",
					      "legacy claim set: %s must be a string", fixed_names[which]);
		*(which == M_AUD ? &in->claims.audience : &in->claims.user_id) = span_of_string(v);
		return 0;
	default:
		return upgrade_credentials(l, in, v, f);
	}
}

static int upgrade(Legacy *l, const ClaimLimits *lim, const KeyConfig *kc, SignInput *in,
		   time_t now, Failure *f)
{
	bool seen[N_FIXED] = {}, reordered = false, extra_seen = false;
	size_t n_extras = 0, n_items = 0, used = 0, k = 0;
	const char *name;
	int last = -1, r;
	json_t *v;

	r = parse_object(in->legacy_json.p, in->legacy_json.n, "the legacy claim set", "legacy-json",
			 &l->root, f);
	if (r >= 0)
		r = count_extras(l->root, lim, &n_extras, &n_items, f);
	if (r < 0)
		return r;
	l->extras = calloc(n_extras ? n_extras : 1, sizeof(*l->extras));
	l->items = calloc(n_items ? n_items : 1, sizeof(*l->items));
	if (!l->extras || !l->items)
		return -ENOMEM;
	json_object_foreach(l->root, name, v) {
		int which = fixed_index(name);

		if (which < 0) {
			r = to_extra(l, name, v, k++, &used, f);
			extra_seen = true;
		} else {
			r = upgrade_member(l, kc, in, now, which, v, f);
			reordered |= extra_seen || which < last;
			seen[which] = true;
			last = which;
		}
		if (r < 0)
			return r;
	}
	if (!seen[M_VER])
		return failure_refuse(f, "legacy-ver", "legacy claim set: ver is required");
	if (!seen[M_AUD] || !seen[M_UID])
		return failure_refuse(f, seen[M_AUD] ? "legacy-uid" : "legacy-aud",
				      "legacy claim set: %s is required", seen[M_AUD] ? "uid" : "aud");
	if (!seen[M_ISS])
		note(l, "iss filled in");
	if (reordered)
		note(l, "members reordered");
	in->claims.extras = l->extras;
	in->claims.n_extras = n_extras;
	return l->changes.error;
}

int legacy_upgrade(const ClaimLimits *lim, const KeyConfig *kc, SignInput *in, time_t now,
		   Legacy **ret, Failure *f)
{
	_cleanup_(legacy_freep) Legacy *l = NULL;
	int r;

	if (in->claims.audience.n || in->claims.user_id.n || in->claims.access_token.p ||
	    in->claims.n_extras)
		return failure_refuse(f, "legacy-mixed",
				      "with a legacy claim set give no audience, user id, "
				      "credentials or extra claims: the claim set carries them");
	jansson_use_wiping_allocator();
	l = calloc(1, sizeof(*l));
	r = l ? upgrade(l, lim, kc, in, now, f) : -ENOMEM;
	if (r < 0) {
		if (!f->message[0]) {
			f->code = SERVICE_INTERNAL;
			snprintf(f->message, sizeof(f->message), "cannot upgrade the legacy claim set: %s",
				 strerror(-r));
		}
		/* The spans pointed into l, which goes now. */
		in->claims = (ZumoClaims){};
		return r;
	}
	*ret = TAKE_PTR(l);
	return 0;
}
