/* SPDX-License-Identifier: MIT */
/* Extra claims at the encoder level: the rules, the size measure, and the payload's bytes. */
#include "claims-extra.h"
#include "claims-std.h"
#include "tests.h"

static const ClaimLimits limits = { .max_extra = 3, .max_name = 8, .max_value = 17, .max_payload = 1024 };

static Span span(const char *s)
{
	return (Span){ s, strlen(s) };
}

static void refused(const ExtraClaim *e, size_t n, const char *rule, const char *message_part)
{
	Failure f = {};

	check_int(claims_check_extras(&limits, e, n, &f), -EINVAL);
	check_int(f.code, SERVICE_INVALID_REQUEST);
	if (strcmp(f.rule, rule) != 0 || !strstr(f.message, message_part)) {
		fprintf(stderr, "got rule %s, message '%s'; expected %s, '%s'\n", f.rule, f.message,
			rule, message_part);
		exit(EXIT_FAILURE);
	}
}

static void accepted(const ExtraClaim *e, size_t n)
{
	Failure f = {};

	if (claims_check_extras(&limits, e, n, &f) != 0) {
		fprintf(stderr, "refused (%s): %s\n", f.rule, f.message);
		exit(EXIT_FAILURE);
	}
}

static ExtraClaim str(const char *name, const char *value)
{
	return (ExtraClaim){ .name = span(name), .type = EXTRA_STRING, .string = span(value) };
}

static ExtraClaim integer(const char *name, int64_t v)
{
	return (ExtraClaim){ .name = span(name), .type = EXTRA_INTEGER, .integer = v };
}

static void names(void)
{
	static const char *const reserved[] = { "exp", "iss", "ver", "aud", "uid", "iat", "nbf",
						"jti", "sub", "kid", "alg", "typ",
						"urn:microsoft:credentials" };
	ExtraClaim e[3];

	for (size_t i = 0; i < ELEMENTSOF(reserved); i++) {
		e[0] = str(reserved[i], "v");
		refused(e, 1, "claim-name-reserved", "reserved");
	}
	e[0] = str("", "v");
	refused(e, 1, "claim-name-invalid", "extra claim #1: the name must be 1 to 8 bytes, not 0");
	e[0] = str("123456789", "v");
	refused(e, 1, "claim-name-invalid", "not 9");
	e[0] = str("12345678", "v");
	refused(e, 1, "claim-name-invalid", "digits only");
	e[0] = str("__proto__", "v");
	refused(e, 1, "claim-name-invalid", "1 to 8 bytes"); /* too long for these limits first */
	e[0] = str("a\xff", "v");
	refused(e, 1, "claim-utf8", "extra claim #1: the name is not valid UTF-8");
	e[0] = str("a\n", "v");
	e[1] = str("a\n", "w");
	refused(e, 2, "claim-name-repeated", "extra claim #2: the name is given more than once");
	e[0] = str("Exp", "v"); /* names compare exactly */
	e[1] = str("-1", "v");
	e[2] = str("1.5", "v");
	accepted(e, 3);
	refused(e, 4, "claim-count", "4 extra claims given; the limit is 3");
}

static void values(void)
{
	ExtraClaim e[1];
	Span items[3] = { span("abc"), span("d"), span("") };

	/* 15 letters and two quotes: exactly 17 bytes as JSON. */
	e[0] = str("s", "xxxxxxxxxxxxxxx");
	accepted(e, 1);
	e[0] = str("s", "xxxxxxxxxxxxxxxx");
	refused(e, 1, "claim-value-too-long", "extra claim \"s\": the value takes more than 17 bytes");
	e[0] = str("s", "\x01\x02"); /* "\u0001\u0002": 14 bytes */
	accepted(e, 1);
	e[0] = str("s", "\x01\x02\x03");
	refused(e, 1, "claim-value-too-long", "17 bytes");
	e[0] = str("s", "\xed\xa0\x80"); /* a surrogate, encoded */
	refused(e, 1, "claim-utf8", "value is not valid UTF-8");
	e[0] = integer("n", JS_MAX_SAFE_INTEGER);
	accepted(e, 1);
	e[0] = integer("n", -JS_MAX_SAFE_INTEGER);
	accepted(e, 1);
	e[0] = integer("n", JS_MAX_SAFE_INTEGER + 1);
	refused(e, 1, "claim-integer-range", "9007199254740992 is outside");
	e[0] = integer("n", INT64_MIN);
	refused(e, 1, "claim-integer-range", "outside");
	e[0] = (ExtraClaim){ .name = span("u"), .type = EXTRA_UNSET };
	refused(e, 1, "claim-type", "extra claim \"u\" has no value");
	/* ["abc","d",""]: 14 bytes */
	e[0] = (ExtraClaim){ .name = span("l"), .type = EXTRA_STRING_LIST, .list = { items, 3 } };
	accepted(e, 1);
	items[2] = span("xyzw");
	refused(e, 1, "claim-value-too-long", "17 bytes");
}

static void payload(void)
{
	Span items[2] = { span("a\"b"), span("\xf0\x9f\x98\x80") };
	ExtraClaim e[5] = {
		str("z\t", "\x7f/\xe2\x80\xa8"),
		integer("n", -9007199254740991),
		{ .name = span("t"), .type = EXTRA_BOOLEAN, .boolean = true },
		{ .name = span("f"), .type = EXTRA_BOOLEAN, .boolean = false },
		{ .name = span("l"), .type = EXTRA_STRING_LIST, .list = { items, 2 } },
	};
	ZumoClaims c = {
		.exp = 100, .audience = span("A"), .user_id = span("A:1"), .access_token = span("t"),
		.iat = 40, .nbf = 41, .jti = span("AAAAAAAAAAAAAAAAAAAAAA"), .extras = e, .n_extras = 5,
	};
	Buf b = {};

	check_int(claims_zumo_payload(&b, "i", &c), 0);
	check_mem(b.data, b.len,
		  "{\"exp\":100,\"iss\":\"i\",\"ver\":2,\"aud\":\"A\",\"uid\":\"A:1\","
		  "\"urn:microsoft:credentials\":{\"accessToken\":\"t\"},\"iat\":40,\"nbf\":41,"
		  "\"jti\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"z\\t\":\"\x7f/\xe2\x80\xa8\","
		  "\"n\":-9007199254740991,\"t\":true,\"f\":false,\"l\":[\"a\\\"b\",\"\xf0\x9f\x98\x80\"]}");
	buf_done(&b);
}

static void standard(void)
{
	ZumoClaims a = {}, b = {};
	char ja[JTI_CHARS + 1], jb[JTI_CHARS + 1];

	check_int(claims_add_standard(&a, 0, 1234, ja), 0);
	check_int(a.iat, 0);
	check_int(a.nbf, 0);
	check(a.jti.p == NULL);
	check_int(claims_add_standard(&a, ADD_CLAIM_IAT | ADD_CLAIM_NBF | ADD_CLAIM_JTI, 1234, ja), 0);
	check_int(claims_add_standard(&b, ADD_CLAIM_JTI, 1234, jb), 0);
	check_int(a.iat, 1234);
	check_int(a.nbf, 1234);
	check_int(b.iat, 0);
	check(a.jti.p == ja);
	check_int(a.jti.n, JTI_CHARS);
	check_int(strlen(ja), JTI_CHARS);
	check_int(strspn(ja, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
		  JTI_CHARS);
	check(strcmp(ja, jb) != 0);
}

int main(void)
{
	names();
	values();
	payload();
	standard();
	return 0;
}
