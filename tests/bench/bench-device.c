/* SPDX-License-Identifier: MIT */
/*
 * The device's own limit for sync = always: how long one record-sized
 * write() + fdatasync() takes on the file system of the audit file (the
 * bench's temp dir). Appending grows the file, so each fdatasync() also
 * commits the new size (on ext4 a journal commit: metadata and a second
 * flush); writing into a region that was zero-filled and synced before
 * changes no metadata, so fdatasync() flushes the data only. The same two
 * again with pwritev2(RWF_DSYNC): one system call that writes and flushes.
 * And appending into blocks reserved with fallocate(FALLOC_FL_KEEP_SIZE):
 * no block allocation per sync, but the size (and the extent's written
 * state) still change.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bench.h"
#include "cleanup.h"

/* A typical record of an issued JWT, with its newline (the trail's lines are 400-500 bytes). */
#define RECORD_BYTES 450u
/* Preallocated region, reused from its start when a pass gets to its end. */
#define PREALLOC_BYTES (16u * 1024u * 1024u)
#define SLICE_NS (50ull * 1000000u)
/* Short runs (--quick) go on until every mode has this many samples, for at most the overtime. */
#define DEVICE_MIN_SAMPLES 20u
#define DEVICE_OVERTIME_NS (10ull * 1000000000u)

const char *const device_mode_names[_DEVICE_MAX] = {
	[DEVICE_APPEND] = "append",
	[DEVICE_PREALLOCATED] = "preallocated",
	[DEVICE_APPEND_DSYNC] = "append_rwf_dsync",
	[DEVICE_PREALLOCATED_DSYNC] = "preallocated_rwf_dsync",
	[DEVICE_APPEND_FALLOCATED] = "append_fallocated",
};

static int zero_fill(int fd)
{
	static const char zeros[64 * 1024];

	for (size_t off = 0; off < PREALLOC_BYTES; off += sizeof(zeros))
		if (write(fd, zeros, sizeof(zeros)) != (ssize_t)sizeof(zeros))
			return -EIO;
	return fsync(fd) < 0 ? negative_errno() : 0;
}

/* One record written and flushed the way mode says; off is the preallocated offset. */
static int write_one(int fd, DeviceMode mode, const char *rec, off_t *off)
{
	struct iovec iov = { .iov_base = (void *)rec, .iov_len = RECORD_BYTES };
	bool prealloc = mode == DEVICE_PREALLOCATED || mode == DEVICE_PREALLOCATED_DSYNC;
	ssize_t k;

	if (prealloc && *off + RECORD_BYTES > PREALLOC_BYTES)
		*off = 0;
	if (mode == DEVICE_APPEND_DSYNC || mode == DEVICE_PREALLOCATED_DSYNC)
		k = pwritev2(fd, &iov, 1, prealloc ? *off : -1, RWF_DSYNC);
	else if (prealloc)
		k = pwrite(fd, rec, RECORD_BYTES, *off);
	else
		k = write(fd, rec, RECORD_BYTES);
	if (k != (ssize_t)RECORD_BYTES)
		return k < 0 ? negative_errno() : -EIO;
	*off += RECORD_BYTES;
	if (mode == DEVICE_APPEND || mode == DEVICE_PREALLOCATED || mode == DEVICE_APPEND_FALLOCATED)
		return fdatasync(fd) < 0 ? negative_errno() : 0;
	return 0;
}

static bool enough(const Device *d)
{
	for (int m = 0; m < _DEVICE_MAX; m++)
		if (d->lat[m].count < DEVICE_MIN_SAMPLES)
			return false;
	return true;
}

/*
 * The modes take turns in slices of SLICE_NS, so that load from
 * elsewhere (other processes' I/O, writeback) falls on all of them alike.
 * Not one record each in turn: then every journal commit an append forces
 * carries the other files' time stamps too, and all four measure ~2 ms.
 */
int device_run(Run *run, const BenchEnv *env, const Phases *ph)
{
	char path[_DEVICE_MAX][128], rec[RECORD_BYTES];
	int fd[_DEVICE_MAX];
	off_t off[_DEVICE_MAX] = {};
	uint64_t t_measure, t_end;
	int r = 0;

	memset(rec, 'x', sizeof(rec));
	rec[sizeof(rec) - 1] = '\n';
	fprintf(stderr, "hsmjwt-bench: device write() + fdatasync(), %d ways in turns\n", _DEVICE_MAX);
	for (int m = 0; m < _DEVICE_MAX; m++) {
		bool prealloc = m == DEVICE_PREALLOCATED || m == DEVICE_PREALLOCATED_DSYNC;

		snprintf(path[m], sizeof(path[m]), "%s/device-%s", env->dir, device_mode_names[m]);
		fd[m] = open(path[m], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | (prealloc ? 0 : O_APPEND),
			     0600);
		if (fd[m] < 0 && r >= 0)
			r = negative_errno();
		if (fd[m] >= 0 && prealloc && r >= 0)
			r = zero_fill(fd[m]);
		if (fd[m] >= 0 && m == DEVICE_APPEND_FALLOCATED && r >= 0 &&
		    (fallocate(fd[m], FALLOC_FL_KEEP_SIZE, 0, PREALLOC_BYTES) < 0 || fsync(fd[m]) < 0))
			r = negative_errno();
	}
	t_measure = now_ns() + ph->warmup_ns;
	t_end = t_measure + ph->duration_ns;
	while (r >= 0 && (now_ns() < t_end || !enough(&run->dev)) && now_ns() < t_end + DEVICE_OVERTIME_NS)
		for (int m = 0; m < _DEVICE_MAX && r >= 0; m++) {
			uint64_t slice_end = now_ns() + SLICE_NS;

			for (uint64_t t0 = now_ns(); r >= 0 && t0 < slice_end; t0 = now_ns()) {
				r = write_one(fd[m], (DeviceMode)m, rec, &off[m]);
				if (t0 >= t_measure)
					hist_add(&run->dev.lat[m], now_ns() - t0);
			}
		}
	for (int m = 0; m < _DEVICE_MAX; m++) {
		if (fd[m] >= 0)
			close(fd[m]);
		(void)unlink(path[m]);
	}
	if (r < 0) {
		fprintf(stderr, "hsmjwt-bench: device cell in %s: %s\n", env->dir, strerror(-r));
		return r;
	}
	run->dev.ran = true;
	return 0;
}
