/* SPDX-License-Identifier: MIT */
/*
 * hsmjwt-bench: in one run, on one fresh SoftHSM token, the raw limit of the
 * token, the p11-kit remote alternative, and hsmjwtd. See bench.h for the
 * files and docs/PERFORMANCE.md for how to read the output.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "cleanup.h"
#include "p11.h"

#define DEFAULT_DURATION 3.0
#define DEFAULT_WARMUP 0.5
#define QUICK_DURATION 0.2
#define QUICK_WARMUP 0.05
#define DEFAULT_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define DEFAULT_CLIENT_MODULE "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so"

const BenchAlg bench_algs[_ALG_ID_MAX] = {
	[ALG_ID_HS256] = { .id = ALG_ID_HS256, .name = "HS256", .mech = CKM_SHA256_HMAC,
			   .label = "zumo" },
	[ALG_ID_ES256] = { .id = ALG_ID_ES256, .name = "ES256", .mech = CKM_ECDSA, .prehash = true,
			   .asymmetric = true, .label = "es256" },
	[ALG_ID_RS256] = { .id = ALG_ID_RS256, .name = "RS256", .mech = CKM_SHA256_RSA_PKCS,
			   .asymmetric = true, .label = "rs256" },
};

bool bench_alg_selected[_ALG_ID_MAX] = { true, true, true };

Cell *run_new_cell(Run *run, Group g, AlgId alg, unsigned clients, unsigned depth,
		   const char *fmt, ...)
{
	Cell *c;
	va_list ap;

	if (run->n_cells >= ELEMENTSOF(run->cells))
		return NULL;
	c = &run->cells[run->n_cells++];
	*c = (Cell){ .group = g, .alg = alg, .clients = clients, .depth = depth,
		     .server_cpu = -1, .client_cpu = -1, .peak_rss_kib = -1 };
	va_start(ap, fmt);
	vsnprintf(c->what, sizeof(c->what), fmt, ap);
	va_end(ap);
	return c;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double cell_rate(const Cell *c)
{
	double v[MAX_PASSES];

	if (!c->ran)
		return 0;
	if (c->n_passes == 0)
		return c->seconds > 0 ? (double)c->tokens / c->seconds : 0;
	memcpy(v, c->pass_rate, sizeof(v));
	qsort(v, c->n_passes, sizeof(double), compare_double);
	return c->n_passes % 2 ? v[c->n_passes / 2]
			       : (v[c->n_passes / 2 - 1] + v[c->n_passes / 2]) / 2;
}

/* Adds one pass's cells to the run's: same cells, same order. */
static int run_merge(Run *into, const Run *pass)
{
	if (pass->n_cells != into->n_cells)
		return -EPROTO;
	for (unsigned i = 0; i < into->n_cells; i++) {
		Cell *c = &into->cells[i];
		const Cell *p = &pass->cells[i];

		if (c->n_passes == 0 && c->ran)
			c->pass_rate[c->n_passes++] = cell_rate(c);
		if (!p->ran || !c->ran || c->n_passes >= MAX_PASSES) {
			c->ran = c->ran && p->ran;
			continue;
		}
		c->pass_rate[c->n_passes++] = cell_rate(p);
		c->tokens += p->tokens;
		c->errors += p->errors;
		c->seconds += p->seconds;
		c->server_cpu += p->server_cpu;
		c->client_cpu += p->client_cpu;
		if (p->peak_rss_kib > c->peak_rss_kib)
			c->peak_rss_kib = p->peak_rss_kib;
		hist_merge(&c->lat, &p->lat);
	}
	return 0;
}

bool cell_unavailable(Cell *c, const BenchEnv *env, const BenchAlg *alg, bool daemon)
{
	const char *why = alg->missing;

	if (!why && daemon)
		why = alg->daemon_missing;
	if (!why && !env->has_key[alg->id])
		why = "no key on the token";
	if (why)
		snprintf(c->missing, sizeof(c->missing), "%s", why);
	return why != NULL;
}

typedef struct Options {
	double duration, warmup;
	bool quick, json, keep;
	unsigned passes;
	const char *only;
	const char *client_module;
	const char *against;
	const char *json_out; /* also write --json's output there */
	bool verify;	      /* --against: verify requests instead of sign */
	const char *key;      /* --against: the [key NAME] to sign with */
	unsigned conns, depth;
	pid_t pid;
} Options;

