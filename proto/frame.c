/* SPDX-License-Identifier: MIT */
#include "frame.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"

int frame_peek(const uint8_t *buf, size_t len, uint32_t max, uint32_t *ret_payload_len)
{
	uint32_t n;

	if (len < FRAME_HEADER_SIZE)
		return 0;
	n = frame_header_get(buf);
	if (n > max)
		return -EMSGSIZE;
	if (len - FRAME_HEADER_SIZE < n)
		return 0;
	*ret_payload_len = n;
	return 1;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		/* MSG_NOSIGNAL: a vanished daemon is an error to report, not a SIGPIPE. */
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int read_all(int fd, uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t k = read(fd, p, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (k == 0)
			return -ECONNRESET;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

int frame_write_fd(int fd, const uint8_t *payload, uint32_t len)
{
	uint8_t hdr[FRAME_HEADER_SIZE];
	int r;

	frame_header_put(hdr, len);
	r = write_all(fd, hdr, sizeof(hdr));
	if (r < 0)
		return r;
	return write_all(fd, payload, len);
}

int frame_read_fd(int fd, uint32_t max, uint8_t **ret_payload, uint32_t *ret_len)
{
	uint8_t hdr[FRAME_HEADER_SIZE];
	_cleanup_free_ uint8_t *buf = NULL;
	uint32_t n;
	int r;

	r = read_all(fd, hdr, sizeof(hdr));
	if (r < 0)
		return r;
	n = frame_header_get(hdr);
	if (n > max)
		return -EMSGSIZE;
	/* malloc(0) may return NULL; one spare byte keeps "no memory" unambiguous. */
	buf = malloc(n + 1);
	if (!buf)
		return -ENOMEM;
	r = read_all(fd, buf, n);
	if (r < 0)
		return r;
	*ret_payload = TAKE_PTR(buf);
	*ret_len = n;
	return 0;
}
