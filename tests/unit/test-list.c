/* SPDX-License-Identifier: MIT */
/* list.h: order, removal during a walk, and nodes that know whether they are linked. */
#include "list.h"
#include "tests.h"

typedef struct Item {
	int v;
	ListNode link;
} Item;

static int sum_in_order(ListNode *head, int *ret_first)
{
	int sum = 0, i = 0;

	list_for_each_safe(n, tmp, head) {
		Item *it = list_entry(n, Item, link);

		/* Weighted by position: a different order gives a different sum. */
		sum += it->v * ++i;
		if (i == 1)
			*ret_first = it->v;
	}
	return sum;
}

int main(void)
{
	ListNode head;
	Item items[4];
	int first = -1;

	list_init(&head);
	check(list_empty(&head));
	check(list_first(&head) == NULL);
	check(list_pop_front(&head) == NULL);
	for (int i = 0; i < 4; i++) {
		items[i].v = i + 1;
		list_init(&items[i].link);
		check(!list_linked(&items[i].link));
	}
	list_push_back(&head, &items[1].link);
	list_push_back(&head, &items[2].link);
	list_push_front(&head, &items[0].link);
	list_push_back(&head, &items[3].link);
	/* 1,2,3,4 */
	check_int(sum_in_order(&head, &first), 1 * 1 + 2 * 2 + 3 * 3 + 4 * 4);
	check_int(first, 1);
	check(list_linked(&items[2].link));

	/* Removing the element being visited is allowed. */
	list_for_each_safe(n, tmp, &head) {
		if (list_entry(n, Item, link)->v % 2 == 0)
			list_remove(n);
	}
	check(!list_linked(&items[1].link));
	check_int(sum_in_order(&head, &first), 1 * 1 + 3 * 2);
	/* Removing an unlinked node twice is harmless. */
	list_remove(&items[1].link);
	check_int(sum_in_order(&head, &first), 1 * 1 + 3 * 2);

	check(list_pop_front(&head) == &items[0].link);
	check(list_pop_front(&head) == &items[2].link);
	check(list_empty(&head));
	check(!list_linked(&items[0].link));
	return 0;
}
