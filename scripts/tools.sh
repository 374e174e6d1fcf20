# Sourced by the scripts that start test servers: where the Go tools they
# need are installed, and how, once per machine and version.

TOOLS_DIR="${TUFKEYS_TOOLS_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/tufkeys-tools}"

# install_go_tool NAME MODULE VERSION [PACKAGE]: go install MODULE's
# PACKAGE (the module itself by default) at VERSION into $TOOLS_DIR/bin,
# unless the binary there was already built from that module version.
install_go_tool() {
	local name=$1 module=$2 version=$3 package=${4:-$2}
	if [ -x "$TOOLS_DIR/bin/$name" ] && go version -m "$TOOLS_DIR/bin/$name" 2>/dev/null | grep -q "mod[[:space:]]*$module[[:space:]]*$version"; then
		return
	fi
	echo "== installing $name $version into $TOOLS_DIR/bin (once; later runs reuse it)"
	mkdir -p "$TOOLS_DIR/bin"
	GOBIN="$TOOLS_DIR/bin" go install "$package@$version"
}

# apt_install PACKAGE: install a Debian package, as root or through sudo
apt_install() {
	local sudo=""
	[ "$(id -u)" -ne 0 ] && sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$1" >/dev/null
}
