/* SPDX-License-Identifier: MIT */
/*
 * Frame splitting as the server does it, then request decoding as
 * request.c does it: unpack, the NUL walk, and the error reply encoding.
 */
#include <string.h>

#include "frame.h"
#include "fuzz.h"
#include "hsmjwt.pb-c.h"
#include "nul-check.h"

#define MAX_FRAME 4096u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	uint32_t n;

	for (;;) {
		int r = frame_peek(data + off, size - off, MAX_FRAME, &n);
		Hsmjwt__V1__Request *req;
		const char *field = NULL;

		if (r <= 0)
			break;
		if (FRAME_HEADER_SIZE + (size_t)n > size - off)
			__builtin_trap(); /* frame_peek promised a whole frame */
		req = hsmjwt__v1__request__unpack(NULL, n, data + off + FRAME_HEADER_SIZE);
		if (req) {
			(void)proto_find_nul_in_strings(&hsmjwt__v1__request__descriptor,
							data + off + FRAME_HEADER_SIZE, n, &field);
			if (req->body_case == HSMJWT__V1__REQUEST__BODY_SIGN && req->sign->audience)
				(void)strlen(req->sign->audience);
			hsmjwt__v1__request__free_unpacked(req, NULL);
		}
		off += FRAME_HEADER_SIZE + n;
	}
	return 0;
}
