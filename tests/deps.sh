#!/usr/bin/env bash
# Installs what building and testing pcmalloc needs on Debian 12, skipping
# what is already there.  Runs apt-get as root, or through sudo.
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(make gcc g++ clang libclang-rt-14-dev binutils valgrind coreutils procps strace pkg-config man-db google-perftools)
# The black-box tests' real programs (python3, sqlite3, git, perl, ...).
if [ -f tests/blackbox/deps.sh ]; then
	read -r -a bb <<<"$(bash tests/blackbox/deps.sh)"
	pkgs+=("${bb[@]}")
fi
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: all present"
	exit 0
fi
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "deps: installing ${missing[*]}"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
