/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Framing shared by daemon and client: a 4-byte big-endian length, then that
 * many bytes of one protobuf message. The length is checked against the
 * caller's limit before anything is allocated.
 */

#include <stddef.h>
#include <stdint.h>

#define FRAME_HEADER_SIZE 4
/* The limit both sides use unless configured otherwise. */
#define FRAME_DEFAULT_MAX (64u * 1024u)

static inline void frame_header_put(uint8_t hdr[static FRAME_HEADER_SIZE], uint32_t len)
{
	hdr[0] = (uint8_t)(len >> 24);
	hdr[1] = (uint8_t)(len >> 16);
	hdr[2] = (uint8_t)(len >> 8);
	hdr[3] = (uint8_t)len;
}

static inline uint32_t frame_header_get(const uint8_t hdr[static FRAME_HEADER_SIZE])
{
	return (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
}

/*
 * Looks for one complete frame at the start of buf[0..len).
 * Returns 1 and sets *ret_payload_len when a whole frame is there (it spans
 * FRAME_HEADER_SIZE + *ret_payload_len bytes), 0 when more bytes are needed,
 * -EMSGSIZE when the announced length exceeds max.
 */
int frame_peek(const uint8_t *buf, size_t len, uint32_t max, uint32_t *ret_payload_len);

/* Blocking helpers for the client side: whole frames or an error. */

/* Writes header and payload, retrying on EINTR and short writes. */
int frame_write_fd(int fd, const uint8_t *payload, uint32_t len);

/*
 * Reads one frame into a newly allocated buffer. Returns 0 and the payload,
 * -EMSGSIZE when the frame exceeds max (nothing is read past the header),
 * -ECONNRESET when the peer closed before a whole frame arrived, -errno else.
 */
int frame_read_fd(int fd, uint32_t max, uint8_t **ret_payload, uint32_t *ret_len);
