/* SPDX-License-Identifier: MIT */
/*
 * PayloadSignRequest on the mock PKCS#11 module: the real request_handle()
 * and service. The payload is signed byte for byte under the key's header;
 * each broken rule is refused with its name; no grant, no signature.
 */
#include <time.h>

#include "base64url.h"
#include "mock-service.h"

typedef Hsmjwt__V1__Response Response;

#define ES_KEY                                                                        \
	"[key es]\nalg = ES256\nissuer = https://k8s.example\nmax-lifetime = 1h\n"     \
	"uri = pkcs11:token=hsmjwt;object=es\n"
#define ZUMO_KEY                                                                      \
	"[key zumo]\nuri = pkcs11:token=hsmjwt;object=zumo;type=secret-key\n"           \
	"max-lifetime = 400d\n"
#define GRANT "[policy k]\nuid = 0\nkeys = *\naudiences = api *.example\n" \
	      "user-ids = system:serviceaccount:*\nverify = yes\npayload-signing = yes\n"
#define NO_GRANT "[policy k]\nuid = 0\nkeys = *\naudiences = *\nuser-ids = *\nverify = yes\n"

static const char *module;

static char *b64(const char *json)
{
	Buf b = {};
	char *ret;

	base64url_append(&b, json, strlen(json));
	ret = strdup(buf_cstr(&b));
	buf_done(&b);
	check(ret);
	return ret;
}

static Response *sign_payload(Service *s, const char *key, const char *payload_b64)
{
	Hsmjwt__V1__Request req = HSMJWT__V1__REQUEST__INIT;
	Hsmjwt__V1__PayloadSignRequest ps = HSMJWT__V1__PAYLOAD_SIGN_REQUEST__INIT;
	_cleanup_free_ uint8_t *p = NULL;
	size_t n;

	ps.payload_b64url = (char *)payload_b64;
	ps.key = (char *)key;
	req.id = 42;
	req.body_case = HSMJWT__V1__REQUEST__BODY_SIGN_PAYLOAD;
	req.sign_payload = &ps;
	p = mock_pack(&req, &n);
	return mock_roundtrip(s, p, n, NULL);
}

/* A kube-like payload with exp = now + lifetime; extra goes in before the closing brace. */
static char *payload_with(long lifetime, const char *iss, const char *aud, const char *sub,
			  const char *extra)
{
	char *json = NULL, *ret;

	check(asprintf(&json,
		       "{\"aud\":%s,\"exp\":%lld,\"iat\":1,\"iss\":\"%s\","
		       "\"kubernetes.io\":{\"namespace\":\"ns\"},\"sub\":\"%s\"%s}",
		       aud, (long long)time(NULL) + lifetime, iss, sub, extra) > 0);
	ret = b64(json);
	free(json);
	return ret;
}

static char *payload(long lifetime, const char *iss, const char *extra)
{
	return payload_with(lifetime, iss, "[\"api\",\"x.example\"]",
			    "system:serviceaccount:ns:sa", extra);
}

static void check_refused(Service *s, const char *key, const char *payload_b64, int code,
			  const char *rule)
{
	Response *r = sign_payload(s, key, payload_b64);

	check_int(r->id, 42);
	check_int(r->body_case, HSMJWT__V1__RESPONSE__BODY_ERROR);
	if (r->error->code != (Hsmjwt__V1__ErrorCode)code)
		fprintf(stderr, "expected %s: %s (%s)\n", rule, r->error->rule, r->error->message);
	check_int(r->error->code, code);
	if (strcmp(r->error->rule, rule) != 0) {
		fprintf(stderr, "rule %s, expected %s (%s)\n", r->error->rule, rule,
			r->error->message);
		check(!"wrong rule");
	}
	hsmjwt__v1__response__free_unpacked(r, NULL);
}

static void test_signed_as_given(Service *s)
{
	_cleanup_free_ char *p = payload(600, "https://k8s.example", "");
	Hsmjwt__V1__Request req = HSMJWT__V1__REQUEST__INIT;
	Hsmjwt__V1__VerifyRequest vr = HSMJWT__V1__VERIFY_REQUEST__INIT;
	_cleanup_free_ uint8_t *packed = NULL;
	const char *dot1, *dot2;
	Response *r = sign_payload(s, "es", p), *v;
	size_t n;

	check_int(r->body_case, HSMJWT__V1__RESPONSE__BODY_SIGN);
	dot1 = strchr(r->sign->token, '.');
	dot2 = strrchr(r->sign->token, '.');
	/* The key's header ({"alg":"ES256","typ":"JWT","kid":...}), the payload untouched. */
	check(strncmp(r->sign->token, "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6", 44) == 0);
	check_int((size_t)(dot2 - dot1 - 1), strlen(p));
	check(memcmp(dot1 + 1, p, strlen(p)) == 0);
	check_int(strlen(dot2 + 1), 86);
	check(strcmp(r->sign->key, "es") == 0);
	check(r->sign->expires_at > time(NULL) + 590);
	/* The daemon's own verify agrees: the signature covers exactly those bytes. */
	vr.token = r->sign->token;
	req.body_case = HSMJWT__V1__REQUEST__BODY_VERIFY;
	req.verify = &vr;
	packed = mock_pack(&req, &n);
	v = mock_roundtrip(s, packed, n, NULL);
	check_int(v->body_case, HSMJWT__V1__RESPONSE__BODY_VERIFY);
	check(v->verify->valid);
	hsmjwt__v1__response__free_unpacked(v, NULL);
	hsmjwt__v1__response__free_unpacked(r, NULL);
}

