/* SPDX-License-Identifier: MIT */
/* The table, the ratios and the targets; or all of it as JSON (--json). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "cleanup.h"

/* Targets from docs/ARCHITECTURE.md ("Performance targets"), printed beside the figures; never an exit status. */
#define TARGET_RAW_RATIO 0.8
#define TARGET_REMOTE_RATIO 2.0
#define TARGET_P99_16_US 2000.0
#define TARGET_P50_1_US 100.0
#define TARGET_IDLE_MIB 8.0
#define TARGET_CONNS_MIB 8.0
#define TARGET_ACTIVATION_MS 100.0
#define TARGET_REMOTE_16x1 1.5	     /* 16x1 over 16 remote clients, sync = always */
#define TARGET_P50_OVER_DEVICE_US 40.0 /* 1x1 p50 over the device's fdatasync p50 */
#define TARGET_BATCH_P50_US 60.0
#define TARGET_VERIFY_REMOTE 2.0
#define TARGET_ES256_16x8 0.8

static const char *const op_names[] = { [OP_SIGN] = "sign", [OP_VERIFY] = "verify" };

static const char *const group_names[] = {
	[GROUP_RAW] = "raw",
	[GROUP_RAW_INFO] = "raw (info)",
	[GROUP_REMOTE] = "remote",
	[GROUP_DAEMON] = "hsmjwtd",
};

static double per_1k(const Cell *c, double cpu)
{
	return c->ran && c->tokens && cpu >= 0 ? cpu * 1000.0 / (double)c->tokens : -1;
}

static double us(uint64_t ns)
{
	return (double)ns / 1000.0;
}

/* The raw limit of op: the best in-process cell for alg. */
static const Cell *raw_limit_op(const Run *run, AlgId alg, Op op)
{
	const Cell *best = NULL;

	for (unsigned i = 0; i < run->n_cells; i++) {
		const Cell *c = &run->cells[i];

		if (c->group == GROUP_RAW && c->alg == alg && c->op == op && c->ran &&
		    (!best || cell_rate(c) > cell_rate(best)))
			best = c;
	}
	return best;
}

static const Cell *raw_limit(const Run *run, AlgId alg)
{
	return raw_limit_op(run, alg, OP_SIGN);
}

/*
 * The fastest cell of group g for alg and op with that many clients (and
 * depth, for hsmjwtd); sync: the hsmjwtd cells of that [audit] sync ("":
 * those of the default, or of the only mode run).
 */
static const Cell *find_op(const Run *run, Group g, AlgId alg, Op op, const char *sync,
			   unsigned clients, unsigned depth)
{
	const Cell *best = NULL;

	for (unsigned i = 0; i < run->n_cells; i++) {
		const Cell *c = &run->cells[i];

		if (c->group == g && c->alg == alg && c->op == op && c->clients == clients &&
		    c->ran && (g != GROUP_DAEMON || c->depth == depth) &&
		    (g != GROUP_DAEMON || !sync || strcmp(c->audit_sync, sync) == 0 ||
		     (!sync[0] && strcmp(c->audit_sync, "always") == 0)) &&
		    (!best || cell_rate(c) > cell_rate(best)))
			best = c;
	}
	return best;
}

static const Cell *find(const Run *run, Group g, AlgId alg, unsigned clients, unsigned depth)
{
	return find_op(run, g, alg, OP_SIGN, "", clients, depth);
}

/* A 10-wide column with 4 decimals (1 with wide), or "-" when not measured. */
static void print_num(double v, bool wide)
{
	if (v < 0)
		printf("%10s", "-");
	else if (wide)
		printf("%10.1f", v);
	else
		printf("%10.4f", v);
}

