/* SPDX-License-Identifier: MIT */
/*
 * libhsmjwt's side of tests/bench/clients.py: signs on one connection for
 * SECONDS, DEPTH requests in flight (1: hsmjwt_sign(), one at a time; more:
 * submit and collect_next), and prints "TOKENS SECONDS".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "hsmjwt.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(const char *what, int r, hsmjwt_client *c)
{
	const char *m = hsmjwt_client_error_message(c);

	fprintf(stderr, "client-bench: %s: %s%s%s\n", what, hsmjwt_strerror(r), m ? ": " : "",
		m ? m : "");
	return 1;
}

int main(int argc, char *argv[])
{
	hsmjwt_client *c = NULL;
	hsmjwt_sign_request *req = NULL;
	hsmjwt_token *t = NULL;
	unsigned long n = 0;
	double t0, end;
	uint64_t id;
	int depth, r;

	if (argc != 4 || (depth = atoi(argv[3])) < 1) {
		fprintf(stderr, "usage: client-bench SOCKET SECONDS DEPTH\n");
		return 2;
	}
	r = hsmjwt_client_connect(argv[1], &c);
	if (r < 0)
		return fail("connect", r, c);
	if (hsmjwt_sign_request_new(&req) < 0 || hsmjwt_sign_request_set_audience(req, "Custom") < 0 ||
	    hsmjwt_sign_request_set_user_id(req, "Custom:bench") < 0 ||
	    hsmjwt_sign_request_set_lifetime(req, 600) < 0 ||
	    hsmjwt_client_set_max_in_flight(c, (uint32_t)depth) < 0)
		return fail("request", -ENOMEM, c);
	t0 = now();
	end = t0 + atof(argv[2]);
	while (now() < end) {
		if (depth == 1) {
			r = hsmjwt_sign(c, req, &t);
		} else {
			while (hsmjwt_sign_submit(c, req, &id) >= 0)
				;
			r = hsmjwt_sign_collect_next(c, 0, &id, &t);
		}
		if (r < 0)
			return fail("sign", r, c);
		t = hsmjwt_token_free(t);
		n++;
	}
	while (hsmjwt_client_get_in_flight(c) > 0) {
		r = hsmjwt_sign_collect_next(c, 0, &id, &t);
		if (r < 0)
			return fail("sign", r, c);
		t = hsmjwt_token_free(t);
		n++;
	}
	printf("%lu %.6f\n", n, now() - t0);
	hsmjwt_sign_request_free(req);
	hsmjwt_client_free(c);
	return 0;
}
