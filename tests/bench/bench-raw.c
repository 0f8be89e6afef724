/* SPDX-License-Identifier: MIT */
/*
 * The raw limit: C_SignInit + C_Sign loops in this process, with nothing
 * else around them, over object kinds (the token object; a session copy made
 * with C_CopyObject, CKA_TOKEN=FALSE) and thread counts (each thread its own
 * session, and its own copy). The best of these is the figure hsmjwtd is
 * held against. Two processes are measured too, for the record only: that
 * is not a rate one process can reach. The verify cells time C_VerifyInit +
 * C_Verify of one signature made first, with the secret key or the public
 * key of the same label (a session copy of it in the copy cells).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "bench-fork.h"

#define RAW_MAX_THREADS 2

enum { PHASE_WARMUP, PHASE_MEASURE, PHASE_STOP };

typedef struct RawThread {
	pthread_t thread;
	P11Session *session;
	const char *input;
	size_t input_len;
	atomic_int *phase;
	bool verify;
	uint8_t sig[512]; /* verify: the signature checked again and again */
	size_t sig_len;
	uint64_t ops;
	int error;
	Histogram lat;
} RawThread;

static void *raw_thread(void *userdata)
{
	RawThread *t = userdata;
	uint8_t sig[512];

	for (;;) {
		int ph = atomic_load_explicit(t->phase, memory_order_relaxed);
		size_t len = sizeof(sig);
		uint64_t t0;
		int r;

		if (ph == PHASE_STOP)
			break;
		t0 = now_ns();
		r = t->verify ? p11_verify(t->session, t->input, t->input_len, t->sig, t->sig_len) :
				p11_sign(t->session, t->input, t->input_len, sig, &len);
		if (r < 0) {
			t->error = r;
			break;
		}
		if (ph == PHASE_MEASURE) {
			hist_add(&t->lat, now_ns() - t0);
			t->ops++;
		}
	}
	return NULL;
}

static int raw_cell(P11 *p, const BenchEnv *env, const BenchAlg *alg, bool copy,
		    unsigned n_threads, const Phases *ph, Cell *cell, bool verify)
{
	char input[JWT_MAX];
	size_t input_len = jwt_signing_input(alg, input);
	RawThread *t = calloc(n_threads, sizeof(*t));
	atomic_int phase = PHASE_WARMUP;
	unsigned started = 0;
	double cpu0 = 0;
	uint64_t t0 = 0;
	int r = 0;

	if (!t)
		return -ENOMEM;
	for (unsigned i = 0; i < n_threads && r >= 0; i++) {
		t[i].input = input;
		t[i].input_len = input_len;
		t[i].phase = &phase;
		t[i].verify = verify;
		t[i].sig_len = sizeof(t[i].sig);
		r = p11_session_open(p, env->pin, &t[i].session);
		if (r >= 0)
			r = p11_session_use_key(t[i].session, alg, copy);
		if (r >= 0 && verify)
			r = p11_session_use_verify_key(t[i].session, copy);
		if (r >= 0 && verify)
			r = p11_sign(t[i].session, input, input_len, t[i].sig, &t[i].sig_len);
	}
	for (unsigned i = 0; i < n_threads && r >= 0; i++) {
		r = -pthread_create(&t[i].thread, NULL, raw_thread, &t[i]);
		if (r >= 0)
			started++;
	}
	if (r >= 0) {
		sleep_ns(ph->warmup_ns);
		cpu0 = self_cpu_seconds();
		t0 = now_ns();
		atomic_store(&phase, PHASE_MEASURE);
		sleep_ns(ph->duration_ns);
	}
	atomic_store(&phase, PHASE_STOP);
	cell->seconds = (double)(now_ns() - t0) / 1e9;
	cell->server_cpu = self_cpu_seconds() - cpu0;
	for (unsigned i = 0; i < started; i++)
		pthread_join(t[i].thread, NULL);
	for (unsigned i = 0; i < n_threads; i++) {
		if (t[i].error && r >= 0)
			r = t[i].error;
		cell->tokens += t[i].ops;
		hist_merge(&cell->lat, &t[i].lat);
		p11_session_close(t[i].session);
	}
	free(t);
	cell->ran = r >= 0;
	cell->client_cpu = -1;
	cell->peak_rss_kib = -1;
	return r;
}

static int raw_threads(Run *run, const BenchEnv *env, const Phases *ph, bool quick)
{
	P11 *p = NULL;
	int r;

	r = p11_open(env->module, env->token_label, &p);
	if (r < 0)
		return r;
	snprintf(run->token_info, sizeof(run->token_info), "%s", p11_token_info(p));
	for (int a = 0; a < _ALG_ID_MAX && r >= 0; a++) {
		const BenchAlg *alg = &bench_algs[a];

		if (!bench_alg_selected[a])
			continue;

		for (int copy = 0; copy <= 1 && r >= 0; copy++)
			for (unsigned n = 1; n <= (quick ? 1 : RAW_MAX_THREADS) && r >= 0; n++) {
				Cell *c = run_new_cell(run, GROUP_RAW, alg->id, n, 0, "%s, %u thread%s",
						       copy ? "session copy" : "token object", n,
						       n > 1 ? "s" : "");
				if (!c)
					return -ENOMEM;
				if (cell_unavailable(c, env, alg, false))
					continue;
				fprintf(stderr, "hsmjwt-bench: raw %s %s\n", alg->name, c->what);
				r = raw_cell(p, env, alg, copy, n, ph, c, false);
			}
		/* Verify: the session copy (what hsmjwtd verifies with), 1 and 2 threads. */
		for (unsigned n = 1; n <= (quick ? 1 : RAW_MAX_THREADS) && r >= 0; n++) {
			Cell *c = run_new_cell(run, GROUP_RAW, alg->id, n, 0,
					       "verify, session copy, %u thread%s", n, n > 1 ? "s" : "");

			if (!c)
				return -ENOMEM;
			c->op = OP_VERIFY;
			if (cell_unavailable(c, env, alg, false))
				continue;
			fprintf(stderr, "hsmjwt-bench: raw %s %s\n", alg->name, c->what);
			r = raw_cell(p, env, alg, true, n, ph, c, true);
		}
	}
	/* Finalised before the forking cells: children must not inherit a live module. */
	p11_close(p);
	return r;
}

int raw_run(Run *run, const BenchEnv *env, const Phases *ph, bool quick)
{
	int r = raw_threads(run, env, ph, quick);

	for (int a = 0; a < _ALG_ID_MAX && r >= 0 && !quick; a++) {
		const BenchAlg *alg = &bench_algs[a];
		ForkSpec spec = {
			.module = env->module,
			.env = env,
			.alg = alg,
			.procs = 2,
			.session_copy = true,
			.phases = *ph,
		};
		Cell *c;

		if (!bench_alg_selected[a])
			continue;
		c = run_new_cell(run, GROUP_RAW_INFO, alg->id, 2, 0, "session copy, 2 processes");
		if (!c)
			return -ENOMEM;
		if (cell_unavailable(c, env, alg, false))
			continue;
		fprintf(stderr, "hsmjwt-bench: raw %s %s\n", alg->name, c->what);
		r = fork_run(&spec, c);
		/* The signers are the processes measured here: their CPU is the server side. */
		c->server_cpu = c->client_cpu;
		c->client_cpu = -1;
	}
	return r;
}
