/* SPDX-License-Identifier: MIT */
/*
 * The throwaway token every cell uses: a temp dir holding softhsm2.conf and
 * the token files, the keys made by the built hsmjwtctl as an operator would
 * (the HS256 secret imported with the master key on stdin, the ES256 and
 * RS256 key pairs generated in the token), and the hsmjwtd.conf the daemon
 * cells start with.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "cleanup.h"

#define SO_PIN "5678"
#define MASTER_KEY "hsmjwt-bench master key\n"

static int write_file(const char *path, mode_t mode, const char *text)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	size_t n = strlen(text);

	if (fd < 0 || write(fd, text, n) != (ssize_t)n) {
		fprintf(stderr, "hsmjwt-bench: cannot write %s: %m\n", path);
		return -EIO;
	}
	return 0;
}

int env_run(const BenchEnv *env, char *const argv[], const char *in_data)
{
	int in[2], status;
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) < 0)
		return negative_errno();
	pid = fork();
	if (pid < 0)
		return negative_errno();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(in[0], STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		setenv("SOFTHSM2_CONF", env->softhsm_conf, 1);
		execvp(argv[0], argv);
		fprintf(stderr, "hsmjwt-bench: cannot run %s: %m\n", argv[0]);
		_exit(127);
	}
	close(in[0]);
	if (in_data && write(in[1], in_data, strlen(in_data)) < 0)
		fprintf(stderr, "hsmjwt-bench: cannot feed %s: %m\n", argv[0]);
	close(in[1]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return negative_errno();
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "hsmjwt-bench: %s failed (status %d)\n", argv[0], status);
		return -EIO;
	}
	return 0;
}

/* hsmjwtd.conf: defaults everywhere but paths, so the bench measures the daemon as it ships. */
int env_write_daemon_config(const BenchEnv *env)
{
	_cleanup_free_ char *text = NULL;
	char token[512], audit[512], keys[1024], policy[256];

	snprintf(token, sizeof(token), "[token]\nmodule = %s\nuri = pkcs11:token=%s\npin-file = %s\n%s%s%s",
		 env->module, env->token_label, env->pin_file, env->sessions ? "sessions = " : "",
		 env->sessions ? env->sessions : "", env->sessions ? "\n" : "");
	/* No journald here; under systemd the journal would add its own CPU on another core. */
	snprintf(audit, sizeof(audit), "[audit]\nfile = %s/audit.jsonl\njournal = no\n%s%s%s%s",
		 env->dir, env->audit_sync ? "sync = " : "", env->audit_sync ? env->audit_sync : "",
		 env->audit_sync ? "\n" : "", env->preallocate ? "preallocate = yes\n" : "");
	snprintf(keys, sizeof(keys),
		 "[key zumo]\nuri = pkcs11:token=%s;object=zumo;type=secret-key\n\n"
		 "[key es256]\nuri = pkcs11:token=%s;object=es256\nalg = ES256\n"
		 "issuer = https://bench.example\n\n"
		 "[key rs256]\nuri = pkcs11:token=%s;object=rs256\nalg = RS256\nbits = 2048\n"
		 "issuer = https://bench.example\n",
		 env->token_label, env->token_label, env->token_label);
	/*
	 * Policies deny by default: the bench's own uid gets every key, unlimited,
	 * and more than one uid's default share of connections and requests in
	 * flight (its idle-connection cell opens 1,000 from this uid alone).
	 */
	snprintf(policy, sizeof(policy),
		 "[policy bench]\nuid = %u\nkeys = *\naudiences = *\nuser-ids = *\nverify = yes\n"
		 "max-connections = 4096\nmax-inflight = 8192\n",
		 (unsigned)getuid());
	if (asprintf(&text, "[server]\nsocket = %s\n\n%s\n%s\n%s\n%s", env->socket, audit, token,
		     keys, policy) < 0)
		return -ENOMEM;
	return write_file(env->config, 0644, text);
}

static int write_configs(BenchEnv *env)
{
	char text[2048];
	int r;

	snprintf(text, sizeof(text),
		 "directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n",
		 env->dir);
	r = write_file(env->softhsm_conf, 0644, text);
	if (r < 0)
		return r;
	snprintf(text, sizeof(text), "%s\n", env->pin);
	r = write_file(env->pin_file, 0600, text);
	if (r < 0)
		return r;
	return env_write_daemon_config(env);
}

/* Each key as an operator makes it: the HS256 secret imported, key pairs generated. */
static int make_keys(BenchEnv *env)
{
	for (int a = 0; a < _ALG_ID_MAX; a++) {
		const BenchAlg *alg = &bench_algs[a];
		char *import[] = { (char *)env->hsmjwtctl, "--config", env->config, "import-zumo",
				   (char *)alg->label, NULL };
		char *generate[] = { (char *)env->hsmjwtctl, "--config", env->config, "generate",
				     (char *)alg->label, NULL };
		int r;

		if (alg->missing)
			continue;
		r = alg->asymmetric ? env_run(env, generate, NULL) : env_run(env, import, MASTER_KEY);
		if (r < 0)
			return r;
		env->has_key[a] = true;
	}
	return 0;
}

int env_setup(BenchEnv *env)
{
	char pin_arg[64], label_arg[64];
	int r;

	snprintf(env->dir, sizeof(env->dir), "/tmp/hsmjwt-bench-XXXXXX");
	if (!mkdtemp(env->dir))
		return negative_errno();
	snprintf(env->softhsm_conf, sizeof(env->softhsm_conf), "%s/softhsm2.conf", env->dir);
	snprintf(env->pin_file, sizeof(env->pin_file), "%s/pin", env->dir);
	snprintf(env->config, sizeof(env->config), "%s/hsmjwtd.conf", env->dir);
	snprintf(env->socket, sizeof(env->socket), "%s/hsmjwtd.sock", env->dir);
	snprintf(env->daemon_log, sizeof(env->daemon_log), "%s/hsmjwtd.log", env->dir);
	snprintf(pin_arg, sizeof(pin_arg), "%s", env->pin);
	snprintf(label_arg, sizeof(label_arg), "%s", env->token_label);

	char tokens[96];
	snprintf(tokens, sizeof(tokens), "%s/tokens", env->dir);
	if (mkdir(tokens, 0700) < 0)
		return negative_errno();
	r = write_configs(env);
	if (r < 0)
		return r;
	/* In-process cells read it at C_Initialize; children inherit it. */
	setenv("SOFTHSM2_CONF", env->softhsm_conf, 1);

	char *init[] = { "softhsm2-util", "--init-token", "--free", "--label", label_arg,
			 "--pin",	  pin_arg,	  "--so-pin", SO_PIN, NULL };
	r = env_run(env, init, NULL);
	if (r < 0)
		return r;
	return make_keys(env);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

void env_cleanup(BenchEnv *env)
{
	if (!env->dir[0])
		return;
	if (env->keep) {
		fprintf(stderr, "hsmjwt-bench: kept %s\n", env->dir);
		return;
	}
	nftw(env->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
