/* SPDX-License-Identifier: MIT */
/* The pipeline's sets of ids: pending, arrived and failed; see pipeline.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline.h"

int pending_find(const struct client_pipeline *p, uint64_t id)
{
	for (uint32_t i = 0; i < p->n_pending; i++)
		if (p->pending[i] == id)
			return (int)i;
	return -ENOENT;
}

void pending_remove(struct client_pipeline *p, int i)
{
	p->pending[i] = p->pending[--p->n_pending];
}

bool arrived_has(const struct client_pipeline *p, uint64_t id)
{
	for (const Arrived *a = p->head; a; a = a->next)
		if (a->resp->id == id)
			return true;
	return false;
}

bool failed_has(const struct client_pipeline *p, uint64_t id)
{
	for (uint32_t i = 0; i < p->n_failed; i++)
		if (p->failed[i].id == id)
			return true;
	return false;
}

int failed_take(struct client_pipeline *p, bool any, uint64_t id, uint64_t *ret_id)
{
	for (uint32_t i = 0; i < p->n_failed; i++) {
		Failed f = p->failed[i];

		if (!any && f.id != id)
			continue;
		/* Keep the order: the oldest failure is reported first. */
		memmove(p->failed + i, p->failed + i + 1, (p->n_failed - i - 1) * sizeof(Failed));
		p->n_failed--;
		*ret_id = f.id;
		return f.error;
	}
	return 0;
}

static int grow(void **array, uint32_t *cap, uint32_t want, size_t size)
{
	uint32_t n = *cap ? *cap : 32;
	void *p;

	if (want <= *cap)
		return 0;
	while (n < want)
		n *= 2;
	p = realloc(*array, (size_t)n * size);
	if (!p)
		return -ENOMEM;
	*array = p;
	*cap = n;
	return 0;
}

int pipeline_reserve(struct client_pipeline *p)
{
	int r = grow((void **)&p->pending, &p->cap_pending, p->n_pending + 1, sizeof(uint64_t));

	if (r >= 0)
		r = grow((void **)&p->failed, &p->cap_failed, p->n_failed + p->n_pending + 1,
			 sizeof(Failed));
	return r;
}

Hsmjwt__V1__Response *arrived_take(struct client_pipeline *p, bool any, uint64_t id)
{
	for (Arrived **a = &p->head, *prev = NULL; *a; prev = *a, a = &(*a)->next) {
		Arrived *found = *a;
		Hsmjwt__V1__Response *resp = found->resp;

		if (!any && resp->id != id)
			continue;
		*a = found->next;
		if (p->tail == found)
			p->tail = prev;
		p->n_arrived--;
		free(found);
		return resp;
	}
	return NULL;
}
