#!/usr/bin/env bash
# Prints the Debian packages the black-box tests need, on one line:
#   apt-get install -y $(bash tests/blackbox/deps.sh)
set -euo pipefail
echo "python3 sqlite3 git perl coreutils gcc libc6-dev binutils diffutils xz-utils tar mawk sed"
