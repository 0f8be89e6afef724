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
	return c && c->pipeline ? c->pipeline->n_pending + c->pipeline->n_arrived : 0;
}

_public_ int hsmjwt_client_get_fd(const hsmjwt_client *c)
{
	if (!c)
		return -EINVAL;
	return c->fd >= 0 ? c->fd : -ENOTCONN;
}

_public_ int hsmjwt_sign_submit(hsmjwt_client *c, const hsmjwt_sign_request *r, uint64_t *ret_id)
{
	struct client_pipeline *p;
	ClientSignMessage m;
	int rr;

	if (!c || !r || !ret_id)
		return -EINVAL;
	if (c->fd < 0)
		return -ENOTCONN;
	p = pipeline_get(c);
	if (!p)
		return -ENOMEM;
	if (p->n_pending + p->n_arrived >= p->max_in_flight)
		return -EAGAIN;
	if (p->n_pending == p->cap_pending) {
		uint32_t cap = p->cap_pending ? p->cap_pending * 2 : 32;
		uint64_t *n = realloc(p->pending, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		p->pending = n;
		p->cap_pending = cap;
	}
	client_sign_message_init(&m, r);
	m.req.id = c->next_id++;
	rr = pack_and_send(c, &m.req);
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

/* Waits until a response arrives for id (0: any pending id) or the connection fails. */
static int collect_wait(hsmjwt_client *c, uint64_t id, uint64_t flags,
			Hsmjwt__V1__Response **ret_resp)
{
	struct client_pipeline *p = c->pipeline;
	struct timespec deadline = deadline_after(c->timeout_ms);

	for (;;) {
		Hsmjwt__V1__Response *resp = arrived_take(p, id == 0, id);
		int r;

		if (resp) {
			*ret_resp = resp;
			return 0;
		}
		if (p->broken)
			return p->broken;
		r = wait_fd(c, false, &deadline, flags & HSMJWT_COLLECT_NONBLOCK);
		if (r >= 0)
			r = pump(c, 0, NULL);
		if (r < 0 && !p->broken)
			return r;
	}
}

static int collect_one(hsmjwt_client *c, uint64_t id, uint64_t flags, uint64_t *ret_id,
		       hsmjwt_token **ret)
{
	struct client_pipeline *p = c->pipeline;
	Hsmjwt__V1__Response *resp = NULL;
	int r;

	*ret_id = 0;
	if (!ret || (flags & ~HSMJWT_COLLECT_NONBLOCK))
		return -EINVAL;
	c->has_error_message = 0;
	c->retry_after_ms = 0;
	if (!p || p->n_pending + p->n_arrived == 0 ||
	    (id && pending_find(p, id) < 0 && !arrived_has(p, id)))
		return -ENOENT;
	r = collect_wait(c, id, flags, &resp);
	if (r < 0 && !p->broken)
		return r;
	if (resp) {
		*ret_id = resp->id;
		return outcome(c, resp, ret);
	}
	/* The connection failed: hand its error to one pending request. */
	if (!id)
		id = p->pending[0];
	pending_remove(p, pending_find(p, id));
	*ret_id = id;
	if (p->broken_message[0]) {
		memcpy(c->error_message, p->broken_message, sizeof(c->error_message));
		c->has_error_message = 1;
	}
	return p->broken;
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
