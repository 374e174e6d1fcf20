# Sourced by scripts/build-with-root.sh and scripts/build-client.sh:
# embed_root ROOT.json URL [MIRROR-URL...] writes repo-metadata/root.json
# and repositories.txt, which the builds embed, after checking the root.
embed_root() {
	local root=$1
	shift
	if [ $# -lt 1 ]; then
		echo "name the repository URL (and any mirrors) after the root" >&2
		return 2
	fi
	if ! grep -q '"_type": *"root"' "$root"; then
		echo "$root is not TUF root metadata: give the N.root.json your ceremony published" >&2
		return 1
	fi
	cp "$root" repo-metadata/root.json
	printf '%s\n' "$@" >repo-metadata/repositories.txt
	echo "sha256 of the embedded root: $(sha256sum repo-metadata/root.json | cut -d' ' -f1)"
}
