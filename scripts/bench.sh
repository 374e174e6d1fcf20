#!/usr/bin/env bash
# Runs every benchmark with the S3 test server that some of them need.
# Each benchmark measures its baseline in the same run and reports the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/s3-server.sh
s3_start
go test -run '^$' -bench 'Verify' -benchtime 2s ./bundle
go test -run '^$' -bench 'Refresh' -benchtime 20x ./client
go test -run '^$' -bench 'IncrementalPublish' -benchtime 5x ./signer/publish
