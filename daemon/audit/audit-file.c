/* SPDX-License-Identifier: MIT */
#include "audit-file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"

const char *audit_file_strerror(int r)
{
	switch (r) {
	case -EBADMSG:
		return "its last line is not an hsmjwt audit record";
	case -EFBIG:
		return "its last line is longer than any audit record";
	case -ENOTSUP:
		return "not a regular file";
	case -ENOENT:
		return "the file or its directory was removed";
	case -EBUSY:
		return "another process (a second hsmjwtd?) holds its lock";
	default:
		return strerror(-r);
	}
}

static int pread_full(int fd, char *buf, size_t n, off_t off)
{
	while (n > 0) {
		ssize_t k = pread(fd, buf, n, off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return negative_errno();
		if (k == 0)
			return -EIO; /* the file shrank under us */
		buf += k;
		n -= (size_t)k;
		off += k;
	}
	return 0;
}

/* A zero tail longer than this is no room of ours: the file is not a trail. */
#define ZERO_TAIL_MAX (4 * AUDIT_PREALLOC_BYTES)
#define ZERO_CHUNK (64 * 1024)

static const char zeros[ZERO_CHUNK];

static int pwrite_zeros(int fd, off_t off, off_t n)
{
	while (n > 0) {
		size_t k = n < ZERO_CHUNK ? (size_t)n : ZERO_CHUNK;
		ssize_t w = pwrite(fd, zeros, k, off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? negative_errno() : -ENOSPC;
		off += w;
		n -= w;
	}
	return 0;
}

/*
 * Where the records end: before the zeros a preallocated file carries after
 * them (all of its room, if a crash came before the daemon cut it).
 */
static int zero_tail(int fd, off_t size, off_t *ret_end)
{
	_cleanup_free_ char *buf = malloc(ZERO_CHUNK);
	off_t end = size;

	if (!buf)
		return -ENOMEM;
	while (end > 0 && size - end <= ZERO_TAIL_MAX) {
		size_t k = end < ZERO_CHUNK ? (size_t)end : ZERO_CHUNK;
		int r = pread_full(fd, buf, k, end - (off_t)k);

		if (r < 0)
			return r;
		while (k > 0 && buf[k - 1] == '\0')
			k--, end--;
		if (k > 0)
			break;
	}
	if (size - end > ZERO_TAIL_MAX)
		return -EBADMSG;
	*ret_end = end;
	return 0;
}

/* Finds the last complete line in the file's tail, cutting a torn one off. */
static int read_tail(int fd, off_t size, AuditHead *ret_head, uint64_t *ret_dropped)
{
	size_t want = (uint64_t)size < 2 * AUDIT_LINE_MAX ? (size_t)size : 2 * AUDIT_LINE_MAX;
	off_t start = size - (off_t)want;
	_cleanup_free_ char *buf = NULL;
	char prev[AUDIT_HASH_HEX];
	const char *nl, *prev_nl;
	size_t end, begin;
	int r;

	*ret_dropped = 0;
	*ret_head = (AuditHead){};
	memcpy(ret_head->hash, audit_chain_genesis, AUDIT_HASH_HEX);
	if (size == 0)
		return 0;
	buf = malloc(want);
	if (!buf)
		return -ENOMEM;
	r = pread_full(fd, buf, want, start);
	if (r < 0)
		return r;

	nl = memrchr(buf, '\n', want);
	if (!nl && start > 0)
		return -EFBIG;
	end = nl ? (size_t)(nl - buf) + 1 : 0;
	if (end < want) {
		if (ftruncate(fd, start + (off_t)end) < 0)
			return negative_errno();
		*ret_dropped = want - end;
	}
	if (start + (off_t)end == 0)
		return 0;

	prev_nl = end > 1 ? memrchr(buf, '\n', end - 1) : NULL;
	if (!prev_nl && start > 0)
		return -EFBIG;
	begin = prev_nl ? (size_t)(prev_nl - buf) + 1 : 0;
	r = audit_chain_parse(buf + begin, end - 1 - begin, &ret_head->seq, prev);
	if (r < 0)
		return r;
	audit_sha256_hex(buf + begin, end - 1 - begin, ret_head->hash);
	return ret_head->hash[0] ? 0 : -EIO;
}

int audit_file_open(const char *path, AuditFile *ret, AuditHead *ret_head, uint64_t *ret_dropped)
{
	_cleanup_close_ int fd = -EBADF;
	struct stat st;
	off_t end;
	int r;

	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
	if (fd < 0)
		return negative_errno();
	if (fstat(fd, &st) < 0)
		return negative_errno();
	/* /dev/null would swallow the trail and call it written. */
	if (!S_ISREG(st.st_mode))
		return -ENOTSUP;
	/* Two writers would interleave two chains: one daemon per file. */
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? -EBUSY : negative_errno();
	/* Zeros hold no record: a preallocated file's room, cut here and made anew. */
	r = zero_tail(fd, st.st_size, &end);
	if (r < 0)
		return r;
	if (end < st.st_size && ftruncate(fd, end) < 0)
		return negative_errno();
	r = read_tail(fd, end, ret_head, ret_dropped);
	if (r < 0)
		return r;
	*ret = (AuditFile){ .fd = TAKE_FD(fd), .torn_at = -1 };
	return 0;
}

/* Zeros for the next AUDIT_PREALLOC_BYTES; on failure the file is as it was. */
static int extend(AuditFile *f)
{
	int r = pwrite_zeros(f->fd, f->alloc_end, AUDIT_PREALLOC_BYTES);

	if (r < 0) {
		(void)!ftruncate(f->fd, f->alloc_end);
		return r;
	}
	f->alloc_end += AUDIT_PREALLOC_BYTES;
	return 0;
}

int audit_file_preallocate(AuditFile *f)
{
	struct stat st;
	int flags;

	if (fstat(f->fd, &st) < 0)
		return negative_errno();
	/* With O_APPEND, Linux appends even a pwrite(2). */
	flags = fcntl(f->fd, F_GETFL);
	if (flags < 0 || fcntl(f->fd, F_SETFL, flags & ~O_APPEND) < 0)
		return negative_errno();
	f->prealloc = true;
	f->end = f->alloc_end = st.st_size;
	return extend(f);
}

/* A preallocated file's append: into the room, which grows first when the line would not fit. */
static int append_at(AuditFile *f, const char *line, size_t n)
{
	ssize_t k;
	int r;

	/* No room to be had (a full disk): written past the end, as an append would be. */
	if (f->end + (off_t)n > f->alloc_end)
		(void)extend(f);
	k = pwrite(f->fd, line, n, f->end);
	if (k == (ssize_t)n) {
		f->end += (off_t)n;
		if (f->end > f->alloc_end)
			f->alloc_end = f->end;
		return 0;
	}
	r = k < 0 ? negative_errno() : -ENOSPC;
	/* Part of a line: zeros again (or cut), so it never reads as a record. */
	if (k > 0 && (f->end + k <= f->alloc_end ? pwrite_zeros(f->fd, f->end, k) < 0 :
						   ftruncate(f->fd, f->end) < 0))
		f->torn_at = f->end;
	if (f->end + k > f->alloc_end)
		f->alloc_end = f->end;
	return r;
}

void audit_file_close(AuditFile *f)
{
	/* The room goes: a closed (rotated) file is plain JSON Lines. */
	if (f->fd >= 0 && f->prealloc)
		(void)!ftruncate(f->fd, f->end);
	if (f->fd >= 0)
		close(f->fd);
	*f = (AuditFile){ .fd = -EBADF, .torn_at = -1 };
}

int audit_file_append(AuditFile *f, const char *line, size_t n)
{
	ssize_t k;
	off_t end;
	int r;

	if (f->fd < 0)
		return -EBADF;
	/* A line glued to a torn one would break the chain: cut first, or write nothing. */
	if (f->torn_at >= 0) {
		if (ftruncate(f->fd, f->torn_at) < 0)
			return negative_errno();
		f->end = f->alloc_end = f->torn_at;
		f->torn_at = -1;
	}
	if (f->prealloc)
		return append_at(f, line, n);
	k = write(f->fd, line, n);
	if (k == (ssize_t)n)
		return 0;
	/* A short write to a regular file means the space ran out. */
	r = k < 0 ? negative_errno() : -ENOSPC;
	if (k > 0) {
		/* With O_APPEND the offset is now the end of our bytes. */
		end = lseek(f->fd, 0, SEEK_CUR);
		if (end >= k && ftruncate(f->fd, end - k) < 0)
			f->torn_at = end - k;
	}
	return r;
}

bool audit_file_is(const AuditFile *f, const char *path)
{
	struct stat a, b;

	return f->fd >= 0 && fstat(f->fd, &a) == 0 && a.st_nlink > 0 && stat(path, &b) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int audit_file_check(AuditFile *f, bool sync)
{
	return audit_fd_check(f->fd, sync);
}

int audit_fd_check(int fd, bool sync)
{
	struct stat st;

	if (fd < 0)
		return -EBADF;
	if (sync && fdatasync(fd) < 0)
		return negative_errno();
	if (fstat(fd, &st) < 0)
		return negative_errno();
	/* Deleted (or its directory removed): what went there since is gone with it. */
	if (st.st_nlink == 0)
		return -ENOENT;
	return 0;
}
