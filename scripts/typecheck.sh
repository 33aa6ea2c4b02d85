#!/usr/bin/env bash
# Checks the browser library's declarations (static/js/*.d.ts) against its
# JavaScript with TypeScript (tools/ts: its version is pinned in
# package.json and package-lock.json). Installs Debian's nodejs and npm when
# missing (apt-get, as root or through sudo), and TypeScript with npm ci.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "installing nodejs and npm for the type check (apt-get)..."
	if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq nodejs npm >/dev/null
fi
cd tools/ts
if [ ! -x node_modules/.bin/tsc ] || ! cmp -s package-lock.json node_modules/.installed-lock 2>/dev/null; then
	npm ci --no-audit --no-fund --loglevel=error
	cp package-lock.json node_modules/.installed-lock
fi
# The scripts alone, without the .d.ts beside them (see check.ts).
rm -rf impl
mkdir impl
cp ../../static/js/*.js impl/
node_modules/.bin/tsc -p .
echo "types: static/js/*.d.ts agree with the code"
