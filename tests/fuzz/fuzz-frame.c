/* SPDX-License-Identifier: MIT */
/*
 * Frames split as the server splits them, each fed to the real
 * request_handle() with its arena allocator, on a Service backed by the
 * mock PKCS#11 module (set up once): decoding, the NUL walk, the policy
 * and claim checks, the signing input, the token call (run here at once,
 * as a worker would) and the response encoding.
 */
#include <limits.h>
#include <string.h>

#include "frame.h"
#include "fuzz.h"
#include "mock-service.h"

#define MAX_FRAME 4096u

static Service *service;
static TokenSession session;

static void done(void)
{
	token_session_close(service_token(service), session);
	service = service_free(service);
	mock_teardown();
}

/* $HSMJWT_MOCK_MODULE (meson test sets it), else the module beside this program's build dir. */
static void setup(void)
{
	static char module[PATH_MAX + 64];
	char exe[PATH_MAX];
	ssize_t n;
	char *slash;

	if (!getenv("HSMJWT_MOCK_MODULE")) {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		check(n > 0);
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		check(slash);
		*slash = '\0';
		snprintf(module, sizeof(module), "%s/../mock-pkcs11/mock-pkcs11.so", exe);
		check(setenv("HSMJWT_MOCK_MODULE", module, 1) == 0);
	}
	check_int(mock_service_new(mock_setup(), MOCK_CONFIG_KEYS
				   "[key es]\nalg = ES256\nissuer = https://i\n"
				   "uri = pkcs11:token=hsmjwt;object=es\n", &service), 0);
	check(token_session_open(service_token(service), &session) >= 0);
	atexit(done);
}

static void handle(const uint8_t *payload, size_t n, Buf *scratch, Buf *out)
{
	static const Peer root = { .pid = 1, .pidfd = -EBADF };
	Pending *p = NULL;
	size_t before = out->len;

	if (request_handle(service, &root, payload, n, scratch, out, &p) < 0)
		return;
	if (p) {
		if (out->len != before)
			__builtin_trap(); /* a pending request appends nothing yet */
		p->job.run(&p->job, service_token(service), session);
		(void)request_complete(p, scratch, out);
		pending_free(p);
	}
	if (out->len - before < FRAME_HEADER_SIZE ||
	    frame_header_get((const uint8_t *)out->data + before) != out->len - before - FRAME_HEADER_SIZE)
		__builtin_trap(); /* exactly one response frame per request */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Buf scratch = {}, out = {};
	size_t off = 0;
	uint32_t n;

	if (!service)
		setup();
	for (;;) {
		int r = frame_peek(data + off, size - off, MAX_FRAME, &n);

		if (r <= 0)
			break;
		if (FRAME_HEADER_SIZE + (size_t)n > size - off)
			__builtin_trap(); /* frame_peek promised a whole frame */
		handle(data + off + FRAME_HEADER_SIZE, n, &scratch, &out);
		buf_reset(&out);
		off += FRAME_HEADER_SIZE + n;
	}
	buf_done(&scratch);
	buf_done(&out);
	return 0;
}
