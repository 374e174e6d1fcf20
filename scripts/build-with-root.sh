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
. scripts/embed-root.sh
embed_root "$@"
CGO_ENABLED=0 go build -trimpath -o tufkeys ./cmd/tufkeys
./tufkeys version
