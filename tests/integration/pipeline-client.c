/* SPDX-License-Identifier: MIT */
/*
 * Drives libhsmjwt's pipelining API for test_pipeline.py, which starts the
 * daemon (or a scripted peer) and checks every token this prints.
 *
 * Usage: pipeline-client MODE SOCKET
 *   main     against hsmjwtd: bound, collect by id and in order, refusals,
 *            non-blocking collection, hsmjwt_sign() in between
 *   broken   against hsmjwtd with max-frame = 1024: an over-long frame ends
 *            the stream, every request still in flight gets one outcome,
 *            the next submit connects again
 *   reorder  against the scripted peer, which answers 4 requests with ids
 *            3, 4, 2, 1 in one write
 * Prints "token UID JWT" per token; exits non-zero on the first failed check.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "hsmjwt.h"
#include "tests.h"

#define AT_TOO_LONG_FOR_1024 2000

static hsmjwt_client *client;

static hsmjwt_sign_request *request(const char *uid, uint64_t lifetime)
{
	hsmjwt_sign_request *r = NULL;

	check_int(hsmjwt_sign_request_new(&r), 0);
	check_int(hsmjwt_sign_request_set_audience(r, "Custom"), 0);
	check_int(hsmjwt_sign_request_set_user_id(r, uid), 0);
	check_int(hsmjwt_sign_request_set_lifetime(r, lifetime), 0);
	return r;
}

static uint64_t submit(const char *uid, uint64_t lifetime)
{
	hsmjwt_sign_request *r = request(uid, lifetime);
	uint64_t id = 0;

	check_int(hsmjwt_sign_submit(client, r, &id), 0);
	check(id != 0);
	hsmjwt_sign_request_free(r);
	return id;
}

static void print_token(const char *uid, hsmjwt_token *t)
{
	printf("token %s %s\n", uid, hsmjwt_token_get_string(t));
	hsmjwt_token_free(t);
}

static void collect_by_id(uint64_t id, const char *uid)
{
	hsmjwt_token *t = NULL;

	check_int(hsmjwt_sign_collect(client, id, 0, &t), 0);
	print_token(uid, t);
}

static void test_bound_and_order(void)
{
	char uid[8][32];
	uint64_t ids[8], id = 77;
	hsmjwt_sign_request *r = request("Custom:over", 600);
	hsmjwt_token *t = NULL;

	check_int(hsmjwt_client_set_max_in_flight(client, 0), -ERANGE);
	check_int(hsmjwt_client_set_max_in_flight(client, HSMJWT_MAX_IN_FLIGHT_LIMIT + 1), -ERANGE);
	check_int(hsmjwt_client_set_max_in_flight(client, 8), 0);
	for (int i = 0; i < 8; i++) {
		snprintf(uid[i], sizeof(uid[i]), "Custom:p%d", i);
		ids[i] = submit(uid[i], 600);
	}
	check_int(hsmjwt_client_get_in_flight(client), 8);
	/* The bound: nothing is sent, the caller must collect first. */
	check_int(hsmjwt_sign_submit(client, r, &id), -EAGAIN);
	check_int(id, 77);
	/* The simple call still works, beside eight requests in flight. */
	check_int(hsmjwt_sign(client, r, &t), 0);
	print_token("Custom:over", t);
	check_int(hsmjwt_client_get_in_flight(client), 8);

	/* By id, newest first; then the rest in whatever order they arrive, each once. */
	for (int i = 7; i >= 4; i--)
		collect_by_id(ids[i], uid[i]);
	check_int(hsmjwt_sign_collect(client, ids[7], 0, &t), -ENOENT);
	for (int n = 0; n < 4; n++) {
		int i = 0;

		check_int(hsmjwt_sign_collect_next(client, 0, &id, &t), 0);
		while (i < 4 && ids[i] != id)
			i++;
		check(i < 4);
		ids[i] = 0; /* a second outcome for it would fail the search */
		print_token(uid[i], t);
	}
	check_int(hsmjwt_client_get_in_flight(client), 0);
	id = 77;
	check_int(hsmjwt_sign_collect_next(client, 0, &id, &t), -ENOENT);
	check_int(id, 0);
	check_int(hsmjwt_sign_collect(client, 12345, 0, &t), -ENOENT);
	check_int(hsmjwt_sign_collect(client, ids[4], 2, &t), -EINVAL);
	hsmjwt_sign_request_free(r);
}

static void test_refusal_keeps_its_id(void)
{
	uint64_t good1 = submit("Custom:g1", 60);
	uint64_t bad = submit("Custom:bad", 401 * 86400ull);
	uint64_t good2 = submit("Custom:g2", 60);
	hsmjwt_token *t = NULL;
	uint64_t id;

	check_int(hsmjwt_sign_collect(client, good2, 0, &t), 0);
	print_token("Custom:g2", t);
	/* The refusal may come first: the daemon refuses in its loop, signs on a thread. */
	for (int n = 0; n < 2; n++) {
		int r;

		t = NULL;
		r = hsmjwt_sign_collect_next(client, 0, &id, &t);
		if (id == good1) {
			check_int(r, 0);
			print_token("Custom:g1", t);
			good1 = 0;
		} else {
			check_int(id, bad);
			check_int(r, HSMJWT_E_INVALID_REQUEST);
			check(t == NULL);
			check(strstr(hsmjwt_client_error_message(client), "max-lifetime") != NULL);
			bad = 0;
		}
	}
}

