/* SPDX-License-Identifier: MIT */
/*
 * The client side of the hsmjwtd cells: one thread, epoll, many
 * connections, each keeping `depth` sign (or verify) requests in flight. Client CPU
 * stays low so the daemon gets the cores; every request's latency is taken
 * from just before its send() to the read that brought its response.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench.h"
#include "cleanup.h"
#include "frame.h"
#include "hsmjwt.pb-c.h"

#define MAX_DEPTH 256 /* the low 8 bits of an id name the slot */
#define IN_CAP (64u * 1024u)
#define REQUEST_MAX 768 /* a verify request carries a JWT: the bench's are under 700 bytes */
#define OUT_CAP (MAX_DEPTH * REQUEST_MAX)
#define DRAIN_TIMEOUT_NS (10ull * 1000000000u)

enum { PHASE_WARMUP, PHASE_MEASURE, PHASE_DRAIN };

typedef struct Conn {
	int fd;
	bool want_out;
	uint64_t seq;
	unsigned in_flight;
	size_t in_len, out_len;
	unsigned n_queued;
	uint8_t queued[MAX_DEPTH]; /* slots written to out, not yet sent */
	uint64_t sent_at[MAX_DEPTH];
	uint8_t in[IN_CAP];
	uint8_t out[OUT_CAP];
} Conn;

typedef struct Load {
	const LoadSpec *spec;
	Cell *cell;
	int ep;
	int phase;
	unsigned in_flight;
	Conn *conns;
	uint64_t t0;		    /* start of the measured window */
	double daemon_cpu0, self_cpu0;
} Load;

static size_t pack_request(uint8_t *out, const Hsmjwt__V1__Request *req)
{
	size_t n = hsmjwt__v1__request__get_packed_size(req);

	if (n > REQUEST_MAX - FRAME_HEADER_SIZE)
		return 0;
	frame_header_put(out, (uint32_t)n);
	hsmjwt__v1__request__pack(req, out + FRAME_HEADER_SIZE);
	return FRAME_HEADER_SIZE + n;
}

/* A verify request as a gateway sends it: the JWT, nothing else expected. */
static size_t encode_verify(uint8_t *out, uint64_t id, const char *jwt)
{
	Hsmjwt__V1__Request req = HSMJWT__V1__REQUEST__INIT;
	Hsmjwt__V1__VerifyRequest vr = HSMJWT__V1__VERIFY_REQUEST__INIT;

	vr.token = (char *)jwt;
	req.id = id;
	req.body_case = HSMJWT__V1__REQUEST__BODY_VERIFY;
	req.verify = &vr;
	return pack_request(out, &req);
}

/* A sign request as an app would send it: aud, uid, one hour; key NULL: the default one. */
static size_t encode_request(uint8_t *out, uint64_t id, const char *key)
{
	Hsmjwt__V1__Request req = HSMJWT__V1__REQUEST__INIT;
	Hsmjwt__V1__SignRequest sr = HSMJWT__V1__SIGN_REQUEST__INIT;

	sr.audience = (char *)"Custom";
	sr.user_id = (char *)"Custom:42";
	sr.expiry_case = HSMJWT__V1__SIGN_REQUEST__EXPIRY_LIFETIME_SECONDS;
	sr.lifetime_seconds = 3600;
	if (key)
		sr.key = (char *)key;
	req.id = id;
	req.body_case = HSMJWT__V1__REQUEST__BODY_SIGN;
	req.sign = &sr;
	return pack_request(out, &req);
}

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *ret)
{
	uint64_t v = 0;

	for (unsigned shift = 0; *p < end && shift < 64; shift += 7) {
		uint8_t b = *(*p)++;

		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*ret = v;
			return 0;
		}
	}
	return -EBADMSG;
}

/* Whether a VerifyResponse says valid (field 1). */
static bool verify_valid(const uint8_t *p, size_t n)
{
	const uint8_t *end = p + n;
	uint64_t key, v;

	while (p < end) {
		if (read_varint(&p, end, &key) < 0)
			return false;
		if ((key & 7) == 0) {
			if (read_varint(&p, end, &v) < 0)
				return false;
			if (key >> 3 == 1)
				return v == 1;
		} else if ((key & 7) == 2) {
			if (read_varint(&p, end, &v) < 0 || v > (uint64_t)(end - p))
				return false;
			p += v;
		} else {
			return false;
		}
	}
	return false;
}

/* The id of a Response and whether it carries a token (field 2) or a valid verdict (5). */
static int parse_response(const uint8_t *p, size_t n, uint64_t *ret_id, bool *ret_signed)
{
	const uint8_t *end = p + n;
	uint64_t key, v;

	*ret_id = 0;
	*ret_signed = false;
	while (p < end) {
		if (read_varint(&p, end, &key) < 0)
			return -EBADMSG;
		if ((key & 7) == 0) {
			if (read_varint(&p, end, &v) < 0)
				return -EBADMSG;
			if (key >> 3 == 1)
				*ret_id = v;
		} else if ((key & 7) == 2) {
			if (read_varint(&p, end, &v) < 0 || v > (uint64_t)(end - p))
				return -EBADMSG;
			if (key >> 3 == 2 || (key >> 3 == 5 && verify_valid(p, v)))
				*ret_signed = true;
			p += v;
		} else {
			return -EBADMSG;
		}
	}
	return 0;
}

