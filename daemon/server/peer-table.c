/* SPDX-License-Identifier: MIT */
#include "peer-table.h"

#include <stdlib.h>

static size_t head_of(uid_t uid)
{
	/* Knuth's multiplicative hash: service uids are often consecutive. */
	return ((uint32_t)uid * 2654435761u >> 24) & (PEER_TABLE_HEADS - 1);
}

PeerSlot *peer_table_get(PeerTable *t, uid_t uid)
{
	PeerSlot **head = &t->heads[head_of(uid)], *s;

	for (s = *head; s; s = s->next)
		if (s->uid == uid)
			return s;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->uid = uid;
	list_init(&s->waiting);
	list_init(&s->turn);
	s->next = *head;
	*head = s;
	t->n++;
	return s;
}

void peer_table_put(PeerTable *t, PeerSlot *s)
{
	PeerSlot **p;

	if (!s || s->connections || s->inflight || list_linked(&s->turn))
		return;
	for (p = &t->heads[head_of(s->uid)]; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			t->n--;
			free(s);
			return;
		}
}

void peer_table_done(PeerTable *t)
{
	for (size_t h = 0; h < PEER_TABLE_HEADS; h++)
		while (t->heads[h]) {
			PeerSlot *s = t->heads[h];

			t->heads[h] = s->next;
			free(s);
		}
	t->n = 0;
}
