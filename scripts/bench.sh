#!/usr/bin/env bash
# Runs every benchmark with the S3 test server that some of them need.
# Each benchmark measures its baseline in the same run and reports the ratio;
# the README's Performance section shows the figures. BenchmarkScale and
# BenchmarkPublishAtScale build repositories of 10,000 registries and take a
# few minutes; BenchmarkLogCost needs the witnesses, which it starts too.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/s3-server.sh
s3_start
. scripts/witness-server.sh
witness_start
trap 's3_stop; witness_stop' EXIT
go test -run '^$' -bench 'ThinClientProcess' -benchtime 300x ./cmd/tufkeys
go test -run '^$' -bench 'Verify' -benchtime 2s ./bundle
go test -run '^$' -bench 'Refresh' -benchtime 20x ./client
go test -run '^$' -bench 'FreshKeys' -benchtime 3x ./client
go test -run '^$' -bench 'Scale' -benchtime 2x -timeout 30m ./client
go test -run '^$' -bench 'LogCost' -benchtime 2x -timeout 30m ./client
go test -run '^$' -bench 'StageMany' -benchtime 1x ./signer/workspace
go test -run '^$' -bench 'IncrementalPublish' -benchtime 5x ./signer/publish
go test -run '^$' -bench 'PublishAtScale' -benchtime 1x -timeout 30m ./signer/publish
