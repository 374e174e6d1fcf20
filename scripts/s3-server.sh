#!/usr/bin/env bash
# Sourced by scripts/test.sh and scripts/bench.sh: installs versitygw (cached
# across runs), starts it on loopback with a data directory under a temp
# dir, creates a publicly readable bucket, exports the settings tests read,
# and stops it on exit, whatever happened.
#
# Run directly, it starts a server to try S3 publishing by hand and prints
# the settings to use; it runs until stopped:
#
#   scripts/s3-server.sh start    # prints export lines and a publish command
#   scripts/s3-server.sh stop

. "$(dirname "${BASH_SOURCE[0]}")/tools.sh"

VERSITYGW_VERSION=v1.8.0
VERSITYGW="$TOOLS_DIR/bin/versitygw"

install_versitygw() {
	install_go_tool versitygw github.com/versity/versitygw "$VERSITYGW_VERSION" github.com/versity/versitygw/cmd/versitygw
}

s3_stop() {
	if [ -n "${S3_PID:-}" ]; then
		kill "$S3_PID" 2>/dev/null || true
		wait "$S3_PID" 2>/dev/null || true
	fi
	[ -n "${S3_TMP:-}" ] && rm -rf "$S3_TMP"
}

s3_start() {
	install_versitygw
	S3_TMP=$(mktemp -d "${TMPDIR:-/tmp}/tufkeys-s3.XXXXXX")
	trap s3_stop EXIT
	mkdir -p "$S3_TMP/data"
	export AWS_ACCESS_KEY_ID="test$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
	export AWS_SECRET_ACCESS_KEY="$(od -An -N18 -tx1 /dev/urandom | tr -d ' \n')"
	export AWS_REGION=us-east-1
	unset AWS_PROFILE AWS_SESSION_TOKEN
	export AWS_EC2_METADATA_DISABLED=true
	export TUFKEYS_S3_BUCKET=tufkeys-test
	local attempt port
	for attempt in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 20000))
		"$VERSITYGW" --access "$AWS_ACCESS_KEY_ID" --secret "$AWS_SECRET_ACCESS_KEY" \
			--port "127.0.0.1:$port" --quiet posix "$S3_TMP/data" >"$S3_TMP/versitygw.log" 2>&1 &
		S3_PID=$!
		export TUFKEYS_S3_ENDPOINT="http://127.0.0.1:$port"
		if go run ./internal/harness/s3test/setup -endpoint "$TUFKEYS_S3_ENDPOINT" -bucket "$TUFKEYS_S3_BUCKET" -wait 20s; then
			echo "== versitygw listening on $TUFKEYS_S3_ENDPOINT, bucket $TUFKEYS_S3_BUCKET readable by anyone"
			return 0
		fi
		kill "$S3_PID" 2>/dev/null || true
		wait "$S3_PID" 2>/dev/null || true
		S3_PID=
		echo "versitygw did not start on port $port (attempt $attempt):" >&2
		cat "$S3_TMP/versitygw.log" >&2
	done
	echo "could not start versitygw; see the log above" >&2
	return 1
}

# standalone: scripts/s3-server.sh start|stop
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	cd "$(dirname "$0")/.."
	STATE="${TMPDIR:-/tmp}/tufkeys-s3-server"
	case "${1:-}" in
	start)
		if [ -f "$STATE/pid" ] && kill -0 "$(cat "$STATE/pid")" 2>/dev/null; then
			echo "already running; its settings:" >&2
			cat "$STATE/env"
			exit 0
		fi
		s3_start >&2
		trap - EXIT
		mkdir -p "$STATE"
		echo "$S3_PID" >"$STATE/pid"
		echo "$S3_TMP" >"$STATE/tmp"
		{
			echo "export AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID"
			echo "export AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY"
			echo "export AWS_REGION=$AWS_REGION"
			echo "export AWS_EC2_METADATA_DISABLED=true"
			echo "export TUFKEYS_S3_ENDPOINT=$TUFKEYS_S3_ENDPOINT"
			echo "export TUFKEYS_S3_BUCKET=$TUFKEYS_S3_BUCKET"
			echo "# then: tufkeys repo publish --online-key online.key --to s3://$TUFKEYS_S3_BUCKET/tuf --endpoint-url $TUFKEYS_S3_ENDPOINT --path-style"
			echo "# and read it at $TUFKEYS_S3_ENDPOINT/$TUFKEYS_S3_BUCKET/tuf"
		} | tee "$STATE/env"
		;;
	stop)
		if [ ! -f "$STATE/pid" ]; then
			echo "no server started by scripts/s3-server.sh start is running" >&2
			exit 1
		fi
		S3_PID=$(cat "$STATE/pid") S3_TMP=$(cat "$STATE/tmp") s3_stop
		rm -rf "$STATE"
		echo "stopped" >&2
		;;
	*)
		echo "usage: scripts/s3-server.sh start|stop" >&2
		exit 2
		;;
	esac
fi