static void help(void)
{
	printf("Usage: hsmjwt-bench [OPTIONS]\n"
	       "\n"
	       "Measures, on one fresh SoftHSM token made in a temp dir: the device's\n"
	       "write()+fdatasync() of a record, the token's raw C_Sign and C_Verify\n"
	       "limits, apps signing and verifying through p11-kit remote, and hsmjwtd\n"
	       "under systemd-socket-activate at 1, 16 and 64 connections, not pipelined\n"
	       "and pipelined (32 requests in flight each; also 8 at 16 connections), and\n"
	       "verifying at 1x1, 16x1 and 16x8.\n"
	       "\n"
	       "  --duration SECONDS   measured time per cell (default %.0f)\n"
	       "  --warmup SECONDS     unmeasured time before each cell (default %.1f)\n"
	       "  --repeat N           N passes over all cells, interleaved; tokens/s is the\n"
	       "                       median over passes (default 1, at most %d)\n"
	       "  --quick              smoke mode: a few short cells\n"
	       "  --only LIST          device,raw,remote,daemon (default: all); memory: of the\n"
	       "                       daemon's part only start-up and memory, no load\n"
	       "  --algs LIST          HS256,ES256,RS256 (default: all)\n"
	       "  --json               machine-readable output instead of the table\n"
	       "  --json-out FILE      the table, and the same run's JSON into FILE\n"
	       "  --keep               keep the temp dir (token, configs, daemon log)\n"
	       "  --sessions N         hsmjwtd's [token] sessions (default: the daemon's)\n"
	       "  --audit-sync MODES   hsmjwtd's [audit] sync: always, batch, none, or a list\n"
	       "                       (always,batch: every hsmjwtd cell once per mode, each\n"
	       "                       tagged; default: the daemon's); the audit file is in\n"
	       "                       the temp dir, and so is the device's fdatasync cell\n"
	       "  --preallocate        hsmjwtd's [audit] preallocate = yes (default: no)\n"
	       "  --hsmjwtd PATH       daemon to start (default: beside this program's build)\n"
	       "  --hsmjwtctl PATH     imports the HS256 key (default: likewise)\n"
	       "  --module PATH        SoftHSM (default %s)\n"
	       "  --client-module PATH p11-kit-client.so (default %s)\n"
	       "  --against SOCKET     only drive a running hsmjwtd (for profiling it);\n"
	       "                       with --conns N --depth D, --key NAME (default: the\n"
	       "                       daemon's default key) and, for its CPU, --pid PID;\n"
	       "                       --verify: verify a JWT it issued instead of signing\n"
	       "  -h, --help           show this help\n"
	       "\n"
	       "Exit status 0 when every cell that could run produced tokens without errors.\n"
	       "It never judges speed: compare the numbers with docs/PERFORMANCE.md.\n",
	       DEFAULT_DURATION, DEFAULT_WARMUP, MAX_PASSES, DEFAULT_MODULE, DEFAULT_CLIENT_MODULE);
}

/* The daemon and hsmjwtctl of this build: ../../daemon/ from this program. */
static char *beside_build(const char *name)
{
	char exe[PATH_MAX], *path = NULL;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	if (asprintf(&path, "%s/../../daemon/%s", dirname(exe), name) < 0)
		return NULL;
	return path;
}

/* Every item of "always,batch" is a mode [audit] sync takes. */
static bool audit_sync_list_ok(const char *list)
{
	static const char *const modes[] = { "always", "batch", "none" };
	const char *p = list;

	for (;;) {
		size_t n = strcspn(p, ",");
		bool ok = false;

		for (size_t i = 0; i < ELEMENTSOF(modes); i++)
			ok = ok || (strlen(modes[i]) == n && strncmp(p, modes[i], n) == 0);
		if (!ok)
			return false;
		if (!p[n])
			return true;
		p += n + 1;
	}
}

