/* SPDX-License-Identifier: MIT */
/*
 * The v1 claim-set upgrade on arbitrary input: it refuses with a rule and a
 * message, or it yields claims that pass the extra-claim rules and a payload
 * that is one JSON object with exp first, every byte of it fit for
 * JSON.stringify's output (no raw control characters).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "claims-extra.h"
#include "fuzz.h"
#include "legacy.h"

#define NOW 1700000000 /* the corpus writes exp as 1700000100 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const KeyConfig key = { .name = (char *)"zumo", .issuer = (char *)ZUMO_ISSUER,
				       .max_lifetime = 86400 };
	ClaimLimits lim;
	SignInput in = { .legacy_json = { (const char *)data, size } };
	Legacy *l = NULL;
	Failure f = {};
	Buf b = {};
	json_t *j;
	int r;

	claim_limits_init(&lim);
	r = legacy_upgrade(&lim, &key, &in, NOW, &l, &f);
	if (r < 0) {
		if (!f.message[0] || (f.code == SERVICE_INVALID_REQUEST && !f.rule[0]) || l)
			__builtin_trap();
		return 0;
	}
	if (!legacy_changes(l)[0] || (in.expires_at && in.expires_at <= NOW))
		__builtin_trap();
	r = claims_check_extras(&lim, in.claims.extras, in.claims.n_extras, &f);
	in.claims.exp = in.expires_at ? in.expires_at : NOW + 1;
	/* aud and uid may still be refused later (empty, too long, not UTF-8). */
	if (r == 0 && claims_zumo_payload(&b, ZUMO_ISSUER, &in.claims) == 0) {
		j = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, NULL);
		if (!j || !json_is_object(j) || strncmp(b.data, "{\"exp\":", 7) != 0)
			__builtin_trap();
		for (size_t i = 0; i < b.len; i++)
			if ((uint8_t)b.data[i] < 0x20)
				__builtin_trap();
		json_decref(j);
	}
	buf_done(&b);
	legacy_free(l);
	return 0;
}
