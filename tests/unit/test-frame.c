/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"
#include "tests.h"

static void test_peek(void)
{
	uint8_t buf[16] = { 0, 0, 0, 3, 'a', 'b', 'c', 0, 0 };
	uint32_t n = 0;

	/* Short reads: nothing until the header, then nothing until the whole payload. */
	for (size_t len = 0; len < 7; len++)
		check_int(frame_peek(buf, len, 64, &n), 0);
	check_int(frame_peek(buf, 7, 64, &n), 1);
	check_int(n, 3);
	check_int(frame_peek(buf, 9, 64, &n), 1);

	/* Over-long: refused from the header alone, before any payload arrives. */
	frame_header_put(buf, 65);
	check_int(frame_peek(buf, 4, 64, &n), -EMSGSIZE);
	frame_header_put(buf, 0xffffffffu);
	check_int(frame_peek(buf, 4, UINT32_MAX - 1, &n), -EMSGSIZE);
	/* Exactly the limit is fine. */
	frame_header_put(buf, 4);
	check_int(frame_peek(buf, 8, 4, &n), 1);
	/* Zero-length frames are frames. */
	frame_header_put(buf, 0);
	check_int(frame_peek(buf, 4, 4, &n), 1);
	check_int(n, 0);
}

static void test_header_big_endian(void)
{
	uint8_t h[4];

	frame_header_put(h, 0x01020304u);
	check(h[0] == 1 && h[1] == 2 && h[2] == 3 && h[3] == 4);
	check_int(frame_header_get(h), 0x01020304u);
}

static void test_fd_roundtrip(void)
{
	int sv[2];
	uint8_t *p = NULL;
	uint32_t n = 0;

	check(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	check_int(frame_write_fd(sv[0], (const uint8_t *)"hello", 5), 0);
	check_int(frame_read_fd(sv[1], 64, &p, &n), 0);
	check_mem(p, n, "hello");
	free(p);

	/* Over the reader's limit: refused without reading the payload. */
	check_int(frame_write_fd(sv[0], (const uint8_t *)"0123456789", 10), 0);
	check_int(frame_read_fd(sv[1], 9, &p, &n), -EMSGSIZE);

	close(sv[0]);
	close(sv[1]);
}

static void test_truncated(void)
{
	uint8_t half[6] = { 0, 0, 0, 9, 'x', 'y' };
	uint8_t *p = NULL;
	uint32_t n = 0;
	int sv[2];

	/* The peer closes mid-frame: an error, never a short payload. */
	check(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	check(write(sv[0], half, sizeof(half)) == (ssize_t)sizeof(half));
	close(sv[0]);
	check_int(frame_read_fd(sv[1], 64, &p, &n), -ECONNRESET);
	check(p == NULL);
	close(sv[1]);
}

int main(void)
{
	test_peek();
	test_header_big_endian();
	test_fd_roundtrip();
	test_truncated();
	return 0;
}
