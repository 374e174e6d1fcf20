#!/usr/bin/env bash
# Builds tufkeys with your repository's root of trust and URLs embedded as
# the deployment's source, asked before Sigstore's public-good repository
# (which the tree ships), so that its clients need no flags:
#
#   scripts/build-with-root.sh [--replace-default] [--out FILE] ROOT.json URL [MIRROR-URL...]
#
# ROOT.json is a root your ceremony published (1.root.json, or a later
# one); the URLs are the repository and its mirrors, in the order clients
# try them. --replace-default makes yours the only source. It builds a
# static binary (CGO_ENABLED=0) at FILE (default ./tufkeys, in the
# directory you run it from) from a copy of the tree, leaving the checkout
# as it is, and prints what the binary trusts. Check the printed sha256
# with your maintainers before you ship it.
set -euo pipefail
CALLER_DIR=$PWD
out=$CALLER_DIR/tufkeys
args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--out)
		[ $# -ge 2 ] || { echo "--out needs a FILE" >&2; exit 2; }
		out=$2
		shift 2
		;;
	--replace-default)
		args+=("$1")
		shift
		;;
	*)
		args+=("$1")
		shift
		;;
	esac
done
case "$out" in /*) ;; *) out="$CALLER_DIR/$out" ;; esac
set -- "${args[@]+"${args[@]}"}"
if [ $# -lt 2 ] || { [ "$1" = "--replace-default" ] && [ $# -lt 3 ]; }; then
	echo "usage: scripts/build-with-root.sh [--replace-default] [--out FILE] ROOT.json URL [MIRROR-URL...]" >&2
	exit 2
fi
. "$(dirname "$0")/embed-root.sh"
build_tree "$@"
trap cleanup_build_tree EXIT
(cd "$BUILD_TREE" && CGO_ENABLED=0 go build -trimpath -o "$out" ./cmd/tufkeys)
"$out" version
