#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Sets up one PKCS#11 module with a fresh token for the module matrix
# (tests/modules/test_matrix.py), from Debian 12 packages.
#
#   setup.sh MODULE DIR      MODULE: softhsm | tpm2 | opencryptoki | nss | remote
#   setup.sh stop DIR        stops what setup.sh started for DIR (by pid)
#   setup.sh tpm2-import DIR LABEL KEYFILE
#                            HS256 on tpm2-pkcs11 (no secret keys through C_CreateObject)
#
# Writes into DIR: token.conf (the [token] section for hsmjwtd.conf), env (KEY=VALUE
# lines hsmjwtd and hsmjwtctl need), pids (processes to stop), version (the module's
# package and version). Exits 77 with the reason on stderr when the module cannot be
# set up on this machine (a package that does not install, a daemon that does not start).
set -euo pipefail

MODULE=${1:?MODULE}
DIR=${2:?DIR}
LIB=/usr/lib/x86_64-linux-gnu
LABEL=hsmjwt

skip() { printf 'setup.sh %s: %s\n' "$MODULE" "$*" >&2; exit 77; }
say() { printf '== %s\n' "$*" >&2; }
digits() { /usr/bin/python3 -c 'import secrets,sys; print("".join(secrets.choice("0123456789") for _ in range(int(sys.argv[1]))), end="")' "$1"; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }

# The packages each module needs; scripts/deps.sh lists the same in HSMJWT_MODULE_DEBS.
need() {
	local missing=()
	for p in "$@"; do installed "$p" || missing+=("$p"); done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" = 0 ] || skip "packages missing and not root: ${missing[*]}"
	say "apt-get install ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 \
		--no-install-recommends "${missing[@]}" >"$DIR/apt.log" 2>&1 ||
		{ DEBIAN_FRONTEND=noninteractive apt-get update -qq -o DPkg::Lock::Timeout=300 &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 \
				--no-install-recommends "${missing[@]}"; } >>"$DIR/apt.log" 2>&1 ||
		skip "apt-get install ${missing[*]} failed (see $DIR/apt.log)"
}

version() { printf '%s %s\n' "$1" "$(dpkg-query -W -f='${Version}' "$1")" >"$DIR/version"; }

pin_file() {
	(umask 077; printf '%s' "$1" >"$DIR/pin")
}

wait_for() { # SECONDS COMMAND...: until COMMAND succeeds
	local n=$(($1 * 10))
	shift
	for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}

free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ----------------------------------------------------------------------- SoftHSM
setup_softhsm() {
	need softhsm2
	version softhsm2
	printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
		"$DIR" >"$DIR/softhsm2.conf"
	mkdir -p "$DIR/tokens"
	local pin
	pin=$(digits 8)
	SOFTHSM2_CONF=$DIR/softhsm2.conf softhsm2-util --init-token --free --label "$LABEL" \
		--pin "$pin" --so-pin "$(digits 8)" >/dev/null
	pin_file "$pin"
	echo "SOFTHSM2_CONF=$DIR/softhsm2.conf" >"$DIR/env"
	printf '[token]\nmodule = %s\nuri = pkcs11:token=%s\npin-file = %s/pin\n' \
		"$LIB/softhsm/libsofthsm2.so" "$LABEL" "$DIR" >"$DIR/token.conf"
}

# -------------------------------------------- SoftHSM behind p11-kit server / client
setup_remote() {
	need softhsm2 p11-kit p11-kit-modules
	setup_softhsm
	version p11-kit
	local out addr
	# p11-kit server prints P11_KIT_SERVER_ADDRESS=...; and forks into the background.
	out=$(SOFTHSM2_CONF=$DIR/softhsm2.conf p11-kit server -n "$DIR/p11-kit.sock" \
		--provider "$LIB/softhsm/libsofthsm2.so" "pkcs11:token=$LABEL" 2>"$DIR/p11-kit.log") ||
		skip "p11-kit server did not start (see $DIR/p11-kit.log)"
	addr=$(sed -n 's/^P11_KIT_SERVER_ADDRESS=\([^;]*\);.*/\1/p' <<<"$out")
	[ -n "$addr" ] || skip "p11-kit server printed no address: $out"
	sed -n 's/^P11_KIT_SERVER_PID=\([0-9]*\);.*/\1/p' <<<"$out" >>"$DIR/pids"
	echo "P11_KIT_SERVER_ADDRESS=$addr" >"$DIR/env"
	# The server forks before it has loaded SoftHSM: a client that comes too
	# early (seen under load) finds no token. Wait until one lists it.
	wait_for 20 remote_has_token "$addr" ||
		{ echo "setup.sh remote: the p11-kit server at $addr lists no token $LABEL after 20 s" >&2; exit 1; }
	printf '[token]\nmodule = %s\nuri = pkcs11:token=%s\npin-file = %s/pin\n' \
		"$LIB/pkcs11/p11-kit-client.so" "$LABEL" "$DIR" >"$DIR/token.conf"
}

