/* SPDX-License-Identifier: MIT */
#include "audit-keys.h"

#include <stdio.h>
#include <string.h>

static const LoadedKey *find(const Keyring *k, const char *name)
{
	for (size_t i = 0; i < k->n_keys; i++)
		if (strcmp(k->keys[i].config->name, name) == 0)
			return &k->keys[i];
	return NULL;
}

static void key_change(Audit *a, const LoadedKey *k, const char *detail)
{
	(void)audit_key_change(a, k->config->name, k->kid, k->alg->name, detail);
}

void audit_keyring_changes(Audit *a, const Keyring *old, const Keyring *new)
{
	char detail[160];

	for (size_t i = 0; i < new->n_keys; i++) {
		const LoadedKey *n = &new->keys[i], *o = find(old, n->config->name);

		if (!o) {
			snprintf(detail, sizeof(detail), "added, %s",
				 key_state_to_string(n->config->state));
			key_change(a, n, detail);
		} else if (strcmp(o->kid, n->kid) != 0 || o->alg != n->alg ||
			   o->config->state != n->config->state) {
			snprintf(detail, sizeof(detail), "was kid \"%.64s\", %s, %s; now %s", o->kid,
				 o->alg->name, key_state_to_string(o->config->state),
				 key_state_to_string(n->config->state));
			key_change(a, n, detail);
		}
	}
	for (size_t i = 0; i < old->n_keys; i++)
		if (!find(new, old->keys[i].config->name))
			key_change(a, &old->keys[i], "removed (or retired)");
}
