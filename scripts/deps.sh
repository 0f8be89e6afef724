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
	libnghttp2-dev protobuf-compiler python3-grpcio python3-protobuf python3-h2 python3-venv
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
	debhelper dpkg-dev fakeroot lintian rpm dh-python
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

# The Node.js client needs node (18 or later) and npm: Debian's nodejs and npm
# unless a node is on PATH already (e.g. NodeSource's, which carries its own npm).
install_node() {
	command -v node >/dev/null && command -v npm >/dev/null && return 0
	install_missing_debs nodejs npm
}

# Builds client/node from its lockfile: npm ci, then its build (protoc and tsc).
# Skipped, with a note, when it is already built from the same sources.
build_node_client() {
	local dir=client/node stamp=client/node/node_modules/.hsmjwt-built-from
	local sum
	sum=$(cat proto/hsmjwt.proto "$dir"/package-lock.json "$dir"/src/*.ts "$dir"/scripts/* | sha256sum)
	[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ] && return 0
	(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null && npm run --silent build)
	echo "$sum" >"$stamp"
}

build_tree() {
	local dir=$1
	shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@" >/dev/null
	fi
	ninja -C "$dir" >/dev/null
}