static void print_cell(const Cell *c)
{
	printf("%-6s %-11s %-46s", bench_algs[c->alg].name, group_names[c->group], c->what);
	if (!c->ran) {
		printf(" n/a: %s\n", c->missing[0] ? c->missing : "failed");
		return;
	}
	printf("%10.0f%10.1f%10.1f%10.1f", cell_rate(c), us(hist_quantile(&c->lat, 0.5)),
	       us(hist_quantile(&c->lat, 0.99)), us(c->lat.max));
	print_num(per_1k(c, c->server_cpu), false);
	print_num(per_1k(c, c->client_cpu), false);
	print_num(c->peak_rss_kib >= 0 ? (double)c->peak_rss_kib / 1024.0 : -1, true);
	if (c->errors)
		printf("  %llu errors", (unsigned long long)c->errors);
	printf("\n");
}

static const char *verdict(bool met)
{
	return met ? "met" : "NOT met";
}

static void print_ratios(const Run *run, AlgId alg)
{
	const Cell *raw = raw_limit(run, alg);
	bool any = false;

	for (unsigned i = 0; i < run->n_cells; i++) {
		const Cell *c = &run->cells[i];
		const Cell *remote;

		const Cell *lim;

		if (c->group != GROUP_DAEMON || c->alg != alg || !c->ran)
			continue;
		remote = find_op(run, GROUP_REMOTE, alg, c->op, NULL, c->clients, 0);
		lim = raw_limit_op(run, alg, c->op);
		if (!raw && !remote)
			continue;
		if (!any)
			printf("\nRatios, %s (tokens/s of hsmjwtd over the others)\n", bench_algs[alg].name);
		any = true;
		printf("  %-46s", c->what);
		if (lim)
			printf("  / raw limit %5.2f", cell_rate(c) / cell_rate(lim));
		if (remote && cell_rate(remote) > 0)
			printf("  / best p11-kit remote, %u client%s %5.2f", remote->clients,
			       remote->clients > 1 ? "s" : "", cell_rate(c) / cell_rate(remote));
		printf("\n");
	}
	if (any && raw)
		printf("  raw limit: %.0f tokens/s (%s)\n", cell_rate(raw), raw->what);
	if (any && (raw = raw_limit_op(run, alg, OP_VERIFY)))
		printf("  raw verify limit: %.0f verifies/s (%s)\n", cell_rate(raw), raw->what);
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median_activation(const Memory *m)
{
	double v[ELEMENTSOF(m->activation_ms)];

	memcpy(v, m->activation_ms, sizeof(v));
	qsort(v, m->activation_runs, sizeof(double), compare_double);
	return m->activation_runs ? v[m->activation_runs / 2] : -1;
}

static void ratio_target(const char *what, const Cell *c, const Cell *ref, double want)
{
	double q;

	if (!c || !ref || cell_rate(ref) <= 0)
		return;
	q = cell_rate(c) / cell_rate(ref);
	printf("  %s >= %.1f x: %.2f (%.0f / %.0f), %s\n", what, want, q, cell_rate(c),
	       cell_rate(ref), verdict(q >= want));
}

/* The targets of the waiting caller (issue #19): sign, verify, batch, ES256. */
static void print_waiting_targets(const Run *run)
{
	const Cell *c;
	double dev = -1;

	ratio_target("16x1 / 16 remote clients",
		     find_op(run, GROUP_DAEMON, ALG_ID_HS256, OP_SIGN, "", 16, 1),
		     find_op(run, GROUP_REMOTE, ALG_ID_HS256, OP_SIGN, NULL, 16, 0),
		     TARGET_REMOTE_16x1);
	if (run->dev.ran) {
		double a = us(hist_quantile(&run->dev.lat[DEVICE_APPEND], 0.5));
		double p = us(hist_quantile(&run->dev.lat[DEVICE_PREALLOCATED], 0.5));

		dev = a < p ? a : p;
	}
	if ((c = find_op(run, GROUP_DAEMON, ALG_ID_HS256, OP_SIGN, "", 1, 1)) && dev >= 0)
		printf("  1x1 p50 <= device fdatasync p50 %.1f + %.0f us: %.1f us, %s\n", dev,
		       TARGET_P50_OVER_DEVICE_US, us(hist_quantile(&c->lat, 0.5)),
		       verdict(us(hist_quantile(&c->lat, 0.5)) <= dev + TARGET_P50_OVER_DEVICE_US));
	if ((c = find_op(run, GROUP_DAEMON, ALG_ID_HS256, OP_SIGN, "batch", 1, 1))) {
		ratio_target("sync = batch: 1x1 / 1 remote client", c,
			     find_op(run, GROUP_REMOTE, ALG_ID_HS256, OP_SIGN, NULL, 1, 0),
			     TARGET_REMOTE_RATIO);
		printf("  sync = batch: 1x1 p50 <= %.0f us: %.1f us, %s\n", TARGET_BATCH_P50_US,
		       us(hist_quantile(&c->lat, 0.5)),
		       verdict(us(hist_quantile(&c->lat, 0.5)) <= TARGET_BATCH_P50_US));
	}
	for (AlgId a = ALG_ID_HS256; a <= ALG_ID_ES256; a++)
		for (unsigned n = 1; n <= 16; n += 15) {
			char what[80];

			snprintf(what, sizeof(what), "%s verify %ux1 / %u remote client%s",
				 bench_algs[a].name, n, n, n > 1 ? "s" : "");
			ratio_target(what, find_op(run, GROUP_DAEMON, a, OP_VERIFY, "", n, 1),
				     find_op(run, GROUP_REMOTE, a, OP_VERIFY, NULL, n, 0),
				     TARGET_VERIFY_REMOTE);
		}
	ratio_target("ES256 16x8 / raw limit", find_op(run, GROUP_DAEMON, ALG_ID_ES256, OP_SIGN, "", 16, 8),
		     raw_limit(run, ALG_ID_ES256), TARGET_ES256_16x8);
}

static void print_device(const Run *run)
{
	if (!run->dev.ran)
		return;
	printf("\nDevice: write() + fdatasync() of a %s-byte record beside the audit file\n", "450");
	for (int m = 0; m < _DEVICE_MAX; m++) {
		const Histogram *h = &run->dev.lat[m];

		printf("  %-24s %8llu syncs  p50 %8.1f us  p99 %8.1f us  max %8.1f us\n",
		       device_mode_names[m], (unsigned long long)h->count, us(hist_quantile(h, 0.5)),
		       us(hist_quantile(h, 0.99)), us(h->max));
	}
}

static void print_targets(const Run *run)
{
	const Cell *raw = raw_limit(run, ALG_ID_HS256), *c;
	const Memory *m = &run->mem;

	printf("\nTargets (HS256 unless said, ARCHITECTURE.md)\n");
	c = find(run, GROUP_DAEMON, ALG_ID_HS256, 16, 32);
	if (c && raw)
		printf("  16 conns pipelined >= %.1f x raw limit: %.2f, %s\n", TARGET_RAW_RATIO,
		       cell_rate(c) / cell_rate(raw), verdict(cell_rate(c) >= TARGET_RAW_RATIO * cell_rate(raw)));
	for (unsigned n = 1; n <= 16; n += 15) {
		const Cell *remote = find(run, GROUP_REMOTE, ALG_ID_HS256, n, 0);
		/* The fastest depth measured at n connections. */
		c = NULL;
		for (unsigned d = 1; d <= 32; d *= 2) {
			const Cell *cd = find(run, GROUP_DAEMON, ALG_ID_HS256, n, d);

			if (cd && (!c || cell_rate(cd) > cell_rate(c)))
				c = cd;
		}
		if (c && remote)
			printf("  %u conn%s >= %.0f x p11-kit remote: %.2f (%s), %s\n", n, n > 1 ? "s" : "",
			       TARGET_REMOTE_RATIO, cell_rate(c) / cell_rate(remote), c->what,
			       verdict(cell_rate(c) >= TARGET_REMOTE_RATIO * cell_rate(remote)));
	}
	for (unsigned d = 1; d <= 32; d *= 2)
		if ((c = find(run, GROUP_DAEMON, ALG_ID_HS256, 16, d)))
			printf("  p99 <= %.0f us at 16 conns, depth %u: %.0f us, %s\n", TARGET_P99_16_US,
			       d, us(hist_quantile(&c->lat, 0.99)),
			       verdict(us(hist_quantile(&c->lat, 0.99)) <= TARGET_P99_16_US));
	if ((c = find(run, GROUP_DAEMON, ALG_ID_HS256, 1, 1)))
		printf("  p50 <= %.0f us at 1 conn: %.1f us, %s\n", TARGET_P50_1_US,
		       us(hist_quantile(&c->lat, 0.5)),
		       verdict(us(hist_quantile(&c->lat, 0.5)) <= TARGET_P50_1_US));
	print_waiting_targets(run);
	if (m->ran) {
		double idle = (double)m->idle_kib / 1024.0;
		double add = (double)(m->conns_kib - m->idle_kib) / 1024.0;
		double used = (double)(m->conns_used_kib - m->idle_kib) / 1024.0;

		printf("  idle RSS <= %.0f MiB: %.1f MiB (%.1f anonymous, %.1f file-backed; PSS %.1f), %s\n",
		       TARGET_IDLE_MIB, idle, (double)m->idle_anon_kib / 1024.0,
		       (double)m->idle_file_kib / 1024.0, (double)m->idle_pss_kib / 1024.0,
		       verdict(idle <= TARGET_IDLE_MIB));
		printf("  %u idle conns add <= %.1f MiB: +%.1f MiB never used, %s; "
		       "+%.1f MiB after one token each, %s\n",
		       m->idle_conns, TARGET_CONNS_MIB * m->idle_conns / 1000.0, add,
		       verdict(add <= TARGET_CONNS_MIB * m->idle_conns / 1000.0), used,
		       verdict(used <= TARGET_CONNS_MIB * m->idle_conns / 1000.0));
	}
	if (m->activation_runs) {
		double lo = m->activation_ms[0], hi = lo;

		for (unsigned i = 1; i < m->activation_runs; i++) {
			lo = m->activation_ms[i] < lo ? m->activation_ms[i] : lo;
			hi = m->activation_ms[i] > hi ? m->activation_ms[i] : hi;
		}
		printf("  socket activation to first token <= %.0f ms: median %.1f ms of %u "
		       "(%.1f..%.1f), %s\n",
		       TARGET_ACTIVATION_MS, median_activation(m), m->activation_runs, lo, hi,
		       verdict(median_activation(m) <= TARGET_ACTIVATION_MS));
	}
}

void report_table(const Run *run)
{
	printf("hsmjwt-bench: %s (%s), %ld CPUs, %.1f s per cell after %.1f s warm-up, %u pass%s\n",
	       run->token_info[0] ? run->token_info : "token", run->module,
	       sysconf(_SC_NPROCESSORS_ONLN), run->duration, run->warmup, run->passes,
	       run->passes > 1 ? "es (tokens/s: median; the rest: all passes together)" : "");
	printf("latency: request sent to response read (hsmjwtd), C_Sign call (raw), "
	       "whole JWT (remote)\nCPU s/1k: CPU seconds per 1000 tokens; srv: hsmjwtd, "
	       "p11-kit server and its children, or the raw signing process\n\n");
	printf("%-6s %-11s %-46s%10s%10s%10s%10s%10s%10s%10s\n", "alg", "kind", "cell", "tokens/s",
	       "p50 us", "p99 us", "max us", "srv CPU", "cli CPU", "peak MiB");
	for (unsigned i = 0; i < run->n_cells; i++)
		print_cell(&run->cells[i]);
	print_device(run);
	for (int a = 0; a < _ALG_ID_MAX; a++)
		print_ratios(run, (AlgId)a);
	print_targets(run);
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		if ((unsigned char)*s >= 0x20)
			putchar(*s);
	}
	putchar('"');
}

