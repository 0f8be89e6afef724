# SPDX-License-Identifier: MIT
# Sourced by scripts/quickstart and scripts/test: installs the Debian 12
# packages that are missing, and nothing else.
HSMJWT_DEBS=(
	build-essential meson ninja-build pkg-config
	libp11-kit-dev p11-kit libprotobuf-c-dev protobuf-c-compiler
	libsystemd-dev systemd libssl-dev libinih-dev libjansson-dev
	softhsm2 opensc python3 python3-jwt python3-jwcrypto
	scdoc bash-completion
	p11-kit-modules strace
	libnghttp2-dev protobuf-compiler python3-grpcio python3-protobuf python3-h2
	golang-go golang-google-grpc-dev golang-google-protobuf-dev
)

# The other PKCS#11 modules of the module matrix (tests/modules/setup.sh, which
# installs what is missing of these itself when run as root).
HSMJWT_MODULE_DEBS=(
	swtpm swtpm-tools libtss2-tcti-swtpm0 libtss2-tcti-tabrmd0 tpm2-abrmd dbus tpm2-tools
	libtpm2-pkcs11-1 libtpm2-pkcs11-tools python3-tpm2-pkcs11-tools
	opencryptoki libopencryptoki0
	libnss3 libnss3-tools
)

# Only for building and checking the packages (tests/packaging/run.sh).
HSMJWT_PACKAGING_DEBS=(
	debhelper dpkg-dev fakeroot lintian rpm
)

# Installs the packages named as arguments, or HSMJWT_DEBS, that are missing.
install_missing_debs() {
	local missing=() want=("$@")
	[ ${#want[@]} -gt 0 ] || want=("${HSMJWT_DEBS[@]}")
	for p in "${want[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "Installing: ${missing[*]}"
	local sudo=()
	[ "$(id -u)" -eq 0 ] || sudo=(sudo)
	local log
	log=$(mktemp)
	if ! { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		return 1
	fi
	rm -f "$log"
}

build_tree() {
	local dir=$1
	shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@" >/dev/null
	fi
	ninja -C "$dir" >/dev/null
}