static void test_refusals(Service *s)
{
	const int inval = HSMJWT__V1__ERROR_CODE__ERROR_CODE_INVALID_REQUEST;
	const int denied = HSMJWT__V1__ERROR_CODE__ERROR_CODE_PERMISSION_DENIED;
	_cleanup_free_ char *arr = b64("[1]"), *dup = b64("{\"a\":1,\"a\":2}");
	_cleanup_free_ char *noexp = b64("{\"iss\":\"https://k8s.example\",\"sub\":\"system:serviceaccount:a:b\",\"aud\":\"api\"}");
	_cleanup_free_ char *fexp = payload(0, "https://k8s.example", ",\"exp\":1e12");
	_cleanup_free_ char *toolong = payload(3601, "https://k8s.example", "");
	_cleanup_free_ char *past = payload(-1, "https://k8s.example", "");
	_cleanup_free_ char *iss = payload(60, "https://other.example", "");
	_cleanup_free_ char *nul = b64("{\"iss\":\"https://k8s.example\\u0000\"}");
	_cleanup_free_ char *audbad = b64("{\"iss\":\"https://k8s.example\",\"sub\":\"system:serviceaccount:a:b\",\"aud\":[\"api\",7]}");
	_cleanup_free_ char *audgrant = payload_with(60, "https://k8s.example", "[\"api\",\"evil\"]",
						     "system:serviceaccount:a:b", "");
	_cleanup_free_ char *subgrant = payload_with(60, "https://k8s.example", "\"api\"", "root", "");
	_cleanup_free_ char *ok = payload(60, "https://k8s.example", "");

	check_refused(s, "es", arr, inval, "payload-json");
	check_refused(s, "es", dup, inval, "payload-json");
	check_refused(s, "es", noexp, inval, "payload-exp");
	check_refused(s, "es", fexp, inval, "payload-json"); /* exp twice */
	check_refused(s, "es", toolong, inval, "expiry-too-long");
	check_refused(s, "es", past, inval, "expiry-past");
	check_refused(s, "es", iss, inval, "payload-iss");
	check_refused(s, "es", nul, inval, "payload-json");
	check_refused(s, "es", audbad, inval, "payload-aud");
	check_refused(s, "es", "e31", inval, "payload-base64url"); /* '{}' with stray low bits */
	check_refused(s, "es", "e30=", inval, "payload-base64url");
	check_refused(s, "es", "", inval, "payload-base64url");
	check_refused(s, "zumo", ok, inval, "key-symmetric");
	check_refused(s, "nope", ok, inval, "key-unknown");
	/* The policy's globs: every aud, and sub. */
	check_refused(s, "es", audgrant, denied, "");
	check_refused(s, "es", subgrant, denied, "");
}

static void test_no_grant(void)
{
	_cleanup_(service_freep) Service *s = NULL;
	_cleanup_free_ char *ok = payload(60, "https://k8s.example", "");
	Response *r;

	check_int(mock_service_new(module, ZUMO_KEY ES_KEY NO_GRANT, &s), 0);
	r = sign_payload(s, "es", ok);
	check_int(r->body_case, HSMJWT__V1__RESPONSE__BODY_ERROR);
	check_int(r->error->code, HSMJWT__V1__ERROR_CODE__ERROR_CODE_PERMISSION_DENIED);
	check(strstr(r->error->message, "payload signing"));
	hsmjwt__v1__response__free_unpacked(r, NULL);
}

/* KeysResponse.public_keys: the DER of every asymmetric key, none for HMAC. */
static void test_public_keys(Service *s)
{
	Hsmjwt__V1__Request req = HSMJWT__V1__REQUEST__INIT;
	Hsmjwt__V1__KeysRequest kr = HSMJWT__V1__KEYS_REQUEST__INIT;
	_cleanup_free_ uint8_t *p = NULL;
	Response *r;
	size_t n;

	req.body_case = HSMJWT__V1__REQUEST__BODY_KEYS;
	req.keys = &kr;
	p = mock_pack(&req, &n);
	r = mock_roundtrip(s, p, n, NULL);
	check_int(r->body_case, HSMJWT__V1__RESPONSE__BODY_KEYS);
	check_int(r->keys->n_public_keys, 1);
	check(strcmp(r->keys->public_keys[0]->key, "es") == 0);
	check(strcmp(r->keys->public_keys[0]->alg, "ES256") == 0);
	check(strcmp(r->keys->public_keys[0]->state, "active") == 0);
	check_int(r->keys->public_keys[0]->max_lifetime_seconds, 3600);
	/* P-256 SubjectPublicKeyInfo: 91 bytes, SEQUENCE first. */
	check_int(r->keys->public_keys[0]->spki_der.len, 91);
	check_int(r->keys->public_keys[0]->spki_der.data[0], 0x30);
	hsmjwt__v1__response__free_unpacked(r, NULL);
}

int main(void)
{
	_cleanup_(service_freep) Service *s = NULL;

	module = mock_setup();
	check_int(mock_service_new(module, ZUMO_KEY ES_KEY GRANT, &s), 0);
	test_signed_as_given(s);
	test_refusals(s);
	test_public_keys(s);
	s = service_free(s);
	test_no_grant();
	mock_teardown();
	return 0;
}
