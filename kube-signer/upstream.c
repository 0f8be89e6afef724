/* SPDX-License-Identifier: MIT */
/*
 * The one connection to hsmjwtd, pipelined: every gRPC call becomes a
 * Request frame with an id of ours; answers may come in any order and are
 * matched by id. Connected on first use and again after the daemon went
 * away (a restart, a socket-activated start): calls in flight then fail as
 * UNAVAILABLE and later ones try a new connection.
 *
 * Written on proto/ rather than libhsmjwt: the adapter needs
 * PayloadSignRequest and KeysResponse.public_keys, which no other client
 * needs, on a non-blocking connection driven by its own sd-event loop;
 * putting them in libhsmjwt would freeze public ABI for one in-tree user.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "buf.h"
#include "frame.h"
#include "kube-signer.h"
#include "list.h"
#include "log.h"

typedef struct Waiter {
	ListNode node;
	uint64_t id;
	UpstreamDone done;
	void *userdata;
} Waiter;

struct Upstream {
	sd_event *event;
	char *path;
	uint32_t max_frame;
	int fd;
	sd_event_source *io;
	Buf in, out;
	ListNode waiting; /* Waiters, oldest first */
	size_t n_waiting;
	uint64_t next_id;
};

static void fail_all(Upstream *u, int error)
{
	ListNode *n;

	while ((n = list_pop_front(&u->waiting))) {
		Waiter *w = list_entry(n, Waiter, node);

		u->n_waiting--;
		w->done(w->userdata, NULL, error);
		free(w);
	}
}

static void disconnect(Upstream *u, int error)
{
	u->io = sd_event_source_disable_unref(u->io);
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
	buf_reset(&u->in);
	buf_reset(&u->out);
	if (error)
		log_warning_errno(error, "Connection to hsmjwtd lost (%s); %zu calls fail",
				  strerror(-error), u->n_waiting);
	fail_all(u, error ? error : -ECONNRESET);
}

static Waiter *take_waiter(Upstream *u, uint64_t id)
{
	for (ListNode *n = u->waiting.next; n != &u->waiting; n = n->next) {
		Waiter *w = list_entry(n, Waiter, node);

		if (w->id == id) {
			list_remove(n);
			u->n_waiting--;
			return w;
		}
	}
	return NULL;
}

static int dispatch_frames(Upstream *u)
{
	size_t off = 0;
	int r = 0;

	for (;;) {
		uint32_t n = 0;
		Hsmjwt__V1__Response *resp;
		Waiter *w;

		r = frame_peek((const uint8_t *)u->in.data + off, u->in.len - off, u->max_frame, &n);
		if (r <= 0)
			break;
		resp = hsmjwt__v1__response__unpack(NULL, n, (const uint8_t *)u->in.data + off +
							      FRAME_HEADER_SIZE);
		off += FRAME_HEADER_SIZE + n;
		if (!resp) {
			r = -EBADMSG;
			break;
		}
		w = take_waiter(u, resp->id);
		/* No waiter: the call was cancelled (deadline, reset); the answer is dropped. */
		if (w) {
			w->done(w->userdata, resp, 0);
			free(w);
		}
		hsmjwt__v1__response__free_unpacked(resp, NULL);
	}
	if (off) {
		memmove(u->in.data, u->in.data + off, u->in.len - off);
		u->in.len -= off;
	}
	return r < 0 ? r : 0;
}

static int flush(Upstream *u)
{
	while (u->out.len > 0) {
		ssize_t k = send(u->fd, u->out.data, u->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (k < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return -errno;
		}
		memmove(u->out.data, u->out.data + k, u->out.len - (size_t)k);
		u->out.len -= (size_t)k;
	}
	return sd_event_source_set_io_events(u->io, EPOLLIN | (u->out.len ? EPOLLOUT : 0));
}

static int on_io(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	Upstream *u = userdata;
	int r = 0;

	(void)src;
	if (revents & EPOLLIN) {
		for (;;) {
			ssize_t k;

			if (buf_reserve(&u->in, 16384) < 0) {
				r = -ENOMEM;
				break;
			}
			k = recv(fd, u->in.data + u->in.len, 16384, MSG_DONTWAIT);
			if (k < 0) {
				if (errno != EAGAIN && errno != EINTR)
					r = -errno;
				break;
			}
			if (k == 0) {
				r = -ECONNRESET;
				break;
			}
			u->in.len += (size_t)k;
		}
		if (r == 0)
			r = dispatch_frames(u);
	}
	if (r == 0 && (revents & (EPOLLHUP | EPOLLERR)) && !(revents & EPOLLIN))
		r = -ECONNRESET;
	if (r == 0)
		r = flush(u);
	if (r < 0)
		disconnect(u, r);
	return 0;
}

static int connect_daemon(Upstream *u)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	if (strlen(u->path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, u->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return log_warning_errno(r, "Cannot connect to hsmjwtd at %s: %s", u->path,
					 strerror(-r));
	}
	r = sd_event_add_io(u->event, &u->io, fd, EPOLLIN, on_io, u);
	if (r < 0) {
		close(fd);
		return r;
	}
	u->fd = fd;
	log_info("Connected to hsmjwtd at %s", u->path);
	return 0;
}

int upstream_new(sd_event *e, const char *socket_path, uint32_t max_frame, Upstream **ret)
{
	Upstream *u = calloc(1, sizeof(*u));

	if (!u)
		return -ENOMEM;
	u->event = sd_event_ref(e);
	u->path = strdup(socket_path);
	u->max_frame = max_frame;
	u->fd = -1;
	u->next_id = 1;
	list_init(&u->waiting);
	if (!u->path) {
		upstream_free(u);
		return -ENOMEM;
	}
	*ret = u;
	return 0;
}

Upstream *upstream_free(Upstream *u)
{
	if (!u)
		return NULL;
	disconnect(u, 0);
	buf_done(&u->in);
	buf_done(&u->out);
	free(u->path);
	sd_event_unref(u->event);
	free(u);
	return NULL;
}

int upstream_call(Upstream *u, Hsmjwt__V1__Request *req, UpstreamDone done, void *userdata,
		  uint64_t *ret_id)
{
	Waiter *w;
	size_t n;
	int r;

	if (u->fd < 0 && (r = connect_daemon(u)) < 0)
		return r;
	req->id = u->next_id++;
	n = hsmjwt__v1__request__get_packed_size(req);
	if (n > u->max_frame)
		return -EMSGSIZE;
	w = malloc(sizeof(*w));
	if (!w || buf_reserve(&u->out, FRAME_HEADER_SIZE + n) < 0) {
		free(w);
		return -ENOMEM;
	}
	frame_header_put((uint8_t *)u->out.data + u->out.len, (uint32_t)n);
	hsmjwt__v1__request__pack(req, (uint8_t *)u->out.data + u->out.len + FRAME_HEADER_SIZE);
	u->out.len += FRAME_HEADER_SIZE + n;
	*w = (Waiter){ .id = req->id, .done = done, .userdata = userdata };
	list_init(&w->node);
	list_push_back(&u->waiting, &w->node);
	u->n_waiting++;
	*ret_id = req->id;
	/* Pipelined: written now if the socket takes it, else when it is writable. */
	r = flush(u);
	if (r < 0) {
		/* The waiter, this call's included, learns through its callback. */
		take_waiter(u, req->id);
		free(w);
		disconnect(u, r);
		return r;
	}
	return 0;
}

void upstream_cancel(Upstream *u, uint64_t id)
{
	Waiter *w = take_waiter(u, id);

	if (w) {
		w->done(w->userdata, NULL, -ECANCELED);
		free(w);
	}
}
