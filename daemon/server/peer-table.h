/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What each uid holds right now: its open connections and its requests for
 * the token, counted against its PeerLimits (peer-limits.h). A uid's entry
 * exists while it holds anything, so the table is bounded by the
 * connections: max-connections entries at most.
 */

#include <stdint.h>
#include <sys/types.h>

#include "list.h"

typedef struct PeerSlot {
	struct PeerSlot *next; /* hash chain */
	uid_t uid;
	unsigned connections;
	unsigned inflight;
	/* The in-flight queue's (inflight.c): this uid's requests waiting for a thread. */
	ListNode waiting;
	ListNode turn; /* on the queue's round of uids that have some waiting */
} PeerSlot;

#define PEER_TABLE_HEADS 256u /* a power of two */

typedef struct PeerTable {
	PeerSlot *heads[PEER_TABLE_HEADS];
	unsigned n;
} PeerTable;

/* uid's slot, made if it has none; NULL: out of memory. */
PeerSlot *peer_table_get(PeerTable *t, uid_t uid);
/* Drops s once it holds nothing. */
void peer_table_put(PeerTable *t, PeerSlot *s);
void peer_table_done(PeerTable *t);
