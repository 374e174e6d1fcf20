#!/usr/bin/env bash
# Regenerates docs/status-page.png, the status page screenshot the README
# shows: a repository taken through the January 2025 rotation, rendered by
# headless Chromium (install it with apt-get install chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
TUFKEYS_SCREENSHOT="$PWD/docs/status-page.png" go test -count=1 -run '^TestStatusPageInABrowser$' ./signer/statuspage
echo "wrote docs/status-page.png"
