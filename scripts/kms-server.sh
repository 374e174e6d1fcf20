# Sourced by scripts/test.sh: installs local-kms (a KMS-compatible server,
# cached across runs like versitygw), starts it with a data directory under
# a temp dir, exports TUFKEYS_KMS_ENDPOINT for the tests, and stops it on
# exit. local-kms binds every interface of the port it is given; the port is
# random and the server lives as long as the test run.

. "$(dirname "${BASH_SOURCE[0]}")/tools.sh"

LOCAL_KMS_VERSION=v0.0.0-20260228092603-2a5e92d09ab6
LOCAL_KMS="$TOOLS_DIR/bin/local-kms"

install_local_kms() {
	install_go_tool local-kms github.com/nsmithuk/local-kms "$LOCAL_KMS_VERSION"
}

kms_stop() {
	if [ -n "${KMS_PID:-}" ]; then
		kill "$KMS_PID" 2>/dev/null || true
		wait "$KMS_PID" 2>/dev/null || true
	fi
	[ -n "${KMS_TMP:-}" ] && rm -rf "$KMS_TMP"
}

kms_start() {
	install_local_kms
	KMS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/tufkeys-kms.XXXXXX")
	local attempt port
	for attempt in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 20000))
		PORT=$port KMS_ACCOUNT_ID=111122223333 KMS_REGION=us-east-1 KMS_DATA_PATH="$KMS_TMP/data" KMS_SEED_PATH="$KMS_TMP/none.yaml" \
			"$LOCAL_KMS" >"$KMS_TMP/local-kms.log" 2>&1 &
		KMS_PID=$!
		for _ in $(seq 50); do
			if grep -q "Local KMS started" "$KMS_TMP/local-kms.log" 2>/dev/null; then
				export TUFKEYS_KMS_ENDPOINT="127.0.0.1:$port"
				echo "== local-kms listening on port $port"
				return 0
			fi
			kill -0 "$KMS_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill "$KMS_PID" 2>/dev/null || true
		wait "$KMS_PID" 2>/dev/null || true
		KMS_PID=
		echo "local-kms did not start on port $port (attempt $attempt):" >&2
		cat "$KMS_TMP/local-kms.log" >&2
	done
	echo "could not start local-kms; see the log above" >&2
	return 1
}
