/* SPDX-License-Identifier: MIT */
/* The [claims] section and a key's add-claims option of hsmjwtd.conf. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "config.h"

static const struct {
	const char *name;
	size_t offset;
	uint32_t min, max;
} limits[] = {
	/* 0 extra claims is a policy: this daemon then signs the fixed members only. */
	{ "max-extra-claims", offsetof(ClaimLimits, max_extra), 0, 1024 },
	{ "max-claim-name", offsetof(ClaimLimits, max_name), 1, 1024 },
	/* 17: room for every integer allowed, -9007199254740991 included. */
	{ "max-claim-value", offsetof(ClaimLimits, max_value), 17, 1u << 20 },
	{ "max-payload", offsetof(ClaimLimits, max_payload), 1024, 1u << 24 },
};

int config_claims_option(ClaimLimits *l, const char *name, const char *value, char *err,
			 size_t err_size)
{
	for (size_t i = 0; i < ELEMENTSOF(limits); i++) {
		unsigned long long v;
		char *end;

		if (strcmp(name, limits[i].name) != 0)
			continue;
		errno = 0;
		v = strtoull(value, &end, 10);
		if (*value < '0' || *value > '9' || *end || errno || v < limits[i].min ||
		    v > limits[i].max) {
			snprintf(err, err_size, "%s must be a number of %u..%u", name, limits[i].min,
				 limits[i].max);
			return -EINVAL;
		}
		*(uint32_t *)((char *)l + limits[i].offset) = (uint32_t)v;
		return 0;
	}
	snprintf(err, err_size, "unknown option '%s' in [claims]", name);
	return -EINVAL;
}

int config_parse_add_claims(const char *value, unsigned *ret, char *err, size_t err_size)
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
		if (i == ELEMENTSOF(known) || (set & known[i].bit)) {
			snprintf(err, err_size, "add-claims: '%.*s' is %s (known: iat, nbf, jti)",
				 (int)(n > 32 ? 32 : n), p,
				 i == ELEMENTSOF(known) ? "not known" : "given twice");
			return -EINVAL;
		}
		set |= known[i].bit;
		p += n;
		p += strspn(p, " \t");
		if (*p && *p != ',') {
			snprintf(err, err_size, "add-claims: separate names with commas");
			return -EINVAL;
		}
		if (*p)
			p++;
	}
	*ret = set;
	return 0;
}