static void json_cell(const Cell *c, bool last)
{
	printf("    {\"group\": ");
	json_string(group_names[c->group]);
	printf(", \"alg\": \"%s\", \"what\": ", bench_algs[c->alg].name);
	json_string(c->what);
	printf(", \"op\": \"%s\", \"clients\": %u, \"depth\": %u, \"ran\": %s", op_names[c->op],
	       c->clients, c->depth, c->ran ? "true" : "false");
	if (c->group == GROUP_DAEMON) {
		printf(", \"audit_sync\": ");
		json_string(c->audit_sync[0] ? c->audit_sync : "always");
		printf(", \"audit_preallocate\": %s", c->preallocate ? "true" : "false");
	}
	if (!c->ran) {
		printf(", \"missing\": ");
		json_string(c->missing);
	} else {
		printf(", \"tokens\": %llu, \"errors\": %llu, \"seconds\": %.3f, \"tokens_per_s\": %.1f"
		       ", \"p50_us\": %.2f, \"p99_us\": %.2f, \"max_us\": %.2f"
		       ", \"server_cpu_s_per_1k\": %.5f, \"client_cpu_s_per_1k\": %.5f"
		       ", \"peak_rss_kib\": %ld",
		       (unsigned long long)c->tokens, (unsigned long long)c->errors, c->seconds, cell_rate(c),
		       us(hist_quantile(&c->lat, 0.5)), us(hist_quantile(&c->lat, 0.99)),
		       us(c->lat.max), per_1k(c, c->server_cpu), per_1k(c, c->client_cpu),
		       c->peak_rss_kib);
	}
	printf("}%s\n", last ? "" : ",");
}

