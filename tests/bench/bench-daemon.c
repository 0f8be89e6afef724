/* SPDX-License-Identifier: MIT */
/*
 * hsmjwtd the way systemd runs it: systemd-socket-activate binds the socket
 * and execs the daemon in its own process on the first connection, so the
 * pid we fork is the daemon's. Its log (audit lines included) goes to a
 * file in the bench's temp dir. Measured here: socket activation to the
 * first token, idle memory and the memory idle connections add, and the
 * load cells (bench-load.c) at 1, 16 and 64 connections, signing, then
 * verifying a JWT the daemon issued at 1x1, 16x1 and 16x8; with
 * --audit-sync always,batch all of them once per mode, each on a daemon of
 * its own started with that [audit] sync.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "cleanup.h"

#define FIRST_TOKEN_TIMEOUT_NS (30ull * 1000000000u)
#define SETTLE_NS (50ull * 1000000u)
#define FD_WAIT_NS (10ull * 1000000000u)

static const unsigned daemon_conns[] = { 1, 16, 64 };
/*
 * Depth 8 only at 16 connections: 128 in flight, a pipelining depth at which
 * p99 <= 2 ms can hold; at depth 32 the 512 in flight wait >= 4 ms at 125k
 * tokens/s whatever the daemon does (Little's law).
 */
#define DEPTH_AT_16_ONLY 8u
static const unsigned daemon_depths[] = { 1, DEPTH_AT_16_ONLY, 32 };

