/* SPDX-License-Identifier: MIT */
/*
 * The two vectors of spec/zumo-v2.md, byte for byte, at the encoder level:
 * our header and payload encoders plus OpenSSL's HMAC on the host stand in
 * for the token here; the integration test does the same through SoftHSM.
 */
#include <openssl/hmac.h>

#include "base64url.h"
#include "claims.h"
#include "zumo-key.h"
#include "tests.h"

#define MASTER "shared-vector-1 master key"

static const char vector1[] =
	"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6IjAifQ.eyJleHAiOjE3NjcyMjU2MDAsImlzcyI6InVyb"
	"jptaWNyb3NvZnQ6d2luZG93cy1henVyZTp6dW1vIiwidmVyIjoyLCJhdWQiOiJDdXN0b20iLCJ1aWQiOiJDdXN0b2"
	"06NDIifQ.P5Iev-PlRoFmB5hvugkaO5IWM0nrTTo3c2M97XvqX_I";

static const char vector2[] =
	"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6IjAifQ.eyJleHAiOjE3OTg3NjE2MDAsImlzcyI6InVyb"
	"jptaWNyb3NvZnQ6d2luZG93cy1henVyZTp6dW1vIiwidmVyIjoyLCJhdWQiOiJGYWNlYm9vayIsInVpZCI6IkZhY2"
	"Vib29rOjEwMjAzMDQwIiwidXJuOm1pY3Jvc29mdDpjcmVkZW50aWFscyI6eyJhY2Nlc3NUb2tlbiI6IkVBQUItZG"
	"Vtby10b2tlbiJ9fQ.0UHA-ECFYxuTdDZ7JeHup_Das9levN0mz32wbAo3Ms4";

static Span span(const char *s)
{
	return (Span){ s, strlen(s) };
}

static void build(const uint8_t key[32], const ZumoClaims *c, Buf *token)
{
	Buf header = {}, payload = {};
	uint8_t mac[32];
	unsigned int mac_len = 0;

	check_int(claims_header(&header, "HS256", "0"), 0);
	check_mem(header.data, header.len, "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"0\"}");
	check_int(claims_zumo_payload(&payload, "urn:microsoft:windows-azure:zumo", c), 0);
	base64url_append(token, header.data, header.len);
	buf_append_char(token, '.');
	base64url_append(token, payload.data, payload.len);
	check(HMAC(EVP_sha256(), key, 32, (const uint8_t *)token->data, token->len, mac, &mac_len));
	buf_append_char(token, '.');
	base64url_append(token, mac, mac_len);
	check_int(token->error, 0);
	buf_done(&header);
	buf_done(&payload);
}

int main(void)
{
	static const uint8_t expected_key[32] = {
		0xab, 0x16, 0xca, 0xb7, 0x96, 0xb8, 0xc0, 0xae, 0xf5, 0x13, 0x00, 0xaf, 0xcd, 0x26, 0x79, 0xb9,
		0xce, 0x9c, 0x3d, 0x0e, 0xce, 0x88, 0x01, 0xaa, 0x57, 0x5c, 0x97, 0x7e, 0x7e, 0x8d, 0x71, 0x60,
	};
	uint8_t key[32];
	Buf token = {}, payload = {};

	check_int(zumo_derive_signing_key(MASTER, strlen(MASTER), key), 0);
	check(memcmp(key, expected_key, 32) == 0);

	ZumoClaims c1 = { .exp = 1767225600, .audience = span("Custom"), .user_id = span("Custom:42") };
	check_int(claims_zumo_payload(&payload, "urn:microsoft:windows-azure:zumo", &c1), 0);
	check_mem(payload.data, payload.len,
		  "{\"exp\":1767225600,\"iss\":\"urn:microsoft:windows-azure:zumo\",\"ver\":2,"
		  "\"aud\":\"Custom\",\"uid\":\"Custom:42\"}");
	build(key, &c1, &token);
	check_mem(token.data, token.len, vector1);

	buf_reset(&token);
	ZumoClaims c2 = {
		.exp = 1798761600,
		.audience = span("Facebook"),
		.user_id = span("Facebook:10203040"),
		.access_token = span("EAAB-demo-token"),
	};
	build(key, &c2, &token);
	check_mem(token.data, token.len, vector2);

	/* An empty access token still yields the credentials claim, as an object. */
	buf_reset(&payload);
	ZumoClaims c3 = { .exp = 1, .audience = span("A"), .user_id = span("A:1"), .access_token = span("") };
	check_int(claims_zumo_payload(&payload, "i", &c3), 0);
	check_mem(payload.data, payload.len,
		  "{\"exp\":1,\"iss\":\"i\",\"ver\":2,\"aud\":\"A\",\"uid\":\"A:1\","
		  "\"urn:microsoft:credentials\":{\"accessToken\":\"\"}}");

	buf_done(&token);
	buf_done(&payload);
	return 0;
}
