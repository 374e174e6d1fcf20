#!/usr/bin/env bash
# Writes tufkeys' man pages, one per command, generated from the commands
# themselves: scripts/man.sh [DIR] (default: man/). Install them with, for
# example, cp man/*.1 /usr/local/share/man/man1/. The generator runs as a
# test, so that the tufkeys binary does not carry it.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-man}
case "$dir" in /*) ;; *) dir="$PWD/$dir" ;; esac
TUFKEYS_MAN_DIR="$dir" go test -count=1 -run '^TestManPages$' ./cmd/tufkeys
echo "wrote man pages into $dir"
