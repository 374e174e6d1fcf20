#!/usr/bin/env bash
# Builds the thin client: the consumer commands (keys, verify, exec, shims,
# refresh, cache, history, import, bundle, version, completion) with none
# of the maintainers' dependencies (no AWS SDK, PKCS#11, KMS, workspace or
# status page), static and stripped, from the same code as the full tool
# (the tufkeys_client build tag leaves the maintainers' commands out).
#
#   scripts/build-client.sh OUT [ROOT.json URL [MIRROR-URL...]]
#
# With a root and URLs it embeds them first, as scripts/build-with-root.sh
# does. GOOS and GOARCH choose the platform, as for go build.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 1 ] || [ $# -eq 2 ]; then
	echo "usage: scripts/build-client.sh OUT [ROOT.json URL [MIRROR-URL...]]" >&2
	exit 2
fi
out=$1
shift
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
if [ $# -gt 0 ]; then
	. scripts/embed-root.sh
	embed_root "$@"
fi
CGO_ENABLED=0 go build -tags tufkeys_client -trimpath -ldflags="-s -w" -o "$out" ./cmd/tufkeys
echo "built $out ($(wc -c <"$out") bytes)"
