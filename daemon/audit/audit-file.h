/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "audit-chain.h"

/* The JSON Lines file: appends whole lines or nothing, and finds where its chain ends. */

typedef struct AuditHead {
	uint64_t seq;			/* the last record's; 0 before the first */
	char hash[AUDIT_HASH_HEX];	/* SHA-256 of the last record's line */
} AuditHead;

typedef struct AuditFile {
	int fd;
	off_t torn_at; /* >= 0: a short write left bytes from here on; cut before the next write */
	/*
	 * Preallocated ([audit] preallocate): the records end at end, zeros
	 * follow up to alloc_end, and lines go there with pwrite(2), so the size
	 * does not change and fdatasync() flushes data only (one device flush,
	 * not a journal commit too: 130-155 us against 205-260 us p50 on the
	 * project's VM, hsmjwt-bench's device cell).
	 */
	bool prealloc;
	off_t end, alloc_end;
} AuditFile;

/* Zeros are added this much at a time, when a line would not fit any more. */
#define AUDIT_PREALLOC_BYTES (1024 * 1024)

/*
 * Opens path for appending (created 0640 if missing; it must be a regular
 * file), takes its lock (-EBUSY if another process has it) and reads the record it ends with into *ret_head. A torn last line
 * (a crash or a full disk in the middle of a write) is cut off and its size
 * returned in *ret_dropped.
 */
int audit_file_open(const char *path, AuditFile *ret, AuditHead *ret_head, uint64_t *ret_dropped);
/*
 * From now on keeps zero-filled room after the records and writes into it.
 * A zero tail found at open (a crash while preallocated) is cut before the
 * last line is read; audit_file_close() cuts the room, so a closed or
 * rotated file is plain JSON Lines.
 */
int audit_file_preallocate(AuditFile *f);
void audit_file_close(AuditFile *f);

/* Whether path still names the file f has open. */
bool audit_file_is(const AuditFile *f, const char *path);

/* Appends line[0..n) (newline included) with one write(2); on failure nothing stays. */
int audit_file_append(AuditFile *f, const char *line, size_t n);

/* fdatasync() when sync, then checks the file still has a name (-ENOENT once it was deleted). */
int audit_file_check(AuditFile *f, bool sync);
/* The same on a bare descriptor: what the sync thread runs. */
int audit_fd_check(int fd, bool sync);

/* Words for the errors above that strerror() would leave unclear. */
const char *audit_file_strerror(int r);