int load_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return negative_errno();
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = negative_errno();

		close(fd);
		return r;
	}
	return fd;
}

int load_sign_on(int fd, uint64_t timeout_ns)
{
	uint8_t req[REQUEST_MAX], in[4096];
	size_t n = encode_request(req, 1, NULL), got = 0;
	uint64_t deadline = now_ns() + timeout_ns, id;
	uint32_t len;
	bool ok;

	if (send(fd, req, n, MSG_NOSIGNAL) != (ssize_t)n)
		return -EIO;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = now_ns();
		ssize_t k;

		if (frame_peek(in, got, sizeof(in), &len) > 0)
			break;
		if (now >= deadline || poll(&p, 1, (int)((deadline - now) / 1000000) + 1) <= 0)
			return -ETIMEDOUT;
		k = recv(fd, in + got, sizeof(in) - got, 0);
		if (k <= 0)
			return -ECONNRESET;
		got += (size_t)k;
	}
	if (parse_response(in + FRAME_HEADER_SIZE, len, &id, &ok) < 0 || id != 1 || !ok)
		return -EBADMSG;
	return 0;
}

int load_one_token(const char *socket_path, uint64_t timeout_ns)
{
	_cleanup_close_ int fd = load_connect(socket_path);

	return fd < 0 ? fd : load_sign_on(fd, timeout_ns);
}

int load_fetch_jwt(const char *socket_path, const char *key, char out[static JWT_MAX])
{
	_cleanup_close_ int fd = load_connect(socket_path);
	uint8_t req[REQUEST_MAX], in[8192];
	size_t n = encode_request(req, 1, key), got = 0;
	Hsmjwt__V1__Response *resp;
	uint32_t len;
	int r = -EBADMSG;

	if (fd < 0)
		return fd;
	if (send(fd, req, n, MSG_NOSIGNAL) != (ssize_t)n)
		return -EIO;
	while (frame_peek(in, got, sizeof(in), &len) <= 0) {
		ssize_t k = recv(fd, in + got, sizeof(in) - got, 0);

		if (k <= 0)
			return -ECONNRESET;
		got += (size_t)k;
	}
	resp = hsmjwt__v1__response__unpack(NULL, len, in + FRAME_HEADER_SIZE);
	if (resp && resp->body_case == HSMJWT__V1__RESPONSE__BODY_SIGN &&
	    strlen(resp->sign->token) < JWT_MAX) {
		strcpy(out, resp->sign->token);
		r = 0;
	}
	if (resp)
		hsmjwt__v1__response__free_unpacked(resp, NULL);
	return r;
}

static void queue_request(Load *l, Conn *c, unsigned slot)
{
	uint64_t id = (++c->seq << 8) | slot;
	size_t n = l->spec->verify_jwt ? encode_verify(c->out + c->out_len, id, l->spec->verify_jwt) :
					 encode_request(c->out + c->out_len, id, l->spec->key);

	c->out_len += n;
	c->queued[c->n_queued++] = (uint8_t)slot;
	c->in_flight++;
	l->in_flight++;
}

