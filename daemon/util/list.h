/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Intrusive doubly linked lists: a ListNode sits inside the element, a list
 * is a ListNode of its own (the head) linked in a ring with its elements.
 * A node that is on no list points at itself, so "is it on a list" and
 * removal need no head and no NULL checks. Elements are not owned: freeing
 * one is its owner's business, after list_remove().
 */

#include <stdbool.h>
#include <stddef.h>

typedef struct ListNode ListNode;
struct ListNode {
	ListNode *prev, *next;
};

/* The element of type `type` whose member `member` is the node n. */
#define list_entry(n, type, member) ((type *)(void *)((char *)(n) - offsetof(type, member)))

static inline void list_init(ListNode *n)
{
	n->prev = n->next = n;
}

static inline bool list_empty(const ListNode *head)
{
	return head->next == head;
}

/* For an element's node: is it on a list? (Initialised with list_init().) */
static inline bool list_linked(const ListNode *n)
{
	return n->next != n;
}

static inline void list_insert_between(ListNode *n, ListNode *prev, ListNode *next)
{
	n->prev = prev;
	n->next = next;
	prev->next = n;
	next->prev = n;
}

static inline void list_push_front(ListNode *head, ListNode *n)
{
	list_insert_between(n, head, head->next);
}

static inline void list_push_back(ListNode *head, ListNode *n)
{
	list_insert_between(n, head->prev, head);
}

/* Unlinks n (a no-op when it is on no list) and leaves it unlinked. */
static inline void list_remove(ListNode *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	list_init(n);
}

/* The first node, or NULL when the list is empty. */
static inline ListNode *list_first(const ListNode *head)
{
	return list_empty(head) ? NULL : head->next;
}

/* Removes and returns the first node, or NULL. */
static inline ListNode *list_pop_front(ListNode *head)
{
	ListNode *n = list_first(head);

	if (n)
		list_remove(n);
	return n;
}

/*
 * Visits every node; the current one may be removed or freed (not the next:
 * a walk whose visits free other elements must restart or use a copy).
 */
#define list_for_each_safe(n, tmp, head) \
	for (ListNode *n = (head)->next, *tmp = n->next; n != (head); n = tmp, tmp = n->next)
