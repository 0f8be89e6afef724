/* SPDX-License-Identifier: MIT */
/* hsmjwtctl audit verify: checks the audit trail's hash chain, file by file, line by line. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "audit-chain.h"
#include "cleanup.h"
#include "ctl.h"

enum {
	VERIFY_INTACT = 0,
	VERIFY_BROKEN = 1,
	VERIFY_USAGE = 2,
	VERIFY_UNREADABLE = 3,
};

typedef struct Verify {
	bool any_start;
	uint64_t n_records;
	uint64_t first_seq, seq;	/* of the first and the last record read */
	char hash[AUDIT_HASH_HEX];	/* SHA-256 of the last record's line */
	const char *file;		/* where the last record was */
	uint64_t line;
} Verify;

/*
 * One line without its end: 1, or 0 at the end, -EFBIG when too long, -errno.
 * *ret_end is what ended it: '\n', EOF, or '\0' (left unread), where a
 * preallocated file's room begins.
 */
static int read_line(FILE *f, char buf[static AUDIT_LINE_MAX + 1], size_t *ret_len, int *ret_end)
{
	size_t n = 0;
	int c;

	while ((c = getc_unlocked(f)) != EOF && c != '\n' && c != '\0') {
		if (n == AUDIT_LINE_MAX)
			return -EFBIG;
		buf[n++] = (char)c;
	}
	if (ferror(f))
		return -EIO;
	if (c == '\0')
		ungetc(c, f);
	*ret_len = n;
	*ret_end = c;
	return c == EOF && n == 0 ? 0 : 1;
}

static int broken(const char *file, uint64_t line, const char *fmt, ...) _printf_(3, 4);
static int broken(const char *file, uint64_t line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stdout, "BROKEN %s:%" PRIu64 ": ", file, line);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	return VERIFY_BROKEN;
}

/* Checks one record against the one before it. */
static int verify_record(Verify *v, const char *file, uint64_t line, const char *p, size_t n)
{
	char prev[AUDIT_HASH_HEX];
	uint64_t seq;
	bool genesis;

	if (audit_chain_parse(p, n, &seq, prev) < 0)
		return broken(file, line, "not an hsmjwt audit record");
	genesis = seq == 1 && strcmp(prev, audit_chain_genesis) == 0;
	if (v->n_records == 0) {
		if (!genesis && !v->any_start)
			return broken(file, line,
				      "the chain starts at record %" PRIu64 ", not at record 1: "
				      "earlier records are missing (give the older files first, "
				      "or --any-start to check from here)", seq);
		v->first_seq = seq;
	} else if (genesis) {
		return broken(file, line,
			      "a new chain starts here: hsmjwtd started on an empty or missing "
			      "file, so nothing links it to record %" PRIu64 " (%s:%" PRIu64 ")",
			      v->seq, v->file, v->line);
	} else if (seq != v->seq + 1) {
		return broken(file, line,
			      "record %" PRIu64 " follows record %" PRIu64 " (%s:%" PRIu64 "): %s",
			      seq, v->seq, v->file, v->line,
			      seq > v->seq ? "records are missing or out of order here"
					   : "records are out of order or repeated here");
	} else if (strcmp(prev, v->hash) != 0) {
		return broken(v->file, v->line,
			      "record %" PRIu64 " was changed: its SHA-256 is not the one the next "
			      "record (%s:%" PRIu64 ") stores", v->seq, file, line);
	}
	audit_sha256_hex(p, n, v->hash);
	if (!v->hash[0])
		return broken(file, line, "cannot compute SHA-256");
	v->seq = seq;
	v->n_records++;
	v->file = file;
	v->line = line;
	return VERIFY_INTACT;
}

/*
 * A line starting with NUL: the room a preallocated file keeps after its
 * records ([audit] preallocate). Only zeros may follow, to the end: 1 then,
 * with their count; 0 when anything else comes (the caller calls it broken).
 */
static int zero_room(FILE *f, uint64_t *ret_bytes)
{
	uint64_t n = 1; /* the NUL read already */
	int c;

	while ((c = getc_unlocked(f)) == '\0')
		n++;
	if (c != EOF || ferror(f))
		return 0;
	*ret_bytes = n;
	return 1;
}

/*
 * The newest file's last line may lack its newline: hsmjwtd was killed while
 * its write(2) was copying (a fatal signal stops a write between pages), so
 * the line is no record. hsmjwtd cuts it at its next start, before writing;
 * with sync = always none of its JWTs left, as no sync covered it. Anywhere
 * else a partial line is a broken trail.
 */