void report_json(const Run *run)
{
	const Memory *m = &run->mem;
	const Cell *raw = raw_limit(run, ALG_ID_HS256);

	printf("{\n  \"token\": ");
	json_string(run->token_info);
	printf(",\n  \"module\": ");
	json_string(run->module);
	printf(",\n  \"cpus\": %ld,\n  \"duration_s\": %.3f,\n  \"warmup_s\": %.3f,\n"
	       "  \"passes\": %u,\n",
	       sysconf(_SC_NPROCESSORS_ONLN), run->duration, run->warmup, run->passes);
	printf("  \"raw_limit_hs256_per_s\": %.1f,\n", raw ? cell_rate(raw) : 0);
	printf("  \"fdatasync_us\": {");
	for (int d = 0; run->dev.ran && d < _DEVICE_MAX; d++) {
		const Histogram *h = &run->dev.lat[d];

		printf("%s\"%s\": {\"count\": %llu, \"p50\": %.2f, \"p99\": %.2f, \"max\": %.2f}",
		       d ? ", " : "", device_mode_names[d], (unsigned long long)h->count,
		       us(hist_quantile(h, 0.5)), us(hist_quantile(h, 0.99)), us(h->max));
	}
	printf("},\n");
	printf("  \"cells\": [\n");
	for (unsigned i = 0; i < run->n_cells; i++)
		json_cell(&run->cells[i], i + 1 == run->n_cells);
	printf("  ],\n  \"memory\": {\"measured\": %s, \"idle_kib\": %ld, \"idle_anon_kib\": %ld, "
	       "\"idle_file_kib\": %ld, \"idle_pss_kib\": %ld, \"idle_conns\": %u, "
	       "\"conns_kib\": %ld, \"conns_used_kib\": %ld},\n",
	       m->ran ? "true" : "false", m->idle_kib, m->idle_anon_kib, m->idle_file_kib,
	       m->idle_pss_kib, m->idle_conns, m->conns_kib, m->conns_used_kib);
	printf("  \"activation_ms\": [");
	for (unsigned i = 0; i < m->activation_runs; i++)
		printf("%s%.2f", i ? ", " : "", m->activation_ms[i]);
	printf("]\n}\n");
}