remote_has_token() {
	local listing
	listing=$(P11_KIT_SERVER_ADDRESS=$1 pkcs11-tool --module "$LIB/pkcs11/p11-kit-client.so" -L 2>&1) &&
		[[ $listing == *"$LABEL"* ]]
}

# ------------------------------------------------ tpm2-pkcs11 on swtpm + tpm2-abrmd
setup_tpm2() {
	need swtpm swtpm-tools libtss2-tcti-swtpm0 libtss2-tcti-tabrmd0 tpm2-abrmd dbus tpm2-tools \
		libtpm2-pkcs11-1 libtpm2-pkcs11-tools python3-tpm2-pkcs11-tools
	version libtpm2-pkcs11-1
	local port bus pid
	port=$(free_port)
	mkdir -p "$DIR/tpm" "$DIR/store"
	swtpm socket --tpm2 --server type=tcp,port="$port",bindaddr=127.0.0.1 \
		--ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 --tpmstate dir="$DIR/tpm" \
		--flags not-need-init,startup-clear --daemon --pid file="$DIR/swtpm.pid" \
		--log file="$DIR/swtpm.log" || skip "swtpm did not start (see $DIR/swtpm.log)"
	wait_for 5 test -s "$DIR/swtpm.pid" || skip "swtpm wrote no pid file"
	cat "$DIR/swtpm.pid" >>"$DIR/pids"
	echo >>"$DIR/pids"
	# A private session bus: tpm2-abrmd registers its name there, nowhere else.
	bus="unix:path=$DIR/dbus.sock"
	dbus-daemon --session --fork --address="$bus" --print-pid=3 3>>"$DIR/pids" ||
		skip "dbus-daemon did not start"
	export DBUS_SESSION_BUS_ADDRESS=$bus TPM2TOOLS_TCTI=tabrmd:bus_type=session
	# Without a resource manager the TPM runs out of object slots at the third key.
	tpm2-abrmd --session --allow-root --flush-all --tcti="swtpm:port=$port" \
		>"$DIR/abrmd.log" 2>&1 &
	echo $! >>"$DIR/pids"
	wait_for 10 tpm2_getcap properties-fixed || skip "tpm2-abrmd not reachable (see $DIR/abrmd.log)"
	tpm2_ptool init --path "$DIR/store" >/dev/null || skip "tpm2_ptool init failed"
	pid=$(tpm2_ptool listprimaries --path "$DIR/store" | sed -n 's/^  id: //p' | head -n 1)
	local pin
	pin=$(digits 12)
	tpm2_ptool addtoken --pid="$pid" --label="$LABEL" --sopin="$(digits 12)" --userpin="$pin" \
		--path "$DIR/store" >/dev/null || skip "tpm2_ptool addtoken failed"
	pin_file "$pin"
	cat >"$DIR/env" <<-EOF
		DBUS_SESSION_BUS_ADDRESS=$bus
		TPM2TOOLS_TCTI=tabrmd:bus_type=session
		TPM2_PKCS11_TCTI=tabrmd:bus_type=session
		TPM2_PKCS11_STORE=$DIR/store
	EOF
	printf '[token]\nmodule = %s\nuri = pkcs11:token=%s\npin-file = %s/pin\n' \
		"$LIB/pkcs11/libtpm2_pkcs11.so" "$LABEL" "$DIR" >"$DIR/token.conf"
}

tpm2_import() {
	local label=${3:?LABEL} keyfile=${4:?KEYFILE}
	set -a
	# shellcheck disable=SC1091
	. "$DIR/env"
	set +a
	tpm2_ptool import --label "$LABEL" --key-label "$label" --userpin "$(cat "$DIR/pin")" \
		--privkey "$keyfile" --algorithm hmac:sha256 --path "$DIR/store" >/dev/null
}

