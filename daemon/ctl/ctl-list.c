/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "ctl.h"
#include "keyring.h"
#include "log.h"
#include "token.h"

/* As the daemon would load them (signing probe included), with why a key cannot be used. */
static int list_config(Token *token, const Config *config)
{
	_cleanup_(keyring_freep) Keyring *keyring = NULL;
	int r;

	printf("Configured keys (%s):\n", config->path);
	printf("  %-16s %-6s %-9s %-9s %-24s %s\n", "NAME", "ALG", "PROFILE", "STATE", "KID", "STATUS");
	r = keyring_load(token, config->keys, config->n_keys, KEYRING_SIGN, &keyring);
	if (r < 0)
		return log_error_errno(r, "Cannot resolve the configured keys on the token: %m");
	for (size_t i = 0; i < config->n_keys; i++) {
		const KeyConfig *kc = &config->keys[i];
		const LoadedKey *lk = keyring_find(keyring, kc->name);
		const char *kid = lk && lk->kid && *lk->kid ? lk->kid : kc->kid ? kc->kid : "(unknown)";

		printf("  %-16s %-6s %-9s %-9s %-24s %s%s\n", kc->name, algorithm_to_string(kc->alg),
		       profile_to_string(kc->profile), key_state_to_string(kc->state), kid,
		       !lk ? "not loaded (retired)" : lk->error ? "UNAVAILABLE: " :
		       lk->weak ? "ok, EXTRACTABLE (allow-extractable = yes)" : "ok",
		       lk && lk->error ? lk->error : "");
	}
	keyring_release_objects(token, keyring);
	return keyring->n_unusable ? -EKEYREJECTED : 0;
}

int ctl_list(const Config *config, int argc, char *argv[])
{
	_cleanup_(token_closep) Token *token = NULL;
	_cleanup_free_ TokenKeyInfo *infos = NULL;
	size_t n = 0;
	int r;

	(void)argv;
	if (argc != 1)
		return log_error_errno(EINVAL, "list takes no arguments");
	r = token_open(config->module, config->init_args, config->token_uri, false, &token);
	if (r >= 0)
		r = token_login(token, config->pin_file);
	if (r < 0)
		return r;
	int unusable = list_config(token, config);
	r = token_list_keys(token, &infos, &n);
	if (r < 0)
		return r;
	printf("\nKey objects on token %s:\n", token_describe(token));
	printf("  %-24s %-12s %-15s %-34s %s\n", "LABEL", "CLASS", "TYPE", "ID", "ACCESS");
	for (size_t i = 0; i < n; i++)
		printf("  %-24s %-12s %-15s %-34s %s\n", infos[i].label, infos[i].class_name,
		       infos[i].key_type, infos[i].id_hex[0] ? infos[i].id_hex : "-",
		       infos[i].class_name[1] == 'u' ? "public" :
		       infos[i].extractable ? "EXTRACTABLE" :
		       infos[i].sensitive ? "sensitive, not extractable" : "NOT SENSITIVE");
	/* A script sees that a configured key is unusable; the listing is complete anyway. */
	return unusable;
}
