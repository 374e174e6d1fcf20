#!/usr/bin/env bash
# Sourced by scripts/test.sh and scripts/bench.sh: builds tufkeys' test
# witness (internal/harness/witnessd, transparency-dev/witness's witness package), starts
# three of them on loopback with fresh keys and no feeders or distributors,
# exports the settings tests read, and stops them on exit.
#
#   TUFKEYS_TEST_WITNESSES      one "URL VERIFIER-KEY" pair per witness, ";"-separated
#   TUFKEYS_TEST_WITNESS_LOGS   the file of log verifier keys the witnesses follow;
#                               a test appends its log's key before publishing
#
# Run directly, it starts them for trying a witnessed publish by hand,
# prints each witness as repo init and repo rotate take it (--witness
# 'KEY,URL'), and has them follow a log by its verifier key (tufkeys repo
# keys prints it); they run until stopped:
#
#   scripts/witness-server.sh start
#   scripts/witness-server.sh follow LOG-VERIFIER-KEY
#   scripts/witness-server.sh stop

. "$(dirname "${BASH_SOURCE[0]}")/tools.sh"

WITNESS_BIN="$TOOLS_DIR/bin/tufkeys-witness"
WITNESS_COUNT=${WITNESS_COUNT:-3}

install_witness() {
	mkdir -p "$TOOLS_DIR/bin"
	# go build reuses its cache: a second run costs a second
	(cd "$(dirname "${BASH_SOURCE[0]}")/.." && go build -o "$WITNESS_BIN" ./internal/harness/witnessd/tufkeys-witness)
}

witness_stop() {
	local pid
	for pid in ${WITNESS_PIDS:-}; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	WITNESS_PIDS=
	[ -n "${WITNESS_TMP:-}" ] && rm -rf "$WITNESS_TMP"
}

witness_start() {
	install_witness
	WITNESS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/tufkeys-witness.XXXXXX")
	: >"$WITNESS_TMP/logs"
	WITNESS_PIDS=
	local i list="" url vkey
	for i in $(seq "$WITNESS_COUNT"); do
		"$WITNESS_BIN" -listen 127.0.0.1:0 -name "witness$i.example.test" \
			-key-file "$WITNESS_TMP/witness$i.key" -logs "$WITNESS_TMP/logs" \
			-addr-file "$WITNESS_TMP/witness$i.url" >"$WITNESS_TMP/witness$i.log" 2>&1 &
		WITNESS_PIDS="$WITNESS_PIDS $!"
		for _ in $(seq 100); do
			[ -s "$WITNESS_TMP/witness$i.url" ] && break
			sleep 0.05
		done
		if [ ! -s "$WITNESS_TMP/witness$i.url" ]; then
			echo "witness $i did not start:" >&2
			cat "$WITNESS_TMP/witness$i.log" >&2
			witness_stop
			return 1
		fi
		url=$(cat "$WITNESS_TMP/witness$i.url")
		vkey=$(cat "$WITNESS_TMP/witness$i.key.pub")
		list="$list${list:+;}$url $vkey"
	done
	export TUFKEYS_TEST_WITNESSES="$list"
	export TUFKEYS_TEST_WITNESS_LOGS="$WITNESS_TMP/logs"
	echo "== $WITNESS_COUNT witnesses listening on loopback"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	state="${TMPDIR:-/tmp}/tufkeys-witness-server.state"
	case "${1:-}" in
	start)
		witness_start
		echo "WITNESS_TMP=$WITNESS_TMP; WITNESS_PIDS='$WITNESS_PIDS'" >"$state"
		echo "WITNESS_LOGS='$TUFKEYS_TEST_WITNESS_LOGS'" >>"$state"
		echo "# the witnesses, as tufkeys repo init and repo rotate take them:"
		IFS=';' read -ra pairs <<<"$TUFKEYS_TEST_WITNESSES"
		for pair in "${pairs[@]}"; do
			echo "--witness '${pair#* },${pair%% *}'"
		done
		echo "# then have them follow your log: $0 follow \"\$(tufkeys repo keys --workspace W -o json | jq -r .log.key)\""
		echo "# stop them with: $0 stop"
		;;
	follow)
		if [ $# -lt 2 ] || [ ! -f "$state" ]; then
			echo "usage: $0 follow LOG-VERIFIER-KEY, after $0 start" >&2
			exit 2
		fi
		. "$state"
		case "$2" in
		*+*+*) ;;
		*)
			echo "$2 is not a note verifier key (NAME+HASH+KEY): give the log's, as tufkeys repo keys prints it" >&2
			exit 2
			;;
		esac
		echo "$2" >>"$WITNESS_LOGS"
		echo "the witnesses now follow the log ${2%%+*}"
		;;
	stop)
		if [ -f "$state" ]; then
			. "$state"
			witness_stop
			rm -f "$state"
		fi
		;;
	*)
		echo "usage: $0 start|follow LOG-VERIFIER-KEY|stop" >&2
		exit 2
		;;
	esac
fi
