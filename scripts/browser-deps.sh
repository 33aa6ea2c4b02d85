#!/usr/bin/env bash
# Installs Debian's chromium (the browser tests drive it with chromedp) when
# it is missing. Needs root (apt-get); on a machine where it is already
# installed this does nothing.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
	exit 0
fi
echo "installing chromium for the browser tests (apt-get)..."
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium >/dev/null
command -v chromium