static void test_nonblocking_with_poll(void)
{
	int n = 0, eagain = 0;

	for (int i = 0; i < 4; i++)
		submit("Custom:nb", 60);
	while (n < 4) {
		struct pollfd p = { .fd = hsmjwt_client_get_fd(client), .events = POLLIN };
		hsmjwt_token *t = NULL;
		uint64_t id = 77;
		int r = hsmjwt_sign_collect_next(client, HSMJWT_COLLECT_NONBLOCK, &id, &t);

		if (r == -EAGAIN) {
			check_int(id, 0);
			eagain++;
			check(poll(&p, 1, 10000) == 1);
			continue;
		}
		check_int(r, 0);
		check(id != 0);
		print_token("Custom:nb", t);
		n++;
	}
	fprintf(stderr, "non-blocking: 4 tokens, %d EAGAIN\n", eagain);
}

static int run_main(void)
{
	test_bound_and_order();
	test_refusal_keeps_its_id();
	test_nonblocking_with_poll();
	return 0;
}

static bool is_one_of(uint64_t id, const uint64_t *ids, int n)
{
	for (int i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/*
 * The daemon runs with max-frame = 1024: request 3 ends the stream. Every
 * request in flight gets exactly one outcome (requests 1 and 2 a token, or
 * the stream's error when the daemon closed before answering them), and the
 * next submit connects again.
 */
static int run_broken(void)
{
	char at[AT_TOO_LONG_FOR_1024 + 1];
	hsmjwt_sign_request *big = request("Custom:big", 60);
	hsmjwt_token *t = NULL;
	uint64_t id, ids[4] = {};
	int too_large = 0, n = 3, r;

	memset(at, 'a', AT_TOO_LONG_FOR_1024);
	at[AT_TOO_LONG_FOR_1024] = '\0';
	check_int(hsmjwt_sign_request_set_access_token(big, at), 0);
	ids[0] = submit("Custom:b1", 60);
	ids[1] = submit("Custom:b2", 60);
	check_int(hsmjwt_sign_submit(client, big, &ids[2]), 0);
	/* Sent on the old connection, or (once it is gone) on a new one, which it ends too. */
	r = hsmjwt_sign_submit(client, big, &ids[3]);
	if (r == 0)
		n = 4;
	else
		check(r == -EPIPE || r == -ECONNRESET);
	for (int i = 0; i < n; i++) {
		t = NULL;
		r = hsmjwt_sign_collect_next(client, 0, &id, &t);
		check(is_one_of(id, ids, n));
		if (r == 0) {
			check(is_one_of(id, ids, 2));
			print_token(id == ids[0] ? "Custom:b1" : "Custom:b2", t);
		} else if (r == HSMJWT_E_TOO_LARGE) {
			check(strstr(hsmjwt_client_error_message(client), "exceeds the limit"));
			too_large++;
		} else {
			check(r == -ECONNRESET || r == -EPIPE);
		}
		check(t == NULL || r == 0);
		for (int k = 0; k < 4; k++)
			if (ids[k] == id)
				ids[k] = 0; /* a second outcome for it fails is_one_of() */
	}
	check(too_large >= 1);
	check_int(hsmjwt_client_get_in_flight(client), 0);
	check_int(hsmjwt_sign_collect_next(client, 0, &id, &t), -ENOENT);
	/* A new connection for the next request. */
	id = submit("Custom:b3", 60);
	check(hsmjwt_client_get_fd(client) >= 0);
	collect_by_id(id, "Custom:b3");
	hsmjwt_sign_request_free(big);
	return 0;
}

/* The peer answers 3, 4, 2, 1 in one write, after reading all four requests. */
static int run_reorder(void)
{
	hsmjwt_sign_request *r = request("Custom:simple", 60);
	hsmjwt_token *t = NULL;
	uint64_t id, ids[3];
	char expect[32];

	for (int i = 0; i < 3; i++)
		ids[i] = submit("Custom:r", 60);
	check_int(ids[2], 3);
	/* Request 4: its answer comes after 3's and before 2's and 1's, in the same read. */
	check_int(hsmjwt_sign(client, r, &t), 0);
	check(strcmp(hsmjwt_token_get_string(t), "peer.token.4") == 0);
	hsmjwt_token_free(t);
	/* Nothing more will come: 1 and 2 must already be parsed, not left in a buffer. */
	check_int(hsmjwt_client_set_timeout(client, 2000), 0);
	check_int(hsmjwt_sign_collect(client, ids[0], 0, &t), 0);
	check(strcmp(hsmjwt_token_get_string(t), "peer.token.1") == 0);
	hsmjwt_token_free(t);
	for (uint64_t want = 3; want >= 2; want--) {
		check_int(hsmjwt_sign_collect_next(client, 0, &id, &t), 0);
		check_int(id, want);
		snprintf(expect, sizeof(expect), "peer.token.%" PRIu64, want);
		check(strcmp(hsmjwt_token_get_string(t), expect) == 0);
		hsmjwt_token_free(t);
	}
	hsmjwt_sign_request_free(r);
	return 0;
}

int main(int argc, char *argv[])
{
	int r;

	if (argc != 3) {
		fprintf(stderr, "usage: %s main|broken|reorder SOCKET\n", argv[0]);
		return 2;
	}
	check_int(hsmjwt_client_connect(argv[2], &client), 0);
	if (strcmp(argv[1], "main") == 0)
		r = run_main();
	else if (strcmp(argv[1], "broken") == 0)
		r = run_broken();
	else if (strcmp(argv[1], "reorder") == 0)
		r = run_reorder();
	else
		r = 2;
	hsmjwt_client_free(client);
	if (r == 0)
		printf("done\n");
	return r;
}
