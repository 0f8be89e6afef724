#!/bin/sh
# SPDX-License-Identifier: MIT
# hsmjwtd must not carry provisioning code: key generation, import, listing
# and enable-verify live in hsmjwtctl's token-admin library only
# (docs/ARCHITECTURE.md, "Layers"). The signing path must be there, so the
# check cannot pass on a binary with no symbols at all.
# Usage: check-daemon-symbols.sh HSMJWTD HSMJWTCTL
set -eu
daemon=$1 ctl=$2
syms=$(nm --defined-only "$daemon")
status=0
for s in token_generate_key_pair token_import_hmac_key zumo_derive_signing_key token_list_keys \
	token_enable_verify; do
	if printf '%s\n' "$syms" | grep -qw "$s"; then
		echo "hsmjwtd contains $s (admin-only code)" >&2
		status=1
	fi
	nm --defined-only "$ctl" | grep -qw "$s" || { echo "hsmjwtctl lacks $s" >&2; status=1; }
done
for s in token_sign keyring_load service_sign_prepare; do
	printf '%s\n' "$syms" | grep -qw "$s" || { echo "hsmjwtd lacks $s: is it stripped?" >&2; status=1; }
done
[ $status -eq 0 ] && echo "hsmjwtd: no provisioning code; hsmjwtctl: all of it"
exit $status
