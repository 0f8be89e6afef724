/* SPDX-License-Identifier: MIT */
/*
 * The group commit with sync = always: records are buffered until the loop
 * writes them (once per iteration) and the sync thread syncs them; a write
 * that fails keeps its records, and the recovery writes them first, so the
 * chain stays whole. Records no reply waits for (verify) are synced by the
 * tick.
 * A write failure comes from RLIMIT_FSIZE, in-process and without root.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "audit-chain.h"
#include "audit.h"
#include "tests.h"

typedef struct Committed {
	int calls;
	int result;
} Committed;

static void on_committed(void *userdata, int r)
{
	Committed *c = userdata;

	c->calls++;
	c->result = r;
}

/* Runs the loop until the running commit reported; returns its result. */
static int wait_commit(sd_event *e, Committed *c)
{
	int before = c->calls;

	for (int i = 0; i < 1000 && c->calls == before; i++)
		check(sd_event_run(e, 1000 * 1000) >= 0);
	check_int(c->calls, before + 1);
	return c->result;
}

static int issue(Audit *a, const char *subject)
{
	static const Peer peer = { .pid = 7, .uid = 1000, .gid = 100 };

	return audit_record(a, &(AuditRecord){
		.event = AUDIT_ISSUED,
		.peer = &peer,
		.key = "zumo",
		.subject = { subject, strlen(subject) },
		.jwt = "header.payload.signature",
		.jwt_len = 24,
	});
}

/* A verify decision: it names the JWT presented, but no JWT leaves with it. */
static int verified(Audit *a)
{
	static const Peer peer = { .pid = 7, .uid = 1000, .gid = 100 };

	return audit_record(a, &(AuditRecord){
		.event = AUDIT_VERIFY_VALID,
		.peer = &peer,
		.key = "zumo",
		.jwt = "header.payload.signature",
		.jwt_len = 24,
	});
}

/* Checks the whole chain; returns the number of lines, the last one's in last[]. */
static size_t read_chain(const char *path, char *last, size_t last_size)
{
	FILE *f = fopen(path, "re");
	char line[8192], prev_hash[AUDIT_HASH_HEX], prev[AUDIT_HASH_HEX];
	size_t n = 0;
	uint64_t seq;

	check(f);
	memcpy(prev_hash, audit_chain_genesis, AUDIT_HASH_HEX);
	while (fgets(line, sizeof(line), f)) {
		size_t len = strlen(line);

		check(len > 0 && line[len - 1] == '\n');
		line[--len] = '\0';
		check_int(audit_chain_parse(line, len, &seq, prev), 0);
		check_int(seq, n + 1);
		check(strcmp(prev, prev_hash) == 0);
		audit_sha256_hex(line, len, prev_hash);
		snprintf(last, last_size, "%s", line);
		n++;
	}
	fclose(f);
	return n;
}

static off_t file_size(const char *path)
{
	struct stat st;

	check(stat(path, &st) == 0);
	return st.st_size;
}

int main(void)
{
	char dir[] = "/tmp/test-audit-commit-XXXXXX", path[256], last[8192];
	AuditConfig config = { .sync = AUDIT_SYNC_ALWAYS };
	Committed committed = {};
	sd_event *e = NULL;
	Audit *a = NULL;
	struct rlimit unlimited;

	check(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
	config.file = path;
	check(getrlimit(RLIMIT_FSIZE, &unlimited) == 0);
	signal(SIGXFSZ, SIG_IGN); /* a write over the limit fails with EFBIG instead */

	check_int(audit_new(&config, &a), 0);
	check_int(sd_event_new(&e), 0);
	check_int(audit_attach_event(a, e, on_committed, &committed), 0);
	check_int(audit_start(a), 0);
	check_int(read_chain(path, last, sizeof(last)), 1);

	/* Buffered until the commit writes them; the thread syncs them. */
	for (int i = 0; i < 5; i++)
		check_int(issue(a, "Custom:first"), 0);
	check(audit_unsynced(a));
	check_int(read_chain(path, last, sizeof(last)), 1);
	check_int(audit_commit_start(a), 1);
	check(audit_commit_running(a));
	check_int(audit_commit_start(a), 0); /* one at a time */
	check_int(wait_commit(e, &committed), 0);
	check(!audit_unsynced(a) && !audit_commit_running(a));
	check_int(read_chain(path, last, sizeof(last)), 6);

	/* Room for less than the next batch: the commit fails, nothing of it stays in the file. */
	off_t size = file_size(path);
	check(setrlimit(RLIMIT_FSIZE, &(struct rlimit){ .rlim_cur = (rlim_t)size + 200,
							.rlim_max = unlimited.rlim_max }) == 0);
	for (int i = 0; i < 5; i++)
		check_int(issue(a, "Custom:withheld"), 0);
	check(audit_flush(a) < 0); /* the loop writes each iteration's records */
	check(audit_error(a) < 0);
	check(audit_commit(a) < 0); /* and the commit reports it, once */
	check_int(audit_commit(a), 0);
	check_int(audit_flush(a), 0); /* settled: kept for the recovery, not retried */
	check_int(file_size(path), size);
	check(!audit_unsynced(a)); /* settled: their JWTs are withheld */
	/* Failing: later records are refused, and the file stays as it was. */
	check(issue(a, "Custom:refused") < 0);
	check_int(file_size(path), size);

	/* Room again: the kept records go first, then "recovered", then the new one. */
	check(setrlimit(RLIMIT_FSIZE, &unlimited) == 0);
	check_int(issue(a, "Custom:after"), 0);
	check_int(audit_error(a), 0);
	check_int(audit_commit_start(a), 1);
	check_int(wait_commit(e, &committed), 0);
	check_int(read_chain(path, last, sizeof(last)), 13);
	check(strstr(last, "\"event\":\"issued\"") && strstr(last, "Custom:after"));
	FILE *f = fopen(path, "re");
	char line[8192];
	int withheld = 0, recovered_at = 0;
	for (int n = 1; fgets(line, sizeof(line), f); n++) {
		if (strstr(line, "Custom:withheld")) {
			check(n >= 7 && n <= 11);
			withheld++;
		}
		if (strstr(line, "\"event\":\"recovered\"")) {
			recovered_at = n;
			check(strstr(line, "\"withheld_from\":7,\"withheld_to\":11"));
		}
		check(!strstr(line, "Custom:refused"));
	}
	fclose(f);
	check_int(withheld, 5);
	check_int(recovered_at, 12);

	/* Verify records hold no reply back; the tick writes and syncs them within a second. */
	check_int(verified(a), 0);
	check_int(verified(a), 0);
	check(!audit_unsynced(a));
	check_int(wait_commit(e, &committed), 0);
	check(!audit_commit_running(a));
	check_int(read_chain(path, last, sizeof(last)), 15);
	check(strstr(last, "\"event\":\"verify-valid\""));
	/* A JWT's record after them is "unsynced" again: its reply waits. */
	check_int(issue(a, "Custom:again"), 0);
	check(audit_unsynced(a));
	check_int(audit_commit_start(a), 1);
	check_int(wait_commit(e, &committed), 0);
	check(!audit_unsynced(a));

	audit_detach_event(a);
	check_int(audit_stop(a, "test"), 0);
	audit_free(a);
	sd_event_unref(e);
	check_int(read_chain(path, last, sizeof(last)), 17);
	unlink(path);
	rmdir(dir);
	return 0;
}
