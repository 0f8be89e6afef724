/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A Service on the mock PKCS#11 module (tests/mock-pkcs11), for tests that
 * drive request handling without SoftHSM. The module's path comes from
 * $HSMJWT_MOCK_MODULE (meson sets it); its faults from a control file this
 * header rewrites (mock_control()).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "frame.h"
#include "hsmjwt.pb-c.h"
#include "request.h"
#include "service.h"
#include "tests.h"

static inline void service_freep(Service **s)
{
	service_free(*s);
}

static char mock_dir[] = "/tmp/hsmjwt-mock-XXXXXX";
static char mock_control_path[sizeof(mock_dir) + 16];

/* The tokens of the mock's "zumo" key verify with this one (spec/zumo-v2.md). */
#define MOCK_ZUMO_MASTER "shared-vector-1 master key"

#define MOCK_CONFIG_KEYS                                                             \
	"[key zumo]\nuri = pkcs11:token=hsmjwt;object=zumo;type=secret-key\n"         \
	"max-lifetime = 400d\n"                                                      \
	"[policy root]\nuid = 0\nkeys = *\naudiences = *\nuser-ids = *\nverify = yes\n" \
	"credentials = yes\nextra-claims = *\nlegacy-claims = yes\n"

#define MOCK_CONFIG_KEYS_ALLOW_EXTRACTABLE                                           \
	"[key zumo]\nuri = pkcs11:token=hsmjwt;object=zumo;type=secret-key\n"         \
	"max-lifetime = 400d\nallow-extractable = yes\n"                              \
	"[policy root]\nuid = 0\nkeys = *\naudiences = *\nuser-ids = *\nverify = yes\n" \
	"credentials = yes\nextra-claims = *\nlegacy-claims = yes\n"

/* Replaces the fault spec (mock-faults.h); "" clears it. */
static inline void mock_control(const char *spec)
{
	char tmp[sizeof(mock_control_path) + 8];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.new", mock_control_path);
	f = fopen(tmp, "we");
	check(f);
	fputs(spec, f);
	check(fclose(f) == 0);
	check(rename(tmp, mock_control_path) == 0);
}

/* Sets up the directory, the PIN file and the control file; returns the module, or exits 77. */
static inline const char *mock_setup(void)
{
	const char *module = getenv("HSMJWT_MOCK_MODULE");
	char pin[sizeof(mock_dir) + 8];
	FILE *f;

	if (!module || access(module, R_OK) < 0) {
		fprintf(stderr, "HSMJWT_MOCK_MODULE is not set or not readable\n");
		exit(EXIT_TEST_SKIP);
	}
	check(mkdtemp(mock_dir));
	snprintf(mock_control_path, sizeof(mock_control_path), "%s/control", mock_dir);
	snprintf(pin, sizeof(pin), "%s/pin", mock_dir);
	f = fopen(pin, "we");
	check(f);
	fputs("1234\n", f);
	check(fclose(f) == 0);
	check(chmod(pin, 0600) == 0);
	mock_control("");
	check(setenv("HSMJWT_MOCK_PKCS11_CONTROL", mock_control_path, 1) == 0);
	return module;
}

static inline void mock_teardown(void)
{
	char p[sizeof(mock_dir) + 32];

	for (const char *const *n = (const char *const[]){ "pin", "control", "audit.jsonl", NULL }; *n;
	     n++) {
		snprintf(p, sizeof(p), "%s/%s", mock_dir, *n);
		(void)unlink(p);
	}
	(void)rmdir(mock_dir);
}

/* A Service on the mock token with keys (MOCK_CONFIG_KEYS or more); < 0 as service_new(). */
static inline int mock_service_new(const char *module, const char *keys, Service **ret)
{
	char *text = NULL, *err = NULL;
	Config *c = NULL;
	FILE *f;
	int r;

	check(asprintf(&text,
		       "[audit]\nfile = %s/audit.jsonl\njournal = no\nsync = none\n"
		       "[token]\nmodule = %s\nuri = pkcs11:token=hsmjwt\npin-file = %s/pin\n%s",
		       mock_dir, module, mock_dir, keys) > 0);
	f = fmemopen(text, strlen(text), "r");
	check(f);
	r = config_load_file(f, "mock.conf", &c, &err);
	fclose(f);
	if (r < 0)
		fprintf(stderr, "config: %s\n", err ? err : "?");
	check(r >= 0);
	free(text);
	return service_new(c, ret);
}

/*
 * One request through request_handle(), its token work run here at once
 * (as a worker would, on a session of its own), then request_complete():
 * the one response, decoded, or NULL if request_handle() failed. *ret_token_result
 * gets the token call's -errno (0 when the request did not reach the token).
 */
static inline Hsmjwt__V1__Response *mock_roundtrip(Service *s, const uint8_t *payload, size_t n,
					    int *ret_token_result)
{
	static const Peer root = { .pid = 1, .uid = 0, .gid = 0, .pidfd = -EBADF };
	Buf scratch = {}, out = {};
	Pending *p = NULL;
	Hsmjwt__V1__Response *resp;
	int r, token_result = 0;

	r = request_handle(s, &root, payload, n, &scratch, &out, &p);
	if (r < 0) {
		buf_done(&scratch);
		buf_done(&out);
		return NULL;
	}
	if (p) {
		Token *t = service_token(s);
		TokenSession session;

		check(out.len == 0);
		check(token_session_open(t, &session) >= 0);
		p->job.run(&p->job, t, session);
		token_session_close(t, session);
		token_result = request_token_result(p);
		if (token_error_is_device_failure(token_result))
			service_token_failed(s, token_result);
		check(request_complete(p, &scratch, &out) >= 0);
		pending_free(p);
	}
	check(out.len >= FRAME_HEADER_SIZE);
	check_int(frame_header_get((const uint8_t *)out.data), out.len - FRAME_HEADER_SIZE);
	resp = hsmjwt__v1__response__unpack(NULL, out.len - FRAME_HEADER_SIZE,
					    (const uint8_t *)out.data + FRAME_HEADER_SIZE);
	check(resp);
	buf_done(&scratch);
	buf_done(&out);
	if (ret_token_result)
		*ret_token_result = token_result;
	return resp;
}

static inline uint8_t *mock_pack(const Hsmjwt__V1__Request *req, size_t *ret_n)
{
	size_t n = hsmjwt__v1__request__get_packed_size(req);
	uint8_t *p = malloc(n ? n : 1);

	check(p);
	hsmjwt__v1__request__pack(req, p);
	*ret_n = n;
	return p;
}
