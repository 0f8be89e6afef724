/* SPDX-License-Identifier: MIT */
#include "claims-extra.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "json.h"

/* Names the v2 format, JWT or the JOSE header own; an extra claim must not shadow them. */
static const char *const reserved_names[] = {
	"exp", "iss", "ver", "aud", "uid", "iat", "nbf", "jti", "sub", "kid", "alg", "typ",
	"urn:microsoft:credentials",
};

/* Enough of a name to find it in a request; longer or odd names are named by position. */
#define NAME_SHOWN_MAX 48

static bool span_is(Span s, const char *lit)
{
	return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

static bool span_eq(Span a, Span b)
{
	return a.n == b.n && memcmp(a.p, b.p, a.n) == 0;
}

void claims_describe_extra(const ExtraClaim *e, size_t index, char out[static 96])
{
	size_t n = e->name.n;

	for (size_t i = 0; i < n; i++)
		if ((unsigned char)e->name.p[i] < 0x20 || e->name.p[i] == 0x7f)
			n = 0;
	if (n == 0 || utf8_validate(e->name.p, n) < 0) {
		snprintf(out, 96, "extra claim #%zu", index + 1);
		return;
	}
	if (n > NAME_SHOWN_MAX) {
		n = NAME_SHOWN_MAX;
		while (n > 0 && ((unsigned char)e->name.p[n] & 0xc0) == 0x80)
			n--; /* cut on a character boundary */
	}
	snprintf(out, 96, "extra claim \"%.*s\"%s", (int)n, e->name.p, n < e->name.n ? "..." : "");
}

static bool all_digits(Span s)
{
	for (size_t i = 0; i < s.n; i++)
		if (s.p[i] < '0' || s.p[i] > '9')
			return false;
	return s.n > 0;
}

static int check_name(const ClaimLimits *lim, const ExtraClaim *extras, size_t i,
		      const char *what, Failure *f)
{
	Span name = extras[i].name;

	/* First: a reserved name is refused as such, whatever the length limit. */
	for (size_t k = 0; k < ELEMENTSOF(reserved_names); k++)
		if (span_is(name, reserved_names[k]))
			return failure_refuse(f, "claim-name-reserved",
					      "%s: the name is reserved for the token itself", what);
	if (name.n == 0 || name.n > lim->max_name)
		return failure_refuse(f, "claim-name-invalid",
				      "%s: the name must be 1 to %" PRIu32 " bytes, not %zu", what,
				      lim->max_name, name.n);
	if (utf8_validate(name.p, name.n) < 0)
		return failure_refuse(f, "claim-utf8", "%s: the name is not valid UTF-8", what);
	if (all_digits(name))
		return failure_refuse(f, "claim-name-invalid",
				      "%s: a name of digits only is not allowed (JavaScript would "
				      "order it before exp)", what);
	if (span_is(name, "__proto__"))
		return failure_refuse(f, "claim-name-invalid",
				      "%s: the name __proto__ is not allowed (JavaScript would drop it)",
				      what);
	for (size_t k = 0; k < i; k++)
		if (span_eq(name, extras[k].name))
			return failure_refuse(f, "claim-name-repeated",
					      "%s: the name is given more than once", what);
	return 0;
}

static int append_value(Buf *b, const ExtraClaim *e)
{
	int r;

	switch (e->type) {
	case EXTRA_STRING:
		return json_append_string(b, e->string.p, e->string.n);
	case EXTRA_INTEGER:
		buf_append_int64(b, e->integer);
		return b->error;
	case EXTRA_BOOLEAN:
		buf_append_str(b, e->boolean ? "true" : "false");
		return b->error;
	case EXTRA_STRING_LIST:
		buf_append_char(b, '[');
		for (size_t i = 0; i < e->list.n; i++) {
			if (i > 0)
				buf_append_char(b, ',');
			r = json_append_string(b, e->list.items[i].p, e->list.items[i].n);
			if (r < 0)
				return r;
		}
		buf_append_char(b, ']');
		return b->error;
	default:
		return -EINVAL;
	}
}

static int check_value(const ClaimLimits *lim, const ExtraClaim *e, const char *what, Buf *scratch,
		       Failure *f)
{
	int r;

	if (e->type == EXTRA_UNSET)
		return failure_refuse(f, "claim-type",
				      "%s has no value (give a string, integer, boolean or list of "
				      "strings)", what);
	if (e->type == EXTRA_INTEGER &&
	    (e->integer > JS_MAX_SAFE_INTEGER || e->integer < -JS_MAX_SAFE_INTEGER))
		return failure_refuse(f, "claim-integer-range",
				      "%s: %" PRId64 " is outside +-(2^53 - 1), where JavaScript "
				      "numbers lose precision", what, e->integer);
	/* Writing the value is how its size is measured: the limit stops the writing early. */
	buf_reset(scratch);
	scratch->limit = lim->max_value;
	r = append_value(scratch, e);
	if (r == -EILSEQ)
		return failure_refuse(f, "claim-utf8", "%s: the value is not valid UTF-8", what);
	if (r == -E2BIG)
		return failure_refuse(f, "claim-value-too-long",
				      "%s: the value takes more than %" PRIu32 " bytes as JSON", what,
				      lim->max_value);
	if (r < 0) {
		f->code = SERVICE_INTERNAL;
		snprintf(f->message, sizeof(f->message), "cannot check %s: %s", what, strerror(-r));
		return r;
	}
	return 0;
}

int claims_check_extras(const ClaimLimits *lim, const ExtraClaim *extras, size_t n, Failure *f)
{
	_cleanup_(buf_done) Buf scratch = {};
	char what[96];
	int r;

	if (n > lim->max_extra)
		return failure_refuse(f, "claim-count",
				      "%zu extra claims given; the limit is %" PRIu32, n,
				      lim->max_extra);
	for (size_t i = 0; i < n; i++) {
		claims_describe_extra(&extras[i], i, what);
		r = check_name(lim, extras, i, what, f);
		if (r >= 0)
			r = check_value(lim, &extras[i], what, &scratch, f);
		if (r < 0)
			return r;
	}
	return 0;
}

int claims_append_extra(Buf *b, const ExtraClaim *e)
{
	int r;

	buf_append_char(b, ',');
	r = json_append_string(b, e->name.p, e->name.n);
	if (r < 0)
		return r;
	buf_append_char(b, ':');
	return append_value(b, e);
}
