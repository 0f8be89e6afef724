/* SPDX-License-Identifier: MIT */
/*
 * Signs COUNT tokens over ONE libhsmjwt connection, PAUSE_MS apart, printing
 * each; exits 1 at the first failure. The restart test kills the daemon in
 * between to show the library's transparent retry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "hsmjwt.h"

int main(int argc, char *argv[])
{
	hsmjwt_client *c = NULL;
	hsmjwt_sign_request *req = NULL;
	struct timespec pause;
	int count, r;

	if (argc != 4) {
		fprintf(stderr, "usage: client-loop SOCKET COUNT PAUSE_MS\n");
		return 2;
	}
	count = atoi(argv[2]);
	pause = (struct timespec){ atoi(argv[3]) / 1000, (long)(atoi(argv[3]) % 1000) * 1000000L };
	r = hsmjwt_client_connect(argv[1], &c);
	if (r >= 0)
		r = hsmjwt_sign_request_new(&req);
	if (r >= 0)
		r = hsmjwt_sign_request_set_audience(req, "Custom");
	if (r >= 0)
		r = hsmjwt_sign_request_set_user_id(req, "Custom:loop");
	for (int i = 0; r >= 0 && i < count; i++) {
		hsmjwt_token *t = NULL;

		r = hsmjwt_sign(c, req, &t);
		if (r >= 0) {
			printf("%s\n", hsmjwt_token_get_string(t));
			fflush(stdout);
		}
		hsmjwt_token_free(t);
		nanosleep(&pause, NULL);
	}
	if (r < 0)
		fprintf(stderr, "client-loop: %s: %s\n", hsmjwt_strerror(r),
			hsmjwt_client_error_message(c) ? hsmjwt_client_error_message(c) : "");
	hsmjwt_sign_request_free(req);
	hsmjwt_client_free(c);
	return r < 0 ? 1 : 0;
}
