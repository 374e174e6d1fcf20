# Sourced by scripts/test.sh: installs the real Corepack the hand-over tests
# run (0.30.0, the release that failed in January 2025) and the pnpm
# tarball they serve from a loopback registry, and tuf-js, once per machine, through
# npm and its configured registry. Exports the paths the tests read.

. "$(dirname "${BASH_SOURCE[0]}")/tools.sh"

COREPACK_VERSION=0.30.0
PNPM_TEST_VERSION=10.1.0
# tuf-js, the TUF client of npm's Sigstore support: a second client from
# outside the project that must read what tufkeys publishes, log or not
TUFJS_VERSION=6.0.2

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
	local tufjs="$TOOLS_DIR/tuf-js-$TUFJS_VERSION"
	if [ ! -f "$tufjs/node_modules/tuf-js/package.json" ]; then
		echo "== installing tuf-js $TUFJS_VERSION into $tufjs (once)"
		mkdir -p "$tufjs"
		npm install --prefix "$tufjs" --no-save --no-audit --no-fund --loglevel=error "tuf-js@$TUFJS_VERSION" >/dev/null
	fi
	export TUFKEYS_TEST_TUFJS="$tufjs/node_modules"
	export TUFKEYS_TEST_COREPACK="$dir/node_modules/corepack/dist/corepack.js"
	export TUFKEYS_TEST_PNPM_TARBALL="$tarballs/pnpm-$PNPM_TEST_VERSION.tgz"
}
