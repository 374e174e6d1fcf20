#!/usr/bin/env bash
# Packages the thin client for npm as esbuild and Biome ship their
# binaries: one package per platform (@tufkeys/cli-OS-CPU, with os and cpu
# set, holding bin/tufkeys), and the package tufkeys, whose bin starts the
# right one and which lists them as optional dependencies, so that
# npm install -g tufkeys or npx tufkeys works in a Node image with no Go.
#
#   scripts/npm-packages.sh OUTDIR [--replace-default] [ROOT.json URL [MIRROR-URL...]]
#
# It builds each binary with scripts/build-client.sh (static, stripped, the
# root embedded when given) and packs every package with npm pack into
# OUTDIR. TUFKEYS_VERSION is the packages' version (default 0.0.0-dev);
# TUFKEYS_NPM_PLATFORMS the platforms, as GOOS/GOARCH words (default:
# linux and darwin on amd64 and arm64). Nothing is published.
set -euo pipefail
CALLER_DIR=$PWD
cd "$(dirname "$0")/.."
if [ $# -lt 1 ]; then
	echo "usage: scripts/npm-packages.sh OUTDIR [--replace-default] [ROOT.json URL [MIRROR-URL...]]" >&2
	exit 2
fi
out=$1
shift
case "$out" in /*) ;; *) out="$CALLER_DIR/$out" ;; esac
mkdir -p "$out"
out=$(cd "$out" && pwd)
# the root, relative to where the script was run
embed=("$@")
if [ ${#embed[@]} -gt 0 ]; then
	i=0
	[ "${embed[0]}" = "--replace-default" ] && i=1
	if [ ${#embed[@]} -gt $i ]; then
		case "${embed[$i]}" in /*) ;; *) embed[$i]="$CALLER_DIR/${embed[$i]}" ;; esac
	fi
fi
version=${TUFKEYS_VERSION:-0.0.0-dev}
platforms=${TUFKEYS_NPM_PLATFORMS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64}
work=$(mktemp -d "${TMPDIR:-/tmp}/tufkeys-npm.XXXXXX")
trap 'rm -rf "$work"' EXIT

npm_cpu() { case "$1" in amd64) echo x64 ;; *) echo "$1" ;; esac; }

optional=""
table=""
for p in $platforms; do
	goos=${p%/*} goarch=${p#*/}
	cpu=$(npm_cpu "$goarch")
	name="@tufkeys/cli-$goos-$cpu"
	dir="$work/cli-$goos-$cpu"
	mkdir -p "$dir/bin"
	GOOS=$goos GOARCH=$goarch TUFKEYS_VERSION=$version scripts/build-client.sh "$dir/bin/tufkeys" "${embed[@]+"${embed[@]}"}" >/dev/null
	cat >"$dir/package.json" <<JSON
{
  "name": "$name",
  "version": "$version",
  "description": "The tufkeys client binary for $goos $cpu; install tufkeys, which picks it.",
  "os": ["$goos"],
  "cpu": ["$cpu"],
  "files": ["bin/tufkeys"],
  "preferUnplugged": true
}
JSON
	optional="$optional${optional:+,}
    \"$name\": \"$version\""
	table="$table${table:+,}
  \"$goos-$cpu\": \"$name\""
done

main="$work/tufkeys"
mkdir -p "$main/bin"
cp npm/tufkeys.js "$main/bin/tufkeys.js"
chmod +x "$main/bin/tufkeys.js"
printf '{%s\n}\n' "$table" >"$main/bin/platforms.json"
cat >"$main/package.json" <<JSON
{
  "name": "tufkeys",
  "version": "$version",
  "description": "Registry signing keys that rotate without a release, verified with TUF: the tufkeys client for Corepack and package managers.",
  "bin": { "tufkeys": "bin/tufkeys.js" },
  "files": ["bin/tufkeys.js", "bin/platforms.json"],
  "engines": { "node": ">=18" },
  "optionalDependencies": {$optional
  }
}
JSON
for dir in "$work"/*/; do
	(cd "$dir" && npm pack --silent --pack-destination "$out" >/dev/null)
done
ls "$out"/*.tgz