static int conn_flush(Load *l, Conn *c)
{
	uint64_t t = now_ns();
	ssize_t k;

	for (unsigned i = 0; i < c->n_queued; i++)
		c->sent_at[c->queued[i]] = t;
	c->n_queued = 0;
	if (c->out_len == 0)
		return 0;
	k = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (k < 0 && errno != EAGAIN && errno != EINTR)
		return negative_errno();
	if (k > 0) {
		memmove(c->out, c->out + k, c->out_len - (size_t)k);
		c->out_len -= (size_t)k;
	}
	if ((c->out_len > 0) != c->want_out) {
		struct epoll_event ev = { .events = EPOLLIN | (c->out_len ? EPOLLOUT : 0), .data.ptr = c };

		c->want_out = c->out_len > 0;
		if (epoll_ctl(l->ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
			return negative_errno();
	}
	return 0;
}

static int conn_read(Load *l, Conn *c)
{
	ssize_t k = recv(c->fd, c->in + c->in_len, IN_CAP - c->in_len, MSG_DONTWAIT);
	uint64_t t = now_ns();
	size_t off = 0;
	uint32_t n;

	if (k < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : negative_errno();
	if (k == 0)
		return -ECONNRESET;
	c->in_len += (size_t)k;
	while (frame_peek(c->in + off, c->in_len - off, IN_CAP - FRAME_HEADER_SIZE, &n) > 0) {
		uint64_t id;
		bool ok;
		unsigned slot;

		if (parse_response(c->in + off + FRAME_HEADER_SIZE, n, &id, &ok) < 0 || id == 0)
			return -EBADMSG;
		off += FRAME_HEADER_SIZE + n;
		slot = (unsigned)(id & 0xff);
		if (slot >= l->spec->depth || c->in_flight == 0)
			return -EBADMSG;
		c->in_flight--;
		l->in_flight--;
		if (l->phase == PHASE_MEASURE) {
			hist_add(&l->cell->lat, t - c->sent_at[slot]);
			if (ok)
				l->cell->tokens++;
			else
				l->cell->errors++;
		}
		if (l->phase != PHASE_DRAIN)
			queue_request(l, c, slot);
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	return conn_flush(l, c);
}

static int open_conns(Load *l)
{
	for (unsigned i = 0; i < l->spec->conns; i++) {
		Conn *c = &l->conns[i];
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		c->fd = load_connect(l->spec->socket);
		if (c->fd < 0)
			return c->fd;
		if (epoll_ctl(l->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
			return negative_errno();
	}
	for (unsigned i = 0; i < l->spec->conns; i++) {
		Conn *c = &l->conns[i];
		int r;

		for (unsigned s = 0; s < l->spec->depth; s++)
			queue_request(l, c, s);
		r = conn_flush(l, c);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Moves to the next phase when its time has come; samples the daemon at the edges. */
static void advance(Load *l, uint64_t now, uint64_t t_measure, uint64_t t_end)
{
	const LoadSpec *s = l->spec;

	if (l->phase == PHASE_WARMUP && now >= t_measure) {
		l->phase = PHASE_MEASURE;
		if (s->daemon_pid) {
			proc_reset_peak(s->daemon_pid);
			l->daemon_cpu0 = proc_cpu_seconds(s->daemon_pid, false);
		}
		l->self_cpu0 = self_cpu_seconds();
		l->t0 = now;
	} else if (l->phase == PHASE_MEASURE && now >= t_end) {
		l->phase = PHASE_DRAIN;
		l->cell->seconds = (double)(now - l->t0) / 1e9;
		l->cell->client_cpu = self_cpu_seconds() - l->self_cpu0;
		if (s->daemon_pid) {
			l->cell->server_cpu = proc_cpu_seconds(s->daemon_pid, false) - l->daemon_cpu0;
			l->cell->peak_rss_kib = proc_status_kib(s->daemon_pid, "VmHWM", false);
		}
	}
}

static int loop(Load *l)
{
	uint64_t start = now_ns();
	uint64_t t_measure = start + l->spec->phases.warmup_ns;
	uint64_t t_end = t_measure + l->spec->phases.duration_ns;
	struct epoll_event ev[64];

	for (;;) {
		uint64_t now = now_ns(), next;
		int n;

		advance(l, now, t_measure, t_end);
		if (l->phase == PHASE_DRAIN && l->in_flight == 0)
			return 0;
		if (l->phase == PHASE_DRAIN && now > t_end + DRAIN_TIMEOUT_NS)
			return -ETIMEDOUT;
		next = l->phase == PHASE_WARMUP ? t_measure : l->phase == PHASE_MEASURE ? t_end : now + 100000000u;
		n = epoll_wait(l->ep, ev, (int)ELEMENTSOF(ev), (int)((next > now ? next - now : 0) / 1000000) + 1);
		if (n < 0 && errno != EINTR)
			return negative_errno();
		for (int i = 0; i < n; i++) {
			Conn *c = ev[i].data.ptr;
			int r = (ev[i].events & EPOLLIN) ? conn_read(l, c) : conn_flush(l, c);

			if (r == 0 && (ev[i].events & (EPOLLERR | EPOLLHUP)) && !(ev[i].events & EPOLLIN))
				r = -ECONNRESET;
			if (r < 0)
				return r;
		}
	}
}

int load_run(const LoadSpec *spec, Cell *cell)
{
	Load l = { .spec = spec, .cell = cell, .phase = PHASE_WARMUP };
	int r;

	cell->peak_rss_kib = -1;
	cell->server_cpu = -1;
	if (spec->depth == 0 || spec->depth > MAX_DEPTH)
		return -EINVAL;
	l.conns = calloc(spec->conns, sizeof(Conn));
	l.ep = epoll_create1(EPOLL_CLOEXEC);
	if (!l.conns || l.ep < 0) {
		free(l.conns);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < spec->conns; i++)
		l.conns[i].fd = -EBADF;
	r = open_conns(&l);
	if (r >= 0)
		r = loop(&l);
	for (unsigned i = 0; i < spec->conns; i++)
		if (l.conns[i].fd >= 0)
			close(l.conns[i].fd);
	close(l.ep);
	free(l.conns);
	cell->ran = r >= 0;
	return r;
}
