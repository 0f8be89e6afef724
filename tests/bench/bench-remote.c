/* SPDX-License-Identifier: MIT */
/*
 * The alternative a team would deploy without hsmjwtd: `p11-kit server`
 * exports the token on a socket, and every app process loads
 * p11-kit-client.so, logs in and builds and signs its own JWTs. Each client
 * here is a forked process doing exactly that in a loop, with the token
 * object (what most code does) or with its own session copy (faster on
 * SoftHSM); the ratios compare hsmjwtd with the faster of the two.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-fork.h"
#include "cleanup.h"

#define SERVER_START_TIMEOUT_MS 10000

static const unsigned remote_clients[] = { 1, 16 };

/* Reads "P11_KIT_SERVER_ADDRESS=<addr>; export ..." from the server's stdout. */
static int read_address(int fd, char *addr, size_t size)
{
	char line[512];
	size_t n = 0;
	const char *key = "P11_KIT_SERVER_ADDRESS=";
	char *p, *end;

	while (n < sizeof(line) - 1 && !memchr(line, '\n', n)) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t k;

		if (poll(&pfd, 1, SERVER_START_TIMEOUT_MS) <= 0)
			return -ETIMEDOUT;
		k = read(fd, line + n, sizeof(line) - 1 - n);
		if (k <= 0)
			return -EIO;
		n += (size_t)k;
	}
	line[n] = '\0';
	p = strstr(line, key);
	if (!p)
		return -EBADMSG;
	p += strlen(key);
	end = strchr(p, ';');
	if (!end || (size_t)(end - p) >= size)
		return -EBADMSG;
	memcpy(addr, p, (size_t)(end - p));
	addr[end - p] = '\0';
	return 0;
}

static int server_start(const BenchEnv *env, pid_t *ret_pid, char *addr, size_t size)
{
	char sock[128], uri[96];
	int out[2], r;
	pid_t pid;

	snprintf(sock, sizeof(sock), "%s/p11-kit.sock", env->dir);
	snprintf(uri, sizeof(uri), "pkcs11:token=%s", env->token_label);
	if (pipe2(out, O_CLOEXEC) < 0)
		return negative_errno();
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return negative_errno();
	if (pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		execlp("p11-kit", "p11-kit", "server", "-f", "-s", "-n", sock, "--provider",
		       env->module, uri, (char *)NULL);
		fprintf(stderr, "hsmjwt-bench: cannot run p11-kit: %m\n");
		_exit(127);
	}
	close(out[1]);
	r = read_address(out[0], addr, size);
	close(out[0]);
	if (r < 0) {
		fprintf(stderr, "hsmjwt-bench: p11-kit server printed no address: %s\n",
			strerror(-r));
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		return r;
	}
	*ret_pid = pid;
	return 0;
}

static void server_stop(pid_t pid)
{
	kill(pid, SIGTERM);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* One cell: n forked apps, each signing with the token object or its own session copy. */
static int remote_cell(Run *run, const BenchEnv *env, const BenchAlg *alg, unsigned n, bool copy,
		       const Phases *ph, const char *client_module, pid_t server, bool verify)
{
	ForkSpec spec = {
		.module = client_module,
		.env = env,
		.alg = alg,
		.procs = n,
		.session_copy = copy,
		.full_jwt = true,
		.verify = verify,
		.phases = *ph,
		.server_pid = server,
	};
	Cell *c = run_new_cell(run, GROUP_REMOTE, alg->id, n, 0, "%s%s, %u client%s",
			       verify ? "verify, " : "", copy ? "session copy" : "token object", n,
			       n > 1 ? "s" : "");

	if (!c)
		return -ENOMEM;
	c->op = verify ? OP_VERIFY : OP_SIGN;
	if (!client_module) {
		snprintf(c->missing, sizeof(c->missing), "p11-kit-client.so not installed");
		return 0;
	}
	if (cell_unavailable(c, env, alg, false))
		return 0;
	fprintf(stderr, "hsmjwt-bench: remote %s %s\n", alg->name, c->what);
	return fork_run(&spec, c);
}

int remote_run(Run *run, const BenchEnv *env, const Phases *ph, bool quick,
	       const char *client_module)
{
	char addr[256];
	pid_t server = 0;
	bool usable = access(client_module, R_OK) == 0;
	int r = 0;

	if (usable) {
		r = server_start(env, &server, addr, sizeof(addr));
		if (r < 0)
			return r;
		setenv("P11_KIT_SERVER_ADDRESS", addr, 1);
	}
	for (int a = 0; a < _ALG_ID_MAX && r >= 0; a++) {
		if (!bench_alg_selected[a])
			continue;
		for (size_t i = 0; i < (quick ? 1 : ELEMENTSOF(remote_clients)) && r >= 0; i++)
			for (int copy = quick; copy <= 1 && r >= 0; copy++)
				r = remote_cell(run, env, &bench_algs[a], remote_clients[i], copy, ph,
						usable ? client_module : NULL, server, false);
		/* Verify: each client checks whole JWTs with its own session copy. */
		for (size_t i = 0; i < (quick ? 1 : ELEMENTSOF(remote_clients)) && r >= 0; i++)
			r = remote_cell(run, env, &bench_algs[a], remote_clients[i], true, ph,
					usable ? client_module : NULL, server, true);
	}
	if (server) {
		unsetenv("P11_KIT_SERVER_ADDRESS");
		server_stop(server);
	}
	return r;
}
