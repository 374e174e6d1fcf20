#!/usr/bin/env bash
# Writes tufkeys' man pages, one per command, generated from the commands
# themselves: scripts/man.sh [DIR] (default: man/). Install them with, for
# example, cp man/*.1 /usr/local/share/man/man1/.
set -euo pipefail
cd "$(dirname "$0")/.."
go run ./cmd/tufkeys man --dir "${1:-man}"