int daemon_start(const BenchEnv *env, Daemon *ret)
{
	char setenv_arg[256];
	pid_t pid;

	snprintf(setenv_arg, sizeof(setenv_arg), "SOFTHSM2_CONF=%s", env->softhsm_conf);
	/* systemd-socket-activate binds the path itself; a leftover file would stop it. */
	unlink(env->socket);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return negative_errno();
	if (pid == 0) {
		int log = open(env->daemon_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (log < 0 || null < 0)
			_exit(127);
		dup2(null, STDIN_FILENO);
		dup2(log, STDOUT_FILENO);
		dup2(log, STDERR_FILENO);
		execlp("systemd-socket-activate", "systemd-socket-activate", "-l", env->socket, "-E",
		       setenv_arg, env->hsmjwtd, "--config", env->config, (char *)NULL);
		_exit(127);
	}
	*ret = (Daemon){ .pid = pid };
	return 0;
}

int daemon_stop(Daemon *d)
{
	int status;

	if (d->pid <= 0)
		return 0;
	kill(d->pid, SIGTERM);
	while (waitpid(d->pid, &status, 0) < 0)
		if (errno != EINTR)
			return negative_errno();
	d->pid = 0;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/* Connects as soon as the socket exists and waits for a token. */
static int first_token(const BenchEnv *env, const Daemon *d)
{
	uint64_t deadline = now_ns() + FIRST_TOKEN_TIMEOUT_NS;
	int fd, r;

	while ((fd = load_connect(env->socket)) < 0) {
		if ((fd != -ENOENT && fd != -ECONNREFUSED) || now_ns() > deadline ||
		    waitpid(d->pid, NULL, WNOHANG) != 0)
			return fd;
		sleep_ns(50000);
	}
	r = load_sign_on(fd, deadline - now_ns());
	close(fd);
	return r;
}

static int fail_daemon(const BenchEnv *env, Daemon *d, int r, const char *what)
{
	fprintf(stderr, "hsmjwt-bench: %s failed: %s (daemon log: %s)\n", what, strerror(-r),
		env->daemon_log);
	daemon_stop(d);
	return r;
}

static int activation(Run *run, const BenchEnv *env, unsigned runs)
{
	Memory *m = &run->mem;

	for (unsigned i = 0; i < runs && i < ELEMENTSOF(m->activation_ms); i++) {
		Daemon d;
		uint64_t t0 = now_ns();
		int r = daemon_start(env, &d);

		if (r >= 0)
			r = first_token(env, &d);
		if (r < 0)
			return fail_daemon(env, &d, r, "socket activation to first token");
		m->activation_ms[m->activation_runs++] = (double)(now_ns() - t0) / 1e6;
		r = daemon_stop(&d);
		if (r < 0)
			return fail_daemon(env, &d, r, "stopping hsmjwtd");
	}
	return 0;
}

static int wait_fds(pid_t pid, int want)
{
	uint64_t deadline = now_ns() + FD_WAIT_NS;

	while (proc_count_sockets(pid) < want) {
		if (now_ns() > deadline)
			return -ETIMEDOUT;
		sleep_ns(1000000);
	}
	return 0;
}

/* Idle memory on a fresh daemon, then with n connections, unused and then used once. */
static int memory(Run *run, const BenchEnv *env, unsigned n)
{
	Memory *m = &run->mem;
	Daemon d;
	int *fds = calloc(n, sizeof(int)), base, r;
	unsigned open_fds = 0;

	if (!fds)
		return -ENOMEM;
	r = daemon_start(env, &d);
	if (r >= 0)
		r = first_token(env, &d);
	sleep_ns(SETTLE_NS);
	base = proc_count_sockets(d.pid);
	m->idle_kib = proc_status_kib(d.pid, "VmRSS", false);
	m->idle_anon_kib = proc_status_kib(d.pid, "RssAnon", false);
	m->idle_file_kib = proc_status_kib(d.pid, "RssFile", false);
	m->idle_pss_kib = proc_pss_kib(d.pid);
	for (; r >= 0 && open_fds < n; open_fds++) {
		fds[open_fds] = load_connect(env->socket);
		if (fds[open_fds] < 0)
			r = fds[open_fds];
	}
	if (r >= 0)
		r = wait_fds(d.pid, base + (int)n);
	m->conns_kib = proc_status_kib(d.pid, "VmRSS", false);
	for (unsigned i = 0; r >= 0 && i < n; i++)
		r = load_sign_on(fds[i], FIRST_TOKEN_TIMEOUT_NS);
	m->conns_used_kib = proc_status_kib(d.pid, "VmRSS", false);
	m->idle_conns = n;
	for (unsigned i = 0; i < open_fds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	if (r < 0)
		return fail_daemon(env, &d, r, "idle connections");
	m->ran = true;
	r = daemon_stop(&d);
	return r < 0 ? fail_daemon(env, &d, r, "stopping hsmjwtd") : 0;
}

/* The verify cells: what a gateway does, one JWT per incoming API call. */
static const struct {
	unsigned conns, depth;
} verify_cells[] = { { 1, 1 }, { 16, 1 }, { 16, 8 } };

static Cell *daemon_cell(Run *run, const BenchEnv *env, const BenchAlg *alg, Op op,
			 unsigned conns, unsigned depth)
{
	Cell *c = run_new_cell(run, GROUP_DAEMON, alg->id, conns, depth, "%shsmjwtd, %u conn%s, "
			       "depth %u%s%s%s", op == OP_VERIFY ? "verify, " : "", conns,
			       conns > 1 ? "s" : "", depth, env->audit_syncs ? ", sync " : "",
			       env->audit_syncs ? env->audit_sync : "",
			       env->preallocate ? ", preallocated" : "");

	if (!c)
		return NULL;
	c->op = op;
	c->preallocate = env->preallocate;
	snprintf(c->audit_sync, sizeof(c->audit_sync), "%s", env->audit_sync ? env->audit_sync : "");
	return c;
}

static int verify_load_cells(Run *run, const BenchEnv *env, const Daemon *d, const Phases *ph,
			     bool quick, const BenchAlg *alg)
{
	char jwt[JWT_MAX] = "";
	bool unavailable = false;

	for (size_t i = 0; i < (quick ? 1 : ELEMENTSOF(verify_cells)); i++) {
		LoadSpec spec = { .socket = env->socket, .conns = verify_cells[i].conns,
				  .depth = verify_cells[i].depth, .phases = *ph,
				  .daemon_pid = d->pid, .verify_jwt = jwt };
		Cell *c = daemon_cell(run, env, alg, OP_VERIFY, spec.conns, spec.depth);
		int r;

		if (!c)
			return -ENOMEM;
		if (unavailable || cell_unavailable(c, env, alg, true)) {
			unavailable = true;
			continue;
		}
		if (!jwt[0]) {
			r = load_fetch_jwt(env->socket, alg->label, jwt);
			if (r < 0)
				return r;
		}
		fprintf(stderr, "hsmjwt-bench: %s %s\n", alg->name, c->what);
		r = load_run(&spec, c);
		if (r < 0)
			return r;
	}
	return 0;
}

static int load_cells(Run *run, const BenchEnv *env, const Daemon *d, const Phases *ph, bool quick)
{
	for (int a = 0; a < _ALG_ID_MAX; a++) {
		const BenchAlg *alg = &bench_algs[a];

		if (!bench_alg_selected[a])
			continue;

		for (size_t i = 0; i < ELEMENTSOF(daemon_conns); i++)
			for (size_t j = 0; j < ELEMENTSOF(daemon_depths); j++) {
				/* Smoke mode: 1 connection without pipelining, 16 with (depth 8 and 32). */
				unsigned conns = daemon_conns[i], depth = daemon_depths[j];
				LoadSpec spec = { .socket = env->socket, .key = alg->label,
						  .conns = conns, .depth = depth, .phases = *ph,
						  .daemon_pid = d->pid };
				Cell *c;
				int r;

				if (depth == DEPTH_AT_16_ONLY && conns != 16)
					continue;
				if (quick && (conns == 64 || (conns == 1) != (depth == 1)))
					continue;
				c = daemon_cell(run, env, alg, OP_SIGN, conns, depth);
				if (!c)
					return -ENOMEM;
				if (cell_unavailable(c, env, alg, true))
					continue;
				fprintf(stderr, "hsmjwt-bench: %s %s\n", alg->name, c->what);
				r = load_run(&spec, c);
				if (r < 0)
					return r;
			}
		int r = verify_load_cells(run, env, d, ph, quick, alg);

		if (r < 0)
			return r;
	}
	return 0;
}

int daemon_startup_run(Run *run, const BenchEnv *env, bool quick)
{
	int r;

	fprintf(stderr, "hsmjwt-bench: socket activation to first token\n");
	r = activation(run, env, quick ? 1 : 7);
	if (r < 0)
		return r;
	fprintf(stderr, "hsmjwt-bench: memory, idle and with idle connections\n");
	return memory(run, env, quick ? 50 : 1000);
}

static int daemon_run_one(Run *run, const BenchEnv *env, const Phases *ph, bool quick)
{
	Daemon d;
	int r;

	/* A fresh daemon for the load, so the idle connections' heap does not count. */
	r = daemon_start(env, &d);
	if (r >= 0)
		r = first_token(env, &d);
	if (r < 0)
		return fail_daemon(env, &d, r, "starting hsmjwtd");
	r = load_cells(run, env, &d, ph, quick);
	if (r < 0)
		return fail_daemon(env, &d, r, "load");
	r = daemon_stop(&d);
	return r < 0 ? fail_daemon(env, &d, r, "stopping hsmjwtd") : 0;
}

int daemon_run(Run *run, const BenchEnv *env, const Phases *ph, bool quick, bool startup)
{
	_cleanup_free_ char *modes = env->audit_syncs ? strdup(env->audit_syncs) : NULL;
	BenchEnv e = *env;
	char *save = NULL;
	int r;

	if (startup) {
		r = daemon_startup_run(run, env, quick);
		if (r < 0)
			return r;
	}
	if (!env->audit_syncs)
		return daemon_run_one(run, env, ph, quick);
	if (!modes)
		return -ENOMEM;
	/* Each mode on a daemon of its own; the config is left as the last one wrote it. */
	for (char *m = strtok_r(modes, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
		e.audit_sync = m;
		r = env_write_daemon_config(&e);
		if (r >= 0)
			r = daemon_run_one(run, &e, ph, quick);
		if (r < 0)
			return r;
	}
	return 0;
}
