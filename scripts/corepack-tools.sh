# Sourced by scripts/test.sh: installs the real Corepack the hand-over tests
# run (0.30.0, the release that failed in January 2025) and the pnpm
# tarball they serve from a loopback registry, once per machine, through
# npm and its configured registry. Exports the paths the tests read.

. "$(dirname "${BASH_SOURCE[0]}")/tools.sh"

COREPACK_VERSION=0.30.0
PNPM_TEST_VERSION=10.1.0

install_corepack_tools() {
	if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
		apt_install nodejs
		apt_install npm
	fi
	local dir="$TOOLS_DIR/corepack-$COREPACK_VERSION"
	if [ ! -f "$dir/node_modules/corepack/dist/corepack.js" ]; then
		echo "== installing corepack $COREPACK_VERSION into $dir (once; later runs reuse it)"
		mkdir -p "$dir"
		npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "corepack@$COREPACK_VERSION" >/dev/null
	fi
	local tarballs="$TOOLS_DIR/tarballs"
	if [ ! -f "$tarballs/pnpm-$PNPM_TEST_VERSION.tgz" ]; then
		echo "== fetching the pnpm@$PNPM_TEST_VERSION tarball into $tarballs (once)"
		mkdir -p "$tarballs"
		(cd "$tarballs" && npm pack --silent "pnpm@$PNPM_TEST_VERSION" >/dev/null)
	fi
	export TUFKEYS_TEST_COREPACK="$dir/node_modules/corepack/dist/corepack.js"
	export TUFKEYS_TEST_PNPM_TARBALL="$tarballs/pnpm-$PNPM_TEST_VERSION.tgz"
}