static int torn_tail(FILE *f, const char *path, uint64_t line, size_t n, int end)
{
	uint64_t room = 0;

	if (end == '\0') {
		getc_unlocked(f);
		if (!zero_room(f, &room))
			return broken(path, line, "NUL bytes inside the trail");
	}
	printf("%s: torn final write: %zu bytes after line %" PRIu64 " are no record (hsmjwtd "
	       "was killed during a write; it cuts them at its next start)\n",
	       path, n, line - 1);
	if (room)
		printf("%s: %" PRIu64 " bytes of preallocated room (zeros) after them\n", path, room);
	return VERIFY_INTACT;
}

static int verify_file(Verify *v, const char *path, bool newest)
{
	static char buf[AUDIT_LINE_MAX + 1];
	_cleanup_fclose_ FILE *f = NULL;
	uint64_t line = 0;
	int end;
	size_t n;
	uint64_t room;
	int r, c;

	f = fopen(path, "re");
	if (!f) {
		fprintf(stderr, "hsmjwtctl: cannot open %s: %s\n", path, strerror(errno));
		return VERIFY_UNREADABLE;
	}
	for (;;) {
		/* Zeros after the last record are room, never records: the file ends there. */
		c = getc_unlocked(f);
		if (c == '\0') {
			if (!zero_room(f, &room))
				return broken(path, line + 1, "NUL bytes inside the trail");
			printf("%s: %" PRIu64 " bytes of preallocated room (zeros) after line %" PRIu64
			       "\n", path, room, line);
			break;
		}
		if (c != EOF)
			ungetc(c, f);
		r = read_line(f, buf, &n, &end);
		if (r <= 0)
			break;
		line++;
		if (end != '\n') {
			if (!newest)
				return broken(path, line, "the last line is incomplete (a torn write), "
					      "and newer files follow");
			return torn_tail(f, path, line, n, end);
		}
		r = verify_record(v, path, line, buf, n);
		if (r != VERIFY_INTACT)
			return r;
	}
	if (c == '\0')
		return VERIFY_INTACT;
	if (r == -EFBIG)
		return broken(path, line + 1, "line longer than any audit record");
	if (r < 0) {
		fprintf(stderr, "hsmjwtctl: cannot read %s: %s\n", path, strerror(-r));
		return VERIFY_UNREADABLE;
	}
	return VERIFY_INTACT;
}

static int verify(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "any-start", no_argument, NULL, 'a' },
		{},
	};
	Verify v = {};
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
		if (c != 'a')
			return VERIFY_USAGE;
		v.any_start = true;
	}
	if (optind >= argc) {
		fprintf(stderr, "hsmjwtctl: audit verify needs at least one FILE, oldest first\n");
		return VERIFY_USAGE;
	}
	/* Unreadable files first: a verdict on part of the trail would mislead. */
	for (int i = optind; i < argc; i++) {
		FILE *f = fopen(argv[i], "re");

		if (!f) {
			fprintf(stderr, "hsmjwtctl: cannot open %s: %s\n", argv[i], strerror(errno));
			return VERIFY_UNREADABLE;
		}
		fclose(f);
	}
	for (int i = optind; i < argc; i++) {
		r = verify_file(&v, argv[i], i == argc - 1);
		if (r != VERIFY_INTACT)
			return r;
	}
	if (v.n_records == 0) {
		printf("BROKEN: no audit records in the file(s) given\n");
		return VERIFY_BROKEN;
	}
	printf("INTACT: %" PRIu64 " records, %" PRIu64 "..%" PRIu64 ", in %d file(s)\n"
	       "last record %s:%" PRIu64 " has SHA-256 %s\n"
	       "(nothing follows the last record: compare that hash with the journal's "
	       "HSMJWT_RECORD_SHA256 or a copy kept elsewhere)\n",
	       v.n_records, v.first_seq, v.seq, argc - optind, v.file, v.line, v.hash);
	return VERIFY_INTACT;
}

int ctl_audit(const Config *config, int argc, char *argv[])
{
	(void)config;
	if (argc < 2 || strcmp(argv[1], "verify") != 0) {
		fprintf(stderr, "hsmjwtctl: usage: audit verify [--any-start] FILE...\n");
		return VERIFY_USAGE;
	}
	return verify(argc - 1, argv + 1);
}
