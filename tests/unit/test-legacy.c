/* SPDX-License-Identifier: MIT */
/* The v1 upgrade without a daemon: what it fills in, what it notes, what it refuses. */
#include "legacy.h"
#include "tests.h"

#define NOW 1700000000
static const ClaimLimits limits = { .max_extra = 4, .max_name = 32, .max_value = 64, .max_payload = 4096 };
static const KeyConfig key = { .name = (char *)"zumo", .issuer = (char *)ZUMO_ISSUER,
			       .max_lifetime = 86400 };

static int upgrade(const char *json, SignInput *in, Legacy **ret, Failure *f)
{
	in->legacy_json = (Span){ json, strlen(json) };
	*f = (Failure){};
	return legacy_upgrade(&limits, &key, in, NOW, ret, f);
}

static void refused(const char *json, const char *rule, const char *message_part)
{
	SignInput in = {};
	Legacy *l = NULL;
	Failure f;

	check_int(upgrade(json, &in, &l, &f), -EINVAL);
	check(l == NULL);
	check_int(f.code, SERVICE_INVALID_REQUEST);
	if (strcmp(f.rule, rule) != 0 || !strstr(f.message, message_part)) {
		fprintf(stderr, "%s:\n  got rule %s, message '%s'; expected %s, '%s'\n", json, f.rule,
			f.message, rule, message_part);
		exit(EXIT_FAILURE);
	}
	check(in.claims.audience.p == NULL); /* nothing left pointing into freed memory */
}

static void upgraded(void)
{
	SignInput in = {};
	Legacy *l = NULL;
	Failure f;

	check_int(upgrade("{\"role\":[\"a\",\"\\u00e9\"],\"exp\":1700000100.75,\"ver\":\"1\","
			  "\"aud\":\"Facebook\",\"uid\":\"Facebook:1\",\"n\":1e3,"
			  "\"urn:microsoft:credentials\":\"{\\\"accessToken\\\":\\\"EAAB\\\"}\"}",
			  &in, &l, &f),
		  0);
	check_int(in.expires_at, 1700000100);
	check_mem(in.claims.audience.p, in.claims.audience.n, "Facebook");
	check_mem(in.claims.user_id.p, in.claims.user_id.n, "Facebook:1");
	check_mem(in.claims.access_token.p, in.claims.access_token.n, "EAAB");
	check_int(in.claims.n_extras, 2);
	check_mem(in.claims.extras[0].name.p, in.claims.extras[0].name.n, "role");
	check_int(in.claims.extras[0].type, EXTRA_STRING_LIST);
	check_int(in.claims.extras[0].list.n, 2);
	check_mem(in.claims.extras[0].list.items[1].p, in.claims.extras[0].list.items[1].n, "\xc3\xa9");
	check_int(in.claims.extras[1].type, EXTRA_INTEGER);
	check_int(in.claims.extras[1].integer, 1000);
	check_mem(legacy_changes(l), strlen(legacy_changes(l)),
		  "exp 1700000100.75 floored to 1700000100; ver \"1\" -> 2; "
		  "urn:microsoft:credentials parsed from a JSON string; iss filled in; "
		  "members reordered");
	legacy_free(l);

	/* Already v2 in every respect: nothing to note, no exp: the request's expiry stays. */
	in = (SignInput){ .lifetime = 60 };
	check_int(upgrade("{\"iss\":\"" ZUMO_ISSUER "\",\"ver\":2,\"aud\":\"C\",\"uid\":\"C:1\"}", &in,
			  &l, &f),
		  0);
	check_int(in.expires_at, 0);
	check_int(in.lifetime, 60);
	check(in.claims.access_token.p == NULL);
	check(strcmp(legacy_changes(l), "none (already v2)") == 0);
	legacy_free(l);
}

static void refusals(void)
{
	refused("{\"ver\":1,\"aud\":\"C\",\"uid\":\"C:1\",\"exp\":1699999999}", "legacy-exp",
		"not in the future");
	refused("{\"ver\":1,\"aud\":\"C\",\"uid\":\"C:1\",\"exp\":1700086401}", "legacy-exp",
		"max-lifetime of 86400 s");
	refused("{\"ver\":1,\"aud\":\"C\",\"uid\":\"C:1\",\"exp\":\"2024-01-01\"}", "legacy-exp",
		"not a date");
	refused("{\"ver\":1.5}", "legacy-ver", "ver must be");
	refused("{\"aud\":\"C\"}", "legacy-ver", "ver is required");
	refused("{\"ver\":1,\"uid\":\"C:1\"}", "legacy-aud", "aud is required");
	refused("{\"ver\":1,\"aud\":\"C\",\"uid\":7}", "legacy-uid", "uid must be a string");
	refused("{\"ver\":1,\"iss\":\"x\"}", "legacy-iss", "the issuer of key zumo");
	refused("{\"ver\":1,\"urn:microsoft:credentials\":{\"accessToken\":\"t\",\"x\":1}}",
		"legacy-credentials", "with nothing else");
	refused("{\"ver\":1,\"urn:microsoft:credentials\":\"{\\\"accessToken\\\":\"}",
		"legacy-credentials", "not valid JSON");
	refused("{\"ver\":1,\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5}", "claim-count", "5 extra claims");
	refused("{\"ver\":1,\"a\":0.5}", "claim-type", "extra claim \"a\": a number with a fraction");
	refused("{\"ver\":1,\"a\":9007199254740992.0}", "claim-integer-range", "extra claim \"a\"");
	refused("{\"ver\":1,\"a\":[true]}", "claim-type", "only strings");
	refused("{\"ver\":1,\"a\":null}", "claim-type", "null is not allowed");
	refused("{\"ver\":1,\"ver\":1}", "legacy-json", "not valid JSON (byte");
	refused("{\"ver\":1,\"a\":\"\\u0000\"}", "legacy-json", "U+0000 is not allowed");
	refused("{\"ver\":1,\"a\":\"SECRET", "legacy-json", "not valid JSON");

	SignInput in = { .claims.audience = { "C", 1 } };
	Legacy *l = NULL;
	Failure f;
	check_int(upgrade("{\"ver\":1}", &in, &l, &f), -EINVAL);
	check(strcmp(f.rule, "legacy-mixed") == 0);
	in = (SignInput){ .expires_at = NOW + 5 };
	check_int(upgrade("{\"ver\":1,\"exp\":1700000100}", &in, &l, &f), -EINVAL);
	check(strcmp(f.rule, "legacy-mixed") == 0);
}

static void no_quotes_of_input(void)
{
	SignInput in = {};
	Legacy *l = NULL;
	Failure f;

	check_int(upgrade("{\"ver\":1,\"urn:microsoft:credentials\":{\"accessToken\":\"SECRET-1\"x}}",
			  &in, &l, &f),
		  -EINVAL);
	check(strstr(f.message, "SECRET") == NULL);
}

int main(void)
{
	upgraded();
	refusals();
	no_quotes_of_input();
	return 0;
}
