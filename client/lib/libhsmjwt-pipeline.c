/* SPDX-License-Identifier: MIT */
/*
 * Pipelining: submit many sign requests on one connection, collect their
 * outcomes by id in whatever order the daemon answers. See hsmjwt.h for the
 * contract and pipeline.h for the state behind it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "pipeline.h"

_public_ int hsmjwt_client_set_max_in_flight(hsmjwt_client *c, uint32_t max)
{
	if (!c)
		return -EINVAL;
	if (max < 1 || max > HSMJWT_MAX_IN_FLIGHT_LIMIT)
		return -ERANGE;
	if (!pipeline_get(c))
		return -ENOMEM;
	c->pipeline->max_in_flight = max;
	return 0;
}

_public_ uint32_t hsmjwt_client_get_in_flight(const hsmjwt_client *c)
{
	return c && c->pipeline ? pipeline_in_flight(c->pipeline) : 0;
}

_public_ int hsmjwt_client_get_fd(const hsmjwt_client *c)
{
	if (!c)
		return -EINVAL;
	return c->fd >= 0 ? c->fd : -ENOTCONN;
}

/* The connection closed under us: the daemon restarted, exited idle, or timed us out. */
static bool connection_lost(int r)
{
	return r == -EPIPE || r == -ECONNRESET || r == -ENOTCONN;
}

_public_ int hsmjwt_sign_submit(hsmjwt_client *c, const hsmjwt_sign_request *r, uint64_t *ret_id)
{
	struct client_pipeline *p;
	ClientSignMessage m;
	int rr;

	if (!c || !r || !ret_id)
		return -EINVAL;
	p = pipeline_get(c);
	if (!p)
		return -ENOMEM;
	if (pipeline_in_flight(p) >= p->max_in_flight)
		return -EAGAIN;
	rr = pipeline_reserve(p);
	if (rr < 0)
		return rr;
	client_sign_message_init(&m, r);
	m.req.id = c->next_id++;
	/*
	 * A closed connection (the daemon restarted or exited idle) is replaced,
	 * and a request it refused outright is sent once more on the new one,
	 * as hsmjwt_sign() does. Requests it had taken got their error already.
	 */
	for (int attempt = 0; attempt < 2; attempt++) {
		rr = p->broken || c->fd < 0 ? pipeline_restart(c) : 0;
		if (rr >= 0)
			rr = pack_and_send(c, &m.req);
		if (!connection_lost(rr))
			break;
	}
	if (rr < 0)
		return rr;
	p->pending[p->n_pending++] = m.req.id;
	*ret_id = m.req.id;
	return 0;
}

/* One outcome: a token, the daemon's refusal, or the connection's failure. */
static int outcome(hsmjwt_client *c, Hsmjwt__V1__Response *resp, hsmjwt_token **ret)
{
	int r;

	if (resp->body_case == HSMJWT__V1__RESPONSE__BODY_ERROR)
		r = client_error_from_response(c, resp->error);
	else
		r = client_token_from_response(resp, ret);
	client_response_free(resp);
	return r;
}

static int failure(hsmjwt_client *c, int error)
{
	const struct client_pipeline *p = c->pipeline;

	if (p->broken_message[0]) {
		memcpy(c->error_message, p->broken_message, sizeof(c->error_message));
		c->has_error_message = 1;
	}
	return error;
}

static int collect_one(hsmjwt_client *c, uint64_t id, uint64_t flags, uint64_t *ret_id,
		       hsmjwt_token **ret)
{
	struct client_pipeline *p = c->pipeline;
	struct timespec deadline = deadline_after(c->timeout_ms);

	*ret_id = 0;
	if (!ret || (flags & ~HSMJWT_COLLECT_NONBLOCK))
		return -EINVAL;
	c->has_error_message = 0;
	c->retry_after_ms = 0;
	if (!p || pipeline_in_flight(p) == 0 ||
	    (id && pending_find(p, id) < 0 && !arrived_has(p, id) && !failed_has(p, id)))
		return -ENOENT;
	for (;;) {
		Hsmjwt__V1__Response *resp = arrived_take(p, id == 0, id);
		int r;

		if (resp) {
			*ret_id = resp->id;
			return outcome(c, resp, ret);
		}
		r = failed_take(p, id == 0, id, ret_id);
		if (r < 0)
			return failure(c, r);
		/* Still pending, so the connection is up: wait for more input. */
		r = wait_fd(c, false, &deadline, flags & HSMJWT_COLLECT_NONBLOCK);
		if (r >= 0)
			r = pump(c, 0, NULL);
		/* A broken connection failed the pending ids: the next turn hands them out. */
		if (r < 0 && !p->broken)
			return r;
	}
}

_public_ int hsmjwt_sign_collect(hsmjwt_client *c, uint64_t id, uint64_t flags, hsmjwt_token **ret)
{
	uint64_t got;

	if (!c || id == 0)
		return -EINVAL;
	return collect_one(c, id, flags, &got, ret);
}

_public_ int hsmjwt_sign_collect_next(hsmjwt_client *c, uint64_t flags, uint64_t *ret_id,
				      hsmjwt_token **ret)
{
	uint64_t dummy;

	if (ret_id)
		*ret_id = 0;
	if (!c)
		return -EINVAL;
	return collect_one(c, 0, flags, ret_id ? ret_id : &dummy, ret);
}
