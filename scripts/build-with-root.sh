#!/usr/bin/env bash
# Builds tufkeys with your repository's root of trust and URLs embedded, so
# that its clients need no flags:
#
#   scripts/build-with-root.sh ROOT.json URL [MIRROR-URL...]
#
# ROOT.json is a root your ceremony published (1.root.json, or a later
# one); the URLs are the repository and its mirrors, in the order clients
# try them. It writes repo-metadata/root.json and repositories.txt, builds
# ./tufkeys (static, CGO_ENABLED=0), and prints what the binary trusts.
# Check the printed sha256 with your maintainers before you ship it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
	echo "usage: scripts/build-with-root.sh ROOT.json URL [MIRROR-URL...]" >&2
	exit 2
fi
root=$1
shift
if ! grep -q '"_type": *"root"' "$root"; then
	echo "$root is not TUF root metadata: give the N.root.json your ceremony published" >&2
	exit 1
fi
cp "$root" repo-metadata/root.json
printf '%s\n' "$@" >repo-metadata/repositories.txt
CGO_ENABLED=0 go build -trimpath -o tufkeys ./cmd/tufkeys
echo "sha256 of the embedded root: $(sha256sum repo-metadata/root.json | cut -d' ' -f1)"
./tufkeys version