static int parse_options(int argc, char *argv[], Options *o, BenchEnv *env)
{
	enum { O_DURATION = 256, O_WARMUP, O_REPEAT, O_ALGS, O_QUICK, O_ONLY, O_JSON, O_KEEP, O_HSMJWTD,
	       O_HSMJWTCTL, O_MODULE, O_CLIENT, O_AGAINST, O_KEY, O_CONNS, O_DEPTH, O_PID, O_SESSIONS,
	       O_AUDIT_SYNC, O_JSON_OUT, O_PREALLOCATE, O_VERIFY };
	static const struct option options[] = {
		{ "duration", required_argument, NULL, O_DURATION },
		{ "warmup", required_argument, NULL, O_WARMUP },
		{ "repeat", required_argument, NULL, O_REPEAT },
		{ "quick", no_argument, NULL, O_QUICK },
		{ "only", required_argument, NULL, O_ONLY },
		{ "algs", required_argument, NULL, O_ALGS },
		{ "json", no_argument, NULL, O_JSON },
		{ "json-out", required_argument, NULL, O_JSON_OUT },
		{ "preallocate", no_argument, NULL, O_PREALLOCATE },
		{ "verify", no_argument, NULL, O_VERIFY },
		{ "keep", no_argument, NULL, O_KEEP },
		{ "hsmjwtd", required_argument, NULL, O_HSMJWTD },
		{ "hsmjwtctl", required_argument, NULL, O_HSMJWTCTL },
		{ "module", required_argument, NULL, O_MODULE },
		{ "client-module", required_argument, NULL, O_CLIENT },
		{ "against", required_argument, NULL, O_AGAINST },
		{ "key", required_argument, NULL, O_KEY },
		{ "conns", required_argument, NULL, O_CONNS },
		{ "depth", required_argument, NULL, O_DEPTH },
		{ "pid", required_argument, NULL, O_PID },
		{ "sessions", required_argument, NULL, O_SESSIONS },
		{ "audit-sync", required_argument, NULL, O_AUDIT_SYNC },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
		switch (c) {
		case O_DURATION:
			o->duration = strtod(optarg, NULL);
			break;
		case O_WARMUP:
			o->warmup = strtod(optarg, NULL);
			break;
		case O_REPEAT:
			o->passes = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case O_QUICK:
			o->quick = true;
			break;
		case O_ONLY:
			o->only = optarg;
			break;
		case O_ALGS:
			for (int a = 0; a < _ALG_ID_MAX; a++)
				bench_alg_selected[a] = strstr(optarg, bench_algs[a].name) != NULL;
			break;
		case O_JSON:
			o->json = true;
			break;
		case O_JSON_OUT:
			o->json_out = optarg;
			break;
		case O_PREALLOCATE:
			env->preallocate = true;
			break;
		case O_VERIFY:
			o->verify = true;
			break;
		case O_KEEP:
			env->keep = true;
			break;
		case O_HSMJWTD:
			env->hsmjwtd = optarg;
			break;
		case O_HSMJWTCTL:
			env->hsmjwtctl = optarg;
			break;
		case O_MODULE:
			env->module = optarg;
			break;
		case O_CLIENT:
			o->client_module = optarg;
			break;
		case O_AGAINST:
			o->against = optarg;
			break;
		case O_KEY:
			o->key = optarg;
			break;
		case O_CONNS:
			o->conns = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case O_DEPTH:
			o->depth = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case O_PID:
			o->pid = (pid_t)strtol(optarg, NULL, 10);
			break;
		case O_SESSIONS:
			env->sessions = optarg;
			break;
		case O_AUDIT_SYNC:
			if (strspn(optarg, "abcdefghijklmnopqrstuvwxyz,") != strlen(optarg) ||
			    !audit_sync_list_ok(optarg)) {
				fprintf(stderr, "hsmjwt-bench: --audit-sync takes always, batch, "
						"none or a list of them\n");
				return -EINVAL;
			}
			/* One mode: the daemon's config says it; a list: one daemon per mode. */
			if (strchr(optarg, ','))
				env->audit_syncs = optarg;
			else
				env->audit_sync = optarg;
			break;
		case 'h':
			help();
			exit(EXIT_SUCCESS);
		default:
			return -EINVAL;
		}
	}
	if (optind < argc || o->duration <= 0 || o->warmup < 0 || o->conns == 0 || o->depth == 0 ||
	    o->passes == 0 || o->passes > MAX_PASSES) {
		fprintf(stderr, "hsmjwt-bench: bad arguments; see --help\n");
		return -EINVAL;
	}
	return 0;
}

static bool wanted(const Options *o, const char *part)
{
	return !o->only || strstr(o->only, part);
}

/* Any cell that ran without tokens, or with errors, means the bench is broken. */
static int verdict(const Run *run)
{
	int bad = 0;

	for (unsigned i = 0; i < run->n_cells; i++) {
		const Cell *c = &run->cells[i];

		if (!c->missing[0] && (!c->ran || c->tokens == 0 || c->errors > 0)) {
			fprintf(stderr, "hsmjwt-bench: %s %s: %s\n", bench_algs[c->alg].name, c->what,
				!c->ran ? "failed" : c->errors ? "errors" : "no tokens");
			bad = 1;
		}
	}
	return bad;
}

