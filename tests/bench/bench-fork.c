/* SPDX-License-Identifier: MIT */
/* Signing in separate processes; see bench-fork.h. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-fork.h"
#include "cleanup.h"

/* Logging in through p11-kit remote takes a while with many clients starting at once. */
#define READY_TIMEOUT_NS (60ull * 1000000000u)

enum { PHASE_WARMUP, PHASE_MEASURE, PHASE_STOP };

typedef struct Slot {
	atomic_int ready; /* 1: set up and waiting for the go; -1: failed */
	int error;
	uint64_t ops;
	double cpu;
	Histogram lat;
} Slot;

typedef struct Shared {
	atomic_int phase;
	Slot slot[];
} Shared;

static int sign_once(const ForkSpec *spec, P11Session *s, char *jwt, size_t input_len)
{
	uint8_t sig[512];
	size_t len = sizeof(sig);
	int r;

	if (spec->full_jwt) {
		input_len = jwt_signing_input(spec->alg, jwt);
		if (input_len == 0)
			return -ENOBUFS;
	}
	r = p11_sign(s, jwt, input_len, sig, &len);
	if (r < 0 || !spec->full_jwt)
		return r;
	return jwt_append_signature(jwt, input_len, sig, len) ? 0 : -ENOBUFS;
}

/* What an app verifying a JWT itself does: split, decode the signature, C_Verify. */
static int verify_once(P11Session *s, const char *jwt, size_t len)
{
	uint8_t sig[512];
	size_t input_len, sig_len;
	int r = jwt_split_signature(jwt, len, &input_len, sig, sizeof(sig), &sig_len);

	return r < 0 ? r : p11_verify(s, jwt, input_len, sig, sig_len);
}

/* The JWT every verify of this client checks: made once, like the tokens hsmjwtd issues. */
static size_t make_jwt(P11Session *s, const BenchAlg *alg, char jwt[static JWT_MAX])
{
	uint8_t sig[512];
	size_t len = sizeof(sig), n = jwt_signing_input(alg, jwt);

	if (n == 0 || p11_sign(s, jwt, n, sig, &len) < 0)
		return 0;
	return jwt_append_signature(jwt, n, sig, len);
}

static void signing_loop(const ForkSpec *spec, Shared *sh, Slot *me, P11Session *s)
{
	char jwt[JWT_MAX];
	size_t input_len = spec->verify ? make_jwt(s, spec->alg, jwt) : jwt_signing_input(spec->alg, jwt);
	bool measuring = false;
	double cpu0 = 0;

	for (;;) {
		int ph = atomic_load_explicit(&sh->phase, memory_order_relaxed);
		uint64_t t0;

		if (ph == PHASE_STOP)
			break;
		if (ph == PHASE_MEASURE && !measuring) {
			measuring = true;
			cpu0 = self_cpu_seconds();
		}
		t0 = now_ns();
		me->error = input_len == 0 ? -EIO :
			    spec->verify ? verify_once(s, jwt, input_len) :
					   sign_once(spec, s, jwt, input_len);
		if (me->error < 0)
			return;
		if (ph == PHASE_MEASURE) {
			hist_add(&me->lat, now_ns() - t0);
			me->ops++;
		}
	}
	me->cpu = measuring ? self_cpu_seconds() - cpu0 : 0;
}

static _Noreturn void child(const ForkSpec *spec, Shared *sh, Slot *me, int go_fd)
{
	P11 *p = NULL;
	P11Session *s = NULL;
	char c;
	int r;

	r = p11_open(spec->module, spec->env->token_label, &p);
	if (r >= 0)
		r = p11_session_open(p, spec->env->pin, &s);
	if (r >= 0)
		r = p11_session_use_key(s, spec->alg, spec->session_copy);
	if (r >= 0 && spec->verify)
		r = p11_session_use_verify_key(s, spec->session_copy);
	if (r < 0) {
		me->error = r;
		atomic_store(&me->ready, -1);
		_exit(EXIT_FAILURE);
	}
	atomic_store(&me->ready, 1);
	/* The parent closes its end to start everyone at once. */
	while (read(go_fd, &c, 1) < 0 && errno == EINTR)
		;
	signing_loop(spec, sh, me, s);
	p11_session_close(s);
	p11_close(p);
	_exit(me->error < 0 ? EXIT_FAILURE : EXIT_SUCCESS);
}

/* 0 once the child in slot is ready, -errno when it failed or the wait timed out. */
static int wait_ready(Slot *slot)
{
	uint64_t deadline = now_ns() + READY_TIMEOUT_NS;
	int v;

	while ((v = atomic_load(&slot->ready)) == 0) {
		if (now_ns() > deadline)
			return -ETIMEDOUT;
		sleep_ns(200000);
	}
	return v > 0 ? 0 : slot->error ? slot->error : -EIO;
}

static void measure(const ForkSpec *spec, Shared *sh, Cell *cell)
{
	double srv0 = 0;
	uint64_t t0;

	if (spec->server_pid)
		proc_reset_peak(spec->server_pid);
	sleep_ns(spec->phases.warmup_ns);
	if (spec->server_pid)
		srv0 = proc_cpu_seconds(spec->server_pid, true);
	t0 = now_ns();
	atomic_store(&sh->phase, PHASE_MEASURE);
	sleep_ns(spec->phases.duration_ns);
	atomic_store(&sh->phase, PHASE_STOP);
	cell->seconds = (double)(now_ns() - t0) / 1e9;
	if (spec->server_pid) {
		/* Before the clients leave: p11-kit's per-client processes go with them. */
		cell->server_cpu = proc_cpu_seconds(spec->server_pid, true) - srv0;
		cell->peak_rss_kib = proc_status_kib(spec->server_pid, "VmHWM", true);
	}
}

int fork_run(const ForkSpec *spec, Cell *cell)
{
	size_t size = sizeof(Shared) + spec->procs * sizeof(Slot);
	Shared *sh;
	pid_t *pids;
	int go[2], r = 0;
	unsigned n = 0;

	cell->peak_rss_kib = -1;
	cell->server_cpu = -1;
	sh = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return -ENOMEM;
	pids = calloc(spec->procs, sizeof(*pids));
	if (!pids || pipe2(go, O_CLOEXEC) < 0) {
		free(pids);
		munmap(sh, size);
		return -ENOMEM;
	}
	fflush(NULL);
	for (; n < spec->procs; n++) {
		pids[n] = fork();
		if (pids[n] < 0) {
			r = negative_errno();
			break;
		}
		if (pids[n] == 0) {
			close(go[1]);
			child(spec, sh, &sh->slot[n], go[0]);
		}
		/*
		 * One client set up at a time: SoftHSM processes starting together on
		 * one token directory (p11-kit server runs one per client) read each
		 * other's half-written token files and fail.
		 */
		r = wait_ready(&sh->slot[n]);
		if (r < 0) {
			n++;
			break;
		}
	}
	close(go[0]);
	if (r < 0)
		atomic_store(&sh->phase, PHASE_STOP);
	close(go[1]);
	if (r >= 0)
		measure(spec, sh, cell);
	cell->client_cpu = 0;
	for (unsigned i = 0; i < n; i++) {
		int status;

		while (waitpid(pids[i], &status, 0) < 0 && errno == EINTR)
			;
		if (sh->slot[i].error < 0 && r >= 0)
			r = sh->slot[i].error;
		cell->tokens += sh->slot[i].ops;
		cell->client_cpu += sh->slot[i].cpu;
		hist_merge(&cell->lat, &sh->slot[i].lat);
	}
	cell->ran = r >= 0;
	free(pids);
	munmap(sh, size);
	return r;
}
