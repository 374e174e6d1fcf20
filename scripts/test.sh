#!/usr/bin/env bash
# The project's one test command: formatting, vet, and every test with the
# race detector, with a real S3-compatible server (versitygw) on loopback
# for the storage tests, a KMS-compatible server (local-kms) for the KMS
# key tests, three transparency-log witnesses (internal/harness/witnessd) on
# loopback, SoftHSM2 for the hardware-token tests and Chromium for the
# status page. It needs only Go (and apt for SoftHSM2 and Chromium); it
# installs what else it uses.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change these files; run gofmt -w on them:" >&2
	echo "$unformatted" >&2
	exit 1
fi

echo "== go vet"
go vet ./...

echo "== S3 test server"
. scripts/s3-server.sh
s3_start

echo "== KMS test server"
. scripts/kms-server.sh
kms_start
trap 's3_stop; kms_stop' EXIT

echo "== witnesses (three, for the transparency log)"
. scripts/witness-server.sh
witness_start
trap 's3_stop; kms_stop; witness_stop' EXIT

echo "== SoftHSM2 (the hardware-token tests' token)"
if [ ! -e /usr/lib/softhsm/libsofthsm2.so ] || ! command -v softhsm2-util >/dev/null; then
	apt_install softhsm2
fi

echo "== Chromium (the status page is rendered by a real browser)"
if ! command -v chromium >/dev/null; then
	apt_install chromium
fi

echo "== Corepack (the hand-over tests run the real one)"
. scripts/corepack-tools.sh
install_corepack_tools
# a test whose tool is missing fails here instead of skipping
export TUFKEYS_TEST_REQUIRE_TOOLS=1

echo "== go test -race"
go test -race -count=1 ./...
