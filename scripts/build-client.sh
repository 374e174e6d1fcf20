#!/usr/bin/env bash
# Builds the thin client: the consumer commands (keys, verify, exec, shims,
# refresh, cache, history, import, sources, bundle, version, completion)
# with none of the maintainers' dependencies (no AWS SDK, PKCS#11, KMS,
# workspace or status page), static and stripped, from the same code as the
# full tool (the tufkeys_client build tag leaves the maintainers' commands
# out).
#
#   scripts/build-client.sh OUT [--replace-default] [ROOT.json URL [MIRROR-URL...]]
#
# With a root and URLs it embeds them as the deployment's source, as
# scripts/build-with-root.sh does, in a copy of the tree. OUT and ROOT.json
# are relative to the directory you run it from. GOOS and GOARCH choose
# the platform, as for go build; TUFKEYS_VERSION, when set, is the version
# the binary reports.
set -euo pipefail
CALLER_DIR=$PWD
if [ $# -lt 1 ]; then
	echo "usage: scripts/build-client.sh OUT [--replace-default] [ROOT.json URL [MIRROR-URL...]]" >&2
	exit 2
fi
out=$1
shift
case "$out" in /*) ;; *) out="$CALLER_DIR/$out" ;; esac
. "$(dirname "$0")/embed-root.sh"
build_tree "$@"
trap cleanup_build_tree EXIT
ldflags="-s -w"
if [ -n "${TUFKEYS_VERSION:-}" ]; then
	ldflags="$ldflags -X main.releaseVersion=$TUFKEYS_VERSION"
fi
(cd "$BUILD_TREE" && CGO_ENABLED=0 go build -tags tufkeys_client -trimpath -ldflags="$ldflags" -o "$out" ./cmd/tufkeys)
echo "built $out ($(wc -c <"$out") bytes)"
