#!/usr/bin/env bash
# The scheduled job of a tufkeys deployment. Run it every few hours (the
# timestamp expires after one day by default):
#
#   1. re-sign snapshot and timestamp with the online key (repo timestamp),
#      so clients keep accepting the repository;
#   2. compare each registry's live key list with the published one (watch),
#      and with TUFKEYS_STAGE=1 stage what a registry added for signing;
#   3. alert when something staged awaits signatures or a role is inside its
#      re-sign window (repo status --check).
#
# Settings, from the environment:
#   TUFKEYS_WORKSPACE    the ceremony workspace, a git checkout (default: .)
#   TUFKEYS_DEST         where the repository is published: a directory or
#                        s3://BUCKET/PREFIX (required)
#   TUFKEYS_STORE_FLAGS  extra flags for the destination, e.g.
#                        "--endpoint-url https://s3.example.test --path-style"
#   TUFKEYS_ONLINE_KEY   the online key: a key file, or awskms://… (required);
#                        TUFKEYS_ONLINE_PASSPHRASE (else TUFKEYS_PASSPHRASE)
#                        holds a key file's passphrase
#   TUFKEYS_LOG_KEY      the transparency log's key, required when the root names
#                        a log: the timestamp run has the witnesses cosign again,
#                        and the log is monitored (every root and registry, and
#                        each watched registry's keys against its endpoint);
#                        TUFKEYS_LOG_PASSPHRASE holds a key file's passphrase
#   TUFKEYS_REGISTRIES   registry URLs to watch, separated by spaces
#   TUFKEYS_REPO, TUFKEYS_ROOT
#                        the published repository as clients see it, and its
#                        trusted root, for the watcher
#   TUFKEYS_STAGE=1      stage upstream additions in the workspace
#   TUFKEYS_BIN          the tufkeys command (default: tufkeys)
#
# Exit status: 0 all is well; 3 a registry's list differs from the published
# one (staged when TUFKEYS_STAGE=1); 1 something failed or needs the
# maintainers. Every step runs even when an earlier one fails.
set -uo pipefail

bin=${TUFKEYS_BIN:-tufkeys}
ws=${TUFKEYS_WORKSPACE:-.}
: "${TUFKEYS_DEST:?set TUFKEYS_DEST to the published repository (a directory or s3://BUCKET/PREFIX)}"
: "${TUFKEYS_ONLINE_KEY:?set TUFKEYS_ONLINE_KEY to the online key file or its awskms:// reference}"
# shellcheck disable=SC2206 # word splitting is the point
store_flags=(${TUFKEYS_STORE_FLAGS:-})

status=0
fail() { status=1; echo "scheduled: $*" >&2; }

log_key=()
[ -n "${TUFKEYS_LOG_KEY:-}" ] && log_key=(--log-key "$TUFKEYS_LOG_KEY")

echo "== re-sign snapshot and timestamp"
"$bin" repo timestamp --workspace "$ws" --online-key "$TUFKEYS_ONLINE_KEY" "${log_key[@]}" --to "$TUFKEYS_DEST" "${store_flags[@]}" ||
	fail "re-signing the timestamp failed: clients will refuse the repository when it expires"

for registry in ${TUFKEYS_REGISTRIES:-}; do
	echo "== watch $registry"
	stage=()
	[ "${TUFKEYS_STAGE:-}" = 1 ] && stage=(--workspace "$ws" --stage)
	"$bin" watch --registry "$registry" "${stage[@]}"
	case $? in
	0) ;;
	3) [ $status -eq 0 ] && status=3 ;;
	*) fail "watching $registry failed" ;;
	esac
	if [ -n "${TUFKEYS_LOG_KEY:-}" ]; then
		echo "== watch the log for $registry"
		"$bin" watch --log --registry "$registry"
		case $? in
		0) ;;
		3) [ $status -eq 0 ] && status=3 ;;
		*) fail "monitoring the log for $registry failed" ;;
		esac
	fi
done

echo "== check signatures and expiry"
"$bin" repo status --workspace "$ws" --check || fail "the maintainers' attention is needed (see above)"

exit $status