# ---------------------------------------------------- openCryptoki soft token (slot 3)
# pkcsslotd and the soft token live at the package's fixed paths, shared by the whole
# machine: the token is wiped and initialised anew only when it is ours (the PIN file
# below exists) or HSMJWT_MODULES_OCK_WIPE=1 says it may be (CI sets it).
OCK_STATE=/var/lib/opencryptoki/hsmjwt-matrix-pin
OCK_SLOT=3

ock_slotd() {
	pkcsconf -s >/dev/null 2>&1 && return 0
	/usr/sbin/pkcsslotd || return 1
	wait_for 5 pkcsconf -s
}

ock_stop_slotd() {
	local pid
	pid=$(cat /run/pkcsslotd.pid 2>/dev/null || true)
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null || true
	wait_for 5 sh -c "! kill -0 $pid" || true
}

setup_opencryptoki() {
	[ "$(id -u)" = 0 ] || skip "needs root (pkcsslotd, /var/lib/opencryptoki)"
	need opencryptoki libopencryptoki0
	version opencryptoki
	ock_slotd || skip "pkcsslotd did not start"
	pkcsconf -t -c "$OCK_SLOT" >/dev/null 2>&1 || skip "pkcsslotd shows no slot $OCK_SLOT (soft token)"
	if pkcsconf -t -c "$OCK_SLOT" | grep -q 'Flags:.*TOKEN_INITIALIZED'; then
		[ -s "$OCK_STATE" ] || [ "${HSMJWT_MODULES_OCK_WIPE:-}" = 1 ] ||
			skip "the openCryptoki soft token was initialised by someone else; HSMJWT_MODULES_OCK_WIPE=1 lets this test wipe /var/lib/opencryptoki/swtok"
		# pkcsconf -I on an initialised 3.8.1 soft token leaves the SO master key unusable:
		# start again from empty token files.
		say "wiping the openCryptoki soft token"
		ock_stop_slotd
		rm -rf /var/lib/opencryptoki/swtok/NVTOK.DAT /var/lib/opencryptoki/swtok/MK_SO \
			/var/lib/opencryptoki/swtok/MK_USER /var/lib/opencryptoki/swtok/TOK_OBJ/*
		ock_slotd || skip "pkcsslotd did not start again"
	fi
	local so user
	printf '%s\n' "$LABEL" | pkcsconf -I -c "$OCK_SLOT" -S 87654321 >/dev/null ||
		skip "pkcsconf -I failed"
	so=$(digits 8) user=$(digits 8) # 4..8 characters on this token
	pkcsconf -P -c "$OCK_SLOT" -S 87654321 -n "$so" >/dev/null || skip "pkcsconf -P failed"
	pkcsconf -u -c "$OCK_SLOT" -S "$so" -n "$user" >/dev/null || skip "pkcsconf -u failed"
	(umask 077; printf '%s' "$user" >"$OCK_STATE")
	pin_file "$user"
	: >"$DIR/env"
	printf '[token]\nmodule = %s\nuri = pkcs11:token=%s\npin-file = %s/pin\n' \
		"$LIB/pkcs11/libopencryptoki.so" "$LABEL" "$DIR" >"$DIR/token.conf"
}

# ------------------------------------------------------------------- NSS softokn
setup_nss() {
	need libnss3 libnss3-tools
	version libnss3
	mkdir -p "$DIR/nssdb"
	local pin
	pin=$(digits 12)
	pin_file "$pin"
	certutil -N -d "sql:$DIR/nssdb" -f "$DIR/pin" >/dev/null || skip "certutil -N failed"
	: >"$DIR/env"
	# Loaded by path, softokn needs its database in C_Initialize's pReserved: init-args.
	printf "[token]\nmodule = %s\ninit-args = configdir='sql:%s/nssdb' certPrefix='' keyPrefix='' secmod='secmod.db' flags=\nuri = pkcs11:token=NSS%%20Certificate%%20DB\npin-file = %s/pin\n" \
		"$LIB/libsoftokn3.so" "$DIR" "$DIR" >"$DIR/token.conf"
}

stop() {
	[ -f "$DIR/pids" ] || return 0
	while read -r pid; do
		[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	done <"$DIR/pids"
	rm -f "$DIR/pids"
}

case "$MODULE" in
stop) MODULE=stop DIR=${2:?DIR}; stop ;;
tpm2-import) tpm2_import "$@" ;;
softhsm | remote | tpm2 | opencryptoki | nss)
	mkdir -p "$DIR"
	: >"$DIR/pids"
	"setup_$MODULE"
	;;
*) echo "setup.sh: unknown module $MODULE" >&2; exit 2 ;;
esac