static int run_against(Run *run, const Options *o, const Phases *ph)
{
	static char jwt[JWT_MAX];
	LoadSpec spec = { .socket = o->against, .key = o->key, .conns = o->conns,
			  .depth = o->depth, .phases = *ph, .daemon_pid = o->pid,
			  .verify_jwt = o->verify ? jwt : NULL };
	Cell *c = run_new_cell(run, GROUP_DAEMON, ALG_ID_HS256, o->conns, o->depth,
			       "running hsmjwtd, %s%u conns, depth %u", o->verify ? "verify, " : "",
			       o->conns, o->depth);
	int r;

	if (!c)
		return -ENOMEM;
	c->op = o->verify ? OP_VERIFY : OP_SIGN;
	if (o->verify) {
		r = load_fetch_jwt(o->against, o->key, jwt);
		if (r < 0)
			return r;
	}
	return load_run(&spec, c);
}

/* One pass over every cell; the first also measures start-up and memory. */
static int run_pass(Run *run, const Options *o, BenchEnv *env, const Phases *ph, bool first)
{
	int r = 0;

	if (first && wanted(o, "device"))
		r = device_run(run, env, ph);
	if (r >= 0 && wanted(o, "raw"))
		r = raw_run(run, env, ph, o->quick);
	if (r >= 0 && wanted(o, "remote"))
		r = remote_run(run, env, ph, o->quick, o->client_module);
	if (r >= 0 && wanted(o, "daemon"))
		r = daemon_run(run, env, ph, o->quick, first);
	else if (r >= 0 && first && wanted(o, "memory"))
		r = daemon_startup_run(run, env, o->quick);
	return r;
}

static int run_all(Run *run, const Options *o, BenchEnv *env, const Phases *ph)
{
	int r;

	r = env_setup(env);
	if (r < 0) {
		fprintf(stderr, "hsmjwt-bench: cannot set up the token: %s\n", strerror(-r));
		return r;
	}
	snprintf(run->module, sizeof(run->module), "%s", env->module);
	/* Passes, not repeats of one cell: load from elsewhere then spreads over all cells. */
	r = run_pass(run, o, env, ph, true);
	for (unsigned k = 1; k < o->passes && r >= 0; k++) {
		Run *pass = calloc(1, sizeof(*pass));

		if (!pass)
			return -ENOMEM;
		fprintf(stderr, "hsmjwt-bench: pass %u of %u\n", k + 1, o->passes);
		r = run_pass(pass, o, env, ph, false);
		if (r >= 0)
			r = run_merge(run, pass);
		free(pass);
	}
	if (r < 0)
		fprintf(stderr, "hsmjwt-bench: stopped: %s\n", strerror(-r));
	return r;
}

/* report_json() prints to stdout: point it at path for one report. */
static int json_to_file(const Run *run, const char *path)
{
	int saved, fd;

	fflush(stdout);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	saved = dup(STDOUT_FILENO);
	if (fd < 0 || saved < 0 || dup2(fd, STDOUT_FILENO) < 0) {
		fprintf(stderr, "hsmjwt-bench: cannot write %s: %m\n", path);
		if (fd >= 0)
			close(fd);
		if (saved >= 0)
			close(saved);
		return -EIO;
	}
	report_json(run);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(fd);
	return 0;
}

int main(int argc, char *argv[])
{
	_cleanup_free_ char *hsmjwtd = beside_build("hsmjwtd");
	_cleanup_free_ char *hsmjwtctl = beside_build("hsmjwtctl");
	Options o = { .duration = DEFAULT_DURATION, .warmup = DEFAULT_WARMUP,
		      .client_module = DEFAULT_CLIENT_MODULE, .conns = 16, .depth = 32,
		      .passes = 1 };
	BenchEnv env = { .module = DEFAULT_MODULE, .hsmjwtd = hsmjwtd, .hsmjwtctl = hsmjwtctl,
			 .pin = "1234", .token_label = "bench" };
	Run *run = calloc(1, sizeof(*run));
	Phases ph;
	int r;

	if (!run || parse_options(argc, argv, &o, &env) < 0)
		return 2;
	if (o.quick) {
		o.duration = o.duration == DEFAULT_DURATION ? QUICK_DURATION : o.duration;
		o.warmup = o.warmup == DEFAULT_WARMUP ? QUICK_WARMUP : o.warmup;
	}
	ph = (Phases){ .warmup_ns = (uint64_t)(o.warmup * 1e9),
		       .duration_ns = (uint64_t)(o.duration * 1e9) };
	run->duration = o.duration;
	run->warmup = o.warmup;
	run->passes = o.passes;
	raise_fd_limit();
	r = o.against ? run_against(run, &o, &ph) : run_all(run, &o, &env, &ph);
	env_cleanup(&env);
	if (o.json)
		report_json(run);
	else
		report_table(run);
	if (o.json_out && json_to_file(run, o.json_out) < 0)
		r = -EIO;
	r = r < 0 ? 1 : verdict(run);
	free(run);
	return r;
}
