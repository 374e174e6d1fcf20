# Sourced by scripts/build-with-root.sh, scripts/build-client.sh and
# scripts/npm-packages.sh.
#
# build_tree [--replace-default] [ROOT.json URL [MIRROR-URL...]] sets
# BUILD_TREE to the module to build: the checkout itself when no root is
# given, else a temporary copy of it (removed by cleanup_build_tree) whose
# repo-metadata/ holds ROOT.json and the URLs as the deployment's source,
# asked before the sources the tree ships (Sigstore's public-good
# repository); --replace-default leaves those out, so the deployment's is
# the only one. The checkout itself is never written. ROOT.json is
# resolved against the directory the script was run from (CALLER_DIR).
build_tree() {
	local checkout replace="" root
	checkout=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	if [ "${1:-}" = "--replace-default" ]; then
		replace=1
		shift
	fi
	if [ $# -eq 0 ]; then
		if [ -n "$replace" ]; then
			echo "--replace-default needs a ROOT.json and URL to replace the default sources with" >&2
			return 2
		fi
		BUILD_TREE=$checkout
		return 0
	fi
	root=$1
	shift
	case "$root" in /*) ;; *) root="${CALLER_DIR:-$PWD}/$root" ;; esac
	if [ $# -lt 1 ]; then
		echo "name the repository URL (and any mirrors) after the root" >&2
		return 2
	fi
	if [ ! -f "$root" ] || ! grep -q '"_type": *"root"' "$root"; then
		echo "$root is not TUF root metadata: give the N.root.json your ceremony published" >&2
		return 1
	fi
	local url
	for url in "$@"; do
		case "$url" in
		http://* | https://*) ;;
		*)
			echo "$url is not an http(s) URL: give the repository's URL and its mirrors' after the root" >&2
			return 2
			;;
		esac
	done
	BUILD_TREE=$(mktemp -d "${TMPDIR:-/tmp}/tufkeys-build.XXXXXX")
	(cd "$checkout" && tar --exclude=./.git -cf - .) | tar -xf - -C "$BUILD_TREE"
	cp "$root" "$BUILD_TREE/repo-metadata/root.json"
	printf '%s\n' "$@" >"$BUILD_TREE/repo-metadata/repositories.txt"
	if [ -n "$replace" ]; then
		rm -rf "$BUILD_TREE/repo-metadata/sources"
	fi
	echo "sha256 of the embedded root: $(sha256sum "$root" | cut -d' ' -f1)" >&2
}

# cleanup_build_tree removes the temporary copy build_tree made, if any.
cleanup_build_tree() {
	local checkout
	checkout=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	if [ -n "${BUILD_TREE:-}" ] && [ "$BUILD_TREE" != "$checkout" ]; then
		rm -rf "$BUILD_TREE"
	fi
}
