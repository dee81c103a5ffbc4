#!/bin/bash
# Install what building, testing and the demo need, from Debian 12's
# packages.  Run as root (or with sudo available).
set -euo pipefail
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
	build-essential cmake pkg-config clang-format \
	libfuse3-dev fuse3 libxxhash-dev check \
	clang libclang-rt-14-dev \
	git attr acl rsync fuse-overlayfs sqlite3 ca-certificates valgrind \
	python3-venv stress-ng >/dev/null
# npm for the tools suite; a Node.js from elsewhere (NodeSource's bundles
# npm and conflicts with Debian's) is kept as it is.
command -v npm >/dev/null ||
	$SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
# pnpm for the tools suite, from the npm registry; without it (no registry)
# that suite skips its pnpm case and says so.
command -v pnpm >/dev/null ||
	$SUDO timeout 300 npm install -g --silent pnpm@9.15.9 >/dev/null ||
	echo "deps: pnpm could not be installed: the pnpm case will be skipped" >&2
