/* SPDX-License-Identifier: MIT */
/* ProtoArena: requests decode into it, spill to the heap when it is full, and are wiped. */
#include <stdlib.h>

#include "hsmjwt.pb-c.h"
#include "tests.h"
#include "wipe-alloc.h"

static size_t pack(const char *audience, uint8_t **ret)
{
	Hsmjwt__V1__SignRequest sr = HSMJWT__V1__SIGN_REQUEST__INIT;
	Hsmjwt__V1__Request req = HSMJWT__V1__REQUEST__INIT;
	size_t n;

	sr.audience = (char *)audience;
	sr.user_id = (char *)"Custom:42";
	sr.key = (char *)"zumo";
	req.id = 7;
	req.body_case = HSMJWT__V1__REQUEST__BODY_SIGN;
	req.sign = &sr;
	n = hsmjwt__v1__request__get_packed_size(&req);
	*ret = malloc(n);
	check(*ret);
	hsmjwt__v1__request__pack(&req, *ret);
	return n;
}

static void decode(const char *audience, bool spills)
{
	ProtoArena *a = malloc(sizeof(*a));
	Hsmjwt__V1__Request *req;
	uint8_t *wire;
	size_t n = pack(audience, &wire), used;

	check(a);
	memset(a->space, 0xaa, sizeof(a->space)); /* as malloc might leave it */
	proto_arena_init(a);
	req = hsmjwt__v1__request__unpack(&a->allocator, n, wire);
	check(req);
	check_int(req->id, 7);
	check(req->body_case == HSMJWT__V1__REQUEST__BODY_SIGN);
	check(strcmp(req->sign->audience, audience) == 0);
	check(strcmp(req->sign->user_id, "Custom:42") == 0);
	check(strcmp(req->sign->key, "zumo") == 0);
	check_int(a->spilled, spills);
	check(a->used > 0 && a->used <= sizeof(a->space));
	check_int((uintptr_t)req % alignof(max_align_t), 0);
	if (a->spilled)
		hsmjwt__v1__request__free_unpacked(req, &a->allocator);
	used = a->used;
	proto_arena_done(a);
	check_int(a->used, 0);
	for (size_t i = 0; i < used; i++)
		check(a->space[i] == 0);
	free(wire);
	free(a);
}

int main(void)
{
	char big[4000];

	decode("Custom", false);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	decode(big, true);
	big[PROTO_ARENA_SIZE - 64] = '\0'; /* the messages fit, then this string does not */
	decode(big, true);
	return 0;
}
